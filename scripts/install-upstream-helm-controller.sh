#!/usr/bin/env bash
# Builds upstream's helm-controller from the Go module proxy: the reference
# our helm controller is to be run side by side with (same HelmReleases,
# same conditions, history, release records; `flux-dev bench
# helmreleases`). Prints the binary's path (see scripts/upstream-controller.sh).
#
# v1.6.0 is the newest version the proxy serves to this machine. Its
# go.mod requires github.com/fluxcd/pkg/chartutil v1.27.0, which the proxy
# refuses: it is built with v1.27.2 (a patch release of the same package),
# the one change made to upstream's module.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/upstream-controller.sh"
upstream_controller helm-controller "${HELM_CONTROLLER_VERSION:-v1.6.0}" \
  "github.com/fluxcd/pkg/chartutil@${HELM_CONTROLLER_CHARTUTIL_VERSION:-v1.27.2}"
