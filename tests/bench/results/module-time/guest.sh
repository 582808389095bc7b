#!/bin/bash
# The guest half of module-time.md: builds of vloopback made with the
# instrumentation of old.patch or new.patch (module parameter "cost"), each
# in turn per run (order reversed every other run), with qemu-storage-daemon
# and the C RAM disk; for every fio job the module's counters and the guest's
# CPU time (/proc/stat) are read before and after, one line per job in
# $VLB_WORK/raw/cost.txt:
#   LABEL SYSTEM JOB RUN IOS CPU_JIFFIES | counters before | counters after
# Usage: tests/vm/run --keep --mem 4G --timeout 3600 6.12 THIS \
#          [--runs N] [--jobs "JOB..."] LABEL=BUILD...
set -u
RUNS=5 RUNTIME=5 RAMP=0 FIO_SPAN=256M DISK_BYTES=1073741824
JOBS="rr4k-qd32 rw4k-qd32 rr4k-qd1 sr1m-qd4 sw1m-qd4"
sides=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--jobs) JOBS=$2; shift 2 ;;
	*=*) sides+=("$1"); shift ;;
	esac
done
RAW=$VLB_WORK/raw
mkdir -p "$RAW/block"
cd /tmp || exit 1
broken=0
log() { echo "cost: [${SECONDS}s] $*" | tee -a "$RAW/log.txt"; }
. "$VLB_SRC/tests/bench/lib.sh"
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
cost() { cat /sys/module/virtio_loopback/parameters/cost; }
measure() { # SYS LABEL RUN
	local job b0 b1 c0 c1 out ios
	no_scheduler "${DEV[$1]}"
	for job in $JOBS; do
		out=$RAW/block/$2-$1.$job.$3.json
		c0=$(cost); b0=$(busy)
		# shellcheck disable=SC2046
		fio_run "$out" "${DEV[$1]}" $(job_args "$job")
		b1=$(busy); c1=$(cost)
		ios=$(python3 -c "import json,sys;j=json.load(open(sys.argv[1]))['jobs'][0];print(j['read']['total_ios']+j['write']['total_ios'])" "$out")
		echo "$2 $1 $job $3 $ios $((b1 - b0)) | $c0 | $c1" >>"$RAW/cost.txt"
	done
}
modprobe -a virtio virtio_ring virtio_blk || exit 1
for run in $(seq 1 "$RUNS"); do
	order=("${sides[@]}")
	if [ $((run % 2)) = 0 ]; then
		order=()
		for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done
	fi
	for s in "${order[@]}"; do
		label=${s%%=*} b=${s#*=}
		EX=$b/examples CTL=$b/tools/vloopbackctl/vloopbackctl
		ko=$b/kmod/$VLB_KVER/virtio_loopback.ko
		# builds of before 2026-11-28 leave it one level down
		[ -e "$ko" ] || ko=$b/kmod/$VLB_KVER/kmod/virtio_loopback.ko
		insmod "$ko" || { log "insmod $label failed"; broken=1; continue; }
		turn vlbqsd "$label" "$run"
		turn vlbc "$label" "$run"
		rmmod virtio_loopback || { log "rmmod failed"; broken=1; }
	done
	log "run $run/$RUNS done"
done
dmesg | grep -iE "warn|bug|oops|virtio_loopback" | tail -20 >"$RAW/dmesg.txt"
log "done (broken=$broken)"
exit $broken
