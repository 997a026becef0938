#!/usr/bin/env bash
# Storage stack throughput vs plain FileChannel, same run: scripts/bench-storage.sh [dir] [sizeMiB] [seconds-per-case]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
mvn -B -q -ntp -pl drafter-storage -am -DskipTests -Dspotless.check.skip=true test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath >&2
cp="drafter-storage/target/classes:drafter-storage/target/test-classes:$(cat drafter-storage/target/bench.classpath)"
exec java -Xmx1g -cp "$cp" io.drafter.storage.bench.StorageBenchmark "$@"
