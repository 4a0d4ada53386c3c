#!/usr/bin/env bash
# Makes moto (a local fake of the AWS APIs) available to the ecs plugin's tests, which start and stop their own
# `moto_server` on 127.0.0.1. bookworm's python3-moto is too old for ECS; trixie's works, so trixie's index is
# added with a low pin: nothing else is taken from it unless asked for by name (`pkg/trixie`), and apt pulls
# only the trixie dependencies that version needs. Idempotent; needs root for apt-get.
set -euo pipefail
if [ -x /usr/bin/moto_server ]; then
  echo /usr/bin/moto_server
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "moto.sh: not root; cannot install python3-moto" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if [ ! -f /etc/apt/sources.list.d/pworker-trixie.sources ]; then
  mirror="$(bash "$(dirname "$0")/debian-mirror.sh")"
  cat > /etc/apt/sources.list.d/pworker-trixie.sources <<SOURCES
Types: deb
URIs: $mirror
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
if [ ! -f /etc/apt/preferences.d/pworker-trixie ]; then
  cat > /etc/apt/preferences.d/pworker-trixie <<'PIN'
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-moto/trixie python3-flask-cors >/dev/null
test -x /usr/bin/moto_server
echo /usr/bin/moto_server
