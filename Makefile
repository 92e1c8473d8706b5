# algo-trade developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
# The project-local PostgreSQL (scripts/db.sh) and the URL the tests create their databases through.
export ALGO_TRADE_PGPORT ?= 54329
export ALGO_TRADE_TEST_ADMIN_URL ?= postgresql://algo_trade@127.0.0.1:$(ALGO_TRADE_PGPORT)/postgres

PACKAGES := core data backtest backtest-scheduler token-selector bot-orchestrator pipeline evaluation dashboard cli
PKG ?=
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PY := .venv/bin/python

.PHONY: help uv sync demo test test-pkg lint bench db-up db-down db-status timescaledb browser clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}'

uv: ## Install uv with pip when it is missing
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv

sync: uv ## Install every package and the dev tools into .venv
	@$(UV) sync --all-packages --quiet

db-up: ## Start the project-local PostgreSQL (TimescaleDB when installed) on 127.0.0.1:54329
	@bash scripts/db.sh up

db-down: ## Stop the project-local PostgreSQL
	@bash scripts/db.sh down

db-status: ## Say whether the local PostgreSQL runs
	@bash scripts/db.sh status

timescaledb: ## Build and install TimescaleDB (Apache edition) for PostgreSQL 15; skipped when installed
	@bash scripts/timescaledb.sh

demo: sync db-up ## The main job end to end on the embedded defaults
	@bash scripts/demo.sh

browser: ## Install Debian's chromium + chromium-driver for the dashboard's browser tests (root; else they skip)
	@bash scripts/browser.sh

test: sync db-up browser ## Run every package's tests and the root tests/
	@$(PY) -m pytest -q

test-pkg: uv db-up browser ## Run one package's tests in an environment synced for it alone: make test-pkg PKG=data
	@test -n "$(PKG)" || { echo "usage: make test-pkg PKG=<$(PACKAGES)>" | tr ' ' '|'; exit 2; }
	@UV_PROJECT_ENVIRONMENT=.venv-pkg-$(PKG) $(UV) sync --package algo-trade-$(PKG) --exact --quiet
	@.venv-pkg-$(PKG)/bin/python -m pytest -q packages/$(PKG)/tests

lint: sync ## ruff and mypy --strict over every package
	@.venv/bin/ruff check packages tests benchmarks scripts
	@.venv/bin/ruff format --check packages tests benchmarks scripts
	@.venv/bin/mypy packages/*/src

bench: sync db-up ## Print the performance figures (engine, database, sweep, bots)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean: ## Remove caches and per-package environments (keeps the database)
	rm -rf .venv-pkg-* .pytest_cache .mypy_cache .ruff_cache
