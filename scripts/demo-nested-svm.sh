#!/bin/sh
# The nested SVM part of the demo: boots the L0 -> L1 -> L2 SVM test kernel in
# Bochs (AMD `ryzen` model) and prints, in words, each #VMEXIT of L2, who
# handled it and which intercept of L1's VMCB decided.
#   L0: tests/system/svm/kernel (a freestanding kernel linking libvirtcore, svm backend)
#   L1: tests/system/svm/kernel/l1 (a small hypervisor with its own SVM code)
#   L2: L1's guest (CPUID, I/O, MSRs, exceptions, a nested page fault, VMMCALL, HLT)
# The same L1 runs twice: directly on Bochs' emulated SVM (the reference) and
# as the guest of a libvirtcore vCPU with nested SVM.
set -eu
cd "$(dirname "$0")/.."
CPU=${1:-ryzen}
case "$(uname -m)" in
x86_64 | amd64) ;;
*)
    echo "nested SVM demo: the test kernel is x86-64 code; skipped on $(uname -m)"
    exit 0
    ;;
esac
mkdir -p build
cmake -S tests/system/svm/kernel -B build/demo-svm-kernel -DVCORE_SOURCE_DIR="$PWD" \
    -DCMAKE_BUILD_TYPE=Release >build/demo-svm-kernel.configure.log 2>&1 ||
    { cat build/demo-svm-kernel.configure.log; exit 1; }
cmake --build build/demo-svm-kernel -j 2 --target svk-nested_image >build/demo-svm-kernel.build.log 2>&1 ||
    { cat build/demo-svm-kernel.build.log; exit 1; }
# Bochs has no VM_CR MSR: keep its default for unknown MSRs (docs/svm-conformance.md).
sed 's/, ignore_bad_msrs=0//' tests/system/bochsrc.in >build/demo-nested-svm.bochsrc.in
set +e
sh tests/system/run_bochs.sh build/demo-svm-kernel/svk-nested.img "$CPU" build/demo-nested-svm \
    build/demo-nested-svm.bochsrc.in 110 >build/demo-nested-svm.log 2>&1
rc=$?
set -e
OUT=build/demo-nested-svm/e9.txt
echo "== Nested SVM on Bochs ($CPU): L0 -> L1 -> L2 =="
echo "L0 = a freestanding kernel linking libvirtcore (svm backend), L1 = a small hypervisor of"
echo "its own, L2 = L1's guest. Each line says what L2 did, who handled the #VMEXIT and why."
awk '
    /^RUN / { sect = $2; next }
    sect == "bare.l2" && /^L1 / { sub(/^L1 \(bare on the emulated CPU\): /, ""); if (!b++) print "\n-- L1 directly on the emulated CPU (the reference) --"; print "  L1: " $0 }
    sect == "nested.l2" && /^L[01] / { if (!n++) print "\n-- The same L1 as the guest of libvirtcore (L0) --"
        sub(/^L1 \(guest of libvirtcore\): /, "L1: "); sub(/^L0 \(test kernel \+ libvirtcore\): /, "L0: "); print "  " $0 }
' "$OUT"
echo
echo "-- Verdicts (CASE lines: build/demo-nested-svm/e9.txt) --"
grep '^SUMMARY' "$OUT" || true
n_skip=$(grep -c '^CASE [^ ]* SKIP not asserted' "$OUT" || true)
if [ "$n_skip" -gt 0 ]; then
    echo "$n_skip nested cases are run but not asserted."
fi
tail -1 build/demo-nested-svm.log
exit $rc
