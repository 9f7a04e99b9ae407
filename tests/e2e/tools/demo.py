#!/usr/bin/python3
"""demo.py - the flows of `make demo`, chosen from the configuration itself.

  demo.py examples RUNDIR CONFIG       a few `segctl explain` argument lines
  demo.py traffic RUNDIR SEGCTL CONFIG  sends allowed and forbidden flows one
                                       by one and prints PASS / BLOCKED live
  demo.py counters RUNDIR              the kernel's drop counters that are not 0

Allowed flows: each conduit's first service between its own endpoints.
Forbidden flows: the same endpoints on a port the conduit does not name, an
ordinary host of each guarded pair (mynumber <-> internet/external), and a
spoofed source.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from enforce import conduit_probes  # noqa: E402

COLOR = sys.stdout.isatty() and not os.environ.get('NO_COLOR')
GREEN, RED, DIM, OFF = (('\033[32;1m', '\033[31;1m', '\033[2m', '\033[0m') if COLOR else ('', '', '', ''))
GUARDED = {('mynumber', 'internet'), ('mynumber', 'external'), ('internet', 'mynumber'),
           ('external', 'mynumber')}


def flow(lab, za, zb, src, dst, proto, port, note):
    return {'src_zone': za['name'], 'dst_zone': zb['name'], 'src_ns': za['hosts'][0]['ns'],
            'src': src, 'dst': dst, 'proto': proto, 'dport': port if proto != 'icmp' else None,
            'iif': za['hosts'][0]['gw_if'], 'oif': zb['hosts'][0]['gw_if'], 'note': note}


def conduit_flows(lab, model):
    """Each conduit's first allowed flow, and the same one port off."""
    out, seen = [], set()
    for c, za, zb, src, dst, proto, port in conduit_probes(lab, model):
        if c['name'] in seen:
            continue
        seen.add(c['name'])
        out.append(flow(lab, za, zb, src, dst, proto, port, c['name']))
        out.append(flow(lab, za, zb, src, dst, proto, port + 1, 'port not in ' + c['name']))
    return out


def other_flows(lab):
    out = []
    for za in lab.zones():
        for zb in lab.zones():
            if (za['kind'], zb['kind']) in GUARDED and 4 in za['ordinary'] and 4 in zb['ordinary']:
                out.append(flow(lab, za, zb, za['ordinary'][4], zb['ordinary'][4], 'tcp', 443,
                                'between %s and %s' % (za['kind'], zb['kind'])))
    return out[:2]


def spoof_flow(lab, model, flows):
    """The first allowed flow, sent from another zone's host with its source."""
    for f in flows:
        for zs in lab.zones():
            if zs['name'] not in (f['src_zone'], f['dst_zone']):
                g = dict(f, src_zone=zs['name'], src_ns=zs['hosts'][0]['ns'],
                         iif=zs['hosts'][0]['gw_if'], note='spoofed source, from ' + zs['name'])
                return g
    return None


def demo_flows(lab, model):
    flows = conduit_flows(lab, model)
    sp = spoof_flow(lab, model, flows)
    flows += other_flows(lab)
    return flows + ([sp] if sp else [])


def svc_text(f):
    return f['proto'] if f['proto'] == 'icmp' else '%s/%d' % (f['proto'], f['dport'])


def cmd_examples(rundir, config):
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    flows = demo_flows(lab, netlab.Model(config))
    picks = flows[:2]
    for kind in ('between', 'spoofed'):
        picks += [f for f in flows if f['note'].startswith(kind)][:1]
    for f in picks:
        print(f['src'], f['dst'], svc_text(f), '--in', f['iif'], '--out', f['oif'])


def cmd_traffic(rundir, segctl, config):
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    model = netlab.Model(config)
    flows = demo_flows(lab, model)
    for f in flows:
        if f['note'].startswith('spoofed'):
            lab.add_addr(f['src_ns'], f['src'])
    eng = netlab.Engine(lab)
    wrong = 0
    for f in flows:
        acc, why = netlab.explain(segctl, config, f['src'], f['dst'], f['proto'], f['dport'],
                                  f['iif'], f['oif'])
        eng.run([f], timeout=0.4)
        got = bool(f['arrived']) and netlab.passed(f)
        verdict = (GREEN + 'PASS   ' + OFF) if got else (RED + 'BLOCKED' + OFF)
        mark = '' if got == acc else '   <-- differs from segctl explain!'
        wrong += got != acc
        print('  %s %-9s -> %-9s %-7s %-16s -> %-16s %s(%s)%s%s' % (
            verdict, f['src_zone'], f['dst_zone'], svc_text(f), f['src'], f['dst'], DIM, f['note'], OFF, mark),
            flush=True)
    eng.close()
    sys.exit(1 if wrong else 0)


def cmd_counters(rundir):
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    names = {'D': 'denied', 'M': 'denied (model guard)', 'S': 'spoofed source', 'G': 'to the gateway',
             'U': 'unzoned interface'}
    c = netlab.drop_counters(lab.gw_ns, lab.plan['table'])
    rows = sorted((k, v) for k, v in c.items() if v)
    if not rows:
        print('  (no drops counted)')
    for (ev, a, b), v in rows:
        print('  %-22s %-10s -> %-10s %6d packets' % (names.get(ev, ev), a, b, v))


def main():
    cmd = sys.argv[1]
    if cmd == 'examples':
        cmd_examples(*sys.argv[2:4])
    elif cmd == 'traffic':
        cmd_traffic(*sys.argv[2:5])
    elif cmd == 'counters':
        cmd_counters(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    main()
