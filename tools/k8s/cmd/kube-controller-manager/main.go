// Command kube-controller-manager is the upstream Kubernetes controller
// manager (namespace deletion, garbage collection, ServiceAccounts, workload
// controllers), built from the k8s.io/kubernetes module for the test
// environment. It mirrors upstream's cmd/kube-controller-manager main.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as upstream embeds them

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
