#!/bin/sh
# Kernel coding style of kmod/, by the kernel's own scripts/checkpatch.pl.
# Debian's header packages do not ship it; linux-source-6.1 does, inside its
# tarball: the three files checkpatch needs are extracted once into CACHE.
#   usage: kmod/checkpatch.sh CACHE_DIR
# Ignored on purpose: EMBEDDED_FILENAME (it reads "ldev->vdev.config" as the
# file name dev.c), LINUX_VERSION_CODE and CONSTANT_COMPARISON (compat.h is
# where an out-of-tree module must test kernel versions).
set -eu
cache=$1
src=$(cd "$(dirname "$0")" && pwd)
tarball=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | tail -n 1)
if [ -z "$tarball" ]; then
	echo "checkpatch.sh: no /usr/src/linux-source-*.tar.xz (apt-get install linux-source-6.1)" >&2
	exit 1
fi
top=$(basename "$tarball" .tar.xz)
if [ ! -f "$cache/$top/scripts/checkpatch.pl" ]; then
	mkdir -p "$cache"
	tar -xJf "$tarball" -C "$cache" "$top/scripts/checkpatch.pl" \
		"$top/scripts/spelling.txt" "$top/scripts/const_structs.checkpatch"
fi
cd "$src"
exec perl "$cache/$top/scripts/checkpatch.pl" --no-tree --quiet --strict \
	--ignore EMBEDDED_FILENAME,LINUX_VERSION_CODE,CONSTANT_COMPARISON \
	-f ./*.c ./*.h
