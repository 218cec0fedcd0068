#!/usr/bin/env bash
# Builds upstream's kustomize-controller from the Go module proxy, for the
# comparison in `flux-dev bench kustomizations` (not needed by the tests).
# Prints the binary's path (see scripts/upstream-controller.sh).
#
# v1.9.6 is the newest release this machine can build: v1.10.x needs Go
# 1.27 and a module the proxy does not serve (github.com/fluxcd/pkg/spiffe).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/upstream-controller.sh"
upstream_controller kustomize-controller "${KUSTOMIZE_CONTROLLER_VERSION:-v1.9.6}"
