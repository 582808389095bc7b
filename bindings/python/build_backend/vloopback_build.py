# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The binding's PEP 517 build backend: ``pip install ./bindings/python``.

It uses the standard library only, so pip's isolated build environment
needs nothing from a package index: the install works offline with any pip
that reads pyproject.toml (and pip >= 23.1 no longer builds a setup.py
without one).  It runs what meson runs for the same module: SWIG over
vloopback.i, then the C compiler over the wrapper and buffer.c against the
installed libvloopback, found with pkg-config (set PKG_CONFIG_PATH for
another prefix), and zips the package into a wheel for this interpreter.
Needs swig, a C compiler and the Python headers.
"""

import base64
import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile

NAME = "vloopback"
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_FILES = ("__init__.py", "blk.py", "device.py", "errors.py", "py.typed",
                 "request.py")


def _pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, NAME], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit("vloopback: pkg-config does not find libvloopback "
                         "(install it with: meson install -C build; for another "
                         "prefix set PKG_CONFIG_PATH)") from exc
    return shlex.split(out)


def _version():
    return _pkg_config("--modversion")[0]


def _tag():
    """python-abi-platform of this interpreter (CPython only: a C module)."""
    if sys.implementation.name != "cpython":
        raise SystemExit("vloopback: the binding is a CPython extension")
    py = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"{py}-{py}-{plat}"


def _metadata():
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {_version()}\n"
            "Summary: Write the device side of virtio devices in Python "
            "(virtio_loopback.ko)\n"
            "License: LGPL-2.1-or-later OR MIT\nRequires-Python: >=3.10\n")


def _wheel_info():
    return (f"Wheel-Version: 1.0\nGenerator: {NAME}_build\n"
            f"Root-Is-Purelib: false\nTag: {_tag()}\n")


def _dist_info():
    return f"{NAME}-{_version()}.dist-info"


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    d = os.path.join(metadata_directory, _dist_info())
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "METADATA"), "w", encoding="utf-8") as f:
        f.write(_metadata())
    with open(os.path.join(d, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_info())
    return _dist_info()


def _run(cmd):
    print(" ".join(shlex.quote(c) for c in cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)


def _compile(tmp):
    """The extension module, built in tmp; its path."""
    cflags = _pkg_config("--cflags")
    wrap = os.path.join(tmp, "vloopback_wrap.c")
    _run(["swig", "-python", "-threads",
          *[f for f in cflags if f.startswith("-I")], "-I" + SRC,
          "-o", wrap, "-outdir", tmp, os.path.join(SRC, "vloopback.i")])
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    if not shutil.which(cc[0]):
        cc = ["cc"]
    out = os.path.join(tmp, "_vloopback" + sysconfig.get_config_var("EXT_SUFFIX"))
    _run([*cc, "-shared", "-fPIC", "-O2", "-g", "-Wno-unused-parameter",
          "-I" + sysconfig.get_paths()["include"], "-I" + SRC, *cflags,
          wrap, os.path.join(SRC, "buffer.c"), "-o", out,
          *_pkg_config("--libs")])
    return out


def _record_line(arcname, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"{arcname},sha256={digest.decode()},{len(data)}"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    files = {}
    for name in PACKAGE_FILES:
        with open(os.path.join(SRC, NAME, name), "rb") as f:
            files[f"{NAME}/{name}"] = f.read()
    with tempfile.TemporaryDirectory() as tmp:
        ext = _compile(tmp)
        with open(ext, "rb") as f:
            files[f"{NAME}/{os.path.basename(ext)}"] = f.read()
    info = _dist_info()
    files[f"{info}/METADATA"] = _metadata().encode()
    files[f"{info}/WHEEL"] = _wheel_info().encode()
    record = [_record_line(n, d) for n, d in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()

    wheel = f"{NAME}-{_version()}-{_tag()}.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel
