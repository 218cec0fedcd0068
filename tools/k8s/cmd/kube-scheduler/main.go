// Command kube-scheduler is the upstream Kubernetes scheduler, built from the
// k8s.io/kubernetes module for the test environment's node. It mirrors
// upstream's cmd/kube-scheduler main.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-scheduler/app"
)

func main() {
	os.Exit(cli.Run(app.NewSchedulerCommand()))
}
