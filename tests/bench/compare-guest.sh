#!/bin/bash
# The guest half of tests/bench/compare: builds of vloopback measured in one
# boot, in turn.  Each argument LABEL=BUILD is a meson build dir of some
# commit (its module for this kernel, its vloopbackctl and examples/ramdisk);
# LABEL=BUILD:ARG,ARG... also gives the C RAM disk those options.
# In each run every build has its turn (order reversed every other run, so
# drift favours none): its module is loaded, vloopback with
# qemu-storage-daemon (null-co) and the C RAM disk come up, fio runs every
# job on both, the events of a fixed number of 4k random reads at QD32 are
# counted, then all goes down and the module is unloaded.  VDUSE, served by
# the same qemu-storage-daemon, runs the same jobs once per run as the anchor.
# Everything lands under $VLB_WORK/raw:
#   sides.tsv                   LABEL, BUILD, the commit it was built from
#   block/SYS.JOB.RUN.json      fio's JSON; SYS is vduse or LABEL-vlbqsd,
#                               LABEL-vlbc
#   counts/SYS.RUN.csv|.json    perf stat and fio over the counted reads
#   log.txt                     what happened
# Options: --runs N --runtime S --ramp S --span SIZE --jobs "JOB..."
# --count N (reads counted per system and run; 0: none)
# --systems "SYS..." (of vlbqsd vlbc; default both)
# Exits nonzero when the comparison itself broke, never because of a figure.
set -u

RUNS=5 RUNTIME=4 RAMP=1 FIO_SPAN=256M COUNT=10000
JOBS="rr4k-qd1 rr4k-qd32 rw4k-qd32 sr1m-qd4 sw1m-qd4"
SYSTEMS="vlbqsd vlbc"
DISK_BYTES=1073741824
sides=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--runtime) RUNTIME=$2; shift 2 ;;
	--ramp) RAMP=$2; shift 2 ;;
	--span) FIO_SPAN=$2; shift 2 ;;
	--jobs) JOBS=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
	--systems) SYSTEMS=$2; shift 2 ;;
	*=*) sides+=("$1"); shift ;;
	*) echo "compare-guest.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

RAW=$VLB_WORK/raw
mkdir -p "$RAW/block" "$RAW/counts"
# Sockets: the 9p work dir cannot hold them
cd /tmp || exit 1
broken=0

log() { echo "compare: [${SECONDS}s] $*" | tee -a "$RAW/log.txt"; }

# wait_for, the block systems (EX and CTL name the build), fio, counts
. "$VLB_SRC/tests/bench/lib.sh"

# measure SYS NAME RUN: every job on SYS's disk, then the counted reads,
# under NAME
measure() {
	local job
	no_scheduler "${DEV[$1]}"
	for job in $JOBS; do
		# shellcheck disable=SC2046 # the job's options, split
		fio_run "$RAW/block/$2.$job.$3.json" "${DEV[$1]}" $(job_args "$job")
	done
	[ "$COUNT" -gt 0 ] || return 0
	count_ios "$RAW/counts/$2.$3" "${DEV[$1]}" "$COUNT" ||
		{ log "counting on $2 failed"; broken=1; }
}

# side_turn LABEL BUILD[:ARG,...] RUN: that build's module, its disks,
# every job
side_turn() {
	local label=$1 build=${2%%:*} run=$3 sys
	RAMDISK_ARGS=
	[ "$build" = "$2" ] || RAMDISK_ARGS=${2#*:} RAMDISK_ARGS=${RAMDISK_ARGS//,/ }
	EX=$build/examples CTL=$build/tools/vloopbackctl/vloopbackctl
	insmod "$build/kmod/$VLB_KVER/virtio_loopback.ko" ||
		{ log "$label: insmod failed"; broken=1; return; }
	for sys in $SYSTEMS; do
		turn "$sys" "$label-$sys" "$run"
	done
	rmmod virtio_loopback || { log "$label: rmmod failed"; broken=1; }
}

modprobe -a virtio virtio_ring virtio_blk vduse virtio_vdpa || { log "modprobe failed"; exit 1; }
# kprobes on the module would go with each unload: the core's only
count_setup vring_interrupt
: >"$RAW/sides.tsv"
for s in "${sides[@]}"; do
	label=${s%%=*} build=${s#*=} build=${build%%:*} what=
	[ "$build" = "${s#*=}" ] || what=" (C RAM disk: ${s#*:})"
	printf '%s\t%s\t%s%s\n' "$label" "$build" \
		"$(cat "$build/compare-commit" 2>/dev/null)" "${what//,/ }" >>"$RAW/sides.tsv"
done
echo "kernel=$(uname -r)" >"$RAW/env.txt"
for run in $(seq 1 "$RUNS"); do
	order=("${sides[@]}")
	if [ $((run % 2)) = 0 ]; then
		order=()
		for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done
	fi
	turn vduse vduse "$run"
	for s in "${order[@]}"; do
		side_turn "${s%%=*}" "${s#*=}" "$run"
	done
	log "run $run/$RUNS done"
done
log "done (broken=$broken)"
exit "$broken"
