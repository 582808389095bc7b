#!/bin/sh
# Real kernel drivers bound to devices served from user space by the
# examples: virtio_rng, virtio_blk (fio with verification, ext4; busy
# polling), virtio_input;
# a device process killed in the middle of I/O; many create/destroy cycles.
# One guest boot runs them all.
. "$VLB_SRC/tests/kernel/lib.sh"
EX=$VLB_BUILD/examples
in_tmpfs devices || exit 1

fio_verify() {
	job=$1
	target=$2
	shift 2
	fio --name="$job" --filename="$target" --ioengine=io_uring --direct=1 \
		--eta=never --verify=crc32c --verify_fatal=1 --output="fio-$job.log" "$@"
}

distinct_bytes() { od -An -v -tu1 "$1" | tr -s ' ' '\n' | sort -u | wc -l; }

test_rng() {
	start_bg rng.out "$EX/rng" || { not_ok "rng: device starts"; return; }
	avail=/sys/class/misc/hw_random/rng_available
	rng=$(tr ' ' '\n' <"$avail" | grep '^virtio_rng' | head -n 1)
	check "rng: virtio_rng bound ($rng)" test -n "$rng"
	echo "$rng" >/sys/class/misc/hw_random/rng_current
	head -c 4096 /dev/hwrng >rng.a
	head -c 4096 /dev/hwrng >rng.b
	check "rng: /dev/hwrng gives 4096 bytes" test "$(wc -c <rng.a)" -eq 4096
	check "rng: data is not constant" sh -c \
		"! cmp -s rng.a rng.b && [ $(distinct_bytes rng.a) -gt 200 ]"
	check "rng: device process exits cleanly" stop_bg
	check "rng: virtio_rng gone with it" sh -c "! grep -q '$rng' $avail"
}

test_ramdisk() {
	start_bg rd.out "$EX/ramdisk" --size 256M ||
		{ not_ok "ramdisk: device starts"; return; }
	dev=$bg_line
	check "ramdisk: $dev is a 256 MiB disk" \
		test "$(blockdev --getsize64 "$dev")" -eq 268435456
	# The module's DMA mapping limit is what virtio_blk makes its segment
	# size: at most 1 MiB, and seg_max (62) of them fit in the ramdisk's
	# 64 MiB area, less the ring and 64 KiB for a request's header, status
	# and indirect table.
	check "ramdisk: segments of 1 MiB, seg_max (62) of them fit the area" \
		test "$(cat "/sys/block/${dev#/dev/}/queue/max_segment_size")" -eq 1048576 \
		-a "$(cat "/sys/block/${dev#/dev/}/queue/max_segments")" -eq 62
	check "ramdisk: fio 4k randwrite QD16 verified" fio_verify r4k "$dev" \
		--rw=randwrite --bs=4k --iodepth=16 --size=64M
	check "ramdisk: fio 1M writes verified" fio_verify w1m "$dev" \
		--rw=write --bs=1M --iodepth=4 --size=128M
	check "ramdisk: discard" blkdiscard "$dev"
	check "ramdisk: mkfs.ext4" mkfs.ext4 -q -F "$dev"
	mkdir -p mnt
	mount "$dev" mnt && head -c 8M /dev/urandom >mnt/data &&
		cp mnt/data mnt/copy && sha256sum mnt/data >sums && umount mnt
	check "ramdisk: files survive a remount" sh -c \
		"mount $dev mnt && sha256sum -c --quiet sums && cmp mnt/data mnt/copy && umount mnt"
	check "ramdisk: fsck.ext4 -n -f clean" fsck.ext4 -n -f "$dev"
	check "ramdisk: rmmod refused while the device exists" sh -c \
		"! rmmod virtio_loopback 2>/dev/null"
	check "ramdisk: device process exits cleanly" stop_bg
	check "ramdisk: $dev removed" wait_for 10 test ! -e "$dev"
}

# How many threads process $1 runs
threads() { awk '/^Threads:/ { print $2 }' /proc/"$1"/status; }

test_ramdisk_mq() {
	start_bg rd2.out "$EX/ramdisk" --size 64M --queues 2 ||
		{ not_ok "ramdisk --queues 2: device starts"; return; }
	dev=$bg_line
	check "ramdisk --queues 2: two hardware queues" \
		test "$(ls "/sys/block/${dev#/dev/}/mq" | wc -l)" -eq 2
	check "ramdisk --queues 2: one thread serves both" \
		test "$(threads "$bg_pid")" -eq 1
	check "ramdisk --queues 2: fio 2 jobs verified" fio_verify mq "$dev" \
		--rw=randwrite --bs=4k --iodepth=16 --size=32M --numjobs=2 \
		--offset_increment=32M
	check "ramdisk --queues 2: exits cleanly" stop_bg
}

test_ramdisk_null() {
	start_bg rd4.out "$EX/ramdisk" --size 1G --null ||
		{ not_ok "ramdisk --null: device starts"; return; }
	dev=$bg_line
	check "ramdisk --null: $dev is a 1 GiB disk" \
		test "$(blockdev --getsize64 "$dev")" -eq 1073741824
	head -c 1M /dev/urandom >rand
	check "ramdisk --null: 1 MiB written at 512 MiB" \
		dd if=rand of="$dev" bs=1M seek=512 oflag=direct status=none
	# A read after a write lands in the same shared buffers: zeroes come
	# from the device, not from what the write left there
	check "ramdisk --null: reads return zeroes, not what was written" sh -c \
		"dd if=$dev bs=1M skip=512 count=1 iflag=direct status=none | cmp -s - /dev/zero -n 1048576"
	check "ramdisk --null: discard and flush succeed" sh -c \
		"blkdiscard $dev && sync $dev"
	check "ramdisk --null: exits cleanly" stop_bg
}

# Voluntary context switches of all of process $1's threads: each is a sleep
ctx_switches() {
	cat /proc/"$1"/task/*/status |
		awk '/^voluntary_ctxt_switches/ { n += $2 } END { print n }'
}

# The sleeps of device process $2 during 2000 4k reads of $1 one after the
# other, each finding the device idle
qd1_sleeps() {
	local before
	before=$(ctx_switches "$2")
	fio --name=qd1 --filename="$1" --ioengine=psync --direct=1 --rw=randread \
		--bs=4k --size=32M --number_ios=2000 --eta=never --output=/dev/null
	echo $(($(ctx_switches "$2") - before))
}

# Busy polling (--poll): the serving thread no longer sleeps between
# requests that follow each other closely; the same reads with a disk that
# does not poll show that each would otherwise cost a sleep.  Data checked
# on both serving loops (one thread, and a thread per queue).
test_ramdisk_poll() {
	start_bg rd5.out "$EX/ramdisk" --size 64M ||
		{ not_ok "ramdisk: device starts"; return; }
	sleeps=$(qd1_sleeps "$bg_line" "$bg_pid")
	check "ramdisk: 2000 reads one by one cost $sleeps sleeps (>= 1000)" \
		test "$sleeps" -ge 1000
	check "ramdisk: exits cleanly" stop_bg
	start_bg rd5.out "$EX/ramdisk" --size 64M --poll 2000 ||
		{ not_ok "ramdisk --poll: device starts"; return; }
	dev=$bg_line
	sleeps=$(qd1_sleeps "$dev" "$bg_pid")
	check "ramdisk --poll 2000: 2000 reads one by one cost $sleeps sleeps (< 500)" \
		test "$sleeps" -lt 500
	check "ramdisk --poll: fio 4k randwrite QD16 verified" fio_verify p4k "$dev" \
		--rw=randwrite --bs=4k --iodepth=16 --size=32M
	check "ramdisk --poll: exits cleanly" stop_bg
	start_bg rd6.out "$EX/ramdisk" --size 64M --queues 2 --poll 100 \
		--thread-per-queue ||
		{ not_ok "ramdisk --queues 2 --poll: device starts"; return; }
	check "ramdisk --queues 2 --thread-per-queue: a thread per queue" \
		test "$(threads "$bg_pid")" -eq 3
	check "ramdisk --queues 2 --poll 100: fio 2 jobs verified" \
		fio_verify pmq "$bg_line" --rw=randwrite --bs=4k --iodepth=16 \
		--size=16M --numjobs=2 --offset_increment=32M
	check "ramdisk --queues 2 --poll: exits cleanly" stop_bg
}

# Feed the events of file $2 to the input device on fd 3, one report per
# 20 ms (evdev drops what its reader has not taken: under a loaded TCG host
# 5 ms lost events there, in the reader, never in the device), and write
# what a reader of node $1 got to the file "got".
input_roundtrip() {
	local rd
	python3 "$VLB_SRC/tests/kernel/evread.py" "$1" "$(wc -l <"$2")" 20 >got &
	rd=$!
	wait_for 10 sh -c "ls -l /proc/$rd/fd | grep -q '$1'"
	python3 -c 'import sys, time
for line in open(sys.argv[1]):
    sys.stdout.write(line)
    sys.stdout.flush()
    if line == "0 0 0\n":
        time.sleep(0.02)' "$2" >&3
	wait "$rd"
}

test_input() {
	fifo=/tmp/events.fifo	# the 9p work dir cannot hold a fifo
	mkfifo "$fifo"
	exec 3<>"$fifo"
	start_bg in.out "$EX/input" --keyboard --events "$fifo" ||
		{ not_ok "input: device starts"; exec 3>&-; return; }
	# LED status lines may come first (7.x sets the LEDs at connect)
	wait_for 30 grep -q '^/dev/' in.out
	node=$(grep -m1 '^/dev/' in.out)
	check "input: $node is an event device" test -c "$node"
	printf '1 30 1\n0 0 0\n1 30 0\n0 0 0\n' >want
	input_roundtrip "$node" want
	check "input: events arrive with the type, code and value sent" cmp got want
	# Far more events than the driver posts buffers (64): the device runs
	# out, and only then asks for kicks again (lazy kicks), many times over.
	# Keys Q..P: a lock key would send its LED events back to the reader.
	for i in $(seq 1 100); do
		printf '1 %d 1\n0 0 0\n1 %d 0\n0 0 0\n' $((i % 10 + 16)) $((i % 10 + 16))
	done >want
	input_roundtrip "$node" want
	check "input: 400 events, 6 rounds of the driver's buffers, all arrive in order" cmp got want
	check "input: device process exits cleanly" stop_bg
	exec 3>&-
}

test_kill9() {
	start_bg rd3.out "$EX/ramdisk" --size 64M ||
		{ not_ok "kill -9: device starts"; return; }
	dev=$bg_line
	start=$(date +%s)
	fio --name=kill --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randrw --bs=4k --iodepth=32 --time_based --runtime=120 \
		--eta=never --output=fio-kill.log &
	fio=$!
	sleep 3
	kill -KILL "$bg_pid"
	wait "$fio"
	rc=$?
	took=$(($(date +%s) - start))
	check "kill -9: fio ends with an error ($rc)" test "$rc" -ne 0
	check "kill -9: fio ends within 30 s (${took}s)" test "$took" -lt 30
	check "kill -9: $dev removed" wait_for 10 test ! -e "$dev"
}

test_config_change() {
	check "config change: a disk grows when the device says so" \
		"$VLB_BIN/tests/kernel/test_config"
}

test_cycles() {
	shmem_before=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)
	blocks_before=$(ls /sys/class/block | wc -l)
	check "100 create/bind/destroy cycles" "$VLB_BIN/tests/kernel/test_cycles" 100
	shmem_after=$(awk '/^Shmem:/ { print $2 }' /proc/meminfo)
	check "cycles: no vloopback device left" sh -c \
		"! ls /sys/devices/virtual/misc/virtio-loopback | grep -q vloopback"
	check "cycles: block devices unchanged" \
		test "$(ls /sys/class/block | wc -l)" -eq "$blocks_before"
	check "cycles: shared memory returned (${shmem_before} -> ${shmem_after} kB)" \
		test "$shmem_after" -lt $((shmem_before + 8192))
	check "cycles: module refcount back to 0" \
		test "$(awk '$1 == "virtio_loopback" { print $3 }' /proc/modules)" -eq 0
}

load_module
modprobe -a virtio_rng virtio_blk virtio_input evdev
test_rng
test_ramdisk
test_ramdisk_mq
test_ramdisk_null
test_ramdisk_poll
test_input
test_kill9
test_config_change
test_cycles
unload_module
finish
