#!/usr/bin/env bash
# buf breaking: the protos must stay wire- and source-compatible (FILE rules)
# with those of the last release: the newest tag v* when the clone has one,
# else proto/baseline.binpb, the image of the contract as first published
# with its SDK options (buf build --exclude-source-info). Cut a release:
# tag it v*, or rebuild the image from it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(scripts/install-tools.sh)"
tag="$(git tag --list 'v*' --sort=-v:refname 2>/dev/null | head -n1)"
against="${tag:+.git#ref=$tag}"
against="${against:-proto/baseline.binpb}"
echo "proto-breaking: against $against" >&2
"$bin/buf" breaking --against "$against"
echo "proto-breaking: no breaking change" >&2
