# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""pip install ./bindings/python: the binding, built against the installed
libvloopback (found with pkg-config; set PKG_CONFIG_PATH for a private
prefix).  Needs swig and the Python headers, and no network: there is no
pyproject.toml on purpose, so pip builds with the setuptools already
installed instead of fetching a build environment.  (Inside the source
tree, meson builds the same module: -Dpython=enabled.)
"""

import os
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def pkg_config(*args: str) -> list:
    try:
        out = subprocess.run(["pkg-config", *args, "vloopback"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit("vloopback: pkg-config does not find libvloopback "
                         "(install it with: meson install -C build; for another "
                         "prefix set PKG_CONFIG_PATH)") from exc
    return shlex.split(out)


class BuildExt(build_ext):
    """Runs SWIG into the build directory, not next to the .i, and with
    -threads; the proxy module SWIG also writes is not used (the package
    is ours)."""

    def swig_sources(self, sources, extension):
        os.makedirs(self.build_temp, exist_ok=True)
        out = []
        for src in sources:
            if src.endswith(".i"):
                target = os.path.join(self.build_temp, "vloopback_wrap.c")
                self.spawn(["swig", "-python", "-threads", *extension.swig_opts,
                            "-o", target, "-outdir", self.build_temp, src])
                src = target
            out.append(src)
        return out


cflags = pkg_config("--cflags")
setup(
    name="vloopback",
    version=pkg_config("--modversion")[0],
    description="Write the device side of virtio devices in Python (virtio_loopback.ko)",
    license="LGPL-2.1-or-later OR MIT",
    python_requires=">=3.10",
    packages=["vloopback"],
    package_data={"vloopback": ["py.typed"]},
    ext_modules=[Extension(
        "vloopback._vloopback",
        sources=["vloopback.i", "buffer.c"],
        include_dirs=["."],
        swig_opts=[f for f in cflags if f.startswith("-I")] + ["-I."],
        extra_compile_args=cflags,
        extra_link_args=pkg_config("--libs"),
    )],
    cmdclass={"build_ext": BuildExt},
)
