#!/usr/bin/env bash
# Packager throughput versus `tar -c | zstd` and `zstd -d | tar -x` on the same files, same run, same level.
# Sizes: BENCH_DISK_GIB (2), BENCH_DATA_MIB (256), BENCH_MEMORY_MIB (128), BENCH_RUNS (5). First argument:
# directory for the work files (default /tmp; use a disk-backed one, not tmpfs, for realistic numbers).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
command -v zstd >/dev/null && command -v tar >/dev/null || { echo "bench-pkg: needs zstd and tar (apt-get install zstd tar)" >&2; exit 1; }
mvn -B -q -ntp -DskipTests -Dspotless.check.skip=true -pl drafter-package -am test-compile >&2
mvn -B -q -ntp -pl drafter-package dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >&2
cp="drafter-package/target/test-classes:drafter-package/target/classes:$(cat drafter-package/target/bench.classpath)"
exec java --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$cp" io.drafter.pkg.bench.PackagerBenchmark "$@"
