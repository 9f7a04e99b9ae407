#!/usr/bin/python3
"""faults.py - helpers of the fault tests (tests/e2e/test-fault-*.sh, issue 7).

  faults.py hold-nflog GROUP
        binds NFLOG group GROUP on a netfilter netlink socket, as ulogd or
        tcpdump would; prints "held GROUP" (or "busy: ERROR" and exits 1)
        and keeps it until SIGTERM
  faults.py hold-table NAME
        creates table inet NAME with the owner flag (and no persist) on a
        netlink socket it keeps: no other process may change the table until
        this one exits; prints "held NAME" (or "refused: ERROR") and waits
  faults.py flows RUNDIR SEGCTL CONFIG
        one line of JSON: a forbidden UDP flow and an allowed TCP flow of
        the lab (flows.py's choice, `segctl explain` as the judge)
  faults.py forbidden RUNDIR SEGCTL CONFIG COUNT
        sends COUNT datagrams of the forbidden UDP flow (1 ms apart) with a
        socket listening where they would arrive; prints "sent N passed M"
  faults.py stream RUNDIR SEGCTL CONFIG STATE
        a TCP stream through an allowed conduit (bulk, as fast as it goes)
        and a forbidden UDP sender (a datagram every 1 ms) whose packets are
        counted where they would arrive. STATE (JSON) is rewritten every 50
        ms; "ready" on stdout once bytes flow. On SIGTERM the sender stops,
        shuts its side down, the receiver reads to the end, and STATE gets
        the final bytes_sent / bytes_received.
  faults.py abuse SOCKET SEGCTL N
        N garbage requests on segd's control socket from 8 threads (random
        bytes, frames over 256 KiB, clients that connect and never send,
        connects closed at once, requests cut short), while a well-behaved
        client runs `segctl --socket SOCKET status` every 20 ms; TAP lines
        with the latency of the good client (p50/p99/max)
"""
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_CONFIG = 1
NFULA_CFG_CMD = 1
NFULNL_CFG_CMD_BIND = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
MAX_MSG = 256 * 1024
SO_SNDBUFFORCE = 32


def say(ok, msg):
    print('%s - %s' % ('ok' if ok else 'not ok', msg), flush=True)


def cmd_hold_nflog(group):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    attr = struct.pack('=HHB3x', 5, NFULA_CFG_CMD, NFULNL_CFG_CMD_BIND)
    body = struct.pack('=BBH', socket.AF_UNSPEC, 0, socket.htons(group)) + attr
    hdr = struct.pack('=IHHII', 16 + len(body), (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
                      NLM_F_REQUEST | NLM_F_ACK, 1, 0)
    s.send(hdr + body)
    ack = s.recv(4096)
    err = struct.unpack('=i', ack[16:20])[0] if len(ack) >= 20 else -1
    if err != 0:
        print('busy: %s' % os.strerror(-err), flush=True)
        return 1
    print('held %d' % group, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:                        # read (and throw away) what is logged
        s.recv(65536)


def cmd_hold_table(name):
    nft, inet = 10, 1                              # NFNL_SUBSYS_NFTABLES, NFPROTO_INET
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))

    def msg(typ, flags, seq, family, res, body=b''):
        b = struct.pack('=BBH', family, 0, socket.htons(res)) + body
        return struct.pack('=IHHII', 16 + len(b), typ, flags, seq, 0) + b

    def attr(t, v):
        a = struct.pack('=HH', 4 + len(v), t) + v
        return a + b'\0' * (-len(a) % 4)
    body = attr(1, name.encode() + b'\0') + attr(2, struct.pack('!I', 2))   # NAME, FLAGS = owner
    batch = (msg(0x10, NLM_F_REQUEST, 1, 0, nft) +
             msg((nft << 8) | 0, NLM_F_REQUEST | NLM_F_ACK | 0x400, 2, inet, 0, body) +  # NEWTABLE, CREATE
             msg(0x11, NLM_F_REQUEST, 3, 0, nft))
    s.send(batch)
    ack = s.recv(4096)
    err = struct.unpack('=i', ack[16:20])[0] if len(ack) >= 20 else -1
    if err != 0:
        print('refused: %s' % os.strerror(-err), flush=True)
        return 1
    print('held %s' % name, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        s.recv(65536)


def pick_flows(rundir, segctl, config):
    from flows import forbidden_flow, allowed_flow
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    model = netlab.Model(config)
    return {'forbidden': forbidden_flow(lab, model, segctl, config),
            'tcp': allowed_flow(lab, model, segctl, config, 'tcp')}


def sock_in(ns, fam, kind):
    with netlab.netns(ns):
        return socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6, kind)


class State:
    def __init__(self, path):
        self.path, self.lock = path, threading.Lock()
        self.v = {'bytes_sent': 0, 'bytes_received': 0, 'stream_error': '', 'stream_done': False,
                  'forbidden_sent': 0, 'forbidden_passed': 0, 'longest_stall_ms': 0.0}

    def add(self, k, n):
        with self.lock:
            self.v[k] += n

    def dump(self):
        with self.lock:
            text = json.dumps(self.v)
        with open(self.path + '.tmp', 'w') as f:
            f.write(text)
        os.replace(self.path + '.tmp', self.path)


def stream_receiver(srv, st, done):
    c, _ = srv.accept()
    c.settimeout(0.05)
    last = time.monotonic()
    while True:
        try:
            d = c.recv(1 << 16)
        except socket.timeout:
            continue
        except OSError as e:
            st.v['stream_error'] = 'recv: %s' % e
            break
        if not d:
            break
        now = time.monotonic()
        with st.lock:
            st.v['bytes_received'] += len(d)
            st.v['longest_stall_ms'] = max(st.v['longest_stall_ms'], (now - last) * 1000)
        last = now
    done.set()


def forbidden_sender(f, st, stop):
    rx = sock_in(f['dst_ns'], f['fam'], socket.SOCK_DGRAM)
    rx.bind((f['dst'], f['port']))
    rx.settimeout(0.1)
    tx = sock_in(f['src_ns'], f['fam'], socket.SOCK_DGRAM)
    tx.bind((f['src'], 0))

    def receive():
        while True:
            try:
                rx.recv(64)
                st.add('forbidden_passed', 1)
            except socket.timeout:
                pass
    threading.Thread(target=receive, daemon=True).start()
    while not stop.is_set():
        try:
            tx.sendto(b'forbidden', (f['dst'], f['port']))
            st.add('forbidden_sent', 1)
        except OSError:
            pass
        time.sleep(0.001)


def cmd_stream(rundir, segctl, config, path):
    fl = pick_flows(rundir, segctl, config)
    fb, tcp = fl['forbidden'], fl['tcp']
    if not fb or not tcp:
        sys.exit('faults.py stream: no forbidden UDP flow or no allowed TCP conduit in %s' % config)
    print('forbidden %s; allowed tcp %s -> %s:%d (%s)' % (fb['what'], tcp['src'], tcp['dst'], tcp['port'],
                                                         tcp['conduit']), file=sys.stderr, flush=True)
    st, stop, done = State(path), threading.Event(), threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    srv = sock_in(tcp['dst_ns'], tcp['fam'], socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((tcp['dst'], tcp['port']))
    srv.listen(1)
    threading.Thread(target=stream_receiver, args=(srv, st, done), daemon=True).start()
    threading.Thread(target=forbidden_sender, args=(fb, st, stop), daemon=True).start()
    s = sock_in(tcp['src_ns'], tcp['fam'], socket.SOCK_STREAM)
    s.bind((tcp['src'], 0))
    s.settimeout(2)
    s.connect((tcp['dst'], tcp['port']))
    s.settimeout(0.05)
    chunk, said, last_dump = os.urandom(16384), False, 0.0
    while not stop.is_set():
        try:
            n = s.send(chunk)
            st.add('bytes_sent', n)
        except socket.timeout:
            pass
        except OSError as e:
            st.v['stream_error'] = 'send: %s' % e
            break
        now = time.monotonic()
        if now - last_dump > 0.05:
            st.dump()
            last_dump = now
            if not said and st.v['bytes_received'] > 0:
                print('ready', flush=True)
                said = True
    s.settimeout(10)
    s.shutdown(socket.SHUT_WR)          # the receiver reads up to the end
    done.wait(15)
    st.v['stream_done'] = done.is_set()
    time.sleep(0.2)                     # a forbidden datagram still in flight
    st.dump()


def cmd_forbidden(rundir, segctl, config, count):
    f = pick_flows(rundir, segctl, config)['forbidden']
    if not f:
        sys.exit('faults.py forbidden: no forbidden UDP flow in %s' % config)
    rx = sock_in(f['dst_ns'], f['fam'], socket.SOCK_DGRAM)
    rx.bind((f['dst'], f['port']))
    rx.setblocking(False)
    tx = sock_in(f['src_ns'], f['fam'], socket.SOCK_DGRAM)
    tx.bind((f['src'], 0))
    sent = passed = 0
    for _ in range(count):
        tx.sendto(b'forbidden', (f['dst'], f['port']))
        sent += 1
        time.sleep(0.001)
    time.sleep(0.2)
    while True:
        try:
            rx.recv(64)
            passed += 1
        except BlockingIOError:
            break
    print('sent %d passed %d (%s)' % (sent, passed, f['what']))


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else float('nan')


def connect(s, path, limit=2.0):
    """A full listen backlog answers EAGAIN at once (AF_UNIX never says
    EINPROGRESS): retry, so that every garbage request reaches segd."""
    end = time.monotonic() + limit
    while True:
        try:
            return s.connect(path)
        except BlockingIOError:
            if time.monotonic() > end:
                raise
            time.sleep(0.001)


def abuser(path, quota, counts, lock, held):
    rng = random.Random()
    while True:
        with lock:
            if counts['sent'] >= quota:
                return
            counts['sent'] += 1
        kind = rng.choice(('random', 'random', 'oversized', 'idle', 'idle', 'connect-close', 'cut'))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.settimeout(1.0)
        try:
            if kind == 'oversized':
                s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 2 << 20)
            connect(s, path)
            if kind == 'random':
                s.send(os.urandom(rng.randint(1, 4096)))
                s.recv(MAX_MSG + 1)
            elif kind == 'oversized':
                s.send(b'cmd=status\nx=' + b'a' * (MAX_MSG + rng.randint(1, 65536)) + b'\n')
                s.recv(MAX_MSG + 1)
            elif kind == 'cut':        # a request cut short: no final newline, then the peer leaves
                s.send(b'cmd=sta')
            elif kind == 'idle':       # connected, never sends; held until the pool is full
                with lock:
                    held.append(s)
                    old = held.pop(0) if len(held) > 256 else None
                s = old
        except OSError as e:
            with lock:
                counts['errors'][type(e).__name__] = counts['errors'].get(type(e).__name__, 0) + 1
        finally:
            if s is not None:
                s.close()
        with lock:
            counts[kind] = counts.get(kind, 0) + 1


def direct_status(path):
    """segd's answer to the status request segctl sends, on one connection."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)        # blocking, as segctl's: waits while the backlog is full
        s.settimeout(10)
        s.send(b'cmd=status\n')
        return s.recv(1 << 20).decode('utf-8', 'replace')
    except OSError as e:
        return 'error: %s' % e
    finally:
        s.close()


def cmd_abuse(path, segctl, n):
    counts, lock, held = {'sent': 0, 'errors': {}}, threading.Lock(), []
    ths = [threading.Thread(target=abuser, args=(path, n, counts, lock, held)) for _ in range(8)]
    t0 = time.monotonic()
    for t in ths:
        t.start()
    # Two clients in turn: segctl itself (served, exit 0) and a request on
    # the socket from this process, timed: the 100 ms are segd's to answer,
    # not the time to start a client (an ASan segctl alone takes ~90 ms to
    # start, and more while 8 threads compete for 2 CPUs).
    lat, bad, answers, exe = [], [], {}, []
    while any(t.is_alive() for t in ths) or not lat:
        a = time.monotonic()
        r = subprocess.run([segctl, '--socket', path, 'status'], capture_output=True, text=True, timeout=10)
        exe.append((time.monotonic() - a) * 1000)
        if r.returncode not in (0,):
            bad.append((r.returncode, (r.stderr or r.stdout).strip().splitlines()[:1]))
        a = time.monotonic()
        resp = direct_status(path)
        lat.append((time.monotonic() - a) * 1000)
        if not resp.startswith('status=ok'):
            bad.append(('direct', resp.splitlines()[:1]))
        time.sleep(0.02)
    for t in ths:
        t.join()
    secs = time.monotonic() - t0
    for s in held:
        s.close()
    print('%d garbage requests in %.1f s: %s; client-side errors %s' % (
        counts['sent'], secs, ', '.join('%s %d' % (k, counts.get(k, 0)) for k in
                                        ('random', 'oversized', 'idle', 'connect-close', 'cut')),
        counts['errors'] or 'none'), flush=True)
    # a baseline of the same client without abuse, to tell exec cost from waiting
    base = []
    for _ in range(20):
        a = time.monotonic()
        direct_status(path)
        base.append((time.monotonic() - a) * 1000)
    print('status answered by segd during the abuse: %d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms '
          '(without abuse: p50 %.1f ms, max %.1f ms); segctl status, exec included: p50 %.1f ms, max %.1f ms'
          % (len(lat), percentile(lat, 0.5), percentile(lat, 0.99), max(lat), percentile(base, 0.5), max(base),
             percentile(exe, 0.5), max(exe)), flush=True)
    for b in bad[:5]:
        print('   | exit %s: %s' % (b[0], b[1]), flush=True)
    say(counts['sent'] >= n, '%d garbage requests sent' % counts['sent'])
    say(not bad, 'every good status request was served (%d of %d failed, segctl and direct)' % (len(bad), 2 * len(lat)))
    slow = sum(x > 100 for x in lat)
    say(slow == 0, 'every good status answered by segd within 100 ms (%d slower, max %.1f ms)' % (slow, max(lat)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'hold-nflog':
        return cmd_hold_nflog(int(args[0]))
    if cmd == 'hold-table':
        return cmd_hold_table(args[0])
    if cmd == 'flows':
        print(json.dumps(pick_flows(*args[:3])))
        return 0
    if cmd == 'forbidden':
        return cmd_forbidden(args[0], args[1], args[2], int(args[3]))
    if cmd == 'stream':
        return cmd_stream(*args[:4])
    if cmd == 'abuse':
        return cmd_abuse(args[0], args[1], int(args[2]))
    sys.exit('faults.py: unknown command %r' % cmd)


if __name__ == '__main__':
    sys.exit(main())
