#!/bin/sh
# Device processes that misbehave: one never answers, one returns a buffer
# it was never given.  Each device must be failed, removed and explained in
# the log, with no hang and no kernel complaint.
. "$VLB_SRC/tests/kernel/lib.sh"

virtio_count() { ls /sys/bus/virtio/devices | wc -l; }

load_module reply_timeout_ms=1000
modprobe virtio_rng
before=$(virtio_count)
check "silent device process: failed after the reply timeout" \
	"$VLB_BIN/tests/kernel/test_hostile" silent
check "silent: the log says why" sh -c \
	"dmesg | grep -q 'did not answer in time: removing the device'"
check "garbage in the used ring: device failed, area revoked" \
	"$VLB_BIN/tests/kernel/test_hostile" garbage
check "garbage: the log says why" sh -c \
	"dmesg | grep -q 'returned a buffer it was not given: removing the device'"
check "both virtio devices are gone" wait_for 10 test "$(virtio_count)" -eq "$before"
unload_module
finish
