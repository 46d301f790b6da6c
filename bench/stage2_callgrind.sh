#!/bin/sh
# stage2_callgrind.sh BENCH_STAGE2 [N] - instructions per stage-2 map/unmap,
# measured by callgrind: each op_* function's inclusive instruction count
# divided by its N calls, per granule. Prints numbers only.
set -eu
B=$1
N=${2:-2000}
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-6s %14s %14s %14s %14s\n' granule map_granule unmap_granule map_2MiB unmap_2MiB
for g in 4096 16384 65536; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$g" "$B" --ops "$N" "$g" >/dev/null 2>"$tmp/err.$g"
    callgrind_annotate --inclusive=yes "$tmp/cg.$g" >"$tmp/ann.$g" 2>/dev/null
    per() {
        awk -v f="$1" -v n="$N" '$0 ~ (":" f " ") || $0 ~ (":" f "$") { gsub(",", "", $1); printf "%.0f", $1 / n; exit }' "$tmp/ann.$g"
    }
    printf '%-6s %14s %14s %14s %14s\n' "$g" "$(per op_map_page)" "$(per op_unmap_page)" "$(per op_map_2m)" "$(per op_unmap_2m)"
done
