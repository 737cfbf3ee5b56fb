#!/usr/bin/env bash
# install_check.sh - `make install` into a fresh prefix, then the README's quickstart line run
# verbatim on docs/examples/quickstart.c by a user of that prefix (PKG_CONFIG_PATH and
# LD_LIBRARY_PATH set, nothing else). Also checks that the README's C block is quickstart.c,
# that the program runs on the installed shared library, that a static link of libtapegrad.a
# works, that every docs/examples program builds the same way, that the installed command and
# man page work, and that `make uninstall` removes every file. .ci/run calls it after
# `make test`; run it from anywhere. See LICENSE.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() {
    echo "install_check: $*" >&2
    exit 1
}

# pkg-config is not on a fresh Debian machine: install pkgconf as root, as make deps does
if ! command -v pkg-config >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq --no-install-recommends pkgconf
    else
        fail "pkg-config is missing; run as root: apt-get install -y pkgconf"
    fi
fi

# The README's C block is docs/examples/quickstart.c, byte for byte.
readme_c=$(awk '/^```c$/ { on = 1; next } on && /^```$/ { exit } on' README.md)
[ "$readme_c" = "$(cat docs/examples/quickstart.c)" ] ||
    fail "README.md's C block differs from docs/examples/quickstart.c:
$(diff <(printf '%s\n' "$readme_c") docs/examples/quickstart.c)"

# The README's command line (after "$ ") and the line it prints.
line=$(sed -n 's/^\$ \(cc quickstart\.c .*\)$/\1/p' README.md)
[ "$(printf '%s\n' "$line" | wc -l)" = 1 ] && [ -n "$line" ] ||
    fail "README.md needs exactly one '\$ cc quickstart.c ...' line"
want=$(awk -v l="\$ $line" '$0 == l { getline; print; exit }' README.md)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
make --no-print-directory install PREFIX="$prefix" DESTDIR= >"$tmp/install.log" ||
    fail "make install failed: $(cat "$tmp/install.log")"
grep '^tapegrad:' "$tmp/install.log" || true

# what a user of a custom prefix sets (README.md, "Installing")
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export LD_LIBRARY_PATH=$prefix/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

mkdir "$tmp/work"
cp docs/examples/quickstart.c "$tmp/work/"
cd "$tmp/work"
echo "\$ $line"
got=$(bash -c "$line") || fail "the README's line failed"
echo "$got"
[ "$got" = "$want" ] || fail "the README shows: $want"

so=$(ldd ./quickstart | awk '$1 == "libtapegrad.so.0" { print $3 }')
[ "$so" = "$prefix/lib/libtapegrad.so.0" ] ||
    fail "quickstart is not linked against the installed libtapegrad.so.0 (ldd: '$so')"
echo "ldd: libtapegrad.so.0 => ${so#"$tmp"/}"

# libtapegrad.a alone, its own dependencies from Libs.private
cc quickstart.c $(pkg-config --cflags --libs --static tapegrad | sed 's/-ltapegrad\b/-l:libtapegrad.a/') \
    -o quickstart-static
[ "$(./quickstart-static)" = "$want" ] || fail "the statically linked quickstart printed otherwise"
! ldd ./quickstart-static | grep -q libtapegrad || fail "quickstart-static needs libtapegrad.so"
echo "static link of libtapegrad.a: same output"

# every docs/examples program builds the same way (docs/custom-loss.md shows it for one)
for e in "$root"/docs/examples/*.c; do
    n=$(basename "$e" .c)
    cc "$e" $(pkg-config --cflags --libs tapegrad) -o "ex-$n" >/dev/null || fail "$n.c did not build"
    ./"ex-$n" >/dev/null || fail "$n exited with status $?"
done
echo "docs/examples: $(ls "$root"/docs/examples/*.c | wc -l) programs built with pkg-config, and run"

version=$(pkg-config --modversion tapegrad)
[ "$("$prefix/bin/tapegrad" --version)" = "tapegrad $version" ] ||
    fail "tapegrad --version is not 'tapegrad $version' (tapegrad.pc)"
echo "tapegrad --version: tapegrad $version, as tapegrad.pc says"
if command -v man >/dev/null 2>&1; then
    MANWIDTH=80 man -l "$prefix/share/man/man1/tapegrad.1" 2>&1 | grep -q '^ *tapegrad grad' ||
        fail "the installed man page does not render"
    echo "man -l share/man/man1/tapegrad.1: renders"
else
    echo "man is not installed: the man page's rendering was not checked"
fi

cd "$root"
make --no-print-directory uninstall PREFIX="$prefix" DESTDIR= >/dev/null
left=$(find "$prefix" ! -type d)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "make uninstall: no file left in the prefix"
