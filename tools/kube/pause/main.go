// The pod sandbox's process (the cluster's pause image): holds the pod's namespaces, reaps orphans, and exits
// on SIGINT or SIGTERM. Built static; tools/kube/images.sh puts it in localhost/pause:local.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// As PID 1 of the pod, reap whatever exits.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
