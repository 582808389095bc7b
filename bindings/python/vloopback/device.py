# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Devices and their queues: the device side of a virtio device, in Python."""

import asyncio
import enum
import errno
import functools
import glob
import importlib
import logging
import os
import select
import threading
import time
from typing import Any, Callable, Dict, NamedTuple, Optional, Set, Tuple

from .errors import Error, check
from .request import Request

_c: Any
try:
    _c = importlib.import_module("._vloopback", __package__)
except ImportError as _exc:     # the pure-Python parts still import (tests, docs)
    _c = None
    _c_missing = _exc

log = logging.getLogger("vloopback")

# A request's buffers (see Request); None without the C module
Buffer: Any = getattr(_c, "Buffer", None)

SYSFS_VIRTIO = "/sys/bus/virtio/devices"


class DeviceType(NamedTuple):
    """A virtio device type the library knows (struct vlb_device_type)."""
    name: str           # short name: "blk", "fs", "9p"...
    ident: str          # its DeviceId member's name: "BLOCK", "NINEP"...
    id: int             # VIRTIO_ID_*
    driver: Optional[str]   # the kernel module that drives it
    sysfs: str          # what the driver makes under virtioN/ (a glob)


def device_types() -> Tuple[DeviceType, ...]:
    """The library's table of device types (the one vloopbackctl uses)."""
    return tuple(DeviceType(*t) for t in _lib().vlbpy_device_types())


# The virtio device types of the library's table, by ident (DeviceId.BLOCK,
# DeviceId.RNG...); empty without the C module
DeviceId = enum.IntEnum(    # type: ignore[misc]
    "DeviceId", [] if _c is None else [(t[1], t[2]) for t in _c.vlbpy_device_types()])


def _lib() -> Any:
    if _c is None:
        raise ImportError("vloopback's C module (_vloopback) is not built or not "
                          "found: build with meson -Dpython=enabled or pip install "
                          f"it ({_c_missing})")
    return _c


# The library's syslog-style levels (VLB_LOG_*) as logging's
_LEVELS = {3: logging.ERROR, 4: logging.WARNING, 6: logging.INFO, 7: logging.DEBUG}


def _log_from_c(level: int, msg: str) -> None:
    log.log(_LEVELS.get(level, logging.ERROR), "%s", msg)


if _c is not None:
    _c.vlbpy_set_log(_log_from_c)


class Queue:
    """One virtqueue.  ``fileno()`` becomes readable when the driver kicks
    it; ``dispatch()`` then passes the new requests to ``Device.handle``."""

    def __init__(self, device: "Device", index: int, handle: object) -> None:
        self.device = device
        self.index = index
        self._q = handle

    def fileno(self) -> int:
        """The kick eventfd (owned by the device)."""
        return int(_lib().vlb_queue_fd(self._q))

    def dispatch(self) -> int:
        """Handle the requests the driver made available; never blocks.
        Returns how many.  Raises Error(EIO) while the queue is broken (the
        driver wrote a malformed ring; it stays so until the driver resets
        the device)."""
        rc = _lib().vlb_queue_dispatch(self._q)
        self.device._raise_pending()
        return check(rc, f"queue {self.index}")

    def notify(self) -> None:
        """Interrupt the driver for requests completed with notify=False."""
        check(_lib().vlb_queue_notify(self._q), f"queue {self.index}: notify")

    def set_lazy_kick(self, min_held: int) -> None:
        """For a queue whose buffers the device keeps until it has data for
        them (input events): while the device holds at least ``min_held``
        requests, the driver adds buffers without kicking; ``dispatch()``
        takes them.  0 (the default) turns it off."""
        if not 0 <= min_held < 2**32:
            raise ValueError(f"min_held must be 0..2**32-1, not {min_held}")
        _lib().vlb_queue_set_lazy_kick(self._q, min_held)

    def __repr__(self) -> str:
        return f"<Queue {self.index} of {self.device!r}>"


class Device:
    """A virtio device served by this process; the kernel's own driver
    (virtio_blk, virtio_rng...) binds to it through virtio_loopback.ko.

    Subclass it: set the class attributes (or pass them to ``__init__``),
    implement ``handle()``, and optionally the ``on_*`` hooks::

        class Rng(vloopback.Device):
            device_id = vloopback.DeviceId.RNG

            def handle(self, queue, request):
                n = request.write(os.urandom(request.writable_size))
                request.complete(n)

        with Rng() as rng:      # the kernel device exists...
            rng.start()         # ...drivers may bind: serve from now on
            rng.wait_sysfs("driver")
            rng.run()           # until rng.stop() or Ctrl-C
        # ...and is removed here

    Serve it with ``run()`` (blocking, the GIL released while it waits),
    ``await serve()`` in asyncio, or any loop of your own: ``fileno()``
    and each ``queues[i].fileno()`` become readable when ``dispatch()``
    has work.  Callbacks run on the thread that dispatches.

    A ``handle()`` that raises fails that request (``request_failed()``
    decides how the driver hears it), the traceback is logged, and the
    device keeps serving.

    Threads: as in C, one thread at a time dispatches the device and one
    each queue; requests may be completed from any thread.
    """

    device_id: int = 0
    features: int = 0           # offered (device-specific bits)
    num_queues: int = 1
    queue_size: int = 128       # a power of two
    config: bytes = b""         # initial config space
    shm_size: int = 0           # shared area bytes, 0: the module's default
    vendor_id: int = 0
    # The device outlives this process: if it dies, the kernel keeps the
    # device (quiesced) for recovery_timeout_ms (0: the module's default)
    # and Device.recover(index) in a new process takes it over.  The data
    # must outlive the process too (a file).
    recoverable: bool = False
    recovery_timeout_ms: int = 0

    _dev: object = None         # so close() works on a half-made device
    _stop_fd: int = -1

    def __init__(self, *, device_id: Optional[int] = None,
                 features: Optional[int] = None,
                 num_queues: Optional[int] = None,
                 queue_size: Optional[int] = None,
                 config: Optional[bytes] = None,
                 shm_size: Optional[int] = None,
                 vendor_id: Optional[int] = None,
                 recoverable: Optional[bool] = None,
                 recovery_timeout_ms: Optional[int] = None,
                 _recover_index: int = -1) -> None:
        """Create the kernel device (no driver binds before ``start()``).
        Each argument overrides the class attribute of the same name.
        Raises Error (e.g. ENOENT when virtio_loopback.ko is not loaded,
        EPERM for a device type the module does not allow)."""
        for name, value in (("device_id", device_id), ("features", features),
                            ("num_queues", num_queues), ("queue_size", queue_size),
                            ("config", config), ("shm_size", shm_size),
                            ("vendor_id", vendor_id),
                            ("recoverable", recoverable),
                            ("recovery_timeout_ms", recovery_timeout_ms)):
            if value is not None:
                setattr(self, name, value)
        lib = _lib()
        self._held: Set[Request] = set()
        # Serializes close() with completions from other threads: C must
        # never complete a request of a destroyed device
        self._close_lock = threading.Lock()
        self._pending: Optional[BaseException] = None
        self._poller: Optional[select.poll] = None
        rc, dev = lib.vlbpy_dev_create(self, self.device_id, self.vendor_id,
                                       self.num_queues, self.queue_size,
                                       self.features, self.config,
                                       self.shm_size,
                                       1 if self.recoverable else 0,
                                       self.recovery_timeout_ms,
                                       _recover_index)
        check(rc, f"taking over vloopback{_recover_index}" if _recover_index >= 0
              else f"creating virtio device type {self.device_id}")
        self._dev = dev
        self._stop_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self.queues: Tuple[Queue, ...] = tuple(
            Queue(self, i, lib.vlb_dev_queue(dev, i)) for i in range(self.num_queues))
        self._by_fd: Dict[int, Queue] = {q.fileno(): q for q in self.queues}

    @classmethod
    def recover(cls, index: int, **kwargs: Any) -> "Device":
        """Take over quiesced device vloopback<index>, created recoverable
        by a process that died, with this class's handlers (``num_queues``
        and ``queue_size`` must be those it was created with; the kernel
        kept the rest).  The device is started already; serve it: the
        first dispatch calls ``on_features`` and ``on_driver_ok``, then the
        queues hold every request the dead process left, each once.
        Raises Error: ENOENT no such device, EPERM another user's, EBUSY
        not quiesced."""
        if index < 0:
            raise ValueError("index is N of vloopbackN, >= 0")
        return cls(_recover_index=index, **kwargs)

    @property
    def index(self) -> int:
        """N of /sys/devices/virtual/misc/virtio-loopback/vloopbackN: what
        ``recover()`` takes."""
        return check(_lib().vlb_dev_index(self._handle()), "vlb_dev_index")

    # ---- what a device implements ----

    def handle(self, queue: Queue, request: Request) -> None:
        """A request on queue: serve it and ``request.complete()`` it, now
        or later (from any thread)."""
        raise NotImplementedError(f"{type(self).__name__}.handle")

    def request_failed(self, queue: Queue, request: Request,
                       exc: BaseException) -> None:
        """``handle()`` raised exc before completing request: tell the
        driver.  The default completes it with nothing written; a device
        whose protocol has an error status (virtio-blk) writes it here."""
        request.complete(0)

    def on_features(self, acked: int) -> None:
        """The driver accepted these features (all bits).  Raise to refuse:
        an OSError's errno (e.g. vloopback.Error's) is the answer, anything
        else EIO."""

    def on_driver_ok(self) -> None:
        """The driver is ready: requests may come from now on."""

    def on_reset(self) -> None:
        """The driver reset the device: forget its state.  Requests still
        held are dropped (their buffers are revoked, their ``complete()``
        returns False)."""

    def on_config_write(self, offset: int, data: bytes) -> None:
        """The driver wrote data at offset of config space (already stored).
        A device whose config reacts updates it with
        ``set_config(..., notify=False)``.  Raise to refuse, as on_features."""

    # ---- serving ----

    def start(self) -> None:
        """Let drivers bind.  From now on serve the device: the driver's
        probe waits for answers (the module fails the device after its
        timeout, 10 s by default)."""
        check(_lib().vlb_dev_start(self._handle()), "starting the device")

    def fileno(self) -> int:
        """The device fd (owned by the device): readable when ``dispatch()``
        has messages from the driver."""
        return int(_lib().vlb_dev_fd(self._handle()))

    def dispatch(self) -> int:
        """Handle the driver's pending messages (features, driver ok,
        reset, config writes), calling the on_* hooks; never blocks.
        Returns how many.  Raises Error(ENODEV) once the kernel has failed
        the device (it is gone: close it)."""
        rc = _lib().vlb_dev_dispatch(self._handle())
        self._raise_pending()
        return check(rc, "serving the device")

    def run(self) -> None:
        """Serve the device and its queues on this thread until ``stop()``.
        The GIL is released while waiting, and signal handlers run (Ctrl-C
        raises KeyboardInterrupt here, as usual).  Raises Error(ENODEV) if
        the kernel fails the device."""
        while self._serve(None):
            pass

    def stop(self) -> None:
        """Make the current or next ``run()``, ``serve()`` or
        ``wait_sysfs()`` return.  Any thread; fine in a signal handler."""
        os.eventfd_write(self._stop_fd, 1)

    async def serve(self) -> None:
        """Serve the device from the running asyncio loop until ``stop()``.
        Raises Error(ENODEV) if the kernel fails the device."""
        loop = asyncio.get_running_loop()
        done: "asyncio.Future[None]" = loop.create_future()

        def reader(fn: Callable[[], Any]) -> Callable[[], None]:
            def read() -> None:
                try:
                    fn()
                except Exception as exc:    # pylint: disable=broad-except
                    if not done.done():
                        done.set_exception(exc)
            return read

        def stopped() -> None:
            if self._consume_stop() and not done.done():
                done.set_result(None)

        fds = {self._stop_fd: stopped, self.fileno(): reader(self.dispatch)}
        for q in self.queues:
            fds[q.fileno()] = reader(functools.partial(self._dispatch_queue, q))
        for fd, fn in fds.items():
            loop.add_reader(fd, fn)
        try:
            await done
        finally:
            for fd in fds:
                loop.remove_reader(fd)

    def find_sysfs(self, pattern: str) -> Optional[str]:
        """The last path component of the first match of pattern (a glob
        relative to /sys/bus/virtio/devices/virtioN/) or None yet."""
        index = self.virtio_index
        if index is None:
            return None
        hits = sorted(glob.glob(f"{SYSFS_VIRTIO}/virtio{index}/{pattern}"))
        return os.path.basename(hits[0]) if hits else None

    def wait_sysfs(self, pattern: str, timeout: Optional[float] = 10.0) -> str:
        """Serve the device until the driver has made something in sysfs
        (see find_sysfs), e.g. "block/vd*" for a disk's name, "driver"
        for "a driver is bound"; return its name.  Raises
        Error(ETIMEDOUT) after timeout seconds (None: no limit) and
        Error(EINTR) after ``stop()``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            name = self.find_sysfs(pattern)
            if name is not None:
                return name
            wait = 0.02     # sysfs cannot be polled: look again this often
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    raise Error(errno.ETIMEDOUT, f"waiting for {pattern} in sysfs")
            if not self._serve(wait):
                raise Error(errno.EINTR, f"waiting for {pattern} in sysfs")

    # ---- state ----

    @property
    def virtio_index(self) -> Optional[int]:
        """N of /sys/bus/virtio/devices/virtioN, None until registered."""
        rc = _lib().vlb_dev_virtio_index(self._handle())
        return None if rc == -errno.EAGAIN else check(rc, "virtio index")

    @property
    def negotiated_features(self) -> int:
        """The features the driver accepted; 0 before and after a reset."""
        return int(_lib().vlb_dev_features(self._handle()))

    def set_config(self, offset: int, data: bytes, notify: bool = True) -> None:
        """Update config space at offset; notify raises a config change
        interrupt in the driver (not needed from on_config_write)."""
        check(_lib().vlb_dev_set_config(self._handle(), offset, data, notify),
              "setting the config space")

    def close(self) -> None:
        """Remove the kernel device (its requests in flight fail) and drop
        the requests still held: their buffers are gone (revoked: a Buffer
        kept raises ValueError).  Raises BufferError, and closes nothing,
        while a memoryview of a held request's buffer is alive (as
        ``mmap.close()`` does): the mapping stays until it is released.
        Safe against completions on other threads (they return False from
        then on)."""
        if self._dev is None:
            return      # also a half-made device, without a lock yet
        with self._close_lock:
            if self._dev is None:
                return
            for request in self._held:
                request.check_unexported()
            for request in self._held:
                request._drop()
            self._held.clear()
            dev, self._dev = self._dev, None
            _lib().vlb_dev_destroy(dev)
        self._poller = None
        if self._stop_fd >= 0:
            os.close(self._stop_fd)
            self._stop_fd = -1

    def __enter__(self) -> "Device":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if _c is not None:
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._dev is None else f"virtio{self.virtio_index}"
        return f"<{type(self).__name__} type {self.device_id} {state}>"

    # ---- internals ----

    def _handle(self) -> object:
        if self._dev is None:
            raise Error(errno.EBADF, "the device is closed")
        return self._dev

    def _consume_stop(self) -> bool:
        try:
            os.eventfd_read(self._stop_fd)
            return True
        except BlockingIOError:
            return False

    def _dispatch_queue(self, queue: Queue) -> None:
        try:
            queue.dispatch()
        except Error:
            pass    # a broken queue: logged by the library; waits for a reset

    def _serve(self, timeout: Optional[float]) -> bool:
        """Wait up to timeout seconds (None: forever) for work and do it.
        False when stopped."""
        if self._poller is None:
            self._poller = select.poll()
            for fd in (self._stop_fd, self.fileno(), *self._by_fd):
                self._poller.register(fd, select.POLLIN)
        ms = None if timeout is None else max(int(timeout * 1000), 0)
        ready = {fd for fd, _ in self._poller.poll(ms)}
        if self._stop_fd in ready and self._consume_stop():
            return False
        if self.fileno() in ready:
            self.dispatch()
        for fd in ready:
            if fd in self._by_fd:
                self._dispatch_queue(self._by_fd[fd])
        return True

    def _raise_pending(self) -> None:
        """A KeyboardInterrupt (or SystemExit) raised in a callback could not
        cross the C library: raise it now that the library has returned."""
        exc, self._pending = self._pending, None
        if exc is not None:
            raise exc

    def _complete(self, request: Request, written: int, notify: bool) -> int:
        complete = _lib().vlb_req_complete if notify else _lib().vlb_req_complete_nonotify
        with self._close_lock:
            self._held.discard(request)
            if self._dev is None:
                return -errno.ESTALE     # dropped with the device
            return int(complete(request._handle, written))

    def _hook_failed(self, what: str, exc: BaseException) -> int:
        """The errno a hook's exception answers the driver with."""
        if not isinstance(exc, Exception):
            self._pending = exc
            return -errno.EINTR
        if isinstance(exc, OSError) and exc.errno:
            log.warning("%s refused: %s", what, exc)
            return -exc.errno
        log.error("%s failed", what, exc_info=exc)
        return -errno.EIO

    # Called by the C library (through the shim in vloopback.i); never raise.

    def _on_request(self, index: int, handle: object, readable: Tuple[Any, ...],
                    writable: Tuple[Any, ...]) -> None:
        request = Request(self, handle, readable, writable)
        self._held.add(request)
        queue = self.queues[index]
        try:
            self.handle(queue, request)
        except BaseException as exc:    # pylint: disable=broad-except
            self._handler_raised(queue, request, exc)

    def _handler_raised(self, queue: Queue, request: Request,
                        exc: BaseException) -> None:
        if isinstance(exc, Exception):
            log.error("%r queue %d: handler raised; failing the request",
                      self, queue.index, exc_info=exc)
        else:
            self._pending = exc
        if request.done:
            return
        try:
            self.request_failed(queue, request, exc)
        except Exception:   # pylint: disable=broad-except
            log.exception("%r queue %d: request_failed raised too", self, queue.index)
        if not request.done:
            try:
                request.complete(0)
            except Error:
                pass    # the queue broke meanwhile: logged by the library
            except BufferError:
                log.error("%r queue %d: a memoryview of a failed request's buffer "
                          "is still alive: the request stays held until it is "
                          "released and the request completed", self, queue.index)

    def _on_features(self, acked: int) -> int:
        try:
            self.on_features(acked)
        except BaseException as exc:    # pylint: disable=broad-except
            return self._hook_failed("feature negotiation", exc)
        return 0

    def _on_driver_ok(self) -> None:
        try:
            self.on_driver_ok()
        except BaseException as exc:    # pylint: disable=broad-except
            self._hook_failed("on_driver_ok", exc)

    def _on_reset(self) -> None:
        # The driver takes its buffers back: revoke those still held (their
        # complete() returns False)
        for request in self._held:
            try:
                request.check_unexported()
            except BufferError:
                log.warning("%r: reset while a memoryview of a held request's "
                            "buffer is alive: it still maps the driver's memory",
                            self)
            request._revoke()
        try:
            self.on_reset()
        except BaseException as exc:    # pylint: disable=broad-except
            self._hook_failed("on_reset", exc)

    def _on_config_write(self, offset: int, data: bytes) -> int:
        try:
            self.on_config_write(offset, data)
        except BaseException as exc:    # pylint: disable=broad-except
            return self._hook_failed("config write", exc)
        return 0


def module_info() -> Dict[str, int]:
    """The loaded virtio_loopback.ko's API version and limits (keys as in
    struct vlb_module_info).  Raises Error, e.g. ENOENT when not loaded."""
    rc, info = _lib().vlb_module_info()
    check(rc, "asking virtio_loopback.ko")
    return dict(info)
