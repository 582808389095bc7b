# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Fixtures for the pure-Python layer's tests.

FakeLib stands in for the C module (vloopback._vloopback), which needs the
kernel module: it is a fake, named so, for what the host cannot produce.
Its fds are real eventfds, so the run loops really poll; a test queues
requests with submit() and messages with message(), which the next
dispatch delivers the way the shim in vloopback.i does: as the C module's
vloopback.Buffer when it is importable (the python-module run), plain
memoryviews otherwise (python-unit, from the sources).
"""

import errno
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest

from vloopback import device as device_mod

Buffer = device_mod.Buffer      # None when the C module is not importable


class FakeRequest:
    """A request's buffers, and what the device did with it."""

    def __init__(self, readable: Sequence[bytes], writable: Sequence[int]) -> None:
        self.readable = [bytearray(b) for b in readable]
        self.writable = [bytearray(n) for n in writable]
        self.completions: List[Tuple[int, bool]] = []

    @property
    def written_bytes(self) -> bytes:
        return b"".join(self.writable)

    @property
    def status(self) -> int:
        """The last writable byte (virtio-blk's status)."""
        return self.written_bytes[-1]


class FakeLib:
    def __init__(self) -> None:
        self.dev_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.queue_fds: List[int] = []
        self.device = None
        self.create_args: Tuple = ()
        self.create_rc = 0
        self.dispatch_rc: Optional[int] = None
        self.complete_rc = 0
        self.virtio_index = -errno.EAGAIN
        self.destroyed = 0
        self.started = 0
        self.requests: Dict[int, List[FakeRequest]] = {}
        self.messages: List[Callable[[object], None]] = []
        self.replies: List[object] = []
        self.lazy_kick: Dict[int, int] = {}
        self.destroying = False
        self.destroy_delay = 0.0
        self.completed_while_destroyed = 0

    def close(self) -> None:
        for fd in (self.dev_fd, *self.queue_fds):
            os.close(fd)

    # What tests do

    def submit(self, queue: int, readable: Sequence[bytes],
               writable: Sequence[int]) -> FakeRequest:
        r = FakeRequest(readable, writable)
        self.requests.setdefault(queue, []).append(r)
        os.eventfd_write(self.queue_fds[queue], 1)
        return r

    def message(self, fn: Callable[[object], object]) -> None:
        """fn(device) runs in the next vlb_dev_dispatch; its result is the reply."""
        self.messages.append(fn)
        os.eventfd_write(self.dev_fd, 1)

    # The C module's API, as device.py uses it

    def vlbpy_dev_create(self, device, device_id, vendor_id, num_queues,
                         queue_size, features, config, shm_size, flags,
                         recovery_timeout_ms, recover_index):
        memoryview(config)      # the C typemap takes any bytes-like object
        self.create_args = (device_id, vendor_id, num_queues, queue_size,
                            features, bytes(config), shm_size)
        self.recovery_args = (flags, recovery_timeout_ms, recover_index)
        if self.create_rc < 0:
            return [self.create_rc, None]
        self.device = device
        self.queue_fds = [os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                          for _ in range(num_queues)]
        return [0, "dev"]

    def vlb_dev_start(self, dev):
        self.started += 1
        return 0

    def vlb_dev_destroy(self, dev):
        self.destroying = True
        time.sleep(self.destroy_delay)      # releases the GIL, as C does
        self.destroyed += 1
        self.destroying = False

    def vlb_dev_fd(self, dev):
        return self.dev_fd

    def vlb_dev_queue(self, dev, i):
        return ("queue", i)

    def vlb_dev_virtio_index(self, dev):
        return self.virtio_index

    def vlb_dev_features(self, dev):
        return 0

    def vlb_dev_dispatch(self, dev):
        try:
            os.eventfd_read(self.dev_fd)
        except BlockingIOError:
            pass
        if self.dispatch_rc is not None:
            return self.dispatch_rc
        n = 0
        while self.messages:
            self.replies.append(self.messages.pop(0)(self.device))
            n += 1
        return n

    def vlb_queue_fd(self, q):
        return self.queue_fds[q[1]]

    def vlb_queue_dispatch(self, q):
        try:
            os.eventfd_read(self.queue_fds[q[1]])
        except BlockingIOError:
            pass
        todo = self.requests.pop(q[1], [])
        for r in todo:
            self.device._on_request(q[1], r, views(r.readable, True),
                                    views(r.writable, False))
        return len(todo)

    def vlb_queue_notify(self, q):
        return 0

    def vlb_queue_set_lazy_kick(self, q, min_held):
        self.lazy_kick[q[1]] = min_held

    def vlb_req_complete(self, req, written):
        return self._completed(req, written, True)

    def vlb_req_complete_nonotify(self, req, written):
        return self._completed(req, written, False)

    def _completed(self, req, written, notify):
        if self.destroying or self.destroyed:
            self.completed_while_destroyed += 1     # a use after free in C
        time.sleep(0)       # C releases the GIL: let close() interleave
        req.completions.append((written, notify))
        return self.complete_rc


def views(buffers, readonly):
    """What the shim hands Python: Buffers (C module built) or memoryviews."""
    if Buffer is not None:
        return tuple(Buffer(b, readonly=readonly) for b in buffers)
    return tuple(memoryview(b).toreadonly() if readonly else memoryview(b)
                 for b in buffers)


@pytest.fixture
def fake_lib(monkeypatch):
    lib = FakeLib()
    monkeypatch.setattr(device_mod, "_c", lib)
    yield lib
    lib.close()
