#!/usr/bin/env bash
# The project's test command: installs what is missing (cached; seconds when
# everything is present), checks formatting and lints, then runs every test
# of the workspace against the real components.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "==> cargo fmt --check" >&2
cargo fmt --all --check
echo "==> cargo clippy" >&2
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "==> cargo test" >&2
cargo test --workspace --locked "$@"
