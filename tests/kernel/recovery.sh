#!/bin/sh
# Devices that outlive their device process: a recoverable disk whose
# process is killed with -9 keeps its name, its mounted file system and
# every request in flight; a new process takes it over and the I/O that
# waited completes, verified.  Three device processes, each file-backed so
# that a new one sees the same data: tests/kernel/test_recover.c (the
# module's ioctls, VLB_IOC_RECOVER), the C ramdisk example (the library's
# vlb_dev_recover, two queues served by a thread each, then by one thread
# after the take-over: more than one ring recovered) and the Python one
# (Device.recover).
# shellcheck source=lib.sh
. "$VLB_SRC/tests/kernel/lib.sh"
in_tmpfs recovery || exit 1

T=$VLB_BIN/tests/kernel/test_recover
R=$VLB_BIN/examples/ramdisk
# -X faulthandler: a stuck one prints where it is on SIGABRT (take_over)
PY="/usr/bin/python3 -X faulthandler $VLB_SRC/examples/python/ramdisk.py"
export PYTHONPATH=$VLB_BUILD/bindings/python PYTHONDONTWRITEBYTECODE=1
load_module reply_timeout_ms=2000
modprobe virtio_blk
chmod 0666 /dev/virtio-loopback

# How each device process starts (ARGS) and takes over vloopbackINDEX;
# exec, so that the pid start_bg knows is the process killed
t_serve() { exec "$T" serve "$IMG" "$@"; }
t_recover() { exec "$T" recover "$1" "$IMG"; }
r_serve() { exec "$R" --file "$IMG" --queues 2 --thread-per-queue "$@"; }
r_recover() { exec "$R" --file "$IMG" --queues 2 --recover "$1"; }
p_serve() { exec $PY --file "$IMG" "$@"; }
p_recover() { exec $PY --file "$IMG" --recover "$1"; }

# take_line: dev and idx from the first line, "INDEX /dev/vdX" (test_recover
# serve) or "/dev/vdX INDEX" (the examples); test_recover recover says
# "recovered" and nothing else
take_line() {
	case $bg_line in
	recovered) ;;
	/dev/*) dev=${bg_line% *} idx=${bg_line#* } ;;
	*) idx=${bg_line% *} dev=${bg_line#* } ;;
	esac
}

# serve KIND ARGS: start KIND's device process on $IMG (sets idx, dev,
# srv); recover_as is what restart runs
serve() {
	recover_as=$1_recover
	how=$1_serve
	shift
	start_bg serve.out "$how" "$@" || return 1
	srv=$bg_pid
	take_line
}

kernel_state() { "$T" state "$idx"; }

# kill9: kill -9 the device process; the kernel quiesces its disk
kill9() {
	kill -KILL "$srv"
	wait "$srv" 2>/dev/null
	wait_for 10 test "$(kernel_state)" = quiesced
}

# take_over: start a recovering device process, on the same disk
take_over() {
	was=$dev
	if ! start_bg recover.out "$recover_as" "$idx"; then
		# still running without saying anything: show where it is
		kill -ABRT "$bg_pid" 2>/dev/null && sleep 2 && cat recover.out.err
		return 1
	fi
	srv=$bg_pid
	take_line
	[ "$dev" = "$was" ] || { echo "recovered as $bg_line"; return 1; }
}

restart() {
	kill9 || return 1
	sleep 0.3
	take_over
}

restarts() {
	i=0
	while [ "$i" -lt "$1" ]; do
		sleep 0.5
		restart || { echo "restart $i failed"; return 1; }
		i=$((i + 1))
	done
}

# under_fio WHO N: N restarts while fio verifies
under_fio() {
	fio_verify_bg "$1" "$dev"
	check "$1: $2 kill -9 and recoveries under fio" restarts "$2"
	check "$1: fio still ran after the last recovery" kill -0 "$fio_pid"
	check "$1: fio QD32 crc32c, zero errors through the restarts" fio_ok "$1"
	check "$1: the disk kept its name, live again" sh -c \
		"[ -b $dev ] && [ \"\$($T state $idx)\" = live ]"
}

# --- test_recover: the module's ioctls ---
IMG=/tmp/ioctl.img
truncate -s 64M "$IMG"
serve t || { not_ok "recoverable disk starts"; finish; }
check "the disk is live" test "$(kernel_state)" = live
under_fio ioctl 5

# ext4 mounted across restarts: writes go on, fsck is clean afterwards
ext4_start "$dev" 40
check "three recoveries under a mounted ext4" restarts 3
ext4_verify "$dev"
check "ext4: e2fsck -fn clean on the image" e2fsck -fn "$IMG"

# another user cannot take the device over
kill9
setpriv --reuid=65534 --regid=65534 --clear-groups "$T" recover "$idx" "$IMG"
check "another uid is refused recovery (EPERM)" test $? -eq 3
check "detach of a quiesced disk removes it at once" "$T" destroy "$idx"
check "the disk is gone" wait_for 5 test ! -e "$dev"

# a device process that never comes back: I/O fails in bounded time
serve t 3000 || not_ok "second disk starts"
kill -KILL "$srv"
wait "$srv" 2>/dev/null
check "not recovered: the I/O that waited fails" sh -c \
	"! timeout 20 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null"
check "not recovered: the disk is removed" wait_for 10 test ! -e "$dev"
check "not recovered: the log says why" sh -c \
	"dmesg | grep -q 'no device process recovered it in time'"

# --- the C ramdisk: vlb_dev_recover ---
IMG=/tmp/ramdisk.img	# where another uid may open it
rm -f "$IMG"
check "ramdisk refuses --recoverable without --file" \
	sh -c "! $R --size 1M --recoverable 2>/dev/null"
serve r --size 64M --recoverable=30000 ||
	{ not_ok "recoverable file-backed ramdisk starts"; finish; }
check "ramdisk: live and recoverable" sh -c \
	"[ \"\$($T state $idx)\" = live ] && [ \"\$(cat /sys/devices/virtual/misc/virtio-loopback/vloopback$idx/recoverable)\" = 1 ]"
under_fio ramdisk 3
check "ramdisk: recovering a live disk is refused, saying why" sh -c \
	"! $R --file $IMG --queues 2 --recover $idx 2>err.txt && grep -q 'cannot recover vloopback$idx' err.txt"
kill9
chmod 0666 "$IMG"
check "ramdisk: another uid's --recover is refused, saying who may" sh -c \
	"! setpriv --reuid=65534 --regid=65534 --clear-groups $R --file $IMG --queues 2 --recover $idx 2>err.txt && grep -q 'only root or the user that created the device may recover it' err.txt"
cat err.txt
check "ramdisk: still quiesced after the refusal" test "$(kernel_state)" = quiesced
check "ramdisk: its own user takes it over" take_over
kill -TERM "$srv"
wait "$srv"
check "ramdisk: SIGTERM removes the recoverable disk at once" wait_for 5 test ! -e "$dev"

# --- the Python ramdisk: Device.recover ---
IMG=/tmp/python.img
rm -f "$IMG"
check "ramdisk.py refuses --recoverable without --file" \
	sh -c "! $PY 16 --recoverable 2>/dev/null"
serve p 64 --recoverable=30000 ||
	{ not_ok "recoverable ramdisk.py starts"; finish; }
under_fio python 1
kill -TERM "$srv"
wait "$srv"
check "ramdisk.py: SIGTERM removes the recovered disk" wait_for 5 test ! -e "$dev"
unload_module
finish
