#!/usr/bin/env bash
# Makes, once, a small Debian root file system with systemd, for worker-ops' SystemdServiceTest (the unit under
# a real systemd in a container); prints its path. Needs root and Debian's package mirror; about a minute the
# first time, nothing after. PWORKER_SYSTEMD_ROOTFS chooses another place.
set -euo pipefail
dir="${PWORKER_SYSTEMD_ROOTFS:-/var/tmp/pworker-systemd-rootfs}"
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
exec 9>"$dir.lock"
flock 9
if [ -f "$dir/.complete" ]; then echo "$dir"; exit 0; fi
if ! command -v debootstrap >/dev/null; then
  (apt-get install -y debootstrap || { apt-get update && apt-get install -y debootstrap; }) >&2
fi
rm -rf "$dir.tmp"
mirror="$(bash "$(dirname "$0")/debian-mirror.sh")"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus bookworm "$dir.tmp" "$mirror" >&2
# what a test container never reads
rm -rf "$dir.tmp"/var/cache/apt/archives/*.deb "$dir.tmp"/usr/share/doc "$dir.tmp"/usr/share/man "$dir.tmp"/usr/share/locale
rm -rf "$dir"
mv "$dir.tmp" "$dir"
touch "$dir/.complete"
echo "$dir"
