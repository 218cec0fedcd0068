#!/usr/bin/env bash
# Builds the control plane (kube-apiserver, kube-controller-manager) and the
# node (kube-scheduler, kubelet, kube-proxy) from the k8s.io/kubernetes
# Go module (wrapper module in tools/k8s) into the per-user cache, with the
# version ldflags upstream's hack/lib/version.sh sets, so /version reports the
# real release. Idempotent: does nothing when the cached build matches the
# version and the wrapper's sources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
key="$K8S_VERSION-$(cat "$ROOT"/tools/k8s/go.mod "$ROOT"/tools/k8s/go.sum "$ROOT"/tools/k8s/cmd/*/main.go | sha256sum | cut -c1-16)"
out="$CACHE/k8s-$K8S_VERSION"
# One build at a time: a second caller waits for the first and reuses its result.
exec 9>"$CACHE/k8s-build.lock"
flock 9
if ! stamp_ok "$out" "$key"; then
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and kube-proxy $K8S_VERSION from the Go module (cold: ~20-40 min on 2 cores)"
  mkdir -p "$out"
  minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  start=$(date +%s)
  (cd "$ROOT/tools/k8s" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-trimpath -mod=mod" \
    go build -ldflags "$ld" -o "$out/" ./cmd/...)
  log "kubernetes $K8S_VERSION built in $(( $(date +%s) - start ))s"
  stamp_set "$out" "$key"
fi
link kube-apiserver "$out/kube-apiserver"
link kube-controller-manager "$out/kube-controller-manager"
for b in kube-scheduler kubelet kube-proxy; do link "$b" "$out/$b"; done
