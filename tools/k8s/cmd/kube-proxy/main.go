// Command kube-proxy is the upstream Kubernetes Service proxy (iptables
// mode), built from the k8s.io/kubernetes module for the test environment's
// node. It mirrors upstream's cmd/kube-proxy main.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
