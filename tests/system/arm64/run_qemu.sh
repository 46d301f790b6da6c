#!/bin/sh
# run_qemu.sh IMAGE WORKDIR [TIMEOUT_SECONDS] [HAVE_CROSS_CC]
#
# Boots the EL2 stage-2 test image in QEMU (virt, virtualization=on, -cpu max)
# and judges the run by what it printed on the PL011 UART:
#   - every "CASE <name> ..." line must say PASS;
#   - the number of cases must match "S2T-BEGIN cases=N";
#   - "S2T-END" must be printed and QEMU must exit with status 0 (semihosting);
#   - a timeout (hang), "KERNEL-TRAP" (an exception at EL2) or a crash fails.
# "INFO ..." lines are reported, not judged.
# Exit: 0 pass, 1 fail, 77 skip (qemu-system-aarch64 or the cross compiler missing).
set -u
IMAGE=$1
WORK=$2
TMO=${3:-180}
HAVE_CC=${4:-1}

QEMU=$(command -v qemu-system-aarch64 || true)
if [ -z "$QEMU" ]; then
    echo "SKIP: qemu-system-aarch64 not installed"
    exit 77
fi
if [ "$HAVE_CC" = 0 ]; then
    echo "SKIP: no aarch64 cross compiler (aarch64-linux-gnu-gcc)"
    exit 77
fi
if [ ! -f "$IMAGE" ]; then
    echo "FAIL: no image at $IMAGE"
    exit 1
fi
mkdir -p "$WORK"
OUT=$WORK/uart.txt

START=$(date +%s.%N)
timeout "$TMO" "$QEMU" -M virt,virtualization=on -cpu max -m 1G -nographic -monitor none \
    -semihosting -kernel "$IMAGE" </dev/null >"$OUT" 2>"$WORK/stderr.txt"
QRC=$?
END=$(date +%s.%N)
ELAPSED=$(echo "$START $END" | awk '{printf "%.2f", $2 - $1}')

grep -E '^(S2T-|CASE |INFO |SUMMARY|KERNEL-TRAP)' "$OUT"
echo "qemu exit=$QRC boot-to-result=${ELAPSED}s"

fail=0
if [ "$QRC" = 124 ]; then
    echo "FAIL: QEMU hung (timeout ${TMO}s)"
    fail=1
fi
if grep -q 'KERNEL-TRAP' "$OUT"; then
    echo "FAIL: the test image took an exception at EL2"
    fail=1
fi
total=$(sed -n 's/^S2T-BEGIN cases=\([0-9]*\).*/\1/p' "$OUT" | head -1)
ran=$(grep -c '^CASE ' "$OUT")
bad=$(grep '^CASE ' "$OUT" | grep -vE '^CASE [^ ]+ PASS' || true)
if [ -n "$bad" ]; then
    echo "FAIL: failing cases:"
    echo "$bad"
    fail=1
fi
if [ -z "$total" ]; then
    echo "FAIL: the image never started (no S2T-BEGIN)"
    tail -5 "$WORK/stderr.txt"
    fail=1
elif [ "$ran" != "$total" ] || ! grep -q '^S2T-END' "$OUT"; then
    last=$(grep '^RUN ' "$OUT" | tail -1 | cut -d' ' -f2)
    echo "FAIL: $ran of $total cases reported; died in case '${last:-<setup>}'"
    fail=1
fi
if [ "$fail" = 0 ] && [ "$QRC" != 0 ]; then
    echo "FAIL: QEMU exit status $QRC"
    fail=1
fi
[ "$fail" = 0 ] && echo "PASS: $ran/$total cases"
exit $fail
