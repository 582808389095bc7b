#!/bin/bash
# Usage: check-exports.sh LIB.so MAP
# The library's ABI is what its version script says: LIB.so must export
# exactly the symbols MAP lists, each at the version node MAP puts it in,
# all named vlb_*, and be named libvloopback.so.0.
set -euo pipefail

so=$1
map=$2
fail=0

# "symbol@@NODE" for every global symbol of MAP (comments stripped).
listed=$(perl -0pe 's{/\*.*?\*/}{}gs' "$map" | awk '
	/^[[:space:]]*[A-Za-z_][A-Za-z0-9_.]*[[:space:]]*\{/ { node = $1; next }
	/global:/ { global = 1; next }
	/local:|\}/ { global = 0; next }
	global { gsub(/[;[:space:]]/, ""); if ($0 != "") print $0 "@@" node }
' | sort)

# The same for the exports, less the version nodes' own absolute symbols.
exported=$(nm -D --defined-only --with-symbol-versions "$so" |
	awk '$2 != "A" { print $3 }' | sort)

if [ -z "$listed" ]; then
	echo "check-exports: no symbols found in $map" >&2
	exit 1
fi

unlisted=$(comm -13 <(echo "$listed") <(echo "$exported"))
missing=$(comm -23 <(echo "$listed") <(echo "$exported"))
if [ -n "$unlisted" ]; then
	echo "check-exports: exported but not in $(basename "$map") (or at another node):" >&2
	echo "$unlisted" | sed 's/^/  /' >&2
	fail=1
fi
if [ -n "$missing" ]; then
	echo "check-exports: in $(basename "$map") but not exported (missing VLB_EXPORT?):" >&2
	echo "$missing" | sed 's/^/  /' >&2
	fail=1
fi
offprefix=$(echo "$exported" | grep -v '^vlb_' || true)
if [ -n "$offprefix" ]; then
	echo "check-exports: exported without the vlb_ prefix:" >&2
	echo "$offprefix" | sed 's/^/  /' >&2
	fail=1
fi

soname=$(objdump -p "$so" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != libvloopback.so.0 ]; then
	echo "check-exports: SONAME is '$soname', not libvloopback.so.0" >&2
	fail=1
fi

[ $fail = 0 ] && echo "$(echo "$exported" | wc -l) symbols, all in the map; SONAME $soname"
exit $fail
