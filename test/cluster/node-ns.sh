#!/usr/bin/env bash
# node-ns.sh DIR NODE_IP: the test node's namespace holder. Run as
#   cgroups.sh exec NAME/runtime unshare --net --mount --propagation private -- bash node-ns.sh DIR NODE_IP
# it sets up the node's own network namespace (loopback, an interface carrying NODE_IP, forwarding and bridge
# netfilter for Service traffic between pods on the bridge) and its own mount namespace, in which /run, /var/lib and
# /var/log are the directories DIR/root/{run,var/lib,var/log}: whatever containerd, runc, the CNI plugins and the
# kubelet write to their default paths stays in the harness's scratch directory and is never seen by the host. Then it
# waits; every node process joins these namespaces (node-exec.sh). The host's interfaces, routes, firewall and mounts
# are not touched: when the last process in them has exited, the kernel removes the namespaces, every interface and
# rule in them and every mount.
set -euo pipefail
dir="$1"; node_ip="$2"
ip link set lo up
# The node's own interface: one end of a veth pair whose other end stays in the namespace too (no dummy driver in every
# kernel; nothing is connected to it).
ip link add vigil0 type veth peer name vigil0-end
ip addr add "$node_ip/32" dev vigil0
ip link set vigil0-end up
ip link set vigil0 up
# No way out of the node exists; a default route keeps components that look for one (node address detection) happy.
ip route add default dev vigil0
echo 1 > /proc/sys/net/ipv4/ip_forward
# Pod → Service → pod on the same bridge: bridged traffic must pass netfilter so kube-proxy's DNAT is undone.
[ -f /proc/sys/net/bridge/bridge-nf-call-iptables ] && echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables
for d in run var/lib var/log; do
  mkdir -p "$dir/root/$d"
  mount --bind "$dir/root/$d" "/$d"
done
echo $$ > "$dir/node-ns.pid"
touch "$dir/node-ns.ready"
exec sleep infinity
