# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Request: views over scattered buffers, and completing exactly once."""

import errno

import pytest

from vloopback import Error, Request
from vloopback.request import spans


class Owner:
    """Records completions; answers rc."""

    def __init__(self, rc=0):
        self.rc = rc
        self.completed = []

    def _complete(self, request, written, notify):
        self.completed.append((request, written, notify))
        return self.rc


def views(*chunks, readonly=False):
    out = tuple(memoryview(bytearray(c)) for c in chunks)
    return tuple(v.toreadonly() for v in out) if readonly else out


def make(readable=(), writable=(), rc=0):
    owner = Owner(rc)
    return Request(owner, "handle", views(*readable, readonly=True),
                   views(*(bytes(n) for n in writable))), owner


def test_spans_cover_a_range_across_buffers():
    vs = views(b"abc", b"", b"defg", b"hi")
    assert [bytes(s) for s in spans(vs, 2, 6)] == [b"c", b"defg", b"h"]
    assert [bytes(s) for s in spans(vs, 0, 100)] == [b"abc", b"defg", b"hi"]
    assert list(spans(vs, 9, 1)) == []


def test_spans_are_views_not_copies():
    buf = bytearray(4)
    (s,) = spans((memoryview(buf),), 1, 2)
    s[:] = b"xy"
    assert buf == b"\0xy\0"


def test_read_gathers_readable():
    r, _ = make(readable=(b"head", b"er", b"data"))
    assert r.readable_size == 10
    assert r.read() == b"headerdata"
    assert r.read(4, 4) == b"erda"
    assert r.read(8) == b"ta"


def test_write_scatters_into_writable():
    r, _ = make(writable=(3, 2, 4))
    assert r.writable_size == 9
    assert r.write(b"12345", 1) == 5
    assert [bytes(v) for v in r.writable] == [b"\x0012", b"34", b"5\0\0\0"]


def test_write_returns_what_fits():
    r, _ = make(writable=(2,))
    assert r.write(b"abcdef") == 2


def test_readable_is_read_only():
    r, _ = make(readable=(b"x",))
    with pytest.raises(TypeError):
        r.readable[0][0] = 1


def test_complete_passes_written_and_notify():
    r, owner = make(writable=(8,))
    assert r.complete(5, notify=False) is True
    assert owner.completed == [(r, 5, False)]
    assert r.done


def test_complete_releases_the_views():
    r, _ = make(readable=(b"abc",), writable=(4,))
    r.complete(0)
    with pytest.raises(ValueError):
        bytes(r.readable[0])
    with pytest.raises(ValueError):
        r.writable[0][0] = 1


def test_complete_twice_is_an_error():
    r, owner = make(writable=(1,))
    r.complete(1)
    with pytest.raises(RuntimeError):
        r.complete(1)
    assert len(owner.completed) == 1


def test_negative_written_is_refused():
    r, owner = make(writable=(1,))
    with pytest.raises(ValueError):
        r.complete(-1)
    assert not owner.completed and not r.done


def test_stale_completion_returns_false():
    r, _ = make(writable=(1,), rc=-errno.ESTALE)
    assert r.complete(1) is False


def test_broken_queue_completion_raises_eio():
    r, _ = make(writable=(1,), rc=-errno.EIO)
    with pytest.raises(Error) as e:
        r.complete(1)
    assert e.value.errno == errno.EIO
    assert r.done
