#!/usr/bin/env bash
# janitor.sh OWNER_PID DIR: removes the harness's scratch DIR once OWNER_PID has died, after the guards have
# stopped their servers. Covers the case where the test runner is killed before it can clean up.
owner="$1"; dir="$2"
trap 'exit 0' TERM INT HUP
while kill -0 "$owner" 2>/dev/null; do sleep 1 & wait $!; done
sleep 12 & wait $!
rm -rf -- "$dir"
