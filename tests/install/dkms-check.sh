#!/bin/bash
# Usage: tests/install/dkms-check.sh KVER...
#
# DKMS builds and installs virtio_loopback.ko for each KVER from the source
# tree tools/dkms-install makes, the way it does on a user's machine, but
# with private copies of DKMS's directories (sources, build tree, install
# tree, signing key): the system's DKMS state and /lib/modules are never
# touched, and "dkms remove --all" leaves nothing behind.
# A kernel whose headers are in the Debian 13 root, or want a compiler this
# machine lacks (7.x: gcc-14), is built by that root's own dkms, in it, as
# on a Debian 13 machine (tests/vm/trixie builds KVER says which).
# Exit 77 (skipped) without dkms or without any KVER.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

fail() {
	echo "not ok - $*"
	exit 1
}

command -v dkms >/dev/null || { echo "dkms not installed (tests/vm/install-deps): skipped"; exit 77; }
[ $# -gt 0 ] || { echo "no kernel with headers: skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "dkms install needs root: skipped"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vlb-dkms.XXXXXX")
trap 'rm -rf "$work"' EXIT
# DKMS signs what it builds, with a key it makes in /var/lib/dkms unless told
export mok_signing_key=$work/mok.key mok_certificate=$work/mok.pub

version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf")
"$top/tools/dkms-install" --copy-only --dest "$work/src/vloopback-$version" ||
	fail "tools/dkms-install --copy-only"
dk=(-m vloopback -v "$version" --sourcetree "$work/src" --dkmstree "$work/dkms"
	--installtree "$work/modules" --no-depmod)

# dkms_for KVER ARGS...: this machine's dkms, or the Debian 13 root's
dkms_for() {
	local kver=$1 rc=0
	shift
	"$top/tests/vm/trixie" builds "$kver" || rc=$?
	case $rc in
	# Its dkms looks for the headers in the install tree unless told
	0) "$top/tests/vm/trixie" run --bind "$work" \
		env mok_signing_key="$mok_signing_key" mok_certificate="$mok_certificate" \
		dkms "$@" --kernelsourcedir "/usr/src/linux-headers-$kver" ;;
	1) dkms "$@" ;;
	*) return 1 ;;
	esac
}

mkdir -p "$work/dkms" "$work/modules"
dkms add "${dk[@]}" >"$work/add.log" 2>&1 || { cat "$work/add.log"; fail "dkms add"; }
echo "ok - dkms add vloopback/$version"
for kver in "$@"; do
	if ! dkms_for "$kver" build "${dk[@]}" -k "$kver" >"$work/build.log" 2>&1; then
		cat "$work/build.log"
		cat "$work/dkms/vloopback/$version/build/make.log" 2>/dev/null || true
		fail "dkms build -k $kver"
	fi
	echo "ok - dkms build -k $kver$("$top/tests/vm/trixie" builds "$kver" && echo ' (in the Debian 13 root)')"
	mkdir -p "$work/modules/$kver"
	dkms_for "$kver" install "${dk[@]}" -k "$kver" >"$work/install.log" 2>&1 ||
		{ cat "$work/install.log"; fail "dkms install -k $kver"; }
	ko=$(find "$work/modules/$kver" -name 'virtio_loopback.ko*')
	[ -n "$ko" ] || fail "dkms install -k $kver put no virtio_loopback.ko in the install tree"
	magic=$(modinfo -F vermagic "$ko")
	[ "${magic%% *}" = "$kver" ] || fail "$ko is for '${magic%% *}', not $kver"
	echo "ok - dkms install -k $kver: ${ko#"$work/modules/"} (vermagic $kver)"
done

dkms remove "${dk[@]}" --all >"$work/remove.log" 2>&1 ||
	{ cat "$work/remove.log"; fail "dkms remove --all"; }
left=$(find "$work/modules" "$work/dkms" -name 'virtio_loopback.ko*')
[ -z "$left" ] || fail "dkms remove --all left: $left"
echo "ok - dkms remove --all leaves no module behind"
