#!/bin/sh
# tool_case.sh TOOL RC FIRST CHECKS BASE EXTRA [ARGS...]
#
# Runs `TOOL ARCH ARGS... STATE` (ARCH: $VCHECK_ARCH, default vmx) and judges it:
#   RC      the expected exit status;
#   FIRST   the expected first output line exactly ("-": no output at all,
#           and a message on stderr, as for bad input);
#   CHECKS  the check ids the following lines must start with, in order
#           (space separated; "" for none);
#   BASE    the state file to start from; "none": no STATE_FILE argument;
#           "empty": start from an empty file;
#   EXTRA   lines appended to the state, separated by ';'.
# With --json among ARGS the output must be one JSON object whose verdict
# line and check ids are the expected ones (python3 reads it; skip 77 without).
set -u
TOOL=$1 RC=$2 FIRST=$3 CHECKS=$4 BASE=$5 EXTRA=$6
ARCH=${VCHECK_ARCH:-vmx}
shift 6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
state=$tmp/case.state
case "$BASE" in
none) state= ;;
empty) : > "$state" ;;
*) cp "$BASE" "$state" ;;
esac
if [ -n "$state" ] && [ -n "$EXTRA" ]; then
    printf '%s\n' "$EXTRA" | tr ';' '\n' >> "$state"
fi
json=0
for a in "$@"; do [ "$a" = --json ] && json=1; done
"$TOOL" "$ARCH" "$@" $state > "$tmp/out" 2> "$tmp/err"
rc=$?
fail=0
if [ "$rc" != "$RC" ]; then
    echo "FAIL: exit status $rc, expected $RC"
    fail=1
fi
if [ "$FIRST" = - ]; then
    [ -s "$tmp/out" ] && { echo "FAIL: output on stdout for refused input"; fail=1; }
    [ -s "$tmp/err" ] || { echo "FAIL: no message on stderr"; fail=1; }
else
    if [ "$json" = 1 ]; then
        command -v python3 >/dev/null || { echo "SKIP: python3 missing"; exit 77; }
        # The JSON object rendered as the text output: same content.
        python3 - "$tmp/out" > "$tmp/text" <<'PY' || { echo "FAIL: not one JSON object"; fail=1; }
import json, sys
o = json.load(open(sys.argv[1]))
v = o["verdict"]
if v == "VMFAIL_VALID":
    print("VMFAIL_VALID %d" % o["vm_error"])
elif v == "EXIT" and "exit_code" in o:
    print("EXIT %d" % o["exit_code"])
elif v == "EXIT":
    print("EXIT %d %d %s" % (o["exit_reason"], o["entry_failure"], o["qualification"]))
else:
    print(v)
for c in o["checks"]:
    print('%s %s "%s": %s' % (c["id"], c["class"], c["section"], c["message"]))
PY
        # The text output of the same run without --json must be identical.
        args=
        for a in "$@"; do [ "$a" = --json ] || args="$args $a"; done
        "$TOOL" "$ARCH" $args $state > "$tmp/plain" 2>/dev/null
        cmp -s "$tmp/text" "$tmp/plain" || { echo "FAIL: --json and text output differ"; diff "$tmp/text" "$tmp/plain"; fail=1; }
        cp "$tmp/text" "$tmp/out"
    fi
    got=$(head -n 1 "$tmp/out")
    if [ "$got" != "$FIRST" ]; then
        echo "FAIL: first line '$got', expected '$FIRST'"
        fail=1
    fi
    ids=$(tail -n +2 "$tmp/out" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')
    if [ "$ids" != "$CHECKS" ]; then
        echo "FAIL: checks '$ids', expected '$CHECKS'"
        fail=1
    fi
    if grep -v '^[A-Z0-9_]* [A-Z_]* "[^"]*": .' "$tmp/out" | tail -n +2 | grep -q .; then
        echo "FAIL: a check line is not CHECK_ID CLASS \"SECTION\": message"
        fail=1
    fi
fi
if [ "$fail" != 0 ]; then
    echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"
    [ -n "$state" ] && { echo "--- state tail"; tail -5 "$state"; }
    exit 1
fi
echo "PASS: $FIRST $CHECKS"
exit 0
