#!/usr/bin/env bash
# Builds the DrafterOS blueprint from Debian packages: `vmlinux` (the Debian cloud kernel's
# bzImage, booted with -kernel, with the initramfs embedded after it), `initramfs.img` (busybox + the virtio modules, mounts the root
# disk), `rootfs.ext4` (busybox, init, agent, liveness) and `oci-counter.ext4` (an OCI bundle
# disk labelled `oci` running a counter, for tests and demos).
#
# Usage: scripts/build-guest.sh [outdir]        (default: out/blueprint)
# Packages are fetched only with `apt-get download` and unpacked with `dpkg -x` into
# <outdir>/.work; nothing is installed into the host. The build is skipped when the package
# versions and the guest sources are unchanged (<outdir>/.inputs). Output is reproducible:
# fixed timestamps (SOURCE_DATE_EPOCH), UUIDs and hash seeds, sorted cpio archive.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/out/blueprint}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/.work
guest=$here/guest
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
export LC_ALL=C TZ=UTC
log() { echo "build-guest: $*" >&2; }
die() { echo "build-guest: could not $*" >&2; exit 1; }
for tool in apt-get apt-cache dpkg mkfs.ext4 debugfs cpio gzip sha256sum; do
  command -v "$tool" >/dev/null || die "find host tool $tool (run scripts/install-deps.sh)"
done

candidate() { apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
kmeta=linux-image-cloud-amd64
if [ -z "$(candidate $kmeta)" ] || [ "$(candidate $kmeta)" = "(none)" ]; then
  log "apt lists lack $kmeta; running apt-get update"
  apt-get update -qq || die "run apt-get update"
fi
# The meta package's bookworm candidate names the versioned kernel image package.
kpkg=$(apt-cache depends "$kmeta=$(candidate $kmeta)" | sed -n 's/^ *Depends: \(linux-image-[0-9].*\)$/\1/p' | head -1)
[ -n "$kpkg" ] || die "resolve the kernel package behind $kmeta"
kver=$(candidate "$kpkg")
bver=$(candidate busybox-static)
[ -n "$kver" ] && [ "$kver" != "(none)" ] || die "find a candidate version of $kpkg"
[ -n "$bver" ] && [ "$bver" != "(none)" ] || die "find a candidate version of busybox-static"

inputs=$( { echo "$kpkg=$kver"; echo "busybox-static=$bver"; echo "epoch=$SOURCE_DATE_EPOCH";
  sha256sum "$0"; (cd "$guest" && find . -type f | sort | xargs sha256sum; find . -perm -u+x -type f | sort); } \
  | sha256sum | cut -d' ' -f1)
if [ -f "$out/.inputs" ] && [ "$(cat "$out/.inputs")" = "$inputs" ] \
  && [ -f "$out/vmlinux" ] && [ -f "$out/initramfs.img" ] && [ -f "$out/rootfs.ext4" ] && [ -f "$out/oci-counter.ext4" ]; then
  log "up to date ($kpkg $kver, busybox-static $bver) in $out"
  exit 0
fi
log "building from $kpkg $kver and busybox-static $bver into $out"
rm -rf "$work"
mkdir -p "$work/debs" "$work/x"
download() { (cd "$work/debs" && apt-get download -qq "$kpkg=$kver" "busybox-static=$bver" 2>/dev/null); }
if ! download; then
  # stale package lists point at files the mirror no longer has: refresh once and retry
  log "apt-get download failed; running apt-get update and retrying"
  apt-get update -qq || die "run apt-get update"
  download || die "download $kpkg=$kver and busybox-static=$bver with apt-get download"
fi
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$work/x" || die "unpack $deb"; done
busybox=$work/x/bin/busybox
[ -x "$busybox" ] || die "find bin/busybox in busybox-static"
vmlinuz=$(ls "$work"/x/boot/vmlinuz-* | head -1)
moddir=$(ls -d "$work"/x/lib/modules/* | head -1)
[ -f "$vmlinuz" ] || die "find boot/vmlinuz-* in $kpkg"

# Module closure in load order (dependencies first), read from each .ko's modinfo section.
modpath() { find "$moddir/kernel" -name "$1.ko" | head -1; }
moddeps() { tr '\0' '\n' <"$(modpath "$1")" | sed -n 's/^depends=//p' | tr ',' ' '; }
order=()
visit() {
  local m=$1 d
  for d in "${order[@]}"; do [ "$d" = "$m" ] && return 0; done
  [ -n "$(modpath "$m")" ] || die "find module $m.ko in $kpkg"
  for d in $(moddeps "$m"); do visit "$d"; done
  order+=("$m")
}
for m in virtio_mmio virtio_pci virtio_blk virtio_net virtio_console; do visit "$m"; done

stamp() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }
# mkfs.ext4 -d copies each file's ctime, which touch cannot set: pin them with debugfs.
pin_ctimes() {
  (cd "$1" && find . | sed 's|^\.||; s|^$|/|' | while IFS= read -r p; do
    printf 'sif "%s" ctime @%s\n' "$p" "$SOURCE_DATE_EPOCH"; done) >"$work/ctimes.debugfs"
  debugfs -w -f "$work/ctimes.debugfs" "$2" >/dev/null 2>&1 || die "pin inode ctimes in $2 with debugfs"
}
# mkext4 DIR NAME LABEL UUID SIZE: <out>/NAME.tmp = ext4 of DIR, reproducibly, without loop mounts.
mkext4() {
  stamp "$1"
  rm -f "$out/$2.tmp"
  mkfs.ext4 -q -F -L "$3" -U "$4" -b 4096 -I 256 -E "root_owner=0:0,hash_seed=$4" -d "$1" "$out/$2.tmp" "$5" \
    >/dev/null || die "build $2 with mkfs.ext4 -d"
  pin_ctimes "$1" "$out/$2.tmp"
}

# initramfs
ir=$work/initramfs
mkdir -p "$ir/bin" "$ir/lib/modules" "$ir/dev" "$ir/proc" "$ir/sys" "$ir/newroot"
cp "$busybox" "$ir/bin/busybox"
cp "$guest/initramfs/init" "$ir/init"
for m in "${order[@]}"; do cp "$(modpath "$m")" "$ir/lib/modules/$m.ko"; done
printf '%s\n' "${order[@]}" >"$ir/lib/modules/load-order"
chmod 0755 "$ir/init" "$ir/bin/busybox"
stamp "$ir"
(cd "$ir" && find . | sort | cpio -o -H newc --reproducible -R 0:0 --quiet) | gzip -n -9 >"$out/initramfs.img.tmp"

# rootfs
rf=$work/rootfs
mkdir -p "$rf"
cp -a "$guest/rootfs/." "$rf/"
mkdir -p "$rf"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,oci,mnt,root,var/log,etc/drafter}
cp "$busybox" "$rf/bin/busybox"
for app in $("$busybox" --list-full); do
  [ "$app" = "sbin/init" ] && continue
  [ -e "$rf/$app" ] || ln -s /bin/busybox "$rf/$app"
done
echo drafterguest >"$rf/etc/hostname"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$rf/etc/passwd"
printf 'root:x:0:\n' >"$rf/etc/group"
printf 'nameserver 1.1.1.1\n' >"$rf/etc/resolv.conf"
printf 'Welcome to DrafterOS (Drafter for Java), %s\n' "$kpkg $kver" >"$rf/etc/issue"
chmod 1777 "$rf/tmp"
mkext4 "$rf" rootfs.ext4 rootfs 5d1a7e2c-0000-4000-8000-000000000001 192M

# demo OCI bundle disk: the counter workload
oc=$work/oci-counter
mkdir -p "$oc/rootfs/bin" "$oc/rootfs/tmp" "$oc/rootfs/proc" "$oc/rootfs/sys" "$oc/rootfs/dev" "$oc/rootfs/etc"
cp "$guest/oci-counter/config.json" "$oc/config.json"
cp "$busybox" "$oc/rootfs/bin/busybox"
for app in sh echo sleep cat test date; do ln -s busybox "$oc/rootfs/bin/$app"; done
mkext4 "$oc" oci-counter.ext4 oci 5d1a7e2c-0000-4000-8000-000000000002 16M

# vmlinux carries its initramfs (io.drafter.vm.KernelImage reads it back): a guest boots from the kernel and the disk
# alone, as Drafter's walkthrough lists its devices; initramfs.img stays beside it for an explicit initrd device.
python3 - "$vmlinuz" "$out/initramfs.img.tmp" "$out/vmlinux.tmp" <<'PY'
import struct, sys
k = open(sys.argv[1], "rb").read()
i = open(sys.argv[2], "rb").read()
off = (len(k) + 4095) // 4096 * 4096
with open(sys.argv[3], "wb") as o:
    o.write(k + b"\0" * (off - len(k)) + i + struct.pack(">QQ", off, len(i)) + b"DRFTINRD")
PY
for f in vmlinux initramfs.img rootfs.ext4 oci-counter.ext4; do mv "$out/$f.tmp" "$out/$f"; done
cat >"$out/blueprint.json" <<JSON
{"kernelPackage":"$kpkg","kernelVersion":"$kver","busyboxVersion":"$bver","modules":"${order[*]}","sourceDateEpoch":$SOURCE_DATE_EPOCH}
JSON
echo "$inputs" >"$out/.inputs"
log "done: $(cd "$out" && ls -l vmlinux initramfs.img rootfs.ext4 oci-counter.ext4 | awk '{print $9" "$5}' | tr '\n' ' ')"
