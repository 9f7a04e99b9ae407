#!/usr/bin/python3
"""segdrun.py - one timed life of segd (tools/bench.sh).

  segdrun.py NETNS SEGD CONFIG [--reapply K] [--settle S] [--cpu C]
             [--change FILE] [--tamper TABLE]

Starts `ip netns exec NETNS SEGD -c CONFIG` (pinned to CPU C) with
NOTIFY_SOCKET pointing at a datagram socket of ours, and prints one JSON
object:
  installed_s   exec -> segd's "installed table" line on stderr
  ready_s       exec -> READY=1 (the table is in the kernel before it)
  apply_ms      the netlink transaction, as segd logs it
  hwm_kb        VmHWM (peak RSS) after the first install
  steady_kb     VmRSS once segd's log has been quiet for S seconds after READY
  restores      tamper restores segd logged (its own install can trigger one)
  reapply_s     per SIGHUP: signal -> READY=1 after RELOADING=1
  reapply_ms    per SIGHUP: the transaction time segd logs
  hwm_final_kb  VmHWM after the re-applies
  *_commit_ms   the kernel's part of that apply (sendmsg and answers)
  change_s, change_ms   with --change: FILE (CONFIG with one conduit changed)
                copied over CONFIG, SIGHUP -> READY=1, and the transaction
  tamper_s, tamper_ms   with --tamper: one element of a conduit set of
                TABLE deleted with nft; `nft` started -> segd's restore
                logged (an upper bound: it includes starting ip and nft),
                and the restore's transaction
  tamper_seen_ms  segd's own figure: the change's last event read ->
                the restore committed ("restored table ... N ms after the
                change was seen")
then stops segd with SIGTERM (its table stays: the caller removes it).
"""
import argparse
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

# the whole apply (read the table, compare, send) and the commit alone
SEEN = re.compile(r'restored table .*, ([0-9.]+) ms after the change was seen')
APPLY = re.compile(r'installed table .* ([0-9.]+) ms(?: \(commit ([0-9.]+) ms\))?, generation')


def vm(pid, key):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return -1


class Segd:
    def __init__(self, a):
        self.dir = tempfile.mkdtemp(prefix='segd-bench-notify.')
        self.sock_path = os.path.join(self.dir, 'notify')
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path)
        if a.tamper:            # an owned table cannot be tampered with at all
            env['SEGD_TABLE_OWNER'] = 'no'
        cmd = ['ip', 'netns', 'exec', a.netns, a.segd, '-c', a.config]
        if a.cpu is not None:
            cmd = ['taskset', '-c', str(a.cpu)] + cmd
        self.t0 = time.monotonic()
        self.p = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ, 'notify')
        self.sel.register(self.p.stderr, selectors.EVENT_READ, 'log')
        self.buf = b''
        self.log = []

    def wait_for(self, want, timeout=60):
        """Waits for a notify message (READY=1) or a log pattern; returns (time, match)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for key, _ in self.sel.select(timeout=0.5):
                t = time.monotonic()
                if key.data == 'notify':
                    msg = self.sock.recv(4096).decode(errors='replace')
                    if want == 'READY' and 'READY=1' in msg.split('\n'):
                        return t, msg
                else:
                    chunk = os.read(self.p.stderr.fileno(), 65536)
                    if not chunk:
                        self.sel.unregister(self.p.stderr)
                        continue
                    self.buf += chunk
                    *lines, self.buf = self.buf.split(b'\n')
                    found = None
                    for line in lines:      # every line is kept, also after the match
                        s = line.decode(errors='replace')
                        self.log.append(s)
                        m = APPLY.search(s)
                        if want == 'APPLY' and m and found is None:
                            self.commit_ms = float(m.group(2) or 0)
                            found = (t, float(m.group(1)))
                    if found:
                        return found
            if self.p.poll() is not None and want == 'READY':
                break
        sys.exit('segdrun: segd did not reach %s; its log:\n  %s' % (want, '\n  '.join(self.log[-10:])))

    def drain(self, quiet, limit=20):
        """Reads segd's log until it has been silent for `quiet` seconds
        (a tamper restore may follow an install: see docs/benchmarks.md)."""
        end = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() < end and time.monotonic() - last < quiet:
            for key, _ in self.sel.select(timeout=0.1):
                if key.data == 'notify':
                    self.sock.recv(4096)
                    continue
                chunk = os.read(self.p.stderr.fileno(), 65536)
                if not chunk:
                    self.sel.unregister(self.p.stderr)
                    continue
                last = time.monotonic()
                self.buf += chunk
                *lines, self.buf = self.buf.split(b'\n')
                self.log.extend(l.decode(errors='replace') for l in lines)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
        os.unlink(self.sock_path)
        os.rmdir(self.dir)


def one_element(netns, table):
    """(set, element) of the first conduit set with an exact element."""
    out = subprocess.run(['ip', 'netns', 'exec', netns, 'nft', 'list', 'table', 'inet', table],
                         check=True, capture_output=True, text=True).stdout
    cur, inside = None, False
    for line in out.splitlines():
        m = re.match(r'\s*set (c[46]p\S*) \{', line)
        if m:
            cur, inside = m.group(1), False
        elif cur and 'elements = {' in line:
            inside = True
            line = line.split('{', 1)[1]
        if cur and inside and line.strip():
            e = line.strip().rstrip(',').rstrip('}').strip().split(', ')[0]
            if e and '-' not in e and '/' not in e and 'counter' not in e:
                return cur, e.split(' counter')[0]
            if e and ' counter ' in e:
                return cur, e.split(' counter ')[0]
    sys.exit('segdrun: no conduit set element in table inet %s' % table)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('netns')
    p.add_argument('segd')
    p.add_argument('config')
    p.add_argument('--reapply', type=int, default=0)
    p.add_argument('--settle', type=float, default=1.0)
    p.add_argument('--cpu', type=int)
    p.add_argument('--change')
    p.add_argument('--tamper')
    a = p.parse_args()
    s = Segd(a)
    try:
        r = {}
        t_inst, r['apply_ms'] = s.wait_for('APPLY')
        t_ready, _ = s.wait_for('READY')
        r['installed_s'] = t_inst - s.t0
        r['ready_s'] = t_ready - s.t0
        r['hwm_kb'] = vm(s.p.pid, 'VmHWM')
        s.drain(a.settle)
        r['steady_kb'] = vm(s.p.pid, 'VmRSS')
        r['reapply_s'], r['reapply_ms'] = [], []
        for _ in range(a.reapply):
            t = time.monotonic()
            s.p.send_signal(signal.SIGHUP)
            _, ms = s.wait_for('APPLY')
            t_r, _ = s.wait_for('READY')
            r['reapply_s'].append(t_r - t)
            r['reapply_ms'].append(ms)
            s.drain(a.settle)
        if a.change:
            with open(a.change, 'rb') as src, open(a.config + '.tmp', 'wb') as dst:
                dst.write(src.read())
            os.rename(a.config + '.tmp', a.config)
            t = time.monotonic()
            s.p.send_signal(signal.SIGHUP)
            _, r['change_ms'] = s.wait_for('APPLY')
            r['change_commit_ms'] = s.commit_ms
            t_r, _ = s.wait_for('READY')
            r['change_s'] = t_r - t
            s.drain(a.settle)
        if a.tamper:
            elem = one_element(a.netns, a.tamper)
            t = time.monotonic()
            subprocess.run(['ip', 'netns', 'exec', a.netns, 'nft', 'delete', 'element', 'inet', a.tamper,
                            elem[0], '{ %s }' % elem[1]], check=True)
            t_a, r['tamper_ms'] = s.wait_for('APPLY')
            r['tamper_commit_ms'] = s.commit_ms
            r['tamper_s'] = t_a - t
            s.drain(a.settle)
            seen = [SEEN.search(line) for line in s.log if 'restored table' in line]
            r['tamper_seen_ms'] = float(seen[-1].group(1)) if seen and seen[-1] else None
        r['hwm_final_kb'] = vm(s.p.pid, 'VmHWM')
        r['pid'] = s.p.pid
        r['restores'] = sum('restored table' in line for line in s.log)
        r['tamper_lines'] = [line for line in s.log if 'tamper' in line][:3]
    finally:
        s.stop()
    print(json.dumps(r))


if __name__ == '__main__':
    main()
