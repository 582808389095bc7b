#!/bin/bash
# Usage: pip-install.sh MESON BUILDDIR PYTHON
# "pip install ./bindings/python" as a user does it, on a machine where
# libvloopback is installed (here: staged with meson install and found
# through PKG_CONFIG_*), into a fresh venv, without any package index.
# Then the installed module loads the staged library and reports a missing
# virtio_loopback.ko as vloopback.Error(ENOENT).
set -euo pipefail

meson=$1
build=$2
python=$3
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
"$python" -m venv "$stage/venv"
"$stage/venv/bin/pip" install --no-index --quiet "$stage/src"

export LD_LIBRARY_PATH=$stage/root$libdir VLB_DEVICE_NODE=$stage/no-such-node
cd "$stage"
"$stage/venv/bin/python" - <<'PY'
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
