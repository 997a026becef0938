#!/usr/bin/env bash
# Migrates one running Redis VM back and forth between two local "hosts" (namespaces ark0 and ark1) many times while
# a client keeps writing: A -> B -> A -> ... Each hop is a new `drafter peer --raddr` on the other side; the port
# forward 127.0.0.1:3333 follows the VM. Prints each migration's client-visible downtime (longest gap between two
# acknowledged writes), the median and the worst, and checks at the end that every acknowledged write is there and
# that nothing accumulates (FUSE mounts, QEMU processes, a peer's threads and file descriptors).
#   usage: scripts/repeat-migration.sh [HOPS]       (default 20; REPEAT_MEMORY_MIB=256; DRAFTER_AOT=0: peers without
#   the AOT cache, which is otherwise trained first if stale, as the quickstart does)
# Run as root; builds what it needs like the quickstart. Work files: out/repeat. Cleans up after itself.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
hops=${1:-20}
mem=${REPEAT_MEMORY_MIB:-256}
out=out/repeat
. scripts/lib-vm.sh
on_exit_stop_pids
mounts() { grep -c ' fuse.drafter ' /proc/mounts || true; }
qemus() { pgrep -c -f "qemu-system-x86_64 .*$root/$out" || true; }

bash scripts/install-deps.sh
build_drafter
build_guest_and_redis >/dev/null
train_aot_if_stale
rm -rf "$out" && mkdir -p "$out"
migration_token "$out/token"
bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
await "$out/nat.log" "running" 60
snapshot_redis "$out" "$mem" 2>"$out/snapshot.log"

peer() { redis_peer "$out" "$@"; } # peer NAME NETNS RADDR LADDR DEVICES
peer hop0 ark0 '' 127.0.0.1:1340 "$(devices "$root/$out/package" "$root/$out/hop0")"
current=$!; pids+=($current)
await "$out/hop0.log" "Listening for connections" 180
for _ in $(seq 1 100); do python3 scripts/redis-client.py 3333 write 1 probe >/dev/null 2>&1 && break; sleep 0.3; done
python3 scripts/redis-client.py 3333 write 100 key >/dev/null
printf '%-4s %-10s %14s %8s %8s %8s %7s\n' hop to downtime_ms threads fds mounts qemus
downtimes=()
acks=()
first=0
for i in $(seq 1 "$hops"); do
  ns=ark$((i % 2)); from=$((1340 + (i - 1) % 2)); next=$((1340 + i % 2))
  side="$root/$out/side$((i % 2))"
  laddr=127.0.0.1:$next; [ "$i" = "$hops" ] && laddr=''
  python3 scripts/redis-client.py 3333 load "$out/acks.$i" "$first" >"$out/load.$i.log" 2>&1 & load=$!; pids+=($load)
  sleep 1
  peer "hop$i" "$ns" 127.0.0.1:$from "$laddr" "$(devices "$side")"
  peer_pid=$!; pids+=($peer_pid)
  await "$out/hop$i.log" "Resumed VM" 300
  wait "$current" || { echo "repeat-migration: hop $((i - 1)) failed:" >&2; tail -20 "$out/hop$((i - 1)).log" >&2; exit 1; }
  if [ -n "$laddr" ]; then await "$out/hop$i.log" "Listening for connections" 60; else await "$out/hop$i.log" "Running; press" 60; fi
  sleep 1
  kill -TERM "$load"; wait "$load" || true
  acks+=("$out/acks.$i"); first=$((first + 100000))
  d=$(sed -n 's/^DOWNTIME_MS=//p' "$out/load.$i.log"); downtimes+=("$d")
  printf '%-4s %-10s %14s %8s %8s %8s %7s\n' "$i" "$ns" "$d" "$(ls /proc/$peer_pid/task | wc -l)" \
    "$(ls /proc/$peer_pid/fd | wc -l)" "$(mounts)" "$(qemus)"
  current=$peer_pid
done
python3 scripts/redis-client.py 3333 verify "$(IFS=,; echo "${acks[*]}")" key 100
sorted=($(printf '%s\n' "${downtimes[@]}" | sort -n))
n=${#sorted[@]}
echo "downtime over $n migrations: median ${sorted[$((n / 2))]} ms, worst ${sorted[$((n - 1))]} ms, best ${sorted[0]} ms"
kill -TERM "$current"; wait "$current" || true
echo "after the last peer stopped: $(mounts) drafter mounts, $(qemus) QEMU processes of this run"
