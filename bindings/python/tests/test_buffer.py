# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""vloopback.Buffer (the C module's): a request's buffers cannot be used
past the request.  A Buffer or slice kept after complete() raises instead
of touching memory; a memoryview of one blocks complete() and close();
BlockDevice's read()/write() get Buffers released when they return; close()
is serialized with completions on other threads.  Over conftest.FakeLib,
whose requests are bytearrays wrapped in real Buffers."""

import threading

import pytest

import vloopback
from vloopback.blk import SECTOR, T_IN, T_OUT, BlockDevice

_c = pytest.importorskip("vloopback._vloopback")
Buffer = _c.Buffer


class Holder(vloopback.Device):
    """Keeps every request; the test completes them."""
    device_id = vloopback.DeviceId.CONSOLE

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.held = []

    def handle(self, queue, request):
        self.held.append(request)


def one_request(fake_lib, readable=(b"hello",), writable=(8,)):
    dev = Holder()
    raw = fake_lib.submit(0, list(readable), list(writable))
    dev.queues[0].dispatch()
    return dev, dev.held[0], raw


def test_a_request_hands_out_buffers_not_memoryviews(fake_lib):
    dev, r, _ = one_request(fake_lib)
    with dev:
        assert all(isinstance(v, Buffer) for v in (*r.readable, *r.writable))
        assert r.readable[0].readonly and not r.writable[0].readonly
        assert isinstance(r.writable[0][1:3], Buffer)
        r.complete(0)


def test_buffer_is_bytes_like():
    ba = bytearray(b"0123456789")
    b = Buffer(ba)
    assert len(b) == 10 and b[3] == ord("3") and b[-1] == ord("9")
    assert bytes(b[2:5]) == b"234" and b[2:5].tobytes() == b"234"
    b[0:2] = b"ab"
    b[9] = 0x7A
    assert ba == bytearray(b"ab2345678z")
    assert b"".join([b[0:1], b[9:]]) == b"az"
    with pytest.raises(ValueError):
        b[0:2] = b"abc"         # sizes must match
    with pytest.raises(ValueError):
        b[::2]                  # contiguous slices only
    with pytest.raises(TypeError):
        Buffer(ba, readonly=True)[0] = 1


def test_releasing_a_slice_ends_the_slices_cut_from_it():
    root = Buffer(bytearray(8))
    part = root[2:6]
    sub = part[1:3]
    part.release()
    with pytest.raises(ValueError):
        sub[0]
    assert bytes(root[0:2]) == b"\0\0"      # the root and its other slices live


def test_retained_buffer_and_slice_raise_after_complete(fake_lib):
    dev, r, raw = one_request(fake_lib)
    with dev:
        kept = r.writable[0]
        kept_slice = r.writable[0][2:6]
        kept_ro = r.readable[0][1:]
        kept_slice[:] = b"WXYZ"
        r.complete(6)
        assert raw.writable[0][2:6] == b"WXYZ"
        for view in (kept, kept_slice, kept_ro):
            assert view.released
            with pytest.raises(ValueError, match="released"):
                bytes(view)
            with pytest.raises(ValueError):
                view[0]
            with pytest.raises(ValueError):
                view[0:1]
            with pytest.raises(ValueError):
                memoryview(view)
        with pytest.raises(ValueError):
            kept_slice[:] = b"late"
        assert raw.writable[0][2:6] == b"WXYZ"  # nothing was written late


def test_memoryview_of_a_buffer_blocks_complete_until_released(fake_lib):
    dev, r, raw = one_request(fake_lib)
    with dev:
        m = memoryview(r.writable[0])[1:3]     # memoryview slicing of it
        with pytest.raises(BufferError):
            r.complete(0)
        assert not r.done and raw.completions == []
        m[:] = b"ok"        # still the device's: the request is not completed
        m.release()
        assert r.complete(3) is True
        assert raw.completions == [(3, True)] and raw.writable[0][1:3] == b"ok"


def test_memoryview_of_a_held_request_blocks_close(fake_lib):
    dev, r, _ = one_request(fake_lib)
    m = memoryview(r.readable[0])
    with pytest.raises(BufferError):
        dev.close()
    assert fake_lib.destroyed == 0 and bytes(m) == b"hello"     # still mapped
    m.release()
    dev.close()
    assert fake_lib.destroyed == 1 and r.done
    with pytest.raises(ValueError):
        bytes(r.readable[0])


def test_reset_revokes_held_buffers(fake_lib):
    dev, r, _ = one_request(fake_lib)
    with dev:
        fake_lib.message(lambda d: d._on_reset())
        dev.dispatch()
        with pytest.raises(ValueError):
            bytes(r.readable[0])
        r.complete(0)


class KeepingDisk(BlockDevice):
    """A disk whose read() and write() keep their buffers (a bug)."""

    def __init__(self, size):
        super().__init__(size)
        self.ram = bytearray(size)
        self.kept = []

    def read(self, offset, buf):
        self.kept.append(buf)
        buf[:] = self.ram[offset:offset + len(buf)]

    def write(self, offset, data):
        self.kept.append(data)
        self.ram[offset:offset + len(data)] = data


def blk_header(type_, sector):
    return (type_).to_bytes(4, "little") + bytes(4) + sector.to_bytes(8, "little")


def test_block_device_buffers_die_with_the_call(fake_lib):
    with KeepingDisk(8 * SECTOR) as disk:
        fake_lib.submit(0, [blk_header(T_OUT, 1), b"x" * SECTOR], [1])
        fake_lib.submit(0, [blk_header(T_IN, 1)], [SECTOR, 1])
        disk.queues[0].dispatch()
        assert len(disk.kept) == 2
        for buf in disk.kept:
            with pytest.raises(ValueError):
                buf[0]


def test_block_device_segment_slices_die_with_the_call(fake_lib):
    """Within one request too: a slice of segment 1 kept by read() raises
    when read() is called for segment 2."""
    class Checking(KeepingDisk):
        def read(self, offset, buf):
            for kept in self.kept:
                with pytest.raises(ValueError):
                    kept[0]
            self.kept.append(buf[len(buf) // 2:])
            super().read(offset, buf)

    with Checking(8 * SECTOR) as disk:
        raw = fake_lib.submit(0, [blk_header(T_IN, 0)], [SECTOR, SECTOR, 1])
        disk.queues[0].dispatch()
        assert len(disk.kept) == 4 and raw.status == 0    # 2 segments, 2 kept each


def test_block_device_read_keeping_a_memoryview_fails_the_request(fake_lib):
    class Leaky(KeepingDisk):
        def read(self, offset, buf):
            self.kept.append(memoryview(buf))

    with Leaky(8 * SECTOR) as disk:
        raw = fake_lib.submit(0, [blk_header(T_IN, 0)], [SECTOR, 1])
        disk.queues[0].dispatch()
        assert raw.completions == []        # cannot complete: memory exported
        disk.kept[0].release()
        (request,) = disk._held
        request.complete(0)
        assert raw.completions == [(0, True)]


def test_close_is_serialized_with_completions_on_other_threads(fake_lib):
    fake_lib.destroy_delay = 0.05
    dev = Holder()
    for _ in range(64):
        fake_lib.submit(0, [b"x"], [4])
    dev.queues[0].dispatch()
    start = threading.Barrier(5)
    results = []

    def complete_all(part):
        start.wait()
        for r in part:
            try:
                results.append(r.complete(1))
            except RuntimeError:
                results.append(None)        # dropped by close() already

    threads = [threading.Thread(target=complete_all, args=(dev.held[i::4],))
               for i in range(4)]
    for t in threads:
        t.start()
    start.wait()
    dev.close()
    for t in threads:
        t.join()
    assert fake_lib.completed_while_destroyed == 0
    assert len(results) == 64
