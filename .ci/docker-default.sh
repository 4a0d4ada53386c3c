#!/usr/bin/env bash
# Makes sure a Docker engine answers on the default socket (worker-ops builds and runs images there). When none
# does, starts one like the docker plugin's tests do (no iptables, no bridge: the tests use host networking) and
# prints its pid, for the caller to stop; prints nothing when an engine was already there. Needs root.
set -euo pipefail
if docker version >/dev/null 2>&1; then exit 0; fi
log=/var/tmp/pworker-ci-dockerd.log
dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none \
  -H unix:///var/run/docker.sock >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 60); do
  if docker version >/dev/null 2>&1; then echo "$pid"; exit 0; fi
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
echo "docker-default.sh: dockerd did not answer; see $log" >&2
kill "$pid" 2>/dev/null || true
exit 1
