#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""python_disk.py SIZE_MIB FAIL_SECTOR [--asyncio]

examples/python/ramdisk.py's disk, whose read() raises for one sector (so
the kernel gets an I/O error for it and only for it), served by
Device.run() or, with --asyncio, from an asyncio loop.  Prints /dev/vdX.
Its read() also keeps the Buffer it was given and a slice of it, a bug
the binding must catch: the next read() checks that both raise instead of
reaching the shared area, and the disk prints "kept Buffers: N checked,
M usable" on stderr when it exits.
"""
import argparse
import asyncio
import errno
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "examples", "python"))
from ramdisk import RamDisk, main  # noqa: E402


class FailingDisk(RamDisk):
    def __init__(self, size, fail_sector):
        super().__init__(size)
        self.fail_at = fail_sector * 512
        self.kept = ()
        self.checked = self.usable = 0

    def check_kept(self):
        for view in self.kept:
            self.checked += 1
            try:
                view[0]
            except ValueError:
                continue
            self.usable += 1

    def read(self, offset, buf):
        self.check_kept()
        self.kept = (buf, buf[len(buf) // 2:])
        if offset <= self.fail_at < offset + len(buf):
            raise OSError(errno.EIO, f"injected failure at sector {self.fail_at // 512}")
        super().read(offset, buf)


async def main_async(disk):
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, disk.stop)
    disk.start()
    serving = asyncio.create_task(disk.serve())   # the probe needs answers

    async def disk_appears():
        while (name := disk.find_sysfs("block/vd*")) is None:
            await asyncio.sleep(0.02)
        return name

    print("/dev/" + await asyncio.wait_for(disk_appears(), 10), flush=True)
    await serving


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("size_mib", type=int)
    ap.add_argument("fail_sector", type=int)
    ap.add_argument("--asyncio", action="store_true")
    args = ap.parse_args()
    with FailingDisk(args.size_mib << 20, args.fail_sector) as d:
        if args.asyncio:
            asyncio.run(main_async(d))
        else:
            main(d)
    d.check_kept()
    print(f"kept Buffers: {d.checked} checked, {d.usable} usable",
          file=sys.stderr, flush=True)
