# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Requests: the descriptor chains a driver makes available."""

import errno
from typing import Iterator, Protocol, Sequence

from .errors import check


class _Owner(Protocol):
    """What a request needs from its device (a test may fake it)."""

    def _complete(self, request: "Request", written: int, notify: bool) -> int:
        ...


def spans(views: Sequence[memoryview], offset: int,
          length: int) -> Iterator[memoryview]:
    """Yield slices of views covering [offset, offset + length) of their
    concatenation, in order; stop early where the views end."""
    for view in views:
        if length <= 0:
            return
        size = len(view)
        if offset >= size:
            offset -= size
            continue
        chunk = min(size - offset, length)
        yield view[offset:offset + chunk]
        length -= chunk
        offset = 0


class Request:
    """One request from the driver.

    ``readable`` are the buffers the driver filled (read them), ``writable``
    the buffers it wants filled (write them): ``memoryview`` s straight onto
    the device's shared memory, no copies.  They are valid until
    ``complete()``, which releases them; do not keep slices of them past
    it (copy what you need, e.g. ``bytes(view)``).

    A request must be completed exactly once, from any thread, during
    ``handle()`` or later.
    """

    __slots__ = ("readable", "writable", "_owner", "_handle", "_done")

    def __init__(self, owner: _Owner, handle: object,
                 readable: Sequence[memoryview],
                 writable: Sequence[memoryview]) -> None:
        self.readable: Sequence[memoryview] = readable
        self.writable: Sequence[memoryview] = writable
        self._owner = owner
        self._handle = handle
        self._done = False

    @property
    def done(self) -> bool:
        """True once completed (or dropped with its device)."""
        return self._done

    @property
    def readable_size(self) -> int:
        """Bytes the driver passed in readable."""
        return sum(len(v) for v in self.readable)

    @property
    def writable_size(self) -> int:
        """Room in writable."""
        return sum(len(v) for v in self.writable)

    def read(self, offset: int = 0, size: int = -1) -> bytes:
        """A copy of size bytes (-1: all) of readable, from offset."""
        if size < 0:
            size = max(self.readable_size - offset, 0)
        return b"".join(spans(self.readable, offset, size))

    def write(self, data: bytes, offset: int = 0) -> int:
        """Copy data into writable at offset; returns the bytes that fit."""
        src = memoryview(data).cast("B")
        done = 0
        for dst in spans(self.writable, offset, len(src)):
            dst[:] = src[done:done + len(dst)]
            done += len(dst)
        return done

    def complete(self, written: int = 0, notify: bool = True) -> bool:
        """Give the request back to the driver, saying written bytes of
        writable were filled (from its start; the library clamps it).

        notify=False defers the interrupt: complete a batch so, then call
        ``queue.notify()``.  Returns False if the driver reset the device
        since it made the request (nothing is returned to it then); raises
        vloopback.Error if the queue broke.
        """
        if self._done:
            raise RuntimeError("request already completed")
        if written < 0:
            raise ValueError(f"written must be >= 0, not {written}")
        self._drop()
        rc = self._owner._complete(self, written, notify)
        if rc == -errno.ESTALE:
            return False
        check(rc, "completing a request")
        return True

    def _drop(self) -> None:
        """Forget the buffers: they are the driver's again."""
        self._done = True
        for view in (*self.readable, *self.writable):
            try:
                view.release()
            except BufferError:
                pass    # something still exports it; nothing more we can do
