# Sourced by the scripts that run Redis VMs end to end (quickstart, benchmarks): shared steps and helpers.
# Expects the caller to `cd` to the repository root and to have sourced scripts/env.sh.
. scripts/aot.sh

# Processes to stop on exit (append PIDs), then commands to run (append strings); `on_exit_stop_pids` installs the trap.
pids=()
on_exit=()
on_exit_stop_pids() {
  trap 'rc=$?; for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done;
        for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done;
        for c in "${on_exit[@]}"; do eval "$c" || true; done; exit $rc' EXIT INT TERM
}

# await FILE TEXT SECONDS: waits until FILE contains TEXT, or fails naming the file after SECONDS.
await() {
  local deadline=$((SECONDS + $3))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then echo "${0##*/}: timed out waiting for '$2' in $1:" >&2; tail -20 "$1" >&2; exit 1; fi
    sleep 0.1
  done
}

# migration_token FILE: a random shared token for the peers, private to its owner (peers refuse a token file others
# can read or write).
migration_token() { (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1"); }

# redis_peer OUT NAME NETNS RADDR LADDR DEVICES: starts `drafter peer` for the Redis VM in the background (its PID in
# $!), with the token OUT/token, its VMs' directories under OUT/vms, 127.0.0.1:3333 forwarded to Redis in NETNS while
# the VM runs there, and its log in OUT/NAME.log. DRAFTER_AOT and DRAFTER_JAVA_OPTS set in front of it reach bin/drafter.
redis_peer() {
  local out=$1 name=$2 ns=$3 raddr=$4 laddr=$5 devices=$6
  local fwd="[{\"netns\":\"$ns\",\"internalPort\":\"6379\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:3333\"}]"
  bin/drafter peer --netns "$ns" --raddr "$raddr" --laddr "$laddr" --token-file "$out/token" --enable-output=false \
    --port-forwards "$fwd" --chroot-base-dir "$out/vms" --devices "$devices" >"$out/$name.log" 2>&1 &
}

# devices BASE [COW]: Drafter's --devices JSON for a package in BASE, copy-on-write with overlays in COW if given.
devices() {
  local base=$1 cow=${2:-} sep='' json='['
  for pair in state:state.bin memory:memory.bin kernel:vmlinux initrd:initramfs.img disk:rootfs.ext4 config:config.json oci:oci.ext4; do
    local name=${pair%%:*} file=${pair#*:}
    json+="$sep{\"name\":\"$name\",\"base\":\"$base/$file\""
    [ -n "$cow" ] && json+=",\"overlay\":\"$cow/overlay/$file\",\"state\":\"$cow/state/$file\""
    json+=",\"blockSize\":65536,\"minCycles\":2,\"maxCycles\":10,\"cycleThrottle\":\"200ms\"}"
    sep=','
  done
  echo "$json]"
}

# build_drafter: builds and installs drafter (no tests) and keeps its AOT cache usable if the jar's bytes did not change.
build_drafter() {
  mvn -B -q -ntp -DskipTests -Dspotless.check.skip=true install >/dev/null
  aot_keep drafter-cli/target/drafter.jar drafter-cli/target/drafter.aot
}

# build_guest_and_redis: the DrafterOS blueprint and the Redis OCI disk in out/blueprint (kept between runs).
build_guest_and_redis() {
  bin/drafter os build --out out/blueprint
  [ -f out/redis-oci/index.json ] || bin/drafter oci example redis --output out/redis-oci
  [ -f out/blueprint/oci-redis.ext4 ] || bin/drafter oci build --image out/redis-oci --output out/blueprint/oci-redis.ext4
}

# train_aot_if_stale: trains drafter's AOT cache for the jar as built, unless it is up to date or DRAFTER_AOT=0, so that
# the peers bin/drafter starts run as a user's would; a failed training only leaves them without the cache.
train_aot_if_stale() {
  [ "${DRAFTER_AOT:-1}" != 0 ] || return 0
  bash scripts/train-aot.sh --if-stale || echo "${0##*/}: training the AOT cache failed; the peers run without it" >&2
}

# snapshot_redis OUT MEMORY_MIB: snapshots a Redis VM booted in namespace ark0 into OUT/package.
snapshot_redis() {
  local out=$1 mem=$2
  bin/drafter snapshotter --netns ark0 --memory-size "$mem" --enable-output=false --chroot-base-dir "$out/vms" --devices "[
    {\"name\":\"state\",\"output\":\"$out/package/state.bin\"},
    {\"name\":\"memory\",\"output\":\"$out/package/memory.bin\"},
    {\"name\":\"kernel\",\"input\":\"out/blueprint/vmlinux\",\"output\":\"$out/package/vmlinux\"},
    {\"name\":\"initrd\",\"input\":\"out/blueprint/initramfs.img\",\"output\":\"$out/package/initramfs.img\"},
    {\"name\":\"disk\",\"input\":\"out/blueprint/rootfs.ext4\",\"output\":\"$out/package/rootfs.ext4\"},
    {\"name\":\"config\",\"output\":\"$out/package/config.json\"},
    {\"name\":\"oci\",\"input\":\"out/blueprint/oci-redis.ext4\",\"output\":\"$out/package/oci.ext4\"}]"
}

# bench_prepare OUT MEMORY_MIB: what the Java benchmarks in drafter-peer's tests (io.drafter.peer.bench) need: the
# build, their class path (in $bench_cp), the guest and the Redis OCI disk, namespaces ark0 and ark1 (drafter nat,
# stopped on exit) and a Redis snapshot in OUT/package. OUT is emptied first.
bench_prepare() {
  local out=$1 mem=$2
  bash scripts/install-deps.sh
  build_drafter
  mvn -B -q -ntp -pl drafter-peer dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
  build_guest_and_redis
  rm -rf "$out" && mkdir -p "$out"
  bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
  await "$out/nat.log" running 60
  snapshot_redis "$out" "$mem" >/dev/null
  bench_cp="drafter-peer/target/classes:drafter-peer/target/test-classes:$(cat drafter-peer/target/bench.classpath)"
}
