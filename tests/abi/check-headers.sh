#!/bin/bash
# Usage: check-headers.sh INCLUDEDIR
# Every public header compiles on its own, as strict C99 and as C++11,
# without warnings: programs include them with whatever flags they use.
set -euo pipefail

inc=$1
cc=${CC:-cc}
cxx=${CXX:-c++}
fail=0

for h in "$inc"/vloopback/*.h; do
	name=vloopback/$(basename "$h")
	src="#include <$name>"
	if ! echo "$src" | "$cc" -std=c99 -Wall -Wextra -pedantic -Werror \
		-fsyntax-only -I "$inc" -x c -; then
		echo "check-headers: $name fails as C99" >&2
		fail=1
	fi
	if ! echo "$src" | "$cxx" -std=c++11 -Wall -Wextra -pedantic -Werror \
		-fsyntax-only -I "$inc" -x c++ -; then
		echo "check-headers: $name fails as C++11" >&2
		fail=1
	fi
done
exit $fail
