#!/bin/bash
# Context switches and interrupts per I/O, ublk's null target (kublk)
# against the C device in null mode, 4k random read QD32, three rounds:
# the server's and fio's voluntary / involuntary switches (their counters
# in /proc, no tracing), and every /proc/interrupts row that moved.
# Run in a 7.x guest from the repository, with BUILD a build of main:
#   VLB_BUILD=BUILD tests/vm/run 7.3 tests/bench/results/round/switches.sh \
#     "$(tests/vm/trixie kublk)"
# Its output of 2026-12-02 is switches.txt.
# shellcheck source=/dev/null
. "$VLB_SRC/tests/kernel/lib.sh"
cd /tmp || exit 1
KUBLK=$1
modprobe ublk_drv
load_module
modprobe virtio_blk
id=$("$KUBLK" add -t null -q 1 -d 256 | sed -n 's/^dev id \([0-9]*\).*/\1/p')
wait_for 10 test -b "/dev/ublkb$id"
start_bg rd.out "$VLB_BUILD/examples/ramdisk" --size 1G --null
# shellcheck disable=SC2154 # start_bg sets it
vdev=${bg_line%% *}

# switches PID...: voluntary and involuntary switches over their threads
switches() {
	local p
	for p in "$@"; do cat /proc/"$p"/task/*/status; done 2>/dev/null |
		awk '/^voluntary_ctxt/ {v += $2} /^nonvoluntary_ctxt/ {n += $2} END {print v, n}'
}

# irq_rows BEFORE AFTER IOS: the /proc/interrupts rows that moved, per I/O
irq_rows() {
	awk -v ios="$3" '
		function total(   i, s) { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; last = i; return s }
		NR == FNR { before[$1] = total(); next }
		{ d = (total() - before[$1]) / ios; name = $1
		  for (i = last; i <= NF; i++) name = name " " $i
		  if (d >= 0.01) printf "    %-44s %.3f\n", substr(name, 1, 44), d }' "$1" "$2"
}

FIO=(fio --name=r --direct=1 --ioengine=io_uring --rw=randread --bs=4k --iodepth=32
	--size=256M --output-format=terse --terse-version=3 --time_based)

for round in 1 2 3; do
	for sys in ublk vlbc; do
		if [ "$sys" = ublk ]; then
			dev=/dev/ublkb$id
			mapfile -t pids < <(pgrep -x kublk)
		else
			dev=$vdev
			pids=("$bg_pid")
		fi
		"${FIO[@]}" --filename="$dev" --runtime=2 >/dev/null
		cat /proc/interrupts >/tmp/int0
		read -r sv0 si0 < <(switches "${pids[@]}")
		/usr/bin/time -f "%w %c" -o /tmp/fio.time "${FIO[@]}" --filename="$dev" --runtime=4 >/tmp/fio.terse
		read -r sv1 si1 < <(switches "${pids[@]}")
		cat /proc/interrupts >/tmp/int1
		read -r fv fn </tmp/fio.time
		ios=$(awk -F';' '{print $6 / 4}' /tmp/fio.terse)
		iops=$(awk -F';' '{print $8}' /tmp/fio.terse)
		awk -v s="$sys $round" -v iops="$iops" -v ios="$ios" -v sv=$((sv1 - sv0)) \
			-v si=$((si1 - si0)) -v fv="$fv" -v fn="$fn" 'BEGIN {
			printf "%s iops %s | server vol %.3f invol %.3f | fio vol %.3f invol %.3f per I/O\n",
				s, iops, sv / ios, si / ios, fv / ios, fn / ios }'
		irq_rows /tmp/int0 /tmp/int1 "$ios"
	done
done
stop_bg
"$KUBLK" del -n "$id"
