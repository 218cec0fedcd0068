#!/usr/bin/env bash
# Generates upstream Flux's CRDs with controller-gen from upstream's published
# API Go modules (tools/versions.env: FLUX_API_MODULES) into
# $FLUX_RS_CACHE/upstream-crds/<module>@<version>/, the reference our
# manifests/crds are compared with. Nothing here is committed. Idempotent.
# Prints the output folder.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
gen_dir="$CACHE/tools/controller-gen-$CONTROLLER_GEN_VERSION"
if ! stamp_ok "$gen_dir" "$CONTROLLER_GEN_VERSION"; then
  log "go install controller-gen $CONTROLLER_GEN_VERSION"
  mkdir -p "$gen_dir"
  GOBIN="$gen_dir" CGO_ENABLED=0 GOTOOLCHAIN=local go install \
    "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_GEN_VERSION"
  stamp_set "$gen_dir" "$CONTROLLER_GEN_VERSION"
fi
out_root="$CACHE/upstream-crds"
for spec in $FLUX_API_MODULES; do
  out="$out_root/${spec//\//_}"
  stamp_ok "$out" "$spec $CONTROLLER_GEN_VERSION" && continue
  log "controller-gen crd for $spec"
  dir=$(go mod download -json "$spec" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  work=$(mktemp -d)
  cp -r "$dir/." "$work/"
  chmod -R u+w "$work"
  rm -rf "$out"; mkdir -p "$out"
  (cd "$work" && GOFLAGS=-mod=mod GOTOOLCHAIN=local "$gen_dir/controller-gen" \
    crd:crdVersions=v1 paths=./... output:crd:artifacts:config="$out")
  rm -rf "$work"
  stamp_set "$out" "$spec $CONTROLLER_GEN_VERSION"
done
echo "$out_root"
