# algo-trade developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := python3.11
# The port of the project-local PostgreSQL (scripts/db.sh). Everything else derives its address from
# this variable: the default [database] url and the tests' admin URL (algo_trade_core.local_database_url).
# The default equals algo_trade_core.DEFAULT_LOCAL_PORT (a test keeps them equal).
export ALGO_TRADE_PGPORT ?= 54329

# Every workspace member (a folder of packages/ with a pyproject.toml): a new package needs no edit here.
PACKAGES := $(patsubst packages/%/pyproject.toml,%,$(wildcard packages/*/pyproject.toml))
PKG ?=
PYTEST_ARGS ?=
empty :=
space := $(empty) $(empty)
UV = $(shell command -v uv 2>/dev/null || echo python3 -m uv)
PY := .venv/bin/python

.PHONY: docs help uv sync demo test test-pkg test-pkgs print-packages lint bench db-up db-down db-status db-destroy timescaledb clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk -F':.*## ' -v port=$(ALGO_TRADE_PGPORT) '{gsub(/PGPORT/, port, $$2); printf "  \033[1m%-14s\033[0m %s\n", $$1, $$2}'
	@echo
	@echo "Local PostgreSQL: postgresql://algo_trade@127.0.0.1:$(ALGO_TRADE_PGPORT)/algo_trade (ALGO_TRADE_PGPORT=$(ALGO_TRADE_PGPORT)); data in $$(bash scripts/db.sh where)"
	@echo "Packages: $(PACKAGES)"

uv: ## Install uv with pip when it is missing
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --quiet uv || python3 -m pip install --quiet --user uv

sync: uv ## Install every package and the dev tools into .venv
	@$(UV) sync --all-packages --quiet

db-up: ## Start the project-local PostgreSQL (TimescaleDB when installed) on 127.0.0.1:PGPORT
	@bash scripts/db.sh up

db-down: ## Stop the project-local PostgreSQL
	@bash scripts/db.sh down

db-status: ## Say whether the local PostgreSQL runs, and where its data is
	@bash scripts/db.sh status

db-destroy: ## Stop the local PostgreSQL and delete its data folder (asks first)
	@bash scripts/db.sh destroy

timescaledb: ## Build and install TimescaleDB (Apache edition) for PostgreSQL 15; skipped when installed
	@bash scripts/timescaledb.sh

demo: sync db-up ## The main job end to end on the embedded defaults
	@bash scripts/demo.sh

test: sync db-up ## Run every package's tests and the root tests/ (extra pytest options: PYTEST_ARGS="-m 'not slow'")
	@$(PY) -m pytest -q $(PYTEST_ARGS)

test-pkg: uv db-up ## Run one package's tests in an environment synced for it alone: make test-pkg PKG=data
	@case " $(PACKAGES) " in *" $(PKG) "*) ;; *) echo "usage: make test-pkg PKG=<$(subst $(space),|,$(PACKAGES))>"; exit 2 ;; esac
	@UV_PROJECT_ENVIRONMENT=.venv-pkg-$(PKG) $(UV) sync --package algo-trade-$(PKG) --exact --quiet
	@.venv-pkg-$(PKG)/bin/python -m pytest -q $(PYTEST_ARGS) packages/$(PKG)/tests

test-pkgs: uv db-up ## Run every package's isolated suite (make test-pkg for each); name the ones that failed
	@failed=""; for p in $(PACKAGES); do echo "== make test-pkg PKG=$$p"; \
	  $(MAKE) --no-print-directory test-pkg PKG=$$p || failed="$$failed $$p"; done; \
	  if [ -n "$$failed" ]; then echo "test-pkgs: FAILED:$$failed"; exit 1; fi; echo "test-pkgs: all $(words $(PACKAGES)) packages passed"

docs: sync ## Regenerate the generated references: config/Config.toml, docs/configuration.md, docs/cli.md
	@$(PY) -m algo_trade_cli config init --stdout > config/Config.toml
	@$(PY) -m algo_trade_cli config reference > docs/configuration.md
	@$(PY) -c "from algo_trade_cli._reference import cli_reference; print(cli_reference(), end='')" > docs/cli.md
	@echo "regenerated config/Config.toml, docs/configuration.md, docs/cli.md"

lint: sync ## ruff and mypy --strict over every package
	@.venv/bin/ruff check conftest.py packages tests benchmarks scripts
	@.venv/bin/ruff format --check conftest.py packages tests benchmarks scripts
	@.venv/bin/mypy packages/*/src conftest.py

bench: sync db-up ## Print the performance figures (engine, database, sweep, bots)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

print-packages: ## Print the workspace packages (one per line; CI runs make test-pkg for each)
	@printf '%s\n' $(PACKAGES)

clean: ## Remove caches and per-package environments (keeps the database)
	rm -rf .venv-pkg-* .pytest_cache .mypy_cache .ruff_cache
