#!/bin/sh
# Installs, once, the Debian 12 packages the build, the tests and the demo need.
# Idempotent and quiet when everything is already there.
set -eu
VCORE_PKGS="cmake make gcc libc6-dev binutils check pkg-config doxygen clang libclang-rt-14-dev llvm valgrind bochs bochsbios vgabios qemu-system-x86 qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"

missing=""
for p in $VCORE_PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "virtcore: installing:$missing" >&2
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
