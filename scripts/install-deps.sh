#!/usr/bin/env bash
# Installs, once, everything the build and the tests need on a fresh Debian 12 machine.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
need=()
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || need+=("$1"); }
# util-linux gives losetup; python3 drives FUSE tests from another process.
want util-linux
want python3
# networking (drafter nat / forwarder and their tests): ip, nft, sysctl
want iproute2
want nftables
want procps
if [ ${#need[@]} -gt 0 ]; then
  echo "drafter: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
