#!/usr/bin/env bash
# Lays out the distribution's plugins/<type>/ directories: each infrastructure plugin module's jar plus the
# libraries it needs that lib/ does not already hold (those come from the core's class loader, shared by all).
# A plugin module is one that lists a provider in META-INF/services; the parent pom's "infrastructure-plugin"
# profile has copied its runtime libraries to target/plugin-lib (absent when it needs none).
set -euo pipefail
dist="$1"
root="$2"
rm -rf "$dist/plugins"
mkdir -p "$dist/plugins"

# artifact ids (file names without "-<version>.jar") that the core ships
artifact() { basename "$1" | sed -E 's/-[0-9][^/]*\.jar$//'; }
declare -A core=()
for jar in "$dist"/lib/*.jar; do core["$(artifact "$jar")"]=1; done

for services in "$root"/*/src/main/resources/META-INF/services/io.pworker.spi.InfrastructurePlugin; do
  [ -e "$services" ] || continue
  module_dir="${services%/src/main/resources/*}"
  module="$(basename "$module_dir")"
  jar="$(find "$module_dir/target" -maxdepth 1 -name "$module-*.jar" ! -name '*-tests.jar' ! -name '*-sources.jar' | head -1)"
  if [ -z "$jar" ]; then
    echo "assemble-plugins: $module is not packaged (no jar in $module_dir/target); build it first" >&2
    exit 1
  fi
  out="$dist/plugins/${module#worker-}"
  mkdir -p "$out"
  cp "$jar" "$out/"
  for lib in "$module_dir"/target/plugin-lib/*.jar; do
    [ -e "$lib" ] || continue
    [ -n "${core[$(artifact "$lib")]:-}" ] || cp "$lib" "$out/"
  done
done
