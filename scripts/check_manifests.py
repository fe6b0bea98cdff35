"""Checks what schemas cannot: every Deployment of the chart probes gRPC health
the way the services answer it (readiness on "readiness", liveness on ""),
runs as non-root on a read-only root filesystem with no capabilities, and has
a Service, a NetworkPolicy and (when enabled) a PodDisruptionBudget, spreads
its replicas over nodes, reads the platform key from a mounted Secret (never
an environment value), calls its upstreams by their headless Services (so
callers spread over replicas), and that no public Service carries the metrics port."""
import sys

import yaml

docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d

errors = []
deployments = by_kind.get("Deployment", {})
if not deployments:
    errors.append("no Deployment rendered")
for name, dep in deployments.items():
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    port = next(p["containerPort"] for p in c["ports"] if p["name"] == "grpc")
    ready, live = c.get("readinessProbe", {}), c.get("livenessProbe", {})

    def asks(probe, service):
        """gRPC health of `service` on the port, natively or, over TLS, by `boomerang health`."""
        if "grpc" in probe:
            want = {"port": port, "service": service} if service else {"port": port}
            return probe["grpc"] == want
        cmd = probe.get("exec", {}).get("command", [])
        return (cmd[:2] == ["/usr/local/bin/boomerang", "health"]
                and f"https://127.0.0.1:{port}" in cmd and cmd[cmd.index("--service") + 1] == service)

    if not asks(ready, "readiness"):
        errors.append(f"{name}: readinessProbe must ask health readiness on {port}")
    if not asks(live, ""):
        errors.append(f"{name}: livenessProbe must ask health \"\" on {port}")
    sc = c.get("securityContext", {})
    if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"]):
        errors.append(f"{name}: container securityContext is not locked down")
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        errors.append(f"{name}: pod does not run as non-root")
    annotations = dep["spec"]["template"]["metadata"].get("annotations", {})
    if "checksum/config" not in annotations or "checksum/secret" not in annotations:
        errors.append(f"{name}: no checksum annotations (config changes would not roll pods)")
    if name not in by_kind.get("Service", {}):
        errors.append(f"{name}: no Service")
    if name not in by_kind.get("NetworkPolicy", {}):
        errors.append(f"{name}: no NetworkPolicy")
    if not pod.get("topologySpreadConstraints"):
        errors.append(f"{name}: replicas are not spread over nodes")
    env = {e["name"].split("__", 1)[-1]: e for e in c.get("env", [])}
    key_file = env.get("INTERNAL_AUTH__KEY_FILE", {}).get("value", "")
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    secret = next((v["secret"]["secretName"] for v in pod.get("volumes", [])
                   if v["name"] == "internal-auth" and "secret" in v), None)
    if not (secret and key_file.startswith(mounts.get("internal-auth", "?") + "/")):
        errors.append(f"{name}: the platform key is not read from a mounted Secret")
    for key, e in env.items():
        if key.startswith("UPSTREAMS__") or key == "WALLET_URL":
            host = e.get("value", "").split("://")[-1].split(":")[0]
            target = by_kind.get("Service", {}).get(host)
            if target is not None and target["spec"].get("clusterIP") != "None":
                errors.append(f"{name}: {key} calls {host}, not a headless Service")
            if target is None and host.endswith("-headless"):
                errors.append(f"{name}: {key} calls {host}, which is not rendered")
    if "INTERNAL_AUTH__KEY" in env:
        errors.append(f"{name}: the platform key must not be an environment value")

for name, svc in by_kind.get("Service", {}).items():
    public = svc["spec"].get("type", "ClusterIP") in ("LoadBalancer", "NodePort")
    if public and any(p.get("name") == "metrics" for p in svc["spec"]["ports"]):
        errors.append(f"{name}: metrics exposed on a {svc['spec']['type']} Service")

tests = [d for d in docs if d["kind"] == "Pod"
         and d["metadata"].get("annotations", {}).get("helm.sh/hook") == "test"]
if not tests:
    errors.append("no helm test Pod")
for pod in tests:
    (c,) = pod["spec"]["containers"]
    if c["command"][:2] != ["/usr/local/bin/boomerang", "health"]:
        errors.append(f"{pod['metadata']['name']}: the test must run `boomerang health`")
    addr = c["command"][c["command"].index("--addr") + 1]
    host = addr.split("://")[-1].split(":")[0]
    if host not in by_kind.get("Service", {}):
        errors.append(f"{pod['metadata']['name']}: tests {host}, which is not rendered")

for e in errors:
    print(f"check_manifests: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
