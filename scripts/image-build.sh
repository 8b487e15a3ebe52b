#!/usr/bin/env bash
# Builds the image from the Dockerfile with buildah, without a Docker engine or a registry: the base is the
# debootstrapped Debian of scripts/image-base.sh (cached), passed as PYTHON_IMAGE. Prints the image's name
# on stdout and how long each step took on stderr. `--isolation chroot` is what works unprivileged-enough
# here (no OCI runtime); `--format docker` keeps HEALTHCHECK, which the OCI image format has no field for.
# Usage: scripts/image-build.sh [TAG]   (default localhost/azure-backup-exporter:<version>)
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(python3 -c 'import re,sys; print(re.search(r"__version__ = \"([^\"]+)\"", open(sys.argv[1]).read())[1])' \
  exporter/azure_backup_exporter/__init__.py)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
tag=${1:-localhost/azure-backup-exporter:$version}
started=$SECONDS
base=$(scripts/image-base.sh)
echo "image-build: base $base ready in $((SECONDS - started))s" >&2
started=$SECONDS
# the wheels on the host, whose pip trusts the host's CA bundle; the build then needs no network
"${PYTHON:-.venv/bin/python}" -m pip download --quiet --require-hashes --only-binary=:all: \
  --dest wheelhouse -r requirements.lock
echo "image-build: wheels of requirements.lock in wheelhouse/ in $((SECONDS - started))s" >&2
started=$SECONDS
buildah bud --quiet --isolation chroot --format docker --layers \
  --build-arg "PYTHON_IMAGE=$base" --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg PIP_NO_INDEX=1 \
  --tag "$tag" . >&2
echo "image-build: $tag built in $((SECONDS - started))s" >&2
echo "$tag"
