#!/usr/bin/env bash
# Makes the Debian base image that the Dockerfile's PYTHON_IMAGE argument points at when no registry
# can be reached: debootstrap a minimal Debian with Debian's python3, add it to buildah's storage as
# an image, and print the image's name on stdout. The rootfs tarball is cached outside the repo, keyed
# by what makes it (suite, mirror, packages, cleanup), so only the first run on a machine pays for it.
set -euo pipefail
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=python3,python3-venv,ca-certificates
# what an image needs no copy of: apt lists and caches, man pages, docs, translations
CLEANUP="var/lib/apt/lists/* var/cache/apt/*.bin var/cache/apt/archives/*.deb usr/share/man/* usr/share/doc/* usr/share/locale/*"
CACHE=${AZURE_BACKUP_EXPORTER_CACHE:-/var/cache/azure-backup-exporter}
key=$(echo "$SUITE $MIRROR $PACKAGES $CLEANUP" | sha256sum | cut -c1-12)
image=localhost/debian-python3:$SUITE-$key
tarball=$CACHE/base-$SUITE-$key.tar
if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
if [ ! -s "$tarball" ]; then
  mkdir -p "$CACHE"
  rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "image-base: debootstrap $SUITE ($PACKAGES) into $rootfs" >&2
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$rootfs" "$MIRROR" >&2
  (cd "$rootfs" && for pattern in $CLEANUP; do rm -rf $pattern; done)
  tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
echo "image-base: adding $tarball to buildah's storage as $image" >&2
container=$(buildah from scratch)
buildah add --quiet "$container" "$tarball" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$container"
buildah commit --quiet --rm "$container" "$image" >/dev/null
echo "$image"
