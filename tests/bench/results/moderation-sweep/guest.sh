#!/bin/bash
# The moderation sweep, guest half: one boot, each module parameter
# coalesce_profile of dim.patch's module in turn (order reversed every
# other run), vloopback with qemu-storage-daemon and the C RAM disk, fio 4k
# random read and write at QD32 with the bench's perf session counting.
#   tests/vm/run --timeout 2400 6.12 guest.sh BUILD RUNS "PROFILES"
# BUILD: a meson build dir whose kmod/KVER/virtio_loopback.ko has
# dim.patch; PROFILES: e.g. "-1 0 1 2 3 4" (-1: DIM picks).  Raw results in
# the work dir's raw/ (report.py RAW prints the table); raw/profiles.txt
# holds each profile DIM picked (dev_dbg, turned on at insmod).
# lib.sh reads the variables and calls measure by name:
# shellcheck disable=SC2034,SC2317
set -u
RUNTIME=4 RAMP=1 FIO_SPAN=256M DISK_BYTES=1073741824
B=$1 RUNS=$2 PROFILES=$3
JOBS="rr4k-qd32 rw4k-qd32"
RAW=$VLB_WORK/raw
mkdir -p "$RAW/block"
cd /tmp || exit 1
broken=0
log() { echo "sweep: [${SECONDS}s] $*" | tee -a "$RAW/log.txt"; }
. "$VLB_SRC/tests/bench/lib.sh"
EX=$B/examples CTL=$B/tools/vloopbackctl/vloopbackctl
measure() { # SYS LABEL RUN
	local job out
	no_scheduler "${DEV[$1]}"
	for job in $JOBS; do
		out=$RAW/block/$2-$1.$job.$3
		count_take /dev/null
		count_ctl enable
		# shellcheck disable=SC2046
		fio_run "$out.json" "${DEV[$1]}" $(job_args "$job")
		count_ctl disable
		count_take "$out.csv"
	done
}
modprobe -a virtio virtio_ring virtio_blk || exit 1
count_setup vring_interrupt
for run in $(seq 1 "$RUNS"); do
	read -ra order <<<"$PROFILES"
	if [ $((run % 2)) = 0 ]; then
		read -ra all <<<"$PROFILES"
		order=()
		for ((i = ${#all[@]} - 1; i >= 0; i--)); do order+=("${all[i]}"); done
	fi
	for p in "${order[@]}"; do
		insmod "$B/kmod/$VLB_KVER/virtio_loopback.ko" coalesce_profile="$p" dyndbg=+p || { log "insmod failed"; broken=1; continue; }
		turn vlbqsd "p$p" "$run"
		turn vlbc "p$p" "$run"
		rmmod virtio_loopback || { log "rmmod failed"; broken=1; }
	done
	log "run $run/$RUNS done"
done
dmesg | grep "moderation profile" >"$RAW/profiles.txt"
log "done (broken=$broken)"
exit $broken
