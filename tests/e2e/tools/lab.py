#!/usr/bin/python3
"""lab.py - command line of the end-to-end lab (used by tests/e2e/lib.sh).

  lab.py up CONFIG PREFIX RUNDIR [--extra N] [--seed S]
        plan the lab from CONFIG, build the namespaces, write RUNDIR/lab.json
  lab.py show RUNDIR            the lab in a few readable lines
  lab.py get RUNDIR KEY         gw_ns | table | namespaces | zones
  lab.py localize CONFIG OUT RUNDIR
        a copy of CONFIG whose spool and control socket live in RUNDIR
        (line numbers kept), so that a lab never touches a real segd's files
  lab.py drop-conduit CONFIG OUT NAME
        a copy of CONFIG without conduit NAME
  lab.py grow CONFIG OUT ENTRIES [--seed S]
        a copy of CONFIG with egress conduits added after its last one, from
        its first internet zone to its first external zone with an IPv6
        network, to about ENTRIES entries (3 sources x 3 destinations x 4
        services each, random hosts of the zones' IPv6 networks, ports
        1024-60000 but no tunnel port): a large table around the lab's own
        conduits, named grow-0, grow-1, ...
"""
import argparse
import datetime
import ipaddress
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import libconf  # noqa: E402
import netlab   # noqa: E402


def cmd_up(a):
    model = netlab.Model(a.config)
    plan = netlab.make_plan(model, a.prefix, extra=a.extra, seed=a.seed)
    netlab.save_plan(plan, os.path.join(a.rundir, 'lab.json'))
    netlab.lab_build(plan)


def cmd_show(a):
    plan = netlab.load_plan(os.path.join(a.rundir, 'lab.json'))
    print('gateway namespace %s (table inet %s)' % (plan['gw_ns'], plan['table']))
    for z in plan['zones']:
        for h in z['hosts']:
            addrs = h['addrs']
            more = ' (+%d more)' % (len(addrs) - 6) if len(addrs) > 6 else ''
            print('  %-10s %-8s %-7s <-> %-18s %s%s' % (z['name'], z['kind'], h['gw_if'], h['ns'],
                                                      ' '.join(addrs[:6]), more))


def cmd_get(a):
    plan = netlab.load_plan(os.path.join(a.rundir, 'lab.json'))
    if a.key == 'namespaces':
        print(plan['gw_ns'])
        for z in plan['zones']:
            for h in z['hosts']:
                print(h['ns'])
    elif a.key == 'zones':
        for z in plan['zones']:
            print(z['name'], z['hosts'][0]['ns'], z['hosts'][0]['gw_if'])
    else:
        print(plan[a.key])


def cmd_localize(a):
    text = open(a.config, encoding='utf-8').read()
    cfg = libconf.loads(text)
    st = cfg.get('settings')
    # state_dir always: segd keeps revisions and isolation there, never the host's /var/lib/segd
    paths = {'spool': os.path.join(a.rundir, 'incidents.jsonl'),
             'control_socket': os.path.join(a.rundir, 'control.sock'),
             'state_dir': os.path.join(a.rundir, 'state')}
    if st is None:
        body = ' '.join('%s = "%s";' % kv for kv in paths.items())
        text = 'settings = { %s };\n' % body + text    # costs one line: only for configs without settings
    else:
        s, e = st['__span__']
        inner = text[s + 1:e - 1]
        for k in paths:
            inner = re.sub(r'\b%s\s*[=:]\s*"(?:[^"\\]|\\.)*"\s*[;,]?' % k, '', inner)
        body = ' '.join('%s = "%s";' % kv for kv in paths.items())
        text = text[:s + 1] + ' ' + body + inner + text[e - 1:]
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(text)


def cmd_drop_conduit(a):
    text = open(a.config, encoding='utf-8').read()
    cfg = libconf.loads(text)
    c = next((c for c in cfg.get('conduits', []) if c.get('name') == a.name), None)
    if c is None:
        sys.exit('lab.py: no conduit %r in %s' % (a.name, a.config))
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(libconf.drop_group(text, c))


TUNNEL_PORTS = {22, 500, 1194, 1701, 1723, 4500, 4789, 6081, 51820}   # lib/width.c warns


def v6_net(zone):
    for n in zone.get('networks', []):
        net = ipaddress.ip_network(n, strict=False)
        if net.version == 6 and net.num_addresses >= 1 << 40:
            return net
    return None


def cmd_grow(a):
    text = open(a.config, encoding='utf-8').read()
    cfg = libconf.loads(text)
    zones = cfg.get('zones', [])
    frm = next((z for z in zones if z.get('kind') == 'internet' and v6_net(z)), None)
    to = next((z for z in zones if z.get('kind') == 'external' and v6_net(z)), None)
    conduits = cfg.get('conduits', [])
    if not frm or not to or not conduits:
        raise RuntimeError('needs an internet and an external zone with IPv6 networks of /88 or wider, '
                           'and a conduit to add after')
    rng = random.Random(a.seed)
    expires = (datetime.date.today() + datetime.timedelta(days=365)).isoformat()

    def hosts(net, n):   # distinct, far above the lab's own low host numbers
        return ['"%s"' % (net.network_address + rng.randrange(1 << 32, 1 << 40)) for _ in range(n)]

    def services(n):
        out = set()
        while len(out) < n:
            p = rng.randrange(1024, 60000)
            if p not in TUNNEL_PORTS:
                out.add('"%s/%d"' % (rng.choice(('tcp', 'udp')), p))
        return sorted(out)

    groups = []
    for i in range((a.entries + 35) // 36):
        groups.append('  { name = "grow-%d"; kind = "egress"; from = "%s"; to = "%s"; sources = [ %s ]; '
                      'destinations = [ %s ]; services = [ %s ]; approval = "GROW-%d"; expires = "%s"; }'
                      % (i, frm['name'], to['name'], ', '.join(hosts(v6_net(frm), 3)),
                         ', '.join(hosts(v6_net(to), 3)), ', '.join(services(4)), i, expires))
    end = conduits[-1]['__span__'][1]
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(text[:end] + ',\n' + ',\n'.join(groups) + text[end:])


def main():
    p = argparse.ArgumentParser(prog='lab.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('up')
    s.add_argument('config')
    s.add_argument('prefix')
    s.add_argument('rundir')
    s.add_argument('--extra', type=int, default=0)
    s.add_argument('--seed', type=int, default=0)
    s.set_defaults(fn=cmd_up)
    s = sub.add_parser('show')
    s.add_argument('rundir')
    s.set_defaults(fn=cmd_show)
    s = sub.add_parser('get')
    s.add_argument('rundir')
    s.add_argument('key')
    s.set_defaults(fn=cmd_get)
    s = sub.add_parser('localize')
    s.add_argument('config')
    s.add_argument('out')
    s.add_argument('rundir')
    s.set_defaults(fn=cmd_localize)
    s = sub.add_parser('drop-conduit')
    s.add_argument('config')
    s.add_argument('out')
    s.add_argument('name')
    s.set_defaults(fn=cmd_drop_conduit)
    s = sub.add_parser('grow')
    s.add_argument('config')
    s.add_argument('out')
    s.add_argument('entries', type=int)
    s.add_argument('--seed', type=int, default=1)
    s.set_defaults(fn=cmd_grow)
    a = p.parse_args()
    try:
        a.fn(a)
    except (RuntimeError, libconf.ConfigError, OSError) as e:
        sys.exit('lab.py %s: %s' % (a.cmd, e))


if __name__ == '__main__':
    main()
