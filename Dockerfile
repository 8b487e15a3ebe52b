# syntax=docker/dockerfile:1
# Two stages: install the pinned dependencies (requirements.lock, hash-checked) and the exporter's own
# wheel into a virtual environment, then copy that environment alone into a runtime stage that runs as a
# non-root user. The base image is an argument, so that the image can be built offline (buildah with a
# debootstrapped Debian base, scripts/image-build.sh) as well as from a registry's python:3.11-slim.
# A virtual environment because Debian's own Python refuses a system-wide pip install (PEP 668); the
# same layout then works on both bases.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python3 -m venv /opt/exporter
# PIP_NO_INDEX=1 (scripts/image-build.sh): install from the wheels downloaded into wheelhouse/ only
ARG PIP_NO_INDEX
COPY requirements.lock ./
COPY wheelhouse/ /wheelhouse/
RUN /opt/exporter/bin/pip install --require-hashes --only-binary=:all: --find-links /wheelhouse \
      -r requirements.lock
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY simulator ./simulator
# the build backend is the pinned setuptools just installed, not whatever an isolated build would fetch
RUN /opt/exporter/bin/pip install --no-deps --no-build-isolation . \
    && /opt/exporter/bin/pip uninstall --yes setuptools pip

FROM ${PYTHON_IMAGE}
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="azure-backup-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Azure Backup jobs of Recovery Services vaults" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/example-org/azure-backup-exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=build /opt/exporter /opt/exporter
ENV PATH=/opt/exporter/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# numeric, with no entry in /etc/passwd (as distroless' nonroot): nothing in the image needs a name
USER 10001:10001
EXPOSE 10091
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:10091/-/healthy', timeout=4)"]
ENTRYPOINT ["azure-backup-exporter"]
CMD ["serve"]
