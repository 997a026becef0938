#!/usr/bin/env bash
# Installs, once, everything the build and the tests need on a fresh Debian 12 machine.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
need=()
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || need+=("$1"); }
# util-linux gives losetup; python3 drives FUSE tests from another process.
want util-linux
want python3
# packager tests and bench compare with GNU tar + zstd; oci tests make ext4 images and inspect them with debugfs.
want tar
want zstd
want e2fsprogs
# the Redis example image is made from Debian packages (apt-get download, dpkg -x) and checked under chroot.
want dpkg
want apt
want coreutils
if [ ${#need[@]} -gt 0 ]; then
  echo "drafter: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
