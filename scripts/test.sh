#!/usr/bin/env bash
# The project's test command: installs what the tests need, then builds and runs every test and check.
# Extra arguments go to Maven (e.g. scripts/test.sh -Pslow, or -pl drafter-storage).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
bash scripts/install-deps.sh
exec mvn -B -ntp verify "$@"
