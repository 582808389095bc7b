#!/bin/bash
# virtio-net through vloopback, with a real vhost-user net back-end:
# dpdk-testpmd (Debian 12's dpdk-dev) forwarding between its two vhost-user
# ports (io mode), two vloopback virtio-net ports attached to them with
# vloopbackctl (--mac, --mtu), each in a network namespace of its own.
# Across testpmd: ping, an iperf3 TCP run and a file sent with socat, data
# checked; detach and re-attach; testpmd killed: both ports go away and
# their adapters exit.
. "$VLB_SRC/tests/kernel/lib.sh"
CTL=$VLB_BUILD/tools/vloopbackctl/vloopbackctl
# The work dir (9p) cannot hold sockets
cd /tmp || exit 1

MAC0=02:76:6c:62:00:01
MAC1=02:76:6c:62:00:02
IP0=10.76.0.1
IP1=10.76.0.2
MTU=1400

start_testpmd() {
	rm -f /tmp/vhost0.sock /tmp/vhost1.sock
	# No hugepages, no PCI: its two ports are the vhost-user servers.
	# 256 MB hold its 4096 mbufs (9 MB) many times over; under TCG it
	# starts in about 20 s with them, 50 with 1 GB.
	dpdk-testpmd --no-huge -m 256 --no-pci --file-prefix=vlb \
		--vdev net_vhost0,iface=/tmp/vhost0.sock \
		--vdev net_vhost1,iface=/tmp/vhost1.sock \
		-- --total-num-mbufs=4096 --forward-mode=io --stats-period 5 \
		</dev/null >"$VLB_WORK/testpmd.log" 2>&1 &
	testpmd=$!
	wait_for 150 test -S /tmp/vhost1.sock
}

# attach_port N: port N on vhost-userN.sock, into namespace nsN; sets ifN
attach_port() {
	local n=$1 mac ip ifname
	mac=$([ "$n" = 0 ] && echo $MAC0 || echo $MAC1)
	ip=$([ "$n" = 0 ] && echo $IP0 || echo $IP1)
	ifname=$("$CTL" attach --type net --socket "/tmp/vhost$n.sock" --name "net$n" \
		--mac "$mac" --mtu $MTU) || return 1
	# shellcheck disable=SC2034 # if1 is read through eval (has_link, gone)
	if [ "$n" = 0 ]; then if0=$ifname; else if1=$ifname; fi
	ip netns add "ns$n" 2>/dev/null
	ip link set "$ifname" netns "ns$n" &&
		ip -n "ns$n" addr add "$ip/24" dev "$ifname" &&
		ip -n "ns$n" link set lo up &&
		ip -n "ns$n" link set "$ifname" up
}

# has_link N PATTERN: port N's "ip link show" in nsN matches PATTERN
has_link() {
	local ifname
	eval "ifname=\$if$1"
	ip -n "ns$1" link show "$ifname" | grep -q -- "$2"
}

gone() {
	local ifname
	eval "ifname=\$if$1"
	! ip -n "ns$1" link show "$ifname" >/dev/null 2>&1 &&
		! ip link show "$ifname" >/dev/null 2>&1
}

ping_ok() { ip netns exec ns0 ping -q -c 3 -i 0.3 -W 5 "$IP1" >/dev/null; }

# iperf3 TCP for 3 s from ns0 to ns1: the bytes both ends counted
iperf_run() {
	ip netns exec ns1 iperf3 -s -1 -J >"$VLB_WORK/iperf-server.json" 2>&1 &
	local srv=$! bytes
	sleep 1
	ip netns exec ns0 iperf3 -c "$IP1" -t 3 -J >"$VLB_WORK/iperf-client.json" 2>&1 ||
		{ kill $srv; return 1; }
	wait $srv
	bytes=$(python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))["end"]
s = json.load(open(sys.argv[2]))["end"]
print(c["sum_sent"]["bytes"], c["sum_received"]["bytes"], s["sum_received"]["bytes"])' \
		"$VLB_WORK/iperf-client.json" "$VLB_WORK/iperf-server.json") || return 1
	echo "# iperf3 bytes sent, received (client), received (server): $bytes"
	set -- $bytes
	[ "$1" -gt 0 ] && [ "$2" -gt 0 ] && [ "$3" -gt 0 ]
}

# 4 MiB of random data from ns0 to ns1 over TCP, compared by sha256
file_run() {
	head -c 4M /dev/urandom >/tmp/blob
	rm -f /tmp/blob.rx
	ip netns exec ns1 socat -u TCP-LISTEN:5001,reuseaddr OPEN:/tmp/blob.rx,creat,trunc &
	local srv=$!
	sleep 0.5
	ip netns exec ns0 socat -u OPEN:/tmp/blob "TCP:$IP1:5001,retry=20,interval=0.5" ||
		{ kill $srv; return 1; }
	wait $srv || return 1
	[ "$(sha256sum </tmp/blob)" = "$(sha256sum </tmp/blob.rx)" ]
}

adapters_gone() {
	local p
	for p in $adapters; do
		! kill -0 "$p" 2>/dev/null || return 1
	done
}

load_module
modprobe virtio_net
check "dpdk-testpmd serves two vhost-user ports" start_testpmd ||
	{ tail -n 30 "$VLB_WORK/testpmd.log"; finish; }
check "net0 attached to vhost0 and moved to ns0" attach_port 0
check "net1 attached to vhost1 and moved to ns1" attach_port 1
check "net0 has --mac $MAC0 and --mtu $MTU" eval "has_link 0 'link/ether $MAC0' && has_link 0 'mtu $MTU '"
check "net1 has --mac $MAC1 and --mtu $MTU" eval "has_link 1 'link/ether $MAC1' && has_link 1 'mtu $MTU '"
check "ns0 pings ns1 through testpmd" wait_for 30 ping_ok
check "a ping of exactly the MTU, not fragmented, gets through" \
	eval "ip netns exec ns0 ping -q -c 2 -W 5 -M do -s $((MTU - 28)) $IP1 >/dev/null"
check "one byte more does not fit the MTU" \
	eval "! ip netns exec ns0 ping -q -c 1 -W 2 -M do -s $((MTU - 27)) $IP1 >/dev/null 2>&1"
check "iperf3 TCP, 3 s, ns0 to ns1: bytes sent and received" iperf_run
check "4 MiB sent with socat arrive with the same sha256" file_run

old_if0=$if0
check "detach net0" "$CTL" detach net0
check "net0's interface $old_if0 is gone" wait_for 10 gone 0
check "re-attach net0 to the same testpmd port" attach_port 0
check "ns0 pings ns1 again" wait_for 30 ping_ok
check "4 MiB again, same sha256" file_run

adapters=$(awk -F= '$1 == "pid" { print $2 }' /run/vloopback/net0 /run/vloopback/net1 | tr '\n' ' ')
kill -KILL "$testpmd"
wait "$testpmd" 2>/dev/null
check "testpmd killed: net0's interface goes away" wait_for 15 gone 0
check "testpmd killed: net1's interface goes away" wait_for 15 gone 1
check "testpmd killed: both adapters exit (pids ${adapters% })" wait_for 10 adapters_gone
check "list is empty" test "$("$CTL" list --json)" = "[]"
no_net_device() {
	local d
	for d in /sys/bus/virtio/drivers/virtio_net/virtio*; do
		[ ! -e "$d" ] || return 1
	done
}
check "virtio_net has no device left" no_net_device
ip netns del ns0
ip netns del ns1
unload_module
finish
