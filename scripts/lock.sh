#!/usr/bin/env bash
# Regenerates requirements.lock: every runtime dependency of pyproject.toml and the build backend, pinned
# to one version with the hashes of its files (pip-tools' pip-compile, run in a throwaway venv). The image
# installs exactly this (`pip install --require-hashes`); tests/packaging checks that it covers pyproject.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install --quiet pip-tools==7.6.2
"$tools/bin/pip-compile" --quiet --generate-hashes --strip-extras --allow-unsafe --all-build-deps \
  --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
