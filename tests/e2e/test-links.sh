#!/bin/bash
# test-links.sh - the zones' interfaces against the gateway's live links
# (issue 12, point 7). In the lab's gateway namespace an interface of the
# internet zone is made a macvlan stacked on the My Number port: the packets
# of the My Number wire would then arrive as the internet zone's, past the
# model guard, without any rule changing.
#   A. `segctl check --live` refuses the file, naming both interfaces; the
#      same file passes --offline (the negative control: the live links are
#      what catch it); segd refuses to start on it.
#   B. segd runs with that interface missing (a warning); the interface then
#      appears as a plain bridge of no ports (journal: "as the configuration says again",
#      no critical entry), goes (a warning), and appears stacked on the My
#      Number port: a critical journal entry (SEGD_EVENT=interface,
#      PRIORITY=2) names it; the rules in force stay.
#   C. a reload while it is stacked is refused; the rules stay.
#
#   E2E_CONFIG: the configuration (default conf/lab.conf)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
daemon_reexec "$@"
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
STK=stk0

daemon_lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
"$PY" "$TOOLS/lab.py" localize "$CONFIG" "$RUN_DIR/base.conf" "$RUN_DIR" || { fail "localize"; summary; exit 1; }
# the first interface of the first mynumber zone, and a copy of the file whose
# internet zone also lists $STK
read -r MN_IF < <("$PY" - "$TOOLS" "$RUN_DIR/base.conf" "$RUN_DIR/stacked.conf" "$STK" <<'PY'
import re, sys
sys.path.insert(0, sys.argv[1])
import libconf
text = open(sys.argv[2], encoding='utf-8').read()
cfg = libconf.loads(text)
mn = next(z for z in cfg['zones'] if z['kind'] == 'mynumber')
inet = next(z for z in cfg['zones'] if z['kind'] == 'internet')
print(mn['interfaces'][0])
# add the interface to the internet zone's list, as an administrator would
pat = re.compile(r'(name\s*=\s*"%s"[^}]*?interfaces\s*=\s*\[)' % re.escape(inet['name']), re.S)
out, n = pat.subn(lambda m: m.group(1) + ' "%s",' % sys.argv[4], text, count=1)
assert n == 1, 'no interfaces list in the internet zone'
open(sys.argv[3], 'w', encoding='utf-8').write(out)
PY
)
[ -n "$MN_IF" ] || { fail "the My Number interface of $CONFIG"; summary; exit 1; }
gw() { ip netns exec "$LAB_GW" "$@"; }
crit_entries() { journal_event interface | "$PY" -c 'import json, sys
print(sum(1 for l in sys.stdin if l.strip() and json.loads(l).get("PRIORITY") == "2" and sys.argv[1] in json.loads(l).get("MESSAGE", "")))' "$1"; }
has_entry() {   # has_entry PRIORITY TEXT: an interface entry of that priority with the text
	journal_event interface | "$PY" -c 'import json, sys
sys.exit(0 if any(json.loads(l).get("PRIORITY") == sys.argv[1] and sys.argv[2] in json.loads(l).get("MESSAGE", "")
                  for l in sys.stdin if l.strip()) else 1)' "$1" "$2"
}

heading "A. $STK, a macvlan on the My Number port $MN_IF, listed in the internet zone"
gw ip link add link "$MN_IF" name "$STK" type macvlan mode bridge || { fail "ip link add $STK"; summary; exit 1; }
out=$(gw "$SEGCTL" check --live "$RUN_DIR/stacked.conf" 2>&1); rc=$?
echo "$out" | grep ": error: " | sed 's/^/     | /' | cut -c1-240
check "segctl check --live refuses it (exit 1)" test "$rc" = 1
check "the error names $STK, $MN_IF and the zone" grep -q "interface '$STK' is joined to '$MN_IF' of zone '[a-z0-9_-]*' ('$STK' is a macvlan on '$MN_IF')" <<<"$out"
out=$(gw "$SEGCTL" check --offline "$RUN_DIR/stacked.conf" 2>&1); rc=$?
check "negative control: the same file passes --offline (exit $rc)" test "$rc" = 0
cp "$RUN_DIR/stacked.conf" "$RUN_DIR/segd-a.conf"
timeout 20 ip netns exec "$LAB_GW" "$SEGD" -c "$RUN_DIR/segd-a.conf" >"$RUN_DIR/segd-a.log" 2>&1; rc=$?
check "segd refuses to start on it (exit $rc)" test "$rc" = 1
check "and says why" grep -q "interface '$STK' is joined to '$MN_IF'" "$RUN_DIR/segd-a.log"
check "no table was installed" bash -c '! ip netns exec "$1" nft list table inet "$2" >/dev/null 2>&1' _ "$LAB_GW" "$LAB_TABLE"

heading "B. segd runs; $STK appears and goes while it runs"
gw ip link del "$STK"
if start_segd "$RUN_DIR/stacked.conf"; then ok "segd runs with $STK missing"; else fail "segd starts"; summary; exit 1; fi
check "the missing interface is a warning at start" grep -q "interface '$STK' does not exist on this gateway" "$RUN_DIR/segd.log"
rules0=$(table_listing | sed -E 's/packets [0-9]+ bytes [0-9]+//g' | md5sum)
gw ip link add "$STK" type bridge
check "a plain $STK appears: 'as the configuration says again' (PRIORITY 5)" \
	wait_until 10 has_entry 5 "as the configuration says again"
check "negative control: no critical entry for a plain interface" test "$(crit_entries "$STK")" = 0
gw ip link del "$STK"
check "it goes: a warning (PRIORITY 4)" wait_until 10 has_entry 4 "interface '$STK' does not exist"
gw ip link add link "$MN_IF" name "$STK" type macvlan mode bridge
check "it appears stacked on $MN_IF: a critical entry (PRIORITY 2) naming both" \
	wait_until 10 has_entry 2 "interface '$STK' is joined to '$MN_IF'"
journal_event interface | jget MESSAGE | tail -1 | cut -c1-240 | sed 's/^/     | /'
ids=$(journal_event interface | jget MESSAGE_ID | sort -u)
check "the entries carry the interface event's MESSAGE_ID ($ids)" test "$ids" = 287bcf9196724279af6ea7ecb3446d68
check "the rules in force did not change" test "$(table_listing | sed -E 's/packets [0-9]+ bytes [0-9]+//g' | md5sum)" = "$rules0"

heading "C. a reload while $STK is stacked"
n0=$(journal_event reload-failed | wc -l)
failed_since() { [ "$(journal_event reload-failed | wc -l)" -gt "$1" ]; }
kill -HUP "$SEGD_PID"
check "the reload is refused (reload-failed)" wait_until 10 failed_since "$n0"
check "segd still runs" segd_alive
check "the rules in force did not change" test "$(table_listing | sed -E 's/packets [0-9]+ bytes [0-9]+//g' | md5sum)" = "$rules0"
stop_segd
summary
