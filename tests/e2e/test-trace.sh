#!/bin/bash
# test-trace.sh - segctl trace (issue 8, point 4): with segd enforcing
# lab.conf, live packets of a flow are followed through the kernel's rules.
# An allowed flow (IPv4 and IPv6) shows the path forward -> p.<a>.<b> and
# the conduit that accepted it; a denied one the drop rule with its event and
# zone pair; a packet to the gateway the input path; the model guard its
# rule. segd's table is not touched (no tamper event, same listing), and the
# tracing table is gone afterwards, also after SIGINT.
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}

heading "lab from $(basename "$CONFIG")"
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
if start_segd "$CONFIG"; then ok "segd installed table inet $LAB_TABLE"; else
	fail "segd installed table inet $LAB_TABLE"; summary; exit 1
fi
gw() { ip netns exec "$LAB_GW" "$@"; }
MY=$(lab_ns mynumber) LG=$(lab_ns lgwan)
BEFORE=$(table_listing | grep -v 'packets [0-9]' | md5sum)

send_tcp() {   # NS SRC DST PORT: one connect() (refused or timed out is fine)
	ip netns exec "$1" "$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET)
s.bind((sys.argv[1], 0)); s.settimeout(0.3)
try: s.connect((sys.argv[2], int(sys.argv[3])))
except OSError: pass' "$2" "$3" "$4"
}

# tracing ERRFILE: until segctl trace said that its table is in (it prints
# "table inet segd_trace_<pid> added" once the kernel has it), up to 60 s
tracing() { wait_until 60 grep -q 'table inet segd_trace_.* added' "$1"; }

# trace NAME NS SRC DST PORT [--json]: segctl trace in the gateway while one
# connection is attempted; output in RUN_DIR/NAME.out
trace() {
	local name=$1 ns=$2 src=$3 dst=$4 port=$5; shift 5
	# --count 1 ends the trace at the first packet; --seconds only bounds a
	# failure (a trace that never sees it)
	gw "$SEGCTL" -c "$SEGD_CONF" "$@" trace "$src" "$dst" "tcp/$port" --seconds 60 --count 1 \
		>"$RUN_DIR/$name.out" 2>"$RUN_DIR/$name.err" &
	local pid=$!
	tracing "$RUN_DIR/$name.err"
	send_tcp "$ns" "$src" "$dst" "$port"
	wait "$pid"
	sed 's/^/       /' "$RUN_DIR/$name.out"
}

heading "allowed: conduit intermediate-server (IPv4)"
trace allow4 "$MY" 10.10.0.5 10.20.0.50 443
O="$RUN_DIR/allow4.out"
check "path: forward goto p.mynumber.lgwan" grep -qE "^  forward .*vmap @pairs -> goto p.mynumber.lgwan" "$O"
check "the set rule of the pair accepted it" grep -qE "^  p.mynumber.lgwan .*@c4p.mynumber.lgwan accept" "$O"
check "verdict ACCEPT by conduit 'intermediate-server' with approval" \
	grep -qE "verdict: ACCEPT by conduit 'intermediate-server' \(specific, approval R8-DX-014" "$O"
check "segctl explain agrees" grep -q "segctl explain agrees: accept (conduit)" "$O"

heading "allowed: conduit intermediate-server-v6 (IPv6)"
trace allow6 "$MY" fd00:10::5 fd00:20::50 443
check "verdict ACCEPT by conduit 'intermediate-server-v6'" \
	grep -q "verdict: ACCEPT by conduit 'intermediate-server-v6'" "$RUN_DIR/allow6.out"

heading "denied: mynumber -> lgwan without a conduit"
trace deny "$MY" 10.10.0.5 10.20.0.51 443
O="$RUN_DIR/deny.out"
check "the drop rule of the pair, its event and zone pair" \
	grep -qE 'verdict: DROP by rule [0-9]+ of p.mynumber.lgwan, log prefix "segd D mynumber lgwan": flow-denied mynumber -> lgwan' "$O"
check "segctl explain agrees: default-deny" grep -q "segctl explain agrees: drop (default-deny)" "$O"

heading "guarded: mynumber -> internet (model rule 1)"
trace guard "$MY" 10.10.0.2 10.30.0.2 80
check "the guard rule: segd M mynumber internet" \
	grep -qE 'DROP by rule [0-9]+ of p.mynumber.internet, log prefix "segd M mynumber internet": flow-denied' "$RUN_DIR/guard.out"

heading "to the gateway: lgwan tcp/80 (closed) and tcp/22 (gateway service)"
trace gw80 "$LG" 10.20.0.2 10.20.0.1 80
check "input path, to-gateway drop" \
	bash -c "grep -qE '^  input .*goto in.lgwan' '$RUN_DIR/gw80.out' && grep -q 'segd G lgwan -\": to-gateway' '$RUN_DIR/gw80.out'"
trace gw22 "$LG" 10.20.0.2 10.20.0.1 22
check "tcp/22 accepted as a gateway service" grep -q "verdict: ACCEPT by gateway-service" "$RUN_DIR/gw22.out"

heading "--json"
trace json "$MY" 10.10.0.5 10.20.0.50 443 --json
check "one JSON object per packet, with path, verdict and conduit" "$PY" -c '
import json, sys
p = json.loads(open(sys.argv[1]).readline())
assert p["verdict"] == "accept" and p["conduit"] == "intermediate-server", p
assert [s["chain"] for s in p["path"]] == ["forward", "p.mynumber.lgwan"], p["path"]
assert p["path"][1]["line"] > 0 and p["explain_agrees"] is True' "$RUN_DIR/json.out"

heading "segd's table untouched, tracing table removed"
check "no tracing table left" bash -c "! ip netns exec '$LAB_GW' nft list tables | grep -q segd_trace"
check "segd's rules unchanged (counters aside)" \
	test "$(table_listing | grep -v 'packets [0-9]' | md5sum)" = "$BEFORE"
check "segd counted no tamper (segctl status)" "$PY" -c '
import json, subprocess, sys
st = json.loads(subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout)
assert str(st["tampers"]) == "0", st["tampers"]' ip netns exec "$LAB_GW" "$SEGCTL" -c "$SEGD_CONF" --json status
# ip netns exec execs segctl: $! is segctl itself
ip netns exec "$LAB_GW" "$SEGCTL" -c "$SEGD_CONF" trace 10.10.0.5 10.20.0.50 tcp/443 --seconds 30 \
	>/dev/null 2>"$RUN_DIR/int.err" &
TPID=$!
tracing "$RUN_DIR/int.err"
check "while tracing: the tracing table exists" bash -c "ip netns exec '$LAB_GW' nft list tables | grep -q segd_trace_"
kill -INT "$TPID"
wait "$TPID"
rc=$?
check "SIGINT: exit status 0 ($rc), tracing table removed" \
	bash -c "[ $rc = 0 ] && ! ip netns exec '$LAB_GW' nft list tables | grep -q segd_trace"
ip netns exec "$LAB_GW" "$SEGCTL" -c "$SEGD_CONF" trace 10.10.0.5 10.20.0.50 tcp/443 --seconds 30 \
	>/dev/null 2>"$RUN_DIR/kill.err" &
TPID=$!
tracing "$RUN_DIR/kill.err"
kill -KILL "$TPID"
wait "$TPID" 2>/dev/null
# the kernel drops an owner table when the netlink socket is released: wait
# for that (up to 60 s), instead of a fixed 0.2 s
check "SIGKILL: the owner flag removed the tracing table with segctl's socket" \
	wait_until 60 bash -c "! ip netns exec '$LAB_GW' nft list tables | grep -q segd_trace"
check "segd still running" segd_alive
summary
