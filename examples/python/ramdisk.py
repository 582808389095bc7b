#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ramdisk.py: a virtio-blk disk served by this process.

    ramdisk.py [SIZE_MIB]                          in memory (default 64)
    ramdisk.py --file IMG [SIZE_MIB] --recoverable[=MS]
    ramdisk.py --file IMG --recover INDEX          after a crash or kill -9

The kernel's virtio_blk driver binds to it and creates /dev/vdX; the
program prints that path (and, for a recoverable disk, INDEX, N of
vloopbackN), then serves the disk until Ctrl-C or SIGTERM, which remove
it.  BlockDevice parses the requests; the disk only copies bytes, between
Buffers onto the driver's buffers and its own memory.

In memory the data is lost on exit.  With --file the disk is the file,
mapped shared, so what was written is there for a successor: with
--recoverable, if this process dies (kill -9), the kernel keeps the disk
and its requests in flight for MS milliseconds (default: the module's
recovery_max_ms), and "ramdisk.py --file IMG --recover INDEX" takes it
over and serves each of them.  A write is in the file when the request
completes; the page cache writes it back whether or not the process lives.
"""
import argparse
import mmap
import os
import signal

from vloopback.blk import BlockDevice


class RamDisk(BlockDevice):
    def __init__(self, size, path=None, **kwargs):
        self.ram = memoryview(self._map(size, path))
        super().__init__(size, **kwargs)

    @staticmethod
    def _map(size, path):
        # Anonymous memory: pages never written cost nothing
        if path is None:
            return mmap.mmap(-1, size)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if os.fstat(fd).st_size < size:
                os.ftruncate(fd, size)
            return mmap.mmap(fd, size)
        finally:
            os.close(fd)

    def read(self, offset, buf):
        buf[:] = self.ram[offset:offset + len(buf)]

    def write(self, offset, data):
        self.ram[offset:offset + len(data)] = data


def parse_args():
    p = argparse.ArgumentParser(description="a virtio-blk disk in memory or in a file")
    p.add_argument("size_mib", nargs="?", type=int, default=64)
    p.add_argument("--file", help="serve this file (created if need be)")
    p.add_argument("--recoverable", nargs="?", type=int, const=0, metavar="MS",
                   help="the disk outlives this process (needs --file)")
    p.add_argument("--recover", type=int, metavar="INDEX",
                   help="take over vloopbackINDEX, whose process died")
    a = p.parse_args()
    if (a.recoverable is not None or a.recover is not None) and not a.file:
        p.error("--recoverable and --recover need --file: the data must outlive the process")
    return a


def make_disk(a):
    if a.recover is None:
        return RamDisk(a.size_mib << 20, a.file,
                       recoverable=a.recoverable is not None,
                       recovery_timeout_ms=a.recoverable or 0)
    # The kernel kept the disk's size; the file is as large
    return RamDisk.recover(a.recover, size=os.path.getsize(a.file), path=a.file)


def main():
    a = parse_args()
    with make_disk(a) as disk:
        signal.signal(signal.SIGTERM, lambda *_: disk.stop())
        disk.start()
        node = disk.wait_disk()
        print(f"{node} {disk.index}" if a.file else node, flush=True)
        try:
            disk.run()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
