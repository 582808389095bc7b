# Shell helpers for the kernel tests, sourced by tests/kernel/*.sh.  They run
# inside the guest that tests/vm/run boots (VLB_KVER, VLB_BUILD, VLB_SRC and
# VLB_WORK are set).  Each check prints "ok - NAME" or "not ok - NAME";
# finish() exits nonzero if any check failed.

VLB_KO=$VLB_BUILD/kmod/$VLB_KVER/virtio_loopback.ko
VLB_BIN=$VLB_BUILD
failed=0

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; failed=$((failed + 1)); }

# check NAME CMD...: run CMD, report NAME by its exit status
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
	deadline=$(( $(date +%s) + $1 ))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# start_bg OUT CMD...: run CMD in the background (pid in bg_pid) and wait
# for the first line it prints, the node it became (in bg_line)
start_bg() {
	out=$1
	shift
	"$@" >"$out" 2>"$out.err" &
	bg_pid=$!
	wait_for 60 test -s "$out" || { cat "$out.err"; return 1; }
	bg_line=$(head -n 1 "$out")
}

# stop_bg: SIGTERM and reap the background device process; its exit code
stop_bg() {
	kill -TERM "$bg_pid"
	wait "$bg_pid"
}

# in_tmpfs NAME: work in /tmp/NAME, the guest's tmpfs, not the 9p work dir
# (cache=mmap).  There, four times (three in recovery.sh, one of them on
# 7.3; devices.sh's ramdisk --poll on 6.12), the line a device process printed
# on start never reached its file while the process served the disk
# (faulthandler showed it past its write; fio counted the I/O it served).
# Why 9p lost it was not pinned down.
in_tmpfs() { mkdir -p "/tmp/$1" && cd "/tmp/$1" || return; }

load_module() {
	# the virtio core is modular on 6.1, built in on 6.12
	modprobe -a virtio virtio_ring 2>/dev/null
	insmod "$VLB_KO" "$@" || { not_ok "insmod $VLB_KO"; finish; }
	wait_for 5 test -c /dev/virtio-loopback || not_ok "/dev/virtio-loopback appears"
}

module_loaded() { grep -q '^virtio_loopback ' /proc/modules; }

unload_module() {
	check "rmmod virtio_loopback" rmmod virtio_loopback
	check "module gone after rmmod" sh -c '! grep -q "^virtio_loopback " /proc/modules'
}

finish() {
	if [ "$failed" -ne 0 ]; then
		echo "$failed check(s) failed"
		exit 1
	fi
	exit 0
}

# fio_verify_bg NAME DEV: in the background (fio_pid), fio at QD32 writes
# DEV's first 32 MiB at random, 4k blocks, and after every 32 writes reads
# those blocks back (crc32c, a mismatch is fatal) until fio_ok; a slow disk
# (the Python ramdisk) is verified too; log fio-NAME.log in the current dir
fio_verify_bg() {
	fio --name="$1" --filename="$2" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --iodepth=32 --size=32M \
		--time_based --runtime=300 --verify=crc32c --verify_backlog=32 \
		--verify_fatal=1 --eta=never --output="fio-$1.log" &
	fio_pid=$!
}

# fio_ok NAME: one more second of I/O, then stop fio; it had no error and
# verified what it wrote.  Stopped by a signal fio ends its job cleanly,
# prints its report and exits 128; a verify failure (verify_fatal) is an
# error of the job: "err=" not 0, exit 1
fio_ok() {
	sleep 1
	kill -INT "$fio_pid"
	wait "$fio_pid"
	fio_rc=$?
	{ [ "$fio_rc" -eq 0 ] || [ "$fio_rc" -eq 128 ]; } &&
		grep -q 'err= 0' "fio-$1.log" &&
		grep -q 'issued rwts: total=[1-9]' "fio-$1.log" && return 0
	echo "fio exited $fio_rc"
	cat "fio-$1.log"
	return 1
}

# ext4_start DEV N: a fresh ext4 on DEV mounted on ./mnt, and N files of
# 256 KiB written and synced one by one in the background (ext4_writer),
# their checksums then kept in ./sums
ext4_start() {
	check "mkfs.ext4" mkfs.ext4 -q -F "$1"
	mkdir -p mnt
	mount "$1" mnt
	(
		i=0
		while [ "$i" -lt "$2" ]; do
			head -c 256K /dev/urandom >"mnt/f$i" && sync "mnt/f$i" || exit 1
			i=$((i + 1))
		done
		sha256sum mnt/f* >sums
	) &
	ext4_writer=$!
}

# ext4_verify DEV: every write of ext4_start went through, and every file
# reads back the same after a remount
ext4_verify() {
	wait "$ext4_writer"
	check "ext4: every write went through" test $? -eq 0
	check "ext4: files read back after a remount" sh -c \
		"umount mnt && mount $1 mnt && sha256sum -c --quiet sums && umount mnt"
}
