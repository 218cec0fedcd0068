#!/usr/bin/env bash
# Builds upstream's source-controller from the Go module proxy: the
# reference the differential test (`crates/flux-source-controller/tests/
# upstream.rs`) runs side by side with ours on the same objects (revisions,
# artifact digests, messages). Cached per version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools; prints the binary's path.
#
# v1.7.0 (Flux 2.7) is the newest release whose dependencies the proxy
# serves to this machine's Go (v1.10.x needs github.com/fluxcd/pkg/artifact
# v0.27, which the proxy refuses).
set -euo pipefail
VERSION="${SOURCE_CONTROLLER_VERSION:-v1.7.0}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/source-controller-$VERSION"
BIN="$CACHE/source-controller"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
dir_of() {
  go mod download -json "$1" | python3 -c 'import sys, json; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))'
}
SRC="$(dir_of "github.com/fluxcd/source-controller@$VERSION")"
API="$(dir_of "github.com/fluxcd/source-controller/api@$VERSION")"
# The module's go.mod replaces its api module with ./api, which the module
# zip leaves out: put the published api module there.
cp -r "$SRC" "$WORK/src"
chmod -R u+w "$WORK/src"
rm -rf "$WORK/src/api"
cp -r "$API" "$WORK/src/api"
chmod -R u+w "$WORK/src/api"
mkdir -p "$CACHE"
printf '\033[1m==> %s\033[0m\n' "go build github.com/fluxcd/source-controller@$VERSION (reference controller)" >&2
(cd "$WORK/src" && GOTOOLCHAIN=local go build -trimpath -o "$BIN.tmp" .)
mv "$BIN.tmp" "$BIN"
echo "$BIN"
