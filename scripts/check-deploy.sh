#!/usr/bin/env bash
# Validates what we ship to Kubernetes, offline: the Dockerfile (hadolint), the
# chart (helm lint --strict, values.schema.json), and every manifest it renders
# with the default values and with every feature on, against the Kubernetes
# schemas (kubernetes-validate --strict). Fails on the first problem.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/install-tools.sh)"
chart=helm/boomerang
kube_version=1.33.0
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

echo "hadolint Dockerfile"
"$bin/hadolint" --failure-threshold warning Dockerfile

for values in default "$chart/ci/all-features-values.yaml" "$chart/examples/own-registry.yaml"; do
  args=()
  [ "$values" = default ] || args=(-f "$values")
  name="$(basename "$values" .yaml)"
  echo "helm lint --strict ($name)"
  "$bin/helm" lint --strict "$chart" "${args[@]}"
  echo "helm template ($name)"
  "$bin/helm" template boomerang "$chart" --namespace loyalty "${args[@]}" >"$out/$name.yaml"
  echo "kubernetes-validate $kube_version ($name)"
  # Core kinds are checked strictly; the CRDs (GRPCRoute, ServiceMonitor) have no
  # schema offline and are only warned about, which the grep below allows.
  "$bin/kubernetes-validate" --strict --quiet -k "$kube_version" "$out/$name.yaml" 2>&1 |
    tee "$out/$name.log"
  if grep -v "Couldn't find schema for kind \(GRPCRoute\|ServiceMonitor\)" "$out/$name.log" | grep -q .; then
    echo "check-deploy: $name: manifests do not validate" >&2
    exit 1
  fi
  PYTHONPATH="$PWD/target/tools/kv" python3 scripts/check_manifests.py "$out/$name.yaml"
done

echo "values.schema.json rejects bad values"
if "$bin/helm" template boomerang "$chart" --set wallet.replicas=two >/dev/null 2>&1; then
  echo "check-deploy: a string replica count rendered; is values.schema.json in effect?" >&2
  exit 1
fi
echo "check-deploy: ok"
