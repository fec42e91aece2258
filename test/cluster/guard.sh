#!/usr/bin/env bash
# guard.sh OWNER_PID CMD ARGS...: runs CMD and stops it when OWNER_PID dies (even by SIGKILL) or when this
# guard receives SIGTERM/SIGINT. The harness starts every server through it and stops it by this PID.
owner="$1"; shift
"$@" &
child=$!
stop() {
  kill -TERM "$child" 2>/dev/null
  for _ in $(seq 1 40); do kill -0 "$child" 2>/dev/null || exit 0; sleep 0.25; done
  kill -KILL "$child" 2>/dev/null
  exit 0
}
trap stop TERM INT HUP
while kill -0 "$owner" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.5 & wait $!; done
if kill -0 "$child" 2>/dev/null; then stop; fi
wait "$child"
