#!/bin/sh
# vloopbackctl with real vhost-user back-ends from Debian: qemu-storage-daemon
# (vhost-user-blk) and virtiofsd, the kernel's own virtio_blk and virtiofs
# drivers, data checked on both sides; a back-end killed during I/O; the
# one-line errors and their exit codes; fake_backend.py lying, and announcing
# a config change; the CLI's state: concurrent attaches, an adapter killed
# with -9, a user of the node's group without root.  The back-ends of two
# releases: Debian 12's (QEMU 7.2 and its C virtiofsd), and Debian 13's
# (QEMU 10.0, the Rust virtiofsd) run in the Debian 13 root (tests/vm/trixie
# run: a chroot seeing this /tmp, where the sockets and images are).
. "$VLB_SRC/tests/kernel/lib.sh"
CTL=$VLB_BUILD/tools/vloopbackctl/vloopbackctl
FAKE=$VLB_SRC/tests/kernel/fake_backend.py
TRIXIE=$VLB_SRC/tests/vm/trixie
QSD_PIDS=
# What start_qsd runs qemu-storage-daemon in: nothing (Debian 12's), or
# "$TRIXIE run" (Debian 13's)
QSD_IN=
# The work dir cannot hold sockets; the images stay small on the guest's tmpfs
cd /tmp || exit 1

# expect_error CODE PATTERN CMD...: CMD exits CODE and says, in one line, PATTERN
expect_error() {
	code=$1
	pattern=$2
	shift 2
	"$@" >out 2>err
	rc=$?
	cat err
	[ "$rc" -eq "$code" ] && [ "$(wc -l <err)" -eq 1 ] && [ ! -s out ] &&
		grep -q "^vloopbackctl.*$pattern" err
}

# start_qsd NAME IMG SIZE [EXPORT OPTIONS]: an image exported on /tmp/NAME.sock
start_qsd() {
	name=$1
	img=$2
	truncate -s "$3" "$img"
	shift 3
	# shellcheck disable=SC2086 # empty, or a command and its one argument
	$QSD_IN qemu-storage-daemon \
		--blockdev driver=file,node-name=f,filename="$PWD/$img" \
		--export type=vhost-user-blk,id=e,node-name=f,writable=on,addr.type=unix,addr.path=/tmp/$name.sock"$*" \
		>"$VLB_WORK/qsd-$name.log" 2>&1 &
	qsd_pid=$!
	QSD_PIDS="$QSD_PIDS $qsd_pid"
	wait_for 20 test -S "/tmp/$name.sock"
}

fio_verify() {
	job=$1
	target=$2
	shift 2
	fio --name="$job" --filename="$target" --ioengine=io_uring --direct=1 \
		--eta=never --verify=crc32c --verify_fatal=1 \
		--output="$VLB_WORK/fio-$job.log" "$@"
}

# json_field NAME KEY: KEY of attachment NAME in "vloopbackctl list --json"
json_field() {
	"$CTL" list --json | python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["name"] == sys.argv[1]:
        print(a[sys.argv[2]])' "$1" "$2"
}

test_errors_before_module() {
	check "no module: exit 3, says modprobe" expect_error 3 "modprobe virtio_loopback" \
		"$CTL" attach --type blk --socket /tmp/none.sock
}

test_errors() {
	check "unknown type: exit 2" expect_error 2 "unknown device type 'disk'" \
		"$CTL" attach --type disk --socket /tmp/none.sock
	check "missing socket: exit 5, says start the back-end" \
		expect_error 5 "/tmp/none.sock.*is the back-end running" \
		"$CTL" attach --type blk --socket /tmp/none.sock
	check "detach of an unknown name: exit 6" expect_error 6 "no such attachment" \
		"$CTL" detach nosuch
	check "status of an unknown name: exit 6" expect_error 6 "no such attachment" \
		"$CTL" status nosuch
}

test_blk() {
	start_qsd vub disk.img 256M ",num-queues=2" ||
		{ not_ok "blk: qemu-storage-daemon starts"; return; }
	dev=$("$CTL" attach --type blk --socket /tmp/vub.sock)
	check "blk: attach prints the disk ($dev)" test -b "$dev"
	check "blk: $dev has the image's size" \
		test "$(blockdev --getsize64 "$dev")" -eq 268435456
	check "blk: num-queues=2 gives two hardware queues" \
		test "$(ls "/sys/block/${dev#/dev/}/mq" | wc -l)" -eq 2
	# qemu-storage-daemon offers size_max 0, which the driver would take as
	# 4 KiB (6.1) or 64 KiB (6.12) segments: the adapter drops it, and the
	# module's limit (126 segments in the 16 MiB area) is the size
	check "blk: segments of 128 KiB, not size_max 0's minimum" \
		test "$(cat "/sys/block/${dev#/dev/}/queue/max_segment_size")" -ge 131072
	check "blk: list --json shows blk0 on $dev" \
		test "$(json_field blk0 node)" = "$dev"
	check "blk: status blk0 says running" sh -c "'$CTL' status blk0 | grep -q 'state:   running'"
	check "blk: fio 4k randwrite QD16 verified" fio_verify vu4k "$dev" \
		--rw=randwrite --bs=4k --iodepth=16 --size=32M
	check "blk: fio 2 jobs, 64k, verified" fio_verify vu2j "$dev" \
		--rw=randwrite --bs=64k --iodepth=8 --size=32M --numjobs=2 \
		--offset=64M --offset_increment=32M
	head -c 65536 /dev/urandom >pattern
	dd if=pattern of="$dev" bs=4k seek=12345 oflag=direct conv=fsync status=none
	check "blk: detach" "$CTL" detach blk0
	check "blk: $dev removed" test ! -e "$dev"
	check "blk: list is empty" test "$("$CTL" list --json)" = "[]"
	check "blk: the data written through $dev is in the image" sh -c \
		"dd if=disk.img bs=4k skip=12345 count=16 status=none | cmp - pattern"
	check "blk: qemu-storage-daemon still runs after detach" kill -0 "$qsd_pid"
	dev2=$("$CTL" attach --type blk --socket /tmp/vub.sock --name again --num-queues 1)
	check "blk: attach again to the same daemon, 1 queue ($dev2)" \
		test "$(ls "/sys/block/${dev2#/dev/}/mq" 2>/dev/null | wc -l)" -eq 1
	check "blk: the data is still there" sh -c \
		"dd if=$dev2 bs=4k skip=12345 count=16 iflag=direct status=none | cmp - pattern"
	check "blk: detach again" "$CTL" detach again
}

test_kill9() {
	start_qsd vk kill.img 64M || { not_ok "kill -9: qemu-storage-daemon starts"; return; }
	dev=$("$CTL" attach --type blk --socket /tmp/vk.sock --name victim)
	check "kill -9: attached ($dev)" test -b "$dev"
	adapter=$(awk -F= '$1 == "pid" { print $2 }' /run/vloopback/victim)
	start=$(date +%s)
	fio --name=kill --filename="$dev" --ioengine=io_uring --direct=1 \
		--rw=randrw --bs=4k --iodepth=32 --time_based --runtime=120 \
		--eta=never --output="$VLB_WORK/fio-vkill.log" &
	fio=$!
	sleep 3
	kill -KILL "$qsd_pid"
	wait "$fio"
	rc=$?
	took=$(($(date +%s) - start))
	check "kill -9: fio ends with an error ($rc)" test "$rc" -ne 0
	check "kill -9: fio ends within 30 s (${took}s)" test "$took" -lt 30
	check "kill -9: $dev removed" wait_for 10 test ! -e "$dev"
	check "kill -9: the adapter exits" wait_for 10 sh -c "! kill -0 $adapter 2>/dev/null"
	check "kill -9: its log says the back-end closed the connection" \
		grep -q "closed the connection" /run/vloopback/victim.log
	check "kill -9: list no longer shows it" test "$("$CTL" list --json)" = "[]"
}

test_fs() {
	mkdir -p share mnt
	echo "written on the host side" >share/from-host
	/usr/lib/qemu/virtiofsd --socket-path=/tmp/vfs.sock -o source=/tmp/share \
		-o cache=none >virtiofsd.log 2>&1 &
	vfs=$!
	wait_for 20 test -S /tmp/vfs.sock || { not_ok "fs: virtiofsd starts"; cat virtiofsd.log; return; }
	out=$("$CTL" attach --type fs --socket /tmp/vfs.sock --tag vlbfs)
	check "fs: attach prints the tag ($out)" test "$out" = vlbfs
	check "fs: mount -t virtiofs vlbfs" mount -t virtiofs vlbfs mnt
	check "fs: a file written on the host side is read in the mount" \
		grep -qx "written on the host side" mnt/from-host
	echo "written in the mount" >mnt/from-mount
	check "fs: a file written in the mount is on the host side" \
		grep -qx "written in the mount" share/from-mount
	check "fs: umount" umount mnt
	check "fs: detach" "$CTL" detach fs0
	wait_for 10 sh -c "! kill -0 $vfs 2>/dev/null" || kill "$vfs"
}

# json_key FILE KEY: KEY of the JSON object in FILE
json_key() {
	python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

list_count() {
	"$CTL" list --json | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))'
}

test_cli_state() {
	start_qsd ra ra.img 64M || { not_ok "cli: qemu-storage-daemon a starts"; return; }
	start_qsd rb rb.img 64M || { not_ok "cli: qemu-storage-daemon b starts"; return; }
	"$CTL" attach --type blk --socket /tmp/ra.sock --json >ra.json &
	p1=$!
	"$CTL" attach --type blk --socket /tmp/rb.sock --json >rb.json &
	p2=$!
	wait "$p1"
	r1=$?
	wait "$p2"
	r2=$?
	cat ra.json rb.json
	check "cli: two concurrent attaches succeed ($r1, $r2)" test "$r1$r2" = 00
	n1=$(json_key ra.json name)
	n2=$(json_key rb.json name)
	check "cli: two concurrent attaches get different names ($n1, $n2)" \
		test -n "$n1" -a -n "$n2" -a "$n1" != "$n2"
	check "cli: attach --json gives the node and the pid" \
		test -b "$(json_key ra.json node)" -a "$(json_key ra.json running)" = True
	check "cli: list shows both" test "$(list_count)" -eq 2
	adapter=$(json_key ra.json pid)
	dev1=$(json_key ra.json node)
	check "cli: the background adapter's cwd is /" \
		test "$(readlink "/proc/$adapter/cwd")" = /
	kill -KILL "$adapter"
	check "cli: the device of an adapter killed with -9 goes" wait_for 10 test ! -e "$dev1"
	check "cli: list drops the entry of the adapter killed with -9" \
		test "$(list_count)" -eq 1
	check "cli: its entry is removed" test ! -e "/run/vloopback/$n1.lock"
	check "cli: detach the other" "$CTL" detach "$n2"
	check "cli: nothing left" test "$(list_count)" -eq 0
}

# A member of the node's group, not root (the module lets users create blk):
# its own state directory, its own list
test_non_root() {
	start_qsd nr nr.img 64M || { not_ok "non-root: qemu-storage-daemon starts"; return; }
	chmod 666 /tmp/nr.sock
	chgrp 65534 /dev/virtio-loopback && chmod 660 /dev/virtio-loopback
	mkdir -p /tmp/nobody-run && chown 65534:65534 /tmp/nobody-run && chmod 700 /tmp/nobody-run
	as_user() {
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			env XDG_RUNTIME_DIR=/tmp/nobody-run "$CTL" "$@"
	}
	out=$(as_user attach --type blk --socket /tmp/nr.sock --name mine)
	check "non-root: attach as uid 65534 gives a disk ($out)" test -b "$out"
	check "non-root: its entry is in its own directory" \
		test -e /tmp/nobody-run/vloopback/mine.lock
	check "non-root: its list shows it" sh -c \
		"$(command -v setpriv) --reuid=65534 --regid=65534 --clear-groups env XDG_RUNTIME_DIR=/tmp/nobody-run '$CTL' list | grep -q '^mine .*running'"
	check "non-root: root's list does not" test "$(list_count)" -eq 0
	check "non-root: detach as the user" as_user detach mine
	check "non-root: the disk is gone" wait_for 10 test ! -e "$out"
}

# Debian 13's qemu-storage-daemon: a disk through it, data checked both ways
test_blk13() {
	v=$("$TRIXIE" run qemu-storage-daemon --version | sed -n '1s/.*version \([^ ]*\).*/\1/p')
	QSD_IN="$TRIXIE run" start_qsd vub13 disk13.img 64M ",num-queues=2" ||
		{ not_ok "blk13: qemu-storage-daemon $v starts"; return; }
	dev=$("$CTL" attach --type blk --socket /tmp/vub13.sock --name blk13)
	check "blk13: Debian 13's qemu-storage-daemon $v attached ($dev)" test -b "$dev"
	check "blk13: $dev has the image's size" \
		test "$(blockdev --getsize64 "$dev")" -eq 67108864
	check "blk13: num-queues=2 gives two hardware queues" \
		test "$(ls "/sys/block/${dev#/dev/}/mq" | wc -l)" -eq 2
	check "blk13: fio 4k randwrite QD16 verified" fio_verify vu13 "$dev" \
		--rw=randwrite --bs=4k --iodepth=16 --size=16M
	head -c 65536 /dev/urandom >pattern13
	dd if=pattern13 of="$dev" bs=4k seek=5000 oflag=direct conv=fsync status=none
	check "blk13: detach" "$CTL" detach blk13
	check "blk13: $dev removed" wait_for 10 test ! -e "$dev"
	check "blk13: the data written through $dev is in the image" sh -c \
		"dd if=disk13.img bs=4k skip=5000 count=16 status=none | cmp - pattern13"
	kill "$qsd_pid"
	check "blk13: qemu-storage-daemon $v exits on SIGTERM" wait "$qsd_pid"
}

# Debian 13's Rust virtiofsd, which gives the tag in its config space
test_fs13() {
	v=$("$TRIXIE" run /usr/libexec/virtiofsd --version | awk '{ print $NF; exit }')
	mkdir -p share13 mnt13
	echo "written on the back-end's side" >share13/from-host
	# No sandbox: it is in a chroot already, which pivot_root refuses
	"$TRIXIE" run /usr/libexec/virtiofsd --socket-path=/tmp/vfs13.sock \
		--shared-dir=/tmp/share13 --tag vlbfs13 --cache=never --sandbox=none \
		>"$VLB_WORK/virtiofsd13.log" 2>&1 &
	vfs=$!
	wait_for 20 test -S /tmp/vfs13.sock ||
		{ not_ok "fs13: virtiofsd $v starts"; cat "$VLB_WORK/virtiofsd13.log"; return; }
	check "fs13: attach with no --tag: the Rust virtiofsd $v gives it (GET_CONFIG)" \
		eval '"$CTL" attach --type fs --socket /tmp/vfs13.sock --name fs13 >/dev/null' 
	check "fs13: mount -t virtiofs vlbfs13" mount -t virtiofs vlbfs13 mnt13
	check "fs13: a file written on the back-end's side is read in the mount" \
		grep -qx "written on the back-end's side" mnt13/from-host
	head -c 1M /dev/urandom >mnt13/from-mount
	sync
	check "fs13: 1 MiB written in the mount is on the back-end's side" \
		cmp mnt13/from-mount share13/from-mount
	check "fs13: umount" umount mnt13
	check "fs13: detach" "$CTL" detach fs13
	check "fs13: virtiofsd exits when the front-end goes" \
		wait_for 10 sh -c "! kill -0 $vfs 2>/dev/null"
	kill "$vfs" 2>/dev/null
}

# lying MODE PATTERN: attach to fake_backend.py MODE fails with exit 5, PATTERN
lying() {
	rm -f /tmp/fake.sock
	python3 "$FAKE" "$1" /tmp/fake.sock &
	fake=$!
	wait_for 10 test -S /tmp/fake.sock
	before=$(ls /sys/bus/virtio/devices | wc -l)
	check "fake_backend $1: exit 5, says $2" expect_error 5 "$2" \
		"$CTL" attach --type rng --socket /tmp/fake.sock --timeout 1000
	check "fake_backend $1: no device left" \
		wait_for 10 test "$(ls /sys/bus/virtio/devices | wc -l)" -eq "$before"
	kill "$fake" 2>/dev/null
	wait "$fake" 2>/dev/null
}

# qemu-storage-daemon 7.2 does not announce a resize: fake_backend does it
test_config_change() {
	rm -f /tmp/fake.sock /tmp/relayed
	python3 "$FAKE" config-change /tmp/fake.sock /tmp/relayed &
	fake=$!
	wait_for 10 test -S /tmp/fake.sock
	out=$("$CTL" attach --type input --socket /tmp/fake.sock --name cc)
	check "config change: virtio_input takes the fake's device ($out)" test -n "$out"
	check "config change: the adapter fetches the new config and acknowledges" \
		wait_for 10 test -s /tmp/relayed
	check "config change: detach" "$CTL" detach cc
	wait "$fake"
}

test_lying_backends() {
	lying bad-size "malformed reply to GET_FEATURES"
	lying wrong-type "answered GET_PROTOCOL_FEATURES"
	lying fds "more file descriptors than expected"
	lying silent "did not answer .* in time"
}

test_errors_before_module
load_module user_device_types=2	# blk for test_non_root
modprobe -a virtio_blk virtiofs virtio_rng virtio_input
test_errors
test_blk
test_kill9
test_cli_state
test_non_root
test_fs
test_blk13
test_fs13
test_config_change
test_lying_backends
kill $QSD_PIDS 2>/dev/null
check "no attachment left" test "$("$CTL" list --json)" = "[]"
unload_module
finish
