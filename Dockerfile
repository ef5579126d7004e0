# syntax=docker/dockerfile:1
# celigo-operator image: the operator's wheel and its dependencies in a virtualenv, on a slim Python 3.11.
#   docker build -t ghcr.io/celigo-operator/celigo-operator:0.1.0 .
# Nothing secret is baked in: the operator reads its credentials from the cluster (ServiceAccount token) and
# each connector's from Kubernetes Secrets at runtime.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: the only stage with pip, setuptools and wheel ----
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN python -m pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels celigo-operator \
 && /opt/venv/bin/pip uninstall --yes pip setuptools \
 && python -m compileall -q /opt/venv

# ---- runtime: no compiler, no pip in the venv, no package manager runs ----
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="celigo-operator" \
      org.opencontainers.image.description="Kubernetes operator running ConductorOne's baton-celigo connector" \
      org.opencontainers.image.licenses="Apache-2.0"
# Bytecode was compiled at build time; at runtime nothing is written to the image (readOnlyRootFilesystem),
# HOME points at the one writable mount (/tmp, an emptyDir in the Deployment).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
COPY --from=builder /opt/venv /opt/venv
USER 65532:65532
# 8080: kopf liveness (/healthz); 9090: Prometheus metrics.
EXPOSE 8080 9090
ENTRYPOINT ["celigo-operator"]
CMD ["run", "--all-namespaces"]
