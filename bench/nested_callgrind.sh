#!/bin/sh
# nested_callgrind.sh BENCH_NESTED [ITERATIONS [OP]]
#
# Instructions per nested-VMX operation, exactly (callgrind, collection only
# around the measured iterations' vcore_vcpu_run; the build needs debug
# information, e.g. -DCMAKE_C_FLAGS=-g): the whole run, and the library's
# share - everything except the mock backend's ops and what they call (the
# mock plays the processor: its VMCS store and state copies are the
# hardware's cost, not the library's). Per L2 CPUID round trip with every
# optimisation on and with each one off, and per emulated VMREAD with a
# register operand (63 VMREADs + HLT minus HLT alone, divided by 63; and
# minus 1 VMREAD + HLT, divided by 62: what one more instruction of a run
# costs), and the same per emulated VMWRITE;
# _nosync: on the mock without vcpu_run_sync (separate state calls).
# With OP, prints that op's library instructions per function instead.
set -eu
BIN=$1
N=${2:-200}
# Library instructions: the total less the inclusive cost of every call
# from a non-mock function into the mock (vcore__mock_* / vcore_mock_*).
LIB_AWK='
function nm(s,   id, rest) {
    id = s; sub(/\).*/, "", id); sub(/^\(/, "", id)
    rest = s; if (sub(/^\([0-9]+\) /, "", rest)) names[id] = rest
    return names[id]
}
/^fn=/ { caller = nm(substr($0, 4)); next }
/^cfn=/ { callee = nm(substr($0, 5)); next }
/^calls=/ { incall = 1; next }
incall { incall = 0; if (callee ~ /^vcore_?_mock_/ && caller !~ /^vcore_?_mock_/) s += $2; next }
/^summary:/ { total = $2 }
END { print total + 0, total - s }'
# Per function, the library's own instructions: run with
# --separate-callers, a function's cost counts in call chains without a
# mock function in them.
FN_AWK='
function nm(s,   id, rest) {
    id = s; sub(/\).*/, "", id); sub(/^\(/, "", id)
    rest = s; if (sub(/^\([0-9]+\) /, "", rest)) names[id] = rest
    return names[id]
}
/^fn=/ { ctx = nm(substr($0, 4)); n = split(ctx, parts, "'"'"'"); fname = parts[1]; lib = 1
         for (i = 1; i <= n; i++) if (parts[i] ~ /^vcore_?_mock_/) lib = 0; next }
/^cfn=/ { nm(substr($0, 5)); next }
/^(cfi|cfl|cob|fi|fe|fl|ob)=/ { next }
/^calls=/ { skip = 1; next }
/^[0-9+*-]/ { if (skip) { skip = 0; next } if (lib) self[fname] += $2; next }
END { for (k in self) printf "%d %s\n", self[k], k }'
measure() { # op -> "total library" instructions over N iterations
    OUT=$(mktemp)
    valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$OUT" "$BIN" "$1" "$N" >/dev/null 2>&1
    if ! grep -q '^c\{0,1\}f[ilne]=.*src/core/' "$OUT"; then
        echo "nested_callgrind.sh: no debug information in $BIN (build with -g)" >&2
        rm -f "$OUT"
        exit 1
    fi
    awk "$LIB_AWK" "$OUT"
    rm -f "$OUT"
}
if [ $# -ge 3 ]; then
    OUT=$(mktemp)
    valgrind --tool=callgrind --collect-atstart=no --separate-callers=64 --callgrind-out-file="$OUT" \
        "$BIN" "$3" "$N" >/dev/null 2>&1
    awk "$FN_AWK" "$OUT" | sort -rn | awk -v n="$N" '$1 >= n { t += $1; printf "%8.1f %s\n", $1 / n, $2 } END { printf "%8.1f total\n", t / n }'
    rm -f "$OUT"
    exit 0
fi
for op in roundtrip roundtrip_nohwshadow roundtrip_nosync roundtrip_nofast roundtrip_allchecks roundtrip_nosplit roundtrip_noshadow \
          roundtrip_eager roundtrip_early roundtrip_nobatch roundtrip_nofastentry l1exit; do
    set -- $(measure $op)
    echo "$op: $(($1 / N)) instructions/op, $(($2 / N)) in the library"
done
for insn in vmread vmwrite; do
    for v in "" _nosync _nofast; do
        set -- $(measure $insn"63"$v)
        A=$1; AL=$2
        set -- $(measure $insn"0"$v)
        echo "$insn$v (register operand, through the run loop): $(((A - $1) / N / 63)) instructions/op, $(((AL - $2) / N / 63)) in the library"
        if [ -z "$v" ]; then
            # Each further instruction of a run (63 against 1): the loop
            # alone, without entering and leaving the fast path once.
            set -- $(measure $insn"1")
            echo "$insn (each further one of a run): $(((A - $1) / N / 62)) instructions/op, $(((AL - $2) / N / 62)) in the library"
        fi
    done
done
