#!/usr/bin/env bash
# What the FUSE memory device costs the guest, and the TCG cold-start floor (issue 19): the same 256 MiB Redis
# snapshot (BENCH_MEMORY_MIB) in BENCH_PAIRS pairs (default 5), each: redis-benchmark (BENCH_CLIENTS clients, default
# 20, BENCH_REQUESTS SET and as many GET, default 100000) through a peer's forward with guest RAM on the memory device
# and on a plain copy in /dev/shm, in alternating order (requests/s, their ratio, CPU seconds per second of the peer
# JVM and of QEMU); a fresh QEMU restoring the snapshot with nothing to copy (cont to first reply: the floor); a drafter
# migration under the same 5 ms writer, then one under redis-benchmark (requests/s before and during the pre-copy, each
# guest-RAM flush). See io.drafter.peer.bench.MemoryDeviceBenchmark. Work files: out/bench-memory-device.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
. scripts/env.sh
out=out/bench-memory-device
mem=${BENCH_MEMORY_MIB:-256}
. scripts/lib-vm.sh
on_exit_stop_pids
# The benchmark removes its plain RAM itself (also from a shutdown hook); this is for a JVM killed outright.
on_exit+=("rm -rf /dev/shm/drafter-bench-memory")
bench_prepare "$out" "$mem"
java -Dbench.pairs="${BENCH_PAIRS:-5}" -Dbench.clients="${BENCH_CLIENTS:-20}" -Dbench.requests="${BENCH_REQUESTS:-100000}" \
  --enable-native-access=ALL-UNNAMED -cp "$bench_cp" io.drafter.peer.bench.MemoryDeviceBenchmark "$out/package" "$out/work" &
pids+=($!)
wait $!
