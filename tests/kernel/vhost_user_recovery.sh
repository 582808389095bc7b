#!/bin/sh
# Usage: vhost_user_recovery.sh [RESTARTS]
# Back-ends and adapters that restart under a mounted disk: vloopbackctl
# attach --reconnect keeps the kernel device while qemu-storage-daemon is
# killed with -9 and started again on the same socket and image (RESTARTS
# times, default 5; meson runs 20 on one kernel): fio's verified I/O at QD32
# sees no error, the disk keeps its name, list says "reconnecting" meanwhile.
# An ext4 file system takes writes through a restart and is clean after.
# The adapter killed with -9 is replaced by "vloopbackctl recover"; the
# command lines of vloopback@.service restart it (quiesce, take over) and
# stop it (remove the disk).  A back-end that never returns: I/O fails in
# bounded time and the disk goes.
# shellcheck source=lib.sh
. "$VLB_SRC/tests/kernel/lib.sh"
CTL=$VLB_BUILD/tools/vloopbackctl/vloopbackctl
UNIT=$VLB_BUILD/systemd/vloopback@.service
RESTARTS=${1:-5}
QSD_PIDS=
cd /tmp || exit 1	# the work dir cannot hold sockets

# qsd NAME IMG: export IMG on /tmp/NAME.sock (sets qsd_pid); the same
# command starts it again after a kill, on the same socket and image
qsd() {
	rm -f "/tmp/$1.sock"
	qemu-storage-daemon \
		--blockdev driver=file,node-name=f,filename="$2" \
		--export type=vhost-user-blk,id=e,node-name=f,writable=on,num-queues=2,addr.type=unix,addr.path=/tmp/$1.sock \
		>>"$VLB_WORK/qsd-$1.log" 2>&1 &
	qsd_pid=$!
	QSD_PIDS="$QSD_PIDS $qsd_pid"
	wait_for 20 test -S "/tmp/$1.sock"
}

json_field() {
	"$CTL" list --json | python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["name"] == sys.argv[1]:
        print(a[sys.argv[2]])' "$1" "$2"
}

# json_is NAME KEY VALUE: list --json says so of attachment NAME (grep, not
# python: the wait loops poll it, and python starts slowly under TCG)
json_is() {
	"$CTL" list --json | tr '}' '\n' | grep "\"name\":\"$1\"" |
		grep -q "\"$2\":$3"
}

# reconnecting NAME true|false: list --json and list agree that it is or not
reconnecting() {
	json_is "$1" reconnecting "$2" || return 1
	if [ "$2" = true ]; then
		"$CTL" list | grep -q "^$1 .* reconnecting "
	else
		"$CTL" list | grep -q "^$1 .* running "
	fi
}

# qsd_restart: kill -9 qemu-storage-daemon; while it is away the entry says
# reconnecting; start it again; the adapter is back to running
qsd_restart() {
	kill -KILL "$qsd_pid"
	wait "$qsd_pid" 2>/dev/null
	wait_for 5 reconnecting rdisk true || { echo "not reconnecting"; return 1; }
	qsd rec disk.img || { echo "qsd did not start"; return 1; }
	wait_for 10 reconnecting rdisk false || { echo "not running again"; return 1; }
}

qsd_restarts() {
	i=0
	while [ "$i" -lt "$1" ]; do
		sleep 0.5
		qsd_restart || { echo "restart $i failed"; return 1; }
		i=$((i + 1))
	done
}

# adapter_quiesced NAME: its adapter is dead, its device kept for recovery
adapter_quiesced() {
	wait_for 10 sh -c "'$CTL' list | grep -q '^$1 .*quiesced'"
}

load_module
modprobe virtio_blk
truncate -s 256M disk.img
qsd rec disk.img || { not_ok "qemu-storage-daemon starts"; finish; }
dev=$("$CTL" attach --type blk --socket /tmp/rec.sock --name rdisk --reconnect=30)
[ -n "$dev" ] && [ -b "$dev" ] || { not_ok "attach --reconnect=30 prints the disk"; finish; }
ok "attach --reconnect=30 prints the disk ($dev)"
check "the device is recoverable" test "$(cat /sys/devices/virtual/misc/virtio-loopback/vloopback*/recoverable)" = 1
check "list --json: not reconnecting while the back-end is there" reconnecting rdisk false

fio_verify_bg restarts "$dev"
check "$RESTARTS kill -9 and restarts of qemu-storage-daemon under fio, list says reconnecting meanwhile" \
	qsd_restarts "$RESTARTS"
check "fio still ran after the last restart" kill -0 "$fio_pid"
check "fio QD32 crc32c: zero errors through the back-end restarts" fio_ok restarts
check "the disk kept its name ($dev)" test "$(json_field rdisk node)" = "$dev"
check "the attachment is running again" sh -c "'$CTL' status rdisk | grep -q 'state:   running'"

# ext4 on the disk keeps taking writes through a back-end restart
ext4_start "$dev" 30
sleep 0.5
check "ext4: a restart of qemu-storage-daemon under the writes" qsd_restart
ext4_verify "$dev"
check "ext4: e2fsck -fn clean on the image" e2fsck -fn disk.img

# The adapter itself killed with -9 during fio, then recovered
fio_verify_bg adapter "$dev"
sleep 1
kill -KILL "$(json_field rdisk pid)"
check "after kill -9 of the adapter, list says quiesced" adapter_quiesced rdisk
quiesced_only() { json_is "$1" quiesced true && json_is "$1" reconnecting false; }
check "list --json says quiesced, not reconnecting" quiesced_only rdisk
sleep 0.5
check "vloopbackctl recover rdisk prints the same disk" \
	test "$("$CTL" recover rdisk)" = "$dev"
check "fio QD32 crc32c: zero errors through the adapter's recovery" fio_ok adapter
check "the recovered attachment is running" sh -c "'$CTL' status rdisk | grep -q 'state:   running'"

# detach of a quiesced attachment removes the disk at once
kill -KILL "$(json_field rdisk pid)"
adapter_quiesced rdisk
check "detach of a quiesced attachment" "$CTL" detach rdisk
check "its disk is gone" wait_for 5 test ! -b "$dev"

# vloopback@.service, by hand: its ExecStart, then what systemctl restart
# sends (RestartKillSignal), ExecStart again, then what stop sends
unit_value() { sed -n "s/^$1=//p" "$UNIT"; }
exec_start() {
	unit_value ExecStart | sed -e "s|^[^ ]*vloopbackctl|$CTL|" -e 's/%i/sdisk/' \
		-e 's/${TYPE}/blk/' -e 's|${SOCKET}|/tmp/rec.sock|' -e 's/ $OPTIONS//'
}
# shellcheck disable=SC2120 # its argument comes through check
unit_start() {
	# shellcheck disable=SC2046 # the unit's words
	start_bg unit.out $(exec_start) || return 1
	unit_pid=$bg_pid
	test "$bg_line" = "${1:-$bg_line}"
}
check "the unit: stop is SIGTERM, restart SIGUSR1" sh -c \
	"[ \"\$(sed -n 's/^KillSignal=//p' $UNIT)\" = SIGTERM ] && [ \"\$(sed -n 's/^RestartKillSignal=//p' $UNIT)\" = SIGUSR1 ]"
unit_start || { not_ok "the unit's ExecStart attaches"; finish; }
dev=$bg_line
ok "the unit's ExecStart attaches ($dev)"
fio_verify_bg unit "$dev"
sleep 1
kill -"$(unit_value RestartKillSignal | sed 's/^SIG//')" "$unit_pid"
wait "$unit_pid"
check "restart: the adapter exits 0" test $? -eq 0
check "restart: its disk is left quiesced" sh -c \
	"'$CTL' list | grep -q '^sdisk .*quiesced' && [ -b $dev ]"
check "restart: ExecStart again takes the same disk over" unit_start "$dev"
check "restart: fio QD32 crc32c, zero errors through it" fio_ok unit
kill -"$(unit_value KillSignal | sed 's/^SIG//')" "$unit_pid"
wait "$unit_pid"
check "stop: the adapter exits 0" test $? -eq 0
check "stop: the disk is removed" wait_for 5 test ! -b "$dev"
check "stop: the entry is gone" sh -c "! '$CTL' list | grep -q '^sdisk '"
kill -KILL "$qsd_pid" 2>/dev/null
wait "$qsd_pid" 2>/dev/null

# A back-end that never comes back: bounded failure, the disk removed
qsd gone disk.img || not_ok "second qemu-storage-daemon starts"
dev=$("$CTL" attach --type blk --socket /tmp/gone.sock --name gdisk --reconnect=3)
[ -n "$dev" ] && [ -b "$dev" ] || { not_ok "second attach"; finish; }
ok "second attach ($dev)"
kill -KILL "$qsd_pid"
wait "$qsd_pid" 2>/dev/null
check "back-end gone for good: the I/O that waited fails within 30 s" sh -c \
	"! timeout 30 dd if=$dev of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null"
check "back-end gone for good: the disk is removed" wait_for 10 test ! -e "$dev"
check "back-end gone for good: the adapter's log says why" sh -c \
	"grep -q 'did not come back within 3 s' /run/vloopback/gdisk.log"

for p in $QSD_PIDS; do kill "$p" 2>/dev/null; done
unload_module
finish
