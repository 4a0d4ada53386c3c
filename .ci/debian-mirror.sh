#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt already uses for its main suite, so that the scripts which need a
# mirror of their own (a pinned trixie index for moto, debootstrap for the systemd test) use the same one
# rather than naming a host.
set -euo pipefail
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] || continue
  # deb822 stanzas: the URIs of the first stanza that is not the security archive
  uri=$(awk 'BEGIN{RS=""} /Types:[^\n]*deb/ && !/security/ { if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { s=substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit } }' "$f")
  [ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  echo "debian-mirror.sh: no Debian mirror found in /etc/apt" >&2
  exit 1
fi
echo "${uri%/}"
