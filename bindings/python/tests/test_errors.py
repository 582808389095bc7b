# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""-errno results become vloopback.Error, an OSError with that errno."""

import errno

import pytest

from vloopback import Error
from vloopback.errors import check


def test_check_passes_counts_and_fds_through():
    assert check(0, "x") == 0
    assert check(7, "x") == 7


@pytest.mark.parametrize("err", [errno.ENOENT, errno.EPERM, errno.ENODEV, errno.ESTALE])
def test_check_raises_error_with_the_errno(err):
    with pytest.raises(Error) as e:
        check(-err, "creating the device")
    assert e.value.errno == err
    assert isinstance(e.value, OSError)


def test_error_says_what_failed_and_why():
    e = Error(errno.ENOENT, "creating virtio device type 2")
    assert str(e) == "creating virtio device type 2: No such file or directory"
    assert e.strerror == "No such file or directory"
    assert e.what == "creating virtio device type 2"


def test_error_is_caught_as_oserror():
    with pytest.raises(OSError):
        check(-errno.EACCES, "x")
