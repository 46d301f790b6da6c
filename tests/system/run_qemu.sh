#!/bin/sh
# run_qemu.sh IMAGE CPU WORKDIR [TIMEOUT_SECONDS]
#
# Boots a test kernel image in QEMU TCG (x86-64) with the given -cpu model
# and judges the run by what the kernel printed on port E9H (debugcon), with
# the same rules as run_bochs.sh:
#   - every "CASE <name> ..." line must say PASS (SKIP is reported);
#   - the number of cases run must match "VTK-BEGIN cases=N";
#   - "VTK-END" must be printed (otherwise: crash, triple fault or hang,
#     and the case that was running is named).
# "RECORD ..." lines are saved to WORKDIR/records.txt.
# Exit: 0 pass, 1 fail, 77 skip (QEMU missing).
set -u
IMAGE=$1
CPU=$2
WORK=$3
TMO=${4:-120}

QEMU=$(command -v qemu-system-x86_64 || true)
if [ -z "$QEMU" ]; then
    echo "SKIP: qemu-system-x86_64 not installed"
    exit 77
fi
if [ ! -f "$IMAGE" ]; then
    echo "FAIL: no kernel image at $IMAGE"
    exit 1
fi
mkdir -p "$WORK"
DISK=$WORK/disk.img
OUT=$WORK/e9.txt
cp "$IMAGE" "$DISK"
# Pad to whole cylinders of 16 heads x 63 sectors x 512 bytes, as for Bochs.
CYL=516096
SIZE=$(wc -c < "$DISK")
truncate -s $(( (SIZE + CYL - 1) / CYL * CYL )) "$DISK"

START=$(date +%s.%N)
# A write to port F4H (isa-debug-exit) ends QEMU; -no-reboot turns a triple
# fault into an exit instead of a reset.
timeout "$TMO" "$QEMU" -accel tcg -cpu "$CPU" -m 64 -display none -no-reboot -monitor none \
    -serial none -debugcon "file:$OUT" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -drive "file=$DISK,format=raw,if=ide" > "$WORK/stdout.txt" 2> "$WORK/stderr.txt"
QRC=$?
END=$(date +%s.%N)
ELAPSED=$(echo "$START $END" | awk '{printf "%.2f", $2 - $1}')

grep '^RECORD ' "$OUT" > "$WORK/records.txt" || true
grep -E '^(VTK-|RUN |CASE |RECORD |SUMMARY|LOG |KERNEL-TRAP|SETUP|DIFF)' "$OUT"
echo "qemu exit=$QRC boot-to-result=${ELAPSED}s cpu=$CPU"

fail=0
if [ "$QRC" = 124 ]; then
    echo "FAIL: QEMU hung (timeout ${TMO}s)"
    fail=1
fi
if grep -q 'KERNEL-TRAP' "$OUT"; then
    echo "FAIL: the test kernel took an exception"
    fail=1
fi
total=$(sed -n 's/^VTK-BEGIN cases=\([0-9]*\).*/\1/p' "$OUT" | head -1)
ran=$(grep -cE '^(CASE|RECORD) ' "$OUT")
bad=$(grep -E '^CASE ' "$OUT" | grep -vE '^CASE [^ ]+ (PASS|SKIP)' || true)
if [ -n "$bad" ]; then
    echo "FAIL: failing cases:"
    echo "$bad"
    fail=1
fi
if [ -z "$total" ]; then
    echo "FAIL: the kernel never started (no VTK-BEGIN)"
    tail -5 "$WORK/stderr.txt" 2>/dev/null
    fail=1
elif [ "$ran" != "$total" ] || ! grep -q '^VTK-END' "$OUT"; then
    last=$(grep '^RUN ' "$OUT" | tail -1 | cut -d' ' -f2)
    echo "FAIL: $ran of $total cases reported; died in case '${last:-<setup>}'"
    fail=1
fi
[ "$fail" = 0 ] && echo "PASS: $ran/$total cases on $CPU"
exit $fail
