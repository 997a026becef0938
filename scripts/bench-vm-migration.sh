#!/usr/bin/env bash
# Live migration of a Redis VM under a steady write load, drafter peers vs QEMU's own live migration, in alternating
# pairs (BENCH_PAIRS, default 5): prints per migration the client-visible downtime, the VM's paused window (drafter:
# with its parts), total time, bytes, lost acknowledged writes; then medians and the median of the pairs' ratios.
# BENCH_KEEP_CONNECTION=true: the client keeps one connection (10 s answer timeout) and prints how often it reconnected.
# BENCH_LINK=100mbit:40ms (or 50mbit:150ms, any <n>{k,m,g}bit:<n>ms): both migration streams cross a link of that rate
# (tc tbf on veth drwan0h 10.254.19.1 <-> namespace drwan0, 10.254.19.2) and round trip (a delay relay in the JVM),
# QEMU's over TCP; the link is measured first and removed at the end. Unset: loopback, QEMU's over a Unix socket.
# BENCH_COMPRESSION=true: drafter's source compresses blocks (zstd). BENCH_POLICY: the devices' dirty-round policy, JSON
# fields (default "minCycles":2,"maxCycles":10,"cycleThrottle":"200ms"). BENCH_BLOCK_SIZE: the devices' block size in
# bytes (default 65536). BENCH_REDIS_BENCHMARK=N: redis-benchmark with N clients (SET) loads the VM through each
# migration, drafter's and QEMU's, besides the light writer that measures the downtime.
# Builds what it needs like scripts/quickstart.sh (guest, Redis OCI disk, a 256 MiB snapshot) into out/bench-vm.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
. scripts/env.sh
out=out/bench-vm
mem=${BENCH_MEMORY_MIB:-256}
case "${BENCH_REDIS_BENCHMARK:-0}" in
  ''|*[!0-9]*) echo "bench-vm-migration: BENCH_REDIS_BENCHMARK must be a number of clients, not '$BENCH_REDIS_BENCHMARK'" >&2; exit 2 ;;
esac
. scripts/lib-vm.sh
on_exit_stop_pids
# The benchmark removes its link itself (also from a shutdown hook); this is for a JVM killed outright.
[ -z "${BENCH_LINK:-}" ] || on_exit+=("ip netns del drwan0 2>/dev/null; ip link del drwan0h 2>/dev/null")
bench_prepare "$out" "$mem"
policy=()
[ -z "${BENCH_POLICY:-}" ] || policy=(-Dbench.policy="$BENCH_POLICY")
java -Dbench.pairs="${BENCH_PAIRS:-5}" -Dbench.blockSize="${BENCH_BLOCK_SIZE:-65536}" -Dbench.keepConnection="${BENCH_KEEP_CONNECTION:-false}" \
  -Dbench.redisBenchmark="${BENCH_REDIS_BENCHMARK:-0}" \
  -Dbench.link="${BENCH_LINK:-}" -Dbench.compression="${BENCH_COMPRESSION:-false}" "${policy[@]}" \
  --enable-native-access=ALL-UNNAMED -cp "$bench_cp" io.drafter.peer.bench.VmMigrationBenchmark "$out/package" "$out/work"
