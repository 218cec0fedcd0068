# Shared by scripts/install-upstream-*-controller.sh (sourced by bash):
# builds one of upstream's Flux controllers from the Go module proxy.
#
# upstream_controller NAME VERSION [MODULE@VERSION...]: builds
# github.com/fluxcd/NAME@VERSION — with the published NAME/api module in
# place of ./api, which the module's go.mod replaces and its zip leaves
# out — requiring each MODULE@VERSION given (a dependency version the
# proxy serves in place of one it refuses). Cached under
# ${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/NAME-VERSION; prints the
# binary's path.
upstream_controller() {
  local name=$1 version=$2
  shift 2
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/$name-$version"
  local bin="$cache/$name"
  if [[ -x "$bin" ]]; then
    echo "$bin"
    return 0
  fi
  local work src api require
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expanded now, on purpose
  trap "rm -rf '$work'" EXIT
  src="$(upstream_module_dir "github.com/fluxcd/$name@$version")"
  api="$(upstream_module_dir "github.com/fluxcd/$name/api@$version")"
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  rm -rf "$work/src/api"
  cp -r "$api" "$work/src/api"
  chmod -R u+w "$work/src/api"
  for require in "$@"; do
    (cd "$work/src" && GOTOOLCHAIN=local go mod edit -require="$require")
  done
  mkdir -p "$cache"
  printf '\033[1m==> %s\033[0m\n' "go build github.com/fluxcd/$name@$version (reference controller${*:+, with $*})" >&2
  (cd "$work/src" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
  echo "$bin"
}

# upstream_module_dir MODULE@VERSION: the module's folder in the module cache.
upstream_module_dir() {
  go mod download -json "$1" | python3 -c 'import sys, json; d = json.load(sys.stdin); print(d.get("Dir") or sys.exit(d.get("Error", "no Dir")))'
}
