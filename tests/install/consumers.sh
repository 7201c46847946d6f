#!/usr/bin/env bash
# tests/install/consumers.sh PREFIX OUT: builds and runs consumers of the increstore
# installed under PREFIX (a `cmake --install --prefix` tree, or the usr/ of unpacked
# Debian packages), in OUT:
#   - with plain `pkg-config --cflags --libs increstore` (never --static): it links the
#     shared library when PREFIX has one (checked: DT_NEEDED libincrestore.so.0.1), else
#     the static library (checked: no DT_NEEDED on libincrestore);
#   - with find_package(increstore): increstore::increstore, and
#     increstore::increstore_static when PREFIX has both libraries;
#   - the increstore command, when PREFIX has one (its --version names the library).
# Every consumer runs (tests/install/consumer.c) and must print its line.
set -euo pipefail
prefix=$(cd "$1" && pwd) out=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
pc=$(find "$prefix" -name increstore.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || { echo "no increstore.pc under $prefix"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
soname=$(sed -n 's/^Version: \([0-9]*\)\.\([0-9]*\)\..*/libincrestore.so.\1.\2/p' "$pc")
[ "${soname#libincrestore.so.0.}" != "$soname" ] || soname=${soname%.*} # from 1.0: .so.MAJOR
export PKG_CONFIG_PATH=$libdir/pkgconfig LD_LIBRARY_PATH=$libdir
# A .pc with an absolute prefix (the packages' /usr) inside an unpacked tree: pkg-config
# prepends the tree (PKG_CONFIG_SYSROOT_DIR) to the paths it prints.
pcprefix=$(sed -n 's/^prefix=//p' "$pc")
case $pcprefix in
/*) export PKG_CONFIG_SYSROOT_DIR=${prefix%"$pcprefix"} ;;
esac

needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
expect_link() { # binary, shared|static
	if [ "$2" = shared ]; then
		needed "$1" | grep -qx "$soname" || { echo "$1: no DT_NEEDED $soname"; needed "$1"; exit 1; }
	elif needed "$1" | grep -q '^libincrestore'; then
		echo "$1: links $(needed "$1" | grep '^libincrestore'), expected the static library"; exit 1
	fi
	"$1" | grep -q '^consumer: increstore ' || { echo "$1 did not run"; exit 1; }
	echo "$(basename "$1"): $2 library: OK"
}
kind=static
[ -e "$libdir/libincrestore.so" ] && kind=shared

# pkg-config, as most C users link: no --static
cc -o "$out/consumer_pkgconfig" "$here/consumer.c" $(pkg-config --cflags --libs increstore)
expect_link "$out/consumer_pkgconfig" $kind

# CMake
cmake -S "$here" -B "$out/cmake" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$out/cmake" >/dev/null
expect_link "$out/cmake/consumer_cmake" $kind
if [ $kind = shared ]; then
	[ -e "$libdir/libincrestore.a" ] || { echo "$libdir has no libincrestore.a"; exit 1; }
	expect_link "$out/cmake/consumer_cmake_static" static
fi

if [ -x "$prefix/bin/increstore" ]; then
	"$prefix/bin/increstore" --version | grep -q "^library: libincrestore " ||
		{ echo "$prefix/bin/increstore --version failed"; exit 1; }
	echo "increstore --version: OK"
fi
