#!/bin/sh
# The demo: builds the library and runs the examples on the best backend here.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p build
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=Release -DVIRTCORE_BUILD_TESTS=OFF \
    -DVIRTCORE_BUILD_DOCS=OFF >build/demo.configure.log 2>&1 || { cat build/demo.configure.log; exit 1; }
cmake --build build/demo -j 2 >build/demo.build.log 2>&1 || { cat build/demo.build.log; exit 1; }
build/demo/examples/vcore-demo
if [ -x build/demo/examples/longmode/vcore-longmode ]; then
    echo
    set +e
    build/demo/examples/longmode/vcore-longmode
    rc=$?
    set -e
    if [ "$rc" -eq 77 ]; then
        echo "vcore-longmode: /dev/kvm is not usable here; the demo above ran on the mock backend."
    elif [ "$rc" -ne 0 ]; then
        exit "$rc"
    fi
fi
# L0 -> L1 -> L2 on Bochs (scripts/deps.sh installed it).
echo
scripts/demo-nested.sh
# The same on AMD SVM: L0 -> L1 -> L2 on Bochs' ryzen model.
echo
scripts/demo-nested-svm.sh
