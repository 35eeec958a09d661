# aimctl developer entry points. The README's two commands are `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=


.PHONY: test-deps
.PHONY: help venv lint test test-unit dev cluster-up cluster-down cluster-status k8s-binaries crds bench clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## create .venv with aimctl and its dev tools

k8s-binaries: $(STAMP) ## build (first run only) the Kubernetes binaries into ~/.cache/aimctl
	$(BIN)/aimctl dev cluster build

lint: $(STAMP) ## ruff, mypy (strict) and the import-layering contract
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint k8s-binaries test-deps ## everything CI runs: lint, unit, integration and e2e tests on the local cluster
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) ## pure unit tests only (no cluster)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

dev: cluster-up ## bring up the local cluster (and, once the operator exists, run it with the samples)

cluster-up: $(STAMP) ## start the local development cluster
	$(BIN)/aimctl dev cluster up

cluster-down: $(STAMP) ## stop the local development cluster (data kept)
	$(BIN)/aimctl dev cluster down

cluster-status: $(STAMP)
	$(BIN)/aimctl dev cluster status

bench: $(STAMP) ## benchmarks (on demand; prints figures)
	$(BIN)/pytest tests/bench -s -p no:cacheprovider -o addopts=""

clean: ## remove the virtualenv and caches (the Kubernetes binaries stay in ~/.cache/aimctl)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

test-deps: ## Debian's docker-registry (a real OCI registry for image tests) and htpasswd (its Basic auth)
	@command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || { \
	  echo "installing Debian's docker-registry and apache2-utils (htpasswd) ..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends docker-registry apache2-utils; }
