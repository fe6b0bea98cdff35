#!/usr/bin/env bash
# Runs the README's grpcurl walkthrough as written: every ```sh block from
# "## Calling it with grpcurl" up to "## Configuration", then docs/checkout.md's
# from "## Walkthrough" up to "## Not yet" and docs/as-code.md's from
# "## Walkthrough" up to "## In CI" (with `boomerang` on the PATH), extracted from the documents (never
# a copy), in a fresh folder where `boomerang up --demo` runs on its default
# ports, as a reader would in a second shell. Any command that
# fails fails the run. Streams (WatchEvents, "Ctrl-C to stop") get 3 s.
# Usage: scripts/readme-walkthrough.sh [path to the boomerang binary]
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
boomerang="$(realpath "${1:-target/release/boomerang}")"
bin="$(scripts/install-tools.sh)"
work="$(mktemp -d)"
script="$work/walkthrough.sh"

python3 - "$root" "$script" <<'PY'
import re, sys
walks = [
    ("README.md", "## Calling it with grpcurl", "## Configuration", 3),
    ("docs/checkout.md", "## Walkthrough", "## Not yet", 1),
    ("docs/as-code.md", "## Walkthrough", "## In CI", 1),
]
with open(sys.argv[2], "w") as f:
    f.write("set -euo pipefail\n")
    for doc, first, last, least in walks:
        text = open(f"{sys.argv[1]}/{doc}").read()
        start, end = text.index(first), text.index(last)
        blocks = re.findall(r"```sh\n(.*?)```", text[start:end], re.S)
        if len(blocks) < least:
            sys.exit(f"readme-walkthrough: expected {least} sh blocks in {doc}, found {len(blocks)}")
        for i, b in enumerate(blocks, 1):
            f.write(f"echo '--- README block {i} ({doc})'\n{b}\n")
PY

cd "$work"
"$boomerang" up --demo >"$work/up.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; cd /; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  [ -s .boomerang/demo-key ] && "$bin/grpcurl" -plaintext localhost:50051 list >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { cat "$work/up.log"; echo "readme-walkthrough: boomerang exited" >&2; exit 1; }
  sleep 0.1
done

# grpcurl as the reader has it; a stream is stopped after 3 s, as Ctrl-C would.
cat >"$work/grpcurl" <<SH
#!/usr/bin/env bash
if [[ "\$*" == *WatchEvents* ]]; then timeout 3 "$bin/grpcurl" "\$@"; rc=\$?; [ \$rc -eq 124 ] && exit 0; exit \$rc; fi
exec "$bin/grpcurl" "\$@"
SH
chmod +x "$work/grpcurl"
ln -s "$boomerang" "$work/boomerang"
PATH="$work:$PATH" bash "$script" >"$work/out.log" 2>&1 || {
  cat "$work/out.log"; echo "readme-walkthrough: a README command failed (above)" >&2; exit 1; }
[ -z "${VERBOSE:-}" ] || cat "$work/out.log"
echo "readme-walkthrough: ok ($(grep -c '^--- README block' "$work/out.log") blocks, every command answered)"
