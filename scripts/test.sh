#!/usr/bin/env bash
# The project's test command: installs what the tests need, then builds and runs every test and check.
# Extra arguments go to Maven (e.g. scripts/test.sh -Pslow, or -pl drafter-storage).
set -euo pipefail
# As root (through sudo where it exists): packages are installed and every test runs. Without root and sudo the
# packages are not installed and the tests that need root skip, each saying why.
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then exec sudo -E -- bash "$0" "$@"; fi
cd "$(dirname "$0")/.."
. scripts/env.sh
if [ "$(id -u)" = 0 ]; then
  bash scripts/install-deps.sh
else
  echo "test: not root and no sudo: not installing packages; tests that need root skip" >&2
fi
exec mvn -B -ntp verify "$@"
