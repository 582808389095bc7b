#!/bin/sh
# Devices that outlive their device process: a recoverable disk whose
# process is killed with -9 keeps its name, its mounted file system and
# every request in flight; a new process takes it over (VLB_IOC_RECOVER)
# and the I/O that waited completes, verified.  tests/kernel/test_recover.c
# is the device process, file-backed so that a new one sees the same data.
. "$VLB_SRC/tests/kernel/lib.sh"
cd "$VLB_WORK" || exit 1

T=$VLB_BIN/tests/kernel/test_recover
load_module reply_timeout_ms=2000
modprobe virtio_blk
chmod 0666 /dev/virtio-loopback
truncate -s 64M disk.img

# serve: start a device process over disk.img; sets idx, dev, srv
serve() {
	start_bg serve.out "$T" serve disk.img "$@" || return 1
	idx=${bg_line% *}
	dev=${bg_line#* }
	srv=$bg_pid
}

# restart: kill -9 the device process, wait, and start a recovering one
restart() {
	kill -KILL "$srv"
	wait "$srv" 2>/dev/null
	wait_for 10 test "$("$T" state "$idx")" = quiesced || return 1
	sleep "${1:-1}"
	start_bg recover.out "$T" recover "$idx" disk.img || return 1
	srv=$bg_pid
}

restarts() {
	n=$1
	shift
	i=0
	while [ "$i" -lt "$n" ]; do
		sleep 2
		restart "$@" || { echo "restart $i failed"; return 1; }
		i=$((i + 1))
	done
}

serve || { not_ok "recoverable disk starts"; finish; }
node=$dev
check "the disk is live" test "$("$T" state "$idx")" = live

# fio at QD32 with verification while the device process dies 5 times
fio --name=recover --filename="$dev" --ioengine=io_uring --direct=1 \
	--rw=randwrite --bs=4k --iodepth=32 --size=48M --loops=4 \
	--verify=crc32c --verify_fatal=1 --eta=never --output=fio.log &
fio_pid=$!
check "five kill -9 and recoveries under fio" restarts 5
wait "$fio_pid"
fio_rc=$?
check "fio: zero errors and a clean verify through the restarts" \
	sh -c "[ $fio_rc -eq 0 ] && grep -q 'err= 0' fio.log"
[ "$fio_rc" -eq 0 ] || cat fio.log
check "the disk kept its name ($node)" test -b "$node"
check "the disk is live again" test "$("$T" state "$idx")" = live

# ext4 mounted across restarts: writes go on, fsck is clean afterwards
check "mkfs.ext4" mkfs.ext4 -q -F "$dev"
mkdir -p mnt
mount "$dev" mnt
(
	i=0
	while [ "$i" -lt 40 ]; do
		head -c 256K /dev/urandom >"mnt/f$i" && sync "mnt/f$i" || exit 1
		i=$((i + 1))
	done
	sha256sum mnt/f* >sums
) &
writer=$!
check "three recoveries under a mounted ext4" restarts 3
wait "$writer"
check "ext4: every write went through" test $? -eq 0
check "ext4: files read back after a remount" sh -c \
	"umount mnt && mount $dev mnt && sha256sum -c --quiet sums && umount mnt"
check "ext4: e2fsck -fn clean on the image" e2fsck -fn disk.img

# another user cannot take the device over
kill -KILL "$srv"
wait "$srv" 2>/dev/null
wait_for 10 test "$("$T" state "$idx")" = quiesced
setpriv --reuid=65534 --regid=65534 --clear-groups "$T" recover "$idx" disk.img
check "another uid is refused recovery (EPERM)" test $? -eq 3
check "detach of a quiesced disk removes it at once" "$T" destroy "$idx"
check "the disk is gone" wait_for 5 test ! -e "$node"

# a device process that never comes back: I/O fails in bounded time
serve 3000 || not_ok "second disk starts"
kill -KILL "$srv"
wait "$srv" 2>/dev/null
check "not recovered: the I/O that waited fails" sh -c \
	"! timeout 20 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null"
check "not recovered: the disk is removed" wait_for 10 test ! -e "$dev"
check "not recovered: the log says why" sh -c \
	"dmesg | grep -q 'no device process recovered it in time'"
unload_module
finish
