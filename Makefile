# Canvas Note Portal. Every target creates or updates the virtualenv itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PLUGIN_VENV := canvas_plugin/.venv
PLUGIN_STAMP := $(PLUGIN_VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test test-portal test-plugin plugin-release e2e lint format bench contract lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	touch $@

.env: | $(STAMP)
	$(BIN)/python scripts/dev_env.py

run: $(STAMP) .env ## Start the portal (:8000) and the Canvas sandbox (:8001) with demo data
	$(BIN)/python scripts/run_dev.py

test: lint test-portal test-plugin e2e ## Lint and run every test suite

test-portal: $(STAMP) .env ## Run the portal and sandbox tests (DATABASE_URL picks the database)
	$(BIN)/pytest tests --ignore=tests/e2e

e2e: $(STAMP) .env ## Run the browser tests in headless Chromium
	$(BIN)/pytest tests/e2e

$(PLUGIN_STAMP): canvas_plugin/requirements.txt
	test -x $(PLUGIN_VENV)/bin/python || $(PYTHON) -m venv $(PLUGIN_VENV)
	$(PLUGIN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(PLUGIN_VENV)/bin/python -m pip install --quiet -r canvas_plugin/requirements.txt
	touch $@

test-plugin: $(PLUGIN_STAMP) ## Test and validate the Canvas plugin, and its release as acme__note_sign_api
	cd canvas_plugin && .venv/bin/pytest
	cd canvas_plugin && .venv/bin/canvas validate-manifest note_sign_api
	cd canvas_plugin && .venv/bin/canvas validate note_sign_api
	$(MAKE) --no-print-directory plugin-release PREFIX=acme
	cd canvas_plugin && .venv/bin/python runner_check/check.py note_sign_api ../dist/acme__note_sign_api/acme__note_sign_api

plugin-release: $(PLUGIN_STAMP) ## Write dist/<PREFIX>__note_sign_api for `canvas deploy` (PREFIX=<org prefix>)
	@test -n "$(PREFIX)" || { echo "usage: make plugin-release PREFIX=<your org's plugin prefix>" >&2; exit 2; }
	$(PLUGIN_VENV)/bin/python scripts/plugin_release.py '$(PREFIX)'

lint: $(STAMP) ## Check style with ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## Fix style with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP) .env ## Measure overhead, throughput, refresh storms and faults
	$(BIN)/python -m bench

contract: $(STAMP) ## Run the plugin contract over HTTP (a sandbox of its own, or CONTRACT_BASE_URL)
	$(BIN)/python -m contract

lock: $(STAMP) ## Re-resolve the locks after editing pyproject.toml
	$(BIN)/uv pip compile pyproject.toml -o requirements.lock --quiet --generate-hashes --python-version 3.11
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements-dev.lock --quiet --generate-hashes --python-version 3.11

clean: ## Remove the virtualenvs, local state and releases (keeps .env)
	rm -rf $(VENV) $(PLUGIN_VENV) var dist
