#!/usr/bin/env bash
# Rewrites crates/flux-gotemplate/tests/corpus/expected.jsonl: every case of
# tests/corpus/*.txt executed by Go's own text/template + sprig
# (tools/gotemplate-oracle, built by scripts/install-deps.sh). The expected
# outputs come only from here, never from our code.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

oracle="$BIN/gotemplate-oracle"
if [ ! -x "$oracle" ]; then
  echo "gotemplate-oracle not built: run scripts/install-deps.sh" >&2
  exit 1
fi
dir="$ROOT/crates/flux-gotemplate/tests/corpus"
"$oracle" corpus "$dir"/*.txt >"$dir/expected.jsonl.tmp"
mv "$dir/expected.jsonl.tmp" "$dir/expected.jsonl"
echo "$(wc -l <"$dir/expected.jsonl") cases written to $dir/expected.jsonl"
