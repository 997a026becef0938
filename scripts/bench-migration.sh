#!/usr/bin/env bash
# Migration benchmark: throughput of the real engines over loopback against a plain socket in the same run,
# first-read latency of a missing block, and the hand-over times. Arguments: [randomMiB] [zeroMiB] (default 1024 4096).
# Uses about 3 GiB of RAM (off-heap memory devices) and a 4 GiB sparse file in $TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
mvn -B -ntp -q -pl drafter-migration -am test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >/dev/null
CP="drafter-migration/target/test-classes:drafter-migration/target/classes:$(cat drafter-migration/target/bench.classpath)"
exec java -Xmx1g ${BENCH_JAVA_OPTS:-} --enable-native-access=ALL-UNNAMED -cp "$CP" io.drafter.migration.bench.MigrationBenchmark "$@"
