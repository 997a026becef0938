#!/usr/bin/env bash
# Live migration of a Redis VM under a steady write load, drafter peers vs QEMU's own live migration, same run:
# prints client-visible downtime, total time, bytes, lost acknowledged writes, and the ratios. Run as root.
# Builds what it needs like scripts/quickstart.sh (guest, Redis OCI disk, a 256 MiB snapshot) into out/bench-vm.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
if [ "$(id -u)" != 0 ]; then echo "bench-vm-migration: run as root" >&2; exit 1; fi
out=out/bench-vm
mem=${BENCH_MEMORY_MIB:-256}
pids=()
cleanup() {
  local rc=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit $rc
}
trap cleanup EXIT INT TERM
bash scripts/install-deps.sh
mvn -B -q -ntp -Dspotless.check.skip=true -DskipTests install >/dev/null
mvn -B -q -ntp -pl drafter-peer dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >/dev/null
bin/drafter os build --out out/blueprint
[ -f out/redis-oci/index.json ] || bin/drafter oci example redis --output out/redis-oci
[ -f out/blueprint/oci-redis.ext4 ] || bin/drafter oci build --image out/redis-oci --output out/blueprint/oci-redis.ext4
rm -rf "$out" && mkdir -p "$out"
bin/drafter nat --namespace-count 2 >"$out/nat.log" 2>&1 & pids+=($!)
for _ in $(seq 1 300); do grep -q running "$out/nat.log" 2>/dev/null && break; sleep 0.2; done
grep -q running "$out/nat.log" || { cat "$out/nat.log" >&2; exit 1; }
bin/drafter snapshotter --netns ark0 --memory-size "$mem" --enable-output=false --chroot-base-dir "$out/vms" --devices "[
  {\"name\":\"state\",\"output\":\"$out/package/state.bin\"},
  {\"name\":\"memory\",\"output\":\"$out/package/memory.bin\"},
  {\"name\":\"kernel\",\"input\":\"out/blueprint/vmlinux\",\"output\":\"$out/package/vmlinux\"},
  {\"name\":\"initrd\",\"input\":\"out/blueprint/initramfs.img\",\"output\":\"$out/package/initramfs.img\"},
  {\"name\":\"disk\",\"input\":\"out/blueprint/rootfs.ext4\",\"output\":\"$out/package/rootfs.ext4\"},
  {\"name\":\"config\",\"output\":\"$out/package/config.json\"},
  {\"name\":\"oci\",\"input\":\"out/blueprint/oci-redis.ext4\",\"output\":\"$out/package/oci.ext4\"}]" >/dev/null
cp="drafter-peer/target/classes:drafter-peer/target/test-classes:$(cat drafter-peer/target/bench.classpath)"
java --enable-native-access=ALL-UNNAMED -cp "$cp" io.drafter.peer.bench.VmMigrationBenchmark "$out/package" "$out/work"
