#!/usr/bin/env bash
# Builds upstream's source-controller from the Go module proxy: the
# reference the differential test (`crates/flux-source-controller/tests/
# upstream.rs`) runs side by side with ours on the same objects (revisions,
# artifact digests, messages). Prints the binary's path (see
# scripts/upstream-controller.sh).
#
# v1.7.0 (Flux 2.7) is the newest release whose dependencies the proxy
# serves to this machine's Go (v1.10.x needs github.com/fluxcd/pkg/artifact
# v0.27, which the proxy refuses).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/upstream-controller.sh"
upstream_controller source-controller "${SOURCE_CONTROLLER_VERSION:-v1.7.0}"
