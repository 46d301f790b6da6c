#!/bin/sh
# run.sh BUILD_DIR CONSUMER_SRC CC - install test (see CMakeLists.txt).
set -eu
build="$1"; src="$2"; cc="$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pcdir=$(dirname "$(find "$tmp/prefix" -name virtcore.pc | head -n 1)")
libdir=$(dirname "$pcdir")

echo "-- pkg-config consumer"
export PKG_CONFIG_PATH="$pcdir"
backends=$(pkg-config --variable=backends virtcore)
echo "backends=$backends"
case ",$backends," in *,mock,*) ;; *) echo "virtcore.pc lacks mock in backends="; exit 1;; esac
# shellcheck disable=SC2046
"$cc" -std=c99 -Wall -Werror -o "$tmp/consumer-pc" "$src/consumer.c" \
    $(pkg-config --cflags --libs virtcore) -Wl,-rpath,"$libdir"
"$tmp/consumer-pc"

echo "-- find_package consumer"
cmake -S "$src" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/consumer"

# The tool and its man page, when the build has tools.
if [ -f "$build/tools/virtcore-check" ]; then
    echo "-- virtcore-check"
    [ -x "$tmp/prefix/bin/virtcore-check" ] || { echo "virtcore-check not installed"; exit 1; }
    man1=$(find "$tmp/prefix" -path '*/man1/virtcore-check.1' | head -n 1)
    [ -n "$man1" ] || { echo "virtcore-check.1 not installed"; exit 1; }
    n=$("$tmp/prefix/bin/virtcore-check" vmx --list-checks | wc -l)
    echo "checks=$n"
    [ "$n" -ge 214 ] || { echo "fewer than 214 checks"; exit 1; }
fi
