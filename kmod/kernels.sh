#!/bin/sh
# Usage: kmod/kernels.sh SERIES...
#
# Print, for each kernel series (6.1, 6.12, 7...), the newest version whose
# Debian amd64 headers are installed, in /usr/src/linux-headers-KVER or in
# the Debian 13 root (tests/vm/trixie path), where 7.x headers live, and
# whose image the test guests can boot (/boot/vmlinuz-KVER).  A series with
# none prints nothing.  Picking by series keeps the build and the
# tests on Debian's newest ABI of each without naming one.
set -eu

root=$("$(dirname "$0")/../tests/vm/trixie" path)
for series; do
	for d in /usr/src/linux-headers-"$series".*-amd64 \
		"$root"/usr/src/linux-headers-"$series".*-amd64; do
		[ -f "$d/Makefile" ] || continue
		k=${d##*/linux-headers-}
		# 6.1.0-57-amd64, 7.3.4+deb13-amd64; not -cloud-amd64 or -rt-amd64
		case $k in *-cloud-amd64|*-rt-amd64) continue ;; esac
		[ -f "/boot/vmlinuz-$k" ] || continue
		echo "$k"
	done | sort -V | tail -n 1
done
