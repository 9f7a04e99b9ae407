#!/usr/bin/python3
"""differential.py RUNDIR SEGCTL CONFIG [FLOWS] [SEED] - the kernel against
the decision function (issue 3, point 7).

Draws FLOWS random flows (seeded; the seed is printed so that a failure can be
replayed with E2E_SEED): a random source zone and destination zone, random
addresses among the lab hosts' (conduit endpoints, ordinary and random
addresses), about half of the flows aimed at a conduit's own endpoints so that
both verdicts occur often, a random protocol among tcp/udp/icmp and a port
drawn mostly from the conduits' ports; some flows carry a spoofed source (a
fresh address of another zone, or of no zone). The kernel's verdict is whether
the packet arrived at the destination host (a packet socket in the HOST
namespace sees it); the decision function's is `segctl explain` with the
interfaces the packet crosses. They must be equal for every flow, and every
accepted flow's reply must come back.
"""
import ipaddress
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netlab  # noqa: E402
from enforce import say, svc_matches, svc_proto  # noqa: E402


def conduit_ports(model):
    ports = set()
    for c in model.conduits:
        for s in c['services']:
            if '/' in s and not s.startswith('icmp'):
                lo, _, hi = s.split('/')[1].partition('-')
                ports.update({int(lo), int(hi or lo), int(lo) + 1, max(1, int(lo) - 1)})
    return sorted(ports) or [443]


def host_addrs(zd, fam):
    return [a for a in zd['hosts'][0]['addrs'] if ipaddress.ip_address(a).version == fam]


def in_side(addrs, side, fam):
    """The lab addresses that a conduit side holds (all when it names none)."""
    if not side:
        return addrs
    nets = [n for n in side if n.version == fam]
    return [a for a in addrs if any(ipaddress.ip_address(a) in n for n in nets)]


class Drawer:
    def __init__(self, lab, model, rng):
        # conduits between zones: the gateway's own are packets.py's business
        self.lab, self.model, self.rng = lab, netlab.Model.without_gateway(model), rng
        self.zones = [z for z in lab.zones() if z['ordinary']]
        self.ports = conduit_ports(model)
        self.spoofs = {}                 # ns -> addresses to add

    def port(self, proto, svc_ports=None):
        if proto == 'icmp':
            return None
        r = self.rng.random()
        if svc_ports and r < 0.6:
            return self.rng.choice(svc_ports)
        if r < 0.85:
            return self.rng.choice(self.ports)
        return self.rng.randrange(1, 65536)

    def flow_conduit(self):
        """Endpoints from a conduit, the service sometimes its own."""
        c = self.rng.choice(self.model.conduits)
        za, zb = self.lab.zone(c['from']), self.lab.zone(c['to'])
        fams = [f for f in (4, 6) if in_side(host_addrs(za, f), c['srcs'], f)
                and in_side(host_addrs(zb, f), c['dsts'], f)]
        if not fams:
            return self.flow_random()
        fam = self.rng.choice(fams)
        src = self.rng.choice(in_side(host_addrs(za, fam), c['srcs'], fam))
        dst = self.rng.choice(in_side(host_addrs(zb, fam), c['dsts'], fam))
        svc = self.rng.choice(c['services'])
        proto = svc_proto(svc)
        if proto not in ('tcp', 'udp', 'icmp') or self.rng.random() < 0.25:
            proto = self.rng.choice(('tcp', 'udp', 'icmp'))
        _, pl = svc_matches(svc, proto, fam)
        return za, zb, fam, src, dst, proto, self.port(proto, [p for p in pl if p])

    def flow_random(self):
        za, zb = self.rng.sample(self.zones, 2)
        fams = [f for f in (4, 6) if f in za['ordinary'] and f in zb['ordinary']]
        fam = self.rng.choice(fams)
        proto = self.rng.choice(('tcp', 'udp', 'icmp'))
        return (za, zb, fam, self.rng.choice(host_addrs(za, fam)),
                self.rng.choice(host_addrs(zb, fam)), proto, self.port(proto))

    def spoof_source(self, za, fam):
        """A fresh address of another zone's lab network, or of no zone."""
        others = [z for z in self.zones if z is not za and fam in z['net']]
        if not others or self.rng.random() < 0.25:
            net = netlab.NOZONE[fam]
        else:
            net = ipaddress.ip_network(self.rng.choice(others)['net'][fam])
        for _ in range(100):
            a = str(net.network_address + self.rng.randrange(2, min(net.num_addresses - 1, 1 << 16)))
            if a not in self.lab.owner and a not in self.lab.gw_addrs:
                self.spoofs.setdefault(za['hosts'][0]['ns'], set()).add(a)
                return a
        return None

    def draw(self):
        r = self.rng.random()
        za, zb, fam, src, dst, proto, port = self.flow_conduit() if r < 0.5 else self.flow_random()
        if self.rng.random() < 0.08:
            src = self.spoof_source(za, fam) or src
        return {'src_zone': za['name'], 'src_ns': za['hosts'][0]['ns'], 'src': src, 'dst': dst,
                'proto': proto, 'dport': port, 'iif': za['hosts'][0]['gw_if'],
                'oif': zb['hosts'][0]['gw_if']}


def main():
    rundir, segctl, config = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1200
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else random.randrange(1 << 31)
    print('seed %d (replay: E2E_SEED=%d), %d flows' % (seed, seed, n))
    rng = random.Random(seed)
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    model = netlab.Model(config)
    d = Drawer(lab, model, rng)
    flows = [d.draw() for _ in range(n)]
    for ns, addrs in d.spoofs.items():
        for a in sorted(addrs):
            lab.add_addr(ns, a)
    t0 = time.monotonic()
    qs = [{'src': f['src'], 'dst': f['dst'],
           'proto': 'icmpv6' if f['proto'] == 'icmp' and ':' in f['dst'] else f['proto'],
           'port': f['dport'], 'iif': f['iif'], 'oif': f['oif']} for f in flows]
    for f, (acc, why) in zip(flows, netlab.explain_many(segctl, config, qs)):
        f['expect'], f['reason'] = acc, why
    t1 = time.monotonic()
    # no fixed probe timeout: each batch runs until every flow explain accepts
    # has its answer and the table's drop counters (all of them: a denied flow
    # may be counted as a pair's drop or as a spoofed source) have risen by
    # exactly the packets the denied flows sent; the ceiling only bounds a
    # failure, which the checks below then show
    eng = netlab.AccountedEngine(lab)
    batch = int(os.environ.get('E2E_BATCH', '600'))
    ceiling = float(os.environ.get('E2E_CEILING', '60'))

    def counters():
        return {'all': sum(netlab.drop_counters(lab.gw_ns, lab.plan['table']).values())}
    for i in range(0, n, batch):
        if not eng.run_accounted(flows[i:i + batch], lambda f: 'all', counters, ceiling):
            print('flows %d-%d: the evidence was not complete after %.0f s' % (i, min(n, i + batch) - 1, ceiling))
    eng.close()
    t2 = time.monotonic()
    reasons = {}
    for f in flows:
        reasons[f['reason'].split()[0] if f['reason'] else '?'] = reasons.get(f['reason'].split()[0] if f['reason'] else '?', 0) + 1
    acc = sum(f['expect'] for f in flows)
    print('decision function: %d accept, %d drop; reasons: %s' % (
        acc, n - acc, ', '.join('%s %d' % kv for kv in sorted(reasons.items()))))
    print('explain %.1f s, traffic %.1f s' % (t1 - t0, t2 - t1))
    bad = [f for f in flows if bool(f['arrived']) != f['expect']]
    say(not bad, 'the kernel forwards exactly the flows explain accepts (%d of %d agree)' % (n - len(bad), n))
    for f in bad[:25]:
        print('    %s %s -> %s: explain %s (%s), kernel %s' % (
            netlab.describe(f), f['iif'], f['oif'], 'accept' if f['expect'] else 'drop', f['reason'],
            'forwarded' if f['arrived'] else 'dropped'))
    noreply = [f for f in flows if f['expect'] and f['arrived'] and not netlab.passed(f)]
    say(not noreply, 'every accepted flow got its reply back (%d of %d)' % (acc - len(noreply), acc))
    for f in noreply[:10]:
        print('    %s: replied=%s echoed=%s %s' % (netlab.describe(f), f['replied'], f['echoed'], f['error'] or ''))
    say(0 < acc < n, 'both verdicts occur (%d accept, %d drop)' % (acc, n - acc))


if __name__ == '__main__':
    main()
