#!/bin/sh
# nested_callgrind.sh BENCH_NESTED [ITERATIONS]
#
# Instructions per nested-VMX operation, exactly (callgrind, collection only
# around vcore_vcpu_run): the whole run, and the part executed in the
# portable core (src/core: the library's pipeline, without the mock backend
# that plays the processor). Per L2 CPUID round trip with each seed
# optimisation on and off, and per emulated VMREAD with a register operand
# (63 VMREADs + HLT minus HLT alone, divided by 63).
set -eu
BIN=$1
N=${2:-200}
measure() { # op -> "total core" instructions over N iterations
    OUT=$(mktemp)
    valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$OUT" "$BIN" "$1" "$N" >/dev/null 2>&1
    TOTAL=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$OUT")
    ANN=$(callgrind_annotate --auto=no --threshold=100 "$OUT" 2>/dev/null)
    CORE=$(echo "$ANN" | awk '/src\/core\// { gsub(",", "", $1); s += $1 } END { print s + 0 }')
    # vcore_x86_state_copy is the backends' helper (backend.h): only the
    # mock's get/set state calls it, so it is the mock's cost.
    COPY=$(echo "$ANN" | awk '/vcore_x86_state_copy/ { gsub(",", "", $1); s += $1 } END { print s + 0 }')
    rm -f "$OUT"
    echo "$TOTAL $CORE $((CORE - COPY))"
}
for op in roundtrip roundtrip_nohwshadow roundtrip_allchecks roundtrip_nosplit roundtrip_noshadow roundtrip_eager l1exit; do
    set -- $(measure $op)
    echo "$op: $(($1 / N)) instructions/op, $(($2 / N)) in src/core, $(($3 / N)) without the mock's state copies"
done
set -- $(measure vmread63)
A=$1; AC=$2; AX=$3
set -- $(measure vmread0)
echo "vmread (register operand, through the run loop): $(((A - $1) / N / 63)) instructions/op, $(((AC - $2) / N / 63)) in src/core, $(((AX - $3) / N / 63)) without the mock's state copies"
