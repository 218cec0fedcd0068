#!/usr/bin/env bash
# Builds upstream's `flux` CLI from the Go module proxy: the reference the
# CLI tests compare our output with (get, tree, export, create --export,
# trace, events, version --client). Cached per version under
# ${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools; prints the binary's path.
#
# Upstream's release embeds install manifests that its build downloads from
# GitHub releases, which cannot be reached here. The binary is built with an
# embedded bundle that only says so: its `install` and `bootstrap` do not
# work and are never used as references; every command compared reads the
# cluster or writes objects from flags, and does not touch that bundle.
set -euo pipefail
VERSION="${FLUX_CLI_VERSION:-v2.9.5}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/flux-cli-$VERSION"
BIN="$CACHE/flux"
if [[ -x "$BIN" ]]; then
  echo "$BIN"
  exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
SRC="$(go mod download -json "github.com/fluxcd/flux2/v2@$VERSION" |
  python3 -c 'import sys, json; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))')"
cp -r "$SRC" "$WORK/src"
chmod -R u+w "$WORK/src"
mkdir -p "$WORK/src/cmd/flux/manifests"
printf '# flux-rs reference build: install manifests not embedded (see scripts/install-upstream-flux.sh)\n' \
  > "$WORK/src/cmd/flux/manifests/not-embedded.yaml"
mkdir -p "$CACHE"
log_line() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
log_line "go build github.com/fluxcd/flux2/v2/cmd/flux@$VERSION (reference CLI)"
(cd "$WORK/src" && CGO_ENABLED=0 GOTOOLCHAIN=local go build -trimpath -ldflags "-X main.VERSION=${VERSION#v}" -o "$BIN.tmp" ./cmd/flux)
mv "$BIN.tmp" "$BIN"
echo "$BIN"
