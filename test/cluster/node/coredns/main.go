// coredns: CoreDNS with only the plugins the test node's Corefile uses (cluster DNS for cluster.local, health and
// readiness endpoints, cache, errors and query logging), so that the build stays small. Built by
// test/cluster/build-node.sh from the CoreDNS module on the Go module proxy.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"

	"github.com/coredns/coredns/coremain"
)

func main() {
	coremain.Run()
}
