// pause: the sandbox ("infrastructure") container of every pod on the test node. It holds the pod's namespaces,
// reaps orphaned children (it is PID 1 of pods that share their process namespace) and exits on SIGINT/SIGTERM.
// Written for the Vigil test node so that no prebuilt image is needed; built by test/cluster/build-node.sh.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		os.Stderr.WriteString("pause: warning: not running as PID 1\n")
	}
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
