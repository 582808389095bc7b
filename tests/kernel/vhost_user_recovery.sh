#!/bin/sh
# Back-ends and adapters that restart under a mounted disk: vloopbackctl
# attach --reconnect keeps the kernel device while qemu-storage-daemon is
# killed with -9 and started again on the same socket and image; fio's
# verified I/O at QD32 sees no error and the disk keeps its name.  The
# adapter killed with -9 is replaced by "vloopbackctl recover".  A back-end
# that never returns: I/O fails in bounded time and the disk goes.
. "$VLB_SRC/tests/kernel/lib.sh"
CTL=$VLB_BUILD/tools/vloopbackctl/vloopbackctl
QSD_PIDS=
cd /tmp || exit 1	# the work dir cannot hold sockets

# qsd NAME IMG: export IMG on /tmp/NAME.sock (sets qsd_pid); the same
# command starts it again after a kill, on the same socket and image
qsd() {
	rm -f "/tmp/$1.sock"
	qemu-storage-daemon \
		--blockdev driver=file,node-name=f,filename="$2" \
		--export type=vhost-user-blk,id=e,node-name=f,writable=on,num-queues=2,addr.type=unix,addr.path=/tmp/$1.sock \
		>>"$VLB_WORK/qsd-$1.log" 2>&1 &
	qsd_pid=$!
	QSD_PIDS="$QSD_PIDS $qsd_pid"
	wait_for 20 test -S "/tmp/$1.sock"
}

json_field() {
	"$CTL" list --json | python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["name"] == sys.argv[1]:
        print(a[sys.argv[2]])' "$1" "$2"
}

fio_bg() {
	fio --name="$1" --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --iodepth=32 --size=48M --loops="$2" \
		--verify=crc32c --verify_fatal=1 --eta=never \
		--output="$VLB_WORK/fio-$1.log" &
	fio_pid=$!
}

# fio_ok JOB: the background fio ended with no error and a clean verify
fio_ok() {
	wait "$fio_pid"
	rc=$?
	[ "$rc" -eq 0 ] && grep -q 'err= 0' "$VLB_WORK/fio-$1.log" && return 0
	cat "$VLB_WORK/fio-$1.log"
	return 1
}

# qsd_restarts N: N times, kill -9 qemu-storage-daemon, start it 2 s later
qsd_restarts() {
	i=0
	while [ "$i" -lt "$1" ]; do
		sleep 2
		kill -KILL "$qsd_pid"
		wait "$qsd_pid" 2>/dev/null
		sleep 2
		qsd rec disk.img || { echo "restart $i: qsd did not start"; return 1; }
		i=$((i + 1))
	done
}

load_module
modprobe virtio_blk
truncate -s 256M disk.img
qsd rec disk.img || { not_ok "qemu-storage-daemon starts"; finish; }
dev=$("$CTL" attach --type blk --socket /tmp/rec.sock --name rdisk --reconnect=30)
[ -n "$dev" ] && [ -b "$dev" ] || { not_ok "attach --reconnect=30 prints the disk"; finish; }
ok "attach --reconnect=30 prints the disk ($dev)"
check "the device is recoverable" test "$(cat /sys/devices/virtual/misc/virtio-loopback/vloopback*/recoverable)" = 1

fio_bg restarts 3
check "five kill -9 and restarts of qemu-storage-daemon under fio" qsd_restarts 5
check "fio QD32 crc32c: zero errors through the back-end restarts" fio_ok restarts
check "the disk kept its name ($dev)" test "$(json_field rdisk node)" = "$dev"
check "the attachment is running again" sh -c "'$CTL' status rdisk | grep -q 'state:   running'"

# The adapter itself killed with -9 during fio, then recovered
fio_bg adapter 2
sleep 3
kill -KILL "$(json_field rdisk pid)"
check "after kill -9 of the adapter, list says quiesced" \
	wait_for 10 sh -c "'$CTL' list | grep -q '^rdisk .*quiesced'"
sleep 1
check "vloopbackctl recover rdisk prints the same disk" \
	test "$("$CTL" recover rdisk)" = "$dev"
check "fio QD32 crc32c: zero errors through the adapter's recovery" fio_ok adapter
check "the recovered attachment is running" sh -c "'$CTL' status rdisk | grep -q 'state:   running'"

# detach of a quiesced attachment removes the disk at once
kill -KILL "$(json_field rdisk pid)"
wait_for 10 sh -c "'$CTL' list | grep -q '^rdisk .*quiesced'"
check "detach of a quiesced attachment" "$CTL" detach rdisk
check "its disk is gone" wait_for 5 test ! -b "$dev"
kill -KILL "$qsd_pid" 2>/dev/null
wait "$qsd_pid" 2>/dev/null

# A back-end that never comes back: bounded failure, the disk removed
qsd gone disk.img || not_ok "second qemu-storage-daemon starts"
dev=$("$CTL" attach --type blk --socket /tmp/gone.sock --name gdisk --reconnect=3)
[ -n "$dev" ] && [ -b "$dev" ] || { not_ok "second attach"; finish; }
ok "second attach ($dev)"
kill -KILL "$qsd_pid"
wait "$qsd_pid" 2>/dev/null
check "back-end gone for good: the I/O that waited fails within 30 s" sh -c \
	"! timeout 30 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null"
check "back-end gone for good: the disk is removed" wait_for 10 test ! -e "$dev"
check "back-end gone for good: the adapter's log says why" sh -c \
	"grep -q 'did not come back within 3 s' /run/vloopback/gdisk.log"

for p in $QSD_PIDS; do kill "$p" 2>/dev/null; done
unload_module
finish
