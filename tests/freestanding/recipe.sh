#!/bin/sh
# recipe.sh SRC WORKDIR - runs the build recipe of docs/embedding.md verbatim
# (the shell block between <!-- recipe:begin --> and <!-- recipe:end -->) and
# checks what it promises: a kernel linked in the higher half, and an
# installed freestanding package without thread or libc dependencies.
set -eu
SRC=$(cd "$1" && pwd)
WORK=$2
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$WORK"
sed -n '/<!-- recipe:begin -->/,/<!-- recipe:end -->/p' "$SRC/docs/embedding.md" |
    sed -e '1,/^```sh$/d' -e '/^```$/,$d' > recipe.sh
[ -s recipe.sh ] || { echo "FAIL: no recipe block in docs/embedding.md"; exit 1; }
export SRC
if ! sh -eu recipe.sh > recipe.log 2>&1; then
    tail -30 recipe.log
    echo "FAIL: the recipe of docs/embedding.md does not run"
    exit 1
fi
entry=$(readelf -h kernel.elf | sed -n 's/.*Entry point address: *//p')
case "$entry" in
    0xffffffff8*) echo "recipe: kernel.elf entry $entry (higher half)" ;;
    *) echo "FAIL: kernel.elf entry $entry is not in the higher half"; exit 1 ;;
esac
cmake --install build-fs --prefix "$WORK/prefix" > install.log 2>&1 || { cat install.log; exit 1; }
cfg=$(find prefix -name virtcoreConfig.cmake)
pc=$(find prefix -name virtcore.pc)
if grep -q 'find_dependency(Threads)' "$cfg" && ! grep -q 'if(OFF)' "$cfg"; then
    echo "FAIL: the freestanding package depends on Threads"; exit 1
fi
if grep -q 'pthread' "$pc"; then
    echo "FAIL: the freestanding virtcore.pc names -lpthread"; exit 1
fi
grep -q -- '-DVCORE_FREESTANDING' "$pc" || { echo "FAIL: virtcore.pc lacks -DVCORE_FREESTANDING"; exit 1; }
echo "OK: the embedding recipe builds a higher-half kernel; the installed package is freestanding"
