#!/bin/bash
# The benchmark's guest half: tests/bench/run boots a guest with tests/vm/run
# and runs this in it.  Everything measured lands under $VLB_WORK/raw, read
# by tests/bench/report.py on the host:
#   systems.tsv          per block system set-up: id, ok|failed|unavailable,
#                        queues, device or why not
#   block/SYS.JOB.R.json fio's JSON, run R of job JOB on system SYS
#   scale/SYS.qN.R.json  the same, N queues and N fio jobs
#   cpu.log              /proc/stat every 0.2 s: time busy idle ctxt intr
#   mem/SYS.PHASE.qN.*   /proc/meminfo before and after the device came up;
#                        its processes' /proc/PID/status then (rss-idle) and
#                        after the block runs (rss-busy)
#   input.txt            input_latency's lines (vloopback and uinput), and
#   input-1cpu.txt       the same with every thread on one vCPU
#   perf/SYS.txt         where the CPU went during 4k randread QD32, and
#   perf/input-W.txt     per input event sent through way W
#   counts/SYS.csv       perf stat: events during 10000 4k random reads
#                        (counts/SYS.json: fio's view of them)
#   counts/scale/SYS.qN.*  the same with N queues and N jobs
#   counts/SYS.sr1m.*, SYS.sw1m.*  the same over one pass of the 1 MiB jobs
#   net/NET.tcp.R.json   virtio-net: iperf3 -J, TCP from namespace 0 to 1
#                        for --runtime s (after --ramp s), run R, on NET:
#                        veth (a veth pair, the ceiling) or vlbnet (two
#                        vloopback ports forwarded by dpdk-testpmd, io mode);
#   net/NET.tcp-rev.R.json  the same from 1 to 0 (iperf3 -R), and
#   net/NET.ping.R.txt   ping -i 0.01 from 0 to 1, every reply's line;
#                        their set-up (ok|failed) is in systems.tsv too,
#                        iperf3's complaints in net/NET.*.R.err, testpmd's
#                        output in net/testpmd.log
#   env.txt, log.txt     versions and what happened
#
# Options (run passes them): --runs N --runtime S --ramp S --scale-runs N
# --levels "1 2 4" --events N --profile 0|1 --jobs "JOB..." --span SIZE
# --pings N (per net run) --net-reverse 0|1 (also iperf3 -R; the quick
# pass leaves it out)
# --parts "block scaling input net": which parts to run (default all; the
# block part includes its profiles and counts), e.g. --parts net while
# working on one of them
# --kublk PATH: the ublk anchor instead (a boot of its own, on a kernel
# whose ublk driver matches the kublk at PATH): the block matrix and the
# event counts (--profile 1) of null_blk, ublk's null target and
# vloopback's C device in null mode, nothing else.
# Exits nonzero when the bench itself broke (a system that should work
# failed to come up or fio failed), never because of a figure.
# setup_SYS and teardown_SYS are called by name:
# shellcheck disable=SC2317
set -u

RUNS=5
RUNTIME=4
RAMP=1
SCALE_RUNS=3
LEVELS="1 2 4"
EVENTS=5000
PROFILE=1
JOBS="rr4k-qd1 rr4k-qd32 rw4k-qd32 sr1m-qd4 sw1m-qd4"
DISK_BYTES=1073741824	# every disk is 1 GiB ...
FIO_SPAN=256M		# ... and fio uses its start (RAM disks stay small)
PINGS=300
NET_REVERSE=1
PARTS="block scaling input net"
KUBLK=
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2 ;;
	--runtime) RUNTIME=$2 ;;
	--ramp) RAMP=$2 ;;
	--scale-runs) SCALE_RUNS=$2 ;;
	--levels) LEVELS=$2 ;;
	--events) EVENTS=$2 ;;
	--profile) PROFILE=$2 ;;
	--jobs) JOBS=$2 ;;
	--span) FIO_SPAN=$2 ;;
	--pings) PINGS=$2 ;;
	--net-reverse) NET_REVERSE=$2 ;;
	--parts) PARTS=$2 ;;
	--kublk) KUBLK=$2 ;;
	*) echo "guest.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift 2
done

RAW=$VLB_WORK/raw
EX=$VLB_BUILD/examples
CTL=$VLB_BUILD/tools/vloopbackctl/vloopbackctl
LATENCY=$VLB_BUILD/tests/bench/input_latency
KO=$VLB_BUILD/kmod/$VLB_KVER/virtio_loopback.ko
PY=/usr/bin/python3	# what the binding was built for
export PYTHONPATH=$VLB_BUILD/bindings/python PYTHONDONTWRITEBYTECODE=1
# The block systems, in the order of the report
SYSTEMS="nullblk vduse nbd vlbqsd vlbc vlbpy"
[ -z "$KUBLK" ] || SYSTEMS="nullblk ublk vlbnull vlbnullpoll"
# the scaling part's (report.py's SCALE_SYSTEMS)
SCALE_SYSTEMS="nullblk vduse vlbqsd vlbc vlbct"
broken=0

mkdir -p "$RAW/block" "$RAW/scale" "$RAW/mem" "$RAW/perf" "$RAW/counts/scale" "$RAW/net"
# Sockets and pid files: the 9p work dir cannot hold sockets
cd /tmp || exit 1
mkdir -p /run/lock

# part NAME: whether --parts has NAME
part() { [[ " $PARTS " == *" $1 "* ]]; }

log() { echo "bench: [${SECONDS}s] $*" | tee -a "$RAW/log.txt"; }

# wait_for, start_bg, VDUSE, vloopback + qsd and the C RAM disk, fio, counts
. "$VLB_SRC/tests/bench/lib.sh"

# ---- what the machine is ----

environment() {
	{
		echo "kernel=$(uname -r)"
		echo "vcpus=$(nproc)"
		echo "guest_mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
		echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
		echo "fio=$(fio --version)"
		echo "qsd=$(qemu-storage-daemon --version | head -n 1)"
		echo "user_hz=$(getconf CLK_TCK)"
		echo "shm_default_mb=$(cat /sys/module/virtio_loopback/parameters/shm_default_mb)"
	} >"$RAW/env.txt"
}

# ---- CPU: /proc/stat sampled without forking, so it costs next to nothing ----

cpu_sampler() {
	local line ctxt intr f
	mkfifo /tmp/sampler.tick
	exec 9<>/tmp/sampler.tick
	while :; do
		ctxt=0 intr=0
		while read -r -a f; do
			case ${f[0]:-} in
			cpu) line="$((f[1] + f[2] + f[3] + f[6] + f[7] + f[8])) $((f[4] + f[5]))" ;;
			ctxt) ctxt=${f[1]} ;;
			intr) intr=${f[1]} ;;
			esac
		done </proc/stat
		echo "$EPOCHREALTIME $line $ctxt $intr"
		read -r -t 0.2 -u 9
	done >"$RAW/cpu.log"
}

# ---- memory ----

meminfo() { cp /proc/meminfo "$RAW/mem/$1"; }

# rss NAME PID...: the device processes' memory, in mem/NAME
rss() {
	local name=$1 pid
	shift
	for pid in "$@"; do
		[ -r "/proc/$pid/status" ] || continue
		{
			echo "pid=$pid comm=$(cat "/proc/$pid/comm")"
			grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM):' "/proc/$pid/status"
		} >>"$RAW/mem/$name"
	done
}

# ---- the block systems: setup_SYS QUEUES sets dev and pids; teardown_SYS ----
setup_nullblk() {
	modprobe null_blk nr_devices=1 queue_mode=2 irqmode=0 memory_backed=0 \
		gb=1 bs=512 submit_queues="$1" hw_queue_depth=256 || return 1
	wait_for 10 test -b /dev/nullb0 || return 1
	DEV[nullblk]=/dev/nullb0
	PIDS[nullblk]=
}
teardown_nullblk() { rmmod null_blk; }

# One connection: qemu-nbd --connect has no multi-connection mode
setup_nbd() {
	modprobe nbd nbds_max=1 || return 1
	qemu-nbd --fork --pid-file=/tmp/qemu-nbd.pid --connect=/dev/nbd0 \
		--image-opts driver=null-co,size="$DISK_BYTES",read-zeroes=on || return 1
	wait_for 30 sh -c 'test "$(cat /sys/block/nbd0/size)" -gt 0' || return 1
	DEV[nbd]=/dev/nbd0
	PIDS[nbd]=$(cat /tmp/qemu-nbd.pid)
}
teardown_nbd() {
	qemu-nbd --disconnect /dev/nbd0 >/dev/null
	wait_for 10 sh -c "! kill -0 ${PIDS[nbd]} 2>/dev/null"
	rmmod nbd
}

# The same program, storing nothing: what the transport costs, as the
# null targets of null_blk and ublk measure it
setup_vlbnull() {
	start_dev vlbnull /tmp/rdn.out "$EX/ramdisk" --null --size "$DISK_BYTES" --queues "$1"
}
teardown_vlbnull() { stop_dev vlbnull; }
# And polling its ring 500 us after each request (--poll): while requests
# keep coming, no kick and no wakeup (libvloopback's vlb_dev_config.poll_us)
setup_vlbnullpoll() {
	start_dev vlbnullpoll /tmp/rdnp.out "$EX/ramdisk" --null --poll 500 \
		--size "$DISK_BYTES" --queues "$1"
}
teardown_vlbnullpoll() { stop_dev vlbnullpoll; }

# kublk's null target (250 GiB, fio uses its start), with the queue depth
# the others have; kublk forks its server and prints "dev id N"
setup_ublk() {
	local id
	id=$("$KUBLK" add -t null -q "$1" -d 256 | sed -n 's/^dev id \([0-9]*\).*/\1/p')
	[ -n "$id" ] && wait_for 10 test -b "/dev/ublkb$id" || return 1
	DEV[ublk]=/dev/ublkb$id
	PIDS[ublk]=$(pgrep -x kublk | tr '\n' ' ')
}
teardown_ublk() {
	"$KUBLK" del -n "${DEV[ublk]#/dev/ublkb}"
}

setup_vlbpy() {
	start_dev vlbpy /tmp/py.out "$PY" "$VLB_SRC/examples/python/ramdisk.py" $((DISK_BYTES >> 20))
}
teardown_vlbpy() { stop_dev vlbpy; }

# up SYS QUEUES: bring SYS up (memory noted around it, in mem/SYS.PHASE.qN.*);
# systems.tsv says how it went
PHASE=block
up() {
	local sys=$1 rc
	SKIP_NOTE=
	meminfo "$sys.$PHASE.q$2.before"
	"setup_$sys" "$2"
	rc=$?
	meminfo "$sys.$PHASE.q$2.after"
	if [ "$rc" -eq 0 ] && [ -b "${DEV[$sys]}" ]; then
		no_scheduler "${DEV[$sys]}"
		log "$sys ($2 queue(s)) is ${DEV[$sys]}"
		printf '%s\tok\t%s\t%s\n' "$sys" "$2" "${DEV[$sys]}" >>"$RAW/systems.tsv"
		# shellcheck disable=SC2086 # a list of pids
		rss "$sys.$PHASE.q$2.rss-idle" ${PIDS[$sys]}
		prefill "$sys" || { log "$sys: prefill failed"; broken=1; }
		return 0
	fi
	DEV[$sys]=
	if [ "$rc" -eq 2 ]; then
		log "$sys: not measured: $SKIP_NOTE"
		printf '%s\tunavailable\t%s\t%s\n' "$sys" "$2" "$SKIP_NOTE" >>"$RAW/systems.tsv"
	else
		log "$sys: FAILED to come up with $2 queue(s)"
		printf '%s\tfailed\t%s\t%s\n' "$sys" "$2" "did not come up (see log.txt)" >>"$RAW/systems.tsv"
		broken=1
	fi
	return 1
}

down() {
	[ -n "${DEV[$1]:-}" ] || return 0
	"teardown_$1" || { log "$1: teardown failed"; broken=1; }
	DEV[$1]=
}

# ---- fio ----

block_matrix() {
	local r job sys
	for r in $(seq 1 "$RUNS"); do
		for job in $JOBS; do
			for sys in $SYSTEMS; do
				[ -n "${DEV[$sys]:-}" ] || continue
				# shellcheck disable=SC2046 # the job's options, split
				fio_run "$RAW/block/$sys.$job.$r.json" "${DEV[$sys]}" $(job_args "$job")
			done
		done
		log "block run $r/$RUNS done"
	done
}

# profile SYS: where the CPU goes during 4k randread QD32 (perf, system wide)
profile() {
	local sys=$1
	[ -n "${DEV[$sys]:-}" ] || return 0
	perf record -a -g -F 499 -o /tmp/perf.data -q -- \
		fio --name=bench --filename="${DEV[$sys]}" --ioengine=io_uring --direct=1 \
		--time_based --runtime="$RUNTIME" --size=$FIO_SPAN --norandommap \
		--randrepeat=0 --thread --eta=never --rw=randread --bs=4k --iodepth=32 \
		--output-format=json --output="$RAW/perf/$sys.fio.json" >/dev/null 2>&1 ||
		{ log "perf record on $sys failed (not fatal)"; return 0; }
	perf report -i /tmp/perf.data --stdio --no-children --sort comm,dso,sym \
		--percent-limit 0.7 -g none 2>/dev/null | grep -v '^$' >"$RAW/perf/$sys.txt"
	perf report -i /tmp/perf.data --stdio --no-children --sort comm \
		-g none 2>/dev/null | grep -v '^$' >"$RAW/perf/$sys.comm.txt"
	rm -f /tmp/perf.data
}

# What each I/O costs in events, not time: kprobes and tracepoints counted
# system-wide over a fixed 10000 4k random reads at QD32.
COUNT_PROBES="vring_interrupt vduse_domain_map_page vduse_vq_irq_inject
virtio_loopback:vlb_map_page virtio_loopback:vlb_call_wakeup"

# The probes, once per boot, by whichever part counts first
counting=0
count_ready() {
	[ "$counting" = 1 ] && return 0
	# shellcheck disable=SC2086 # a list of probes
	count_setup $COUNT_PROBES
	counting=1
}

# count_events SYS [OUT N-JOBS]: into counts/SYS, or OUT with N jobs
count_events() {
	local sys=$1 out=${2:-$RAW/counts/$1} jobs=${3:-1}
	[ -n "${DEV[$sys]:-}" ] || return 0
	count_ios "$out" "${DEV[$sys]}" $((10000 / jobs)) --numjobs="$jobs" \
		--group_reporting ||
		log "counting events on $sys failed (not fatal)"
}

# count_large SYS: the same over one pass over the span of each 1 MiB job
# the run has (counts/SYS.sr1m, SYS.sw1m): how often a large request is
# split, and what the split costs
count_large() {
	local sys=$1 job
	[ -n "${DEV[$sys]:-}" ] || return 0
	for job in $JOBS; do
		case $job in s?1m-*) ;; *) continue ;; esac
		# shellcheck disable=SC2046 # the job's options, split
		count_ios "$RAW/counts/$sys.${job%-*}" "${DEV[$sys]}" 256 \
			$(job_args "$job") --io_size="$FIO_SPAN" ||
			log "counting $job on $sys failed (not fatal)"
	done
}

# profile_input WAY: where the CPU goes per event, on one vCPU, events back
# to back (so that the vCPU is never idle and samples are the path's)
profile_input() {
	perf record -a -g -F 999 -o /tmp/perf.data -q -- \
		taskset -c 0 "$LATENCY" --via "$1" --count 3000 --gap-us 0 \
		>"$RAW/perf/input-$1.out" 2>&1 ||
		{ log "perf record of input via $1 failed (not fatal)"; return 0; }
	perf report -i /tmp/perf.data --stdio --no-children --sort dso,sym \
		--percent-limit 0.7 -g none 2>/dev/null | grep -v '^$' >"$RAW/perf/input-$1.txt"
	rm -f /tmp/perf.data
}

scaling() {
	local n r sys
	PHASE=scale
	for n in $LEVELS; do
		for sys in $SCALE_SYSTEMS; do
			up "$sys" "$n" || continue
		done
		for r in $(seq 1 "$SCALE_RUNS"); do
			for sys in $SCALE_SYSTEMS; do
				[ -n "${DEV[$sys]:-}" ] || continue
				fio_run "$RAW/scale/$sys.q$n.$r.json" "${DEV[$sys]}" \
					--rw=randread --bs=4k --iodepth=32 --numjobs="$n" \
					--group_reporting
			done
		done
		for sys in $SCALE_SYSTEMS; do
			[ "$PROFILE" = 1 ] && count_ready &&
				count_events "$sys" "$RAW/counts/scale/$sys.q$n" "$n"
			down "$sys"
		done
		log "scaling with $n queue(s) done"
	done
}

# Both ways in one process, event by event in turn; then again with every
# thread on one vCPU, which leaves out waking the other vCPU (under TCG
# that costs a host thread wakeup, and dominates)
input_latency() {
	"$LATENCY" --via both --count "$EVENTS" >"$RAW/input.txt" ||
		{ log "input latency failed"; broken=1; }
	taskset -c 0 "$LATENCY" --via both --count "$EVENTS" >"$RAW/input-1cpu.txt" ||
		{ log "input latency on one vCPU failed"; broken=1; }
	log "input latency: $(cat "$RAW/input.txt" "$RAW/input-1cpu.txt")"
}

# ---- virtio-net: vloopback ports across dpdk-testpmd, against veth ----

# Each side of each pair in a namespace of its own, so that the traffic
# crosses the devices instead of the loopback: nsNET0 -> nsNET1.  Both pairs
# have the same MTU: TCP's throughput depends on it more than on anything.
NET_MTU=1500
declare -A NET_PEER=([veth]=10.78.0.2 [vlbnet]=10.77.0.2)
NETS="veth vlbnet"

# ns_join NS IF IP: IF moved into a new namespace NS, addressed and up.
# No IPv6 there: its solicitations would cross the devices during the runs.
ns_join() {
	ip netns add "$1" &&
		ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
			net.ipv6.conf.all.disable_ipv6=1 &&
		ip link set "$2" netns "$1" mtu "$NET_MTU" &&
		ip -n "$1" addr add "$3/24" dev "$2" &&
		ip -n "$1" link set lo up &&
		ip -n "$1" link set "$2" up
}

setup_veth() {
	ip link add vb0 type veth peer name vb1 &&
		ns_join nsveth0 vb0 10.78.0.1 && ns_join nsveth1 vb1 10.78.0.2
}
teardown_veth() {
	local n
	ip link del vb0 2>/dev/null	# if it never got into its namespace
	# else the pair goes with its namespaces
	for n in 0 1; do
		[ ! -e "/run/netns/nsveth$n" ] || ip netns del "nsveth$n" || return 1
	done
}

# testpmd as tests/kernel/net.sh starts it: no hugepages, no PCI, its two
# ports the vhost-user servers, 256 MB for its 4096 mbufs.  It takes about
# 20 s to start under TCG (no sooner with -m 64), so it is started first,
# in the background, and the veth pair set up meanwhile.
# tso=1: the ports also offer HOST_TSO4/6, so the drivers send 64 KiB GSO
# segments as veth does (without it TCP's throughput is about half).
# --stats-period keeps it running without a terminal (else it exits at the
# end of its stdin).
start_testpmd() {
	rm -f /tmp/vhost0.sock /tmp/vhost1.sock
	TESTPMD=
	command -v dpdk-testpmd >/dev/null || return 0	# setup_vlbnet says so
	dpdk-testpmd --no-huge -m 256 --no-pci --file-prefix=vlb \
		--vdev net_vhost0,iface=/tmp/vhost0.sock,tso=1 \
		--vdev net_vhost1,iface=/tmp/vhost1.sock,tso=1 \
		-- --total-num-mbufs=4096 --forward-mode=io --stats-period 30 \
		</dev/null >"$RAW/net/testpmd.log" 2>&1 &
	TESTPMD=$!
}

setup_vlbnet() {
	local n ifname pids=()
	NET_NOTE="no dpdk-testpmd (tests/vm/install-deps installs it)"
	[ -n "$TESTPMD" ] || return 1
	NET_NOTE="dpdk-testpmd did not start (see net/testpmd.log)"
	wait_for 150 sh -c "test -S /tmp/vhost1.sock || ! kill -0 $TESTPMD 2>/dev/null" &&
		test -S /tmp/vhost1.sock || return 1
	log "vlbnet: testpmd up"
	# both at once: each attach waits for its handshake with testpmd,
	# seconds under TCG
	NET_NOTE="vloopbackctl attach --type net failed (see log.txt)"
	for n in 0 1; do
		"$CTL" attach --type net --socket "/tmp/vhost$n.sock" --name "net$n" \
			--mac "02:76:6c:62:01:0$n" --mtu "$NET_MTU" >"/tmp/net$n.if" &
		pids[n]=$!
	done
	wait "${pids[0]}" && wait "${pids[1]}" || return 1
	for n in 0 1; do
		ifname=$(cat "/tmp/net$n.if")
		NET_NOTE="net$n ($ifname) could not be set up in its namespace"
		ns_join "nsvlbnet$n" "$ifname" "10.77.0.$((n + 1))" || return 1
	done
	log "vlbnet: ports attached"
}
teardown_vlbnet() {
	local rc=0 n pids=()
	for n in 0 1; do
		[ ! -e "/run/vloopback/net$n" ] || "$CTL" detach "net$n" &
		pids[n]=$!
	done
	wait "${pids[0]}" && wait "${pids[1]}" || rc=1
	log "vlbnet: ports detached"
	# SIGTERM (after SIGCONT: it may be stopped): testpmd stops its ports
	# and exits 0
	if [ -n "$TESTPMD" ]; then
		kill -CONT "$TESTPMD" && kill "$TESTPMD" && wait "$TESTPMD" || rc=1
	fi
	for n in 0 1; do
		[ ! -e "/run/netns/nsvlbnet$n" ] || ip netns del "nsvlbnet$n" || rc=1
	done
	rm -f /tmp/vhost0.sock /tmp/vhost1.sock
	return $rc
}

# in_ns NET SIDE CMD...: CMD in NET's namespace SIDE (0 or 1)
in_ns() {
	local ns=ns$1$2
	shift 2
	ip netns exec "$ns" "$@"
}

iperf_listening() { in_ns "$1" 1 ss -Hltn 'sport = :5201' | grep -q .; }

# net_up NET: NET's pair up, answering pings, an iperf3 server on side 1;
# systems.tsv says how it went (setup_NET may say why not in NET_NOTE)
net_up() {
	local net=$1
	UP[$net]=
	NET_NOTE="set-up failed"
	if "setup_$net"; then
		NET_NOTE="no ping answered in 30 s"
		wait_for 30 in_ns "$net" 0 ping -q -c 1 -W 1 "${NET_PEER[$net]}" >/dev/null &&
			NET_NOTE="no iperf3 server" &&
			in_ns "$net" 1 iperf3 -s -D -I "/tmp/iperf-$net.pid" &&
			wait_for 10 iperf_listening "$net" && UP[$net]=1
	fi
	if [ -n "${UP[$net]}" ]; then
		log "$net is up"
		printf '%s\tok\t1\t%s\n' "$net" "${NET_PEER[$net]}" >>"$RAW/systems.tsv"
		return 0
	fi
	log "$net: FAILED to come up: $NET_NOTE"
	printf '%s\tfailed\t1\t%s\n' "$net" "$NET_NOTE" >>"$RAW/systems.tsv"
	broken=1
	UP[$net]=1	# so that net_down takes down what came up
	net_down "$net"
	return 1
}

net_down() {
	[ -n "${UP[$1]:-}" ] || return 0
	[ ! -f "/tmp/iperf-$1.pid" ] || kill "$(cat "/tmp/iperf-$1.pid")"
	rm -f "/tmp/iperf-$1.pid"
	"teardown_$1" || { log "$1: teardown failed"; broken=1; }
	UP[$1]=
}

# net_run NET R: run R on NET, each way through iperf3, then the pings;
# a run that breaks (iperf3 fails, no ping answered) breaks the bench
net_run() {
	local net=$1 r=$2 peer=${NET_PEER[$1]} out=$RAW/net/$1 dir rev
	for dir in tcp tcp-rev; do
		rev=
		if [ $dir = tcp-rev ]; then
			[ "$NET_REVERSE" = 1 ] || continue
			rev=-R
		fi
		# timeout: an iperf3 whose peer vanished waits forever
		in_ns "$net" 0 timeout $((RUNTIME + RAMP + 30)) iperf3 -c "$peer" \
			-t "$RUNTIME" -O "$RAMP" -J ${rev:+"$rev"} \
			>"$out.$dir.$r.json" 2>"$out.$dir.$r.err" ||
			{ log "iperf3 $dir on $net failed"; broken=1; }
		[ -s "$out.$dir.$r.err" ] || rm -f "$out.$dir.$r.err"
	done
	# one packet every 10 ms (whatever the replies do), every rtt printed
	in_ns "$net" 0 ping -c "$PINGS" -i 0.01 -w $((PINGS / 10 + 10)) "$peer" \
		>"$out.ping.$r.txt" 2>&1
	grep -q ' [1-9][0-9]* received' "$out.ping.$r.txt" ||
		{ log "no ping answered on $net"; broken=1; }
}

# Interleaved runs, as the block matrix.  testpmd forwards by polling,
# which takes a vCPU whole: it is stopped (SIGSTOP) while veth is measured,
# so that the ceiling has the guest's CPUs that the kernel alone would.
net_bench() {
	local t0=$SECONDS r net
	declare -gA UP
	modprobe -a virtio_net veth || { log "modprobe virtio_net veth failed"; broken=1; return; }
	start_testpmd
	for net in $NETS; do
		net_up "$net"
	done
	for r in $(seq 1 "$RUNS"); do
		for net in $NETS; do
			[ -n "${UP[$net]}" ] || continue
			[ -z "${UP[vlbnet]}" ] || kill "-$([ "$net" = veth ] && echo STOP || echo CONT)" "$TESTPMD"
			net_run "$net" "$r"
		done
		log "net run $r/$RUNS done"
	done
	for net in $NETS; do
		net_down "$net"
	done
	log "net part done in $((SECONDS - t0)) s"
}

# ---- the run ----

modprobe -a virtio virtio_ring 2>/dev/null
insmod "$KO" || { log "insmod $KO failed"; exit 1; }
if [ -n "$KUBLK" ]; then
	modprobe -a virtio_blk ublk_drv
else
	modprobe -a virtio_blk virtio_input evdev uinput vduse virtio_vdpa
fi || { log "modprobe failed"; exit 1; }
environment
log "modules loaded, environment noted"
: >"$RAW/systems.tsv"
# ublk is in the kernel, but Debian 12 has no ublk server to serve it: the
# kernel's own (kublk) is measured in a boot of its kernel, when installed
if [ -n "$KUBLK" ]; then
	:
elif modprobe ublk_drv 2>/dev/null; then
	printf 'ublk\tunavailable\t1\t%s\n' "not in this boot: Debian 12 has no ublk server (ubdsrv is not packaged; qemu-storage-daemon 7.2 has no ublk export); see the ublk anchor for kublk in a 7.x guest" >>"$RAW/systems.tsv"
	rmmod ublk_drv
else
	printf 'ublk\tunavailable\t1\t%s\n' "this kernel has no ublk_drv" >>"$RAW/systems.tsv"
fi

# The systems at one queue: the matrix, then where the time goes
block_part() {
	local sys
	for sys in $SYSTEMS; do
		up "$sys" 1
	done
	block_matrix
	for sys in $SYSTEMS; do
		[ -n "${DEV[$sys]:-}" ] || continue
		# shellcheck disable=SC2086 # a list of pids
		rss "$sys.block.q1.rss-busy" ${PIDS[$sys]}
	done
	if [ "$PROFILE" = 1 ]; then
		for sys in vduse vlbqsd vlbc; do
			profile "$sys"	# of those in this boot
		done
		count_ready
		for sys in $SYSTEMS; do
			count_events "$sys"
			count_large "$sys"
		done
		log "profiles and counts done"
	fi
	for sys in $SYSTEMS; do
		down "$sys"
	done
	meminfo "all-down"
}

cpu_sampler &
sampler=$!

part block && block_part
# The ublk anchor's boot is the block matrix and the counts only
if [ -z "$KUBLK" ]; then
	part scaling && scaling
	if part input; then
		input_latency
		if [ "$PROFILE" = 1 ]; then
			profile_input vloopback
			profile_input uinput
		fi
	fi
	part net && net_bench
fi

kill "$sampler"
wait "$sampler" 2>/dev/null
rmmod virtio_loopback || { log "rmmod virtio_loopback failed"; broken=1; }
log "done (broken=$broken)"
exit "$broken"
