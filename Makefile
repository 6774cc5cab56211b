# The commands the README names. Every target runs with the closed-network settings below.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= $(or $(REFLEX_FRONTEND_PORT),$(REFLEX_BACKEND_PORT),3000)

# Closed network: no bun download, no telemetry, no version check, no public-address probe.
export REFLEX_USE_NPM := 1
export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_CHECK_LATEST_VERSION := false
export REFLEX_HTTP_CLIENT_BIND_ADDRESS := 0.0.0.0
export NPM_CONFIG_FUND := false
export NPM_CONFIG_AUDIT := false
export NPM_CONFIG_UPDATE_NOTIFIER := false
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help install install-dev migrate seed run check-port run-cluster nginx test test-all test-unit test-e2e test-scaleout test-stress lint bench clean

help:
	@echo "make run    install, migrate, seed demo accounts if empty, serve http://localhost:$(PORT)"
	@echo "make test   install dev tools, find a browser, run unit and end-to-end tests in parallel"
	@echo "           (in CI, CI=true: everything, as make test-all)"
	@echo "make test-all   also the scale-out tests, and every database test on PostgreSQL too"
	@echo "make run-cluster  instances on PostgreSQL + Redis behind nginx, under supervisord (README)"
	@echo "make lint   ruff"
	@echo "make bench  benchmarks (see bench/README.md)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the project's dependencies change.
# pip names each package as it goes, so a first install (a few minutes) is never silent.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "==> Installing Python packages into $(VENV) (the first time takes a few minutes)…"
	$(BIN)/python -m pip install --quiet --upgrade pip
	set -o pipefail; $(BIN)/python -m pip install --progress-bar off -e . \
	  | grep --line-buffered -E '^(Collecting|Successfully installed)' | cut -c1-100
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# axe-core for the accessibility checks in tests/e2e, from the npm lockfile in tests/a11y.
AXE := tests/a11y/node_modules/axe-core/axe.min.js
$(AXE): tests/a11y/package-lock.json | $(VENV)/.installed
	cd tests/a11y && npm ci --no-fund --no-audit --loglevel=error
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev $(AXE)

# A PostgreSQL database is migrated under the advisory lock the cluster uses (two hosts or
# checkouts starting together migrate once) and an unreachable one is a one-line error.
migrate: install
	@echo "==> Bringing the database up to date…"
	@case "$${REFLEX_DB_URL:-}" in \
	  postgresql*) $(BIN)/python -m rxapp.cluster migrate ;; \
	  *) $(BIN)/reflex db migrate ;; \
	esac

seed: migrate
	@$(BIN)/rxapp seed-demo --if-empty --embedded-only

# reflex run --env prod, reusing the frontend build while its inputs are unchanged. The port
# is checked first: a wrong one stops before anything is migrated or seeded.
run: check-port seed
	@$(BIN)/python -m rxapp.serve --port $(PORT)

check-port: install
	@$(BIN)/python -m rxapp.run_prod --check-port "$(PORT)"

# Instances and nginx under supervisord (README: Running several instances);
# REFLEX_DB_URL, REFLEX_REDIS_URL and RXAPP_SECRET_KEY must be set.
run-cluster: install nginx
	$(BIN)/python -m rxapp.cluster --port $(PORT) --instances $(or $(INSTANCES),2) run

# nginx from Debian's packages (the cluster's reverse proxy), installed when missing.
nginx:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null \
	    || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }; \
	  else echo "make: nginx is needed: sudo apt-get install nginx-light" >&2; exit 1; fi; }

# Tests run in parallel (pytest-xdist, one worker per core; PYTEST_WORKERS=0 runs them in one
# process). Each worker has its own databases and app server; the production frontend is
# built once per run and shared. The scale-out tests start a cluster of their own and run
# alone afterwards. In CI (CI=true) `make test` runs everything, as `make test-all` does;
# otherwise it leaves out the few tests marked slow (they wait out real time: the 30-second
# reveal, throttles), which `make test-all` and `make test-e2e` run.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS)
ifeq ($(CI),true)
TEST_EVERYTHING := 1
endif

test: install-dev
	$(BIN)/python -m rxapp.testing --check-browser
ifdef TEST_EVERYTHING
	RXAPP_TEST_ALL_DATABASES=1 $(PYTEST) tests/unit tests/e2e $(PYTEST_ARGS)
	$(BIN)/python -m pytest tests/scaleout $(PYTEST_ARGS)
else
	$(PYTEST) tests/unit tests/e2e -m "not slow" $(PYTEST_ARGS)
endif

test-all:
	$(MAKE) test TEST_EVERYTHING=1

test-unit: install-dev
	$(PYTEST) tests/unit $(PYTEST_ARGS)

test-e2e: install-dev
	$(BIN)/python -m rxapp.testing --check-browser
	$(PYTEST) tests/e2e $(PYTEST_ARGS)

test-scaleout: install-dev
	$(BIN)/python -m rxapp.testing --check-browser
	$(BIN)/python -m pytest tests/scaleout $(PYTEST_ARGS)

# `make test` with every CPU kept busy by stress-ng (Debian package stress-ng), to find
# flaky tests: STRESS_RUNS=3 repeats it, STRESS_TARGET=test-all widens it.
test-stress: install-dev
	tests/run_under_stress.sh

lint: install-dev
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install-dev
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf .web .states .cluster rxapp.db rxapp.db-* rxapp.key
