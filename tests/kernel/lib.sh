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
