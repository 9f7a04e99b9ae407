#!/bin/bash
# test-icmp-errors.sh - ICMP errors are judged against the conduits (issue 13,
# point 1). An approved TCP connection runs from the My Number host to the
# LGWAN server through the intermediate-server conduit of conf/lab.conf. Then
# an LGWAN address that is a party of no conduit sends the My Number host an
# ICMP "port unreachable" quoting that connection, with a payload of its
# choice: conntrack calls it RELATED, and the old rule (ct direction reply ct
# state related accept) let it in. Then the server itself sends the same
# error: it must arrive (the negative control: the receiver sees errors that
# pass, so "not received" means dropped), and since it is sent after the
# forged one on the same path, the forged one has had its chance.
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=$TOP/conf/lab.conf
CLIENT="" SERVER="" RECV=""

lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
stop_all() { for p in $CLIENT $SERVER $RECV; do kill "$p" 2>/dev/null; done; lab_down; }
trap stop_all EXIT
start_segd "$CONFIG" || { fail "segd starts"; summary; exit 1; }
MN=$(lab_ns mynumber) LG=$(lab_ns lgwan)
SRC=10.10.0.5 DST=10.20.0.50 PORT=443 FORGER=10.20.0.129
ip -n "$LG" -br addr | grep -q "$FORGER" || { fail "the lab's LGWAN host has $FORGER"; summary; exit 1; }

ip netns exec "$LG" "$PY" -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 443)); s.listen(4); c, _ = s.accept(); time.sleep(120)' "$DST" &
SERVER=$!
wait_until 10 bash -c 'ip netns exec "$1" ss -Hltn "sport = :443" | grep -q .' _ "$LG"
ip netns exec "$MN" "$PY" -c 'import socket, sys, time
s = socket.create_connection((sys.argv[2], 443), timeout=10, source_address=(sys.argv[1], 0))
open(sys.argv[3], "w").write("%d\n" % s.getsockname()[1]); time.sleep(120)' "$SRC" "$DST" "$RUN_DIR/sport" &
CLIENT=$!
wait_until 10 test -s "$RUN_DIR/sport" || { fail "the approved connection opens"; summary; exit 1; }
SPORT=$(cat "$RUN_DIR/sport")
ok "approved connection $SRC:$SPORT -> $DST:$PORT is open"

# the receiver: every ICMP error that reaches the My Number host, by its marker
ip netns exec "$MN" "$PY" -u -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
print("listening", flush=True)
while True:
    d, a = s.recvfrom(65535)
    ihl = (d[0] & 15) * 4
    if d[ihl] == 3:
        for m in (b"FORGED", b"SERVER"):
            if m in d:
                print(m.decode(), a[0], flush=True)' >"$RUN_DIR/recv" &
RECV=$!
wait_until 10 grep -q listening "$RUN_DIR/recv"

send_error() {   # send_error FROM MARKER: port unreachable quoting the approved connection
	ip netns exec "$LG" "$PY" - "$1" "$SRC" "$DST" "$SPORT" "$2" <<'PY'
import socket, struct, sys
frm, src, dst, sport, marker = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5].encode()
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
inner_tcp = struct.pack('!HHII', sport, 443, 1, 0)
inner_ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(inner_tcp), 1, 0, 64, 6, 0,
                       socket.inet_aton(src), socket.inet_aton(dst))
inner_ip = inner_ip[:10] + struct.pack('!H', csum(inner_ip)) + inner_ip[12:]
body = inner_ip + inner_tcp + marker * 8
icmp = struct.pack('!BBHI', 3, 3, 0, 0) + body
icmp = icmp[:2] + struct.pack('!H', csum(icmp)) + icmp[4:]
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.bind((frm, 0))
s.sendto(icmp, (src, 0))
PY
}
drops() { table_listing | awk '/log prefix "segd D lgwan mynumber"/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'; }

d0=$(drops)
send_error "$FORGER" FORGED
send_error "$DST" SERVER
check "the server's own error reaches the My Number host (negative control)" wait_until 10 grep -q "^SERVER $DST" "$RUN_DIR/recv"
check "the error forged by $FORGER, sent before it, does not" bash -c '! grep -q "^FORGED" "$1"' _ "$RUN_DIR/recv"
check "it was dropped and counted as a denied flow lgwan -> mynumber (drops $d0 -> $(drops))" test "$(drops)" -gt "$d0"
stop_segd
summary
