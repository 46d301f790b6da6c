#!/bin/sh
# run_arm64_fake.sh SRC BUILD - cross-builds tests/kvm/arm64 (the kvm
# backend's arm64 path and its fake-kernel test) and runs the AArch64 test
# binary under qemu-aarch64 (Debian package qemu-user).
# Exit: the test's status; 77 (skip) when qemu-aarch64 or the aarch64 cross
# compiler is missing.
set -u
src=$1
build=$2
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    echo "SKIP: no aarch64 cross compiler (aarch64-linux-gnu-gcc)"
    exit 77
fi
QEMU=$(command -v qemu-aarch64 || command -v qemu-aarch64-static || true)
if [ -z "$QEMU" ]; then
    echo "SKIP: qemu-aarch64 not installed (Debian package qemu-user)"
    exit 77
fi
mkdir -p "$build"
cmake -S "$src/tests/kvm/arm64" -B "$build" -DVCORE_SOURCE_DIR="$src" \
    -DCMAKE_TOOLCHAIN_FILE="$src/cmake/aarch64-linux-gnu.cmake" -DVIRTCORE_WERROR=ON \
    -DCMAKE_BUILD_TYPE=Debug >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j 2 >"$build.build.log" 2>&1 || { cat "$build.build.log"; exit 1; }
# The binary must really be AArch64 (ELF e_machine 0xb7).
mach=$(od -An -tx1 -j18 -N2 "$build/test_kvm_arm64_fake" | tr -d ' \n')
if [ "$mach" != "b700" ]; then
    echo "FAIL: test_kvm_arm64_fake is not an AArch64 binary (e_machine $mach)"
    exit 1
fi
exec "$QEMU" "$build/test_kvm_arm64_fake"
