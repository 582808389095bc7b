#!/bin/bash
# Usage: install-consumer.sh MESON BUILDDIR LIBDIR INCLUDEDIR
# Install the build into a staging directory and use it as a user would:
# the expected files are there, pkg-config finds the library, and a C and a
# C++ program build against it and run, reporting a missing node cleanly.
# LIBDIR and INCLUDEDIR are the absolute install paths (prefix included).
set -euo pipefail

meson=$1
build=$2
libdir=$3
includedir=$4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/vlb-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT

fail() {
	echo "install-consumer: $*" >&2
	exit 1
}

"$meson" install -C "$build" --destdir "$stage" --no-rebuild --quiet

for f in "$libdir/libvloopback.so.0" "$libdir/pkgconfig/vloopback.pc" \
	"$includedir/vloopback/vloopback.h" "$includedir/vloopback/uapi.h"; do
	[ -e "$stage$f" ] || fail "$f not installed"
done

export PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$stage$libdir/pkgconfig
version=$(pkg-config --modversion vloopback)
flags=$(pkg-config --cflags --libs vloopback)
cc -std=c99 -Wall -Wextra -pedantic -Werror -o "$stage/consumer" \
	"$here/consumer.c" $flags
c++ -std=c++11 -Wall -Wextra -pedantic -Werror -o "$stage/consumer-cxx" \
	"$here/consumer-cxx.cpp" $flags

export LD_LIBRARY_PATH=$stage$libdir
ldd "$stage/consumer" >"$stage/ldd"
grep -q "=> $stage$libdir/libvloopback.so.0 " "$stage/ldd" ||
	fail "consumer does not load the staged library: $(cat "$stage/ldd")"

node=$stage/no-such-node
VLB_DEVICE_NODE=$node "$stage/consumer" >"$stage/out" 2>"$stage/err" ||
	fail "consumer failed: $(cat "$stage/out" "$stage/err")"
cat "$stage/out" "$stage/err"

expect_out="vloopback $version ($version)
vlb_module_info: -2 (No such file or directory)"
expect_err="vloopback: cannot open $node: No such file or directory (is virtio_loopback.ko loaded? try: modprobe virtio_loopback)"
[ "$(cat "$stage/out")" = "$expect_out" ] || fail "stdout is not: $expect_out"
[ "$(cat "$stage/err")" = "$expect_err" ] || fail "stderr is not: $expect_err"

VLB_DEVICE_NODE=$node "$stage/consumer-cxx" >"$stage/out" 2>"$stage/err" ||
	fail "C++ consumer failed"
cat "$stage/out"
[ "$(cat "$stage/out")" = "c++: vloopback $version, vlb_module_info: -2" ] ||
	fail "C++ consumer printed something else"
[ ! -s "$stage/err" ] || fail "C++ consumer's log function was not used"
