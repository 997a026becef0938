#!/usr/bin/env bash
# VM benchmark: boot-to-ready, snapshot, resume-to-AfterResume medians for 128 and 512 MiB guests,
# state file size, with a cold boot and QEMU's classic RAM-in-stream snapshot as same-run baselines.
# Usage: scripts/bench-vm.sh [runs-per-size (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh
bash scripts/build-guest.sh out/blueprint
mvn -B -ntp -q -pl drafter-vm -am test-compile -Dspotless.check.skip=true >&2
mvn -B -ntp -q -pl drafter-vm dependency:build-classpath -Dmdep.outputFile=target/bench.classpath >&2
cp="drafter-vm/target/test-classes:drafter-vm/target/classes:$(cat drafter-vm/target/bench.classpath)"
exec java -cp "$cp" io.drafter.vm.bench.VmBenchmark "${1:-3}"
