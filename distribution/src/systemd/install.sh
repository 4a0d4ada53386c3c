#!/usr/bin/env bash
# Installs pworker as a systemd service from an unpacked distribution (this script's ../):
#   sudo ./systemd/install.sh            then edit /etc/pworker/pworker.env and: systemctl enable --now pworker
# Idempotent: a second run updates /opt/pworker and the unit but keeps /etc/pworker/pworker.env as it is.
set -euo pipefail
dist="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${PWORKER_PREFIX:-/opt/pworker}"

if [ "$(id -u)" -ne 0 ]; then echo "install.sh: run as root (sudo)" >&2; exit 1; fi
if ! id pworker >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/pworker --no-create-home --shell /usr/sbin/nologin --user-group pworker
fi
if [ "$dist" != "$prefix" ]; then
  mkdir -p "$prefix"
  # copy afresh, so that a library dropped by an upgrade does not stay on the class path
  rm -rf "$prefix/lib" "$prefix/plugins"
  cp -R "$dist/bin" "$dist/lib" "$dist/plugins" "$dist/systemd" "$prefix/"
fi
install -m 0644 "$dist/systemd/pworker.service" /etc/systemd/system/pworker.service
install -d -m 0755 /etc/pworker
if [ ! -e /etc/pworker/pworker.env ]; then
  install -m 0600 "$dist/systemd/pworker.env" /etc/pworker/pworker.env
fi
systemctl daemon-reload
echo "Installed. Now set PWORKER_POOL and PREFECT_API_URL in /etc/pworker/pworker.env, then: systemctl enable --now pworker"
