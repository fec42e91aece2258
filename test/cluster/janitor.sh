#!/usr/bin/env bash
# janitor.sh OWNER_PID DIR [CGROUP]: removes the harness's scratch DIR once OWNER_PID has died. Covers the case where
# the test runner is killed before it can clean up. Without CGROUP it first gives the guards time to stop their
# servers. With CGROUP (the test node) it kills at once whatever is in the node's cgroup tree — servers, containerd
# shims, containers: by the PIDs listed there — and removes the tree; the node's network and mount namespaces go away
# with their last process.
owner="$1"; dir="$2"; cgroup="${3:-}"
trap 'exit 0' TERM INT HUP
while kill -0 "$owner" 2>/dev/null; do sleep 1 & wait $!; done
if [ -n "$cgroup" ]; then
  bash "$(dirname "${BASH_SOURCE[0]}")/cgroups.sh" kill "$cgroup"
  sleep 1 & wait $!
else
  sleep 12 & wait $!
fi
rm -rf -- "$dir"
