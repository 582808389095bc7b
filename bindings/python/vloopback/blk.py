# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""virtio-blk: a base class for disks, and the protocol's pieces.

A request is a 16-byte header the driver wrote (type, reserved, sector),
the data (readable for writes, writable for reads), and a status byte,
the last writable byte.  BlockDevice parses it and calls ``read()`` and
``write()`` once per buffer segment, with a ``vloopback.Buffer`` onto the
driver's buffer, valid during the call only (it is released when the call
returns: keep a copy, ``bytes(buf)``, not the Buffer); a disk only
implements those two::

    class RamDisk(BlockDevice):
        def __init__(self, size):
            super().__init__(size)
            self.ram = bytearray(size)

        def read(self, offset, buf):
            buf[:] = self.ram[offset:offset + len(buf)]

        def write(self, offset, data):
            self.ram[offset:offset + len(data)] = data
"""

import struct
from typing import Any, Callable, NamedTuple, Optional, Sequence

from .device import Device, Queue
from .request import Request, spans

SECTOR = 512

# Request types (VIRTIO_BLK_T_*)
T_IN = 0
T_OUT = 1
T_FLUSH = 4
T_GET_ID = 8

# Status (VIRTIO_BLK_S_*)
S_OK = 0
S_IOERR = 1
S_UNSUPP = 2

# Feature bits (VIRTIO_BLK_F_*)
F_SEG_MAX = 2
F_BLK_SIZE = 6
F_FLUSH = 9

ID_BYTES = 20       # the serial number GET_ID returns

_HEADER = struct.Struct("<IIQ")
# struct virtio_blk_config up to the write-zeroes fields; the driver only
# reads the fields of the features offered
CONFIG_SIZE = 60


class Header(NamedTuple):
    """A request's header (struct virtio_blk_outhdr)."""
    type: int
    sector: int


def parse_header(request: Request) -> Optional[Header]:
    """The request's header, or None if it is too short to have one or a
    status byte (then there is no way to answer it but an empty completion)."""
    if request.readable_size < _HEADER.size or request.writable_size < 1:
        return None
    type_, _, sector = _HEADER.unpack(request.read(0, _HEADER.size))
    return Header(type_, sector)


def config(size: int, *, seg_max: int, blk_size: int = SECTOR) -> bytes:
    """The config space of a disk of size bytes (capacity, seg_max and
    blk_size set; offer F_SEG_MAX and F_BLK_SIZE with it)."""
    c = bytearray(CONFIG_SIZE)
    struct.pack_into("<Q", c, 0, size // SECTOR)
    struct.pack_into("<I", c, 12, seg_max)
    struct.pack_into("<I", c, 20, blk_size)
    return bytes(c)


class BlockDevice(Device):
    """A virtio-blk disk of ``size`` bytes (a multiple of 512).

    Implement ``read()`` and ``write()``, optionally ``flush()``.  They may
    raise: the request then fails with an I/O error, which the kernel
    reports for those sectors, and the disk keeps serving.
    """

    device_id = 2       # VIRTIO_ID_BLOCK: this module speaks virtio-blk
    queue_size = 256
    features = (1 << F_SEG_MAX) | (1 << F_BLK_SIZE) | (1 << F_FLUSH)
    serial = b"vloopback-python"

    def __init__(self, size: int, **kwargs: Any) -> None:
        if size <= 0 or size % SECTOR:
            raise ValueError(f"disk size must be a positive multiple of {SECTOR}, not {size}")
        self.size = size
        queue_size = kwargs.get("queue_size") or self.queue_size
        # A request's header and status byte each take a descriptor
        kwargs.setdefault("config", config(size, seg_max=queue_size - 2))
        super().__init__(**kwargs)

    def read(self, offset: int, buf: Any) -> None:
        """Fill buf (a writable Buffer, valid during the call) with the
        disk's bytes at offset."""
        raise NotImplementedError(f"{type(self).__name__}.read")

    def write(self, offset: int, data: Any) -> None:
        """Store data (a read-only Buffer, valid during the call) at
        offset."""
        raise NotImplementedError(f"{type(self).__name__}.write")

    def flush(self) -> None:
        """Make what was written durable (nothing to do for RAM)."""

    def wait_disk(self, timeout: Optional[float] = 10.0) -> str:
        """Serve until the driver has created the disk; its /dev path."""
        return "/dev/" + self.wait_sysfs("block/vd*", timeout)

    def handle(self, queue: Queue, request: Request) -> None:
        header = parse_header(request)
        if header is None:
            request.complete(0)
            return
        data_in = request.writable_size - 1     # all but the status byte
        data_out = request.readable_size - _HEADER.size
        written = 0
        if header.type == T_IN:
            status = self._transfer(header.sector, data_in, request.writable, 0,
                                    self.read)
            written = data_in if status == S_OK else 0
        elif header.type == T_OUT:
            status = self._transfer(header.sector, data_out, request.readable,
                                    _HEADER.size, self.write)
        elif header.type == T_FLUSH:
            self.flush()
            status = S_OK
        elif header.type == T_GET_ID:
            n = min(ID_BYTES, data_in)     # NUL-padded, maybe not terminated
            written = request.write(self.serial[:n].ljust(n, b"\0"))
            status = S_OK
        else:
            status = S_UNSUPP
        self._finish(request, written, status)

    def request_failed(self, queue: Queue, request: Request,
                       exc: BaseException) -> None:
        """A read, write or flush raised: the driver gets an I/O error."""
        if request.writable_size == 0:
            request.complete(0)     # nowhere to put a status
        else:
            self._finish(request, 0, S_IOERR)

    def _transfer(self, sector: int, length: int, views: Sequence[Any],
                  start: int, fn: Callable[[int, Any], None]) -> int:
        """Call fn(disk offset, segment) over length bytes of views from
        start; the status.  Each segment is released when fn returns, so
        the disk never holds the driver's memory past its call (a
        memoryview of it still alive raises BufferError here, which fails
        the request)."""
        offset = sector * SECTOR
        if length % SECTOR or offset + length > self.size:
            return S_IOERR
        for segment in spans(views, start, length):
            size = len(segment)
            try:
                fn(offset, segment)
            finally:
                segment.release()
            offset += size
        return S_OK

    @staticmethod
    def _finish(request: Request, written: int, status: int) -> None:
        request.write(bytes((status,)), request.writable_size - 1)
        request.complete(written + 1)
