#!/usr/bin/env bash
# Forwarded TCP (drafter forwarder, 127.0.0.1:PORT) and the namespace's outer address versus a direct connection
# inside the namespace, measured in the same run: throughput and connect latency, printed as ratios.
# Needs root. Arguments: [MiB per transfer] [connects] [rounds] (defaults 256 1000 7).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh
mvn -B -ntp -q -pl drafter-net test-compile dependency:build-classpath \
  -Dmdep.outputFile=target/bench.classpath -Dmdep.includeScope=test >&2
cp="drafter-net/target/test-classes:drafter-net/target/classes:$(cat drafter-net/target/bench.classpath)"
exec java --enable-native-access=ALL-UNNAMED -cp "$cp" io.drafter.net.NetBenchmark "$@"
