#!/bin/bash
# test-fault-enobufs.sh - issue 7, point 4: ENOBUFS while reading a large
# batch's answers; the outcome must be reported right (segd re-reads the
# ruleset generation instead of guessing).
#
# It cannot be provoked from outside on a real segd: segd forces a 4 MiB
# receive buffer on its transaction socket and asks for an ACK on the last
# message only, so a commit is answered by one ACK, and a refusal by one
# error per refused message (a 30,000-entry ruleset is ~670 messages, well
# under 1 MiB of errors even when every message is refused by an owner-held
# table — tried). So the kernel stays real and only the delivery of its
# answers is made to fail: tools/nlfault.c (LD_PRELOAD) throws away every
# answer to a transaction of >= 256 bytes and returns ENOBUFS, as a full netlink
# receive buffer does. Two outcomes:
#   A. the kernel refused the batch (another process owns table inet T with
#      the owner flag: EPERM for every message), answers lost: segd must say
#      "not committed" (generation unchanged), install nothing, and exit;
#      the holder's table and the ruleset generation are untouched;
#   B. the kernel committed, answers lost: segd must say the commit was
#      confirmed by the generation, run, and be in sync (start and a reload).
#
#   E2E_CONFIG: the configuration (default conf/lab.conf)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
HOLDER=""

lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
stop_holder() { [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null && wait "$HOLDER" 2>/dev/null; HOLDER=""; }
trap 'stop_holder; lab_down' EXIT
trap 'stop_holder; lab_down; exit 130' INT
trap 'stop_holder; lab_down; exit 143' TERM
cc -shared -fPIC -o "$RUN_DIR/nlfault.so" "$TOOLS/nlfault.c" -ldl || { fail "nlfault.c builds"; summary; exit 1; }
# the ruleset generation of the gateway, read with a GETGEN as segd does
getgen() { ip netns exec "$LAB_GW" "$PY" -c '
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); s.bind((0, 0))
s.send(struct.pack("=IHHII", 20, (10 << 8) | 16, 1, 1, 0) + struct.pack("=BBH", 0, 0, 0))
d = s.recv(4096); i = 20
while i + 4 <= len(d):
    ln, t = struct.unpack("=HH", d[i:i + 4])
    if t == 1: print(struct.unpack("!I", d[i + 4:i + 8])[0]); break
    i += (ln + 3) & ~3'; }
# 256 bytes: every transaction (a re-apply sends only its difference, a few
# hundred bytes) but no request (GETGEN, the dumps' GETs are under 100)
with_fault() { SEGD_FAULT_ENOBUFS=1 SEGD_FAULT_MIN=256 LD_PRELOAD="$RUN_DIR/nlfault.so" "$@"; }

heading "A. the kernel refuses the batch, its answers are lost"
ip netns exec "$LAB_GW" "$PY" "$TOOLS/faults.py" hold-table "$LAB_TABLE" >"$RUN_DIR/holder.out" 2>&1 &
HOLDER=$!
wait_until 5 grep -q "^held" "$RUN_DIR/holder.out" && ok "another process owns table inet $LAB_TABLE (flags owner)" ||
	{ fail "hold-table: $(cat "$RUN_DIR/holder.out")"; summary; exit 1; }
before=$(ip netns exec "$LAB_GW" nft list ruleset) g0=$(getgen)
"$PY" "$TOOLS/lab.py" localize "$CONFIG" "$RUN_DIR/segd.conf" "$RUN_DIR"
SEGD_CONF=$RUN_DIR/segd.conf
with_fault timeout 20 ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" >"$RUN_DIR/a.log" 2>&1
rc=$?
sed 's/^/     | /' "$RUN_DIR/a.log" | cut -c1-240 | head -8
check "the fault was injected (answers thrown away, ENOBUFS)" grep -q "^enobufs: .* thrown away" "$RUN_DIR/a.log"
check "segd did not start (exit $rc)" test "$rc" != 0 -a "$rc" != 124
check "segd said the transaction was not committed (generation unchanged)" \
	grep -q "answers were lost and the ruleset generation did not change: the transaction was not committed" "$RUN_DIR/a.log"
check "... and did not claim an install" bash -c '! grep -q "^installed table" "$1"' _ "$RUN_DIR/a.log"
g1=$(getgen)
check "the ruleset generation did not move ($g0 -> $g1)" test "$g0" = "$g1"
check "the kernel's ruleset is byte-identical (the holder's table only)" test "$(ip netns exec "$LAB_GW" nft list ruleset)" = "$before"
# the same without the fault: the refusal itself is reported (what ENOBUFS hid)
timeout 20 ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" >"$RUN_DIR/a0.log" 2>&1
echo "     without the fault segd exits $? with: $(grep -m1 -i "error\|refused\|EPERM" "$RUN_DIR/a0.log" | cut -c1-200)"
stop_holder

heading "B. the kernel commits, its answers are lost"
g0=$(getgen)
with_fault ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" >"$RUN_DIR/segd.log" 2>&1 &
SEGD_PID=$!
if wait_until 10 "$SEGCTL" --socket "$RUN_DIR/control.sock" status; then ok "segd runs (pid $SEGD_PID)"; else
	fail "segd runs"; sed 's/^/     | /' "$RUN_DIR/segd.log"; summary; exit 1
fi
sed 's/^/     | /' "$RUN_DIR/segd.log" | cut -c1-240 | head -4
check "the fault was injected at start" grep -q "^enobufs: .* thrown away" "$RUN_DIR/segd.log"
check "segd reported the commit as confirmed by the generation" \
	grep -q "acknowledgements lost; commit confirmed by the generation" "$RUN_DIR/segd.log"
read -r ga gk <<<"$("$PY" "$TOOLS/incidents.py" status-get "$SEGCTL" "$SEGD_CONF" generation_applied generation_kernel)"
check "generation_applied == generation_kernel ($ga == $gk, was $g0 before)" test "$ga" = "$gk" -a "$gk" -gt "$g0"
check "the live table is in sync with the plan" test "$(segctl_status in_sync)" = yes
# a reload under the same fault: a changed file (its first conduit dropped)
first=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import libconf
c = libconf.loads(open(sys.argv[2], encoding="utf-8").read()).get("conduits") or []
print(c[0]["name"] if len(c) > 1 else "")' "$TOOLS" "$SEGD_CONF")
if [ -n "$first" ]; then
	cp "$SEGD_CONF" "$RUN_DIR/orig.conf"
	"$PY" "$TOOLS/lab.py" drop-conduit "$RUN_DIR/orig.conf" "$SEGD_CONF" "$first"
	n0=$(grep -c "^enobufs: " "$RUN_DIR/segd.log")
	out=$("$SEGCTL" --socket "$RUN_DIR/control.sock" reload 2>&1); rc=$?
	check "segctl reload under the fault exits 0 ($out)" test "$rc" = 0
	check "the fault was injected again" test "$(grep -c "^enobufs: " "$RUN_DIR/segd.log")" -gt "$n0"
	read -r ga2 gk2 <<<"$("$PY" "$TOOLS/incidents.py" status-get "$SEGCTL" "$SEGD_CONF" generation_applied generation_kernel)"
	check "after the reload generation_applied == generation_kernel ($ga2 == $gk2 > $gk)" test "$ga2" = "$gk2" -a "$gk2" -gt "$gk"
	check "the live table is in sync with the new plan" test "$(segctl_status in_sync)" = yes
	check "conduit '$first' is gone from the kernel" bash -c '! ip netns exec "$1" nft list table inet "$2" | grep -q "\"$3\"\|p\..*$3"' _ "$LAB_GW" "$LAB_TABLE" "$first"
fi
check "segd alive" segd_alive
stop_segd
summary
