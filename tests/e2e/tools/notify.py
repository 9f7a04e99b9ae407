#!/usr/bin/python3
"""notify.py SOCKET LOG [--freeze-on ASSIGNMENT] - stands in for systemd's
notification socket (testing-recipes.md: sd_notify without systemd).

Binds an AF_UNIX datagram socket at SOCKET (what NOTIFY_SOCKET names), with
SO_PASSCRED so that the kernel tells the sender's pid, and appends each
assignment of each datagram to LOG as one line:
    <CLOCK_MONOTONIC seconds> <pid> <KEY=VALUE>
so that a test can check the order of READY=1, RELOADING=1, STOPPING=1 and
the watchdog's period.

--freeze-on READY=1: the first time a datagram carries that assignment, the
sender gets SIGSTOP before the line is written ("<time> <pid> FROZEN" follows
it). The test then looks at the kernel's state exactly as the sender left it
when it said READY=1, and sends SIGCONT. Runs until SIGTERM.
"""
import argparse
import os
import signal
import socket
import struct
import sys
import time

SO_PASSCRED = 16
SCM_CREDENTIALS = 2


def sender_pid(anc):
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == SCM_CREDENTIALS and len(data) >= 12:
            return struct.unpack('iII', data[:12])[0]
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument('socket')
    p.add_argument('log')
    p.add_argument('--freeze-on')
    a = p.parse_args()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(a.socket):
        os.unlink(a.socket)
    s.setsockopt(socket.SOL_SOCKET, SO_PASSCRED, 1)
    s.bind(a.socket)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    freeze = a.freeze_on
    with open(a.log, 'a', buffering=1) as f:
        while True:
            data, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(12))
            t = time.clock_gettime(time.CLOCK_MONOTONIC)
            pid = sender_pid(anc)
            lines = [x for x in data.decode('utf-8', 'replace').split('\n') if x]
            frozen = freeze in lines and pid > 0
            if frozen:
                os.kill(pid, signal.SIGSTOP)
                freeze = None
            for line in lines:
                f.write('%.6f %d %s\n' % (t, pid, line))
            if frozen:
                f.write('%.6f %d FROZEN\n' % (t, pid))


if __name__ == '__main__':
    main()
