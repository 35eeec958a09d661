# aimctl operator image: `aimctl run` on a slim Python base, dependencies installed from the hashed
# lock files only, running as a non-root user and needing no writable path besides /tmp (an emptyDir in
# deploy/manager), so the Deployment can set readOnlyRootFilesystem.
#
#   make image        docker where a Docker engine answers, buildah otherwise (aimctl/devcluster/image.py)
#
# The base is the official python image pinned by digest (refresh: `docker buildx imagetools inspect
# python:3.11-slim-bookworm`). Where it cannot be pulled, `make image` passes PYTHON_IMAGE=
# localhost/aimctl-base:bookworm-python3.11-mmdebstrap, the same Debian release and Python minor made
# from the Debian archive; its python is /usr/bin/python (python-is-python3) where the official image's
# is /usr/local/bin/python, and this file only ever runs `python` from PATH, so it serves both as it is.
# tests/integration/test_image.py builds this file and runs the image as UID 65532 on a read-only root
# against the local cluster; hadolint checks it (tests/unit/deploy).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

# ---- build: a virtualenv with the locked dependencies and the aimctl wheel -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
# Build requirements (setuptools) and runtime requirements, pinned with hashes: pip refuses anything
# not in the lock files. --no-deps: the lock leaves out what the operator never imports (typer's rich,
# for coloured help; TYPER_USE_RICH=0 below tells typer so).
COPY requirements-build.lock requirements.lock ./
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock \
    && python -m venv /opt/aimctl \
    && /opt/aimctl/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY aimctl ./aimctl
COPY informers ./informers
COPY statemachines ./statemachines
COPY metrics ./metrics
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/aimctl/bin/pip install --no-deps /wheels/aimctl-*.whl \
    && /opt/aimctl/bin/pip uninstall --yes pip setuptools

# ---- runtime -------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="aimctl" \
      org.opencontainers.image.description="Kubernetes operator for AMD Inference Microservices (aim.silogen.ai/v1alpha1)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/silogen/aimctl"
COPY --from=build /opt/aimctl /opt/aimctl
ENV PATH=/opt/aimctl/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    AIMCTL_LOG_FORMAT=json \
    TYPER_USE_RICH=0
# The numeric UID/GID of distroless "nonroot"; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/opt/aimctl/bin/aimctl", "run"]
