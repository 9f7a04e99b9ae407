#!/usr/bin/python3
"""packets.py RUNDIR SEGCTL CONFIG [N] [SEED] - the kernel against the decision
function for packets that open no connection the usual way (issue 13, point 6).

differential.py sends connection openers through sockets. This sends N raw
IP packets (seeded; the seed is printed), each carrying a unique marker,
built byte by byte, of these kinds, IPv4 and IPv6:

  error     an ICMP error (unreachable, time exceeded, too big) between two
            zones' hosts, quoting a random inner tuple: conntrack knows no
            such connection, so the kernel judges it as the ICMP packet it is
  reply     a TCP segment with SYN+ACK, ACK or RST between two zones: no
            connection, so it is judged by its own header (conntrack's loose
            pick-up or invalid), never as a reply
  frag      a UDP datagram in two fragments: reassembled, then judged whole
  to-gw     a packet from a zone host to one of the gateway's addresses
            (tcp, udp, icmp, vrrp, random ports)
  from-gw   a packet the gateway itself sends to a zone host
  link      from a host's link-local address to the gateway's link-local
            or a link multicast group (udp, vrrp); and IPv4 to 224.0.0.18

A forwarded or gateway-sent packet counts as passed when a packet socket in
the destination host's namespace sees its marker; a packet to the gateway
when a raw socket of its protocol in the gateway namespace does (raw sockets
see what the input hook let through). The verdict of `segctl explain` (with
the interfaces the packet crosses and --to-gateway / --from-gateway) must be
the same for every packet.
"""
import ipaddress
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import differential  # noqa: E402
import netlab  # noqa: E402
from enforce import say  # noqa: E402
from incidents import csum  # noqa: E402

IPPROTO_VRRP = 112
KINDS = ('error', 'reply', 'frag', 'to-gw', 'from-gw', 'link')
GROUPS = ('ff02::12', 'ff02::1:2')
GROUP4 = '224.0.0.18'      # VRRPv2


def l4(fam, src, dst, proto, body):
    """The transport bytes with their checksum (pseudo-header for tcp/udp/icmpv6)."""
    a, b = socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, src), \
        socket.inet_pton(socket.AF_INET if fam == 4 else socket.AF_INET6, dst)
    off = {6: 16, 17: 6, 1: 2, 58: 2}.get(proto)
    if off is None:
        return body
    pseudo = (a + b + struct.pack('!BBH', 0, proto, len(body)) if fam == 4 else
              a + b + struct.pack('!IxxxB', len(body), proto))
    c = csum((pseudo if proto != 1 else b'') + body)
    if proto == 17 and c == 0:
        c = 0xffff
    return body[:off] + struct.pack('!H', c) + body[off + 2:]


def ip4(src, dst, proto, payload, ident=1, frag=0, ttl=64):
    h = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack('!H', csum(h)) + h[12:] + payload


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack('!IHBB16s16s', 6 << 28, len(payload), nh, hlim, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def transport(fam, src, dst, proto, sport, dport, marker, flags=0x02):
    """tcp/udp/icmp echo/vrrp bytes carrying marker."""
    if proto == 6:
        body = struct.pack('!HHIIBBHHH', sport, dport, 1, 0, 0x50, flags, 1024, 0, 0) + marker
    elif proto == 17:
        body = struct.pack('!HHHH', sport, dport, 8 + len(marker), 0) + marker
    elif proto in (1, 58):
        body = struct.pack('!BBHHH', 8 if proto == 1 else 128, 0, 0, 1, 1) + marker
    else:
        body = struct.pack('!BBBBHH', 0x31, 1, 100, 0, 1, 0) + marker
    return l4(fam, src, dst, proto, body)


def packet(fam, src, dst, proto, data, **kw):
    return ip4(src, dst, proto, data, **kw) if fam == 4 else ip6(src, dst, proto, data)


class Sender:
    """Raw sockets with the IP header included, one per namespace and family."""

    def __init__(self):
        self.socks = {}

    def send(self, ns, fam, dst, data, ifname=None):
        key = (ns, fam, ifname)
        if key not in self.socks:
            with netlab.netns(ns):     # the index of ifname in ns, not in ours
                s = socket.socket(socket.AF_INET if fam == 4 else socket.AF_INET6, socket.SOCK_RAW,
                                  socket.IPPROTO_RAW)
                index = socket.if_nametoindex(ifname) if ifname else 0
            if ifname:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            self.socks[key] = (s, index)
        s, index = self.socks[key]
        addr = (dst, 0) if fam == 4 else (dst, 0, 0, index)
        try:
            s.sendto(data, addr)
        except OSError:
            pass    # an EPERM from the sender's own output chain is a drop too

    def close(self):
        for s, _ in self.socks.values():
            s.close()


class Watcher:
    """Markers seen: packet sockets in host namespaces, raw sockets in the gateway."""

    def __init__(self, lab):
        self.seen = set()
        self.socks = []
        for zd in lab.zones():
            for h in zd['hosts']:
                with netlab.netns(h['ns']):
                    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
                    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
                    s.bind((netlab.HOST_IF, 3))
                self.socks.append(s)
        with netlab.netns(lab.gw_ns):
            for fam in (socket.AF_INET, socket.AF_INET6):
                for proto in (6, 17, 1 if fam == socket.AF_INET else 58, IPPROTO_VRRP):
                    s = socket.socket(fam, socket.SOCK_RAW, proto)
                    s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)
                    self.socks.append(s)
            # the link groups the link kind sends to (VRRPv3, DHCPv6 servers),
            # joined as keepalived and a DHCPv6 relay would: without a member
            # the kernel discards them before the input hook
            j = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            for zd in lab.zones():
                for h in zd['hosts']:
                    for g in GROUPS:
                        j.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP,
                                     socket.inet_pton(socket.AF_INET6, g) +
                                     struct.pack('@I', socket.if_nametoindex(h['gw_if'])))
            self.socks.append(j)
            j4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for zd in lab.zones():
                for h in zd['hosts']:
                    j4.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                  socket.inet_aton(GROUP4) + struct.pack('@II', 0, socket.if_nametoindex(h['gw_if'])))
            self.socks.append(j4)
        for s in self.socks:
            s.setblocking(False)

    def drain(self, until):
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select(self.socks, [], [], left)
            for s in r:
                while True:
                    try:
                        data, addr = s.recvfrom(65535)
                    except BlockingIOError:
                        break
                    if s.family == socket.AF_PACKET and addr[2] == 4:    # PACKET_OUTGOING
                        continue
                    i = data.find(b'SEGDPKT')
                    while i >= 0:
                        self.seen.add(data[i:i + 15])
                        i = data.find(b'SEGDPKT', i + 15)


def ll_addr(ns):
    out = netlab.ns_exec(ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', netlab.HOST_IF, 'scope', 'link'])
    for w in out.split():
        if w.startswith('fe80::'):
            return w.split('/')[0]
    return None


class Drawer:
    def __init__(self, lab, model, rng):
        self.lab, self.rng = lab, rng
        self.gw_conduits = [c for c in model.conduits if c['from'] == 'gateway']
        self.openers = differential.Drawer(lab, model, rng)
        self.zones = [z for z in lab.zones() if z['ordinary']]
        self.ll = {z['name']: ll_addr(z['hosts'][0]['ns']) for z in self.zones}

    def addr(self, zd, fam):
        v = [a for a in zd['hosts'][0]['addrs'] if ipaddress.ip_address(a).version == fam]
        return self.rng.choice(v) if v else None

    def pair(self):
        for _ in range(50):
            za, zb = self.rng.sample(self.zones, 2)
            fam = self.rng.choice((4, 6))
            a, b = self.addr(za, fam), self.addr(zb, fam)
            if a and b:
                return za, zb, fam, a, b
        raise RuntimeError('no two zones with a common family')

    def port(self):
        return self.rng.choice((22, 53, 123, 443, 514, 546, 547, 3389, 8080)) if self.rng.random() < 0.6 \
            else self.rng.randrange(1, 65536)

    def draw(self, i):
        kind = KINDS[i % len(KINDS)]
        marker = b'SEGDPKT%08d' % i
        p = {'kind': kind, 'marker': marker}
        r = self.rng
        if kind in ('error', 'reply', 'frag'):
            za, zb, fam, src, dst = self.pair()
            aimed = None
            if r.random() < 0.5:            # at a conduit's endpoints and service (differential.py)
                za, zb, fam, src, dst, aproto, aport = self.openers.flow_conduit()
                aimed = aport if aproto in ('tcp', 'udp') else None
                if kind == 'reply' and r.random() < 0.5:   # the way a real reply goes
                    za, zb, src, dst = zb, za, dst, src
            p.update(src_ns=za['hosts'][0]['ns'], fam=fam, src=src, dst=dst, iif=za['hosts'][0]['gw_if'],
                     oif=zb['hosts'][0]['gw_if'], sendif=None)
            if kind == 'error':
                t, code = r.choice(((3, 3), (3, 1), (11, 0), (3, 4)) if fam == 4 else ((1, 4), (1, 0), (3, 0), (2, 0)))
                iproto = r.choice((6, 17))
                inner_t = struct.pack('!HH', r.randrange(1, 65536), r.randrange(1, 65536)) + b'\0' * 4
                inner = (ip4(dst, src, iproto, inner_t) if fam == 4 else ip6(dst, src, iproto, inner_t))
                body = struct.pack('!BBHI', t, code, 0, 1280 if (fam == 6 and t == 2) else 0) + inner + marker
                proto = 1 if fam == 4 else 58
                p.update(data=packet(fam, src, dst, proto, l4(fam, src, dst, proto, body)),
                         q=dict(proto='icmp' if fam == 4 else 'icmpv6', port=t))
            elif kind == 'reply':
                flags = r.choice((0x12, 0x10, 0x04))
                sport, dport = self.port(), r.randrange(1024, 65536) if r.random() < 0.5 else self.port()
                if aimed:
                    sport, dport = (aimed, dport) if r.random() < 0.5 else (r.randrange(1024, 65536), aimed)
                p.update(data=packet(fam, src, dst, 6, transport(fam, src, dst, 6, sport, dport, marker, flags)),
                         q=dict(proto='tcp', port=dport))
            else:
                dport = aimed or self.port()
                u = transport(fam, src, dst, 17, r.randrange(1024, 65536), dport, marker + b'x' * 17 + marker)
                first, rest = u[:24], u[24:]
                if fam == 4:
                    ident = r.randrange(1, 65536)
                    frags = [ip4(src, dst, 17, first, ident, 0x2000), ip4(src, dst, 17, rest, ident, 3)]
                else:
                    ident = r.randrange(1, 1 << 32)
                    frags = [ip6(src, dst, 44, struct.pack('!BBHI', 17, 0, 1, ident) + first),
                             ip6(src, dst, 44, struct.pack('!BBHI', 17, 0, 3 << 3, ident) + rest)]
                p.update(data=frags, q=dict(proto='udp', port=dport))
        elif kind == 'to-gw':
            za = r.choice(self.zones)
            fam = r.choice([f for f in (4, 6) if f in za['gw']])
            src, dst = self.addr(za, fam), za['gw'][fam]
            proto = r.choice((6, 17, 1 if fam == 4 else 58, IPPROTO_VRRP))
            dport = self.port()
            svcs = [x for x in za.get('gw_services') or [] if x.split('/')[0] in ('tcp', 'udp')]
            if svcs and r.random() < 0.3:    # at one of the zone's gateway services
                x = r.choice(svcs)
                proto, dport = (6 if x.startswith('tcp') else 17), int(x.split('/')[1].split('-')[0])
            p.update(src_ns=za['hosts'][0]['ns'], fam=fam, src=src, dst=dst, iif=za['hosts'][0]['gw_if'],
                     sendif=None, data=packet(fam, src, dst, proto, transport(fam, src, dst, proto, 40000, dport, marker)),
                     q=dict(proto=self.qproto(proto, fam), port=self.qport(proto, fam, dport), to_gateway=True))
        elif kind == 'from-gw':
            zb = r.choice(self.zones)
            fam = r.choice([f for f in (4, 6) if f in zb['gw']])
            src, dst = zb['gw'][fam], self.addr(zb, fam)
            proto = r.choice((6, 17, 1 if fam == 4 else 58))
            dport = self.port()
            aim = [c for c in self.gw_conduits if c['dsts']]
            if aim and r.random() < 0.5:     # at a conduit from the gateway: its host, often its service
                c = r.choice(aim)
                zb = self.lab.zone(c['to'])
                n = r.choice(c['dsts'])
                fam = n.version
                src, dst = zb['gw'][fam], str(netlab._representative(n))
                svc = r.choice(c['services'])
                if r.random() < 0.7 and svc.split('/')[0] in ('tcp', 'udp'):
                    proto, dport = (6 if svc.startswith('tcp') else 17), int(svc.split('/')[1].split('-')[0])
            p.update(src_ns=self.lab.gw_ns, fam=fam, src=src, dst=dst, oif=zb['hosts'][0]['gw_if'], sendif=None,
                     data=packet(fam, src, dst, proto, transport(fam, src, dst, proto, 40000, dport, marker)),
                     q=dict(proto=self.qproto(proto, fam), port=self.qport(proto, fam, dport), from_gateway=True))
        elif r.random() < 0.3:     # IPv4 link multicast from a zone host
            za = r.choice([z for z in self.zones if 4 in z['gw']])
            src, dst = self.addr(za, 4), GROUP4
            proto = r.choice((17, IPPROTO_VRRP))
            dport = r.choice((546, 547, self.port()))
            p.update(src_ns=za['hosts'][0]['ns'], fam=4, src=src, dst=dst, iif=za['hosts'][0]['gw_if'],
                     sendif=netlab.HOST_IF, data=ip4(src, dst, proto, transport(4, src, dst, proto, 40000, dport, marker),
                                                    ttl=1),
                     q=dict(proto=self.qproto(proto, 4), port=self.qport(proto, 4, dport), to_gateway=True))
        else:
            za = r.choice([z for z in self.zones if self.ll[z['name']]])
            src = self.ll[za['name']]
            dst = r.choice((netlab.GW_LL6,) + GROUPS)
            proto = r.choice((17, 17, IPPROTO_VRRP))
            dport = r.choice((546, 547, self.port()))
            p.update(src_ns=za['hosts'][0]['ns'], fam=6, src=src, dst=dst, iif=za['hosts'][0]['gw_if'],
                     sendif=netlab.HOST_IF,
                     data=ip6(src, dst, proto, transport(6, src, dst, proto, 40000, dport, marker), hlim=255),
                     q=dict(proto=self.qproto(proto, 6), port=self.qport(proto, 6, dport), to_gateway=True))
        return p

    @staticmethod
    def qproto(proto, fam):
        return {6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6'}.get(proto, str(proto))

    @staticmethod
    def qport(proto, fam, dport):
        if proto in (6, 17):
            return dport
        if proto in (1, 58):
            return 8 if proto == 1 else 128
        return None


def main():
    rundir, segctl, config = sys.argv[1:4]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 3000
    seed = int(sys.argv[5]) if len(sys.argv) > 5 else random.randrange(1 << 31)
    print('seed %d (replay: E2E_SEED=%d), %d packets' % (seed, seed, n))
    rng = random.Random(seed)
    lab = netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))
    d = Drawer(lab, netlab.Model(config), rng)
    pkts = [d.draw(i) for i in range(n)]
    qs = []
    for p in pkts:
        q = dict(src=p['src'], dst=p['dst'], proto=p['q']['proto'], port=p['q']['port'],
                 iif=p.get('iif'), oif=p.get('oif'), to_gateway=p['q'].get('to_gateway', False),
                 from_gateway=p['q'].get('from_gateway', False))
        qs.append(q)
    for p, (acc, why) in zip(pkts, netlab.explain_many(segctl, config, qs)):
        p['expect'], p['reason'] = acc, why
    w = Watcher(lab)
    snd = Sender()
    for i in range(0, n, 200):
        for p in pkts[i:i + 200]:
            for data in (p['data'] if isinstance(p['data'], list) else [p['data']]):
                snd.send(p['src_ns'], p['fam'], p['dst'], data, p['sendif'])
        w.drain(time.monotonic() + float(os.environ.get('E2E_TIMEOUT', '0.4')))
    w.drain(time.monotonic() + 1.0)
    snd.close()
    stats = {}
    bad = []
    for p in pkts:
        p['arrived'] = p['marker'] in w.seen
        k = stats.setdefault(p['kind'], [0, 0, 0])
        k[0] += 1
        k[1] += p['expect']
        if p['arrived'] != p['expect']:
            k[2] += 1
            bad.append(p)
    print('per kind (packets, explain accepts, disagreements): ' +
          ', '.join('%s %d/%d/%d' % (kd, *stats[kd]) for kd in KINDS if kd in stats))
    if os.environ.get('PACKETS_NEGATIVE'):   # explain asked about another configuration
        say(bad, 'negative control: explain of %s disagrees with the kernel on %d of %d packets' % (
            os.path.basename(config), len(bad), n))
        return
    say(not bad, 'the kernel passes exactly the packets explain accepts (%d of %d agree)' % (n - len(bad), n))
    for p in bad[:25]:
        print('    %s v%d %s -> %s %s/%s in=%s out=%s: explain %s (%s), kernel %s' % (
            p['kind'], p['fam'], p['src'], p['dst'], p['q']['proto'], p['q']['port'], p.get('iif'), p.get('oif'),
            'accept' if p['expect'] else 'drop', p['reason'], 'passed' if p['arrived'] else 'dropped'))
    for kd in KINDS:
        if kd in stats:
            say(0 < stats[kd][1] < stats[kd][0],
                '%s: both verdicts occur (%d accept, %d drop)' % (kd, stats[kd][1], stats[kd][0] - stats[kd][1]))


if __name__ == '__main__':
    main()
