#!/bin/sh
# run_bochs.sh IMAGE CPU_MODEL WORKDIR BOCHSRC_IN [TIMEOUT_SECONDS]
#
# Boots the VMX test kernel in Bochs on one CPU model, then judges the run
# by what the kernel printed on port E9H (Bochs' own exit code is 1 even
# for the kernel's requested shutdown):
#   - every "CASE <name> ..." line must say PASS (SKIP is reported);
#   - the number of cases run must match "VTK-BEGIN cases=N";
#   - "VTK-END" must be printed (otherwise: crash, triple fault, panic or hang,
#     and the case that was running is named).
# "RECORD ..." lines are saved to WORKDIR/records.txt.
# Exit: 0 pass, 1 fail, 77 skip (Bochs missing).
set -u
IMAGE=$1
CPU=$2
WORK=$3
RC_IN=$4
TMO=${5:-120}

BOCHS=$(command -v bochs-bin || command -v bochs || true)
if [ -z "$BOCHS" ]; then
    echo "SKIP: bochs not installed"
    exit 77
fi
if [ ! -f "$IMAGE" ]; then
    echo "FAIL: no kernel image at $IMAGE"
    exit 1
fi
mkdir -p "$WORK"
DISK=$WORK/disk.img
OUT=$WORK/e9.txt
LOG=$WORK/bochs.log
cp "$IMAGE" "$DISK"
# Pad to whole cylinders of 16 heads x 63 sectors x 512 bytes.
CYL=516096
SIZE=$(wc -c < "$DISK")
truncate -s $(( (SIZE + CYL - 1) / CYL * CYL )) "$DISK"
sed -e "s|@CPU@|$CPU|" -e "s|@IMAGE@|$DISK|" -e "s|@LOG@|$LOG|" "$RC_IN" > "$WORK/bochsrc"
echo continue > "$WORK/debugger.rc"
rm -f "$DISK.lock"

START=$(date +%s.%N)
timeout "$TMO" "$BOCHS" -q -unlock -f "$WORK/bochsrc" -rc "$WORK/debugger.rc" > "$OUT" 2> "$WORK/stderr.txt"
BRC=$?
END=$(date +%s.%N)
ELAPSED=$(echo "$START $END" | awk '{printf "%.2f", $2 - $1}')

grep '^RECORD ' "$OUT" > "$WORK/records.txt" || true
grep -E '^(VTK-|RUN |CASE |RECORD |SUMMARY|LOG |KERNEL-TRAP|SETUP)' "$OUT"
echo "bochs exit=$BRC boot-to-result=${ELAPSED}s cpu=$CPU"

fail=0
if [ "$BRC" = 124 ]; then
    echo "FAIL: Bochs hung (timeout ${TMO}s)"
    fail=1
fi
if grep -q 'KERNEL-TRAP' "$OUT"; then
    echo "FAIL: the test kernel took an exception"
    fail=1
fi
if grep -qiE 'triple fault|PANIC' "$LOG" 2>/dev/null && ! grep -q '^VTK-END' "$OUT"; then
    echo "FAIL: Bochs reported:"
    grep -iE 'triple fault|PANIC|VMFAIL|error' "$LOG" | tail -5
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
    tail -5 "$LOG" 2>/dev/null
    fail=1
elif [ "$ran" != "$total" ] || ! grep -q '^VTK-END' "$OUT"; then
    last=$(grep '^RUN ' "$OUT" | tail -1 | cut -d' ' -f2)
    echo "FAIL: $ran of $total cases reported; died in case '${last:-<setup>}'"
    grep -iE 'VMFAIL|triple|panic|>>PANIC' "$LOG" 2>/dev/null | tail -5
    fail=1
fi
# The differential run of the VM-entry checks (kernel/diff.c): at least
# 1,000 states, no unexplained mismatch, every verdict kind reached.
diff=$(grep '^DIFF states=' "$OUT" | head -1)
if [ -n "$diff" ]; then
    val() { echo "$diff" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
    states=$(echo "$diff" | sed -n 's/^DIFF states=\([0-9]*\).*/\1/p')
    echo "differential: $diff"
    grep '^DIFF-DEVIATIONS' "$OUT"
    if [ "${states:-0}" -lt 1000 ] || [ "$(val mismatches)" != 0 ]; then
        echo "FAIL: differential run: ${states:-0} states, $(val mismatches) mismatches"
        grep '^MISMATCH' "$OUT" | head -20
        fail=1
    fi
    for k in entry_ok vmfail7 vmfail8 exit33 exit33_pdpte exit33_link exit34; do
        if [ "$(val $k)" = 0 ]; then
            echo "FAIL: differential run: no state with verdict $k"
            fail=1
        fi
    done
fi
[ "$fail" = 0 ] && echo "PASS: $ran/$total cases on $CPU"
exit $fail
