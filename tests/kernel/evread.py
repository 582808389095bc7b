#!/usr/bin/env python3
"""Print the first COUNT events of an evdev node as "type code value".

usage: evread.py DEVICE COUNT TIMEOUT_S
Exits 1 if fewer than COUNT events arrive before the timeout.
"""
import os
import select
import struct
import sys

EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit


def main():
    path, count, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    fd = os.open(path, os.O_RDONLY)
    got = 0
    while got < count:
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            print(f"evread: only {got} of {count} events", file=sys.stderr)
            return 1
        data = os.read(fd, EVENT.size * 64)
        for off in range(0, len(data), EVENT.size):
            _, _, etype, code, value = EVENT.unpack_from(data, off)
            print(etype, code, value, flush=True)
            got += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
