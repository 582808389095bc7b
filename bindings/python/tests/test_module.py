# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The C module as built: it loads, and the library's failures arrive as
vloopback.Error with the library's errno and its log line.  Runs on a
host without virtio_loopback.ko (VLB_DEVICE_NODE points nowhere)."""

import errno
import logging

import pytest

pytest.importorskip("vloopback._vloopback")

import vloopback                      # noqa: E402
from vloopback import _vloopback      # noqa: E402


@pytest.fixture(autouse=True)
def no_module(monkeypatch, tmp_path):
    monkeypatch.setenv("VLB_DEVICE_NODE", str(tmp_path / "no-such-node"))


def test_version_is_the_librarys():
    assert _vloopback.VERSION == "0.2.0"


def test_device_types_are_the_librarys_table():
    types = vloopback.device_types()
    by_name = {t.name: t for t in types}
    assert by_name["blk"] == ("blk", "BLOCK", 2, "virtio_blk", "block/vd*")
    assert by_name["gpio"].id == 41 and by_name["9p"].ident == "NINEP"
    assert [int(m) for m in vloopback.DeviceId] == [t.id for t in types]
    assert vloopback.DeviceId.BLOCK == 2 and vloopback.DeviceId.I2C == 34


def test_module_info_without_module_raises_enoent():
    with pytest.raises(vloopback.Error) as e:
        vloopback.module_info()
    assert e.value.errno == errno.ENOENT
    assert isinstance(e.value, OSError)


def test_device_without_module_raises_enoent_and_logs_the_hint(caplog):
    class Rng(vloopback.Device):
        device_id = vloopback.DeviceId.RNG

    with caplog.at_level(logging.ERROR, logger="vloopback"):
        with pytest.raises(vloopback.Error) as e:
            Rng()
    assert e.value.errno == errno.ENOENT
    assert "creating virtio device type 4" in str(e.value)
    assert any("modprobe virtio_loopback" in r.getMessage() for r in caplog.records)


def test_bad_config_type_is_a_type_error():
    class Bad(vloopback.Device):
        device_id = vloopback.DeviceId.RNG
        config = 42     # not bytes-like

    with pytest.raises(TypeError):
        Bad()
