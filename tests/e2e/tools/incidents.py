#!/usr/bin/python3
"""incidents.py - forbidden traffic with exact packet counts, and what segd
must have made of it (issue 4): journal entries, spool lines, segctl
incidents, the accounting equation.

  incidents.py window CONFIG OUT SECONDS
        a copy of CONFIG with settings.incident_window = SECONDS (line
        numbers kept)
  incidents.py plan RUNDIR OUT.json
        the forbidden flows of the lab, chosen from the configuration: for
        each event kind (denied between two zones, the model guard, spoofed
        source, to the gateway), IPv4 and IPv6, TCP, UDP and ICMP; each with
        its own packet count, expected zones, priority, interfaces; plus
        allowed flows (conduits) that must make no incident
  incidents.py send RUNDIR FLOWS.json [--only NAME] [--first N] [--count C]
        sends the flows as crafted Ethernet frames from the source hosts
        (AF_PACKET): exactly 'count' packets each, so that SEGD_PACKETS can
        be compared with what was sent
  incidents.py rounds FLOWS.json COUNT NAME|#N...
        notes another window of COUNT packets for the named (or first N) flows
  incidents.py queries SEGCTL CONF SPOOL SINCE
        TAP: segctl incidents --json/--zone/--event/--since against the spool
  incidents.py restart SPOOL_BEFORE SPOOL JOURNAL.jsonl
        TAP: a restart kept, did not repeat, and did not lose incidents
  incidents.py check-journal RUNDIR FLOWS.json JOURNAL.jsonl SPOOL [--rounds R]
        TAP: one entry per flow and round with exactly the contract's fields
  incidents.py frames RUNDIR OUT [--letter M|D] [--pair N] [--fam F] [--proto P] [--distinct N] [--heavy]
        frames for tools/flood.c: many distinct flows of one zone pair, and
        one heavy flow interleaved with them
  incidents.py flood-check JOURNAL.jsonl SENDER.json... [--windows W]
        TAP: entries within the bound, overflow incidents, the heavy flow
  incidents.py notify SOCKET LOG          an sd_notify listener ('MONOTONIC MESSAGE' lines)
  incidents.py watchdog LOG SINCE UNTIL MAX_GAP
        TAP: WATCHDOG=1 came at most MAX_GAP s apart between SINCE and UNTIL
  incidents.py jevents JOURNAL.jsonl EVENT   count of entries, sum of SEGD_DROPPED
  incidents.py status-get SEGCTL CONF KEY...  fields of segctl status --json ('-' if empty)
  incidents.py accounting RUNDIR SEGCTL CONF [--save STATUS.json]
        TAP: kernel drop counters == packets in incidents + not sampled
  incidents.py drops RUNDIR               the sum of the kernel's drop counters
  incidents.py settle RUNDIR SEGCTL CONF [--base N] [--delivered] [--timeout S]
        waits until segd has every record the kernel's drop counters counted
        (packets in incidents + not sampled == the counters minus N, their
        sum when this segd started; the counters stand still) and, without --delivered, has closed every incident and handed
        every journal entry to journald (incidents_open, journal_pending 0);
        exit 1 at the ceiling (default 120 s)

Frames are sent to the gateway's MAC of the source host's link, so neither
ARP nor neighbour discovery is involved; IPv4 header checksums and the TCP,
UDP, ICMP and ICMPv6 checksums are correct.
"""
import argparse
import ipaddress
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import libconf  # noqa: E402
import netlab   # noqa: E402

ETH_P_ALL = 0x0003
EVENT_OF = {'D': 'flow-denied', 'M': 'flow-denied', 'U': 'flow-denied', 'S': 'spoofed-source',
            'G': 'to-gateway'}
REASON_OF = {'D': 'no-conduit', 'M': 'model-guard', 'U': 'unzoned-interface', 'S': 'spoof-check',
             'G': 'gateway-policy'}
MESSAGE_ID = {'flow-denied': '6c4adeefc8ef443f8ce94bb12b9b459e',
              'spoofed-source': 'df2f1a8877044e93966d01bfd19ed0c3',
              'to-gateway': '367ccd5ece284adb909c0bbeaa6b04c1'}
ISO_UTC = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$')
OUTSIDE = ('internet', 'external')


def say(ok, msg):
    print('%s - %s' % ('ok' if ok else 'not ok', msg), flush=True)
    return ok


def priority(kind_a, kind_b):
    if 'mynumber' in (kind_a, kind_b):
        return 2
    if (kind_a == 'lgwan' and kind_b in OUTSIDE) or (kind_b == 'lgwan' and kind_a in OUTSIDE):
        return 3
    return 4

# ---------------------------------------------------------------- config copy


def cmd_window(a):
    text = open(a.config, encoding='utf-8').read()
    cfg = libconf.loads(text)
    st = cfg.get('settings')
    if st is None:
        text = 'settings = { incident_window = %d; };\n' % a.seconds + text
    else:
        s, e = st['__span__']
        inner = re.sub(r'\bincident_window\s*[=:]\s*[0-9]+\s*[;,]?', '', text[s + 1:e - 1])
        text = text[:s + 1] + ' incident_window = %d;' % a.seconds + inner + text[e - 1:]
    with open(a.out, 'w', encoding='utf-8') as f:
        f.write(text)

# ---------------------------------------------------------------- frames


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def l4_bytes(f, src, dst, fam):
    """The transport header (and a small payload) with its checksum."""
    proto = f['proto']
    payload = b'segd-e2e'
    if proto == 'tcp':
        hdr = struct.pack('!HHIIBBHHH', f['sport'], f['dport'], 1, 0, 5 << 4, 0x02, 64240, 0, 0)
        num, body = 6, hdr
    elif proto == 'udp':
        body = struct.pack('!HHHH', f['sport'], f['dport'], 8 + len(payload), 0) + payload
        num = 17
    else:
        typ = 8 if fam == 4 else 128
        body = struct.pack('!BBHHH', typ, 0, 0, f['sport'], 1) + payload
        num = 1 if fam == 4 else 58
    if fam == 4:
        pseudo = src + dst + struct.pack('!BBH', 0, num, len(body))
    else:
        pseudo = src + dst + struct.pack('!IxxxB', len(body), num)
    ck = csum(body) if num == 1 else csum(pseudo + body)
    if num == 17 and ck == 0:
        ck = 0xffff
    off = {6: 16, 17: 6, 1: 2, 58: 2}[num]
    return num, body[:off] + struct.pack('!H', ck) + body[off + 2:]


def frame(f):
    fam = ipaddress.ip_address(f['src']).version
    src = ipaddress.ip_address(f['src']).packed
    dst = ipaddress.ip_address(f['dst']).packed
    num, l4 = l4_bytes(f, src, dst, fam)
    if fam == 4:
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(l4), 0x1234, 0x4000, 64, num, 0, src, dst)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        et = 0x0800
    else:
        ip = struct.pack('!IHBB16s16s', 6 << 28, len(l4), num, 64, src, dst)
        et = 0x86DD
    mac = lambda m: bytes(int(x, 16) for x in m.split(':'))   # noqa: E731
    return mac(f['mac_gw']) + mac(f['mac_host']) + struct.pack('!H', et) + ip + l4


def packet_socket(ns):
    with netlab.netns(ns):
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((netlab.HOST_IF, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s

# ---------------------------------------------------------------- the flows


def load_lab(rundir):
    return netlab.Lab(netlab.load_plan(os.path.join(rundir, 'lab.json')))


def zone_addr(zd, fam):
    return zd['ordinary'].get(fam)


def foreign_addr(lab, zd, fam):
    """An address of another zone (or of no zone), to spoof from zd."""
    for other in lab.zones():
        if other['name'] != zd['name'] and fam in other['ordinary']:
            a = ipaddress.ip_address(other['ordinary'][fam]) + 97
            return str(a)
    return str(netlab.NOZONE[fam].network_address + 7)


def mkflow(name, sz, dz, fam, src, dst, proto, dport, letter, kinds, sport):
    h = sz['hosts'][0]
    return {'name': name, 'letter': letter, 'event': EVENT_OF[letter],
            'src_zone': sz['name'], 'dst_zone': dz['name'] if dz else None,
            'src_ns': h['ns'], 'mac_gw': h['mac_gw'], 'mac_host': h['mac_host'],
            'in': h['gw_if'], 'out': dz['hosts'][0]['gw_if'] if dz and letter != 'G' else None,
            'src': src, 'dst': dst, 'proto': proto, 'dport': dport if proto != 'icmp' else None,
            'sport': sport, 'fam': fam,
            'priority': priority(kinds[0], kinds[1]) if dz else priority(kinds[0], None)}


def pair_cases(lab, model):
    """(letter, source zone, destination zone) of zone pairs without any conduit
    between them, guarded pairs first."""
    conduit_pairs = {(c['from'], c['to']) for c in model.conduits}
    out = []
    for za in lab.zones():
        for zb in lab.zones():
            if za is zb or (za['name'], zb['name']) in conduit_pairs:
                continue
            guarded = za['kind'] == 'mynumber' and zb['kind'] in OUTSIDE or \
                zb['kind'] == 'mynumber' and za['kind'] in OUTSIDE
            out.append(('M' if guarded else 'D', za, zb))
    # the contract's own example first: mynumber -> internet
    out.sort(key=lambda c: (c[0] != 'M', c[1]['kind'] != 'mynumber', c[2]['kind'] != 'internet',
                            c[1]['name'], c[2]['name']))
    return out


def gw_closed_port(zd, proto):
    used = {s for s in zd.get('gw_services', [])}
    for p in (23, 24, 161, 5000):
        if '%s/%d' % (proto, p) not in used:
            return p
    return 6000


def cmd_plan(a):
    lab = load_lab(a.rundir)
    model = netlab.Model(lab.plan['config'])
    kind = {z['name']: z['kind'] for z in lab.zones()}
    flows = []
    protos = ['tcp', 'udp', 'icmp']
    sport = 40100
    # denied and guarded zone pairs: vary family and protocol over the pairs
    cases = pair_cases(lab, model)
    picks = [c for c in cases if c[0] == 'M'][:3] + [c for c in cases if c[0] == 'D'][:6]
    for i, (letter, za, zb) in enumerate(picks):
        fam = 4 if i % 2 == 0 else 6
        if fam not in za['ordinary'] or fam not in zb['ordinary']:
            fam = 10 - fam
        if fam not in za['ordinary'] or fam not in zb['ordinary']:
            continue
        proto = protos[i % 3]
        sport += 1
        flows.append(mkflow('%s %s->%s %s/v%d' % (letter, za['name'], zb['name'], proto, fam), za, zb, fam,
                            za['ordinary'][fam], zb['ordinary'][fam], proto, 443 + i, letter,
                            (kind[za['name']], kind[zb['name']]), sport))
    # spoofed sources: from each zone's host, an address of another zone
    for i, za in enumerate(lab.zones()):
        zb = next(z for z in lab.zones() if z is not za)
        fam = 4 if i % 2 == 0 else 6
        if fam not in za['ordinary'] or fam not in zb['ordinary']:
            continue
        proto = protos[i % 3]
        sport += 1
        flows.append(mkflow('S %s->%s %s/v%d' % (za['name'], zb['name'], proto, fam), za, zb, fam,
                            foreign_addr(lab, za, fam), zb['ordinary'][fam], proto, 514, 'S',
                            (kind[za['name']], kind[zb['name']]), sport))
    # to the gateway: each zone, a port it does not open
    for i, za in enumerate(lab.zones()):
        fam = 6 if i % 2 == 0 else 4
        if fam not in za['gw']:
            continue
        proto = protos[(i + 1) % 3]
        sport += 1
        f = mkflow('G %s->gateway %s/v%d' % (za['name'], proto, fam), za, None, fam,
                   za['ordinary'][fam], za['gw'][fam], proto, gw_closed_port(za, proto), 'G',
                   (kind[za['name']], None), sport)
        flows.append(f)
    for i, f in enumerate(flows):
        f['count'] = 3 + 2 * i            # every flow its own packet count
    with open(a.out, 'w') as fh:
        json.dump({'flows': flows, 'allowed': allowed_flows(lab, model)}, fh, indent=1)
    print('%d forbidden flows, %d allowed' % (len(flows), len(json.load(open(a.out))['allowed'])))


def allowed_flows(lab, model):
    """Each conduit's first tcp/udp service between its own endpoints."""
    from enforce import conduit_probes
    return [{'src_ns': za['hosts'][0]['ns'], 'src': src, 'dst': dst, 'proto': proto, 'dport': port,
             'conduit': c['name']}
            for c, za, zb, src, dst, proto, port in conduit_probes(lab, model)]


def cmd_rounds(a):
    """Records that the named flows (or the first N: '#N') get another window
    of 'count' packets; prints their names, one a line."""
    doc = json.load(open(a.flows))
    names = []
    for n in a.names:
        names += [f['name'] for f in doc['flows'][:int(n[1:])]] if n.startswith('#') else [n]
    for f in doc['flows']:
        if f['name'] in names:
            f.setdefault('rounds', [f['count']]).append(a.count)
            print(f['name'])
    with open(a.flows, 'w') as fh:
        json.dump(doc, fh, indent=1)


def cmd_send(a):
    flows = json.load(open(a.flows))['flows']
    lab = load_lab(a.rundir)
    socks = {}
    if a.first:
        flows = flows[:a.first]
    for f in flows:
        if a.only and f['name'] not in a.only:
            continue
        if f['src_ns'] not in socks:
            socks[f['src_ns']] = packet_socket(f['src_ns'])
        fr = frame(f)
        for _ in range(a.count if a.count else f['count']):
            socks[f['src_ns']].send(fr)
    for s in socks.values():
        s.close()
    del lab


def cmd_allowed(a):
    """Sends the allowed flows with the traffic engine; prints how many passed."""
    allowed = json.load(open(a.flows))['allowed']
    lab = load_lab(a.rundir)
    eng = netlab.Engine(lab)
    probes = [dict(p) for p in allowed]
    eng.run(probes, timeout=1.0)
    eng.close()
    n = sum(1 for p in probes if p['arrived'] and netlab.passed(p))
    say(n == len(probes), 'allowed flows pass (%d of %d): %s' % (
        n, len(probes), ', '.join(netlab.describe(p) for p in probes if not (p['arrived'] and netlab.passed(p)))
        or 'all'))

# ---------------------------------------------------------------- checks


def expected_fields(f, packets):
    """The journal fields of an incident of flow f, as the contract lists them."""
    fam = f['fam']
    src, dst = str(ipaddress.ip_address(f['src'])), str(ipaddress.ip_address(f['dst']))
    proto = f['proto'] if f['proto'] != 'icmp' else ('icmp' if fam == 4 else 'icmpv6')
    e = {'MESSAGE_ID': MESSAGE_ID[f['event']], 'PRIORITY': str(f['priority']), 'SYSLOG_IDENTIFIER': 'segd',
         'SEGD_EVENT': f['event'], 'SEGD_REASON': REASON_OF[f['letter']], 'SEGD_SRC_ZONE': f['src_zone'],
         'SEGD_SRC': src, 'SEGD_DST': dst, 'SEGD_PROTO': proto, 'SEGD_PACKETS': str(packets),
         'SEGD_IN': f['in']}
    if f['dst_zone'] and f['letter'] != 'G':
        e['SEGD_DST_ZONE'] = f['dst_zone']
    if f['out']:
        e['SEGD_OUT'] = f['out']
    if f['proto'] == 'icmp':
        e['SEGD_ICMP_TYPE'] = '8' if fam == 4 else '128'
        e['SEGD_ICMP_CODE'] = '0'
    else:
        e['SEGD_SPORT'] = str(f['sport'])
        e['SEGD_DPORT'] = str(f['dport'])
    e['MESSAGE'] = message(f, src, dst, proto, packets)
    return e


def message(f, src, dst, proto, packets):
    lead = {'D': 'denied', 'M': 'denied', 'S': 'spoofed source', 'G': 'to the gateway',
            'U': 'denied (unzoned interface)'}[f['letter']]
    to = f['dst_zone'] if f['letter'] != 'G' else 'gateway'
    if f['proto'] == 'icmp':
        flow = '%s %s → %s type %s code 0' % (proto, src, dst, 8 if f['fam'] == 4 else 128)
    else:
        ep = (lambda a, p: '[%s]:%d' % (a, p)) if f['fam'] == 6 else (lambda a, p: '%s:%d' % (a, p))
        flow = '%s %s → %s' % (proto, ep(src, f['sport']), ep(dst, f['dport']))
    return '%s %s → %s: %s (%d packet%s)' % (lead, f['src_zone'], to, flow, packets, '' if packets == 1 else 's')


# fields every incident entry has besides the expected ones (journald's own
# trusted fields start with '_' or '__' and are ignored)
ALWAYS = {'SEGD_FIRST', 'SEGD_LAST', 'SEGD_INCIDENT_ID'}


def own_fields(entry):
    return {k: v for k, v in entry.items() if not k.startswith('_')}


def match_key(entry):
    return (entry.get('SEGD_SRC'), entry.get('SEGD_DST'), entry.get('SEGD_PROTO'),
            entry.get('SEGD_DPORT') or entry.get('SEGD_ICMP_TYPE'), entry.get('SEGD_EVENT'))


def flow_key(f):
    e = expected_fields(f, 0)
    return (e['SEGD_SRC'], e['SEGD_DST'], e['SEGD_PROTO'], e.get('SEGD_DPORT') or e.get('SEGD_ICMP_TYPE'),
            e['SEGD_EVENT'])


def read_jsonl(path):
    out = []
    with open(path, encoding='utf-8', errors='replace') as fh:
        for line in fh:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    out.append({'__unparsable__': line})
    return out


def iso_ok(v):
    return isinstance(v, str) and ISO_UTC.match(v) is not None


def check_entry(f, entry, packets, where):
    """Compares one journal entry (or spool object, where='spool') with the
    contract: exactly the expected fields, no more, no fewer."""
    exp = expected_fields(f, packets)
    got = own_fields(entry)
    if where == 'spool':
        exp = {spool_key(k): (int(v) if spool_key(k) in NUMERIC else v) for k, v in exp.items()}
        always = {spool_key(k) for k in ALWAYS}
    else:
        always = ALWAYS
    problems = []
    for k, v in exp.items():
        if got.get(k) != v:
            problems.append('%s=%r (want %r)' % (k, got.get(k), v))
    extra = set(got) - set(exp) - always
    if extra:
        problems.append('unexpected fields %s' % sorted(extra))
    first, last = (got.get('first'), got.get('last')) if where == 'spool' else \
        (got.get('SEGD_FIRST'), got.get('SEGD_LAST'))
    if not (iso_ok(first) and iso_ok(last) and first <= last):
        problems.append('first/last %r %r not ISO 8601 UTC in order' % (first, last))
    elif abs(epoch(first) - time.time()) > 120:
        problems.append('first %r is not the time the packets were sent (now %s)' % (first, iso_now()))
    return problems


def epoch(iso):
    import datetime
    return datetime.datetime.fromisoformat(iso.replace('Z', '+00:00')).timestamp()


def iso_now():
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())


NUMERIC = {'priority', 'packets', 'sport', 'dport', 'icmp_type', 'icmp_code', 'incident_id', 'folded',
           'fragment'}


def spool_key(k):
    k = k[5:] if k.startswith('SEGD_') else k
    return k.lower()


def cmd_check_journal(a):
    flows = json.load(open(a.flows))['flows']
    journal = [e for e in read_jsonl(a.journal) if e.get('SEGD_EVENT') in MESSAGE_ID]
    spool = [e for e in read_jsonl(a.spool) if e.get('event') in MESSAGE_ID] if os.path.exists(a.spool) else []
    by_key = {}
    for e in journal:
        by_key.setdefault(match_key(e), []).append(e)
    sp_key = {}
    for e in spool:
        k = (e.get('src'), e.get('dst'), e.get('proto'), str(e.get('dport') or e.get('icmp_type')), e.get('event'))
        sp_key.setdefault(k, []).append(e)
    for f in flows:
        k = flow_key(f)
        got = sorted(by_key.get(k, []), key=lambda e: int(e.get('SEGD_INCIDENT_ID', 0)))
        rounds = f.get('rounds', [f['count']])
        if not say(len(got) == len(rounds), '%s: %d journal entries (one per window), want %d' % (
                f['name'], len(got), len(rounds))):
            for e in got:
                print('   got: %s' % e.get('MESSAGE'))
            continue
        for i, (e, n) in enumerate(zip(got, rounds)):
            p = check_entry(f, e, n, 'journal')
            say(not p, '%s window %d: journal entry has exactly the contract fields%s' % (
                f['name'], i + 1, ': ' + '; '.join(p) if p else ' (%s)' % e['MESSAGE']))
        sgot = sorted(sp_key.get(k, []), key=lambda e: e.get('incident_id', 0))
        ids_j = [int(e['SEGD_INCIDENT_ID']) for e in got]
        ids_s = [e.get('incident_id') for e in sgot]
        if not say(ids_s == ids_j, '%s: the same incidents in the spool (ids %s, journal %s)' % (
                f['name'], ids_s, ids_j)):
            continue
        for i, (e, n) in enumerate(zip(sgot, rounds)):
            p = check_entry(f, e, n, 'spool')
            if p:
                say(False, '%s window %d: spool line: %s' % (f['name'], i + 1, '; '.join(p)))
    ids = [int(e['SEGD_INCIDENT_ID']) for e in journal]
    say(len(ids) == len(set(ids)), 'incident ids are unique (%d entries)' % len(ids))
    known = {flow_key(f) for f in flows}
    stray = [e.get('MESSAGE') for e in journal if match_key(e) not in known]
    say(not stray, 'no incident for anything but the forbidden flows sent%s' % (
        ': ' + '; '.join(stray[:5]) if stray else ''))


def spool_incidents(path):
    return [e for e in read_jsonl(path) if e.get('event') in MESSAGE_ID] if os.path.exists(path) else []


def run_segctl(segctl, conf, args):
    r = subprocess.run([segctl, '-c', conf] + args, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def cmd_queries(a):
    """segctl incidents with --zone, --event, --since, --json against the spool read here."""
    spool = spool_incidents(a.spool)
    ids = lambda es: sorted(e['incident_id'] for e in es)   # noqa: E731
    rc, out, err = run_segctl(a.segctl, a.conf, ['incidents', '--json'])
    got = [json.loads(x) for x in out.splitlines() if x.strip()]
    say(rc == 0 and ids([e for e in got if e.get('event') in MESSAGE_ID]) == ids(spool),
        'segctl incidents --json lists every incident of the spool (%d, exit %d)%s' % (
            len(got), rc, err.strip()))
    zones = sorted({e.get('src_zone') for e in spool} | {e.get('dst_zone') for e in spool} - {None})
    for z in zones:
        rc, out, err = run_segctl(a.segctl, a.conf, ['incidents', '--json', '--zone', z])
        got = [json.loads(x) for x in out.splitlines() if x.strip()]
        want = [e for e in spool if z in (e.get('src_zone'), e.get('dst_zone'))]
        say(rc == 0 and ids(got) == ids(want), 'segctl incidents --zone %s: %d incidents, want %d' % (
            z, len(got), len(want)))
    for ev in MESSAGE_ID:
        rc, out, err = run_segctl(a.segctl, a.conf, ['incidents', '--json', '--event', ev])
        got = [json.loads(x) for x in out.splitlines() if x.strip()]
        want = [e for e in spool if e['event'] == ev]
        say(rc == 0 and ids(got) == ids(want) and want, 'segctl incidents --event %s: %d incidents, want %d' % (
            ev, len(got), len(want)))
    rc, out, err = run_segctl(a.segctl, a.conf, ['incidents', '--json', '--since', a.since])
    got = [json.loads(x) for x in out.splitlines() if x.strip()]
    want = [e for e in spool if e['last'] >= a.since]
    say(rc == 0 and ids(got) == ids(want) and 0 < len(want) < len(spool),
        'segctl incidents --since %s: %d incidents (the later windows), want %d of %d' % (
            a.since, len(got), len(want), len(spool)))
    rc, out, err = run_segctl(a.segctl, a.conf, ['incidents', '--since', a.since])
    lines = [x for x in out.splitlines() if x.strip()]
    say(rc == 0 and all(any(e['message'] in x for x in lines) for e in want),
        'segctl incidents --since (text) shows each incident\'s message (%d lines)' % len(lines))
    print('\n'.join('   | ' + x for x in lines[:6]))


def cmd_restart(a):
    """After a restart: the spool holds the lines of before unchanged, ids
    increase, none twice, and journal and spool hold the same incidents."""
    before = [json.dumps(e, sort_keys=True) for e in spool_incidents(a.before)]
    now = spool_incidents(a.spool)
    now_s = [json.dumps(e, sort_keys=True) for e in now]
    say(now_s[:len(before)] == before, 'restart: the %d spool lines of before are kept as they were' % len(before))
    ids = [e['incident_id'] for e in now]
    say(all(x < y for x, y in zip(ids, ids[1:])), 'restart: incident ids increase across the restart (%d)' % len(ids))
    journal = [e for e in read_jsonl(a.journal) if e.get('SEGD_EVENT') in MESSAGE_ID]
    jids = sorted(int(e['SEGD_INCIDENT_ID']) for e in journal)
    say(jids == sorted(ids), 'restart: journal and spool hold the same %d incidents (journal %d), none '
        'twice, none lost' % (len(ids), len(jids)))


def cmd_frames(a):
    """Frames for flood.c: zone pair number a.pair of pair_cases of the prefix
    letter a.letter (M: guarded pairs, D: pairs without a conduit), a.distinct flows (destination ports 1024 up, then further
    destination addresses), and with --heavy one flow interleaved with them
    (frame 0, every other frame). Writes OUT (frames) and OUT.json (what was
    chosen); prints the source namespace."""
    lab = load_lab(a.rundir)
    model = netlab.Model(lab.plan['config'])
    kind = {z['name']: z['kind'] for z in lab.zones()}
    cases = [c for c in pair_cases(lab, model) if a.fam in c[1]['ordinary'] and a.fam in c[2]['ordinary']]
    cases = [c for c in cases if c[0] == a.letter] or cases
    letter, za, zb = cases[a.pair % len(cases)]
    kinds = (kind[za['name']], kind[zb['name']])
    base = ipaddress.ip_address(zb['ordinary'][a.fam])
    heavy = mkflow('heavy', za, zb, a.fam, za['ordinary'][a.fam], str(base), 'tcp', 443, letter, kinds, 40000)
    frames = []
    for i in range(a.distinct):
        dst = str(base + i // 60000)
        f = mkflow('d', za, zb, a.fam, za['ordinary'][a.fam], dst, a.proto, 1024 + i % 60000, letter, kinds,
                   50000)
        if a.heavy:
            frames.append(frame(heavy))
        frames.append(frame(f))
    with open(a.out, 'wb') as fh:
        for fr in frames:
            fh.write(struct.pack('!H', len(fr)) + fr)
    with open(a.out + '.json', 'w') as fh:
        json.dump({'heavy': heavy if a.heavy else None, 'letter': letter, 'from': za['name'],
                   'to': zb['name'], 'distinct': a.distinct, 'ns': za['hosts'][0]['ns']}, fh, indent=1)
    print(za['hosts'][0]['ns'])


def cmd_flood_check(a):
    """TAP: after the flood, the journal entries are within the bound, the
    overflow incidents say how many flows they folded, the heavy flow is one
    incident with every packet sent."""
    senders = [json.load(open(p)) for p in a.senders]
    journal = [e for e in read_jsonl(a.journal) if e.get('SEGD_EVENT') in MESSAGE_ID]
    bound = a.max_open + a.max_overflow + 5
    say(len(journal) <= bound * a.windows, 'journal entries bounded: %d incidents <= %d per window x %d '
        'window(s)' % (len(journal), bound, a.windows))
    flows = [e for e in journal if 'SEGD_FOLDED' not in e]
    ovf = [e for e in journal if 'SEGD_FOLDED' in e]
    distinct = sum(s['distinct'] for s in senders) + sum(1 for s in senders if s['heavy'])
    folded = sum(int(e['SEGD_FOLDED']) for e in ovf)
    print('%d flow incidents, %d overflow incidents folding %d flows (estimate); %d distinct flows sent' % (
        len(flows), len(ovf), folded, distinct))
    for e in ovf[:4]:
        print('   | %s' % e['MESSAGE'])
    say(ovf and all('%s more flows folded' % e['SEGD_FOLDED'] in e['MESSAGE'] for e in ovf),
        'overflow incidents say in MESSAGE and SEGD_FOLDED how many flows they folded')
    if a.windows == 1:
        say(len(flows) <= a.max_open and abs(len(flows) + folded - distinct) <= 0.05 * distinct,
            'flows in incidents (%d) + folded (%d) = distinct flows sent (%d) within 5%%' % (
                len(flows), folded, distinct))
    for s in senders:
        if not s['heavy']:
            continue
        k = flow_key(s['heavy'])
        got = [e for e in flows if match_key(e) == k]
        n = sum(int(e['SEGD_PACKETS']) for e in got)
        say(len(got) == a.windows and n == s['heavy_sent'] - a.unsampled_ok,
            'the heavy flow is %d incident(s) of %d packets (sent %d)' % (len(got), n, s['heavy_sent']))


def segd_status(segctl, conf):
    rc, out, err = run_segctl(segctl, conf, ['--json', 'status'])
    if rc not in (0, 1):
        raise RuntimeError('segctl status: exit %d: %s' % (rc, err.strip()))
    return json.loads(out)


def cmd_accounting(a):
    """Reads the kernel's counters, segd's totals, the counters again, until
    the counters did not move in between (stray packets), then compares. The
    60 s ceiling only bounds a failure (an ASan segd on a loaded machine)."""
    lab = load_lab(a.rundir)
    end = time.monotonic() + 60
    while True:
        c1 = sum(netlab.drop_counters(lab.gw_ns, lab.plan['table']).values())
        st = segd_status(a.segctl, a.conf)
        c2 = sum(netlab.drop_counters(lab.gw_ns, lab.plan['table']).values())
        if c1 == c2 and int(st['packets_in_incidents']) + int(st['not_sampled']) == c1:
            break
        if time.monotonic() > end:
            break
        time.sleep(0.2)
    if a.save:
        with open(a.save, 'w') as fh:
            json.dump(st, fh)
    kernel, inc, ns = c2, int(st['packets_in_incidents']), int(st['not_sampled'])
    print('kernel drop counters %d; segd: %d records, %d packets in incidents + %d not sampled (%d sequence '
          'gaps, %d undecodable), %d socket drops' % (kernel, int(st['records']), inc, ns, int(st['seq_gaps']),
                                                     int(st['undecodable']), int(st.get('socket_drops', 0))))
    say(kernel == inc + ns, 'accounting: kernel drop counters %d == %d in incidents + %d not sampled' % (
        kernel, inc, ns))


def cmd_drops(a):
    lab = load_lab(a.rundir)
    print(sum(netlab.drop_counters(lab.gw_ns, lab.plan['table']).values()))


def cmd_settle(a):
    """Exit 0 once segd has every record the kernel counted as a drop and
    (unless a.delivered) has closed and handed on every incident."""
    lab = load_lab(a.rundir)
    end = time.monotonic() + a.timeout
    while True:
        c1 = sum(netlab.drop_counters(lab.gw_ns, lab.plan['table']).values())
        st = segd_status(a.segctl, a.conf)
        c2 = sum(netlab.drop_counters(lab.gw_ns, lab.plan['table']).values())
        got = int(st['packets_in_incidents']) + int(st['not_sampled'])
        done = c1 == c2 and got == c1 - a.base and (a.delivered or (
            int(st['incidents_open']) == 0 and int(st['journal_pending']) == 0))
        if done:
            return 0
        if time.monotonic() > end:
            print('settle: not settled after %d s: kernel drops %d, segd %d, %s open, %s journal pending' % (
                a.timeout, c2 - a.base, got, st['incidents_open'], st['journal_pending']), file=sys.stderr)
            return 1
        time.sleep(0.05)


def cmd_notify(a):
    """Receives sd_notify datagrams on a.path; writes 'MONOTONIC_S MESSAGE' lines."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(a.path):
        os.unlink(a.path)
    s.bind(a.path)
    with open(a.log, 'a') as out:
        while True:
            d = s.recv(4096).decode(errors='replace')
            for line in d.splitlines():
                out.write('%.3f %s\n' % (time.monotonic(), line))
            out.flush()


def cmd_watchdog(a):
    """TAP: WATCHDOG=1 kept coming between monotonic times a.since and a.until."""
    ts = []
    for line in open(a.log):
        t, _, msg = line.strip().partition(' ')
        if msg == 'WATCHDOG=1' and a.since <= float(t) <= a.until:
            ts.append(float(t))
    gaps = [y - x for x, y in zip([a.since] + ts, ts + [a.until])]
    say(ts and max(gaps) <= a.max_gap, 'WATCHDOG=1 kept coming while journald was stopped: %d in %.1f s, '
        'longest gap %.2f s (limit %.2f s)' % (len(ts), a.until - a.since, max(gaps), a.max_gap))


def cmd_jevents(a):
    """Prints how many entries of SEGD_EVENT a.event the journal holds, and the
    sum of their SEGD_DROPPED."""
    es = [e for e in read_jsonl(a.journal) if e.get('SEGD_EVENT') == a.event]
    print(len(es), sum(int(e.get('SEGD_DROPPED', 0)) for e in es))


def cmd_status_get(a):
    st = segd_status(a.segctl, a.conf)
    print(' '.join(str(st.get(k, '')) if str(st.get(k, '')) else '-' for k in a.keys))


def main():
    p = argparse.ArgumentParser(prog='incidents.py')
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('window')
    s.add_argument('config')
    s.add_argument('out')
    s.add_argument('seconds', type=int)
    s.set_defaults(fn=cmd_window)
    s = sub.add_parser('plan')
    s.add_argument('rundir')
    s.add_argument('out')
    s.set_defaults(fn=cmd_plan)
    s = sub.add_parser('send')
    s.add_argument('rundir')
    s.add_argument('flows')
    s.add_argument('--only', action='append')
    s.add_argument('--count', type=int, default=0)
    s.add_argument('--first', type=int, default=0)
    s.set_defaults(fn=cmd_send)
    s = sub.add_parser('allowed')
    s.add_argument('rundir')
    s.add_argument('flows')
    s.set_defaults(fn=cmd_allowed)
    s = sub.add_parser('check-journal')
    s.add_argument('rundir')
    s.add_argument('flows')
    s.add_argument('journal')
    s.add_argument('spool')
    s.set_defaults(fn=cmd_check_journal)
    s = sub.add_parser('queries')
    s.add_argument('segctl')
    s.add_argument('conf')
    s.add_argument('spool')
    s.add_argument('since')
    s.set_defaults(fn=cmd_queries)
    s = sub.add_parser('restart')
    s.add_argument('before')
    s.add_argument('spool')
    s.add_argument('journal')
    s.set_defaults(fn=cmd_restart)
    s = sub.add_parser('rounds')
    s.add_argument('flows')
    s.add_argument('count', type=int)
    s.add_argument('names', nargs='+')
    s.set_defaults(fn=cmd_rounds)
    s = sub.add_parser('frames')
    s.add_argument('rundir')
    s.add_argument('out')
    s.add_argument('--pair', type=int, default=0)
    s.add_argument('--letter', default='M', help='M: a guarded pair, D: a pair without conduit')
    s.add_argument('--fam', type=int, default=4)
    s.add_argument('--proto', default='udp')
    s.add_argument('--distinct', type=int, default=1000)
    s.add_argument('--heavy', action='store_true')
    s.set_defaults(fn=cmd_frames)
    s = sub.add_parser('flood-check')
    s.add_argument('journal')
    s.add_argument('senders', nargs='+')
    s.add_argument('--max-open', type=int, default=4096)
    s.add_argument('--max-overflow', type=int, default=256)
    s.add_argument('--windows', type=int, default=1)
    s.add_argument('--unsampled-ok', type=int, default=0)
    s.set_defaults(fn=cmd_flood_check)
    s = sub.add_parser('notify')
    s.add_argument('path')
    s.add_argument('log')
    s.set_defaults(fn=cmd_notify)
    s = sub.add_parser('watchdog')
    s.add_argument('log')
    s.add_argument('since', type=float)
    s.add_argument('until', type=float)
    s.add_argument('max_gap', type=float)
    s.set_defaults(fn=cmd_watchdog)
    s = sub.add_parser('jevents')
    s.add_argument('journal')
    s.add_argument('event')
    s.set_defaults(fn=cmd_jevents)
    s = sub.add_parser('status-get')
    s.add_argument('segctl')
    s.add_argument('conf')
    s.add_argument('keys', nargs='+')
    s.set_defaults(fn=cmd_status_get)
    s = sub.add_parser('accounting')
    s.add_argument('rundir')
    s.add_argument('segctl')
    s.add_argument('conf')
    s.add_argument('--save')
    s.set_defaults(fn=cmd_accounting)
    s = sub.add_parser('drops')
    s.add_argument('rundir')
    s.set_defaults(fn=cmd_drops)
    s = sub.add_parser('settle')
    s.add_argument('rundir')
    s.add_argument('segctl')
    s.add_argument('conf')
    s.add_argument('--delivered', action='store_true')
    s.add_argument('--base', type=int, default=0)
    s.add_argument('--timeout', type=float, default=120)
    s.set_defaults(fn=cmd_settle)
    a = p.parse_args()
    sys.exit(a.fn(a))


if __name__ == '__main__':
    main()
