#!/usr/bin/env bash
# redis-benchmark across a live migration: a Redis VM (BENCH_MEMORY_MIB, default 256) runs on peer A in ark0 behind
# the peers' port forward 127.0.0.1:3333; redis-benchmark (BENCH_CLIENTS clients, default 20, BENCH_REQUESTS SET/GET
# requests each, default 200000) runs against it while the VM migrates to peer B in ark1. redis-benchmark never
# reconnects: it ends only if every connection survived the move. Prints its report (requests/s, latency percentiles),
# whether it ended without errors, and the peers' migration lines. Work files: out/bench-redis-benchmark.
# BENCH_MOVES=n (default 1): the VM moves n times, back and forth between ark0 and ark1 (a new peer each time, in the
# namespace the VM left before), all within one redis-benchmark run (give it BENCH_REQUESTS to last that long).
# The peers use drafter's AOT cache, trained first if stale as the quickstart does (DRAFTER_AOT=0: neither).
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
. scripts/lib-vm.sh
on_exit_stop_pids
out=out/bench-redis-benchmark
mem=${BENCH_MEMORY_MIB:-256}
clients=${BENCH_CLIENTS:-20}
requests=${BENCH_REQUESTS:-200000}
moves=${BENCH_MOVES:-1}
case "$moves" in ''|*[!0-9]*|0) echo "bench-redis-benchmark: BENCH_MOVES must be a positive number, not '$moves'" >&2; exit 2;; esac
bash scripts/install-deps.sh
build_drafter
build_guest_and_redis
train_aot_if_stale
rm -rf "$out" && mkdir -p "$out"
migration_token "$out/token"
bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
await "$out/nat.log" "running" 60
snapshot_redis "$out" "$mem" >/dev/null

redis_peer "$out" peer-a ark0 '' 127.0.0.1:1337 "$(devices "$root/$out/package" "$root/$out/peer-a")"
peer_a=$!; pids+=($peer_a)
await "$out/peer-a.log" "Listening for connections" 180
for _ in $(seq 1 100); do timeout 1 redis-cli -p 3333 ping 2>/dev/null | grep -q PONG && break; sleep 0.3; done

# Quiet baseline first (same clients, a tenth of the requests), then the run across the migration.
redis-benchmark -p 3333 -c "$clients" -n $((requests / 10)) -t set,get -q >"$out/baseline.txt" 2>&1 || true
echo "== baseline without a migration"; tr '\r' '\n' <"$out/baseline.txt" | grep -E "requests per second" || true
start=$(date +%s%N)
redis-benchmark -p 3333 -c "$clients" -n "$requests" -t set,get --csv >"$out/during.csv" 2>"$out/during.err" &
bench=$!; pids+=($bench)
sleep 3
# Peer i (A is 0) runs in ark<i % 2>, listens on port 1337+i (the last one does not listen) and takes the VM from i-1.
prev=$peer_a; prev_log="$out/peer-a.log"; logs=("$out/peer-a.log")
for i in $(seq 1 "$moves"); do
  laddr=''; [ "$i" -lt "$moves" ] && laddr="127.0.0.1:$((1337 + i))"
  ns="ark$((i % 2))"; name="peer-$i"; [ "$moves" -eq 1 ] && name=peer-b
  redis_peer "$out" "$name" "$ns" "127.0.0.1:$((1337 + i - 1))" "$laddr" "$(devices "$root/$out/side$((i % 2))")"
  next=$!; pids+=($next); logs+=("$out/$name.log")
  await "$out/$name.log" "Resumed VM" 300
  wait "$prev" || { echo "bench-redis-benchmark: the peer before $name failed:" >&2; tail -20 "$prev_log" >&2; exit 1; }
  [ -z "$laddr" ] || await "$out/$name.log" "Listening for connections" 60
  prev=$next; prev_log="$out/$name.log"
  [ "$i" -lt "$moves" ] && sleep 3
done
peer_b=$prev
# A connection that died leaves redis-benchmark waiting for its answers: give it 10 minutes, then stop it.
timeout 600 tail --pid="$bench" -f /dev/null || { echo "redis-benchmark did not end within 600 s" >>"$out/during.err"; kill -TERM "$bench"; }
rc=0; wait "$bench" || rc=$?
echo "== redis-benchmark across the migration (exit $rc, $(( ($(date +%s%N) - start) / 1000000 )) ms)"
cat "$out/during.csv"
if [ "$rc" -eq 0 ] && ! grep -qiE "error|reset|refused" "$out/during.err"; then
  echo "redis-benchmark ran to its end across the migration with no errors"
else
  echo "redis-benchmark failed across the migration:"; tail -5 "$out/during.err"
fi
grep -hE "Resumed VM|suspended:|Migrated to|migrated away" "${logs[@]}" || true
kill -TERM "$peer_b"; wait "$peer_b" || true
[ "$rc" -eq 0 ]
