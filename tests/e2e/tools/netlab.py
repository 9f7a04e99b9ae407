"""netlab.py - the lab of network namespaces and the traffic engine of segd's
end-to-end tests.

The lab is derived from a segd configuration (any of them): one gateway
namespace with a veth per zone interface named in the config, one host
namespace per zone interface. The first host of a zone holds every conduit
endpoint that lies in the zone (a representative address for prefixes) plus
an ordinary host address, and optionally extra random addresses.

The traffic engine runs in one process: it enters the lab's namespaces with
setns(2) only to create sockets (a socket stays in the namespace it was made
in), then drives every probe at once from one epoll loop. A probe is one flow:
a TCP connection (with an echoed token), a UDP datagram (echoed), or an ICMP
echo request. What arrived at the destination is seen by a packet socket on
the destination host's interface, so "the kernel let it through" does not
depend on the reply path.

The description of a built lab is kept as JSON (lab.json in the run
directory) so that every tool of one run sees the same lab.
"""
import ctypes
import errno
import copy
import ipaddress
import json
import os
import random
import resource
import selectors
import socket
import struct
import subprocess
import time

import libconf

CLONE_NEWNET = 0x40000000
IP_PKTINFO = 8                      # not exported by Python 3.11's socket
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
HOST_IF = 'eth0'
GW_LL6 = 'fe80::1'                  # the gateway's link-local address on every interface
NOZONE = {4: ipaddress.ip_network('198.51.100.0/24'),
          6: ipaddress.ip_network('2001:db8:5100::/64')}

# ---------------------------------------------------------------- the plan


def _fam(net):
    return 4 if net.version == 4 else 6


def _host_prefix(net):
    return net.prefixlen == net.max_prefixlen


def _representative(net):
    """A host address inside a conduit prefix (the prefix itself for /32, /128)."""
    if _host_prefix(net):
        return net.network_address
    return net.network_address + 1


class Model:
    """The parts of a segd configuration the lab and the tests need."""

    def __init__(self, path):
        self.path = path
        self.raw = libconf.load(path)
        st = self.raw.get('settings', {})
        self.table = st.get('table', 'segd')
        self.zones = []
        for z in self.raw.get('zones', []):
            nets = [ipaddress.ip_network(n) for n in z.get('networks', [])]
            self.zones.append({'name': z['name'], 'kind': z['kind'],
                               'ifaces': list(z.get('interfaces', [])),
                               'nets': nets,
                               'gw_services': list(z.get('gateway_services', []))})
        self.conduits = []
        for c in self.raw.get('conduits', []):
            self.conduits.append({'name': c['name'], 'kind': c['kind'],
                                  'from': c['from'], 'to': c['to'],
                                  'srcs': [ipaddress.ip_network(a) for a in c.get('sources', [])],
                                  'dsts': [ipaddress.ip_network(a) for a in c.get('destinations', [])],
                                  'services': list(c.get('services', [])),
                                  'expires': c.get('expires', '')})

    @staticmethod
    def without_gateway(model):
        """The model with only the conduits between zones (not from the gateway)."""
        m = copy.copy(model)
        m.conduits = [c for c in model.conduits if c['from'] != 'gateway']
        return m

    def zone(self, name):
        return next(z for z in self.zones if z['name'] == name)

    def zone_of(self, addr):
        """Most specific network wins (a catch-all external zone owns the rest)."""
        addr = ipaddress.ip_address(addr)
        best, blen = None, -1
        for z in self.zones:
            for n in z['nets']:
                if n.version == addr.version and addr in n and n.prefixlen > blen:
                    best, blen = z['name'], n.prefixlen
        return best

    def lab_net(self, zone, fam):
        """The network the lab numbers a zone's hosts from: its first network of
        the family; for a catch-all, a benchmarking/documentation block that the
        zone owns."""
        for n in zone['nets']:
            if _fam(n) == fam and n.prefixlen > 0:
                return n
        if not any(_fam(n) == fam for n in zone['nets']):
            return None
        idx = self.zones.index(zone)
        cand = ipaddress.ip_network('198.18.%d.0/24' % idx if fam == 4 else '2001:db8:ff%02x::/64' % idx)
        return cand if self.zone_of(cand.network_address + 1) == zone['name'] else None


def _conduit_endpoints(model):
    """zone -> set of addresses that conduits name (representatives of prefixes
    smaller than the zone)."""
    out = {}
    for c in model.conduits:
        for side, zname in (('srcs', c['from']), ('dsts', c['to'])):
            for n in c[side]:
                a = _representative(n)
                if model.zone_of(a) == zname:
                    out.setdefault(zname, set()).add(a)
    return out


def _in_conduit_prefix(model, addr, net):
    """A conduit names addr specifically (a prefix smaller than the network)."""
    for c in model.conduits:
        for n in c['srcs'] + c['dsts']:
            if n.version == addr.version and addr in n and n.prefixlen > net.prefixlen:
                return True
    return False


def _free(net, taken, start=1):
    for k in range(start, min(net.num_addresses - 1, 1 << 16)):
        a = net.network_address + k
        if a not in taken:
            return a
    raise RuntimeError('no free address in %s' % net)


def _ordinary(model, net, taken):
    """The lowest free address of net that no conduit names: a host without
    exceptions (any free one when conduits name every address)."""
    for k in range(2, min(net.num_addresses - 1, 4096)):
        a = net.network_address + k
        if a not in taken and not _in_conduit_prefix(model, a, net):
            return a
    return _free(net, taken, 2)


def _random_addrs(model, net, n, taken, rng):
    out = []
    size = net.num_addresses
    for _ in range(n * 20):
        if len(out) >= n:
            break
        a = net.network_address + rng.randrange(2, max(3, min(size - 1, 1 << 32)))
        if a not in taken and model.zone_of(a) is not None:
            taken.add(a)
            out.append(a)
    return out


def make_plan(model, prefix, extra=0, seed=0):
    rng = random.Random(seed)
    ends = _conduit_endpoints(model)
    zones = []
    for zi, z in enumerate(model.zones):
        if not z['ifaces']:
            continue
        hosts = []
        for k, ifname in enumerate(z['ifaces']):
            hosts.append({'ns': prefix + (z['name'] if k == 0 else '%s-%d' % (z['name'], k)),
                          'gw_if': ifname, 'addrs': [], 'mac_gw': '02:5e:%02x:%02x:00:01' % (zi, k),
                          'mac_host': '02:5e:%02x:%02x:00:02' % (zi, k)})
        zd = {'name': z['name'], 'kind': z['kind'], 'hosts': hosts, 'gw': {}, 'ordinary': {},
              'net': {}, 'gw_services': z['gw_services']}
        for fam in (4, 6):
            net = model.lab_net(z, fam)
            if net is None:
                continue
            taken = {a for a in ends.get(z['name'], ()) if a.version == fam}
            gw = _free(net, taken)           # .1 unless a conduit names it
            taken.add(gw)
            zd['net'][fam] = str(net)
            zd['gw'][fam] = str(gw)
            ordy = _ordinary(model, net, taken)
            taken.add(ordy)
            zd['ordinary'][fam] = str(ordy)
            hosts[0]['addrs'].append(str(ordy))      # first: the source of unbound traffic
            hosts[0]['addrs'] += sorted(str(a) for a in ends.get(z['name'], ()) if a.version == fam)
            nets = [n for n in z['nets'] if _fam(n) == fam and n.prefixlen > 0] or [net]
            for n in nets:                   # random hosts in every network of the zone
                share = -(-extra // len(nets))
                hosts[0]['addrs'] += [str(a) for a in _random_addrs(model, n, share, taken, rng)]
            for h in hosts[1:]:
                a = _ordinary(model, net, taken)
                taken.add(a)
                h['addrs'].append(str(a))
        zones.append(zd)
    return {'prefix': prefix, 'gw_ns': prefix + 'gw', 'table': model.table,
            'config': os.path.abspath(model.path), 'zones': zones}

# ---------------------------------------------------------------- building


def _run(cmd, inp=None):
    r = subprocess.run(cmd, input=inp, text=True, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), r.stderr.strip()))
    return r.stdout


def _batch(ns, lines):
    if lines:
        _run(['ip', '-n', ns, '-batch', '-'], '\n'.join(lines) + '\n')


SYSCTL_ANY = ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0',
              'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0',
              'net.ipv6.conf.default.accept_ra=0']
SYSCTL_GW = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']


def _sysctl(ns, settings):
    _run(['ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w'] + settings)


def _host_cmds(zd, h, k):
    cmds = ['link set lo up', 'link set %s up' % HOST_IF]
    for fam in (4, 6):
        net = zd['net'].get(fam)
        if not net:
            continue
        plen = ipaddress.ip_network(net).prefixlen
        for a in (x for x in h['addrs'] if ipaddress.ip_address(x).version == fam):
            inside = ipaddress.ip_address(a) in ipaddress.ip_network(net) and k == 0
            cmds.append('addr add %s/%d dev %s%s' % (a, plen if inside else (32 if fam == 4 else 128),
                                                    HOST_IF, ' nodad' if fam == 6 else ''))
        if fam == 4:
            cmds.append('route add default via %s dev %s onlink' % (zd['gw'][4], HOST_IF))
        else:
            cmds.append('route add default via %s dev %s' % (GW_LL6, HOST_IF))
    return cmds


def _gw_cmds(zd, h, k):
    cmds = ['link set %s up' % h['gw_if'], 'addr add %s/64 dev %s nodad' % (GW_LL6, h['gw_if'])]
    for fam in (4, 6):
        net = zd['net'].get(fam)
        if not net:
            continue
        n = ipaddress.ip_network(net)
        if k == 0:
            cmds.append('addr add %s/%d dev %s%s' % (zd['gw'][fam], n.prefixlen, h['gw_if'],
                                                     ' nodad' if fam == 6 else ''))
        for a in h['addrs']:
            ip = ipaddress.ip_address(a)
            if ip.version == fam and (k > 0 or ip not in n):
                cmds.append('route add %s dev %s' % (a, h['gw_if']))
    return cmds


def lab_build(plan):
    gw = plan['gw_ns']
    _run(['ip', 'netns', 'add', gw])
    _sysctl(gw, SYSCTL_ANY + SYSCTL_GW)
    _batch(gw, ['link set lo up'])
    for zd in plan['zones']:
        for k, h in enumerate(zd['hosts']):
            _run(['ip', 'netns', 'add', h['ns']])
            _sysctl(h['ns'], SYSCTL_ANY)
            _run(['ip', '-n', gw, 'link', 'add', h['gw_if'], 'address', h['mac_gw'], 'type', 'veth',
                  'peer', 'name', HOST_IF, 'address', h['mac_host'], 'netns', h['ns']])
            _batch(h['ns'], _host_cmds(zd, h, k))
            _batch(gw, _gw_cmds(zd, h, k))


def save_plan(plan, path):
    with open(path, 'w') as f:
        json.dump(plan, f, indent=1)


def load_plan(path):
    with open(path) as f:
        plan = json.load(f)
    for z in plan['zones']:          # JSON turned the family keys into strings
        for k in ('gw', 'ordinary', 'net'):
            z[k] = {int(f): v for f, v in z[k].items()}
    return plan

# ---------------------------------------------------------------- lab queries


class Lab:
    def __init__(self, plan):
        self.plan = plan
        self.gw_ns = plan['gw_ns']
        self.owner = {}            # address -> (zone, host)
        for zd in plan['zones']:
            for h in zd['hosts']:
                for a in h['addrs']:
                    self.owner[str(ipaddress.ip_address(a))] = (zd, h)
        self.gw_addrs = {}
        for zd in plan['zones']:
            for fam, a in zd['gw'].items():
                self.gw_addrs[str(ipaddress.ip_address(a))] = zd

    def zones(self):
        return self.plan['zones']

    def zone(self, name):
        return next(z for z in self.plan['zones'] if z['name'] == name)

    def host_of(self, addr):
        return self.owner.get(str(ipaddress.ip_address(addr)), (None, None))[1]

    def dst_ns(self, addr):
        a = str(ipaddress.ip_address(addr))
        if a in self.gw_addrs:
            return self.gw_ns
        h = self.host_of(a)
        return h['ns'] if h else None

    def add_addr(self, ns, addr):
        fam = ipaddress.ip_address(addr).version
        _run(['ip', '-n', ns, 'addr', 'add', '%s/%d' % (addr, 32 if fam == 4 else 128), 'dev', HOST_IF]
             + (['nodad'] if fam == 6 else []))

# ---------------------------------------------------------------- namespaces


_libc = ctypes.CDLL(None, use_errno=True)
_nsfd = {}


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, 'setns: ' + os.strerror(e))


class netns:
    """with netns('name'): sockets made inside belong to that namespace."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.orig = os.open('/proc/thread-self/ns/net', os.O_RDONLY)
        if self.name not in _nsfd:
            _nsfd[self.name] = os.open('/run/netns/' + self.name, os.O_RDONLY)
        _setns(_nsfd[self.name])

    def __exit__(self, *exc):
        _setns(self.orig)
        os.close(self.orig)


def ns_exec(ns, cmd, check=True):
    r = subprocess.run(['ip', 'netns', 'exec', ns] + cmd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError('%s: %s' % (' '.join(cmd), r.stderr.strip()))
    return r.stdout

# ---------------------------------------------------------------- kernel counters


def drop_counters(gw_ns, table):
    """{('D', 'mynumber', 'internet'): packets, ...} from the rules whose log
    prefix is 'segd <event> <from> <to>' (docs/design.md), summed per key.
    Rules without a log statement but with a comment of that form count too."""
    out = ns_exec(gw_ns, ['nft', '-j', 'list', 'table', 'inet', table])
    named = {}
    items = json.loads(out).get('nftables', [])
    for it in items:
        if 'counter' in it and isinstance(it['counter'], dict) and 'name' in it['counter']:
            named[it['counter']['name']] = it['counter'].get('packets', 0)
    res = {}
    for it in items:
        rule = it.get('rule')
        if not rule:
            continue
        key, pk = None, None
        for e in rule.get('expr', []):
            if 'log' in e and isinstance(e['log'], dict) and 'prefix' in e['log']:
                key = _prefix_key(e['log']['prefix'])
            if 'counter' in e:
                c = e['counter']
                pk = c.get('packets', 0) if isinstance(c, dict) else named.get(c, 0)
        if key is None and rule.get('comment'):
            key = _prefix_key(rule['comment'])
        if key and pk is not None:
            res[key] = res.get(key, 0) + pk
    return res


def _prefix_key(prefix):
    t = prefix.replace(':', ' ').split()
    if len(t) >= 4 and t[0] == 'segd':
        return (t[1], t[2], t[3])
    return None


def pair_drops(counters, a, b):
    return sum(v for (ev, f, t), v in counters.items() if ev in ('D', 'M') and f == a and t == b)


def zone_drops(counters, ev, z):
    return sum(v for (e, f, _), v in counters.items() if e == ev and f == z)

# ---------------------------------------------------------------- the decision function


def explain(segctl, config, src, dst, proto, port=None, iif=None, oif=None, to_gateway=False,
            from_gateway=False):
    """(accept, reason) from `segctl explain`: exit 0 accept, 1 deny (contract).
    ICMP probes are echo requests: asked about as icmp/8 and icmpv6/128."""
    if port is None and proto in ('icmp', 'icmpv6'):
        port = 8 if proto == 'icmp' else 128
    svc = proto if port is None else '%s/%d' % (proto, port)
    cmd = [segctl, '-c', config, '--json', 'explain', str(src), str(dst), svc]
    if iif and not from_gateway:
        cmd += ['--in', iif]
    if oif and not to_gateway:
        cmd += ['--out', oif]
    if to_gateway:
        cmd += ['--to-gateway']
    if from_gateway:
        cmd += ['--from-gateway']
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise RuntimeError('%s: exit %d: %s' % (' '.join(cmd), r.returncode, r.stderr.strip()))
    return r.returncode == 0, _reason(r.stdout)


def _reason(out):
    try:
        j = json.loads(out)
    except ValueError:
        return out.strip().splitlines()[0] if out.strip() else ''
    if not isinstance(j, dict):
        return ''
    reason = str(j.get('reason', ''))
    c = j.get('conduit')
    if isinstance(c, dict):
        reason += ' ' + str(c.get('name', ''))
    elif c:
        reason += ' ' + str(c)
    return reason.strip()


def explain_many(segctl, config, queries, workers=16):
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(workers) as ex:
        return list(ex.map(lambda q: explain(segctl, config, **q), queries))

# ---------------------------------------------------------------- traffic engine


def _icmp_sum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def _icmp_echo(fam, ident, seq, payload):
    typ = 8 if fam == 4 else 128
    hdr = struct.pack('!BBHHH', typ, 0, 0, ident, seq)
    if fam == 4:
        hdr = struct.pack('!BBHHH', typ, 0, _icmp_sum(hdr + payload), ident, seq)
    return hdr + payload


def _parse_frame(data):
    """(proto, src, dst, sport_or_id, dport) of an IP packet in an Ethernet
    frame, or None. ICMP: only echo requests (id in place of sport)."""
    if len(data) < 34:
        return None
    et = struct.unpack('!H', data[12:14])[0]
    p = data[14:]
    if et == 0x0800:
        ihl = (p[0] & 15) * 4
        proto, src, dst, l4 = p[9], socket.inet_ntop(socket.AF_INET, p[12:16]), \
            socket.inet_ntop(socket.AF_INET, p[16:20]), p[ihl:]
        icmp, echo = 1, 8
    elif et == 0x86DD and len(p) >= 48:
        proto, src, dst, l4 = p[6], socket.inet_ntop(socket.AF_INET6, p[8:24]), \
            socket.inet_ntop(socket.AF_INET6, p[24:40]), p[40:]
        icmp, echo = 58, 128
    else:
        return None
    if proto in (6, 17) and len(l4) >= 4:
        sp, dp = struct.unpack('!HH', l4[:4])
        return ('tcp' if proto == 6 else 'udp', src, dst, sp, dp)
    if proto == icmp and len(l4) >= 8 and l4[0] == echo:
        return ('icmp', src, dst, struct.unpack('!H', l4[4:6])[0], 0)
    return None


def _norm(a):
    return str(ipaddress.ip_address(a))


class Engine:
    """Sends many probes at once and reports, per probe, whether it arrived at
    the destination host (seen by a packet socket there) and whether its reply
    (TCP handshake and echo, UDP echo, ICMP echo reply) came back."""

    def __init__(self, lab):
        self.lab = lab
        self.sel = selectors.DefaultSelector()
        self.sniffers = {}
        self.listeners = {}
        self.seen = set()
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    # -- destination side
    def sniff(self, ns):
        if ns in self.sniffers or ns == self.lab.gw_ns:
            return
        with netns(ns):
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)   # SO_RCVBUFFORCE
            s.bind((HOST_IF, ETH_P_ALL))
        s.setblocking(False)
        self.sniffers[ns] = s
        self.sel.register(s, selectors.EVENT_READ, ('sniff', s))

    def drain_sniffers(self):
        for s in self.sniffers.values():
            self._on_sniff(s)

    def _on_sniff(self, s):
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            k = _parse_frame(data)
            if k:
                self.seen.add(k)

    def listen(self, ns, proto, port, fam):
        key = (ns, proto, port, fam)
        if key in self.listeners or proto == 'icmp':
            return
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        st = socket.SOCK_STREAM if proto == 'tcp' else socket.SOCK_DGRAM
        with netns(ns):
            s = socket.socket(af, st)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == 6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == 'udp':
            if fam == 4:
                s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            else:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s.bind(('0.0.0.0' if fam == 4 else '::', port))
        if proto == 'tcp':
            s.listen(4096)
        s.setblocking(False)
        self.listeners[key] = s
        self.sel.register(s, selectors.EVENT_READ, ('accept' if proto == 'tcp' else 'uecho', s))

    def _on_accept(self, s):
        while True:
            try:
                c, _ = s.accept()
            except BlockingIOError:
                return
            c.setblocking(False)
            self.sel.register(c, selectors.EVENT_READ, ('techo', c))

    def _on_techo(self, c):
        try:
            d = c.recv(65535)
        except (BlockingIOError, ConnectionError):
            d = b''
        if d:
            try:
                c.send(d)
                return
            except OSError:
                pass
        self.sel.unregister(c)
        c.close()

    def _on_uecho(self, s):
        """Echo from the address the datagram was sent to, so that the reply
        belongs to the same conntrack entry on a host with many addresses."""
        while True:
            try:
                d, anc, _, peer = s.recvmsg(65535, 256)
            except BlockingIOError:
                return
            out = []
            for lvl, typ, val in anc:
                if lvl == socket.IPPROTO_IP and typ == IP_PKTINFO:
                    out = [(lvl, typ, val[:4] + val[8:12] + b'\0' * 4)]
                elif lvl == socket.IPPROTO_IPV6 and typ == socket.IPV6_PKTINFO:
                    out = [(lvl, typ, val)]
            try:
                s.sendmsg([d], out, 0, peer)
            except OSError:
                pass

    # -- source side
    def _start(self, i, p, token):
        fam = ipaddress.ip_address(p['dst']).version
        af = socket.AF_INET if fam == 4 else socket.AF_INET6
        proto = p['proto']
        with netns(p['src_ns']):
            if proto == 'tcp':
                s = socket.socket(af, socket.SOCK_STREAM)
            elif proto == 'udp':
                s = socket.socket(af, socket.SOCK_DGRAM)
            else:
                s = socket.socket(af, socket.SOCK_RAW,
                                  socket.IPPROTO_ICMP if fam == 4 else socket.IPPROTO_ICMPV6)
        s.setblocking(False)
        if proto in ('tcp', 'udp'):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((p['src'], 0))
        ident = (p.get('icmp_id_base', 0x4000) + i) & 0xffff
        st = {'sock': s, 'proto': proto, 'token': token, 'fam': fam, 'buf': b'', 'done': False,
              'replied': False, 'echoed': False, 'error': None}
        if proto == 'tcp':
            st['sport'] = s.getsockname()[1]
            err = s.connect_ex((p['dst'], p['dport']))
            if err not in (0, errno.EINPROGRESS):
                st.update(done=True, error=os.strerror(err))
                return st
            self.sel.register(s, selectors.EVENT_WRITE, ('tcp', i))
        elif proto == 'udp':
            st['sport'] = s.getsockname()[1]
            s.sendto(token, (p['dst'], p['dport']))
            self.sel.register(s, selectors.EVENT_READ, ('udp', i))
        else:
            st['sport'] = ident
            s.sendto(_icmp_echo(fam, ident, 1, token), (p['dst'], 0))
            self.sel.register(s, selectors.EVENT_READ, ('icmp', i))
        return st

    def _finish(self, st):
        if not st['done']:
            st['done'] = True
            try:
                self.sel.unregister(st['sock'])
            except (KeyError, ValueError):
                pass
            st['sock'].close()

    def _on_tcp(self, st, writable):
        s = st['sock']
        if writable:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err == errno.EINPROGRESS:
                return
            if err:
                # a reset is a reply: the SYN got there and its answer came back
                st['replied'] = err == errno.ECONNREFUSED
                st['error'] = os.strerror(err)
                self._finish(st)
                return
            st['replied'] = True
            s.send(st['token'])
            self.sel.modify(s, selectors.EVENT_READ, ('tcp', st['i']))
            return
        try:
            d = s.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            st['error'] = e.strerror
            self._finish(st)
            return
        st['buf'] += d
        if st['buf'] == st['token'] or not d:
            st['echoed'] = st['buf'] == st['token']
            self._finish(st)

    def _on_udp(self, st):
        try:
            d = st['sock'].recv(65535)
        except BlockingIOError:
            return
        except OSError as e:
            st['error'] = e.strerror
            self._finish(st)
            return
        if d == st['token']:
            st.update(replied=True, echoed=True)
            self._finish(st)

    def _on_icmp(self, st):
        while not st['done']:
            try:
                d = st['sock'].recv(65535)
            except BlockingIOError:
                return
            if st['fam'] == 4:
                d = d[(d[0] & 15) * 4:]
            want = 0 if st['fam'] == 4 else 129
            if len(d) >= 8 and d[0] == want and struct.unpack('!H', d[4:6])[0] == st['sport']:
                st.update(replied=True, echoed=d[8:] == st['token'])
                self._finish(st)

    def _dispatch(self, key, mask, states):
        kind, obj = key.data
        if kind == 'sniff':
            self._on_sniff(obj)
        elif kind == 'accept':
            self._on_accept(obj)
        elif kind == 'techo':
            self._on_techo(obj)
        elif kind == 'uecho':
            self._on_uecho(obj)
        elif kind == 'tcp':
            self._on_tcp(states[obj], mask & selectors.EVENT_WRITE)
        elif kind == 'udp':
            self._on_udp(states[obj])
        elif kind == 'icmp':
            self._on_icmp(states[obj])

    def prepare(self, probes):
        for p in probes:
            ns = self.lab.dst_ns(p['dst'])
            if ns:
                self.sniff(ns)
                self.listen(ns, p['proto'], p.get('dport'), ipaddress.ip_address(p['dst']).version)

    def run(self, probes, timeout=0.5):
        """probes: dicts with src_ns, src, dst, proto ('tcp','udp','icmp'),
        dport. Adds 'arrived' (None when the destination is the gateway or
        unknown), 'replied', 'echoed', 'error' to each and returns them."""
        self.prepare(probes)
        self.seen.clear()
        self.drain_sniffers()
        self.seen.clear()
        states = []
        for i, p in enumerate(probes):
            st = self._start(i, p, b'segd-e2e-%d-%d' % (os.getpid(), i))
            st['i'] = i
            states.append(st)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(s['done'] for s in states):
            for key, mask in self.sel.select(max(0.0, deadline - time.monotonic())):
                self._dispatch(key, mask, states)
        time.sleep(0.02)
        self.drain_sniffers()
        for p, st in zip(probes, states):
            self._finish(st)
            ns = self.lab.dst_ns(p['dst'])
            k = (p['proto'], _norm(p['src']), _norm(p['dst']), st['sport'],
                 p.get('dport') or 0)
            p['arrived'] = (k in self.seen) if ns and ns != self.lab.gw_ns else None
            p['replied'], p['echoed'], p['error'] = st['replied'], st['echoed'], st['error']
        return probes

    def close(self):
        for s in list(self.sniffers.values()) + list(self.listeners.values()):
            s.close()
        self.sel.close()


def passed(p):
    """What 'the flow passed with its replies' means for each protocol."""
    if p['proto'] == 'tcp':
        return p['echoed'] or (p['replied'] and p['error'] is not None)
    return p['echoed']


def describe(p):
    svc = p['proto'] if p['proto'] == 'icmp' else '%s/%d' % (p['proto'], p['dport'])
    return '%s -> %s %s' % (p['src'], p['dst'], svc)


# ---------------------------------------------------------------- probes judged on evidence

TCP_INFO_TOTAL_RETRANS = 100   # offsetof(struct tcp_info, tcpi_total_retrans)


def tcp_sent(sock):
    """Packets a TCP socket that never got an answer sent: its SYN and the
    SYN's retransmissions (tcp_info.tcpi_total_retrans)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return 1 + struct.unpack_from('=I', info, TCP_INFO_TOTAL_RETRANS)[0]


class AccountedEngine(Engine):
    """An Engine whose run ends on evidence instead of after a fixed time.

    Each probe carries 'expect' (the decision function's verdict). A probe
    expected to pass is judged by its own answer: the run waits for it. A
    probe expected to be dropped is judged by the table's drop counters: the
    run waits until they have risen, per counter key, by exactly the packets
    those probes sent -- one datagram for UDP and ICMP, the SYN and its
    retransmissions for TCP (from TCP_INFO, so a machine slow enough for a
    retransmission after 1 s counts it on both sides instead of breaking an
    exact count). Then every socket is closed (no more retransmissions) and
    the counters must match the final packet counts once more. A ceiling only
    bounds a failure (a probe that passed although denied, one dropped
    although allowed): the caller's assertions then show it."""

    def _finish(self, st):
        if not st['done'] and st['proto'] == 'tcp':
            try:
                st['sent'] = tcp_sent(st['sock'])
            except OSError:
                st['sent'] = 1
        super()._finish(st)

    @staticmethod
    def _sent(st):
        if st['proto'] != 'tcp':
            return 1
        if st['done']:
            return st.get('sent', 0)   # done in _start: connect() failed, no SYN
        return tcp_sent(st['sock'])

    def run_accounted(self, probes, key, counters, ceiling=60.0, poll=0.05):
        """probes as for run(), each with 'expect'; key(p): the counter key
        under which a dropped probe p is counted; counters(): {key: packets}
        now. Adds 'arrived', 'replied', 'echoed', 'error' and 'sent' (packets
        the probe sent) to each; returns True when the evidence was complete
        before the ceiling."""
        self.prepare(probes)
        self.seen.clear()
        self.drain_sniffers()
        self.seen.clear()
        base = counters()
        states = []
        for i, p in enumerate(probes):
            st = self._start(i, p, b'segd-e2e-%d-%d' % (os.getpid(), i))
            st['i'] = i
            states.append(st)

        def balanced():
            want = {}
            for p, st in zip(probes, states):
                if not p['expect']:
                    k = key(p)
                    want[k] = want.get(k, 0) + self._sent(st)
            now = counters()   # read after the packet counts: a late retransmission only delays
            return all(now.get(k, 0) - base.get(k, 0) == want.get(k, 0) for k in set(want) | set(now))

        end = time.monotonic() + ceiling
        settled = False
        while time.monotonic() < end:
            if all(st['done'] for p, st in zip(probes, states) if p['expect']):
                if balanced():
                    settled = True
                    break
            for k, mask in self.sel.select(max(0.0, min(poll, end - time.monotonic()))):
                self._dispatch(k, mask, states)
        for st in states:
            self._finish(st)
        if settled:   # the packet counts are final now: the counters must agree with them
            settled = False
            while time.monotonic() < end:
                if balanced():
                    settled = True
                    break
                time.sleep(poll)
        self.drain_sniffers()
        for p, st in zip(probes, states):
            ns = self.lab.dst_ns(p['dst'])
            k = (p['proto'], _norm(p['src']), _norm(p['dst']), st['sport'],
                 p.get('dport') or 0)
            p['arrived'] = (k in self.seen) if ns and ns != self.lab.gw_ns else None
            p['replied'], p['echoed'], p['error'] = st['replied'], st['echoed'], st['error']
            p['sent'] = self._sent(st)
        return settled
