# Sourced first by the scripts that need root (namespaces, FUSE, apt-get): run as root as they are, otherwise they
# run themselves again through sudo where sudo exists, and otherwise say how to run them.
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo -E -- bash "$0" "$@"
  fi
  echo "${0##*/}: needs root (namespaces, FUSE mounts, packages) and sudo is not installed: run it as root" >&2
  exit 1
fi
