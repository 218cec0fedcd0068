#!/usr/bin/env bash
# Rewrites crates/flux-helm/tests/charts/expected/*.out: every case of
# tests/charts/*.txtar (a chart and its values as a txtar bundle, plus the
# `helm template` arguments to run) rendered by the real Helm v3 binary
# (built by scripts/install-deps.sh). The expected outputs come only from
# here, never from our code. Helm v4 renders every case too; where it
# differs from v3 the case is listed in expected/helm4-differences.txt.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

helm="$BIN/helm"
if [ ! -x "$helm" ]; then
  echo "helm not built: run scripts/install-deps.sh" >&2
  exit 1
fi
dir="$ROOT/crates/flux-helm/tests/charts"
HELM="$helm" HELM4="$BIN/helm4" python3 "$ROOT/scripts/helm_corpus.py" regen "$dir" "$@"
