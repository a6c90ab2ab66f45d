"""Settings come from the environment; production values pass ``check --deploy``."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "ALEXANDRIA_ENV": "production",
    "SECRET_KEY": "k3Xq9v_production-secret-with-plenty-of-entropy-0a8f7d6e5c4b3a291817",
    "ALLOWED_HOSTS": "alexandria.example.org",
    "DATABASE_URL": "sqlite:////tmp/alexandria-deploy-check.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_check_deploy_is_clean_with_production_values():
    completed = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no issues" in completed.stdout


def test_production_refuses_to_start_without_secret_key():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    completed = _manage("check", env=env)
    assert completed.returncode != 0
    assert "SECRET_KEY must be set" in completed.stderr


def test_unknown_profile_is_refused():
    completed = _manage("check", env={"ALEXANDRIA_ENV": "staging"})
    assert completed.returncode != 0
    assert "ALEXANDRIA_ENV" in completed.stderr


def test_embedded_defaults_need_no_services():
    script = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.CELERY_TASK_ALWAYS_EAGER, "
        "s.CHROMA_URL == '', s.DEBUG)"
    )
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "CHROMA_URL", "DEBUG", "ALEXANDRIA_ENV"}
    }
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**clean, "DJANGO_SETTINGS_MODULE": "alexandria.settings", "PYTHONPATH": "platform"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["django.db.backends.sqlite3", "True", "True", "True"]
