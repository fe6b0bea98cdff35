#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for a bounded time, starting
# from its committed corpus (fuzz/corpus/<target>). CI runs it with 20 s a
# target; run longer by hand: scripts/fuzz.sh 600.
#
# The pinned stable toolchain, with RUSTC_BOOTSTRAP=1 so cargo-fuzz's
# instrumentation flags pass; no sanitizer (the code is safe Rust: what is
# looked for is a panic, an overflow or a broken assertion, so debug
# assertions are on). A finding fails the run; its input is left in
# fuzz/artifacts/<target>/ to reproduce with
#   (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none --debug-assertions <target> artifacts/<target>/<file>)
# and belongs in the corpus once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
tools="$PWD/target/tools/cargo-fuzz"
if [ ! -x "$tools/bin/cargo-fuzz" ]; then
  cargo install cargo-fuzz --version 0.13.2 --locked --root "$tools" >&2
fi
export PATH="$tools/bin:$PATH" RUSTC_BOOTSTRAP=1
cd fuzz
flags=(--sanitizer none --debug-assertions)
cargo fuzz build "${flags[@]}"
for target in $(cargo fuzz list); do
  # New inputs go to a scratch copy: a CI run leaves the checkout as it was.
  work="$(mktemp -d)"
  cp -r "corpus/$target/." "$work/"
  echo "fuzz: $target for ${secs}s from $(ls "corpus/$target" | wc -l) inputs"
  if ! cargo fuzz run "${flags[@]}" "$target" "$work" -- -max_total_time="$secs" >"$work.log" 2>&1; then
    tail -n 40 "$work.log" >&2
    echo "fuzz: $target found a failing input (fuzz/artifacts/$target)" >&2
    exit 1
  fi
  grep -E "^Done" "$work.log" || true
  rm -rf "$work" "$work.log"
done
