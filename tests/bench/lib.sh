#!/bin/bash
# What the benchmark's two guest halves share, sourced in the guest by
# tests/bench/guest.sh and tests/bench/compare-guest.sh: waiting, the block
# systems both measure (VDUSE, vloopback with qemu-storage-daemon, the C
# RAM disk: setup_SYS QUEUES sets DEV[SYS] and PIDS[SYS], teardown_SYS), the
# fio jobs, and the events behind each I/O.
# The sourcing script sets RAW, RUNTIME, RAMP, FIO_SPAN, DISK_BYTES, EX
# (examples dir) and CTL (vloopbackctl), and defines log; fio_run sets
# broken=1 when fio fails.
# setup_SYS, teardown_SYS and measure are called by name, and SKIP_NOTE and
# broken are the sourcing script's:
# shellcheck disable=SC2317,SC2034

# wait_for SECONDS CMD...: poll CMD every 0.1 s until it succeeds
wait_for() {
	local deadline=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# ---- the block systems ----
declare -A DEV PIDS

# start_bg OUT CMD...: CMD in the background; its first output line in bg_line
start_bg() {
	local out=$1
	shift
	"$@" >"$out" 2>"$out.err" &
	bg_pid=$!
	# until it prints, or gives up (then say why at once)
	wait_for 60 sh -c "test -s '$out' || ! kill -0 $bg_pid 2>/dev/null" &&
		test -s "$out" || { cat "$out.err" >&2; return 1; }
	bg_line=$(head -n 1 "$out")
}

setup_vduse() {
	qemu-storage-daemon \
		--blockdev driver=null-co,node-name=n,size="$DISK_BYTES",read-zeroes=on \
		--export type=vduse-blk,id=v0,node-name=n,name=vduse0,writable=on,num-queues="$1",queue-size=256 \
		>vduse.log 2>&1 &
	PIDS[vduse]=$!
	wait_for 30 test -e /dev/vduse/vduse0 || { cat vduse.log >&2; return 1; }
	vdpa dev add name vduse0 mgmtdev vduse || return 1
	wait_for 30 sh -c 'ls -d /sys/bus/vdpa/devices/vduse0/virtio*/block/vd* >/dev/null 2>&1' ||
		return 1
	DEV[vduse]=/dev/$(basename /sys/bus/vdpa/devices/vduse0/virtio*/block/vd*)
}
teardown_vduse() {
	vdpa dev del vduse0
	kill "${PIDS[vduse]}"
	wait "${PIDS[vduse]}"
}

setup_vlbqsd() {
	[ -x "$CTL" ] || { SKIP_NOTE="adapter not available (no $CTL)"; return 2; }
	qemu-storage-daemon \
		--blockdev driver=null-co,node-name=n,size="$DISK_BYTES",read-zeroes=on \
		--export type=vhost-user-blk,id=e,node-name=n,writable=on,num-queues="$1",addr.type=unix,addr.path=/tmp/vub.sock \
		>vub.log 2>&1 &
	local qsd=$!
	wait_for 30 test -S /tmp/vub.sock || { cat vub.log >&2; return 1; }
	start_bg /tmp/ctl.out "$CTL" attach --foreground --type blk --socket /tmp/vub.sock \
		--num-queues "$1" --queue-size 256 || return 1
	DEV[vlbqsd]=$bg_line
	PIDS[vlbqsd]="$qsd $bg_pid"
}
teardown_vlbqsd() {
	local qsd=${PIDS[vlbqsd]% *} ctl=${PIDS[vlbqsd]#* }
	kill "$ctl"
	wait "$ctl"
	kill "$qsd"
	wait "$qsd"
	rm -f /tmp/vub.sock
}

# start_dev SYS OUT CMD...: a device process that prints its disk's path
start_dev() {
	local sys=$1 out=$2
	shift 2
	start_bg "$out" "$@" || return 1
	DEV[$sys]=$bg_line
	PIDS[$sys]=$bg_pid
}
stop_dev() {
	kill "${PIDS[$1]}"
	wait "${PIDS[$1]}"
}

# RAMDISK_ARGS: more options of the C RAM disk (compare's REV:ARG,ARG)
# shellcheck disable=SC2086 # the options, split
setup_vlbc() { start_dev vlbc /tmp/rd.out "$EX/ramdisk" --size "$DISK_BYTES" --queues "$1" ${RAMDISK_ARGS:-}; }
teardown_vlbc() { stop_dev vlbc; }
# The same disk with a thread per queue (the scaling part only): whether
# threads help when the device shares the guest's CPUs with fio's jobs
# shellcheck disable=SC2086 # the options, split
setup_vlbct() { start_dev vlbct /tmp/rdt.out "$EX/ramdisk" --size "$DISK_BYTES" --queues "$1" --thread-per-queue ${RAMDISK_ARGS:-}; }
teardown_vlbct() { stop_dev vlbct; }

# RAM disks are written once before they are measured: the first write of
# a page costs a page fault, which is not what the transport costs
prefill() {
	case $1 in
	vlbc|vlbct|vlbpy)
		fio --name=prefill --filename="${DEV[$1]}" --ioengine=io_uring --direct=1 \
			--rw=write --bs=1M --iodepth=4 --size=$FIO_SPAN --eta=never \
			--output=/dev/null ;;
	esac
}

# no_scheduler DEV: the same (no) I/O scheduler everywhere: only the
# transport differs
no_scheduler() { echo none >"/sys/block/$(basename "$1")/queue/scheduler"; }

# turn SYS NAME RUN: SYS up with one queue (RAM disks written once), the
# sourcing script's measure SYS NAME RUN, SYS down; broken=1 on a failure
turn() {
	if "setup_$1" 1; then
		[ "$1" != vlbc ] || prefill vlbc
		measure "$1" "$2" "$3"
		"teardown_$1" || { log "$2: teardown failed"; broken=1; }
	else
		log "$2 did not come up"
		broken=1
	fi
}

# ---- fio ----

# job_args JOB: fio options of a job name
job_args() {
	case $1 in
	rr4k-qd1) echo "--rw=randread --bs=4k --iodepth=1" ;;
	rr4k-qd32) echo "--rw=randread --bs=4k --iodepth=32" ;;
	rw4k-qd32) echo "--rw=randwrite --bs=4k --iodepth=32" ;;
	sr1m-qd4) echo "--rw=read --bs=1M --iodepth=4" ;;
	sw1m-qd4) echo "--rw=write --bs=1M --iodepth=4" ;;
	*) echo "bench: unknown job $1" >&2; return 1 ;;
	esac
}

# fio_run OUT DEV ARGS...: one time-based fio run, JSON in OUT
fio_run() {
	local out=$1 dev=$2
	shift 2
	fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 \
		--time_based --runtime="$RUNTIME" --ramp_time="$RAMP" \
		--size=$FIO_SPAN --norandommap --randrepeat=0 --thread \
		--eta=never --output-format=json --output="$out" "$@" ||
		{ log "fio failed: $out"; broken=1; }
}

# The events behind each I/O: tracepoints, and kprobes on the functions
# count_setup is given (those it cannot probe are left out)
COUNT_EVENTS="sched:sched_switch,sched:sched_wakeup,irq_vectors:call_function_single_entry,irq_vectors:irq_work_entry,workqueue:workqueue_execute_start,raw_syscalls:sys_enter"
# and, where the kernel has them, what a large request may cost: a bio
# split to the device's segment limits, an io_uring request that could not
# be issued without blocking, handed to an io-wq worker
COUNT_IF_PRESENT="block:block_split io_uring:io_uring_queue_async_work"

# count_setup [MODULE:]FUNCTION...: the kprobes, then one perf session for
# the rest of the boot, its events off but while count_ios runs.  Starting
# and stopping perf registers and unregisters tracepoints and kprobes,
# which patches kernel text, and TCG now and then gets that wrong ("Oops:
# int3", tests/vm/README.md); turning its events on and off patches
# nothing.  The session is never stopped: the guest powers off under it.
count_setup() {
	local k=/sys/kernel/tracing/kprobe_events p name dir=/tmp/vlb-count
	mountpoint -q /sys/kernel/tracing || mount -t tracefs none /sys/kernel/tracing
	for p in $COUNT_IF_PRESENT; do
		[ ! -d "/sys/kernel/tracing/events/${p/://}" ] || COUNT_EVENTS="$COUNT_EVENTS,$p"
	done
	for p in "$@"; do
		name=${p#*:}
		echo "p:$name $p" >>$k 2>/dev/null && COUNT_EVENTS="$COUNT_EVENTS,kprobes:$name"
	done
	mkdir -p "$dir"
	rm -f "$dir/ctl" "$dir/ack"
	mkfifo "$dir/ctl" "$dir/ack"
	exec {COUNT_CTL}<>"$dir/ctl" {COUNT_ACK}<>"$dir/ack"
	COUNT_OUT=$dir/stat COUNT_DONE=0
	# every 100 ms, the counts since the last line; none while off
	perf stat -a -x, -I 100 -D -1 --control "fd:$COUNT_CTL,$COUNT_ACK" \
		-e "$COUNT_EVENTS" -o "$COUNT_OUT" -- sleep infinity 2>/dev/null &
	count_ctl ping
}

# count_ctl enable|disable|ping: tell the session, wait for its answer
count_ctl() {
	local ack
	echo "$1" >&"$COUNT_CTL" && read -r -t 30 -u "$COUNT_ACK" ack
}

# count_take OUT: the counts since the last count_take, as perf stat -x,
# prints totals (count,unit,event), into OUT
count_take() {
	local total
	sleep 0.3	# the interval the events went off in is written
	total=$(wc -l <"$COUNT_OUT")
	head -n "$total" "$COUNT_OUT" | tail -n +"$((COUNT_DONE + 1))" |
		awk -F, '$2 ~ /^[0-9.]+$/ { sum[$4] += $2 }
			END { for (e in sum) printf "%.0f,,%s\n", sum[e], e }' >"$1"
	COUNT_DONE=$total
}

# count_ios OUT DEV N [FIO-ARG...]: the events (system-wide, count_setup's
# session) during N 4k random reads at QD32 on DEV (per fio job; FIO-ARGs
# may make them other I/Os), in OUT.csv; fio's view of them in OUT.json
count_ios() {
	local out=$1 dev=$2 n=$3 rc=0
	shift 3
	count_take /dev/null	# what came before is not this run's
	count_ctl enable || return 1
	fio --name=bench --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randread --bs=4k --iodepth=32 --number_ios="$n" --io_size=$((n * 4))k \
		--size=$FIO_SPAN \
		--norandommap --randrepeat=0 --thread --eta=never \
		--output-format=json --output="$out.json" "$@" || rc=$?
	count_ctl disable || rc=1
	count_take "$out.csv"
	return $rc
}
