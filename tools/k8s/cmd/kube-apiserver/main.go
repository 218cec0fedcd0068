// Command kube-apiserver is the upstream Kubernetes API server, built from the
// k8s.io/kubernetes module so that the test environment needs no Docker image
// and no prebuilt download. It mirrors upstream's cmd/kube-apiserver main.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream embeds them

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
