#!/usr/bin/python3
"""flows.py RUNDIR SEGCTL CONFIG STATE - traffic that runs while a test
tampers with segd's table or kills segd (test-tamper.sh, test-failclosed.sh).

From the lab of RUNDIR and CONFIG (segd's file) it picks, with `segctl
explain` as the judge:
  - a forbidden flow: UDP from an ordinary host of one zone to an ordinary
    host of another (a mynumber -> internet/external pair when there is one),
    a datagram every 2 ms; a UDP socket at the destination counts what passes;
  - an allowed TCP connection through a conduit, opened once and echoing 16
    bytes every 20 ms (does it survive? longest wait for an echo?);
  - an allowed UDP echo stream through a conduit (a datagram every 5 ms).
Every 50 ms it writes the counters to STATE (JSON, replaced atomically);
prints "ready" on stdout once the TCP connection echoes. Runs until SIGTERM.
"""
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from reapply import pick_flow  # noqa: E402

FORBIDDEN_PORT = 9419
stop = threading.Event()


def sock_in(ns, fam, kind):
    with netlab.netns(ns):
        return socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6, kind)


def forbidden_flow(lab, model, segctl, config):
    kinds = {z['name']: z['kind'] for z in model.zones}
    pairs = [(a, b) for a in lab.zones() for b in lab.zones() if a is not b]
    pairs.sort(key=lambda p: not (kinds[p[0]['name']] == 'mynumber' and
                                  kinds[p[1]['name']] in ('internet', 'external')))
    for za, zb in pairs:
        for fam in (4, 6):
            src, dst = za['ordinary'].get(fam), zb['ordinary'].get(fam)
            if not src or not dst:
                continue
            ok, _ = netlab.explain(segctl, config, src, dst, 'udp', FORBIDDEN_PORT,
                                   za['hosts'][0]['gw_if'], zb['hosts'][0]['gw_if'])
            if not ok:
                return {'src_ns': za['hosts'][0]['ns'], 'dst_ns': lab.dst_ns(dst), 'src': src,
                        'dst': dst, 'fam': fam, 'port': FORBIDDEN_PORT,
                        'what': '%s -> %s udp/%d' % (src, dst, FORBIDDEN_PORT)}
    return None


def allowed_flow(lab, model, segctl, config, proto):
    for c in model.conduits:
        f = pick_flow(lab, c, proto)
        if f and netlab.explain(segctl, config, f['src'], f['dst'], proto, f['port'],
                                f['iif'], f['oif'])[0]:
            return f
    return None


class Counters:
    def __init__(self):
        self.v = {'forbidden_sent': 0, 'forbidden_passed': 0, 'tcp_echoes': 0, 'tcp_alive': False,
                  'tcp_max_gap_ms': 0.0, 'tcp_last_echo': 0.0, 'tcp_end': '', 'udp_sent': 0, 'udp_echoed': 0}
        self.lock = threading.Lock()

    def add(self, k, n=1):
        with self.lock:
            self.v[k] += n

    def put(self, k, val):
        with self.lock:
            self.v[k] = val

    def dump(self, path):
        with self.lock:
            text = json.dumps(self.v)
        with open(path + '.tmp', 'w') as f:
            f.write(text)
        os.replace(path + '.tmp', path)


def run_forbidden(f, cnt):
    rx = sock_in(f['dst_ns'], f['fam'], socket.SOCK_DGRAM)
    rx.bind((f['dst'], f['port']))
    rx.settimeout(0.1)
    tx = sock_in(f['src_ns'], f['fam'], socket.SOCK_DGRAM)
    tx.bind((f['src'], 0))

    def receive():
        while not stop.is_set():
            try:
                rx.recv(64)
                cnt.add('forbidden_passed')
            except socket.timeout:
                pass
    threading.Thread(target=receive, daemon=True).start()
    while not stop.is_set():
        try:
            tx.sendto(b'forbidden', (f['dst'], f['port']))
            cnt.add('forbidden_sent')
        except OSError:
            pass
        time.sleep(0.002)


def echo_server(f, kind):
    srv = sock_in(f['dst_ns'], f['fam'], kind)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((f['dst'], f['port']))
    if kind == socket.SOCK_DGRAM:
        def udp_echo():
            while True:
                d, peer = srv.recvfrom(64)
                srv.sendto(d, peer)
        threading.Thread(target=udp_echo, daemon=True).start()
        return
    srv.listen(8)

    def serve(c):
        while True:
            d = c.recv(4096)
            if not d:
                return
            c.sendall(d)
    def accept():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=accept, daemon=True).start()


def run_tcp(f, cnt, ready):
    echo_server(f, socket.SOCK_STREAM)
    s = sock_in(f['src_ns'], f['fam'], socket.SOCK_STREAM)
    s.bind((f['src'], 0))
    s.settimeout(30)
    s.connect((f['dst'], f['port']))
    s.settimeout(0.02)
    cnt.put('tcp_alive', True)
    last, buf = time.monotonic(), b''
    while not stop.is_set():
        try:
            s.send(b'e' * 16)
        except socket.timeout:
            pass
        except OSError as e:
            cnt.put('tcp_end', 'send: %s' % e)
            break
        end = time.monotonic() + 0.02
        while time.monotonic() < end:
            try:
                d = s.recv(4096)
            except socket.timeout:
                continue
            except OSError as e:
                cnt.put('tcp_end', 'recv: %s' % e)
                d = b''
            if not d:
                if not cnt.v['tcp_end']:
                    cnt.put('tcp_end', 'closed by the peer')
                cnt.put('tcp_alive', False)
                return
            buf += d
            while len(buf) >= 16:
                buf = buf[16:]
                now = time.monotonic()
                cnt.add('tcp_echoes')
                with cnt.lock:
                    cnt.v['tcp_max_gap_ms'] = max(cnt.v['tcp_max_gap_ms'], (now - last) * 1000)
                    cnt.v['tcp_last_echo'] = now
                last = now
                ready.set()
    cnt.put('tcp_alive', False)


def run_udp(f, cnt):
    echo_server(f, socket.SOCK_DGRAM)
    s = sock_in(f['src_ns'], f['fam'], socket.SOCK_DGRAM)
    s.bind((f['src'], 0))
    s.connect((f['dst'], f['port']))
    s.settimeout(0.005)
    seq = 0
    while not stop.is_set():
        seq += 1
        try:
            s.send(struct.pack('!Q', seq))
            cnt.add('udp_sent')
        except OSError:
            pass
        try:
            while True:
                s.recv(64)
                cnt.add('udp_echoed')
        except (socket.timeout, OSError):
            pass


def main():
    rundir, segctl, config, state = sys.argv[1:5]
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    model = netlab.Model(config)
    cnt = Counters()
    ready = threading.Event()
    fb = forbidden_flow(lab, model, segctl, config)
    tcp = allowed_flow(lab, model, segctl, config, 'tcp')
    udp = allowed_flow(lab, model, segctl, config, 'udp')
    if not fb or not tcp:
        sys.exit('flows.py: no forbidden UDP flow or no allowed TCP conduit in %s' % config)
    print('forbidden %s; allowed tcp %s -> %s:%d (%s); allowed udp %s' % (
        fb['what'], tcp['src'], tcp['dst'], tcp['port'], tcp['conduit'],
        '%s -> %s:%d (%s)' % (udp['src'], udp['dst'], udp['port'], udp['conduit']) if udp else 'none'),
        file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=run_forbidden, args=(fb, cnt), daemon=True),
               threading.Thread(target=run_tcp, args=(tcp, cnt, ready), daemon=True)]
    if udp:
        threads.append(threading.Thread(target=run_udp, args=(udp, cnt), daemon=True))
    for t in threads:
        t.start()
    if ready.wait(60):
        print('ready', flush=True)
    while not stop.is_set():
        cnt.dump(state)
        stop.wait(0.05)
    time.sleep(0.1)
    cnt.dump(state)


if __name__ == '__main__':
    main()
