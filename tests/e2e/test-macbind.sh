#!/bin/bash
# test-macbind.sh - MAC binding of My Number hosts (issue 12, point 8), with
# real frames. The lab's My Number host that the intermediate-server conduit
# names is bound to the MAC its interface really has; then:
#   1. a TCP connection through the conduit opens (the right MAC passes);
#   2. the host's interface takes another MAC: the same connection does not
#      open AND the table's binding drop counted its SYNs (decisive: not a
#      slow handshake taken for a block);
#   3. the right MAC back: it opens again.
# And `segctl explain` names the binding.
#
#   E2E_CONFIG: the configuration (default conf/lab.conf); its first
#   conduit from a mynumber zone is bound
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"   # wait_until
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}

lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
"$PY" "$TOOLS/lab.py" localize "$CONFIG" "$RUN_DIR/base.conf" "$RUN_DIR" || { fail "localize"; summary; exit 1; }
# the conduit, its source and destination, and their zones
read -r CONDUIT SRC DST PORT SZONE DZONE < <("$PY" - "$TOOLS" "$RUN_DIR/base.conf" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import libconf
cfg = libconf.loads(open(sys.argv[2], encoding='utf-8').read())
kinds = {z['name']: z['kind'] for z in cfg['zones']}
for c in cfg['conduits']:
    tcp = [s for s in c['services'] if s.startswith('tcp/') and '-' not in s]
    if kinds[c['from']] == 'mynumber' and tcp and ':' not in c['sources'][0]:
        print(c['name'], c['sources'][0], c['destinations'][0], tcp[0][4:], c['from'], c['to'])
        break
PY
)
[ -n "$SRC" ] || { fail "a tcp conduit from a mynumber zone in $CONFIG"; summary; exit 1; }
ns_of() { lab_ns "$1"; }
SNS=$(ns_of "$SZONE") DNS=$(ns_of "$DZONE")
SIF=$(ip -n "$SNS" -j addr | "$PY" -c 'import json, sys
print(next(i["ifname"] for i in json.load(sys.stdin) for a in i.get("addr_info", []) if a["local"] == sys.argv[1]))' "$SRC")
MAC=$(ip -n "$SNS" -j link show dev "$SIF" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["address"])')
echo "     conduit $CONDUIT: $SRC ($SNS, $SIF, MAC $MAC) -> $DST tcp/$PORT"
# bind the source to its MAC, as the administrator writes it
sed "s|\"$SRC\"|\"$SRC@$MAC\"|" "$RUN_DIR/base.conf" >"$RUN_DIR/bound.conf"
grep -q "$SRC@$MAC" "$RUN_DIR/bound.conf" || { fail "binding written"; summary; exit 1; }
start_segd "$RUN_DIR/bound.conf" || { fail "segd starts"; summary; exit 1; }
ok "segd runs with $SRC bound to $MAC"

ip netns exec "$DNS" "$PY" -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
while True:
    c, _ = s.accept(); c.close()' "$DST" "$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; lab_down' EXIT
wait_until 10 bash -c 'ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .' _ "$DNS" "$PORT"
connects() {   # connects TIMEOUT: a TCP connection from SRC to DST:PORT opens
	ip netns exec "$SNS" "$PY" -c 'import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[4]), source_address=(sys.argv[3], 0))' \
		"$DST" "$PORT" "$SRC" "$1" 2>/dev/null
}
binding_drops() {   # packets the binding's drop rules counted
	table_listing | awk '/ether saddr != @mac4\./ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}

heading "1. the right MAC"
check "a connection $SRC -> $DST:$PORT opens" connects 10
d0=$(binding_drops)
check "the binding dropped nothing ($d0)" test "$d0" = 0

heading "2. another MAC on $SIF"
ip -n "$SNS" link set dev "$SIF" address 02:00:5e:99:99:99
ip -n "$SNS" neigh flush all; ip -n "$LAB_GW" neigh flush all
if connects 3; then fail "the connection opened with another MAC"; else ok "the connection does not open"; fi
drops_above() { [ "$(binding_drops)" -gt "$1" ]; }
check "and the binding's drop rule counted its packets (was $d0)" wait_until 10 drops_above "$d0"

heading "3. the right MAC back"
ip -n "$SNS" link set dev "$SIF" address "$MAC"
ip -n "$SNS" neigh flush all; ip -n "$LAB_GW" neigh flush all
check "the connection opens again" connects 10
out=$("$SEGCTL" -c "$SEGD_CONF" explain "$SRC" "$DST" "tcp/$PORT" 2>&1)
check "explain names the binding" grep -q "binding:  $SRC is bound to MAC $MAC" <<<"$out"
stop_segd
summary
