#!/usr/bin/env bash
# Builds Boomerang's one image (every binary) with the Dockerfile and, with
# --push, pushes it to your registry. Uses docker, or podman without docker.
# Usage: scripts/build-image.sh [IMAGE] [--push]
#   IMAGE defaults to boomerang:<the chart's appVersion>, the chart's default
#   image (for kind: `kind load docker-image boomerang:0.1.0`).
# Then install with it: helm install boomerang helm/boomerang \
#   --set global.image.registry=registry.example.com --set global.image.repository=boomerang
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' helm/boomerang/Chart.yaml)"
image="boomerang:$version"
push=false
for arg in "$@"; do
  case "$arg" in
    --push) push=true ;;
    -*) echo "build-image: unknown option $arg" >&2; exit 2 ;;
    *) image="$arg" ;;
  esac
done
engine="$(command -v docker || command -v podman || true)"
[ -n "$engine" ] || { echo "build-image: needs docker or podman" >&2; exit 1; }
"$engine" build -t "$image" .
echo "build-image: built $image"
if $push; then
  "$engine" push "$image"
  echo "build-image: pushed $image"
fi
