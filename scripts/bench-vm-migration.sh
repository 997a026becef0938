#!/usr/bin/env bash
# Live migration of a Redis VM under a steady write load, drafter peers vs QEMU's own live migration, in alternating
# pairs (BENCH_PAIRS, default 5): prints per migration the client-visible downtime, the VM's paused window (drafter:
# with its parts), total time, bytes, lost acknowledged writes; then medians and the median of the pairs' ratios.
# BENCH_KEEP_CONNECTION=true: the client keeps one connection (10 s answer timeout) and prints how often it reconnected.
# Builds what it needs like scripts/quickstart.sh (guest, Redis OCI disk, a 256 MiB snapshot) into out/bench-vm.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
. scripts/env.sh
out=out/bench-vm
mem=${BENCH_MEMORY_MIB:-256}
. scripts/lib-vm.sh
on_exit_stop_pids
bash scripts/install-deps.sh
mvn -B -q -ntp -Dspotless.check.skip=true -DskipTests install >/dev/null
mvn -B -q -ntp -pl drafter-peer dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
build_guest_and_redis
rm -rf "$out" && mkdir -p "$out"
bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
await "$out/nat.log" running 60
snapshot_redis "$out" "$mem" >/dev/null
cp="drafter-peer/target/classes:drafter-peer/target/test-classes:$(cat drafter-peer/target/bench.classpath)"
java -Dbench.pairs="${BENCH_PAIRS:-5}" -Dbench.keepConnection="${BENCH_KEEP_CONNECTION:-false}" --enable-native-access=ALL-UNNAMED -cp "$cp" io.drafter.peer.bench.VmMigrationBenchmark "$out/package" "$out/work"
