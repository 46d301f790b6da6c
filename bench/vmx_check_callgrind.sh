#!/bin/sh
# Instructions per vcore_vmx_check_entry() pass, counted exactly by
# callgrind (valgrind), for the valid and the late-failing state of
# bench/vmx_check_bench.c. Use an optimized build:
#
#   cmake -S . -B build/rel -DCMAKE_BUILD_TYPE=Release -DVIRTCORE_BUILD_TESTS=OFF
#   cmake --build build/rel --target bench_vmx_check
#   bench/vmx_check_callgrind.sh build/rel
set -eu
bin="${1:?usage: $0 BUILD_DIR}/bench/bench_vmx_check"
n=1000
for s in valid late; do
    out=$(mktemp)
    valgrind --tool=callgrind --toggle-collect=vcore_vmx_check_entry --callgrind-out-file="$out" \
        "$bin" "$s" "$n" >/dev/null 2>&1
    ir=$(sed -n 's/^summary: *//p' "$out")
    rm -f "$out"
    # n timed passes plus one warm-up pass.
    echo "$s: $((ir / (n + 1))) instructions per pass (callgrind, $((n + 1)) passes)"
done
