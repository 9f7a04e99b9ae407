#!/usr/bin/python3
"""genmon.py - prints one line per committed nftables transaction in the
current network namespace: "# new generation ID by process PID (NAME)", as
`nft monitor` does, but from a socket with an 8 MiB receive buffer that
reads only the NEWGEN messages, so that a big transaction's per-object
events cannot overflow it and hide the next commits. Runs until killed.

genmon.py --now: prints the namespace's current generation (NFT_MSG_GETGEN)
and exits: a test waits until the monitor has printed it, and then knows that
every commit so far is in the monitor's output.
"""
import socket
import struct
import sys

NETLINK_NETFILTER = 12
NFNLGRP_NFTABLES = 7
SOL_NETLINK = 270
NETLINK_ADD_MEMBERSHIP = 1
SO_RCVBUFFORCE = 33
NEWGEN = (10 << 8) | 15          # NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN
GETGEN = (10 << 8) | 16          # NFT_MSG_GETGEN
NLM_F_REQUEST = 1


def attrs(buf):
    out = {}
    while len(buf) >= 4:
        ln, typ = struct.unpack('=HH', buf[:4])
        if ln < 4:
            break
        out[typ & 0x7fff] = buf[4:ln]
        buf = buf[(ln + 3) & ~3:]
    return out


def now():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    # nlmsghdr, then nfgenmsg (family AF_UNSPEC, version 0, res_id 0)
    s.send(struct.pack('=IHHII', 20, GETGEN, NLM_F_REQUEST, 1, 0) + struct.pack('=BBH', 0, 0, 0))
    data = s.recv(65536)
    while len(data) >= 16:
        ln, typ = struct.unpack('=IH', data[:6])
        if typ == NEWGEN:
            a = attrs(data[20:ln])
            print(struct.unpack('!I', a[1])[0])
            return 0
        if ln < 16:
            break
        data = data[(ln + 3) & ~3:]
    print('genmon.py --now: no generation in the answer', file=sys.stderr)
    return 1


def main():
    if sys.argv[1:] == ['--now']:
        return now()
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    s.bind((0, 0))
    s.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, NFNLGRP_NFTABLES)
    print('# listening', flush=True)
    while True:
        try:
            data = s.recv(1 << 20)
        except OSError as e:
            print('# error: %s' % e, flush=True)
            continue
        while len(data) >= 16:
            ln, typ = struct.unpack('=IH', data[:6])
            if ln < 16:
                break
            if typ == NEWGEN:
                a = attrs(data[20:ln])
                gen = struct.unpack('!I', a[1])[0] if 1 in a else 0
                pid = struct.unpack('!I', a[2])[0] if 2 in a else 0
                name = a.get(3, b'').rstrip(b'\0').decode('utf-8', 'replace')
                print('# new generation %d by process %d (%s)' % (gen, pid, name), flush=True)
            data = data[(ln + 3) & ~3:]


if __name__ == '__main__':
    sys.exit(main())
