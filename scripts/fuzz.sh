#!/usr/bin/env bash
# Fuzzes the YAML parser, the kustomize builder and the Go template engine
# with cargo-fuzz
# (libFuzzer; needs a nightly toolchain): `bash scripts/fuzz.sh [SECONDS]`
# runs each target for SECONDS (default 120), seeded from the differential
# corpora. A crash is kept by copying its input from fuzz/artifacts/TARGET/
# into crates/flux-yaml/tests/fuzz-regressions/,
# crates/flux-kustomize/tests/fuzz-regressions/ or
# crates/flux-gotemplate/tests/fuzz-regressions/, where the ordinary test
# suite replays it on the stable toolchain.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
seconds=${1:-120}
CARGO_FUZZ_VERSION=0.13.2
dir="$CACHE/tools/cargo-fuzz-$CARGO_FUZZ_VERSION"
if ! stamp_ok "$dir" "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$dir"
  stamp_set "$dir" "$CARGO_FUZZ_VERSION"
fi
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cd "$ROOT/fuzz"
export CARGO_TARGET_DIR="$CACHE/cargo-target/fuzz"
# Seeds: every input of the YAML corpus; every kustomization of the
# kustomize corpus, with its first resource file after a NUL.
mkdir -p corpus/yaml_parse corpus/kustomize_build corpus/gotemplate
for f in "$ROOT"/crates/flux-yaml/tests/corpus/*/input.yaml "$ROOT"/crates/flux-yaml/tests/fuzz-regressions/*; do
  [ -f "$f" ] && cp "$f" "corpus/yaml_parse/$(sha256sum "$f" | cut -c1-16)"
done
for case in "$ROOT"/crates/flux-kustomize/tests/corpus/*/; do
  k=$(ls "$case"kustomization.yaml 2>/dev/null || true)
  [ -n "$k" ] || continue
  first=$(ls "$case"*.yaml | grep -v -e kustomization.yaml -e expected.yaml | head -1 || true)
  { cat "$k"; printf '\0'; printf '\0'; [ -n "$first" ] && cat "$first"; } >"corpus/kustomize_build/$(basename "$case")"
done
# Every line of the template corpus, and the kept regressions.
n=0
for f in "$ROOT"/crates/flux-gotemplate/tests/corpus/*.txt; do
  while IFS= read -r line; do
    case "$line" in ''|'#'*|'@'*|'<<<'|'>>>') continue ;; esac
    n=$((n + 1))
    printf '%s' "$line" >"corpus/gotemplate/seed-$n"
  done <"$f"
done
cp "$ROOT"/crates/flux-gotemplate/tests/fuzz-regressions/* corpus/gotemplate/ 2>/dev/null || true
for target in yaml_parse kustomize_build gotemplate; do
  log "fuzzing $target for ${seconds}s"
  PATH="$dir/bin:$PATH" cargo +nightly fuzz run "$target" "corpus/$target" -- -max_total_time="$seconds" -max_len=65536
done
