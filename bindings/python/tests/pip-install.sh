#!/bin/bash
# Usage: pip-install.sh MESON BUILDDIR PYTHON [PYTHON...]
# "pip install ./bindings/python" as a user does it, on a machine where
# libvloopback is installed (here: staged with meson install and found
# through PKG_CONFIG_*), into a fresh venv of each PYTHON, with the pip
# that venv comes with, without any package index.  Then the installed
# module loads the staged library and reports a missing virtio_loopback.ko
# as vloopback.Error(ENOENT).  An extra PYTHON without its C headers is
# skipped; the pip versions used are printed (pip >= 23.1 no longer builds a
# setup.py without pyproject.toml).
set -euo pipefail

meson=$1
build=$2
shift 2
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stage=$(mktemp -d "${TMPDIR:-/tmp}/vlb-pip.XXXXXX")
trap 'rm -rf "$stage"' EXIT

"$meson" install -C "$build" --destdir "$stage/root" --no-rebuild --quiet
pc=$(cd "$stage/root" && find . -name vloopback.pc -printf '%h\n' | head -n 1)
libdir=$(dirname "${pc#.}")
export PKG_CONFIG_SYSROOT_DIR=$stage/root PKG_CONFIG_LIBDIR=$stage/root${pc#.}

# pip builds in the tree it is given: give it a copy
cp -r "$src" "$stage/src"
rm -rf "$stage/src/tests"
export LD_LIBRARY_PATH=$stage/root$libdir VLB_DEVICE_NODE=$stage/no-such-node
first=1
for python in "$@"; do
	inc=$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
	if [ -z "$first" ] && [ ! -e "$inc/Python.h" ]; then
		echo "pip-install: $python has no C headers: skipped"
		continue
	fi
	first=
	venv=$stage/venv-$(basename "$python")-$RANDOM
	"$python" -m venv "$venv"
	echo "pip-install: $("$venv/bin/pip" --version)"
	(cd "$stage" && "$venv/bin/pip" install --no-index --quiet "$stage/src")
	(cd "$stage" && "$venv/bin/python" - <<'PY'
import errno
import vloopback
from vloopback import _vloopback

assert vloopback.__file__.startswith(__import__("sys").prefix), vloopback.__file__
try:
    vloopback.module_info()
except vloopback.Error as e:
    assert e.errno == errno.ENOENT, e
else:
    raise AssertionError("module_info() without a module did not fail")
print("pip-installed vloopback", _vloopback.VERSION, "works")
PY
	)
done
