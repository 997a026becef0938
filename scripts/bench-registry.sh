#!/usr/bin/env bash
# Lazy start from a registry vs fetching the whole package first: a Redis VM (BENCH_SIZES MiB of RAM, default
# "256 1024") is snapshotted once per size and served by `drafter registry`; in alternating pairs (BENCH_PAIRS, default
# 3) a `drafter peer --raddr` starts it lazily (resumes at authority, fetches the rest while it runs) and with
# --disable-postcopy-migration (every block first). Prints the time from the peer command to Redis answering PING
# through the peer's port forward, per run, their medians and the median of the pairs' ratios (lazy / full). Then
# BENCH_CONCURRENT (default 4) peers start from one registry at once, each in its own namespace. BENCH_LINK (e.g.
# 100mbit:40ms) puts the registry behind the benchmark's shaped, delayed link (tc tbf on a veth pair to namespace
# drwan0 and a delay relay, see docs/peer.md "WAN profile"): the peers dial its tunnel instead.
# The peers use drafter's AOT cache, trained first if stale as the quickstart does (DRAFTER_AOT=0: neither).
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
cd "$(dirname "$0")/.."
. scripts/env.sh
root=$PWD
out=out/bench-registry
pairs=${BENCH_PAIRS:-3}
concurrent=${BENCH_CONCURRENT:-4}
. scripts/lib-vm.sh
on_exit_stop_pids
bash scripts/install-deps.sh
build_drafter
mvn -B -q -ntp -pl drafter-peer dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
cp="drafter-peer/target/classes:drafter-peer/target/test-classes:$(cat drafter-peer/target/bench.classpath)"
build_guest_and_redis
train_aot_if_stale
rm -rf "$out" && mkdir -p "$out"
migration_token "$out/token"
bin/drafter nat --namespace-count "$concurrent" >"$out/nat.log" 2>&1 & pids+=($!)
await "$out/nat.log" running 60

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "-"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# start_peer NAME NS PORT [FLAGS...]: a peer migrating the VM in from the registry into $out/peers/NAME; sets peer_pid.
start_peer() {
  local name=$1 ns=$2 port=$3; shift 3
  local dir="$root/$out/peers/$name"
  rm -rf "$dir" && mkdir -p "$dir"
  local fwd="[{\"netns\":\"$ns\",\"internalPort\":\"6379\",\"protocol\":\"tcp\",\"externalAddr\":\"127.0.0.1:$port\"}]"
  bin/drafter peer --netns "$ns" --raddr "$raddr" --laddr '' --token-file "$out/token" --enable-output=false \
    --port-forwards "$fwd" --chroot-base-dir "$dir/vms" --devices "$(devices "$dir")" "$@" >"$dir.log" 2>&1 &
  peer_pid=$!; pids+=($peer_pid)
}

# await_ping PORT PID: waits until Redis answers PING on 127.0.0.1:PORT (fails if PID died or after 300 s).
await_ping() {
  local deadline=$((SECONDS + 300))
  until timeout 0.5 redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; do
    kill -0 "$2" 2>/dev/null || { echo "bench-registry: the peer died:" >&2; return 1; }
    [ $SECONDS -lt $deadline ] || { echo "bench-registry: no PING answer on $1 within 300 s" >&2; return 1; }
    sleep 0.02
  done
}

# stop_peer PID NAME: stops a peer (it waits for the rest of the package, then suspends) and removes its files.
stop_peer() {
  kill -TERM "$1"; wait "$1" || { echo "bench-registry: peer $2 failed:" >&2; tail -5 "$out/peers/$2.log" >&2; return 1; }
  rm -rf "$out/peers/$2"
}

# timed_start NAME NS PORT [FLAGS...]: sets took to the ms from the peer command to PING answered.
timed_start() {
  local t0; t0=$(now_ms)
  start_peer "$@"
  await_ping "$3" "$peer_pid"
  took=$(( $(now_ms) - t0 ))
  stop_peer "$peer_pid" "$1"
}

for size in ${BENCH_SIZES:-256 1024}; do
  pkg="$out/$size"
  snapshot_redis "$pkg" "$size" >/dev/null
  regdev="["; sep=""
  for pair in state:state.bin memory:memory.bin kernel:vmlinux initrd:initramfs.img disk:rootfs.ext4 config:config.json oci:oci.ext4; do
    regdev+="$sep{\"name\":\"${pair%%:*}\",\"input\":\"$root/$pkg/package/${pair#*:}\",\"blockSize\":65536}"; sep=","
  done
  regdev+="]"
  bin/drafter registry --laddr 127.0.0.1:1600 --token-file "$out/token" --devices "$regdev" >"$out/registry-$size.log" 2>&1 &
  registry=$!; pids+=($registry)
  await "$out/registry-$size.log" "Serving 7 devices" 60
  raddr=127.0.0.1:1600
  if [ -n "${BENCH_LINK:-}" ]; then
    rm -f "$out/link.in" && mkfifo "$out/link.in"
    java --enable-native-access=ALL-UNNAMED -cp "$cp" io.drafter.peer.bench.WanLink "$BENCH_LINK" 127.0.0.1:1600 \
      <"$out/link.in" >"$out/link-$size.log" 2>&1 & link=$!; pids+=($link)
    exec 4>"$out/link.in"
    await "$out/link-$size.log" "^tunnel " 120
    raddr=$(sed -n 's/^tunnel //p' "$out/link-$size.log")
    grep -E "^(link|measured)" "$out/link-$size.log"
  fi
  echo "== ${size} MiB Redis VM${BENCH_LINK:+ over a ${BENCH_LINK} link}: $(du -sh --apparent-size "$pkg/package" | cut -f1) package, $(du -sh "$pkg/package" | cut -f1) on disk"
  lazy=(); full=(); ratios=()
  for i in $(seq 1 "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then
      timed_start "lazy-$i" ark0 3333; l=$took
      timed_start "full-$i" ark0 3333 --disable-postcopy-migration; f=$took
    else
      timed_start "full-$i" ark0 3333 --disable-postcopy-migration; f=$took
      timed_start "lazy-$i" ark0 3333; l=$took
    fi
    lazy+=("$l"); full+=("$f"); ratios+=("$(awk -v a="$l" -v b="$f" 'BEGIN {printf "%.2f", a / b}')")
    echo "pair $i: lazy start ${l} ms, full fetch first ${f} ms, ratio ${ratios[-1]}"
  done
  echo "median: lazy $(printf '%s\n' "${lazy[@]}" | median) ms, full $(printf '%s\n' "${full[@]}" | median) ms," \
    "median ratio (lazy / full) $(printf '%s\n' "${ratios[@]}" | median)"

  t0=$(now_ms); started=()
  for n in $(seq 0 $((concurrent - 1))); do
    start_peer "many-$n" "ark$n" $((3333 + n)); started+=("$peer_pid")
  done
  for n in $(seq 0 $((concurrent - 1))); do
    await_ping $((3333 + n)) "${started[$n]}"
    echo "$concurrent peers at once: peer $n answered PING after $(( $(now_ms) - t0 )) ms"
  done
  for n in $(seq 0 $((concurrent - 1))); do stop_peer "${started[$n]}" "many-$n"; done
  grep -c "has every block" "$out/registry-$size.log" | xargs echo "registry sessions completed:"
  if [ -n "${BENCH_LINK:-}" ]; then
    exec 4>&-; wait "$link" || true; tail -2 "$out/link-$size.log"
  fi
  kill -TERM "$registry"; wait "$registry" || true
done
