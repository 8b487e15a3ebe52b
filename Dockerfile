# syntax=docker/dockerfile:1
# Two stages: build a wheel with the build tools, then install it alone into a slim runtime
# that runs as a non-root user. The base image is an argument so that an image can be built
# offline (buildah with a debootstrapped base) as well as from a registry.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY exporter ./exporter
COPY simulator ./simulator
RUN python -m pip install --no-cache-dir build==1.2.2 \
    && python -m build --wheel --outdir /dist

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="azure-backup-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Azure Backup jobs of Recovery Services vaults" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /dist/*.whl /tmp/
RUN python -m pip install --no-cache-dir /tmp/*.whl \
    && rm -f /tmp/*.whl \
    && useradd --system --uid 10001 --no-create-home exporter
USER 10001
EXPOSE 10091
ENTRYPOINT ["azure-backup-exporter"]
CMD ["serve"]
