#!/bin/bash
# Usage: tests/install/deb-check.sh
#
# The Debian packages build from a copy of the checkout (its files that git
# tracks or would track), with dpkg-buildpackage as a Debian build does, and
# each holds what it should.  Exit 77 (skipped) without git, dpkg-dev or the
# build dependencies (tests/vm/install-deps installs them).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
failed=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

command -v dpkg-buildpackage >/dev/null || { echo "no dpkg-buildpackage: skipped"; exit 77; }
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || { echo "not a git checkout: skipped"; exit 77; }
(cd "$top" && dpkg-checkbuilddeps) || { echo "build dependencies missing: skipped"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vlb-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
src=$work/vloopback
mkdir "$src"
git -C "$top" ls-files -z --cached --others --exclude-standard |
	(cd "$top" && xargs -0 cp --parents -t "$src" 2>/dev/null) || true

if ! (cd "$src" && dpkg-buildpackage -b -uc -us) >"$work/build.log" 2>&1; then
	tail -n 40 "$work/build.log"
	not_ok "dpkg-buildpackage -b"
	exit 1
fi
ok "dpkg-buildpackage -b"

# has PACKAGE PATH...: the package's .deb holds every PATH
has() {
	local pkg=$1 deb list p
	shift
	deb=$(ls "$work/${pkg}_"*.deb 2>/dev/null | grep -v dbgsym | head -n 1)
	[ -n "$deb" ] || { not_ok "$pkg: no .deb"; return; }
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
	for p; do
		grep -qx "\./$p" <<<"$list" || { not_ok "$pkg: no $p"; return; }
	done
	ok "$pkg holds $*"
}
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
dkms_src=usr/src/vloopback-$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$top/dkms.conf")
has libvloopback0 "usr/lib/$multiarch/libvloopback.so.0"
has libvloopback-dev usr/include/vloopback/vloopback.h usr/include/vloopback/uapi.h \
	"usr/lib/$multiarch/pkgconfig/vloopback.pc" usr/share/man/man3/vloopback.3.gz \
	usr/share/man/man3/vlb_queue_pop.3.gz usr/share/man/man3/vlb_dev_destroy.3.gz
has vloopback-dkms $dkms_src/dkms.conf $dkms_src/kmod/Kbuild \
	$dkms_src/include/vloopback/uapi.h lib/udev/rules.d/60-vloopback.rules \
	usr/lib/sysusers.d/vloopback.conf usr/lib/modules-load.d/vloopback.conf \
	usr/share/man/man4/virtio_loopback.4.gz
has vloopbackctl usr/sbin/vloopbackctl lib/systemd/system/vloopback@.service \
	usr/share/man/man8/vloopbackctl.8.gz
has python3-vloopback usr/lib/python3/dist-packages/vloopback/__init__.py

deps=$(dpkg-deb -f "$work"/vloopback-dkms_*.deb Depends)
grep -q dkms <<<"$deps" && ok "vloopback-dkms depends on dkms ($deps)" ||
	not_ok "vloopback-dkms does not depend on dkms: $deps"
dpkg-deb -I "$work"/vloopback-dkms_*.deb postinst | grep -q 'dkms' &&
	ok "vloopback-dkms's postinst runs DKMS" || not_ok "vloopback-dkms's postinst does not run DKMS"

[ "$failed" -eq 0 ]
