#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""small_area.py: examples/python/ramdisk.py's disk, 16 MiB, with a 2 MiB
shared area and 61 segments: the module makes its segments 32 KiB, so its
largest request (61 of them) leaves the area less than 100 KiB.  Prints
/dev/vdX and serves until SIGTERM.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "examples", "python"))
from ramdisk import RamDisk  # noqa: E402
from vloopback.blk import config  # noqa: E402

SIZE = 16 << 20

with RamDisk(SIZE, shm_size=2 << 20, config=config(SIZE, seg_max=61)) as disk:
    signal.signal(signal.SIGTERM, lambda *_: disk.stop())
    disk.start()
    print(disk.wait_disk(), flush=True)
    disk.run()
