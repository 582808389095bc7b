#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ramdisk.py [SIZE_MIB]: a virtio-blk disk kept in this process's memory.

The kernel's virtio_blk driver binds to it and creates /dev/vdX; the
program prints that path, then serves the disk until Ctrl-C or SIGTERM,
which remove it.  The data is lost on exit.  BlockDevice parses the
requests; the disk only copies bytes, between Buffers onto the
driver's buffers and its own memory.
"""
import mmap
import signal
import sys

from vloopback.blk import BlockDevice


class RamDisk(BlockDevice):
    def __init__(self, size):
        super().__init__(size)
        # Anonymous memory: pages never written cost nothing
        self.ram = memoryview(mmap.mmap(-1, size))

    def read(self, offset, buf):
        buf[:] = self.ram[offset:offset + len(buf)]

    def write(self, offset, data):
        self.ram[offset:offset + len(data)] = data


def main(disk):
    signal.signal(signal.SIGTERM, lambda *_: disk.stop())
    disk.start()
    print(disk.wait_disk(), flush=True)
    try:
        disk.run()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    with RamDisk(int(sys.argv[1] if len(sys.argv) > 1 else 64) << 20) as ramdisk:
        main(ramdisk)
