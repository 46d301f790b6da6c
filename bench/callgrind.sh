#!/bin/sh
# callgrind.sh BENCH_BINARY OP [ITERATIONS]
#
# Instructions per operation, exactly: runs BENCH_BINARY OP ITERATIONS under
# callgrind with collection only inside the benchmark loop, and divides the
# total instruction count (Ir) by ITERATIONS. Repeatable for the same binary
# and inputs, whatever else the machine does.
set -eu
BIN=$1
OP=$2
N=${3:-1000}
OUT=$(mktemp)
valgrind --tool=callgrind --collect-atstart=no --callgrind-out-file="$OUT" "$BIN" "$OP" "$N" \
    >/dev/null 2>&1
IR=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$OUT")
rm -f "$OUT"
echo "$OP: $((IR / N)) instructions/op ($IR over $N)"
