# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""virtio-blk: headers, config space, and BlockDevice over a fake C module
(conftest.FakeLib), with requests laid out as Linux's virtio_blk makes them
(header, data segments, status byte) and as the spec also allows."""

import logging
import struct

import pytest

from vloopback import blk

SECTOR = 512


def header(type_, sector):
    return struct.pack("<IIQ", type_, 0, sector)


class RamDisk(blk.BlockDevice):
    """In a bytearray; raises for one sector if told to."""

    def __init__(self, size, fail_sector=None, **kwargs):
        super().__init__(size, **kwargs)
        self.ram = bytearray(size)
        self.fail_sector = fail_sector
        self.flushed = 0

    def _check(self, offset, length):
        if self.fail_sector is not None and \
                offset <= self.fail_sector * SECTOR < offset + length:
            raise OSError(5, "injected failure")

    def read(self, offset, buf):
        self._check(offset, len(buf))
        buf[:] = self.ram[offset:offset + len(buf)]

    def write(self, offset, data):
        self._check(offset, len(data))
        self.ram[offset:offset + len(data)] = data

    def flush(self):
        self.flushed += 1


@pytest.fixture
def disk(fake_lib):
    with RamDisk(64 * SECTOR, fail_sector=9) as d:
        yield d


def serve(fake_lib, disk, readable, writable):
    r = fake_lib.submit(0, readable, writable)
    disk.queues[0].dispatch()
    assert len(r.completions) == 1
    return r


def test_parse_header(fake_lib, disk):
    fake_lib.submit(0, [header(blk.T_IN, 12345678901)], [513])
    seen = []
    disk.handle = lambda q, req: seen.append(blk.parse_header(req)) or req.complete(0)
    disk.queues[0].dispatch()
    assert seen == [blk.Header(blk.T_IN, 12345678901)]


def test_parse_header_split_across_buffers(fake_lib, disk):
    h = header(blk.T_OUT, 3)
    fake_lib.submit(0, [h[:5], h[5:]], [1])
    seen = []
    disk.handle = lambda q, req: seen.append(blk.parse_header(req)) or req.complete(0)
    disk.queues[0].dispatch()
    assert seen == [blk.Header(blk.T_OUT, 3)]


def test_config_space_layout():
    c = blk.config(1 << 30, seg_max=254)
    assert len(c) == blk.CONFIG_SIZE
    capacity, size_max, seg_max = struct.unpack_from("<QII", c, 0)
    assert (capacity, size_max, seg_max) == ((1 << 30) // SECTOR, 0, 254)
    assert struct.unpack_from("<I", c, 20) == (SECTOR,)


def test_disk_offers_its_size_and_features(fake_lib, disk):
    device_id, _, queues, queue_size, features, config, _ = fake_lib.create_args
    assert (device_id, queues, queue_size) == (2, 1, 256)
    assert features == (1 << blk.F_SEG_MAX) | (1 << blk.F_BLK_SIZE) | (1 << blk.F_FLUSH)
    assert struct.unpack_from("<QII", config) == (64, 0, 254)


def test_size_must_be_whole_sectors(fake_lib):
    with pytest.raises(ValueError):
        RamDisk(1000)


def test_write_then_read_back_over_scattered_buffers(fake_lib, disk):
    data = bytes(range(256)) * 4   # two sectors
    w = serve(fake_lib, disk, [header(blk.T_OUT, 3), data[:100], data[100:]], [1])
    assert w.status == blk.S_OK and w.completions == [(1, True)]
    assert disk.ram[3 * SECTOR:5 * SECTOR] == data
    # Linux puts the status in its own buffer; the spec allows it after data
    r = serve(fake_lib, disk, [header(blk.T_IN, 3)], [300, 700, 24 + 1])
    assert r.status == blk.S_OK and r.completions == [(1024 + 1, True)]
    assert r.written_bytes[:-1] == data


def test_read_past_the_end_is_an_io_error(fake_lib, disk):
    r = serve(fake_lib, disk, [header(blk.T_IN, 63)], [2 * SECTOR + 1])
    assert r.status == blk.S_IOERR and r.completions == [(1, True)]


def test_partial_sector_is_an_io_error(fake_lib, disk):
    w = serve(fake_lib, disk, [header(blk.T_OUT, 0), b"x" * 100], [1])
    assert w.status == blk.S_IOERR


def test_flush_and_get_id(fake_lib, disk):
    f = serve(fake_lib, disk, [header(blk.T_FLUSH, 0)], [1])
    assert f.status == blk.S_OK and disk.flushed == 1
    i = serve(fake_lib, disk, [header(blk.T_GET_ID, 0)], [blk.ID_BYTES, 1])
    assert i.status == blk.S_OK
    assert i.written_bytes[:blk.ID_BYTES] == b"vloopback-python".ljust(20, b"\0")
    assert i.completions == [(blk.ID_BYTES + 1, True)]


def test_unknown_type_is_unsupported(fake_lib, disk):
    r = serve(fake_lib, disk, [header(11, 0)], [1])
    assert r.status == blk.S_UNSUPP


def test_request_without_header_or_status_completes_empty(fake_lib, disk):
    assert serve(fake_lib, disk, [b"short"], [1]).completions == [(0, True)]
    assert serve(fake_lib, disk, [header(blk.T_IN, 0)], []).completions == [(0, True)]


def test_read_that_raises_fails_that_request_only(fake_lib, disk, caplog):
    disk.ram[8 * SECTOR:11 * SECTOR] = b"\xaa" * (3 * SECTOR)
    with caplog.at_level(logging.ERROR, logger="vloopback"):
        bad = serve(fake_lib, disk, [header(blk.T_IN, 9)], [SECTOR, 1])
    assert bad.status == blk.S_IOERR and bad.completions == [(1, True)]
    assert "injected failure" in caplog.text
    for sector in (8, 10):
        ok = serve(fake_lib, disk, [header(blk.T_IN, sector)], [SECTOR, 1])
        assert ok.status == blk.S_OK and ok.written_bytes[:-1] == b"\xaa" * SECTOR


def test_write_that_raises_is_an_io_error(fake_lib, disk):
    w = serve(fake_lib, disk, [header(blk.T_OUT, 8), b"z" * (2 * SECTOR)], [1])
    assert w.status == blk.S_IOERR
