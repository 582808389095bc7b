# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""vloopback: write the device side of a virtio device in Python.

The kernel's own drivers (virtio_blk, virtio_rng, ...) bind to the device
through virtio_loopback.ko; this process serves its requests.  Subclass
``Device`` (or ``blk.BlockDevice`` for a disk) and implement ``handle()``;
see the classes' documentation and examples/python/ in the source tree.

Errors are ``vloopback.Error``, an ``OSError`` carrying the C library's
errno; the library's own messages go to the ``vloopback`` logger.
"""

from .device import (Buffer, Device, DeviceId, DeviceType, Queue, device_types,
                     module_info)
from .errors import Error
from .request import Request

__all__ = ["Buffer", "Device", "DeviceType", "device_types", "DeviceId", "Error", "Queue", "Request", "module_info"]
