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
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked "$@"
log "the demo (scripts/demo.sh), end to end"
DEMO_EXIT=1 DEMO_PROFILE=dev bash scripts/demo.sh
