#!/usr/bin/env bash
# Generates the client SDKs from proto/ into target/sdk and checks them:
#   Python      grpcio-tools (protoc bundled): messages, stubs and .pyi types
#   TypeScript  protoc-gen-es through buf (sdk/buf.gen.yaml), Connect clients,
#               type-checked with tsc
# Given a running suite (HOST:PORT of the gateway and an API key), each
# client then enrols a member, records a purchase and reads the balance
# (sdk/python/smoke.py, sdk/typescript/smoke.ts).
#   scripts/sdk.sh [HOST:PORT KEY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/install-tools.sh)"
root="$PWD"
out="$root/target/sdk"
py_tools="$root/target/tools/grpcio-tools"
mkdir -p "$out"

if [ ! -d "$py_tools/grpc_tools" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$py_tools" \
    grpcio-tools==1.76.0 >&2
fi
rm -rf "$out/python" && mkdir -p "$out/python"
mapfile -t protos < <(cd proto/proto && find boomerang -name '*.proto' | sort)
(cd proto/proto && PYTHONPATH="$py_tools" python3 -m grpc_tools.protoc -I . \
  --python_out="$out/python" --pyi_out="$out/python" --grpc_python_out="$out/python" "${protos[@]}")
PYTHONPATH="$out/python:$py_tools" python3 -c \
  'import boomerang.accrual.v1.accrual_pb2_grpc, boomerang.wallet.v1.wallet_pb2_grpc, boomerang.notify.v1.notify_pb2_grpc'
echo "sdk: python generated in target/sdk/python" >&2

ts="$out/typescript"
mkdir -p "$ts"
cp sdk/typescript/package.json sdk/typescript/package-lock.json sdk/typescript/tsconfig.json sdk/typescript/smoke.ts "$ts/"
if ! cmp -s sdk/typescript/package-lock.json "$ts/node_modules/.package-lock.json.used" 2>/dev/null; then
  (cd "$ts" && npm ci --silent --no-audit --no-fund >&2)
  cp sdk/typescript/package-lock.json "$ts/node_modules/.package-lock.json.used"
fi
rm -rf "$ts/gen"
"$bin/buf" generate --template sdk/buf.gen.yaml
(cd "$ts" && node_modules/.bin/tsc -p tsconfig.json)
echo "sdk: typescript generated and type-checked in target/sdk/typescript" >&2

if [ $# -ge 2 ]; then
  PYTHONPATH="$out/python:$py_tools" python3 sdk/python/smoke.py "$1" "$2"
  (cd "$ts" && node_modules/.bin/tsx smoke.ts "$1" "$2")
fi
