# aimctl developer entry points. The README's two commands are `make dev` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv lint test test-unit dev cluster-up cluster-down cluster-status k8s-binaries crds bench chaos clean
.PHONY: test-deps deploy-tools manifests lock image kind-up kind-down kind-crds kind-load deploy undeploy samples
.PHONY: image-tools

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

test: lint k8s-binaries deploy-tools test-deps image-tools ## everything CI runs: lint, unit, integration, e2e and the reduced chaos suite
	$(BIN)/pytest $(PYTEST_ARGS)
	$(BIN)/pytest tests/chaos -s -p no:cacheprovider

test-unit: $(STAMP) ## pure unit tests only (no cluster)
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

# test-deps first: the demo's registry mirror is Debian's docker-registry (installed before the long build).
dev: test-deps k8s-binaries ## the local cluster, the simulators and the operator with deploy/samples; a status table until all are ready
	$(BIN)/aimctl dev demo

cluster-up: $(STAMP) ## start the local development cluster
	$(BIN)/aimctl dev cluster up

cluster-down: $(STAMP) ## stop the local development cluster (data kept)
	$(BIN)/aimctl dev cluster down

cluster-status: $(STAMP)
	$(BIN)/aimctl dev cluster status

BENCH_SERVICES ?= 1000 10000
bench: $(STAMP) ## scale benchmark at 1 000 and 10 000 services (make bench BENCH_SERVICES="N ..." for others) and the full-size chaos suite; prints figures
	for n in $(BENCH_SERVICES); do $(BIN)/python -m tests.bench.bench_scale --services $$n || exit 1; done
	AIMCTL_CHAOS_SIZE=full $(BIN)/pytest tests/chaos -s -p no:cacheprovider -o addopts=""

chaos: $(STAMP) ## the chaos suite at its reduced size (100 services a scenario, ~4 min; also run by make test: tests/chaos/README.md)
	$(BIN)/pytest tests/chaos -s -p no:cacheprovider

clean: ## remove the virtualenv and caches (the Kubernetes binaries stay in ~/.cache/aimctl)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# ---- shipping: image, deploy/, kind (issue 8) ----------------------------------------------------------
# `make image kind-up kind-load deploy samples` is the kind quick start of the README. image, kind-*,
# deploy, undeploy and samples call docker, kind and kubectl, which the test machines do not have; the
# manifests they apply are tested against the local cluster instead (tests/integration/test_deploy_*.py).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
KIND ?= kind
KUBECTL ?= kubectl
DOCKER ?= docker
IMG ?= aimctl:dev
KIND_CLUSTER ?= aimctl
SAMPLES_NAMESPACE ?= aim-demo

test-deps: ## Debian's docker-registry (a real OCI registry for image tests) and htpasswd (its Basic auth)
	@command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || { \
	  echo "installing Debian's docker-registry and apache2-utils (htpasswd) ..."; \
	  $(SUDO) apt-get install -y --no-install-recommends docker-registry apache2-utils || { \
	    $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends docker-registry apache2-utils; }; }

deploy-tools: $(STAMP) ## Debian's prometheus and promtool (monitoring tests), kustomize and helm (built once from Go)
	@command -v prometheus >/dev/null && command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus (prometheus, promtool) ..."; \
	  $(SUDO) apt-get install -y --no-install-recommends prometheus; }
	@$(BIN)/python -c 'from aimctl.devcluster.tools import ensure_kustomize; ensure_kustomize()'
	@$(BIN)/python -c 'from aimctl.devcluster.tools import ensure_helm; ensure_helm()'

manifests: $(STAMP) ## regenerate deploy/crds, deploy/rbac roles, the Grafana dashboard and the Helm chart's files
	$(BIN)/aimctl crds
	$(BIN)/aimctl deploy manifests

# typer requires rich (and rich pygments) for coloured help and tracebacks; the image installs with
# --no-deps and sets TYPER_USE_RICH=0, so these are left out of its lock (tests/unit/cli/test_lean_imports.py).
LOCK_LEAVES_OUT := rich pygments markdown-it-py mdurl
lock: $(STAMP) ## regenerate requirements.lock and requirements-build.lock (hashed pins for the image)
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --no-emit-index-url \
	  $(foreach p,$(LOCK_LEAVES_OUT),--unsafe-package $(p)) \
	  --no-emit-find-links --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --no-emit-index-url --no-emit-find-links \
	  --only-build-deps --build-deps-for=wheel --output-file requirements-build.lock pyproject.toml

IMAGE_BASE ?= auto

image-tools: ## Debian's buildah and mmdebstrap, unless a Docker engine answers (make image, tests/integration/test_image.py)
	@$(DOCKER) info >/dev/null 2>&1 || { command -v buildah >/dev/null && command -v mmdebstrap >/dev/null; } || { \
	  echo "installing Debian's buildah and mmdebstrap (no Docker engine answers) ..."; \
	  $(SUDO) apt-get install -y --no-install-recommends buildah mmdebstrap \
	  || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y --no-install-recommends buildah mmdebstrap; }; }

image: $(STAMP) image-tools ## build $(IMG) from the Dockerfile: docker, else buildah; IMAGE_BASE=auto|pinned|debian|<ref>
	$(BIN)/python -m aimctl.devcluster.image --tag $(IMG) --base $(IMAGE_BASE)

kind-up: ## create the kind cluster of deploy/kind/cluster.yaml; advertise amd.com/gpu on its GPU workers
	$(KIND) create cluster --name $(KIND_CLUSTER) --config deploy/kind/cluster.yaml
	for node in $$($(KUBECTL) get nodes -l amd.com/gpu.product-name -o name); do \
	  $(KUBECTL) patch $$node --subresource=status --type=json \
	    -p '[{"op":"add","path":"/status/capacity/amd.com~1gpu","value":"8"}]'; \
	done

kind-down: ## delete the kind cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)

kind-load: ## load $(IMG) into the kind cluster (from docker, or from buildah's storage as an archive)
	if $(DOCKER) image inspect $(IMG) >/dev/null 2>&1; then $(KIND) load docker-image $(IMG) --name $(KIND_CLUSTER); \
	else archive=$$(mktemp --suffix=.tar) && rm -f $$archive && buildah push $(IMG) docker-archive:$$archive:$(IMG) \
	  && $(KIND) load image-archive $$archive --name $(KIND_CLUSTER); rc=$$?; rm -f $$archive; exit $$rc; fi

kind-crds: $(STAMP) ## install the KServe and Gateway API CRDs (pinned, from their Go modules) the operator watches
	$(BIN)/aimctl deploy upstream-crds | $(KUBECTL) apply --server-side -f -

deploy: kind-crds ## install CRDs, RBAC and the operator on the current kubectl context (deploy/kind)
	$(KUBECTL) apply --server-side -k deploy/kind
	$(KUBECTL) -n aim-system rollout status deployment/aimctl-manager --timeout=180s

undeploy: ## remove the operator, its RBAC and the AIM CRDs (and with them every AIM object)
	$(KUBECTL) delete --ignore-not-found -k deploy/kind

samples: ## apply deploy/samples into namespace $(SAMPLES_NAMESPACE) and list them
	$(KUBECTL) create namespace $(SAMPLES_NAMESPACE) --dry-run=client -o yaml | $(KUBECTL) apply -f -
	$(KUBECTL) apply --server-side -n $(SAMPLES_NAMESPACE) -k deploy/samples
	$(KUBECTL) get -n $(SAMPLES_NAMESPACE) aim
