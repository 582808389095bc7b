#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""fake_backend: a vhost-user back-end that lies, for tests only.

Real back-ends cannot be made to misbehave on purpose, so this is the one
place a fake stands in for one (the unit tests have its C twin).  It listens
on SOCKET, serves one front-end, and answers honestly until the moment its
MODE says it lies:

  bad-size     GET_FEATURES answered with a 4-byte payload
  wrong-type   GET_FEATURES answered as if it were GET_PROTOCOL_FEATURES
  fds          GET_FEATURES answered with three fds attached
  silent       answers stage 1 (no protocol features: 1 queue, no config),
               then never again: the driver's feature negotiation hangs

One mode is honest, for what no Debian back-end does (qemu-storage-daemon
7.2 does not announce a resize):

  config-change  a virtio-input device with an empty config space that
               answers everything (REPLY_ACK, CONFIG, BACKEND_REQ); once its
               rings are enabled it sends CONFIG_CHANGE_MSG on the back-end
               channel, and writes MARKER when the front-end has fetched
               the config and acknowledged the message

and one crashes at the worst time:

  hangup-in-probe  a 1 MiB virtio-blk disk, honest until its ring is
               enabled; then it hangs up without serving a request, while
               the driver's probe waits for its partition table
  complete-then-hangup  the same, but first it puts the driver's first
               request in the used ring, without a call: as a back-end
               that crashes between completing and notifying

Usage: fake_backend.py MODE SOCKET [MARKER]
"""
import mmap
import os
import select
import socket
import struct
import sys

GET_FEATURES = 1
SET_MEM_TABLE = 5
SET_VRING_NUM = 8
SET_VRING_ADDR = 9
GET_VRING_BASE = 11
SET_VRING_KICK = 12
GET_PROTOCOL_FEATURES = 15
SET_VRING_ENABLE = 18
SET_BACKEND_REQ_FD = 21
GET_CONFIG = 24
CONFIG_CHANGE_MSG = 2
VERSION = 0x1
REPLY = 0x4
NEED_REPLY = 0x8
VERSION_1 = 1 << 32
PROTOCOL_FEATURES = 1 << 30
REPLY_ACK, BACKEND_REQ, CONFIG = 1 << 3, 1 << 5, 1 << 9

config_space = b""      # what GET_CONFIG answers, zeroes beyond


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def recv_request(conn):
    request, flags, size = struct.unpack("<III", recv_exact(conn, 12))
    return request, flags, recv_exact(conn, size)


def recv_request_fds(conn):
    """A request and the fds that came with its first byte"""
    head, fds, _, _ = socket.recv_fds(conn, 12, 8)
    if not head:
        raise EOFError
    head += recv_exact(conn, 12 - len(head))
    request, flags, size = struct.unpack("<III", head)
    return request, flags, recv_exact(conn, size), fds


def answer(request, payload):
    """The reply a request has of its own, else None"""
    if request == GET_FEATURES:
        return struct.pack("<Q", VERSION_1 | PROTOCOL_FEATURES)
    if request == GET_PROTOCOL_FEATURES:
        return struct.pack("<Q", REPLY_ACK | BACKEND_REQ | CONFIG)
    if request == GET_CONFIG:
        offset, size, flags = struct.unpack("<III", payload[:12])
        space = config_space + bytes(offset + size)
        return payload[:12] + space[offset:offset + size]
    if request == GET_VRING_BASE:
        return payload[:4] + struct.pack("<I", 0)
    return None


def serve_until_enabled(conn, ring=None):
    """Answer everything until a ring is enabled; the back-end channel.
    ring, if given, collects the memory, vring 0's addresses and kick fd."""
    backend = None
    while True:
        request, flags, payload, fds = recv_request_fds(conn)
        if request == SET_BACKEND_REQ_FD:
            backend = socket.socket(fileno=fds.pop())
        if ring is not None:
            note_ring(ring, request, payload, fds)
        for fd in fds:
            os.close(fd)
        body = answer(request, payload)
        if body is not None:
            reply(conn, request, body)
        elif flags & NEED_REPLY:
            reply(conn, request, struct.pack("<Q", 0))
        if request == SET_VRING_ENABLE:
            return backend


def note_ring(ring, request, payload, fds):
    if request == SET_MEM_TABLE:
        _, _, _, ring["size"], ring["base"], _ = struct.unpack("<IIQQQQ", payload[:40])
        ring["mem"] = fds.pop()
    elif request == SET_VRING_NUM:
        ring["num"] = struct.unpack("<II", payload)[1]
    elif request == SET_VRING_ADDR:
        _, _, ring["desc"], ring["used"], ring["avail"], _ = struct.unpack("<IIQQQQ", payload)
    elif request == SET_VRING_KICK:
        ring["kick"] = fds.pop()


def complete_first_request(ring):
    """Put the first available chain in the used ring, without a call"""
    mem = mmap.mmap(ring["mem"], ring["size"])
    avail = ring["avail"] - ring["base"]
    used = ring["used"] - ring["base"]
    select.select([ring["kick"]], [], [], 10)
    if struct.unpack_from("<H", mem, avail + 2)[0] == 0:
        sys.exit("fake_backend: no request came")
    head = struct.unpack_from("<H", mem, avail + 4)[0]
    struct.pack_into("<II", mem, used + 4, head, 0)
    struct.pack_into("<H", mem, used + 2, 1)


def serve_config_change(conn, marker):
    backend = serve_until_enabled(conn)
    serve_until_enabled(conn)       # virtio-input has two queues
    backend.sendall(struct.pack("<III", CONFIG_CHANGE_MSG, VERSION | NEED_REPLY, 0))
    request, flags, payload = recv_request(conn)
    if request != GET_CONFIG:
        sys.exit(f"fake_backend: expected GET_CONFIG, got {request}")
    reply(conn, request, answer(request, payload))
    ack = recv_exact(backend, 20)
    if struct.unpack("<IIIQ", ack) == (CONFIG_CHANGE_MSG, VERSION | REPLY, 8, 0):
        with open(marker, "w") as f:
            f.write("relayed\n")
    while True:     # what detaching takes
        serve_until_enabled(conn)


def reply(conn, request, payload, fds=()):
    msg = struct.pack("<III", request, VERSION | REPLY, len(payload)) + payload
    if fds:
        socket.send_fds(conn, [msg], list(fds))
    else:
        conn.sendall(msg)


def lie(mode, conn, request):
    features = struct.pack("<Q", VERSION_1)
    if mode == "bad-size":
        reply(conn, request, features[:4])
    elif mode == "wrong-type":
        reply(conn, GET_PROTOCOL_FEATURES, features)
    elif mode == "fds":
        fds = [os.open("/dev/null", os.O_RDONLY) for _ in range(3)]
        reply(conn, request, features, fds)
    elif mode == "silent":
        reply(conn, request, features)
        while True:     # read and never answer, until the front-end leaves
            recv_request(conn)


def main():
    global config_space
    mode, path = sys.argv[1], sys.argv[2]
    if mode in ("hangup-in-probe", "complete-then-hangup"):
        config_space = struct.pack("<Q", 2048)      # blk capacity: 1 MiB
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    conn, _ = srv.accept()
    try:
        if mode == "config-change":
            serve_config_change(conn, sys.argv[3])
        if mode in ("hangup-in-probe", "complete-then-hangup"):
            ring = {}
            serve_until_enabled(conn, ring)
            if mode == "complete-then-hangup":
                complete_first_request(ring)
            conn.close()
            return
        request, _, _ = recv_request(conn)
        if request != GET_FEATURES:
            sys.exit(f"fake_backend: expected GET_FEATURES first, got {request}")
        lie(mode, conn, request)
        recv_exact(conn, 1)     # hold the socket until the front-end closes it
    except (EOFError, ConnectionResetError):
        pass


if __name__ == "__main__":
    main()
