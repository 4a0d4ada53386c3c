#!/usr/bin/env bash
# Makes a Docker engine available to the docker plugin's tests: installs dockerd and a static busybox (the
# tests build their image from it with `docker import`; no registry is reachable). The tests start and stop
# their own dockerd on a private socket. Idempotent; needs root for apt-get.
set -euo pipefail
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-engine.sh: not root; cannot install ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v dockerd
