# Two commands do all the set-up: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON_BOOT ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
PYTEST_ARGS ?=

.PHONY: install run test lint format migrations clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	@$(PYTHON_BOOT) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON_BOOT=/path/to/python3.11")'
	test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

## Start web, worker and beat with a demo workspace (Ctrl-C stops everything).
run: install
	$(PY) -m reptidex.devstack run

## Run the whole test suite, browser tests included.
test: install
	$(PY) -m reptidex.devstack test $(PYTEST_ARGS)

## Lint, format check and type check, as CI runs them.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=1 $(VENV)/bin/mypy .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

migrations: install
	DEBUG=1 $(PY) manage.py makemigrations

clean:
	rm -rf $(VENV) node_modules staticfiles .pytest_cache .mypy_cache .ruff_cache
