#!/usr/bin/env bash
# `make image` (covers PKG-8): builds the FROM scratch lambda-adapter image from the prebuilt static
# binary in dist/ARCH/ with the first builder that works here (docker with a running daemon, podman,
# buildah; buildah is installed with apt-get when none is there and we are root), tags it
# NAME:VERSION-ARCH (and NAME:latest for this machine's architecture, which the examples'
# Dockerfiles copy from), then exports it and prints its file tree and size.
#
#   scripts/image.sh ARCH VERSION [NAME]      ARCH: x86_64 or arm64; DIST=dir instead of dist/
set -euo pipefail
cd "$(dirname "$0")/.."

arch="${1:?usage: image.sh x86_64|arm64 VERSION [NAME]}"
version="${2:?usage: image.sh x86_64|arm64 VERSION [NAME]}"
name="${3:-lambda-adapter}"
case "$arch" in
    x86_64) platform=linux/amd64 ;;
    arm64) platform=linux/arm64 ;;
    *) echo "image.sh: unknown architecture $arch (x86_64 or arm64)" >&2; exit 64 ;;
esac
dist="${DIST:-dist}"
context="$dist/$arch"
[ -x "$context/lambda-adapter" ] || { echo "image.sh: $context/lambda-adapter is missing: run make build-$arch" >&2; exit 1; }
tag="$name:$version-$arch"
archive="$dist/image-$arch.tar"

builder=""
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    builder=docker
elif command -v podman >/dev/null && podman info >/dev/null 2>&1; then
    builder=podman
elif command -v buildah >/dev/null; then
    builder=buildah
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "image.sh: no docker daemon, podman or buildah here: installing buildah with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
    builder=buildah
else
    echo "image.sh: no image builder: install docker, podman or buildah" >&2
    exit 1
fi
echo "image.sh: building $tag for $platform with $builder"

case "$builder" in
    docker)
        docker build --platform "$platform" -f Containerfile -t "$tag" "$context"
        docker save -o "$archive" "$tag"
        ;;
    podman)
        podman build --platform "$platform" -f Containerfile -t "$tag" "$context"
        podman save --format docker-archive -o "$archive" "$tag"
        ;;
    buildah)
        # vfs storage when overlay mounts are not allowed (inside another container, say).
        if ! buildah info >/dev/null 2>&1; then
            export STORAGE_DRIVER=vfs
        fi
        buildah build --platform "$platform" -f Containerfile -t "$tag" "$context"
        rm -f "$archive"
        buildah push "$tag" "docker-archive:$archive:localhost/$tag"
        ;;
esac

"$builder" images "$tag"
host_arch="$(uname -m)"
if [ "$arch" = "$host_arch" ] || { [ "$arch" = arm64 ] && [ "$host_arch" = aarch64 ]; }; then
    "$builder" tag "$tag" "$name:latest"
    echo "image.sh: also tagged $name:latest (this machine's architecture)"
    python3 scripts/image_tree.py "$archive" --run
else
    python3 scripts/image_tree.py "$archive"
fi
