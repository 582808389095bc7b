#!/bin/bash
# Usage: abi-compat.sh LIB BASELINE HEADERS_DIR SUPPRESSIONS
# LIB (the built libvloopback.so.0) against BASELINE (abidw of the last
# release, committed), with abidiff from abigail-tools.  Fails on any change
# abidiff reports that SUPPRESSIONS does not declare compatible (a symbol
# removed, a type changed other than by appending to a struct that carries
# its size), and on a symbol added to a version node that was released
# (new symbols go into a new node, see lib/libvloopback.map).
# Regenerate the baseline only at a release:
#   abidw --headers-dir include/vloopback --no-corpus-path \
#         --out-file tests/abi/libvloopback-X.Y.abi build/lib/libvloopback.so.0.X.Y.0
set -euo pipefail

lib=$1
base=$2
headers=$3
suppr=$4

if ! command -v abidiff >/dev/null; then
	echo "abi-compat: abidiff not found (apt install abigail-tools, or run tests/vm/install-deps)" >&2
	exit 1
fi

rc=0
abidiff --no-added-syms --suppressions "$suppr" --headers-dir2 "$headers" \
	"$base" "$lib" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "abi-compat: $(basename "$lib") is not compatible with $(basename "$base") (abidiff exit $rc, above)" >&2
	exit 1
fi

# Released nodes keep exactly their symbols
released=$(grep -o "version='VLOOPBACK_[^']*'" "$base" | sort -u | cut -d"'" -f2)
now=$(readelf --dyn-syms -W "$lib" | awk '$8 ~ /@/ { print $8 }' | tr -d '@' |
	sed 's/VLOOPBACK_/ VLOOPBACK_/' | sort)
for node in $released; do
	want=$(grep -o "name='[^']*' version='$node'" "$base" | cut -d"'" -f2 | sort)
	got=$(awk -v n="$node" '$2 == n { print $1 }' <<<"$now" | sort)
	if [ "$want" != "$got" ]; then
		echo "abi-compat: released node $node changed:" >&2
		diff <(echo "$want") <(echo "$got") >&2 || true
		exit 1
	fi
done
echo "abi-compat: compatible with $(basename "$base"); released nodes: $(echo $released)"
