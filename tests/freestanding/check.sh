#!/bin/sh
# check.sh SRC BUILD BACKENDS [TOOLCHAIN] - builds the freestanding archive and
# checks its undefined symbols with nm -u.
set -eu
src="$1"; build="$2"; backends="$3"; toolchain="${4:-}"
tc=""
[ -n "$toolchain" ] && tc="-DCMAKE_TOOLCHAIN_FILE=$toolchain"
# shellcheck disable=SC2086
cmake -S "$src" -B "$build" -DVIRTCORE_FREESTANDING=ON -DVIRTCORE_WERROR=ON \
    -DVIRTCORE_BACKENDS="$backends" $tc >"$build.configure.log" 2>&1 ||
    { cat "$build.configure.log"; exit 1; }
cmake --build "$build" -j 2 >"$build.build.log" 2>&1 || { cat "$build.build.log"; exit 1; }
archive="$build/libvirtcore.a"
nm=nm
[ -n "$toolchain" ] && nm=aarch64-linux-gnu-nm
undefined=$($nm -u "$archive" | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u)
echo "freestanding archive: $archive (backends: $backends)"
echo "undefined symbols:" $undefined
bad=""
for s in $undefined; do
    case "$s" in memcpy|memset|memmove|memcmp) ;; *) bad="$bad $s" ;; esac
done
if [ -n "$bad" ]; then
    echo "FAIL: symbols outside memcpy/memset/memmove/memcmp:$bad"
    exit 1
fi
echo "OK: only mem* functions are undefined"
