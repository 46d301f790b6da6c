#!/bin/sh
# The nested part of the demo: boots the L0 -> L1 -> L2 test kernel in Bochs
# and prints, in words, what happened to each exit of L2 and who handled it.
#   L0: tests/system/kernel (a freestanding kernel linking libvirtcore, vmx backend)
#   L1: tests/system/kernel/l1 (a small hypervisor with its own VMX code)
#   L2: L1's guest (CPUID, I/O, MSRs, exceptions, an EPT violation, VMCALL,
#       the preemption timer, HLT)
# The same L1 runs twice: directly on Bochs' emulated VMX (the reference) and
# as the guest of a libvirtcore vCPU with nested VMX, which runs L2 on vmcs02
# and says, for each L2 exit, whether L0 or L1 handled it and which control
# of L1's VMCS decided.
set -eu
cd "$(dirname "$0")/.."
CPU=${1:-corei7_skylake_x}
case "$(uname -m)" in
x86_64 | amd64) ;;
*)
    echo "nested demo: the test kernel is x86-64 code; skipped on $(uname -m)"
    exit 0
    ;;
esac
mkdir -p build
cmake -S tests/system/kernel -B build/demo-kernel -DVCORE_SOURCE_DIR="$PWD" \
    -DCMAKE_BUILD_TYPE=Release >build/demo-kernel.configure.log 2>&1 ||
    { cat build/demo-kernel.configure.log; exit 1; }
cmake --build build/demo-kernel -j 2 --target vtk-nested_image >build/demo-kernel.build.log 2>&1 ||
    { cat build/demo-kernel.build.log; exit 1; }
set +e
sh tests/system/run_bochs.sh build/demo-kernel/vtk-nested.img "$CPU" build/demo-nested \
    tests/system/bochsrc.in 150 >build/demo-nested.log 2>&1
rc=$?
set -e
OUT=build/demo-nested/e9.txt
echo "== Nested virtualization on Bochs ($CPU): L0 -> L1 -> L2 =="
echo "L0 = a freestanding kernel linking libvirtcore (vmx backend), L1 = a small hypervisor of"
echo "its own, L2 = L1's guest. Each line says what L2 did, who handled the exit and why."
# L1 bare, then the same L1 as a guest of the library with EPT offered (L2
# on ept02), then a summary of the run without EPT.
awk '
    /^RUN / { sect = $2; next }
    sect == "bare.l2" && /^L1 / { sub(/^L1 \(bare on the emulated CPU\): /, ""); if (!b++) print "\n-- L1 directly on the emulated CPU (the reference) --"; print "  L1: " $0 }
    sect == "nested.l2" && /^L[01] / { if (!n++) print "\n-- The same L1 as the guest of libvirtcore (L0); L2 runs on vmcs02 --"
        sub(/^L1 \(guest of libvirtcore\): /, "L1: "); sub(/^L0 \(test kernel \+ libvirtcore\): /, "L0: "); print "  " $0 }
    sect == "nested_noept.l2" && /^CASE / { t++; if ($3 == "PASS") p++ }
    END { if (t) print "\n-- The same L1 without EPT (L2 on its own paging): " p "/" t " cases pass --" }
' "$OUT"
echo
echo "-- Verdicts (CASE lines: build/demo-nested/e9.txt) --"
grep '^SUMMARY' "$OUT" || true
n_skip=$(grep -c '^CASE [^ ]* SKIP not asserted' "$OUT" || true)
if [ "$n_skip" -gt 0 ]; then
    echo "$n_skip nested cases are run but not asserted (see the CASE lines)."
fi
grep '^CASE nested.measure.l0_exits_per_l2_cpuid_round_trip' "$OUT" | sed 's/^CASE nested.measure./L0 exits per L2 CPUID round trip (hardware VMCS shadowing on): /' || true
grep '^CASE nested_nohwshadow.measure.l0_exits_per_l2_cpuid_round_trip' "$OUT" | sed 's/^CASE nested_nohwshadow.measure./L0 exits per L2 CPUID round trip (hardware VMCS shadowing off): /' || true
tail -1 build/demo-nested.log
exit $rc
