#!/usr/bin/env bash
# Coverage-guided fuzzing of Drafter's parsers with Jazzer (libFuzzer in the JVM), longer than the suite's short runs.
#
#   scripts/fuzz.sh                    every target, 60 s each
#   scripts/fuzz.sh frame-decode 600   one target for 10 minutes
#   scripts/fuzz.sh list               the targets
#
# Each target starts from its kept corpus (src/test/resources/.../<Test>Inputs/<method>, replayed by `mvn verify`)
# and from what earlier runs found (out/fuzz/<target>/corpus). Crashing inputs are saved as
# out/fuzz/<target>/crash-* (timeout-* for inputs that ran over 10 s); the log is out/fuzz/<target>/log. A crash
# becomes a regression test by copying its file into the kept corpus and fixing the bug. At the end a table gives
# executions, executions per second and crashes per target. Exits 1 if any target crashed.
#
# One target at a time (libFuzzer runs once per JVM); each start costs ~20-40 s of Maven and instrumentation.
# Surefire stops a fork after 1500 s (root POM), so one target runs at most ~1400 s per call.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

# name  module  test class  method  extra classes to instrument for coverage (besides the project's own)
TARGETS="
frame-decode  drafter-migration io.drafter.migration.protocol.FrameFuzzTest  decode -
frame-read    drafter-migration io.drafter.migration.protocol.FrameFuzzTest  read   -
pem           drafter-migration io.drafter.migration.transport.PemFuzzTest   pem    sun.security.util.**,sun.security.x509.**
pem-der       drafter-migration io.drafter.migration.transport.PemFuzzTest   der    sun.security.util.**,sun.security.x509.**,sun.security.pkcs.**
devices       drafter-storage   io.drafter.storage.config.DevicesFuzzTest    parse  com.fasterxml.jackson.core.**
fuse          drafter-expose    io.drafter.expose.fuse.FuseFuzzTest          request -
package       drafter-package   io.drafter.pkg.PackageFuzzTest               extract org.apache.commons.compress.archivers.tar.**
oci-layer     drafter-package   io.drafter.pkg.oci.LayerFuzzTest             unpack org.apache.commons.compress.archivers.tar.**
pax-xattrs    drafter-package   io.drafter.pkg.oci.LayerFuzzTest             xattrs org.apache.commons.compress.archivers.tar.**
config-json   drafter-vm        io.drafter.vm.SnapshotConfigFuzzTest         read   com.fasterxml.jackson.core.**
"

want=${1:-all}
seconds=${2:-60}
if [ "$want" = list ]; then
  echo "$TARGETS" | awk 'NF { print $1 }'
  exit 0
fi
if [ "$want" != all ] && ! echo "$TARGETS" | awk -v t="$want" '$1 == t { found = 1 } END { exit !found }'; then
  echo "fuzz.sh: unknown target '$want'; targets: $(echo "$TARGETS" | awk 'NF { printf "%s ", $1 }')" >&2
  exit 2
fi
case "$seconds" in '' | *[!0-9]*) echo "fuzz.sh: seconds must be a whole number, got '$seconds'" >&2; exit 2 ;; esac

summary=()
crashed=0
while read -r name module class method extra; do
  [ -n "$name" ] || continue
  [ "$want" = all ] || [ "$want" = "$name" ] || continue
  out="$PWD/out/fuzz/$name"
  mkdir -p "$out/corpus"
  before=$(find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' \) | wc -l)
  instrument="io.drafter.**"
  [ "$extra" = - ] || instrument="$instrument,$extra"
  echo "fuzz.sh: $name for ${seconds}s ($class#$method), log in out/fuzz/$name/log" >&2
  # libFuzzer arguments: argv0, the corpus it grows, where findings go, the per-input time bound, the final stats
  JAZZER_FUZZ=1 mvn -B -ntp -pl "$module" -am test \
    -Dspotless.check.skip=true -Dsurefire.failIfNoSpecifiedTests=false -Dtest="$class#$method" \
    -Djunit.jupiter.execution.timeout.mode=disabled \
    -Djazzer.hooks=true -Djazzer.instrument="$instrument" \
    -Djazzer.max_duration="${seconds}s" -Djazzer.keep_going=1000 \
    -Djazzer.internal.arg.0=drafter-fuzz \
    -Djazzer.internal.arg.1="$out/corpus" \
    -Djazzer.internal.arg.2="-artifact_prefix=$out/" \
    -Djazzer.internal.arg.3=-timeout=10 \
    -Djazzer.internal.arg.4=-print_final_stats=1 \
    > "$out/log" 2>&1
  executions=$(grep -a 'stat::number_of_executed_units' "$out/log" | tail -1 | awk '{ print $2 }')
  rate=$(grep -a 'stat::average_exec_per_sec' "$out/log" | tail -1 | awk '{ print $2 }')
  after=$(find "$out" -maxdepth 1 \( -name 'crash-*' -o -name 'timeout-*' \) | wc -l)
  new=$((after - before))
  if [ -z "$executions" ]; then
    echo "fuzz.sh: $name did not run; see out/fuzz/$name/log:" >&2
    grep -a -m5 'ERROR\|Exception' "$out/log" >&2
    executions=- rate=-
    crashed=1
  fi
  [ "$new" -eq 0 ] || crashed=1
  summary+=("$(printf '%-13s %12s %10s %8s' "$name" "$executions" "$rate" "$new")")
done <<< "$TARGETS"

printf '%-13s %12s %10s %8s\n' target executions 'execs/s' crashes
printf '%s\n' "${summary[@]}"
[ "$crashed" -eq 0 ] || echo "crashing inputs: out/fuzz/<target>/crash-* and timeout-*" >&2
exit "$crashed"
