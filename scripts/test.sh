#!/usr/bin/env bash
# The project's test command: installs what is missing (cached; seconds when
# everything is present), checks formatting and lints, then runs every test
# of the workspace against the real components.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
. scripts/lib.sh
# Compiled crates are cached per user and toolchain like every other tool, so
# a fresh clone (CI) rebuilds only the workspace's own crates. An explicit
# CARGO_TARGET_DIR wins.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$CACHE/cargo-target/$(rustc --version | cut -d' ' -f2)"
  export CARGO_TARGET_DIR
fi
log "cargo target dir: $CARGO_TARGET_DIR"
# A cached target dir gains nothing from incremental data but gigabytes.
export CARGO_INCREMENTAL=0
# Every change of a test binary leaves the previous one (hundreds of MB) in
# deps/: keep only the newest of each, or the cache fills the disk (it did:
# 55 GB, and a full disk shows up as registry uploads reset mid-test).
prune_stale_binaries() {
  local deps="$CARGO_TARGET_DIR/debug/deps"
  [ -d "$deps" ] || return 0
  rm -rf "$CARGO_TARGET_DIR/debug/incremental"
  find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended \
    -regex '.*/[^./]+-[0-9a-f]{16}' -printf '%T@ %p\n' |
    sed -E 's#^([0-9.]+) (.*/)([^/]+)-([0-9a-f]{16})$#\3 \1 \2\3-\4#' |
    sort -k1,1 -k2,2nr | awk 'seen[$1]++ { print $3 }' | xargs -r rm -f
}
prune_stale_binaries
log "cargo fmt --check"
cargo fmt --all --check
log "unsafe code: only the audited libgit2 timeout setter"
unsafe_allowed=$(grep -rln --include='*.rs' 'allow(unsafe_code)' crates tools 2>/dev/null | grep -v '^crates/flux-git/src/deadline.rs$' || true)
if [ -n "$unsafe_allowed" ]; then
  echo "unsafe code allowed outside crates/flux-git/src/deadline.rs: $unsafe_allowed" >&2
  exit 1
fi
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked "$@"
# Differential fuzzing against the real tools, on a budget, with a seed
# that changes every day (printed: `flux-dev fuzz-diff ENGINE --cases N
# --seed S` replays a failure; the shrunk inputs are in target/fuzz-diff).
seed=${FUZZ_DIFF_SEED:-$(date -u +%Y%m%d)}
log "fuzz-diff against the real tools, seed $seed"
cargo build --locked -p flux-dev
for run in "gotemplate 3000" "kustomize 400" "helm 300"; do
  set -- $run
  "$CARGO_TARGET_DIR/debug/flux-dev" fuzz-diff "$1" --cases "$2" --seed "$seed" --out "$CARGO_TARGET_DIR/fuzz-diff/$1-$seed"
done
log "the demo (scripts/demo.sh), end to end"
DEMO_EXIT=1 DEMO_PROFILE=dev bash scripts/demo.sh
