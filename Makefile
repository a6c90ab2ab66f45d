# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip -q --disable-pip-version-check
# torch first, pinned: on these machines `torch==2.13.0` is a small local CPU build, while an
# unpinned torch (pulled in by sentence-transformers) would be the multi-GB CUDA build. The
# `clip` extra (open_clip) needs the regular build and is not part of the test install: its one
# test is skipped with the reason when open_clip is missing.
TORCH ?= torch==2.13.0
# llama.cpp is compiled for the generic x86-64 baseline, so the cached wheel runs on any CPU.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
EXTRAS ?= server,worker,bot,search,local-llm,dev
STAMP := $(VENV)/.installed

.PHONY: test lint install demo e2e clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install '$(TORCH)'
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(PIP) install -e '.[$(EXTRAS)]'
	touch $@

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check .

test: lint
	HF_HUB_OFFLINE=1 $(PY) -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache
