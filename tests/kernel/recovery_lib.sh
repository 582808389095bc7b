#!/bin/sh
# The library's recovery (vlb_dev_recover), through the file-backed ramdisk
# example: a --recoverable disk whose process is killed with -9 keeps its
# name and its requests in flight; "ramdisk --recover INDEX" takes it over
# and fio's verified I/O carries on without an error.  Two queues, so the
# threaded run loop and more than one recovered ring are exercised.
. "$VLB_SRC/tests/kernel/lib.sh"
cd "$VLB_WORK" || exit 1

R=$VLB_BIN/examples/ramdisk
T=$VLB_BIN/tests/kernel/test_recover	# only for its "state INDEX"
load_module reply_timeout_ms=2000
modprobe virtio_blk
rm -f disk.img

# serve ARGS: start a ramdisk; sets idx, dev, srv
serve() {
	start_bg serve.out "$R" --file disk.img --queues 2 "$@" || return 1
	dev=${bg_line% *}
	idx=${bg_line#* }
	srv=$bg_pid
}

# restart: kill -9 the ramdisk, wait for quiesced, start a recovering one
restart() {
	kill -KILL "$srv"
	wait "$srv" 2>/dev/null
	wait_for 10 test "$("$T" state "$idx")" = quiesced || return 1
	sleep 1
	start_bg recover.out "$R" --file disk.img --queues 2 --recover "$idx" ||
		return 1
	[ "$bg_line" = "$dev $idx" ] || { echo "recovered as $bg_line"; return 1; }
	srv=$bg_pid
}

restarts() {
	i=0
	while [ "$i" -lt "$1" ]; do
		sleep 2
		restart || { echo "restart $i failed"; return 1; }
		i=$((i + 1))
	done
}

check "ramdisk refuses --recoverable without --file" \
	sh -c "! $R --size 1M --recoverable 2>/dev/null"
serve --size 64M --recoverable=30000 || { not_ok "recoverable file-backed ramdisk starts"; finish; }
node=$dev
check "the disk is live and recoverable" sh -c \
	"[ \"\$($T state $idx)\" = live ] && [ \"\$(cat /sys/devices/virtual/misc/virtio-loopback/vloopback$idx/recoverable)\" = 1 ]"

fio --name=recover --filename="$dev" --ioengine=io_uring --direct=1 \
	--rw=randwrite --bs=4k --iodepth=32 --size=48M --loops=4 \
	--verify=crc32c --verify_fatal=1 --eta=never --output=fio.log &
fio_pid=$!
check "five kill -9 of the ramdisk and ramdisk --recover under fio" restarts 5
wait "$fio_pid"
fio_rc=$?
check "fio QD32 crc32c: zero errors through the restarts" \
	sh -c "[ $fio_rc -eq 0 ] && grep -q 'err= 0' fio.log"
[ "$fio_rc" -eq 0 ] || cat fio.log
check "the disk kept its name ($node)" test -b "$node"
check "the disk is live again" test "$("$T" state "$idx")" = live

# A second recovery of a live disk is refused with a readable reason
check "recovering a live disk is refused" sh -c \
	"! $R --file disk.img --queues 2 --recover $idx 2>err.txt && grep -q 'cannot recover vloopback$idx' err.txt"

# SIGTERM is vlb_dev_destroy: removal on purpose, no quiescing
kill -TERM "$srv"
wait "$srv"
check "SIGTERM removes the recoverable disk at once" wait_for 5 test ! -e "$node"
unload_module
finish
