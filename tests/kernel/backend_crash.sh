#!/bin/sh
# A vhost-user back-end that dies while the kernel's driver is still probing
# (virtio_blk waits for its partition table): the attach must fail within a
# bounded time with its one-line error, and leave no device and no hung
# task.  fake_backend.py dies at the two moments that matter: before it
# served anything, and between completing a request and notifying it.
. "$VLB_SRC/tests/kernel/lib.sh"
CTL=$VLB_BUILD/tools/vloopbackctl/vloopbackctl
FAKE=$VLB_SRC/tests/kernel/fake_backend.py
cd /tmp || exit 1	# the work dir cannot hold sockets

# crash MODE: fake_backend MODE dies during virtio_blk's probe; attach must
# fail within a bounded time (it runs in the background, to tell a hang)
crash() {
	rm -f /tmp/crash.sock
	python3 "$FAKE" "$1" /tmp/crash.sock &
	wait_for 10 test -S /tmp/crash.sock
	before=$(ls /sys/bus/virtio/devices | wc -l)
	"$CTL" attach --type blk --socket /tmp/crash.sock --name crash >crash.out 2>crash.err &
	att=$!
	if ! wait_for 30 sh -c "! kill -0 $att 2>/dev/null"; then
		not_ok "$1: attach still blocked after 30 s (see the kernel log)"
		return
	fi
	wait "$att"
	rc=$?
	cat crash.err
	check "$1: attach fails with exit 5 ($rc)" test "$rc" -eq 5
	check "$1: says the back-end closed the connection" grep -q "closed the connection" crash.err
	check "$1: no device left" \
		wait_for 10 test "$(ls /sys/bus/virtio/devices | wc -l)" -eq "$before"
}

load_module
modprobe virtio_blk
crash hangup-in-probe
crash complete-then-hangup
unload_module
finish
