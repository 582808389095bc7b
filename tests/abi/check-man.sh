#!/bin/bash
# Usage: check-man.sh MAP MANDIR [INSTALLED.3...]
# Every exported symbol (MAP's global ones) has its page MANDIR/SYMBOL.3,
# which is a page whose NAME section names it or a ".so man3/PAGE.3" link
# to one; every .3 page but vloopback.3 is named for an exported symbol and
# names only exported symbols; vloopback.3's FUNCTIONS section lists
# exactly the exported symbols; every page formats without a warning.
set -euo pipefail

map=$1
mandir=$2
shift 2
fail=0
bad() { echo "check-man: $*" >&2; fail=1; }

symbols=$(perl -0pe 's{/\*.*?\*/}{}gs' "$map" | awk '
	/global:/ { global = 1; next }
	/local:|\}/ { global = 0; next }
	global { gsub(/[;[:space:]]/, ""); if ($0 != "") print }
' | sort -u)
[ -n "$symbols" ] || { bad "no symbols found in $map"; exit 1; }

# The names a page's NAME section gives, one a line
page_names() {
	awk '/^\.SH NAME/ { getline; sub(/ \\- .*/, ""); gsub(/,/, " "); print; exit }' "$1" |
		tr ' ' '\n' | grep -v '^$' || true
}

for sym in $symbols; do
	page=$mandir/$sym.3
	if [ ! -f "$page" ]; then
		bad "$sym is exported but has no man page ($page)"
		continue
	fi
	target=$(sed -n '1s/^\.so man3\/\(.*\)$/\1/p' "$page")
	[ -n "$target" ] && page=$mandir/$target
	[ -f "$page" ] || { bad "$sym.3 links to a missing page $target"; continue; }
	page_names "$page" | grep -qx "$sym" ||
		bad "$sym.3: $(basename "$page")'s NAME section does not name $sym"
done

for page in "$mandir"/*.3; do
	name=$(basename "$page" .3)
	[ "$name" = vloopback ] && continue
	grep -qx "$name" <<<"$symbols" || bad "$name.3: no such exported symbol"
	for n in $(page_names "$page"); do
		grep -qx "$n" <<<"$symbols" || bad "$name.3 names $n, which is not exported"
	done
done

# vloopback(3) lists every function's page: ".BR name (3)" lines under FUNCTIONS
listed=$(awk '/^\.SH FUNCTIONS/ { on = 1; next } /^\.SH/ { on = 0 }
	on && /^\.BR / { print $2 }' "$mandir/vloopback.3" | sort)
[ "$listed" = "$symbols" ] || bad "vloopback.3's FUNCTIONS differ from the exports:
$(diff <(echo "$listed") <(echo "$symbols") || true)"

if [ $# -gt 0 ]; then
	have=$(cd "$mandir" && ls vlb_*.3 | sort)
	installed=$(printf '%s\n' "$@" | sort)
	[ "$have" = "$installed" ] || bad "man/meson.build installs other pages than man/ has:
$(diff <(echo "$installed") <(echo "$have") || true)"
fi

# Format each as man(1) would, from a man root (for the .so links)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
ln -s "$(cd "$mandir" && pwd)" "$root/man3"
for page in "$mandir"/*.3; do
	out=$(cd "$root" && LC_ALL=C.UTF-8 groff -man -ww -z -Tutf8 "man3/$(basename "$page")" 2>&1)
	[ -z "$out" ] || bad "$(basename "$page") does not format cleanly: $out"
done

[ "$fail" = 0 ] && echo "check-man: $(wc -w <<<"$symbols") symbols, each with its page"
exit "$fail"
