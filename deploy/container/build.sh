#!/usr/bin/env bash
# Builds pworker's container image from the distribution:
#   deploy/container/build.sh [--base IMAGE] [--tag NAME] [--dist DIR] [--jdeps]
# defaults: --base debian:bookworm-slim, --tag pworker:latest, --dist distribution/target/pworker (./pw build).
# The Java runtime is made here with jlink from the JDK that runs this script (JAVA_HOME, >= 21), with the modules
# listed in jlink-modules; --jdeps prints, instead of building, what jdeps finds per plugin (slow: about a minute).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
base=debian:bookworm-slim
tag=pworker:latest
dist="$root/distribution/target/pworker"
jdeps=false
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --dist) dist="$2"; shift 2 ;;
    --jdeps) jdeps=true; shift ;;
    *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$dist/bin/pworker" ] || { echo "build.sh: no distribution at $dist (run ./pw build)" >&2; exit 1; }
jdk="${JAVA_HOME:?set JAVA_HOME to a JDK >= 21}"

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT

if [ "$jdeps" = true ]; then
  # jdeps on the classes, not the jars: some libraries are modular jars whose module names it would then demand
  for dir in "$dist/lib" "$dist"/plugins/*; do
    classes="$ctx/classes"
    mkdir -p "$classes"
    for jar in "$dist"/lib/*.jar "$dir"/*.jar; do
      (cd "$classes" && unzip -qo "$jar" -x 'module-info.class' 'META-INF/*' 2>/dev/null) || true
    done
    echo "${dir#"$dist"/}: $("$jdk/bin/jdeps" --ignore-missing-deps --print-module-deps -q "$classes" | tail -1)"
    rm -rf "$classes"
  done
  exit 0
fi
modules="$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/jlink-modules" | paste -sd, -)"
# compressed modules cost little start time: the classes a start needs come from the CDS archive made here
"$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files --include-locales=en \
  --compress=zip-6 --generate-cds-archive --output "$ctx/runtime"

cp -R "$dist" "$ctx/pworker"
cp "$here/docker-entrypoint" "$here/healthcheck" "$ctx/pworker/bin/"
mkdir -p "$ctx/data/state" "$ctx/data/prefect" "$ctx/data/cache"
cp "$here/Dockerfile" "$ctx/Dockerfile"
docker build --build-arg "BASE=$base" -t "$tag" "$ctx"
