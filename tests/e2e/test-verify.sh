#!/bin/bash
# test-verify.sh - the live table against the plan (seg_nft_verify), the
# kernel's counters per drop rule and per conduit (seg_nft_counters), and
# segctl stats rendering them.
#
# In throwaway namespaces (prefix sgv<pid>, deleted by the trap): segd
# installs a configuration; verify says in sync; each tampering done with
# nft (rule deleted, set flushed, element added, vmap target changed, policy,
# dormant table, extra base chain, table deleted) is reported as exactly that
# difference; a table loaded by `nft -f` from the plan's text is in sync.
# Real forwarded traffic between two host namespaces moves the conduit's
# element counters and the drop rule's counter by the packets sent. segctl
# stats renders a cmd=stats answer (served here by a stand-in for the daemon,
# from the real counters). Verify times at 10,000 elements (and 100,000 with
# VERIFY_BIG=1) are printed; 10,000 must stay under a second.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
source "$TOP/tests/e2e/tools/dates.sh"   # EXPIRES
SEGD=${E2E_SEGD:-$TOP/build/segd}
SEGCTL=${E2E_SEGCTL:-$TOP/build/segctl}
PFX=sgv$$
GW=${PFX}g HA=${PFX}a HB=${PFX}b
TMP=$(mktemp -d /tmp/segd-verify.XXXXXX)
NV=$TMP/nftverify
pass=0 fail=0
SERVER_PID=""

cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
	for ns in $GW $HA $HB; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

if [ "$(id -u)" != 0 ]; then
	echo "test-verify.sh: needs root (network namespaces, nftables)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

# The helper links lib/ from source, so it does not depend on the daemon's build.
if ! cc -std=gnu11 -D_GNU_SOURCE -O2 -I"$TOP/lib" "$TOP/tests/e2e/tools/nftverify.c" "$TOP"/lib/*.c \
	$(pkg-config --cflags --libs libnftnl libmnl libconfig libsystemd libpcap) -o "$NV" 2>"$TMP/cc.err"; then
	bad "build tests/e2e/tools/nftverify.c: $(head -3 "$TMP/cc.err")"
	echo "$pass passed, $fail failed"
	exit 1
fi

CONF=$TMP/verify.conf
cat >"$CONF" <<EOF
version = 1;
settings = { table = "segd_verify"; log_group = 11; control_socket = "$TMP/ctl.sock"; };
zones = (
  { name = "a"; kind = "lgwan"; interfaces = [ "a0" ]; networks = [ "10.71.0.0/24", "fd00:71::/64" ]; },
  { name = "b"; kind = "lgwan"; interfaces = [ "b0" ]; networks = [ "10.72.0.0/24", "fd00:72::/64" ]; },
  { name = "c"; kind = "internet"; interfaces = [ "c0" ]; networks = [ "10.73.0.0/24" ]; }
);
conduits = (
  { name = "dns"; kind = "specific"; from = "a"; to = "b"; sources = [ "10.71.0.2" ];
    destinations = [ "10.72.0.2" ]; services = [ "udp/53" ]; approval = "V-1"; expires = "$EXPIRES"; },
  { name = "web"; kind = "specific"; from = "a"; to = "b"; sources = [ "10.71.0.0/24" ];
    destinations = [ "10.72.0.2" ]; services = [ "tcp/80", "tcp/8000-8100" ]; approval = "V-2"; expires = "$EXPIRES"; },
  { name = "mail"; kind = "sanitize"; from = "c"; to = "b"; sources = [ "10.73.0.9" ];
    destinations = [ "10.72.0.25" ]; services = [ "tcp/25" ]; approval = "V-3"; expires = "$EXPIRES"; }
);
EOF
T=segd_verify
nsx() { ip netns exec "$@"; }
verify() { nsx $GW "$NV" verify "$CONF" >"$TMP/v.out" 2>&1; }
reinstall() { nsx $GW "$NV" apply "$CONF" >/dev/null 2>&1; }

ip netns add $GW && ip netns add $HA && ip netns add $HB || { bad "netns"; exit 1; }

# --- segd installs it -----------------------------------------------------
if [ -x "$SEGD" ]; then
	ip netns exec $GW "$SEGD" -c "$CONF" >"$TMP/segd.log" 2>&1 &    # not nsx: $! must be segd
	spid=$!
	for ((i = 0; i < 100; i++)); do
		nsx $GW nft list table inet $T >/dev/null 2>&1 && break
		sleep 0.1
	done
	kill -TERM $spid 2>/dev/null
	wait $spid 2>/dev/null
	for p in $(ip netns pids $GW); do kill -9 "$p"; done     # nothing may repair what we tamper with
	if nsx $GW nft list table inet $T >/dev/null 2>&1; then ok "segd installed table inet $T (and left it when stopped)"
	else bad "segd did not install the table: $(tail -2 "$TMP/segd.log")"; reinstall; fi
else
	bad "no $SEGD (run make); installing with seg_nft_apply"
	reinstall
fi
if verify && grep -qx "in_sync=yes" "$TMP/v.out"; then ok "verify: in sync after install"
else bad "verify after install: $(cat "$TMP/v.out")"; fi

# --- tampering ---------------------------------------------------------------
# tamper NAME EXPECTED_KEY_LINE EXPECTED_TEXT CMD...: run CMD in the gateway,
# verify must say not in sync, have the key line and a diff= line with the text.
tamper() {
	local name=$1 key=$2 text=$3; shift 3
	if ! nsx $GW "$@" >"$TMP/t.err" 2>&1; then bad "$name: the tampering itself failed: $(head -2 "$TMP/t.err")"; reinstall; return; fi
	verify
	local rc=$?
	if [ $rc = 1 ] && grep -qx "in_sync=no" "$TMP/v.out" && grep -qxF "$key" "$TMP/v.out" &&
	   grep -F "diff=" "$TMP/v.out" | grep -qF "$text"; then
		ok "$name: $(grep -m1 '^diff=' "$TMP/v.out")"
	else
		bad "$name (exit $rc), wanted '$key' and '$text':"
		sed 's/^/       /' "$TMP/v.out"
	fi
	reinstall
}
last_forward_handle() { nsx $GW nft -a list chain inet $T forward | grep -o 'handle [0-9]*' | tail -1 | cut -d' ' -f2; }

tamper "rule deleted" "diff.rules=1 0 0" "chain 'forward': rule missing: counter log prefix \"segd U - -\"" \
	nft delete rule inet $T forward handle "$(last_forward_handle)"
tamper "rule inserted" "diff.rules=0 1 0" "chain 'forward': rule 1 not in the plan" \
	nft insert rule inet $T forward ip saddr 192.0.2.1 accept
tamper "set flushed" "diff.elements=1 0 0" "set 'c4p.a.b': 1 element missing (10.71.0.2 . 10.72.0.2 . udp . 53)" \
	nft flush set inet $T c4p.a.b
tamper "element added" "diff.elements=0 1 0" "set 'c4pi.a.b': 1 element extra (10.71.0.0/24 . 10.72.0.9 . tcp . 22)" \
	nft add element inet $T c4pi.a.b '{ 10.71.0.0/24 . 10.72.0.9 . tcp . 22 }'
tamper "vmap target" "diff.elements=0 0 1" "set 'pairs': 1 element changed (\"c0\" . \"b0\")" \
	sh -c "nft delete element inet $T pairs '{ \"c0\" . \"b0\" }' && nft add element inet $T pairs '{ \"c0\" . \"b0\" : goto p.a.b }'"
tamper "policy" "diff.chains=0 0 1" "chain 'forward': policy accept, the plan says drop" \
	nft add chain inet $T forward '{ type filter hook forward priority filter; policy accept; }'
tamper "dormant" "diff.table=changed" "(dormant: its chains see no packets)" \
	nft add table inet $T '{ flags dormant; }'
tamper "extra chain" "diff.chains=0 1 0" "chain 'sneak' not in the plan (1 rules, a base chain: it sees packets)" \
	sh -c "nft add chain inet $T sneak '{ type filter hook forward priority -5; policy accept; }' && nft add rule inet $T sneak accept"
tamper "set deleted" "diff.sets=1 0 0" "set 'c4p.c.b' missing (1 elements)" \
	sh -c "nft flush chain inet $T p.c.b && nft flush chain inet $T p.b.c && nft delete set inet $T c4p.c.b"
tamper "table deleted" "diff.table=missing" "table inet '$T' missing" \
	nft delete table inet $T

# The plan's own text loaded by nft (segctl rules | nft -f) is the same table.
nsx $GW nft delete table inet $T
"$NV" rules "$CONF" >"$TMP/rules.nft" && nsx $GW nft -f "$TMP/rules.nft"
if verify && grep -qx "in_sync=yes" "$TMP/v.out"; then ok "nft -f of the plan's text: in sync"
else bad "nft -f of the plan's text: $(cat "$TMP/v.out")"; fi
reinstall

# --- counters: real packets through the gateway ------------------------------
nsx $GW ip link add a0 type veth peer name eth0 netns $HA
nsx $GW ip link add b0 type veth peer name eth0 netns $HB
nsx $GW ip addr add 10.71.0.1/24 dev a0
nsx $GW ip addr add 10.72.0.1/24 dev b0
nsx $GW ip link set a0 up
nsx $GW ip link set b0 up
nsx $GW sysctl -qw net.ipv4.ip_forward=1
nsx $HA ip addr add 10.71.0.2/24 dev eth0
nsx $HB ip addr add 10.72.0.2/24 dev eth0
for h in $HA $HB; do nsx $h ip link set eth0 up; nsx $h ip link set lo up; done
nsx $HA ip route add default via 10.71.0.1
nsx $HB ip route add default via 10.72.0.1
send_udp() {    # HOST DST PORT COUNT SIZE
	nsx "$1" python3 -c "
import socket,sys
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
for i in range($4): s.sendto(b'x'*$5,('$2',$3))"
}
pk() { grep -F "$2" "$1" | awk '{print $(NF-1)}'; }
# until: CMD succeeds, polled up to 60 s (the ceiling only bounds a failure)
until_ok() { local i; for ((i = 0; i < 600; i++)); do "$@" && return 0; sleep 0.1; done; return 1; }
links_up() { [ "$(nsx $GW cat /sys/class/net/a0/operstate /sys/class/net/b0/operstate; nsx $HA cat /sys/class/net/eth0/operstate; nsx $HB cat /sys/class/net/eth0/operstate)" = "$(printf 'up\nup\nup\nup')" ]; }
# the kernel counts the packets as they cross (was 'sleep 0.3'); every one sent is awaited
counted() { nsx $GW "$NV" counters "$CONF" >"$TMP/c1.out" && [ "$(pk "$TMP/c1.out" "conduit=dns a b")" -ge 7 ] 2>/dev/null &&
	[ "$(pk "$TMP/c1.out" "drop=flow-denied a b")" -ge 4 ] 2>/dev/null; }
nsx $GW "$NV" counters "$CONF" >"$TMP/c0.out"
until_ok links_up || echo "     links not up: $(nsx $GW ip -br link)"   # was 'sleep 0.5'
send_udp $HA 10.72.0.2 53 7 100
send_udp $HA 10.72.0.2 54 4 100
until_ok counted
nsx $GW "$NV" counters "$CONF" >"$TMP/c1.out"
by() { grep -F "$2" "$1" | awk '{print $NF}'; }
dns0=$(pk "$TMP/c0.out" "conduit=dns a b"); dns1=$(pk "$TMP/c1.out" "conduit=dns a b")
den0=$(pk "$TMP/c0.out" "drop=flow-denied a b"); den1=$(pk "$TMP/c1.out" "drop=flow-denied a b")
if [ "${dns0:-x}" = 0 ] && [ "${dns1:-x}" = 7 ] && [ "$(by "$TMP/c1.out" "conduit=dns a b")" = $((7 * 128)) ]; then
	ok "conduit 'dns': 7 packets, 896 bytes counted by its set element"
else bad "conduit counters: before '${dns0:-}', after '${dns1:-}': $(grep dns "$TMP/c1.out")"; fi
if [ "${den0:-x}" = 0 ] && [ "${den1:-x}" = 4 ]; then ok "drop flow-denied a -> b: 4 packets"
else bad "drop counters: before '${den0:-}', after '${den1:-}'"; fi
if [ "$(pk "$TMP/c1.out" "conduit=web a b")" = 0 ] && [ "$(pk "$TMP/c1.out" "conduit=mail c b")" = 0 ]; then
	ok "the other conduits stayed at 0"
else bad "other conduits moved: $(grep conduit= "$TMP/c1.out")"; fi

# --- segctl stats renders the daemon's answer ----------------------------------
# A stand-in for segd's control socket answers cmd=stats with the real counters.
cat >"$TMP/server.py" <<'EOF'
import os, socket, sys
path, answer = sys.argv[1], open(sys.argv[2], 'rb').read()
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(path)
s.listen(4)
while True:
    c, _ = s.accept()
    req = c.recv(262144)
    c.send(b"status=ok\n" + answer if req.startswith(b"cmd=stats\n") else b"status=error\nerror=unknown\ncode=2\n")
    c.close()
EOF
if [ -x "$SEGCTL" ]; then
	"$SEGCTL" -c "$CONF" stats >"$TMP/s.out" 2>"$TMP/s.err"
	rc=$?
	if [ $rc = 2 ] && [ "$(wc -l <"$TMP/s.err")" = 1 ] && grep -q "not running" "$TMP/s.err"; then
		ok "segctl stats without segd: one line, exit 2: $(cat "$TMP/s.err")"
	else bad "segctl stats without segd: exit $rc: $(cat "$TMP/s.err")"; fi
	rm -f "$TMP/ctl.sock"                  # segd may have left its socket file
	python3 "$TMP/server.py" "$TMP/ctl.sock" "$TMP/c1.out" &
	SERVER_PID=$!
	for ((i = 0; i < 50; i++)); do [ -S "$TMP/ctl.sock" ] && break; sleep 0.1; done
	if "$SEGCTL" -c "$CONF" stats >"$TMP/s.out" 2>"$TMP/s.err" &&
	   grep -Eq '^dns +a +b +7 +896$' "$TMP/s.out" && grep -Eq '^a +b +4( +0){7} +[0-9]+$' "$TMP/s.out"; then
		ok "segctl stats: the conduit and zone-pair rows"
	else bad "segctl stats:"; cat "$TMP/s.out" "$TMP/s.err" | sed 's/^/       /'; fi
	if "$SEGCTL" -c "$CONF" --json stats | python3 -c '
import json,sys
d=json.load(sys.stdin)
c={x["name"]:x for x in d["conduits"]}
assert c["dns"]["packets"]==7 and c["dns"]["bytes"]==896 and c["web"]["packets"]==0
assert any(x["event"]=="flow-denied" and x["from"]=="a" and x["to"]=="b" and x["packets"]==4 for x in d["drops"])
assert any(x["event"]=="unzoned" and x["from"] is None for x in d["drops"])' 2>"$TMP/j.err"; then
		ok "segctl stats --json"
	else bad "segctl stats --json: $(tail -2 "$TMP/j.err")"; fi
else
	bad "no $SEGCTL (run make)"
fi

# --- how long verify takes ------------------------------------------------------
gen_big() {
	local n=$1
	sed -n '1,/^conduits = (/p' "$CONF"
	echo '  { name = "seed"; kind = "specific"; from = "a"; to = "b"; services = [ "tcp/80" ]; approval = "B"; expires = "'"$EXPIRES"'"; }'
	awk -v n="$n" -v EXPIRES="$EXPIRES" 'BEGIN { for (i = 0; i < n; i++)
		printf "  ,{ name = \"b%d\"; kind = \"specific\"; from = \"a\"; to = \"b\"; sources = [ \"10.71.0.%d\" ]; destinations = [ \"10.72.0.%d\" ]; services = [ \"tcp/%d\" ]; approval = \"B\"; expires = \"" EXPIRES "\"; }\n",
			i, i % 250 + 1, int(i / 250) % 250 + 1, int(i / 62500) * 100 + 1024 }'
	echo ");"
}
sizes=(10000)
[ "${VERIFY_BIG:-0}" = 1 ] && sizes+=(99990)
for n in "${sizes[@]}"; do
	gen_big "$n" >"$TMP/big.conf"
	nsx $GW "$NV" apply "$TMP/big.conf" >/dev/null
	if nsx $GW "$NV" time "$TMP/big.conf" 5 >"$TMP/time.out" 2>&1; then
		best=$(sed -n 's/^verify_ms=\([0-9.]*\) .*/\1/p' "$TMP/time.out")
		med=$(sed -n 's/^verify_ms=[0-9.]* \([0-9.]*\)/\1/p' "$TMP/time.out")
		els=$(sed -n 's/^elements=//p' "$TMP/time.out")
		if awk -v m="$med" 'BEGIN { exit !(m < 1000) }'; then
			ok "verify of $els elements: best ${best} ms, median ${med} ms"
		else bad "verify of $els elements takes ${med} ms (median of 5)"; fi
	else
		bad "verify of $n conduits: $(cat "$TMP/time.out")"
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
