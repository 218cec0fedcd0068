#!/usr/bin/env bash
# Rewrites crates/flux-helm/tests/charts/expected/*.out: every case of
# tests/charts/*.txtar (a chart and its values as a txtar bundle, plus the
# `helm template` arguments to run) rendered by the real Helm v3 binary
# (built by scripts/install-deps.sh). The expected outputs come only from
# here, never from our code.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

helm="$BIN/helm"
if [ ! -x "$helm" ]; then
  echo "helm not built: run scripts/install-deps.sh" >&2
  exit 1
fi
dir="$ROOT/crates/flux-helm/tests/charts"
HELM="$helm" python3 "$ROOT/scripts/helm_corpus.py" regen "$dir" "$@"
