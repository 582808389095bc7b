# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Requests: the descriptor chains a driver makes available."""

import errno
from typing import Any, Iterator, Protocol, Sequence

from .errors import check


class _Owner(Protocol):
    """What a request needs from its device (a test may fake it)."""

    def _complete(self, request: "Request", written: int, notify: bool) -> int:
        ...


def spans(views: Sequence[Any], offset: int, length: int) -> Iterator[Any]:
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
    the buffers it wants filled (write them): ``vloopback.Buffer`` s
    straight onto the device's shared memory, no copies.  A Buffer is
    bytes-like (``len``, indexing, slicing, slice assignment, the buffer
    protocol: ``bytes(buf)``, ``f.readinto(buf)``...).  They are valid until
    ``complete()``: from then on a Buffer, or any slice of it, that was
    kept raises ValueError (copy what you need, e.g. ``bytes(buf)``).  A
    ``memoryview`` of one holds the raw memory, so ``complete()`` raises
    BufferError while any is alive: release it first (``with
    memoryview(buf) as m: ...``).

    A request must be completed exactly once, from any thread, during
    ``handle()`` or later.
    """

    __slots__ = ("readable", "writable", "_owner", "_handle", "_done")

    def __init__(self, owner: _Owner, handle: object,
                 readable: Sequence[Any], writable: Sequence[Any]) -> None:
        self.readable: Sequence[Any] = readable
        self.writable: Sequence[Any] = writable
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
        vloopback.Error if the queue broke, and BufferError, completing
        nothing, while a memoryview of one of its buffers is alive.
        """
        if self._done:
            raise RuntimeError("request already completed")
        if written < 0:
            raise ValueError(f"written must be >= 0, not {written}")
        self.check_unexported()
        self._drop()
        rc = self._owner._complete(self, written, notify)
        if rc == -errno.ESTALE:
            return False
        check(rc, "completing a request")
        return True

    def check_unexported(self) -> None:
        """Raise BufferError if a memoryview of one of the buffers (or of a
        slice of one) is alive: then the request cannot be completed."""
        if any(getattr(view, "exported", False)
               for view in (*self.readable, *self.writable)):
            raise BufferError("a memoryview of this request's buffers is still "
                              "alive: release it before completing the request")

    def _drop(self) -> None:
        """Forget the buffers: they are the driver's again.  Revokes the
        Buffers (and their slices); the caller checked that none is
        exported."""
        self._done = True
        self._revoke()

    def _revoke(self) -> None:
        for view in (*self.readable, *self.writable):
            try:
                view.release()
            except BufferError:
                pass    # a plain memoryview (a test's) with exports
