// Command pause is the sandbox container of the test environment's node: the
// process that holds a Pod's namespaces. Like Kubernetes' own pause image it
// sleeps until SIGINT or SIGTERM and, being PID 1 when the Pod shares its
// process namespace, reaps the zombies re-parented to it.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
