#!/usr/bin/env bash
# Builds upstream's notification-controller from the Go module proxy: the
# reference our notification controller is to be run side by side with
# (same events and Providers, the payloads, paths and headers each sends
# compared by a capture server). Prints the binary's path (see
# scripts/upstream-controller.sh).
#
# v1.6.0 is the newest version the proxy serves to this machine.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/upstream-controller.sh"
upstream_controller notification-controller "${NOTIFICATION_CONTROLLER_VERSION:-v1.6.0}"
