#!/bin/sh
# The Python binding driving the real kernel drivers, in one guest boot:
# examples/python/rng.py feeds /dev/hwrng; examples/python/ramdisk.py passes
# fio's verification; a disk whose read() raises for one sector, served from
# asyncio (python_disk.py), fails that read and only that one, and the
# Buffers its read() kept past their request raise.  A disk whose shared
# area barely holds its largest request (small_area.py) still serves that
# request after 4k I/O on both CPUs, whose freed ranges the module caches
# per CPU (kmod/iova.c).  The module is the build's:
# PYTHONPATH=$VLB_BUILD/bindings/python.
. "$VLB_SRC/tests/kernel/lib.sh"
PY=/usr/bin/python3	# what the extension was built for
EX=$VLB_SRC/examples/python
export PYTHONPATH=$VLB_BUILD/bindings/python PYTHONDONTWRITEBYTECODE=1
in_tmpfs python || exit 1

distinct_bytes() { od -An -v -tu1 "$1" | tr -s ' ' '\n' | sort -u | wc -l; }

# same_sector N: sector N of the disk, read directly, is sector N of pattern
same_sector() {
	dd if=pattern bs=512 skip="$1" count=1 status=none >want &&
		dd if="$dev" bs=512 skip="$1" count=1 iflag=direct status=none >got &&
		cmp want got
}

test_rng() {
	start_bg rng.out "$PY" "$EX/rng.py" || { not_ok "rng.py: device starts"; return; }
	avail=/sys/class/misc/hw_random/rng_available
	rng=$(tr ' ' '\n' <"$avail" | grep '^virtio_rng' | head -n 1)
	check "rng.py: virtio_rng bound ($rng, $bg_line)" test -n "$rng"
	echo "$rng" >/sys/class/misc/hw_random/rng_current
	head -c 4096 /dev/hwrng >rng.a
	head -c 4096 /dev/hwrng >rng.b
	check "rng.py: /dev/hwrng gives 4096 bytes" test "$(wc -c <rng.a)" -eq 4096
	check "rng.py: data is not constant" sh -c \
		"! cmp -s rng.a rng.b && [ $(distinct_bytes rng.a) -gt 200 ]"
	check "rng.py: exits cleanly on SIGTERM" stop_bg
	check "rng.py: virtio_rng gone with it" sh -c "! grep -q '$rng' $avail"
	check "rng.py: nothing on stderr" test ! -s rng.out.err
}

test_ramdisk() {
	start_bg rd.out "$PY" "$EX/ramdisk.py" 256 ||
		{ not_ok "ramdisk.py: device starts"; return; }
	dev=$bg_line
	check "ramdisk.py: $dev is a 256 MiB disk" \
		test "$(blockdev --getsize64 "$dev")" -eq 268435456
	check "ramdisk.py: fio 4k randwrite QD8 verified (crc32c)" \
		fio --name=py --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randwrite --bs=4k --iodepth=8 --size=32M --eta=never \
		--verify=crc32c --verify_fatal=1 --output=fio-py.log
	grep -E 'IOPS|err=' fio-py.log
	check "ramdisk.py: exits cleanly on SIGTERM" stop_bg
	check "ramdisk.py: $dev removed" wait_for 10 test ! -e "$dev"
	check "ramdisk.py: nothing on stderr" test ! -s rd.out.err
}

test_failing_sector() {
	start_bg fd.out "$PY" "$VLB_SRC/tests/kernel/python_disk.py" 16 1000 --asyncio ||
		{ not_ok "raising disk (asyncio): device starts"; return; }
	dev=$bg_line
	head -c 1M /dev/urandom >pattern
	check "raising disk: 1 MiB written" \
		dd if=pattern of="$dev" bs=64k oflag=direct status=none
	check "raising disk: reading sector 1000 fails" sh -c \
		"! dd if=$dev of=/dev/null bs=512 skip=1000 count=1 iflag=direct status=none"
	check "raising disk: reading sectors 992..1007 fails" sh -c \
		"! dd if=$dev of=/dev/null bs=8k skip=62 count=1 iflag=direct status=none"
	check "raising disk: the handler's traceback is logged" sh -c \
		"grep -q Traceback fd.out.err && grep -q 'injected failure at sector 1000' fd.out.err"
	for s in 999 1001 0 2047; do
		check "raising disk: sector $s reads back after the failure" same_sector $s
	done
	check "raising disk: exits cleanly on SIGTERM" stop_bg
	check "raising disk: $dev removed" wait_for 10 test ! -e "$dev"
	grep 'kept Buffers' fd.out.err
	check "raising disk: Buffers kept past their request raise (none usable)" \
		grep -Eq '^kept Buffers: [1-9][0-9]* checked, 0 usable$' fd.out.err
}

reads_done() { awk '{print $1}' "/sys/block/${dev#/dev/}/stat"; }

test_small_area() {
	start_bg sa.out "$PY" "$VLB_SRC/tests/kernel/small_area.py" ||
		{ not_ok "small area: device starts"; return; }
	dev=$bg_line
	q=/sys/block/${dev#/dev/}/queue
	segs="$(cat "$q/max_segments") $(cat "$q/max_segment_size")"
	echo "small area: segments and their bytes: $segs"
	check "small area: 61 segments of 32 KiB" test "$segs" = "61 32768"
	check "small area: fio 4k randrw QD16 on two CPUs verified (crc32c)" \
		fio --name=small --filename="$dev" --direct=1 --ioengine=io_uring \
		--rw=randrw --bs=4k --iodepth=16 --numjobs=2 --size=4M \
		--offset_increment=4M --verify=crc32c --output=sa.fio
	# one request of 61 x 32 KiB from a huge page: the whole area's worth
	echo 1952 >"$q/max_sectors_kb"
	echo 4 >/proc/sys/vm/nr_hugepages
	before=$(reads_done)
	check "small area: the largest request, written and read back (crc32c)" \
		timeout 60 fio --name=big --filename="$dev" --direct=1 \
		--ioengine=psync --rw=write --bs=1952k --size=1952k \
		--iomem=shmhuge --verify=crc32c --output=big.fio
	reads=$(($(reads_done) - before))
	echo "small area: $reads read request(s)"
	check "small area: read back as one request" test "$reads" -eq 1
	check "small area: exits cleanly on SIGTERM" stop_bg
	check "small area: nothing on stderr" test ! -s sa.out.err
}

load_module
modprobe -a virtio_rng virtio_blk
test_rng
test_ramdisk
test_failing_sector
test_small_area
unload_module
finish
