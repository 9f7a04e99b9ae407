#!/bin/bash
# test-gateway.sh - the gateway is a party of the model (issue 13, points 2-4).
#
# The lab of conf/lab.conf with, in phase A ("relay"), udp/53 in the
# gateway_services of the mynumber and the internet zone and no conduit from
# the gateway, and a forwarding "resolver" on the gateway (a UDP relay on
# port 53 that sends each query on to a host of the other side). What the
# relay receives shows that the query reached the gateway (the negative
# control); what the far host receives, and the O counter, show that the
# gateway's output chain stops it — both ways.
#
# Phase B ("egress") reloads with a conduit from the gateway to a cloud DNS
# server (udp/53, 203.0.113.53), link_services = [ "udp/547" ] on lgwan,
# and a management interface: gateway -> cloud udp/53 arrives, tcp/80 to the
# same host is dropped and logged (O); a link-local udp/547 datagram reaches
# the gateway from the lgwan host and not from the mynumber host (L); an
# interface in no zone reaches nothing on the gateway (U), the management
# interface does. Every kernel outcome is compared with `segctl explain`.
source "$(dirname "$0")/lib.sh"
require_root
PIDS=""
CONF_A=$(mktemp /tmp/segd-gw-a.XXXXXX.conf) CONF_B=$(mktemp /tmp/segd-gw-b.XXXXXX.conf)
MGMT_NS=${LAB_PREFIX}mgmt ODD_NS=${LAB_PREFIX}odd
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	ip netns del "$MGMT_NS" 2>/dev/null
	ip netns del "$ODD_NS" 2>/dev/null
	rm -f "$CONF_A" "$CONF_B"
	lab_down
}
trap cleanup EXIT

# the two configurations, from lab.conf
"$PY" - "$TOP/conf/lab.conf" "$CONF_A" "$CONF_B" <<'PY'
import datetime, sys
src, a, b = sys.argv[1:]
expires = (datetime.date.today() + datetime.timedelta(days=300)).isoformat()
t = open(src).read().replace('incident_window = 60;', 'incident_window = 2;')
my = 'networks = [ "10.10.0.0/24", "fd00:10::/64" ]; },'
inet = 'networks = [ "10.30.0.0/24", "fd00:30::/64" ]; },'
lg = 'gateway_services = [ "tcp/22" ]; },'
assert my in t and inet in t and lg in t and 'conduits = (\n' in t
ta = t.replace(my, my[:-3] + '\n    gateway_services = [ "udp/53" ]; },')
ta = ta.replace(inet, inet[:-3] + '\n    gateway_services = [ "udp/53" ]; },')
open(a, 'w').write(ta)
tb = t.replace('settings = {\n', 'settings = {\n  management_interfaces = [ "gw-mgmt" ];\n')
tb = tb.replace(lg, lg[:-3] + '\n    link_services = [ "udp/547" ]; },')
tb = tb.replace('conduits = (\n', '''conduits = (
  { name = "gateway-dns"; kind = "egress"; from = "gateway"; to = "cloud";
    destinations = [ "203.0.113.53" ]; services = [ "udp/53" ];
    approval = "R8-GW-001"; expires = "%s"; },
''' % expires)
open(b, 'w').write(tb)
PY
for c in "$CONF_A" "$CONF_B"; do
	"$SEGCTL" check "$c" >/dev/null 2>&1 || { fail "segctl check $c: $("$SEGCTL" check "$c" 2>&1 | head -3)"; summary; exit 1; }
done
ok "both configurations are valid"

# The lab from B (it names 203.0.113.53, so the cloud host holds it); segd on A first.
lab_up "$CONF_B" || { fail "lab_up"; summary; exit 1; }
MN=$(lab_ns mynumber) LG=$(lab_ns lgwan) IN=$(lab_ns internet) CL=$(lab_ns cloud)
start_segd "$CONF_A" || { fail "segd starts"; summary; exit 1; }
cp "$CONF_B" "$RUN_DIR/conf-b" && "$PY" "$TOOLS/lab.py" localize "$CONF_B" "$RUN_DIR/conf-b" "$RUN_DIR"

counter() {   # counter PREFIX: packets of the drop rule logging PREFIX
	table_listing | awk -v p="log prefix \"$1\"" 'index($0, p) { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}
# listen NS ADDR PORT FILE [PROTO]: a UDP (or TCP) listener that writes what it receives
listen() {
	ip netns exec "$1" "$PY" -u - "$2" "$3" "$4" "${5:-udp}" <<'PY' &
import socket, sys
addr, port, out, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if proto == 'udp' else socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if '%' in addr:
    a, dev = addr.split('%')
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind((a, port, 0, socket.if_nametoindex(dev)))
else:
    s.bind((addr, port))
open(out, 'a').write('listening\n')
if proto == 'tcp':
    s.listen(4)
    while True:
        c, a = s.accept()
        open(out, 'a').write('%s\n' % a[0]); c.close()
while True:
    d, a = s.recvfrom(2048)
    open(out, 'a').write('%s %s\n' % (a[0].split('%')[0], d.decode(errors='replace')))
PY
	PIDS="$PIDS $!"
	wait_until 10 grep -q listening "$4"
}
send() {   # send NS SRC DST PORT TEXT: one UDP datagram
	ip netns exec "$1" "$PY" - "$2" "$3" "$4" "$5" <<'PY'
import socket, sys
src, dst, port, text = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ':' in dst else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
if '%' in dst:
    d, dev = dst.split('%')
    s.bind((src, 0, 0, socket.if_nametoindex(dev))); s.sendto(text.encode(), (d, port, 0, socket.if_nametoindex(dev)))
else:
    s.bind((src, 0)); s.sendto(text.encode(), (dst, port))
PY
}
# incident REASON KEY=VALUE...: the spool holds an incident with that reason and those facts
incident() {
	"$PY" - "$RUN_DIR/incidents.jsonl" "$@" <<'PY'
import json, sys
path, reason, facts = sys.argv[1], sys.argv[2], dict(a.split('=', 1) for a in sys.argv[3:])
try:
    lines = open(path).read().splitlines()
except OSError:
    sys.exit(1)
for l in lines:
    try:
        j = json.loads(l)
    except ValueError:
        continue
    if j.get('reason') == reason and all(str(j.get(k) if j.get(k) is not None else '') == v for k, v in facts.items()):
        sys.exit(0)
sys.exit(1)
PY
}
explains() {   # explains WANT ARGS...: segctl explain (in the gateway) gives verdict WANT
	local got
	got=$(ip netns exec "$LAB_GW" "$SEGCTL" -c "$SEGD_CONF" explain "${@:2}" 2>&1 | awk '/^verdict:/ { print $2, $3 }')
	if [ "${got%% *}" = "$1" ]; then ok "explain ${*:2}: $got"; else fail "explain ${*:2}: '$got', the kernel: $1"; fi
}

heading "A: a forwarding resolver on the gateway relays nothing between mynumber and the Internet side"
MN_HOST=10.10.0.2 IN_HOST=10.30.0.2
ip -n "$MN" -br addr | grep -q "$MN_HOST/" && ip -n "$IN" -br addr | grep -q "$IN_HOST/" ||
	{ fail "the lab has $MN_HOST and $IN_HOST"; summary; exit 1; }
# the relay: port 53 on the gateway's mynumber and internet addresses, each
# datagram sent on to the far side's host, port 5353
ip netns exec "$LAB_GW" "$PY" -u - "$RUN_DIR/relay" "$MN_HOST" "$IN_HOST" <<'PY' &
import select, socket, sys
out, mn, inet = sys.argv[1:]
socks = {}
for mine, far in (('10.10.0.1', inet), ('10.30.0.1', mn)):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((mine, 53)); socks[s] = far
open(out, 'a').write('listening\n')
while True:
    for s in select.select(list(socks), [], [])[0]:
        d, a = s.recvfrom(2048)
        open(out, 'a').write('got %s from %s\n' % (d.decode(), a[0]))
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(d, (socks[s], 5353))
            open(out, 'a').write('relayed %s\n' % d.decode())
        except OSError as e:
            open(out, 'a').write('send %s: %s\n' % (d.decode(), e))
PY
PIDS="$PIDS $!"
wait_until 10 grep -q listening "$RUN_DIR/relay" || fail "the relay listens"
listen "$IN" "$IN_HOST" 5353 "$RUN_DIR/in.recv"
listen "$MN" "$MN_HOST" 5353 "$RUN_DIR/mn.recv"
o_in0=$(counter "segd O - internet") o_mn0=$(counter "segd O - mynumber")
send "$MN" "$MN_HOST" 10.10.0.1 53 MYNUMBER-RECORD
send "$IN" "$IN_HOST" 10.30.0.1 53 INTERNET-QUERY
check "the relay got the mynumber query (gateway_services udp/53 lets it in)" wait_until 10 grep -q "got MYNUMBER-RECORD" "$RUN_DIR/relay"
check "the relay got the internet query" wait_until 10 grep -q "got INTERNET-QUERY" "$RUN_DIR/relay"
export -f counter table_listing; export LAB_GW LAB_TABLE
check "the output chain counted the relayed mynumber record (segd O - internet)" \
	wait_until 10 bash -c '[ "$(counter "segd O - internet")" -gt "$1" ]' _ "$o_in0"
check "and the relayed internet query (segd O - mynumber)" \
	wait_until 10 bash -c '[ "$(counter "segd O - mynumber")" -gt "$1" ]' _ "$o_mn0"
check "the internet host received no My Number record" bash -c '! grep -q MYNUMBER "$1"' _ "$RUN_DIR/in.recv"
check "the mynumber host received nothing from the Internet side" bash -c '! grep -q INTERNET "$1"' _ "$RUN_DIR/mn.recv"
check "the CSIRT finds it as an incident: reason gateway-egress-policy, from the gateway to internet, its addresses and port" \
	wait_until 20 incident gateway-egress-policy dst_zone=internet src_zone= src=10.30.0.1 dst="$IN_HOST" dport=5353 event=flow-denied
check "and the reverse one, to mynumber" \
	wait_until 20 incident gateway-egress-policy dst_zone=mynumber src=10.10.0.1 dst="$MN_HOST"
explains accept "$MN_HOST" 10.10.0.1 udp/53
explains deny 10.30.0.1 "$MN_HOST" udp/5353
explains deny 10.10.0.1 "$IN_HOST" udp/5353

heading "B: conduits from the gateway, link scope, unzoned and management interfaces"
cp "$RUN_DIR/conf-b" "$SEGD_CONF"
reload_segd >/dev/null || { fail "segd reloads configuration B"; summary; exit 1; }
ok "segd applied configuration B"
CL_DNS=203.0.113.53
ip -n "$CL" -br addr | grep -q "$CL_DNS/" || { fail "the cloud host has $CL_DNS"; summary; exit 1; }
listen "$CL" "$CL_DNS" 53 "$RUN_DIR/cl.recv"
listen "$CL" "$CL_DNS" 80 "$RUN_DIR/cl80.recv" tcp
o_cl0=$(counter "segd O - cloud")
send "$LAB_GW" 203.0.113.1 "$CL_DNS" 53 GATEWAY-QUERY
check "gateway -> cloud udp/53: the conduit from the gateway passes it" wait_until 10 grep -q "GATEWAY-QUERY" "$RUN_DIR/cl.recv"
ip netns exec "$LAB_GW" timeout 3 "$PY" -c 'import socket, sys
socket.create_connection((sys.argv[1], 80), timeout=2, source_address=("203.0.113.1", 0))' "$CL_DNS" 2>/dev/null &&
	fail "gateway -> cloud tcp/80 connected" || ok "gateway -> cloud tcp/80: no connection"
check "it was dropped and counted (segd O - cloud)" \
	wait_until 10 bash -c '[ "$(counter "segd O - cloud")" -gt "$1" ]' _ "$o_cl0"
check "the cloud host saw no tcp/80 connection" bash -c '! grep -q "^203" "$1"' _ "$RUN_DIR/cl80.recv"
explains accept 203.0.113.1 "$CL_DNS" udp/53
explains deny 203.0.113.1 "$CL_DNS" tcp/80

# ICMP errors about the gateway's own connection: from its destination, not from another cloud host
CL_OTHER=$(ip -n "$CL" -4 -o addr show dev eth0 | awk '{ sub("/.*", "", $4); print $4 }' | grep -vx "$CL_DNS" | head -1)
ip netns exec "$LAB_GW" "$PY" -u -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("listening", flush=True)
while True:
    d, a = s.recvfrom(65535)
    ihl = (d[0] & 15) * 4
    if d[ihl] == 3:
        for m in (b"FORGED", b"SERVER"):
            if m in d:
                print(m.decode(), a[0], flush=True)' >"$RUN_DIR/gwerr" &
PIDS="$PIDS $!"
wait_until 10 grep -q listening "$RUN_DIR/gwerr"
ip netns exec "$LAB_GW" "$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("203.0.113.1", 40053))
s.sendto(b"q", ("203.0.113.53", 53))'
gw_error() {   # gw_error FROM MARKER: port unreachable quoting 203.0.113.1:40053 -> 203.0.113.53:53
	ip netns exec "$CL" "$PY" - "$1" "$2" <<'PY'
import socket, struct, sys
frm, marker = sys.argv[1], sys.argv[2].encode()
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
udp = struct.pack('!HHHH', 40053, 53, 9, 0)
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 29, 1, 0, 64, 17, 0, socket.inet_aton('203.0.113.1'),
                 socket.inet_aton('203.0.113.53'))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
icmp = struct.pack('!BBHI', 3, 3, 0, 0) + ip + udp + marker * 8
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.bind((frm, 0))
s.sendto(icmp, ('203.0.113.1', 0))
PY
}
if [ -n "$CL_OTHER" ]; then
	gw_error "$CL_OTHER" FORGED
	gw_error "$CL_DNS" SERVER
	check "an ICMP error from the DNS server about the gateway's query reaches the gateway (negative control)" \
		wait_until 10 grep -q "^SERVER $CL_DNS" "$RUN_DIR/gwerr"
	check "the same error from $CL_OTHER, sent before it, does not" bash -c '! grep -q "^FORGED" "$1"' _ "$RUN_DIR/gwerr"
	explains accept "$CL_DNS" 203.0.113.1 icmp-error/udp
	explains deny "$CL_OTHER" 203.0.113.1 icmp-error/udp
else
	fail "the cloud host has an address besides $CL_DNS"
fi

# link scope: udp/547 to the gateway's link-local address from each host's own
GW_LL=fe80::1
ll_of() { ip -n "$1" -6 -br addr show dev "$2" scope link | awk '{ sub("/.*", "", $3); print $3 }'; }
HOST_IF=eth0   # netlab.HOST_IF
LG_LL=$(ll_of "$LG" "$HOST_IF") MN_LL=$(ll_of "$MN" "$HOST_IF")
if [ -z "$LG_LL" ] || [ -z "$MN_LL" ]; then
	fail "the hosts have link-local addresses on $HOST_IF (lgwan '$LG_LL', mynumber '$MN_LL')"
else
	listen "$LAB_GW" "::" 547 "$RUN_DIR/dhcp.recv"
	l_mn0=$(counter "segd L mynumber -")
	send "$MN" "$MN_LL" "$GW_LL%$HOST_IF" 547 FROM-MYNUMBER
	send "$LG" "$LG_LL" "$GW_LL%$HOST_IF" 547 FROM-LGWAN
	check "link-local udp/547 from the lgwan host reaches the gateway (link_services)" wait_until 10 grep -q "FROM-LGWAN" "$RUN_DIR/dhcp.recv"
	check "from the mynumber host (no link_services) it does not" bash -c '! grep -q FROM-MYNUMBER "$1"' _ "$RUN_DIR/dhcp.recv"
	check "it was dropped and counted as link scope (segd L mynumber -)" \
		wait_until 10 bash -c '[ "$(counter "segd L mynumber -")" -gt "$1" ]' _ "$l_mn0"
	check "an incident: reason link-scope, from mynumber, in gw-my" \
		wait_until 20 incident link-scope src_zone=mynumber src="$MN_LL" dport=547 in=gw-my
	explains accept "$LG_LL" "$GW_LL" udp/547 --to-gateway --in gw-lg
	explains deny "$MN_LL" "$GW_LL" udp/547 --to-gateway --in gw-my
fi

# an interface in no zone, and the management interface
ip netns add "$ODD_NS" && ip netns add "$MGMT_NS"
ip -n "$LAB_GW" link add gw-odd type veth peer name eth0 netns "$ODD_NS"
ip -n "$LAB_GW" link add gw-mgmt type veth peer name eth0 netns "$MGMT_NS"
ip -n "$LAB_GW" addr add 192.0.2.1/24 dev gw-odd && ip -n "$LAB_GW" link set gw-odd up
ip -n "$LAB_GW" addr add 198.51.100.1/24 dev gw-mgmt && ip -n "$LAB_GW" link set gw-mgmt up
ip -n "$ODD_NS" addr add 192.0.2.2/24 dev eth0 && ip -n "$ODD_NS" link set eth0 up
ip -n "$MGMT_NS" addr add 198.51.100.2/24 dev eth0 && ip -n "$MGMT_NS" link set eth0 up
listen "$LAB_GW" 0.0.0.0 5300 "$RUN_DIR/gw.recv"
u0=$(counter "segd U - -")
send "$ODD_NS" 192.0.2.2 192.0.2.1 5300 FROM-UNZONED
send "$MGMT_NS" 198.51.100.2 198.51.100.1 5300 FROM-MGMT
check "the management interface reaches the gateway" wait_until 10 grep -q "FROM-MGMT" "$RUN_DIR/gw.recv"
check "an interface in no zone does not" bash -c '! grep -q FROM-UNZONED "$1"' _ "$RUN_DIR/gw.recv"
check "it was dropped and counted as unzoned (segd U - -)" \
	wait_until 10 bash -c '[ "$(counter "segd U - -")" -gt "$1" ]' _ "$u0"
check "an incident: reason unzoned-interface, in gw-odd" \
	wait_until 20 incident unzoned-interface src=192.0.2.2 in=gw-odd dport=5300
explains deny 192.0.2.2 192.0.2.1 udp/5300 --to-gateway --in gw-odd
explains accept 198.51.100.2 198.51.100.1 udp/5300 --to-gateway --in gw-mgmt
stop_segd
summary
