# Shared helpers for scripts/*.sh. Sourced by bash.
# Every cache lives outside the checkout, per user, keyed by version, so that a
# fresh clone (CI) reuses it and a new machine rebuilds it.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../tools/versions.env
. "$ROOT/tools/versions.env"
CACHE=${FLUX_RS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs}
BIN="$CACHE/bin"
mkdir -p "$CACHE" "$BIN"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# link NAME TARGET: expose a versioned binary as $BIN/NAME.
link() { ln -sfn "$2" "$BIN/$1"; }

# stamp_ok DIR KEY: true when DIR was completed for KEY.
stamp_ok() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }
stamp_set() { printf '%s' "$2" > "$1/.stamp"; }
