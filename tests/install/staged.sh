#!/bin/bash
# Usage: tests/install/staged.sh MESON BUILDDIR NAME=PATH...
#
# "meson install" into a staging root (DESTDIR), as a distribution package
# build or a Yocto recipe does: every NAME=PATH given (absolute install
# paths, from meson) is there, the man pages format without warnings, the
# systemd unit passes "systemd-analyze verify", the sysusers.d file makes
# the vloopback group in the staging root, and the udev rule parses.
set -euo pipefail

meson=$1
build=$2
shift 2
stage=$(mktemp -d "${TMPDIR:-/tmp}/vlb-staged.XXXXXX")
trap 'rm -rf "$stage"' EXIT
failed=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

"$meson" install -C "$build" --destdir "$stage" --no-rebuild --quiet
declare -A path
for arg; do
	name=${arg%%=*}
	path[$name]=${arg#*=}
	if [ -e "$stage${path[$name]}" ]; then ok "installed: $name (${path[$name]})"; else not_ok "installed: $name (${path[$name]})"; fi
done

for page in $(find "$stage" -path '*/man/man[0-9]/*' -type f | sort); do
	# from the man root, as man(1) does: ".so man3/x.3" links resolve there
	warnings=$(cd "${page%/*}/.." && LC_ALL=C.UTF-8 groff -man -ww -z "$page" 2>&1)
	if [ -z "$warnings" ]; then ok "man page formats cleanly: ${page#"$stage"}"; else not_ok "man page ${page#"$stage"}: $warnings"; fi
done

unit=${path['systemd unit']:-}
ctl=${path['vloopbackctl']}
if [ -n "$unit" ] && command -v systemd-analyze >/dev/null; then
	# An instance, as "systemctl enable vloopback@disk0" makes it, whose
	# ExecStart must be the installed vloopbackctl: here, the staged one.
	dir=$stage/verify
	mkdir -p "$dir"
	grep -q "^ExecStart=$ctl attach " "$stage$unit" &&
		ok "vloopback@.service runs $ctl attach" ||
		not_ok "vloopback@.service does not run $ctl attach"
	sed "s|^ExecStart=$ctl |ExecStart=$stage$ctl |" "$stage$unit" >"$dir/vloopback@disk0.service"
	out=$(systemd-analyze verify "$dir/vloopback@disk0.service" 2>&1 |
		grep -v "Command 'man " || true)
	if [ -z "$out" ]; then ok "systemd-analyze verify vloopback@disk0.service"; else not_ok "systemd-analyze verify: $out"; fi
fi

sysusers=${path['sysusers.d']:-}
if [ -n "$sysusers" ] && command -v systemd-sysusers >/dev/null; then
	mkdir -p "$stage/etc"
	systemd-sysusers --root="$stage" "$stage$sysusers"
	if grep -q '^vloopback:x:[0-9]*:' "$stage/etc/group"; then
		ok "systemd-sysusers makes group vloopback: $(grep '^vloopback:' "$stage/etc/group")"
	else
		not_ok "systemd-sysusers did not make group vloopback"
	fi
fi

rule=${path['udev rule']:-}
if [ -n "$rule" ]; then
	# udevadm verify is newer than Debian 12's udev: check the one line
	line=$(grep -v '^#' "$stage$rule" | grep .)
	if [ "$line" = 'KERNEL=="virtio-loopback", SUBSYSTEM=="misc", GROUP="vloopback", MODE="0660"' ]; then
		ok "udev rule: $line"
	else
		not_ok "udev rule is not the expected one line: $line"
	fi
fi

if [ "$failed" -ne 0 ]; then
	echo "$failed check(s) failed; staged tree:"
	(cd "$stage" && find . -type f | sort)
	exit 1
fi
