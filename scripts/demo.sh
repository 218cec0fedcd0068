#!/usr/bin/env bash
# The whole product on this machine, one command:
#   a real single-node Kubernetes cluster (kube-apiserver, etcd, controller
#   manager; kubelet on containerd, kube-proxy, CoreDNS), a git server holding
#   a fleet repository shaped like the guide's monorepo (clusters/ →
#   infrastructure/ → apps/ with dependsOn), `flux bootstrap git` running
#   `fluxd` as Pods in the cluster, the fleet's web app serving HTTP, then a
#   change pushed to Git, reconciled, and served by the running Pod.
# Needs root (the node: containers, mounts, iptables).
# Stays up for exploring until Ctrl-C (DEMO_EXIT=1: stop at the end, for CI).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

bash scripts/install-deps.sh
. scripts/lib.sh
export PATH="$BIN:$PATH"
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  CARGO_TARGET_DIR="$CACHE/cargo-target/$(rustc --version | cut -d' ' -f2)"
  export CARGO_TARGET_DIR
fi
# DEMO_PROFILE=dev reuses the debug binaries the test suite already built.
PROFILE=${DEMO_PROFILE:-release}
log "building fluxd, flux and flux-dev ($PROFILE)"
cargo build --profile "$PROFILE" --locked -q -p fluxd -p flux-cli -p flux-dev
if [ "$PROFILE" = dev ]; then OUT="$CARGO_TARGET_DIR/debug"; else OUT="$CARGO_TARGET_DIR/$PROFILE"; fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/flux-demo.XXXXXX")
PIDS=()
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" != 0 ] && [ "$status" != 130 ] && [ -n "${KUBECONFIG:-}" ]; then
    log "the controllers' last log lines"
    kubectl logs -n flux-system -l app.kubernetes.io/part-of=flux --tail=40 --prefix >&2 || true
    tail -n 20 "$WORK/up.log" >&2 || true
  fi
  log "stopping"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n\033[1;36m### %s\033[0m\n' "$*" >&2; }

step "starting a single-node cluster, the fluxd image and a git server with the fleet repository"
"$OUT/flux-dev" up "$ROOT/examples/monorepo" "$WORK/env" > "$WORK/up.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 600); do
  [ -f "$WORK/env" ] && break
  if ! kill -0 "${PIDS[0]}" 2>/dev/null; then cat "$WORK/up.log" >&2; exit 1; fi
  sleep 0.2
done
[ -f "$WORK/env" ] || { cat "$WORK/up.log" >&2; echo "the environment did not come up" >&2; exit 1; }
# shellcheck disable=SC1091
. "$WORK/env"
export KUBECONFIG
echo "Kubernetes $KUBERNETES_VERSION, node up in ${NODE_STARTED_IN}s; fleet repository $FLEET_URL; images from $REGISTRY" >&2
kubectl get nodes -o wide

step "flux check --pre"
"$OUT/flux" check --pre

step "flux bootstrap git --url=$FLEET_URL --path=clusters/production"
"$OUT/flux" bootstrap git --url="$FLEET_URL" --allow-insecure-http \
  --path=clusters/production --registry="$REGISTRY" --timeout=3m
kubectl get pods -n flux-system -o wide

step "waiting for the fleet: infrastructure-controllers → infrastructure-configs → apps"
for _ in $(seq 1 240); do
  ready=$("$OUT/flux" get kustomizations --status-selector ready=true --no-header | wc -l)
  [ "$ready" -ge 4 ] && break
  sleep 0.5
done
"$OUT/flux" get all -A

step "the web app: a Deployment Flux applied and waited for, serving its ConfigMap"
kubectl get deployment,pods,service -n flux-system -l app=webapp
SVC=$(kubectl get service webapp -n flux-system -o jsonpath='{.spec.clusterIP}')
echo "curl http://$SVC/url" >&2
curl -sS --max-time 5 "http://$SVC/url"; echo

step "pushing a change to Git: webapp's URL gets a /v2 path"
git clone -q "$FLEET_URL" "$WORK/fleet"
sed -i 's#url: https://${DOMAIN}$#url: https://${DOMAIN}/v2#' "$WORK/fleet/apps/base/webapp/config.yaml"
git -C "$WORK/fleet" -c user.name=demo -c user.email=demo@example.com commit -qam "webapp: /v2"
git -C "$WORK/fleet" push -q origin HEAD:main

step "flux reconcile kustomization apps --with-source"
"$OUT/flux" reconcile kustomization apps --with-source
step "the ConfigMap in the cluster now"
kubectl get configmap webapp-config -n flux-system -o jsonpath='{.data.url}{"\n"}'
grep -q '/v2' <(kubectl get configmap webapp-config -n flux-system -o jsonpath='{.data.url}') \
  || { echo "the change did not reach the cluster" >&2; exit 1; }
step "the running Pod serves it (the kubelet refreshes the ConfigMap volume)"
served=""
for _ in $(seq 1 120); do
  served=$(curl -sS --max-time 5 "http://$SVC/url" || true)
  case "$served" in */v2) break ;; esac
  sleep 1
done
echo "curl http://$SVC/url → $served" >&2
case "$served" in */v2) ;; *) echo "the Pod does not serve the change" >&2; exit 1 ;; esac

step "flux logs --kind=Kustomization --name=apps --tail=5"
"$OUT/flux" logs --kind=Kustomization --name=apps --tail=5

step "flux tree kustomization flux-system --compact"
"$OUT/flux" tree kustomization flux-system --compact
"$OUT/flux" get kustomizations

cat >&2 <<EOF

Everything is running. In another shell:
  export KUBECONFIG=$KUBECONFIG PATH=$OUT:\$PATH
  flux get all -A                          # every source and Kustomization
  flux tree kustomization flux-system      # what Flux applied, as a tree
  flux events --for Kustomization/apps     # what happened
  flux logs --follow                       # the controllers' Pods' logs
  curl http://$SVC/url   # the web app, through its Service
  git clone $FLEET_URL   # change the fleet, push, then:
  flux reconcile kustomization apps --with-source
EOF
if [ "${DEMO_EXIT:-0}" = 1 ]; then
  step "demo finished (DEMO_EXIT=1)"
  exit 0
fi
echo "Press Ctrl-C to stop." >&2
while kill -0 "${PIDS[0]}" 2>/dev/null; do sleep 1; done
