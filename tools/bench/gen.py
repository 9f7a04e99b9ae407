#!/usr/bin/python3
"""gen.py - seeded generator of benchmark configurations (tools/bench.sh).

  gen.py --entries N --seed S --dir DIR --name NAME [--ranges | --shape SHAPE]
         [--group G] [--table T] [--window W]

writes
  DIR/NAME.conf        a valid segd configuration with about N conduit entries
                       (source x destination x service combinations), IPv4 and
                       IPv6 mixed, over 9 zones of every kind (a catch-all
                       external one included); spool and control socket in DIR
  DIR/NAME.linear.nft  the same policy as an administrator would write it by
                       hand: one `nft` rule per entry in one forward chain
                       (`ct state established,related accept` first)
  DIR/NAME.env         shell variables: PROBE_* (the allowed flow the
                       forwarding benchmark sends through), ENTRIES, CONDUITS

The probe conduit (lg1 -> lg2, udp/9000 and tcp/5201 between the two lab
hosts 10.11.255.1 and 10.12.255.1) sits in the middle of the conduit list, so
that the linear ruleset reaches it after half of its rules. Random hosts never
use x.x.255.x, so no other entry touches the lab hosts and every other port
between them is forbidden. With --ranges, half of the conduits use port
ranges or source prefixes (interval sets in segd's ruleset), the probe one
included (a /28 source and port ranges).

--shape puts every entry into the probe's own pair (lg1 -> lg2), so that the
forwarding benchmark's flow is looked up in the large sets of that shape:
  zone       sources left to the whole zone, 1-3 exact destinations, 2 services
             (a cloud allowlist: the probe too has no sources)
  prefix     one exact source, 1-3 destination prefixes (/24-/28, IPv6
             /112-/120), 1-4 exact services (probe: destination 10.12.255.0/28)
  portrange  exact hosts, 1-4 port ranges of 2-64 ports (probe: udp/9000-9010,
             tcp/5200-5210)
IPv4 and IPv6 mixed (a third IPv6) in every shape.
"""
import argparse
import ipaddress
import os
import random
import datetime

# a year ahead: within settings.max_validity, and the configuration never rots
EXPIRES = (datetime.date.today() + datetime.timedelta(days=365)).isoformat()

ZONES = [  # name, kind, interface, IPv4 /16 second octet (0: catch-all)
    ('my1', 'mynumber', 'b-my1', 1), ('my2', 'mynumber', 'b-my2', 2),
    ('lg1', 'lgwan', 'b-lg1', 11), ('lg2', 'lgwan', 'b-lg2', 12), ('lg3', 'lgwan', 'b-lg3', 13),
    ('in1', 'internet', 'b-in1', 21), ('in2', 'internet', 'b-in2', 22),
    ('part', 'external', 'b-part', 31), ('cloud', 'external', 'b-cloud', 0),
]
ZONE = {z[0]: z for z in ZONES}

# (from, to, kind, weight): every pair obeys the model's rules 1-3
PAIRS = [
    ('lg1', 'lg2', 'specific', 30), ('lg2', 'lg1', 'specific', 10), ('lg3', 'lg1', 'specific', 5),
    ('my1', 'lg1', 'specific', 8), ('my2', 'lg2', 'specific', 7), ('my1', 'my2', 'specific', 3),
    ('in1', 'lg1', 'sanitize', 10), ('lg2', 'in2', 'screen', 7), ('lg1', 'part', 'screen', 5),
    ('in1', 'cloud', 'egress', 10), ('in2', 'part', 'egress', 5),
]
PROBE_PORTS = {5201, 9000}
# ports segd warns about as tunnels (lib/width.c): a bench configuration is clean
AVOID_PORTS = PROBE_PORTS | {22, 500, 1194, 1701, 1723, 4500, 4789, 6081, 51820}
LAB_IF = {'lg1': 'b-lg1', 'lg2': 'b-lg2'}


# Hosts that a mynumber conduit reaches in an lgwan zone (third octet 0-31)
# are never parties of the lgwan <-> internet/external conduits (32-254):
# segd refuses a path from My Number to the Internet side through one host.
def host(rng, zone, v6, mn_party=False):
    octet = ZONE[zone][3]
    a, b = (rng.randrange(0, 32) if mn_party else rng.randrange(32, 255)), rng.randrange(1, 255)
    if octet == 0:   # the catch-all cloud: documentation-like public space
        return '2001:db8:%x::%x' % (a, b) if v6 else '198.18.%d.%d' % (a, b)
    return 'fd00:%x::%x:%x' % (octet, a, b) if v6 else '10.%d.%d.%d' % (octet, a, b)


def prefix(rng, zone, v6):
    octet = ZONE[zone][3]
    a = rng.randrange(32, 255)
    return 'fd00:%x:0:%x::/64' % (octet, a) if v6 else '10.%d.%d.0/24' % (octet, a)


def port(rng):
    while True:
        p = rng.randrange(1024, 60000)
        if p not in AVOID_PORTS:
            return p


def service(rng, ranged):
    proto = rng.choice(('tcp', 'udp'))
    p = port(rng)
    if ranged:
        hi = min(p + rng.randrange(1, 64), 60999)
        if not any(p <= q <= hi for q in AVOID_PORTS):
            return '%s/%d-%d' % (proto, p, hi)
    return '%s/%d' % (proto, p)


def distinct(draw, n, overlaps):
    """n values of draw() of which none overlaps another (segd refuses duplicates)."""
    out = []
    while len(out) < n:
        v = draw()
        if not any(overlaps(v, w) for w in out):
            out.append(v)
    return out


def overlaps_addr(a, b):
    return ipaddress.ip_network(a, strict=False).overlaps(ipaddress.ip_network(b, strict=False))


def span(svc):
    proto, ports = svc.split('/')
    lo, _, hi = ports.partition('-')
    return proto, int(lo), int(hi or lo)


def overlaps_svc(a, b):
    pa, la, ha = span(a)
    pb, lb, hb = span(b)
    return pa == pb and la <= hb and lb <= ha


def conduit(rng, idx, ranges):
    frm, to, kind, _ = rng.choices(PAIRS, weights=[p[3] for p in PAIRS])[0]
    v6 = rng.random() < 1 / 3
    single = 'my' in frm[:2] or 'my' in to[:2]
    ranged = ranges and not single and rng.random() < 0.5
    ns = 1 if single else rng.randint(1, 3)
    nd = 1 if single else rng.randint(1, 3)
    nsv = rng.randint(1, 4)
    srcs = distinct(lambda: prefix(rng, frm, v6) if ranged and rng.random() < 0.5 else host(rng, frm, v6, single),
                    ns, overlaps_addr)
    dsts = distinct(lambda: host(rng, to, v6, single), nd, overlaps_addr)
    svcs = distinct(lambda: service(rng, ranged), nsv, overlaps_svc)
    return dict(name='c%d' % idx, kind=kind, frm=frm, to=to, srcs=srcs, dsts=dsts, svcs=svcs, v6=v6)


def shaped_conduit(rng, idx, shape):
    v6 = rng.random() < 1 / 3
    nd = rng.randint(1, 3)
    if shape == 'zone':
        srcs = []
        dsts = distinct(lambda: host(rng, 'lg2', v6), nd, overlaps_addr)
        svcs = distinct(lambda: service(rng, False), 2, overlaps_svc)
    elif shape == 'prefix':
        srcs = [host(rng, 'lg1', v6)]

        def pfx():
            octet, a = ZONE['lg2'][3], rng.randrange(32, 255)
            if v6:
                n = rng.choice((112, 116, 120))
                return str(ipaddress.ip_network('fd00:%x::%x:%x00/%d' % (octet, a, rng.randrange(0, 256), n),
                                                strict=False))
            n = rng.choice((24, 26, 28))
            return str(ipaddress.ip_network('10.%d.%d.%d/%d' % (octet, a, rng.randrange(0, 256), n), strict=False))
        dsts = distinct(pfx, nd, overlaps_addr)
        svcs = distinct(lambda: service(rng, False), rng.randint(1, 4), overlaps_svc)
    else:   # portrange
        srcs = [host(rng, 'lg1', v6)]
        dsts = distinct(lambda: host(rng, 'lg2', v6), nd, overlaps_addr)

        def rsvc():
            while True:
                lo = rng.randrange(1024, 59000)
                hi = lo + rng.randrange(1, 64)
                if not any(lo <= q <= hi for q in AVOID_PORTS | {5200, 5210, 9000, 9010}):
                    return '%s/%d-%d' % (rng.choice(('tcp', 'udp')), lo, hi)
        svcs = distinct(rsvc, rng.randint(1, 4), overlaps_svc)
    return dict(name='c%d' % idx, kind='specific', frm='lg1', to='lg2', srcs=srcs, dsts=dsts, svcs=svcs, v6=v6)


def shaped_probe(shape):
    p = dict(name='probe', kind='specific', frm='lg1', to='lg2', srcs=['10.11.255.1'],
             dsts=['10.12.255.1'], svcs=['udp/9000', 'tcp/5201'], v6=False)
    if shape == 'zone':
        p['srcs'] = []
    elif shape == 'prefix':
        p['dsts'] = ['10.12.255.0/28']
    elif shape == 'portrange':
        p['svcs'] = ['udp/9000-9010', 'tcp/5200-5210']
    return p


def probe_conduit(ranges):
    if ranges:
        return dict(name='probe', kind='specific', frm='lg1', to='lg2', srcs=['10.11.255.0/28'],
                    dsts=['10.12.255.1'], svcs=['udp/9000-9010', 'tcp/5200-5210'], v6=False)
    return dict(name='probe', kind='specific', frm='lg1', to='lg2', srcs=['10.11.255.1'],
                dsts=['10.12.255.1'], svcs=['udp/9000', 'tcp/5201'], v6=False)


def entries_of(c):
    return max(len(c['srcs']), 1) * len(c['dsts']) * len(c['svcs'])


def make_conduits(n, seed, ranges, shape=None):
    rng = random.Random(seed)
    out, total = [], 0
    probe = shaped_probe(shape) if shape else probe_conduit(ranges)
    target = max(n - entries_of(probe), 0)
    while total < target:
        c = shaped_conduit(rng, len(out), shape) if shape else conduit(rng, len(out), ranges)
        while entries_of(c) > target - total:      # trim the last one to land on n
            for key in ('svcs', 'dsts', 'srcs'):
                if len(c[key]) > 1:
                    c[key].pop()
                    break
        out.append(c)
        total += entries_of(c)
    out.insert(len(out) // 2, probe)
    return out, total + entries_of(probe)


def q(items):
    return ', '.join('"%s"' % i for i in items)


def write_config(path, a, conduits):
    with open(path, 'w') as f:
        f.write('# generated by tools/bench/gen.py --entries %d --seed %d%s\nversion = 1;\n'
                % (a.entries, a.seed, ' --ranges' if a.ranges else ''))
        f.write('settings = { table = "%s"; log_group = %d; incident_window = %d; max_ports = 4096;\n'
                '  spool = "%s/%s.spool.jsonl"; control_socket = "%s/%s.sock"; control_group = "root";\n  state_dir = "%s/%s.state"; };\n'
                % (a.table, a.group, a.window, a.dir, a.name, a.dir, a.name, a.dir, a.name))
        f.write('zones = (\n')
        zl = []
        for name, kind, iface, octet in ZONES:
            nets = '' if octet == 0 else ' networks = [ "10.%d.0.0/16", "fd00:%x::/48" ];' % (octet, octet)
            zl.append('  { name = "%s"; kind = "%s"; interfaces = [ "%s" ];%s }' % (name, kind, iface, nets))
        f.write(',\n'.join(zl) + '\n);\nconduits = (\n')
        cl = []
        for c in conduits:
            srcs = ' sources = [ %s ];' % q(c['srcs']) if c['srcs'] else ''
            cl.append('  { name = "%s"; kind = "%s"; from = "%s"; to = "%s";%s '
                      'destinations = [ %s ]; services = [ %s ]; approval = "BENCH-%s"; expires = "%s"; }'
                      % (c['name'], c['kind'], c['frm'], c['to'], srcs, q(c['dsts']), q(c['svcs']),
                         c['name'], EXPIRES))
        f.write(',\n'.join(cl) + '\n);\n')


def linear_rule(c, s, d, svc):
    fam = 'ip6' if ':' in d else 'ip'
    proto, ports = svc.split('/')
    src = ' %s saddr %s' % (fam, s) if s else ''
    return ('\t\tiifname "%s" oifname "%s"%s %s daddr %s %s dport %s accept\n'
            % (ZONE[c['frm']][2], ZONE[c['to']][2], src, fam, d, proto, ports))


def write_linear(path, a, conduits):
    with open(path, 'w') as f:
        f.write('table inet %s\ndelete table inet %s\n' % (a.linear_table, a.linear_table))
        f.write('table inet %s {\n\tchain forward {\n\t\ttype filter hook forward priority filter; '
                'policy drop;\n\t\tct state established,related accept\n' % a.linear_table)
        for c in conduits:
            for s in c['srcs'] or [None]:
                for d in c['dsts']:
                    for svc in c['svcs']:
                        f.write(linear_rule(c, s, d, svc))
        f.write('\t\tcounter log prefix "lin D " group %d drop\n\t}\n}\n' % a.group)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--entries', type=int, required=True)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--dir', required=True)
    p.add_argument('--name', required=True)
    p.add_argument('--ranges', action='store_true')
    p.add_argument('--shape', choices=('zone', 'prefix', 'portrange'))
    p.add_argument('--group', type=int, default=9)
    p.add_argument('--table', default='segd_bench')
    p.add_argument('--linear-table', default='bench_linear')
    p.add_argument('--window', type=int, default=60)
    a = p.parse_args()
    a.dir = os.path.abspath(a.dir)
    conduits, total = make_conduits(a.entries, a.seed, a.ranges, a.shape)
    write_config(os.path.join(a.dir, a.name + '.conf'), a, conduits)
    write_linear(os.path.join(a.dir, a.name + '.linear.nft'), a, conduits)
    with open(os.path.join(a.dir, a.name + '.env'), 'w') as f:
        f.write('ENTRIES=%d\nCONDUITS=%d\nPROBE_SRC=10.11.255.1\nPROBE_DST=10.12.255.1\n'
                'PROBE_UDP=9000\nPROBE_TCP=%d\nPROBE_RANGED=%d\n'
                % (total, len(conduits), 5201, 1 if a.ranges or a.shape in ('prefix', 'portrange') else 0))


if __name__ == '__main__':
    main()
