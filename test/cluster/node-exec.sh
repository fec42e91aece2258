#!/usr/bin/env bash
# node-exec.sh HOLDER_PID CGROUP CMD ARGS...: runs CMD in the test node's network and mount namespaces (those of the
# holder, node-ns.sh) and in the cgroup CGROUP/runtime, so that it is stopped and cleaned up with the node.
holder="$1"; cgroup="$2"; shift 2
exec bash "$(dirname "${BASH_SOURCE[0]}")/cgroups.sh" exec "$cgroup/runtime" nsenter --target "$holder" --net --mount -- "$@"
