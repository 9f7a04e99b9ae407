#!/bin/bash
# test-floor.sh - the boot floor (issue 7, point 5): before segd runs, the
# kernel already drops cross-zone traffic; segd then takes the table over
# without a gap.
#
#  1. the lab forwards mynumber -> internet when no rules are loaded (so that
#     "dropped" below means something);
#  2. no floor.nft yet: `segd-floor load` loads the static floor, the flow is
#     dropped and the floor's counter counts it; `release` removes it;
#  3. floor.nft = the last ruleset (what segd writes after an apply, the same
#     renderer as `segctl rules`): the whole traffic matrix of the
#     configuration holds with segd not running;
#  4. segd starts on top of it while a forbidden flood runs: 0 packets pass,
#     its table replaces the floor's in one transaction, and it has written
#     its own floor.nft, which nft accepts;
#  5. a floor.nft that nft refuses falls back to the static floor;
#  6. systemd-analyze verify accepts segd-floor.service.
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
FLOOR="$TOP/systemd/segd-floor"
export SEGD_FLOOR_STATIC="$TOP/systemd/segd-floor-static.nft"

heading "lab from $(basename "$CONFIG")"
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
"$PY" "$TOOLS/lab.py" localize "$CONFIG" "$RUN_DIR/segd.conf" "$RUN_DIR"
STATE="$RUN_DIR/state"
mkdir -p "$STATE"
export SEGD_FLOOR_DIR="$STATE"

# The first host and IPv4 address of the first zone of a kind.
host_of() {
	"$PY" - "$RUN_DIR/lab.json" "$1" "$2" <<'EOF'
import ipaddress, json, sys
plan = json.load(open(sys.argv[1]))
z = next(z for z in plan['zones'] if z['kind'] == sys.argv[2])
h = z['hosts'][0]
a = next(a for a in h['addrs'] if ipaddress.ip_address(a).version == 4)
print(h['ns'] if sys.argv[3] == 'ns' else a)
EOF
}
SRC_NS=$(host_of mynumber ns)
DST_IP=$(host_of internet addr)
gw() { ip netns exec "$LAB_GW" "$@"; }

# replies to N pings at interval I from the mynumber host to the internet host
# (each reply awaited up to 5 s: a late reply still counts, on a loaded machine)
replies() {
	ip netns exec "$SRC_NS" ping -n -q -c "$1" -i "$2" -W 5 "$DST_IP" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}
floor_counter() {
	gw nft list table inet segd-floor 2>/dev/null | sed -n 's/.*counter packets \([0-9]*\).*/\1/p' | head -1
}
has_table() { gw nft list table inet "$1" >/dev/null 2>&1; }

heading "1. no rules: the lab forwards mynumber -> internet ($SRC_NS -> $DST_IP)"
n=$(replies 3 0.2)
if [ "${n:-0}" -ge 1 ]; then ok "$n of 3 pings answered without rules"; else
	fail "the lab does not forward without rules: the drops below would prove nothing"; summary; exit 1
fi

heading "2. no floor.nft: the static floor"
if gw "$FLOOR" load; then ok "segd-floor load exits 0"; else fail "segd-floor load failed"; fi
check "table inet segd-floor is loaded" has_table segd-floor
n=$(replies 5 0.2)
if [ "${n:-1}" = 0 ]; then ok "0 of 5 pings pass the static floor"; else fail "$n of 5 pings passed the static floor"; fi
c=$(floor_counter)
if [ "${c:-0}" -ge 5 ]; then ok "the floor's counter counted them ($c packets)"; else
	fail "the floor's counter shows '$c' packets, expected >= 5"; fi
gw "$FLOOR" release >/dev/null
if has_table segd-floor; then fail "release left table inet segd-floor"; else ok "release deletes table inet segd-floor"; fi

heading "3. floor.nft (the last ruleset) with segd not running"
"$SEGCTL" rules "$RUN_DIR/segd.conf" >"$STATE/floor.nft"
if gw "$FLOOR" load; then ok "segd-floor load of floor.nft exits 0"; else fail "segd-floor load of floor.nft failed"; fi
check "table inet $LAB_TABLE comes from floor.nft" has_table "$LAB_TABLE"
if has_table segd-floor; then fail "the static floor was loaded as well"; else ok "no static floor beside it"; fi
SEGD_CONF="$RUN_DIR/segd.conf"
tap "$PY" "$TOOLS/enforce.py" "$RUN_DIR" "$SEGCTL" "$SEGD_CONF"
before=$(gw nft -a list table inet "$LAB_TABLE" | sed -n 's/.*table inet .* # handle \([0-9]*\).*/\1/p')

heading "4. segd takes over while forbidden traffic is sent"
rm -f "$STATE/floor.nft"
# The flood runs from before segd starts until segd's own table has dropped
# some of it (both seen in the drop counters), then it is stopped (SIGINT:
# ping prints its summary): the takeover happens within it however long
# segd takes to start (it was 400 pings in 2 s after 'sleep 0.3').
drops() { "$PY" "$TOOLS/incidents.py" drops "$RUN_DIR"; }
drops_above() { [ "$(drops)" -gt "$1" ]; }
handle_now() { gw nft -a list table inet "$LAB_TABLE" | sed -n 's/.*table inet .* # handle \([0-9]*\).*/\1/p'; }
replaced() { after=$(handle_now); [ -n "$after" ] && [ "$after" != "$before" ]; }
d0=$(drops)
ip netns exec "$SRC_NS" ping -n -q -c 100000 -i 0.005 -W 1 "$DST_IP" >"$RUN_DIR/flood.txt" 2>&1 &
flood=$!
wait_until 60 drops_above "$d0" || echo "     the floor's drop counters did not move: is the flood running?"
if start_segd "$CONFIG"; then ok "segd installed table inet $LAB_TABLE"; else fail "segd did not start"; fi
wait_until 120 replaced
d1=$(drops)
wait_until 60 drops_above "$d1" || echo "     segd's drop counters did not move: is the flood still running?"
if kill -0 "$flood" 2>/dev/null; then ok "the flood ran on until segd's table dropped it"; else
	fail "the flood ended before segd's table dropped any of it: the takeover was not under traffic"; fi
kill -INT "$flood" 2>/dev/null
wait "$flood"
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$RUN_DIR/flood.txt")
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$RUN_DIR/flood.txt")
if [ "${got:-1}" = 0 ] && [ "${sent:-0}" -gt 0 ]; then ok "0 of $sent forbidden packets passed during the takeover"; else
	fail "${got:-?} of ${sent:-?} forbidden packets passed during the takeover"; fi
if [ -n "$after" ] && [ "$after" != "$before" ]; then ok "segd replaced the floor's table (handle $before -> $after)"; else
	fail "the table's handle did not change ($before -> $after): segd did not replace it"; fi
check "segd is running" segd_alive
wait_until 60 test -s "$STATE/floor.nft"
if [ -s "$STATE/floor.nft" ]; then
	ok "segd wrote $STATE/floor.nft after its apply"
	# in a scratch namespace: the live table is owned by segd, so a check against it is refused
	check "nft -c accepts the floor.nft segd wrote" unshare -n nft -c -f "$STATE/floor.nft"
	if cmp -s <("$SEGCTL" rules "$SEGD_CONF") "$STATE/floor.nft"; then ok "it is the ruleset segd applied (= segctl rules)"; else
		fail "floor.nft differs from segctl rules of the running configuration"; fi
else
	fail "segd wrote no floor.nft into its state_dir (daemon/apply.c must call segd_floor_write after a successful apply)"
fi
stop_segd

heading "5. a floor.nft that nft refuses"
gw nft delete table inet "$LAB_TABLE" 2>/dev/null
printf 'table inet %s {\n\tthis is not nft\n}\n' "$LAB_TABLE" >"$STATE/floor.nft"
if gw "$FLOOR" load 2>"$RUN_DIR/floor.err"; then ok "segd-floor load exits 0 with a broken floor.nft"; else fail "segd-floor load failed"; fi
if grep -q "refused" "$RUN_DIR/floor.err"; then ok "it warns that nft refused floor.nft"; else fail "no warning: $(cat "$RUN_DIR/floor.err")"; fi
check "the static floor is loaded instead" has_table segd-floor
n=$(replies 3 0.2)
if [ "${n:-1}" = 0 ]; then ok "0 of 3 pings pass"; else fail "$n of 3 pings passed"; fi
gw "$FLOOR" release >/dev/null

heading "6. the unit"
v=$(systemd-analyze verify "$TOP/systemd/segd-floor.service" 2>&1 |
	grep -v -e 'is not executable' -e "Command 'man" -e 'Failed to prepare filename')
if [ -z "$v" ]; then ok "systemd-analyze verify segd-floor.service: no complaints"; else fail "verify: $v"; fi
for key in 'Before=network-pre.target segd.service' 'Type=oneshot' 'DefaultDependencies=no' 'RequiresMountsFor=/var/lib/segd'; do
	if grep -q "^$key" "$TOP/systemd/segd-floor.service"; then ok "unit has $key"; else fail "unit lacks $key"; fi
done
summary
