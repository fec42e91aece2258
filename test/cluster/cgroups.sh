#!/usr/bin/env bash
# The test node's cgroups: one tree named NAME (vigil-…) in every cgroup hierarchy of the machine (cgroup v1: one per
# controller; v2 or hybrid: the unified one too). Everything the node runs — containerd, its shims, every container,
# the kubelet — lives under it, so the node is stopped by the PIDs found there and leaves no cgroup behind.
#
#   cgroups.sh create NAME      the tree (cpuset initialised from the parent on v1, controllers delegated on v2)
#   cgroups.sh kill NAME        freeze, SIGKILL every PID in the tree, thaw, remove every cgroup of the tree
#   cgroups.sh exec NAME/SUB CMD ARGS...   joins NAME/SUB in every hierarchy, then execs CMD
set -uo pipefail

roots() { awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts | sort -u; }

# mkcg ROOT REL: creates ROOT/REL level by level (v1 cpuset levels get their parent's cpus and mems).
mkcg() {
  local root="$1" rel="$2" path="$1" part
  IFS=/ read -ra parts <<< "$rel"
  for part in "${parts[@]}"; do
    local parent="$path"; path="$path/$part"
    [ -d "$path" ] || mkdir "$path" || return 1
    if [ -f "$path/cpuset.cpus" ] && [ ! -f "$root/cgroup.controllers" ]; then
      [ -n "$(cat "$path/cpuset.cpus")" ] || cat "$parent/cpuset.cpus" > "$path/cpuset.cpus"
      [ -n "$(cat "$path/cpuset.mems")" ] || cat "$parent/cpuset.mems" > "$path/cpuset.mems"
    fi
  done
}

create() {
  local name="$1" root
  for root in $(roots); do
    mkcg "$root" "$name" || { echo "cgroups: cannot create $root/$name" >&2; exit 1; }
    if [ -f "$root/cgroup.subtree_control" ] && [ "$root" = /sys/fs/cgroup ]; then
      # cgroup v2 only: delegate the controllers the kubelet and runc use (best effort; missing ones are reported by the kubelet).
      for c in cpu cpuset memory pids io hugetlb; do echo "+$c" > "$root/$name/cgroup.subtree_control" 2>/dev/null || true; done
    fi
  done
}

pids_of() {
  local name="$1" root
  for root in $(roots); do
    [ -d "$root/$name" ] && find "$root/$name" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

kill_tree() {
  local name="$1" root freezer="" i pid
  for root in $(roots); do
    [ -f "$root/$name/freezer.state" ] && freezer="$root/$name/freezer.state"
  done
  if [ -n "$freezer" ]; then
    echo FROZEN > "$freezer" 2>/dev/null
    for i in $(seq 1 50); do [ "$(cat "$freezer" 2>/dev/null)" = FROZEN ] && break; sleep 0.1; done
  fi
  for i in $(seq 1 100); do
    local pids; pids="$(pids_of "$name")"
    [ -z "$pids" ] && break
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
    [ -n "$freezer" ] && echo THAWED > "$freezer" 2>/dev/null
    sleep 0.1
  done
  for i in $(seq 1 50); do
    local left=0
    for root in $(roots); do
      [ -d "$root/$name" ] || continue
      find "$root/$name" -depth -type d -exec rmdir {} \; 2>/dev/null
      [ -d "$root/$name" ] && left=1
    done
    [ "$left" = 0 ] && return 0
    sleep 0.2
  done
  echo "cgroups: could not remove every cgroup of $name" >&2
  return 1
}

join_exec() {
  local rel="$1" root; shift
  for root in $(roots); do
    mkcg "$root" "$rel" && echo $$ > "$root/$rel/cgroup.procs" || { echo "cgroups: cannot join $root/$rel" >&2; exit 1; }
  done
  exec "$@"
}

case "${1:-}" in
  create) create "$2" ;;
  kill) kill_tree "$2" ;;
  exec) rel="$2"; shift 2; join_exec "$rel" "$@" ;;
  *) echo "usage: cgroups.sh create NAME | kill NAME | exec NAME/SUB CMD ARGS..." >&2; exit 2 ;;
esac
