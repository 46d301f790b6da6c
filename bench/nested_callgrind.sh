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
    CORE=$(callgrind_annotate --auto=no --threshold=100 "$OUT" 2>/dev/null |
        awk '/src\/core\// { gsub(",", "", $1); s += $1 } END { print s + 0 }')
    rm -f "$OUT"
    echo "$TOTAL $CORE"
}
for op in roundtrip roundtrip_nosplit roundtrip_noshadow roundtrip_eager l1exit; do
    set -- $(measure $op)
    echo "$op: $(($1 / N)) instructions/op, $(($2 / N)) in src/core"
done
set -- $(measure vmread63)
A=$1; AC=$2
set -- $(measure vmread0)
echo "vmread (register operand, through the run loop): $(((A - $1) / N / 63)) instructions/op, $(((AC - $2) / N / 63)) in src/core"
