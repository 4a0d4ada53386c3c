#!/usr/bin/env bash
# Makes a minimal base image from this machine's own files, for building and testing pworker's image where no
# registry is reachable:   make-test-base.sh TAG
# It holds busybox (coreutils for the launcher) and cksum, bash, glibc and the other shared libraries the JDK's binaries
# link to (found with ldd), /etc/passwd and a /tmp: about 10 MB, imported with `docker import`.
set -euo pipefail
tag="${1:?usage: make-test-base.sh TAG}"
jdk="${JAVA_HOME:?set JAVA_HOME to the JDK whose runtime goes into the image}"
busybox="$(command -v busybox || true)"
[ -n "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1 || { echo "make-test-base.sh: needs a static busybox (apt-get install busybox-static)" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,usr/bin,etc,tmp,lib64,var/tmp}
chmod 1777 "$root/tmp" "$root/var/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
done
rm -f "$root/bin/bash" "$root/bin/sh"
cp "$(readlink -f /bin/bash)" "$root/bin/bash"
ln -s bash "$root/bin/sh"
ln -s ../../bin/bash "$root/usr/bin/bash"
ln -s ../../bin/env "$root/usr/bin/env"
# the launcher's commands that busybox lacks, from this machine (with their libraries, below)
extra=()
for cmd in cksum; do
  "$busybox" --list | grep -qx "$cmd" && continue
  extra+=("$(command -v "$cmd")")
  cp "$(command -v "$cmd")" "$root/bin/$cmd"
done
# every library bash and the JDK's executables and libraries link to, at the same paths as here
{ ldd /bin/bash; for f in "${extra[@]}"; do ldd "$f"; done; for f in "$jdk"/bin/java "$jdk"/lib/*.so "$jdk"/lib/server/*.so; do ldd "$f" 2>/dev/null || true; done; } \
  | grep -o '/[^ ]*' | grep -v "^$jdk" | sort -u | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
printf 'root:x:0:0:root:/root:/bin/sh\npworker:x:10001:10001:pworker:/var/lib/pworker:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\npworker:x:10001:\n' > "$root/etc/group"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
tar -C "$root" -c . | docker import - "$tag" >/dev/null
echo "$tag"
