#!/bin/bash
# The guest half of tests/bench/compare: builds of vloopback measured in one
# boot, in turn.  Each argument LABEL=BUILD is a meson build dir of some
# commit (its module for this kernel, its vloopbackctl and examples/ramdisk).
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
# Exits nonzero when the comparison itself broke, never because of a figure.
set -u

RUNS=5 RUNTIME=4 RAMP=1 SPAN=256M COUNT=10000
JOBS="rr4k-qd1 rr4k-qd32 rw4k-qd32 sr1m-qd4 sw1m-qd4"
DISK_BYTES=1073741824
sides=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--runtime) RUNTIME=$2; shift 2 ;;
	--ramp) RAMP=$2; shift 2 ;;
	--span) SPAN=$2; shift 2 ;;
	--jobs) JOBS=$2; shift 2 ;;
	--count) COUNT=$2; shift 2 ;;
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

wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

job_args() {
	case $1 in
	rr4k-qd1) echo "--rw=randread --bs=4k --iodepth=1" ;;
	rr4k-qd32) echo "--rw=randread --bs=4k --iodepth=32" ;;
	rw4k-qd32) echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	sr1m-qd4) echo "--rw=read --bs=1M --iodepth=4" ;;
	sw1m-qd4) echo "--rw=write --bs=1M --iodepth=4" ;;
	*) echo "compare-guest.sh: unknown job $1" >&2; return 1 ;;
	esac
}

fio_run() {
	local out=$1 dev=$2
	shift 2
	fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 \
		--time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
		--size="$SPAN" --norandommap --randrepeat=0 --thread \
		--eta=never --output-format=json --output="$out" "$@" ||
		{ log "fio failed: $out"; broken=1; }
}

# jobs SYS DEV RUN: every job on DEV
jobs() {
	local job
	for job in $JOBS; do
		# shellcheck disable=SC2046 # the job's options, split
		fio_run "$RAW/block/$1.$job.$3.json" "$2" $(job_args "$job")
	done
}

# The events behind each I/O, as tests/bench/guest.sh counts them; the
# probes are on functions every build has
EVENTS=irq_vectors:irq_work_entry,irq_vectors:call_function_single_entry,sched:sched_switch,sched:sched_wakeup,raw_syscalls:sys_enter
count_setup() {
	local k=/sys/kernel/tracing/kprobe_events
	mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing
	echo "p:vring_interrupt vring_interrupt" >>$k && EVENTS="$EVENTS,kprobes:vring_interrupt"
}

# count SYS DEV RUN
count() {
	[ "$COUNT" -gt 0 ] || return 0
	perf stat -a -x, -e "$EVENTS" -o "$RAW/counts/$1.$3.csv" -- \
		fio --name=bench --filename="$2" --ioengine=io_uring --direct=1 \
		--rw=randread --bs=4k --iodepth=32 --number_ios="$COUNT" \
		--io_size=$((COUNT * 4))k --size="$SPAN" --norandommap --randrepeat=0 \
		--thread --eta=never --output-format=json --output="$RAW/counts/$1.$3.json" ||
		{ log "counting on $1 failed"; broken=1; }
}

# qsd ARGS...: qemu-storage-daemon with a null-co disk and one export
qsd() {
	qemu-storage-daemon \
		--blockdev driver=null-co,node-name=n,size="$DISK_BYTES",read-zeroes=on \
		--export "$@" >/tmp/qsd.log 2>&1 &
	qsd_pid=$!
}

stop() {
	kill "$@" 2>/dev/null
	wait "$@" 2>/dev/null
}

# first_line OUT CMD...: CMD in the background, its first output line in line
first_line() {
	local out=$1
	shift
	"$@" >"$out" 2>"$out.err" &
	bg_pid=$!
	wait_for 60 sh -c "test -s '$out' || ! kill -0 $bg_pid 2>/dev/null" &&
		test -s "$out" || { cat "$out.err" >&2; return 1; }
	line=$(head -n 1 "$out")
}

no_scheduler() { echo none >"/sys/block/$(basename "$1")/queue/scheduler"; }

anchor_turn() {
	local run=$1 dev
	qsd type=vduse-blk,id=v0,node-name=n,name=vduse0,writable=on,num-queues=1,queue-size=256
	wait_for 30 test -e /dev/vduse/vduse0 && vdpa dev add name vduse0 mgmtdev vduse &&
		wait_for 30 sh -c 'ls -d /sys/bus/vdpa/devices/vduse0/virtio*/block/vd* >/dev/null 2>&1' ||
		{ log "VDUSE did not come up"; cat /tmp/qsd.log >&2; broken=1; stop "$qsd_pid"; return; }
	dev=/dev/$(basename /sys/bus/vdpa/devices/vduse0/virtio*/block/vd*)
	no_scheduler "$dev"
	jobs vduse "$dev" "$run"
	count vduse "$dev" "$run"
	vdpa dev del vduse0
	stop "$qsd_pid"
}

# side_turn LABEL BUILD RUN: that build's module, its two disks, every job
side_turn() {
	local label=$1 build=$2 run=$3 ctl rd
	insmod "$build/kmod/$VLB_KVER/virtio_loopback.ko" ||
		{ log "$label: insmod failed"; broken=1; return; }
	qsd type=vhost-user-blk,id=e,node-name=n,writable=on,num-queues=1,addr.type=unix,addr.path=/tmp/vub.sock
	if wait_for 30 test -S /tmp/vub.sock &&
		first_line /tmp/ctl.out "$build/tools/vloopbackctl/vloopbackctl" attach \
			--foreground --type blk --socket /tmp/vub.sock --num-queues 1 --queue-size 256; then
		ctl=$bg_pid
		no_scheduler "$line"
		jobs "$label-vlbqsd" "$line" "$run"
		count "$label-vlbqsd" "$line" "$run"
		stop "$ctl"
	else
		log "$label: vloopback + qemu-storage-daemon did not come up"
		broken=1
	fi
	stop "$qsd_pid"
	rm -f /tmp/vub.sock
	if first_line /tmp/rd.out "$build/examples/ramdisk" --size "$DISK_BYTES" --queues 1; then
		rd=$bg_pid
		no_scheduler "$line"
		# written once first: a RAM disk's first write of a page is a fault
		fio --name=prefill --filename="$line" --ioengine=io_uring --direct=1 \
			--rw=write --bs=1M --iodepth=4 --size="$SPAN" --eta=never --output=/dev/null
		jobs "$label-vlbc" "$line" "$run"
		count "$label-vlbc" "$line" "$run"
		stop "$rd"
	else
		log "$label: the C RAM disk did not come up"
		broken=1
	fi
	rmmod virtio_loopback || { log "$label: rmmod failed"; broken=1; }
}

modprobe -a virtio virtio_ring virtio_blk vduse virtio_vdpa || { log "modprobe failed"; exit 1; }
count_setup || log "no kprobe on vring_interrupt: interrupts not counted"
: >"$RAW/sides.tsv"
for s in "${sides[@]}"; do
	label=${s%%=*} build=${s#*=}
	printf '%s\t%s\t%s\n' "$label" "$build" "$(cat "$build/compare-commit" 2>/dev/null)" \
		>>"$RAW/sides.tsv"
done
echo "kernel=$(uname -r)" >"$RAW/env.txt"
for run in $(seq 1 "$RUNS"); do
	order=("${sides[@]}")
	if [ $((run % 2)) = 0 ]; then
		order=()
		for ((i = ${#sides[@]} - 1; i >= 0; i--)); do order+=("${sides[i]}"); done
	fi
	anchor_turn "$run"
	for s in "${order[@]}"; do
		side_turn "${s%%=*}" "${s#*=}" "$run"
	done
	log "run $run/$RUNS done"
done
log "done (broken=$broken)"
exit "$broken"
