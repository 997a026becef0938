#!/usr/bin/env bash
# FUSE exposure benchmark: reads, writes and mmap of a device file through the mount vs. the backing file directly,
# same run, ratios printed. Needs root and /dev/fuse. Arguments go to the main class, e.g.
#   scripts/bench-fuse.sh --size-mib 1024 --reps 3 --configs default,writeback,directio
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
mvn -B -ntp -q -pl drafter-expose -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench-classpath.txt -Dmdep.includeScope=runtime >&2
exec java --enable-native-access=ALL-UNNAMED -Xmx1g \
  -cp "drafter-expose/target/test-classes:drafter-expose/target/classes:$(cat drafter-expose/target/bench-classpath.txt)" \
  io.drafter.expose.bench.FuseBenchmark "$@"
