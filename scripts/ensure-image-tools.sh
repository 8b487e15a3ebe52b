#!/usr/bin/env bash
# Installs what building and running the container image needs without a Docker engine or a
# registry: buildah (builds the Dockerfile with --isolation chroot), debootstrap (makes the Debian
# base image locally) and kubectl (renders deploy/kubernetes with kustomize), from Debian's packages.
# Never skips: if they cannot be had, it says so and fails, so that no test is silently skipped.
set -euo pipefail
need=(buildah debootstrap unshare setpriv)
missing=()
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ensure-image-tools: missing ${missing[*]}; installing Debian packages buildah debootstrap util-linux" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-image-tools: apt-get not found; install buildah and debootstrap and retry" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends buildah debootstrap util-linux >/dev/null
for tool in "${need[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || { echo "ensure-image-tools: $tool still missing after install" >&2; exit 1; }
done
