# Many checks in one guest boot (bash, sourced by a script tests/vm/run runs):
#
#   . "$VLB_SRC/tests/vm/checks.sh"
#   vlb_check "null_blk loads" modprobe null_blk nr_devices=1
#   vlb_check "nullb0 is a block device" test -b /dev/nullb0
#   vlb_skip "vduse" "needs 6.12"
#   vlb_checks_done          # exits 0 only if every check passed
#
# Prints TAP.  A check fails when its command fails or when the kernel log
# gains a line of tests/vm/complaints while it runs, so a WARNING is pinned
# on the check that caused it (tests/vm/run still fails the whole run on
# it).  Commands run in the current shell, so they may set variables for
# later checks; their output is printed as TAP comments once they finish.

_vlb_count=0
_vlb_failed=0
_vlb_out=$(mktemp)
_vlb_patterns=$(grep -v '^#' "$VLB_SRC/tests/vm/complaints")

vlb_check() {
	local name=$1 before rc complaint
	shift
	_vlb_count=$((_vlb_count + 1))
	# Shown before running, so a hang is pinned on this check too.
	echo "# $_vlb_count: $name"
	before=$(dmesg | wc -l)
	"$@" >"$_vlb_out" 2>&1
	rc=$?
	sed 's/^/#   /' "$_vlb_out"
	complaint=$(dmesg | tail -n "+$((before + 1))" |
		grep -E -m 1 -e "$_vlb_patterns")
	if [ "$rc" = 0 ] && [ -z "$complaint" ]; then
		echo "ok $_vlb_count - $name"
		return 0
	fi
	_vlb_failed=$((_vlb_failed + 1))
	if [ -n "$complaint" ]; then
		echo "not ok $_vlb_count - $name (kernel: $complaint)"
	else
		echo "not ok $_vlb_count - $name (exit $rc)"
	fi
	return 1
}

vlb_skip() {
	_vlb_count=$((_vlb_count + 1))
	echo "ok $_vlb_count - $1 # SKIP $2"
}

vlb_checks_done() {
	rm -f "$_vlb_out"
	echo "1..$_vlb_count"
	[ "$_vlb_failed" = 0 ] || { echo "# $_vlb_failed of $_vlb_count checks failed"; exit 1; }
	exit 0
}
