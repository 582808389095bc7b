#!/bin/bash
# vloopback installed as a user installs it, then used without root:
#  - the module goes in with kmod/Makefile's install target into a staged
#    module tree (the guest's /lib/modules is the host's, read-only): the
#    objects meson built, INSTALL_MOD_PATH=$VLB_WORK/stage, depmod -b; the
#    staged tree links the kernel's own virtio core, so "modprobe -d STAGE"
#    resolves the module's dependencies itself (modprobe, not insmod);
#  - the vloopback group comes from the sysusers.d file, the users from a
#    private /etc/passwd and /etc/group bind-mounted over the read-only ones;
#  - a real systemd-udevd applies udev/60-vloopback.rules (from /run/udev,
#    where udev reads runtime rules): the node gets group vloopback, 0660;
#  - with user_device_types=2 max_user_devices=1, a member of the group runs
#    examples/ramdisk and root reads back through the disk what it wrote; a
#    second disk of that user is refused (EUSERS), so is a type the admin
#    did not hand out (EPERM), and a user outside the group cannot open the
#    node (EACCES): each with the library's one-line hint.
. "$VLB_SRC/tests/kernel/lib.sh"

STAGE=$VLB_WORK/stage
# what background processes print, read while they run (see in_tmpfs)
in_tmpfs install || exit 1
ETC=/tmp/vlb-etc
USER_IN=4001	# in group vloopback
USER_OUT=4002	# not in it

# Run a command as one of them, with the groups /etc/group gives it
AS_IN=(setpriv --reuid=$USER_IN --regid=$USER_IN --init-groups)
AS_OUT=(setpriv --reuid=$USER_OUT --regid=$USER_OUT --init-groups)
# udevadm does nothing in a chroot unless told to
export SYSTEMD_IGNORE_CHROOT=1

# --- the module from a staged "make install" --------------------------------
# Kernels whose headers live only in the Debian 13 root (7.x, built with a
# compiler Debian 12 lacks) cannot run Kbuild here: the module built there
# is staged where modules_install puts it.
stage_module() {
	local moddir=$STAGE/lib/modules/$VLB_KVER f
	if [ -d "/usr/src/linux-headers-$VLB_KVER" ]; then
		make -s -C "$VLB_BUILD/kmod/$VLB_KVER/kmod" -f "$VLB_SRC/kmod/Makefile" install \
			KDIR="/usr/src/linux-headers-$VLB_KVER" INSTALL_MOD_PATH="$STAGE" \
			>"$VLB_WORK/modinst.log" 2>&1 || { cat "$VLB_WORK/modinst.log"; return 1; }
	else
		install -D -m 0644 "$VLB_KO" "$moddir/updates/virtio_loopback.ko"
	fi
	mkdir -p "$moddir/kernel/drivers"
	ln -s "/lib/modules/$VLB_KVER/kernel/drivers/virtio" "$moddir/kernel/drivers/virtio"
	for f in modules.builtin modules.builtin.modinfo modules.order; do
		ln -sf "/lib/modules/$VLB_KVER/$f" "$moddir/$f"
	done
	depmod -b "$STAGE" "$VLB_KVER"
}
check "make -C kmod install INSTALL_MOD_PATH=\$VLB_WORK/stage, depmod -b" stage_module
staged=$(modprobe -d "$STAGE" -S "$VLB_KVER" --show-depends virtio_loopback | tail -n 1)
# extra/virtio_loopback.ko on 6.1, updates/virtio_loopback.ko.xz on 6.12
is_staged() { [[ $staged == "insmod $STAGE/lib/modules/$VLB_KVER/"*/virtio_loopback.ko* ]]; }
check "modprobe -d STAGE finds the staged module (${staged#insmod })" is_staged

# --- group and users --------------------------------------------------------
make_users() {
	mkdir -p "$ETC/etc"
	cp /etc/passwd /etc/group "$ETC/etc/"
	systemd-sysusers --root="$ETC" "$VLB_SRC/udev/vloopback.sysusers" || return 1
	grep -q '^vloopback:' "$ETC/etc/group" || return 1
	sed -i "s/^vloopback:x:\([0-9]*\):\$/vloopback:x:\1:vlbuser/" "$ETC/etc/group"
	cat >>"$ETC/etc/passwd" <<-EOF
	vlbuser:x:$USER_IN:$USER_IN::/nonexistent:/usr/sbin/nologin
	vlbother:x:$USER_OUT:$USER_OUT::/nonexistent:/usr/sbin/nologin
	EOF
	printf 'vlbuser:x:%s:\nvlbother:x:%s:\n' "$USER_IN" "$USER_OUT" >>"$ETC/etc/group"
	mount --bind "$ETC/etc/passwd" /etc/passwd &&
		mount --bind "$ETC/etc/group" /etc/group
}
check "group vloopback from sysusers.d, users vlbuser (in it) and vlbother" make_users
check "vlbuser is in group vloopback" sh -c "id -nG vlbuser | grep -qw vloopback"
check "vlbother is not" sh -c "! id -nG vlbother | grep -qw vloopback"

# --- udev --------------------------------------------------------------------
start_udevd() {
	mkdir -p /run/udev/rules.d
	cp "$VLB_SRC/udev/60-vloopback.rules" /run/udev/rules.d/
	/lib/systemd/systemd-udevd --daemon >"$VLB_WORK/udevd.log" 2>&1 &&
		wait_for 10 test -S /run/udev/control
}
check "systemd-udevd starts with the rule in /run/udev/rules.d" start_udevd

modprobe -a virtio virtio_ring virtio_blk 2>/dev/null
check "modprobe -d STAGE virtio_loopback user_device_types=2 max_user_devices=1" \
	modprobe -d "$STAGE" virtio_loopback user_device_types=2 max_user_devices=1
check "the module loaded is the staged one" \
	test "$(cat /sys/module/virtio_loopback/parameters/user_device_types)" = 2
wait_for 5 test -c /dev/virtio-loopback
udevadm settle --timeout=30 || echo "udevadm settle failed"
mode=$(stat -c '%G %a' /dev/virtio-loopback)
check "udev gave /dev/virtio-loopback group vloopback, mode 0660 ($mode)" \
	test "$mode" = "vloopback 660"

# --- a member of the group serves a disk --------------------------------------
ramdisk=$VLB_BIN/examples/ramdisk
"${AS_IN[@]}" "$ramdisk" --size 16M >rd1.out 2>rd1.err &
rd1=$!
wait_for 30 test -s rd1.out
disk=$(head -n 1 rd1.out)
check "vlbuser's ramdisk made a disk (${disk:-none}; $(cat rd1.err))" test -b "$disk"
check "vlbuser's ramdisk runs without capabilities" \
	grep -q '^CapEff:[[:space:]]*0*$' "/proc/$rd1/status"

round_trip() {
	head -c 1M /dev/urandom >/tmp/pattern
	dd if=/tmp/pattern of="$disk" bs=64k oflag=direct status=none &&
		dd if="$disk" of=/tmp/back bs=64k count=16 iflag=direct status=none &&
		cmp /tmp/pattern /tmp/back
}
check "root writes 1 MiB to $disk and reads the same back" round_trip

# check_refused NAME PATTERN CMD...: CMD fails, with PATTERN in its one line
check_refused() {
	local name=$1 pattern=$2 out
	shift 2
	if out=$("$@" 2>&1 </dev/null); then
		not_ok "$name: it succeeded"
	elif [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$pattern" <<<"$out"; then
		ok "$name: $out"
	else
		not_ok "$name: not one line with '$pattern': $out"
	fi
}
check_refused "vlbuser's second disk is refused (max_user_devices=1)" \
	"Too many users (this user has as many devices as the module's max_user_devices" \
	"${AS_IN[@]}" "$ramdisk" --size 16M
check_refused "a type not in user_device_types is refused (rng)" \
	"Operation not permitted (without CAP_SYS_ADMIN only the types in the module's user_device_types" \
	"${AS_IN[@]}" "$VLB_BIN/examples/rng"
check_refused "vlbother, outside the group, cannot open the node" \
	"cannot open /dev/virtio-loopback: Permission denied (run as root, or get access to the node from its udev rule)" \
	"${AS_OUT[@]}" "$ramdisk" --size 16M

kill -TERM "$rd1"
check "vlbuser's ramdisk exits cleanly on SIGTERM" wait "$rd1"
check "its disk is gone" wait_for 10 test ! -b "$disk"

# --- vloopback@.service's command, as systemd runs it ------------------------
# No systemd in the guest: the unit's ExecStart, from the unit meson made,
# with %i an instance's name and the variables of its config file, run by
# hand.  Restart=on-failure and RestartPreventExitStatus=2 rely on how it
# ends: nonzero but not 2 when the back-end dies, 0 on SIGTERM (a stop).
unit=$VLB_BUILD/systemd/vloopback@.service
ctl=$VLB_BUILD/tools/vloopbackctl/vloopbackctl

# start_qsd: qemu-storage-daemon exporting a disk on /tmp/disk0.sock
start_qsd() {
	rm -f /tmp/disk0.sock
	qemu-storage-daemon --blockdev driver=file,node-name=f,filename=/tmp/disk0.img \
		--export type=vhost-user-blk,id=e,node-name=f,writable=on,addr.type=unix,addr.path=/tmp/disk0.sock \
		>>"$VLB_WORK/qsd.log" 2>&1 &
	qsd=$!
	wait_for 20 test -S /tmp/disk0.sock
}

# load_env FILE: export its KEY=value lines as EnvironmentFile= does (the
# value is the rest of the line, spaces included; no shell syntax)
load_env() {
	local line
	while IFS= read -r line; do
		case $line in ''|'#'*|';'*) continue ;; esac
		export "${line%%=*}=${line#*=}"
	done <"$1"
}

# notify_listen: what systemd does for Type=notify: a datagram socket in
# $NOTIFY_SOCKET; each message goes to notify.out, READY=1 with whether the
# node its STATUS names exists at that moment
notify_listen() {
	rm -f /tmp/notify.sock notify.out
	python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/tmp/notify.sock")
out = open(sys.argv[1], "w", buffering=1)
while True:
    msg = s.recv(4096).decode()
    fields = dict(l.split("=", 1) for l in msg.splitlines() if "=" in l)
    node = fields.get("STATUS", "").split(" ")[1:2]
    exists = bool(node) and os.path.exists(node[0])
    out.write(msg.replace("\n", " ") + (" node-exists" if exists else "") + "\n")
' notify.out &
	notify_pid=$!
	wait_for 10 test -S /tmp/notify.sock
}

# unit_start: ExecStart in the background, as systemd would (TYPE and
# SOCKET one word each, OPTIONS split at spaces; Type=notify's
# NOTIFY_SOCKET); prints its output to unit.out
unit_start() {
	local exec
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	exec=${exec//%i/disk0}
	exec=${exec/#*\/vloopbackctl /$ctl }
	(load_env "$VLB_WORK/disk0.conf" && NOTIFY_SOCKET=/tmp/notify.sock &&
		export NOTIFY_SOCKET && eval "exec $exec") >unit.out 2>&1 &
	unit_pid=$!
	wait_for 30 grep -q '^/dev/vd' unit.out
}

# unit_stop: what "systemctl stop" does: SIGTERM, then the exit status
unit_stop() {
	kill -TERM "$unit_pid"
	wait "$unit_pid"
}

test_unit() {
	local disk rc
	truncate -s 64M /tmp/disk0.img
	sed -e 's|^SOCKET=.*|SOCKET=/tmp/disk0.sock|' \
		-e 's|^OPTIONS=.*|OPTIONS=--num-queues 1 --queue-size 128|' \
		"$VLB_SRC/systemd/instance.conf.example" >"$VLB_WORK/disk0.conf"
	check "qemu-storage-daemon exports /tmp/disk0.sock" start_qsd || return
	check "the unit is Type=notify" grep -qx 'Type=notify' "$unit"
	notify_listen
	check "the unit's command attaches it" unit_start || { cat unit.out; return; }
	echo "# it printed: $(cat unit.out)"
	check "it sends READY=1 to NOTIFY_SOCKET, the disk existing by then" \
		wait_for 10 grep -q "^READY=1 STATUS=serving $(head -n 1 unit.out) .* node-exists$" \
		notify.out
	cat notify.out
	check "as attachment disk0 (--name %i)" eval '"$ctl" status disk0 >/dev/null'
	{ kill -KILL "$qsd" && wait "$qsd"; } 2>/dev/null
	wait "$unit_pid"
	rc=$?
	check "back-end killed: the command fails (exit $rc), so systemd restarts it" \
		test "$rc" -ne 0 -a "$rc" -ne 2
	check "the back-end back: the restarted command attaches it again" \
		eval 'start_qsd && unit_start'
	disk=$(head -n 1 unit.out)
	check "stop: the command exits 0 on SIGTERM (no restart)" unit_stop
	check "stop: it said STOPPING=1" grep -q '^STOPPING=1' notify.out
	check "stop: $disk is gone" wait_for 10 test ! -b "$disk"
	kill "$notify_pid" 2>/dev/null
	kill -TERM "$qsd"
	wait "$qsd"
}
if [ -f "$unit" ]; then
	test_unit
else
	echo "# no $unit (meson -Dsystemd=disabled): its command is not checked"
fi

check "systemd-udevd exits" udevadm control --exit
unload_module
finish
