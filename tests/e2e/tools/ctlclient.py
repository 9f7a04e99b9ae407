#!/usr/bin/python3
"""ctlclient.py SOCKET CASE - talks to segd's control socket the wrong ways
(lib/control.h: SOCK_SEQPACKET, one "key=value\\n" request, one response).

Cases (each prints "ok - ..." / "not ok - ..." lines for lib.sh's tap):
  malformed        garbage bytes, no cmd=, no final newline, NUL bytes, a bad
                   escape, a bad key, an empty message, an unknown command, a
                   request over 256 KiB: each gets status=error (or, for the
                   oversized one, an error or a close) within 5 s
  idle SECONDS     one client connects and sends nothing for SECONDS while
                   others ask for status: each answer comes within 1 s, and
                   segd closes the idle client (after its 5 s limit)
  parallel N       N clients at once: every one gets an answer (ok, or
                   "too many control clients") or is closed; none hangs
"""
import os
import socket
import sys
import threading
import time

MAX_MSG = 256 * 1024
SO_SNDBUFFORCE = 32


def say(ok, msg):
    print('%s - %s' % ('ok' if ok else 'not ok', msg), flush=True)


def call(path, data, timeout=5.0, sndbuf=None):
    """The response text, '' when segd closed without one, None on a hang."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(timeout)
    try:
        if sndbuf:
            s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, sndbuf)
        s.connect(path)
        if data is not None:
            s.send(data)
        return s.recv(MAX_MSG + 1).decode('utf-8', 'replace')
    except socket.timeout:
        return None
    except OSError as e:
        return 'closed: %s' % e.strerror
    finally:
        s.close()


def first(resp):
    if resp is None:
        return 'no answer within 5 s'
    return resp.split('\n')[0:2] if resp else 'closed without an answer'


def malformed(path):
    cases = [
        ('garbage bytes', os.urandom(512)),
        ('binary with a newline', b'\xff\xfe\x00\x01=\x02\n'),
        ('no cmd= line first', b'foo=bar\ncmd=status\n'),
        ('no final newline', b'cmd=status'),
        ('a NUL byte in a value', b'cmd=sta\x00tus\n'),
        ('a NUL byte alone', b'\x00\n'),
        ('a bad escape', b'cmd=status\nx=\\q\n'),
        ('a key with capitals', b'CMD=status\n'),
        ('a 33-byte key', b'cmd=status\n' + b'k' * 33 + b'=v\n'),
        ('a line without =', b'cmd=status\njust text\n'),
        ('an empty message', b''),
        ('an unknown command', b'cmd=format-disk\n'),
        ('20,001 lines', b'cmd=status\n' + b'a=b\n' * 20001),
    ]
    for name, data in cases:
        r = call(path, data)
        say(r is not None and r.startswith('status=error'), '%s: error answer (%s)' % (name, first(r)))
    big = b'cmd=status\n' + b'x=' + b'a' * (MAX_MSG + 100) + b'\n'
    r = call(path, big, sndbuf=4 << 20)
    say(r is not None and (r == '' or r.startswith('status=error') or r.startswith('closed')),
        'a request of %d bytes (> 256 KiB): error or closed (%s)' % (len(big), first(r)))
    r = call(path, b'cmd=status\n')
    say(r is not None and r.startswith('status=ok'), 'a well-formed status request still works')


def idle(path, seconds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    s.settimeout(seconds)
    t0 = time.monotonic()
    closed_after = [None]

    def wait_close():
        try:
            d = s.recv(MAX_MSG)
            closed_after[0] = (time.monotonic() - t0, d)
        except socket.timeout:
            pass
        except OSError:
            closed_after[0] = (time.monotonic() - t0, b'')
    th = threading.Thread(target=wait_close)
    th.start()
    worst, n, bad = 0.0, 0, 0
    while time.monotonic() - t0 < seconds:
        a = time.monotonic()
        r = call(path, b'cmd=status\n', timeout=3)
        worst = max(worst, time.monotonic() - a)
        n += 1
        bad += not (r and r.startswith('status=ok'))
        time.sleep(0.2)
    th.join()
    s.close()
    say(bad == 0 and worst < 1.0, 'with an idle client connected: %d status requests answered, '
        'slowest %.3f s' % (n - bad, worst))
    c = closed_after[0]
    say(c is not None and c[0] < 8, 'segd closed the idle client after %s' %
        ('%.1f s' % c[0] if c else 'never (%d s)' % seconds))


def parallel(path, n):
    results = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        results[i] = call(path, b'cmd=status\n')
    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    hung = sum(r is None for r in results)
    ok = sum(bool(r) and r.startswith('status=ok') for r in results)
    busy = sum(bool(r) and 'too many control clients' in r for r in results)
    say(hung == 0, '%d parallel clients: none hangs (%d answered ok, %d told to retry, %d closed)'
        % (n, ok, busy, n - ok - busy - hung))
    say(ok + busy + (n - ok - busy - hung) == n and ok >= 1, 'every parallel client got an answer or a close')


def main():
    path, case = sys.argv[1], sys.argv[2]
    if case == 'malformed':
        malformed(path)
    elif case == 'idle':
        idle(path, float(sys.argv[3]))
    elif case == 'parallel':
        parallel(path, int(sys.argv[3]))
    else:
        sys.exit('ctlclient.py: unknown case %r' % case)


if __name__ == '__main__':
    main()
