#!/bin/bash
# Build virtio_loopback.ko for kernel KVER from the sources in SRC (the
# checkout's kmod/) into OUT, out of tree, failing on any warning.
#   usage: kmod/build.sh KVER SRC OUT    ->  OUT/virtio_loopback.ko
#
# Kbuild puts objects beside the sources and these kernels cannot separate
# the two for an external module, so OUT holds a mirror of the checkout's
# layout made of symlinks: OUT/kmod/ (Kbuild, *.c, *.h) and OUT/include/.
# Paths such as $(src)/../include in kmod/Kbuild resolve as in the checkout,
# each kernel gets its own objects, and the checkout stays clean.
# Kbuild tracks dependencies itself: run this on every build.
#
# The headers are Debian's, in /usr/src/linux-headers-KVER, or those of the
# Debian 13 root (tests/vm/trixie): when they were made with a compiler this
# machine lacks (CONFIG_CC_VERSION_TEXT names it, e.g. gcc-14 for 7.x), the
# build runs in that root, with the checkout and OUT bound at their paths.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 KVER SRC OUT" >&2
	exit 2
fi
kver=$1
src=$(realpath "$2")
out=$(realpath -m "$3")
kdir=/usr/src/linux-headers-$kver
trixie=$(dirname "$(realpath "$0")")/../tests/vm/trixie
# In the Debian 13 root when the headers are there or want its compiler
rc=0
"$trixie" builds "$kver" || rc=$?
case $rc in
0) in_root=1 ;;
1) in_root=0 ;;
*) exit 1 ;;
esac

if [ ! -f "$src/Kbuild" ]; then
	echo "build.sh: $src/Kbuild not found" >&2
	exit 1
fi

mkdir -p "$out/kmod"
ln -sfn "$(realpath "$src/../include")" "$out/include"
# Relink from scratch so that sources removed from the checkout disappear.
find "$out/kmod" -maxdepth 1 -type l -delete
find "$src" -maxdepth 1 -type f \( -name '*.[chS]' -o -name Kbuild \) \
	-exec ln -s -t "$out/kmod" {} +

log=$out/build.log
if [ $in_root = 1 ]; then
	make=("$trixie" run --bind "$(dirname "$src")" --bind "$out" make)
else
	make=(make)
fi
if ! "${make[@]}" -C "$kdir" M="$out/kmod" modules >"$log" 2>&1; then
	cat "$log" >&2
	echo "build.sh: building virtio_loopback.ko for $kver failed" >&2
	exit 1
fi
if grep -qi 'warning:' "$log"; then
	cat "$log" >&2
	# The objects are up to date now: remove them, or the next build
	# would not recompile them and the warnings would go unseen.
	find "$out/kmod" -maxdepth 1 -type f \( -name '*.o' -o -name '*.ko' \) -delete
	echo "build.sh: warnings building virtio_loopback.ko for $kver" >&2
	exit 1
fi
ln -f "$out/kmod/virtio_loopback.ko" "$out/virtio_loopback.ko"
echo "$out/virtio_loopback.ko"
