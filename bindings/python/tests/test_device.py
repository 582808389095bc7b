# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""Device over a fake C module (conftest.FakeLib): a handler that raises
fails only its request, hooks answer with errno, the loops serve and stop,
close removes the device once."""

import asyncio
import errno
import logging
import threading

import pytest

import vloopback
from vloopback import device as device_mod


class Echo(vloopback.Device):
    """Copies readable to writable; raises on a request that says "boom"."""
    device_id = 3       # console: DeviceId is empty without the C module
    num_queues = 2

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def handle(self, queue, request):
        data = request.read()
        self.seen.append((queue.index, data))
        if data == b"boom":
            raise ValueError("injected")
        if data == b"interrupt":
            raise KeyboardInterrupt
        request.complete(request.write(data))


def test_create_passes_the_class_attributes(fake_lib):
    with Echo(features=1 << 3, config=b"\1\2") as dev:
        assert fake_lib.create_args == (3, 0, 2, 128, 8, b"\1\2", 0)
        assert [q.index for q in dev.queues] == [0, 1]


def test_create_passes_the_recovery_attributes(fake_lib):
    with Echo() as dev:
        assert fake_lib.recovery_args == (0, 0, -1)
    with Echo(recoverable=True, recovery_timeout_ms=5000) as dev:
        assert fake_lib.recovery_args == (1, 5000, -1)


def test_recover_takes_over_by_index_with_the_same_handlers(fake_lib):
    with Echo.recover(7, num_queues=2) as dev:
        assert isinstance(dev, Echo)
        assert fake_lib.recovery_args == (0, 0, 7)
        assert fake_lib.create_args[2] == 2
        assert [q.index for q in dev.queues] == [0, 1]
    with pytest.raises(ValueError):
        Echo.recover(-1)


def test_recover_failure_raises_the_errno(fake_lib):
    fake_lib.create_rc = -errno.EBUSY
    with pytest.raises(vloopback.Error) as e:
        Echo.recover(3)
    assert e.value.errno == errno.EBUSY
    assert "vloopback3" in e.value.what


def test_create_failure_raises_the_errno(fake_lib):
    fake_lib.create_rc = -errno.EPERM
    with pytest.raises(vloopback.Error) as e:
        Echo()
    assert e.value.errno == errno.EPERM
    assert fake_lib.destroyed == 0


def test_handler_that_raises_fails_only_its_request(fake_lib, caplog):
    with Echo() as dev:
        ok1 = fake_lib.submit(0, [b"hello"], [8])
        bad = fake_lib.submit(0, [b"boom"], [8])
        ok2 = fake_lib.submit(0, [b"after"], [8])
        with caplog.at_level(logging.ERROR, logger="vloopback"):
            assert dev.queues[0].dispatch() == 3
    assert ok1.completions == [(5, True)] and ok1.written_bytes.startswith(b"hello")
    assert bad.completions == [(0, True)]
    assert ok2.completions == [(5, True)] and ok2.written_bytes.startswith(b"after")
    (record,) = caplog.records
    assert "handler raised" in record.getMessage()
    assert record.exc_info[0] is ValueError     # the traceback is logged


def test_request_failed_decides_the_answer(fake_lib):
    class Status(Echo):
        def request_failed(self, queue, request, exc):
            request.write(b"E")
            request.complete(1)

    with Status() as dev:
        bad = fake_lib.submit(1, [b"boom"], [4])
        dev.queues[1].dispatch()
    assert bad.completions == [(1, True)] and bad.written_bytes == b"E\0\0\0"


def test_request_failed_that_raises_still_completes(fake_lib, caplog):
    class Worse(Echo):
        def request_failed(self, queue, request, exc):
            raise RuntimeError("also broken")

    with Worse() as dev:
        bad = fake_lib.submit(0, [b"boom"], [4])
        dev.queues[0].dispatch()
    assert bad.completions == [(0, True)]
    assert "request_failed raised too" in caplog.text


def test_handler_that_completed_then_raised_is_not_completed_twice(fake_lib):
    class Late(vloopback.Device):
        device_id = 3

        def handle(self, queue, request):
            request.complete(0)
            raise ValueError("after completing")

    with Late() as dev:
        r = fake_lib.submit(0, [b"x"], [1])
        dev.queues[0].dispatch()
    assert r.completions == [(0, True)]


def test_keyboard_interrupt_in_a_handler_fails_the_request_then_propagates(fake_lib):
    with Echo() as dev:
        r = fake_lib.submit(0, [b"interrupt"], [4])
        with pytest.raises(KeyboardInterrupt):
            dev.queues[0].dispatch()
        assert r.completions == [(0, True)]
        ok = fake_lib.submit(0, [b"ok"], [4])
        dev.queues[0].dispatch()
        assert ok.completions == [(2, True)]


def test_requests_completed_later_from_another_thread(fake_lib):
    class Later(vloopback.Device):
        device_id = 3
        held = []

        def handle(self, queue, request):
            self.held.append(request)

    with Later() as dev:
        r = fake_lib.submit(0, [], [4])
        dev.queues[0].dispatch()
        assert r.completions == []
        t = threading.Thread(target=lambda: Later.held[0].complete(4))
        t.start()
        t.join()
    assert r.completions == [(4, True)]


def test_close_drops_held_requests_and_destroys_once(fake_lib):
    held = []

    class Holder(vloopback.Device):
        device_id = 3

        def handle(self, queue, request):
            held.append(request)

    dev = Holder()
    fake_lib.submit(0, [b"abc"], [4])
    dev.queues[0].dispatch()
    with dev:
        pass
    dev.close()
    assert fake_lib.destroyed == 1
    assert held[0].done
    with pytest.raises(ValueError):
        held[0].writable[0][0] = 1      # the buffers are gone with the device
    with pytest.raises(RuntimeError):
        held[0].complete(0)
    with pytest.raises(vloopback.Error) as e:
        dev.fileno()
    assert e.value.errno == errno.EBADF


@pytest.mark.parametrize("exc, rc", [
    (None, 0),
    (vloopback.Error(errno.EOPNOTSUPP, "no"), -errno.EOPNOTSUPP),
    (ValueError("bug"), -errno.EIO),
])
def test_hooks_answer_with_the_errno_they_raise(fake_lib, exc, rc):
    class Picky(vloopback.Device):
        device_id = 3

        def on_features(self, acked):
            self.acked = acked
            if exc:
                raise exc

        def on_config_write(self, offset, data):
            self.wrote = (offset, data)
            if exc:
                raise exc

    with Picky() as dev:
        fake_lib.message(lambda d: d._on_features(1 << 32))
        fake_lib.message(lambda d: d._on_config_write(4, b"\1"))
        assert dev.dispatch() == 2
        assert fake_lib.replies == [rc, rc]
        assert dev.acked == 1 << 32 and dev.wrote == (4, b"\1")


def test_driver_ok_and_reset_hooks_are_called(fake_lib):
    calls = []

    class Hooks(vloopback.Device):
        device_id = 3

        def on_driver_ok(self):
            calls.append("ok")

        def on_reset(self):
            calls.append("reset")
            raise ValueError("logged, not fatal")

    with Hooks() as dev:
        fake_lib.message(lambda d: d._on_driver_ok())
        fake_lib.message(lambda d: d._on_reset())
        dev.dispatch()
    assert calls == ["ok", "reset"]


def test_dispatch_after_the_kernel_failed_the_device_raises_enodev(fake_lib):
    with Echo() as dev:
        fake_lib.dispatch_rc = -errno.ENODEV
        fake_lib.message(lambda d: 0)
        with pytest.raises(vloopback.Error) as e:
            dev.run()
        assert e.value.errno == errno.ENODEV


def test_run_serves_queues_until_stopped(fake_lib):
    class StopAfter(Echo):
        def handle(self, queue, request):
            super().handle(queue, request)
            if len(self.seen) == 2:
                self.stop()

    with StopAfter() as dev:
        a = fake_lib.submit(0, [b"a"], [1])
        b = fake_lib.submit(1, [b"b"], [1])
        dev.run()
        assert a.completions and b.completions
        assert sorted(dev.seen) == [(0, b"a"), (1, b"b")]


def test_stop_from_another_thread_ends_run(fake_lib):
    with Echo() as dev:
        t = threading.Timer(0.05, dev.stop)
        t.start()
        dev.run()
        t.join()


def test_stop_before_run_is_kept(fake_lib):
    with Echo() as dev:
        dev.stop()
        dev.run()       # returns at once


def test_serve_in_asyncio(fake_lib):
    async def main(dev):
        task = asyncio.create_task(dev.serve())
        await asyncio.sleep(0)
        r = fake_lib.submit(1, [b"async"], [8])
        for _ in range(100):
            if r.completions:
                break
            await asyncio.sleep(0.01)
        dev.stop()
        await asyncio.wait_for(task, 5)
        return r

    with Echo() as dev:
        r = asyncio.run(main(dev))
    assert r.completions == [(5, True)]


def test_serve_in_asyncio_raises_when_the_device_fails(fake_lib):
    async def main(dev):
        fake_lib.dispatch_rc = -errno.ENODEV
        fake_lib.message(lambda d: 0)
        await asyncio.wait_for(dev.serve(), 5)

    with Echo() as dev:
        with pytest.raises(vloopback.Error) as e:
            asyncio.run(main(dev))
    assert e.value.errno == errno.ENODEV


def test_wait_sysfs_finds_the_node(fake_lib, monkeypatch, tmp_path):
    monkeypatch.setattr(device_mod, "SYSFS_VIRTIO", str(tmp_path))
    (tmp_path / "virtio7" / "block" / "vdc").mkdir(parents=True)
    with Echo() as dev:
        assert dev.virtio_index is None
        assert dev.find_sysfs("block/vd*") is None
        fake_lib.virtio_index = 7
        assert dev.wait_sysfs("block/vd*") == "vdc"


def test_wait_sysfs_times_out(fake_lib, monkeypatch, tmp_path):
    monkeypatch.setattr(device_mod, "SYSFS_VIRTIO", str(tmp_path))
    fake_lib.virtio_index = 1
    with Echo() as dev:
        with pytest.raises(vloopback.Error) as e:
            dev.wait_sysfs("driver", timeout=0.05)
    assert e.value.errno == errno.ETIMEDOUT


def test_wait_sysfs_serves_and_stops(fake_lib, monkeypatch, tmp_path):
    monkeypatch.setattr(device_mod, "SYSFS_VIRTIO", str(tmp_path))
    with Echo() as dev:
        r = fake_lib.submit(0, [b"probe"], [8])
        threading.Timer(0.1, dev.stop).start()
        with pytest.raises(vloopback.Error) as e:
            dev.wait_sysfs("driver", timeout=None)
    assert e.value.errno == errno.EINTR
    assert r.completions == [(5, True)]     # served while waiting


def test_library_messages_go_to_the_logger(caplog):
    with caplog.at_level(logging.DEBUG, logger="vloopback"):
        device_mod._log_from_c(3, "an error")
        device_mod._log_from_c(7, "a detail")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.ERROR, "an error"), (logging.DEBUG, "a detail")]


def test_set_lazy_kick_reaches_the_library_and_checks_its_range(fake_lib):
    with Echo() as dev:
        dev.queues[1].set_lazy_kick(2)
        assert fake_lib.lazy_kick == {1: 2}
        with pytest.raises(ValueError):
            dev.queues[0].set_lazy_kick(-1)
        assert fake_lib.lazy_kick == {1: 2}
