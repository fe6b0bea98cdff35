#!/usr/bin/env bash
# Builds every deployable binary in release mode and copies them to $1 (default
# target/dist). The Dockerfile runs exactly this, and so does CI, so what CI
# builds is what the image ships.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-target/dist}"
bins=(boomerang gateway wallet-svc accrual-svc campaign-svc referral-svc notify-svc)
packages=()
for b in "${bins[@]}"; do packages+=(-p "$b"); done
cargo build --release --locked "${packages[@]}"
mkdir -p "$out"
for b in "${bins[@]}"; do cp "target/release/$b" "$out/$b"; done
echo "built ${bins[*]} into $out" >&2
