#!/usr/bin/env bash
# Installs, once, everything the build and the tests need on a fresh Debian 12 machine.
# Idempotent: packages already present are not fetched again.
set -euo pipefail
. "$(dirname "$0")/as-root.sh"
need=()
want() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || need+=("$1"); }
# util-linux: mount tools; python3 drives FUSE tests from another process.
want util-linux
# mount gives losetup (FUSE test: a loop device on a device file); coreutils gives dd.
want mount
want coreutils
want python3
# drafter-vm: e2fsprogs builds the guest rootfs (mkfs.ext4 -d), cpio its initramfs.
want e2fsprogs
want zstd
want xz-utils
want cpio
# networking (drafter nat / forwarder and their tests): ip, nft, sysctl
want iproute2
want nftables
want procps
# conntrack: a forward that moves with a migrated VM forgets the old place's flows, so open connections carry on
want conntrack
# the walkthrough's Redis client (redis-cli), as a user of the seed tutorial runs it
want redis-tools
# packager tests and bench compare with GNU tar + zstd; the Redis example image is made with apt-get download + dpkg -x.
want tar
want dpkg
want apt
# promtool (PeerMetricsTest lints the /metrics page with `promtool check metrics`) comes only with Debian's prometheus
# package; installed without its recommends. On a host with systemd this also installs (and starts) a Prometheus server
# on :9090: `systemctl disable --now prometheus` if it is not wanted.
promtool_ok=0
if command -v promtool >/dev/null 2>&1; then promtool_ok=1; fi
# drafter-vm: QEMU 10 comes from bookworm-backports (7.2 corrupts TCG guests in live migration).
backports=/etc/apt/sources.list.d/drafter-bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >"$backports" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
qemu_ok=0
if command -v qemu-system-x86_64 >/dev/null 2>&1 \
  && qemu-system-x86_64 --version | grep -Eq 'version (9|[1-9][0-9])\.'; then
  qemu_ok=1
fi
if [ ${#need[@]} -gt 0 ] || [ "$qemu_ok" = 0 ] || [ "$promtool_ok" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if [ ${#need[@]} -gt 0 ]; then
    echo "drafter: installing ${need[*]}" >&2
    apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  if [ "$promtool_ok" = 0 ]; then
    echo "drafter: installing prometheus (for promtool)" >&2
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  if [ "$qemu_ok" = 0 ]; then
    echo "drafter: installing qemu-system-x86 from bookworm-backports" >&2
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
  fi
fi
