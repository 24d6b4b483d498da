# flowdesk developer commands. On a fresh clone only python3 is needed:
#   make run   - virtualenv + install + migrate + demo data, then the dev server (ASGI)
#   make test  - ruff, mypy, pytest on SQLite, then the database tests on PostgreSQL
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The PostgreSQL pass of `make test` (pytest-django creates and drops test_flowdesk).
PG_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/flowdesk

# Reinstall only when pyproject.toml changed since the last install into this venv.
RUN_STAMP := $(VENV)/.flowdesk-installed
TEST_STAMP := $(VENV)/.flowdesk-installed-test

.PHONY: help run test install install-test browser assets

# Debian's chromium for the browser tests (Playwright cannot download its own here).
CHROMIUM ?= /usr/bin/chromium

browser:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	    echo "==> installing Debian's chromium for the browser tests"; \
	    if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi; \
	    $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

# Front-end packages (bpmn-js for diagrams) from package-lock.json, when the project has one.
assets:
	@if [ -f package-lock.json ]; then \
	    if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	        echo "==> npm ci"; npm ci --no-audit --no-fund --loglevel=error; \
	    fi; \
	fi

help:
	@echo "make run    start the portal at http://$(HOST):$(PORT)/ with demo users and process"
	@echo "make test   ruff, mypy, pytest (SQLite), pytest -m django_db (PostgreSQL)"

$(PY):
	@echo "==> creating virtualenv $(VENV)"
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): pyproject.toml | $(PY)
	@echo "==> installing flowdesk into $(VENV)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(PY)
	@echo "==> installing flowdesk with test tools into $(VENV)"
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-test: $(TEST_STAMP) assets browser

run: $(RUN_STAMP) assets
	@echo "==> migrate"
	$(PY) manage.py migrate --noinput
	@echo "==> seed_demo"
	$(PY) manage.py seed_demo --url http://$(HOST):$(PORT)/
	@echo "==> runserver $(HOST):$(PORT) (daphne, ASGI; Ctrl-C stops it)"
	exec $(PY) manage.py runserver $(HOST):$(PORT)

test: $(TEST_STAMP) assets browser
	@echo "==> ruff check ."
	$(BIN)/ruff check .
	@echo "==> mypy"
	$(BIN)/mypy
	@echo "==> pytest (SQLite)"
	env -u DATABASE_URL -u REDIS_URL $(BIN)/pytest
	@echo "==> pytest -m django_db (PostgreSQL: $(PG_TEST_DATABASE_URL))"
	@selected=$$(DATABASE_URL='$(PG_TEST_DATABASE_URL)' $(BIN)/pytest -m django_db \
	    --collect-only -q | grep -c '::' || true); \
	if [ "$$selected" -eq 0 ]; then \
	    echo "ERROR: pytest -m django_db selected no tests; database tests must carry the django_db marker" >&2; \
	    exit 1; \
	fi; \
	echo "    $$selected database tests selected"
	DATABASE_URL='$(PG_TEST_DATABASE_URL)' $(BIN)/pytest -m django_db
	@echo "==> all checks passed"
