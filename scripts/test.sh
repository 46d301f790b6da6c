#!/bin/sh
# The whole test suite: warnings-as-errors build with every test (unit, kvm,
# install, freestanding symbol check, docs, system tests in Bochs), then the
# unit and kvm tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
JOBS="${JOBS:-2}"
mkdir -p build

echo "== build (warnings are errors)"
cmake -S . -B build/test -DCMAKE_BUILD_TYPE=Debug -DVIRTCORE_WERROR=ON >build/test.configure.log 2>&1 ||
    { cat build/test.configure.log; exit 1; }
cmake --build build/test -j "$JOBS" >build/test.build.log 2>&1 || { cat build/test.build.log; exit 1; }
echo "== tests"
(cd build/test && ctest --output-on-failure -j "$JOBS")

echo "== sanitizers (ASan + UBSan + LeakSanitizer)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DVIRTCORE_WERROR=ON -DVIRTCORE_SANITIZE=ON \
    -DVIRTCORE_BUILD_DOCS=OFF -DVIRTCORE_BUILD_EXAMPLES=OFF -DVIRTCORE_BUILD_BENCH=OFF \
    >build/asan.configure.log 2>&1 || { cat build/asan.configure.log; exit 1; }
cmake --build build/asan -j "$JOBS" >build/asan.build.log 2>&1 || { cat build/asan.build.log; exit 1; }
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$JOBS" -L "unit|kvm")
