#!/usr/bin/env bash
# janitor.sh OWNER_PID DIR [CGROUP]: once OWNER_PID has died and the guards have stopped their servers, kills whatever
# is left in the node's cgroup tree CGROUP (containers, containerd shims) and removes that tree, then removes the
# harness's scratch DIR. Covers the case where the test runner is killed before it can clean up; the node's network
# and mount namespaces go away with their last process.
owner="$1"; dir="$2"; cgroup="${3:-}"
trap 'exit 0' TERM INT HUP
while kill -0 "$owner" 2>/dev/null; do sleep 1 & wait $!; done
sleep 12 & wait $!
[ -n "$cgroup" ] && bash "$(dirname "${BASH_SOURCE[0]}")/cgroups.sh" kill "$cgroup"
rm -rf -- "$dir"
