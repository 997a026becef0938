#!/usr/bin/env bash
# Trains drafter's AOT cache (drafter-cli/target/drafter.aot, used by bin/drafter for this very jar): a Redis VM
# migrates from a peer in ark0 to a training peer in ark1 and on to a third peer in ark0 while a client writes, and
# the training peer, which migrated the VM in and out again, records with -XX:AOTCacheOutput the classes it loaded and
# linked and its methods' profiles. A fresh peer then starts its one hand-over with that code already loaded.
#   usage: scripts/train-aot.sh [--if-stale]     (--if-stale: do nothing if bin/drafter already has a usable cache)
# Run as root; builds the jar only if it is missing. Work files: out/aot-train (after a training that worked, only
# its logs). Cleans up after itself. Takes about 45 s once the guest is built (the training peer writes the cache when
# it exits).
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh
. scripts/lib-vm.sh
on_exit_stop_pids
jar=drafter-cli/target/drafter.jar
cache=drafter-cli/target/drafter.aot
out=out/aot-train
case "${1:-}" in
  '') ;;
  --if-stale) if aot_usable "$jar" "$cache"; then echo "train-aot: the AOT cache is up to date ($cache)"; exit 0; fi ;;
  *) echo "train-aot: unknown argument '$1' (usage: scripts/train-aot.sh [--if-stale])" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh
[ -f "$jar" ] || build_drafter
trained=$(stat -c '%Y %s' "$jar")
build_guest_and_redis
rm -rf "$out" && mkdir -p "$out"
migration_token "$out/token"
bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
await "$out/nat.log" "running" 60
snapshot_redis "$out" 256 2>"$out/snapshot.log"

# Every peer runs without a cache: the training peer records one, and the others have no use for a stale one.
peer() { DRAFTER_AOT=0 DRAFTER_JAVA_OPTS="${6:-}" redis_peer "$out" "$@"; } # peer NAME NETNS RADDR LADDR DEVICES [JAVA_OPTS]
echo "train-aot: migrating a Redis VM ark0 -> ark1 (the training peer) -> ark0"
peer source ark0 '' 127.0.0.1:1347 "$(devices "$root/$out/package" "$root/$out/source")"
source_pid=$!; pids+=($source_pid)
await "$out/source.log" "Listening for connections" 180
for _ in $(seq 1 100); do python3 scripts/redis-client.py 3333 write 1 probe >/dev/null 2>&1 && break; sleep 0.3; done
python3 scripts/redis-client.py 3333 load "$out/acked" >"$out/load.log" 2>&1 & pids+=($!)
sleep 1
peer training ark1 127.0.0.1:1347 127.0.0.1:1348 "$(devices "$root/$out/training")" "-XX:AOTCacheOutput=$root/$out/drafter.aot"
training_pid=$!; pids+=($training_pid)
await "$out/training.log" "Listening for connections" 300
wait "$source_pid" || { echo "train-aot: the first peer failed:" >&2; tail -20 "$out/source.log" >&2; exit 1; }
sleep 1
peer last ark0 127.0.0.1:1348 '' "$(devices "$root/$out/last")"
pids+=($!)
await "$out/last.log" "Resumed VM" 300
wait "$training_pid" || { echo "train-aot: the training peer failed:" >&2; tail -20 "$out/training.log" >&2; exit 1; }
if [ ! -s "$out/drafter.aot" ]; then
  echo "train-aot: the training peer wrote no AOT cache; its log:" >&2; tail -20 "$out/training.log" >&2; exit 1
fi
if [ "$(stat -c '%Y %s' "$jar")" != "$trained" ]; then
  echo "train-aot: $jar changed while training; the cache is not installed (run again)" >&2; exit 1
fi
chmod 0644 "$out/drafter.aot"
rm -f "$cache.stamp"
mv -f "$out/drafter.aot" "$cache"
aot_stamp "$jar" "$cache"
if ! aot_whole >"$out/check.log"; then
  rm -f "$cache.stamp"
  echo "train-aot: the JVM does not take all of the new cache; bin/drafter runs without it (train again):" >&2
  tail -5 "$out/check.log" >&2; exit 1
fi
# The VM's files served only the training (about 1.2 GB): they go once its last peer stopped; the logs stay.
on_exit+=("rm -rf '$out/package' '$out/source' '$out/training' '$out/last' '$out/vms'")
echo "train-aot: AOT cache $cache ($(($(stat -c %s "$cache") / 1048576)) MiB) for $jar; bin/drafter uses it (DRAFTER_AOT=0: not)"
