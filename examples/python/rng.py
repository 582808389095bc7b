#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""rng.py: a virtio-rng device whose entropy comes from this process.

The kernel's virtio_rng driver binds to it and registers a hardware RNG;
once it is /sys/class/misc/hw_random/rng_current, reading /dev/hwrng reads
from here.  Prints virtioN once the driver is bound, then serves until
Ctrl-C or SIGTERM (which remove the device).
"""
import os
import signal

import vloopback


class Rng(vloopback.Device):
    device_id = vloopback.DeviceId.RNG

    def handle(self, queue, request):
        # The driver posts empty buffers; fill them and say how much we wrote
        written = request.write(os.urandom(request.writable_size))
        request.complete(written)


with Rng() as rng:
    signal.signal(signal.SIGTERM, lambda *_: rng.stop())
    rng.start()
    rng.wait_sysfs("driver")        # hwrng reads during the probe: serve it
    print(f"virtio{rng.virtio_index}", flush=True)
    try:
        rng.run()
    except KeyboardInterrupt:
        pass
