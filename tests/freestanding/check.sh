#!/bin/sh
# check.sh SRC BUILD BACKENDS [TOOLCHAIN] - builds the freestanding archive and
# checks its undefined symbols with nm -u. BACKENDS is comma-separated.
set -eu
src="$1"; build="$2"; backends=$(echo "$3" | tr , ';'); toolchain="${4:-}"
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
# nm -u lists, per object, what that object needs; what another object of
# the archive defines is resolved inside the archive, so subtract it.
$nm -u "$archive" | awk 'NF == 2 && $1 == "U" { print $2 }' | sort -u >"$build.undef"
$nm --defined-only "$archive" | awk 'NF == 3 { print $3 }' | sort -u >"$build.def"
undefined=$(comm -23 "$build.undef" "$build.def")
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
