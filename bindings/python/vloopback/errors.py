# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The one exception libvloopback's failures become."""

import os


class Error(OSError):
    """A libvloopback or kernel call failed.

    ``errno`` is the C library's error (compare it with the ``errno``
    module's constants), ``what`` says what was being done.  The library
    has usually logged a line with more detail and a hint (to the
    ``vloopback`` logger).
    """

    def __init__(self, err: int, what: str) -> None:
        super().__init__(err, os.strerror(err))
        self.what = what

    def __str__(self) -> str:
        return f"{self.what}: {self.strerror}"


def check(rc: int, what: str) -> int:
    """Return a C call's result, or raise Error if it is a -errno."""
    if rc < 0:
        raise Error(-rc, what)
    return rc
