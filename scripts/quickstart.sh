#!/usr/bin/env bash
# The main job (README command 1): set everything up, build the guest and a Redis OCI blueprint, snapshot it,
# run it on peer A in namespace ark0 behind a port forward, write keys, live-migrate it to peer B in ark1 while a
# client keeps writing, re-forward the port, and show the keys and the client-measured downtime. Cleans up after
# itself (namespaces, nft tables, mounts, processes it started). Run as root. Work files: out/quickstart.
# The port forward is the peers' own (--port-forwards): peer A drops it when it suspends the VM, peer B installs
# it as soon as the VM runs there.
# The peers use drafter's AOT cache, trained here first (scripts/train-aot.sh) unless it is up to date; DRAFTER_AOT=0:
# neither. QUICKSTART_SKIP_BUILD=1 keeps the drafter.jar of an earlier run; PEER_A_JAVA_OPTS and PEER_B_JAVA_OPTS are
# JVM options for the two peers.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
root=$(pwd)
. scripts/env.sh

. scripts/lib-vm.sh
on_exit_stop_pids
step() { printf '\n== %s\n' "$*"; }
out=out/quickstart
keys=${QUICKSTART_KEYS:-100}
mem=${QUICKSTART_MEMORY_MIB:-256}

step "installing what is needed and building drafter"
bash scripts/install-deps.sh
if [ -z "${QUICKSTART_SKIP_BUILD:-}" ] || [ ! -f drafter-cli/target/drafter.jar ]; then
  build_drafter
fi

step "building the guest (DrafterOS) and the Redis OCI blueprint from Debian packages"
build_guest_and_redis

step "training drafter's AOT cache: once per build of the jar, peers then start their hand-over warm (DRAFTER_AOT=0: not)"
train_aot_if_stale

rm -rf "$out" && mkdir -p "$out"
migration_token "$out/token"

step "creating namespaces ark0 and ark1 (drafter nat)"
bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
await "$out/nat.log" "running" 60
cat "$out/nat.log"

step "snapshotting the Redis VM (${mem} MiB) into $out/package"
snapshot_redis "$out" "$mem"

# Each peer forwards 127.0.0.1:3333 to Redis in its namespace while the VM runs there: the forward moves with the VM.
step "peer A: resuming the VM in ark0 (copy-on-write over the package), 127.0.0.1:3333 -> Redis, listening for a migration"
DRAFTER_JAVA_OPTS="${PEER_A_JAVA_OPTS:-}" redis_peer "$out" peer-a ark0 '' 127.0.0.1:1337 \
  "$(devices "$root/$out/package" "$root/$out/peer-a")"
peer_a=$!; pids+=($peer_a)
await "$out/peer-a.log" "Listening for connections" 180
grep "Resumed VM" "$out/peer-a.log"

step "writing $keys keys through 127.0.0.1:3333"
for _ in $(seq 1 100); do python3 scripts/redis-client.py 3333 write 1 probe >/dev/null 2>&1 && break; sleep 0.3; done
python3 scripts/redis-client.py 3333 write "$keys" key
python3 scripts/redis-client.py 3333 load "$out/acked" >"$out/load.log" 2>&1 & load=$!; pids+=($load)
sleep 2

step "peer B: migrating the running VM in from peer A into ark1 while the client keeps writing"
DRAFTER_JAVA_OPTS="${PEER_B_JAVA_OPTS:-}" redis_peer "$out" peer-b ark1 127.0.0.1:1337 '' "$(devices "$root/$out/peer-b")"
peer_b=$!; pids+=($peer_b)
await "$out/peer-b.log" "Resumed VM" 300
wait "$peer_a" || { echo "quickstart: peer A failed:" >&2; tail -20 "$out/peer-a.log" >&2; exit 1; }
await "$out/peer-b.log" "Migration in completed" 300
sleep 2
kill -TERM "$load"; wait "$load" || true

step "result"
grep -E "Resumed VM|Migration (completed|in completed)|suspend" "$out/peer-a.log" "$out/peer-b.log" || true
cat "$out/load.log"
python3 scripts/redis-client.py 3333 verify "$out/acked" key "$keys"
echo "quickstart: done; logs in $out"
