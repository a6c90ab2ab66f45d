# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed-test

.PHONY: test lint install-test clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# The test extras avoid torch entirely; the open_clip test needs the `clip` extra (regular torch
# build, ~5.5 GB) and is skipped with its reason when open_clip is not installed.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e '.[worker,bot,dev]'
	touch $@

install-test: $(STAMP)

lint: install-test
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest

clean:
	rm -rf $(VENV) var .pytest_cache
