#!/bin/sh
# Device processes that attack the kernel (tests/kernel/test_hostile.c, one
# attack per case).  Each device must be failed, removed and explained in the
# log, with no hang and no kernel complaint (the guest boots with the lockup
# and hung-task detectors set to panic), while a healthy disk next to them
# keeps serving verified I/O all along.
. "$VLB_SRC/tests/kernel/lib.sh"

in_tmpfs hostile || exit 1
virtio_count() { ls /sys/bus/virtio/devices | wc -l; }
hostile() { "$VLB_BIN/tests/kernel/test_hostile" "$@"; }
logged() { dmesg | grep -q "$1"; }

load_module reply_timeout_ms=1000 user_device_types=1,2 io_timeout_ms=2000
chmod 0666 /dev/virtio-loopback
modprobe -a virtio_rng virtio_blk
modprobe virtio_net 2>/dev/null

# The bystander: a RAM disk written and read back in a loop meanwhile.
start_bg rd.out "$VLB_BIN/examples/ramdisk" --size 64M || { cat rd.out.err; }; [ -n "$bg_line" ] ||
	{ not_ok "bystander ramdisk starts"; finish; }
bystander=$bg_line
rd_pid=$bg_pid
head -c 1048576 /dev/urandom >/tmp/pattern
(
	i=0
	while [ ! -e /tmp/stop ]; do
		off=$((i % 60))
		dd if=/tmp/pattern of="$bystander" bs=1M seek=$off oflag=direct conv=notrunc status=none &&
		dd if="$bystander" of=/tmp/back bs=1M skip=$off count=1 iflag=direct status=none &&
		cmp -s /tmp/pattern /tmp/back || { echo "round $i failed" >>/tmp/bystander.err; }
		i=$((i + 1))
	done
	echo "$i" >/tmp/bystander.rounds
) &
loop_pid=$!
before=$(virtio_count)

check "silent: failed after the reply timeout" hostile silent
check "silent: the log says why" logged 'did not answer in time: removing the device'
check "garbage: a head never given fails the device" hostile garbage
check "garbage: the log says why" logged 'used id 57005 was not outstanding'
check "twice: a head returned twice fails the device" hostile twice
check "longlen: a length past the buffer fails the device" hostile longlen
check "longlen: the log says why" logged 'exceeds its .* writable bytes'
check "nextloop: a looped descriptor table cannot reach the driver" hostile nextloop
check "rewrite: owed requests rewritten, then death: errors, removal" hostile rewrite
check "pin: pinned pages written after death never reach the driver" hostile pin
check "grow: the area cannot be resized" hostile grow
check "bigseg: the largest request fits a small area" hostile bigseg
check "holder: a user's device holding a request is failed" hostile holder
check "holder: the log says why" logged 'held a request too long'
check "ctrlvq: a user's net device with a control queue is refused" hostile ctrlvq
check "every hostile virtio device is gone" wait_for 20 test "$(virtio_count)" -eq "$before"

touch /tmp/stop
wait "$loop_pid"
check "bystander: every round read back what it wrote ($(cat /tmp/bystander.rounds) rounds)" \
	test ! -e /tmp/bystander.err
check "bystander: served all along" test "$(cat /tmp/bystander.rounds)" -gt 3
kill -TERM "$rd_pid"
wait "$rd_pid"
check "bystander gone" wait_for 20 test "$(virtio_count)" -eq $((before - 1))
unload_module
finish
