#!/usr/bin/env bash
# Builds upstream's kustomize-controller from the Go module proxy, for the
# comparison in `flux-dev bench kustomizations` (not needed by the tests).
# Cached per version under ${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools.
#
# v1.9.6 is the newest release this machine can build: v1.10.x needs Go
# 1.27 and a module the proxy does not serve (github.com/fluxcd/pkg/spiffe).
set -euo pipefail
VERSION="${KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/kustomize-controller-$VERSION"
BIN="$CACHE/kustomize-controller"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
dir_of() {
  go mod download -json "$1" | python3 -c 'import sys, json; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))'
}
SRC="$(dir_of "github.com/fluxcd/kustomize-controller@$VERSION")"
API="$(dir_of "github.com/fluxcd/kustomize-controller/api@$VERSION")"
# The module's go.mod replaces its api module with ./api, which the module
# zip leaves out: put the published api module there.
cp -r "$SRC" "$WORK/src"
chmod -R u+w "$WORK/src"
rm -rf "$WORK/src/api"
cp -r "$API" "$WORK/src/api"
chmod -R u+w "$WORK/src/api"
mkdir -p "$CACHE"
(cd "$WORK/src" && go build -trimpath -o "$BIN.tmp" .)
mv "$BIN.tmp" "$BIN"
echo "$BIN"
