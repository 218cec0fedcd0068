#!/usr/bin/env bash
# Builds upstream's helm-controller from the Go module proxy: the reference
# our helm controller is to be run side by side with (same HelmReleases,
# same conditions, history, release records; `flux-dev bench
# helmreleases`). Cached per version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools; prints the binary's path.
#
# v1.6.0 is the newest version the proxy serves to this machine. Its
# go.mod requires github.com/fluxcd/pkg/chartutil v1.27.0, which the proxy
# refuses: it is built with v1.27.2 (a patch release of the same package),
# the one change made to upstream's module.
set -euo pipefail
VERSION="${HELM_CONTROLLER_VERSION:-v1.6.0}"
CHARTUTIL_VERSION="${HELM_CONTROLLER_CHARTUTIL_VERSION:-v1.27.2}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/helm-controller-$VERSION"
BIN="$CACHE/helm-controller"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
dir_of() {
  go mod download -json "$1" | python3 -c 'import sys, json; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))'
}
SRC="$(dir_of "github.com/fluxcd/helm-controller@$VERSION")"
API="$(dir_of "github.com/fluxcd/helm-controller/api@$VERSION")"
# The module's go.mod replaces its api module with ./api, which the module
# zip leaves out: put the published api module there.
cp -r "$SRC" "$WORK/src"
chmod -R u+w "$WORK/src"
rm -rf "$WORK/src/api"
cp -r "$API" "$WORK/src/api"
chmod -R u+w "$WORK/src/api"
mkdir -p "$CACHE"
printf '\033[1m==> %s\033[0m\n' "go build github.com/fluxcd/helm-controller@$VERSION (reference controller, chartutil $CHARTUTIL_VERSION)" >&2
(cd "$WORK/src" \
  && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod edit -require="github.com/fluxcd/pkg/chartutil@$CHARTUTIL_VERSION" \
  && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$BIN.tmp" .)
mv "$BIN.tmp" "$BIN"
echo "$BIN"
