#!/usr/bin/env bash
# Builds upstream's image-reflector-controller and image-automation-controller
# from the Go module proxy, and `image-setters`: upstream's own setter
# engine (image-automation-controller's internal/update.UpdateWithSetters,
# kyaml underneath) behind a small command, for the differential file-edit
# tests of crates/flux-image-controller. Prints the three binaries' paths,
# one per line.
#
# v1.2.4 is the newest release of both the proxy serves here (v1.2.5 is
# refused).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/upstream-controller.sh"
version="${IMAGE_CONTROLLERS_VERSION:-v1.2.4}"
upstream_controller image-reflector-controller "$version" github.com/fluxcd/pkg/artifact@v0.18.1
upstream_controller image-automation-controller "$version"

# image-setters IN OUT POLICIES.json: applies the policies (a JSON list of
# {namespace, name, image, tag, digest}) to the YAML under IN, writing the
# changed files under OUT, and prints the Result as JSON.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/flux-rs/tools/image-setters-$version"
bin="$cache/image-setters"
if [[ ! -x "$bin" ]]; then
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expanded now, on purpose
  trap "rm -rf '$work'" EXIT
  src="$(upstream_module_dir "github.com/fluxcd/image-automation-controller@$version")"
  api="$(upstream_module_dir "github.com/fluxcd/image-automation-controller/api@$version")"
  cp -r "$src" "$work/src"
  chmod -R u+w "$work/src"
  rm -rf "$work/src/api"
  cp -r "$api" "$work/src/api"
  chmod -R u+w "$work/src/api"
  mkdir -p "$work/src/cmd/image-setters"
  cat > "$work/src/cmd/image-setters/main.go" <<'GO'
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	reflectorv1 "github.com/fluxcd/image-reflector-controller/api/v1"

	"github.com/fluxcd/image-automation-controller/internal/update"
)

type policy struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Image     string `json:"image"`
	Tag       string `json:"tag"`
	Digest    string `json:"digest"`
}

type change struct {
	File     string `json:"file"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Old      string `json:"old"`
	New      string `json:"new"`
	Setter   string `json:"setter"`
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: image-setters IN OUT POLICIES.json")
		os.Exit(2)
	}
	raw, err := os.ReadFile(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var given []policy
	if err := json.Unmarshal(raw, &given); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var policies []reflectorv1.ImagePolicy
	for _, p := range given {
		policies = append(policies, reflectorv1.ImagePolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name},
			Status: reflectorv1.ImagePolicyStatus{
				LatestRef: &reflectorv1.ImageRef{Name: p.Image, Tag: p.Tag, Digest: p.Digest},
			},
		})
	}
	result, err := update.UpdateWithSetters(logr.Discard(), os.Args[1], os.Args[2], policies)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	changes := []change{}
	for file, objects := range result.FileChanges {
		for id, list := range objects {
			for _, c := range list {
				changes = append(changes, change{File: file, Kind: id.Kind, Name: id.Name, Old: c.OldValue, New: c.NewValue, Setter: c.Setter})
			}
		}
	}
	out, _ := json.Marshal(changes)
	fmt.Println(string(out))
}
GO
  mkdir -p "$cache"
  printf '\033[1m==> %s\033[0m\n' "go build image-setters (github.com/fluxcd/image-automation-controller@$version internal/update)" >&2
  (cd "$work/src" && GOTOOLCHAIN=local GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" ./cmd/image-setters)
  mv "$bin.tmp" "$bin"
fi
echo "$bin"
