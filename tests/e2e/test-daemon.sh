#!/bin/bash
# test-daemon.sh - segd as a daemon (issue 5, points 1, 2 and 5): sd_notify
# (READY=1 once the table is in, STATUS=, the watchdog, RELOADING=1/READY=1
# around SIGHUP and `segctl reload`, STOPPING=1), a reload with an invalid
# configuration (every error to segctl and the journal, the kernel untouched),
# a valid reload (one transaction, journal entry with the file's sha256), one
# segd per table in a network namespace. Real journald (journald.sh).
#
#   E2E_CONFIG: the configuration (default conf/lab.conf; it needs a
#   `conduits = (` list and at least two conduits)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
daemon_reexec "$@"
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
WATCHDOG_US=1000000

heading "segd under a stand-in for systemd (NOTIFY_SOCKET, WATCHDOG_USEC=$WATCHDOG_US)"
daemon_lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
notify_start || { fail "notify socket"; summary; exit 1; }
export WATCHDOG_USEC=$WATCHDOG_US
if start_segd "$CONFIG"; then ok "segd installed table inet $LAB_TABLE"; else
	fail "segd installed table inet $LAB_TABLE"; summary; exit 1
fi
unset WATCHDOG_USEC
check "READY=1 sent" wait_until 60 grep -q ' READY=1$' "$NOTIFY_LOG"
check "READY=1 comes from segd itself (pid $SEGD_PID)" \
	awk -v p="$SEGD_PID" '$3 == "READY=1" && $2 == p { f = 1 } END { exit !f }' "$NOTIFY_LOG"
check "STATUS= names the table" grep -q " STATUS=enforcing table inet $LAB_TABLE" "$NOTIFY_LOG"
# the pings themselves, not a fixed wait: three of them, then their gaps
watchdog_pings() { [ "$(awk '$3 == "WATCHDOG=1"' "$NOTIFY_LOG" | wc -l)" -ge "$1" ]; }
wait_until 60 watchdog_pings 3
wd=$(awk '$3 == "WATCHDOG=1" { if (t) { d = $1 - t; if (d > m) m = d }; t = $1; n++ }
	END { printf "%d %.3f", n, m }' "$NOTIFY_LOG")
echo "     watchdog: ${wd% *} pings, longest gap ${wd#* } s (WATCHDOG_USEC ${WATCHDOG_US} us)"
check "WATCHDOG=1 periodically, never later than WATCHDOG_USEC" \
	awk -v n="${wd% *}" -v m="${wd#* }" -v w="$WATCHDOG_US" 'BEGIN { exit !(n >= 3 && m < w / 1e6) }'

# reload_notified MARK: RELOADING=1 then READY=1 after line MARK; prints the ms between
reload_notified() {
	tail -n +"$(($1 + 1))" "$NOTIFY_LOG" | awk '$3 == "RELOADING=1" && !r { r = $1 }
		$3 == "READY=1" && r { printf "%.1f\n", ($1 - r) * 1000; f = 1; exit } END { exit !f }'
}

heading "reload by SIGHUP and by segctl reload"
mark=$(notify_mark)
kill -HUP "$SEGD_PID"
if wait_until 60 reload_notified "$mark"; then
	ok "SIGHUP: RELOADING=1 then READY=1 ($(reload_notified "$mark") ms)"
else fail "SIGHUP: RELOADING=1 then READY=1"; fi
mark=$(notify_mark)
out=$("$SEGCTL" -c "$SEGD_CONF" reload 2>&1); rc=$?
check "segctl reload exits 0" test "$rc" = 0
# segd sent both before it answered, but the reader logs them on its own time
wait_until 60 reload_notified "$mark"
check "segctl reload: RELOADING=1 then READY=1 ($(reload_notified "$mark") ms)" reload_notified "$mark"
check "segctl reload prints the new sha256" grep -q "sha256 $(sha256sum <"$SEGD_CONF" | cut -d' ' -f1)" <<<"$out"

heading "reload with an invalid configuration"
cp "$SEGD_CONF" "$RUN_DIR/good.conf"
"$PY" - "$SEGD_CONF" <<'PY'
import re, sys
p = sys.argv[1]
t = open(p, encoding='utf-8').read()
bad = ('\n  { name = "e2e-bad-port"; kind = "specific"; from = "e2e-no-such-zone"; to = "e2e-none";\n'
       '    services = [ "tcp/70000" ]; approval = "X"; expires = "2099-01-01"; },\n'
       '  { name = "e2e-bad-kind"; kind = "e2e-no-such-kind"; from = "e2e-a"; to = "e2e-b";\n'
       '    services = [ "udp/0" ]; },')
t, n = re.subn(r'(\bconduits\s*[=:]\s*\()', lambda m: m.group(1) + bad, t, count=1)
if not n:
    sys.exit('no conduits list in ' + p)
open(p, 'w', encoding='utf-8').write(t)
PY
expected=$("$SEGCTL" check "$SEGD_CONF" 2>&1 | grep ': error: ' | sort)
n_err=$(grep -c . <<<"$expected")
echo "     segctl check finds $n_err errors in the broken file"
before=$(table_handles)
jmark=$(journal_event reload-failed | wc -l)
out=$("$SEGCTL" -c "$SEGD_CONF" reload 2>&1); rc=$?
check "segctl reload exits 1" test "$rc" = 1
got=$(grep ': error: ' <<<"$out" | sort)
same_lines() { [ "$1" = "$2" ] || { diff <(echo "$1") <(echo "$2"); return 1; }; }
check "segctl reload prints the $n_err errors of segctl check (at least 3), each file:line" \
	same_lines "$expected" "$got"
check "... at least 3 of them" test "$n_err" -ge 3
check "every error line starts with the file and a line number" \
	bash -c '! grep -v "^$1:[0-9][0-9]*: error: " <<<"$2"' _ "$SEGD_CONF" "$got"
check "the running rules are byte-identical (handles included)" test "$(table_handles)" = "$before"
failures_at_least() { [ "$(segctl_status reload_failures)" -ge "$1" ]; }
f0=$(segctl_status reload_failures)
kill -HUP "$SEGD_PID"
check "segd counts the SIGHUP's failed reload (reload_failures $f0 -> $((f0 + 1)))" wait_until 60 failures_at_least $((f0 + 1))
check "the same after SIGHUP" test "$(table_handles)" = "$before"
check "segd still running" segd_alive
# the entries reach journald after the reply: wait until both reloads' are there
failed_msgs() { journal_event reload-failed | tail -n +"$((jmark + 1))" | jget MESSAGE; }
wait_until 60 eval '[ "$(failed_msgs | grep -c "error:")" -ge $((2 * n_err)) ] && failed_msgs | grep -q "(SIGHUP)"'
msgs=$(failed_msgs)
missing=0
while IFS= read -r e; do
	grep -qF -- "${e#"$SEGD_CONF":}" <<<"$msgs" || { missing=$((missing + 1)); echo "     not in the journal: $e"; }
done <<<"$expected"
check "journal: SEGD_EVENT=reload-failed carries each of the $n_err errors (twice: segctl, SIGHUP)" \
	test "$missing$(grep -c 'error:' <<<"$msgs")" = "0$((2 * n_err))"
check "journal: reload-failed says the running rules stay" grep -q 'stay in force' <<<"$msgs"

heading "valid reload: a conduit fewer, one transaction"
conduit=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[2]); import libconf
print(libconf.load(sys.argv[1])["conduits"][0]["name"])' "$RUN_DIR/good.conf" "$TOOLS")
"$PY" "$TOOLS/lab.py" drop-conduit "$RUN_DIR/good.conf" "$SEGD_CONF" "$conduit"
want=$(sha256sum <"$SEGD_CONF" | cut -d' ' -f1)
ip netns exec "$LAB_GW" "$PY" "$TOOLS/genmon.py" >"$RUN_DIR/gens" 2>&1 &
mon=$!
wait_until 30 grep -q '^# listening' "$RUN_DIR/gens"
t0=$(date +%s%N)
out=$("$SEGCTL" -c "$SEGD_CONF" reload 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
# the monitor has seen every commit up to the reload's once it has seen the
# reload's generation (events arrive in order); then nothing is in flight
gen=$(segctl_status generation_applied)
seen_gen() { awk -v g="$1" '$1 == "#" && $3 == "generation" && $4 >= g { f = 1 } END { exit !f }' "$RUN_DIR/gens"; }
wait_until 60 seen_gen "$gen" || echo "     the monitor did not see generation $gen"
kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null
check "segctl reload exits 0 (round trip $ms ms)" test "$rc" = 0
check "one transaction (one new generation by segd)" test "$(grep -c '^# new generation .*(segd)' "$RUN_DIR/gens")" = 1
check "conduit '$conduit' is gone from the kernel" bash -c '! grep -qF -- "$1" <<<"$2"' _ "$conduit" "$(table_listing)"
reload_entry() { grep -qx "$want" <<<"$(journal_event reload | jget SEGD_CONFIG_SHA256)"; }
check "journal: SEGD_EVENT=reload with SEGD_CONFIG_SHA256=$want" wait_until 60 reload_entry
check "segctl status reports the new sha256" test "$(segctl_status sha256)" = "$want"

heading "one segd per table"
before=$(table_handles)
mark=$(notify_mark)
out=$(timeout 120 ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" 2>&1); rc=$?
echo "     $out" | head -3
check "a second segd on table inet $LAB_TABLE exits 2" test "$rc" = 2
check "... saying that another segd enforces the table" grep -q "another segd already enforces table inet $LAB_TABLE" <<<"$out"
check "... without touching the table" test "$(table_handles)" = "$before"
notify_sync || echo "     the notification reader did not log our marker"
check "... and sends no READY=1/STOPPING=1" test "$(notify_count READY=1 "$mark")$(notify_count STOPPING=1 "$mark")" = 00
check "the first segd still answers" "$SEGCTL" -c "$SEGD_CONF" status
other=$RUN_DIR/other
mkdir -p "$other"
sed -E -e "s|\btable *= *\"[^\"]*\"|table = \"${LAB_TABLE}_2\"|" \
	-e "s|\blog_group *= *[0-9]+|log_group = 29|" -e "s|$RUN_DIR/|$other/|g" "$SEGD_CONF" >"$other/segd.conf"
ip netns exec "$LAB_GW" env -u NOTIFY_SOCKET "$SEGD" -c "$other/segd.conf" >"$other/log" 2>&1 &
pid2=$!
check "segd on table inet ${LAB_TABLE}_2 in the same namespace starts" \
	wait_until 120 ip netns exec "$LAB_GW" nft list table inet "${LAB_TABLE}_2"
check "... and answers on its own control socket" wait_until 120 "$SEGCTL" -c "$other/segd.conf" status
check "the first segd saw no tamper" test "$(segctl_status tampers)" = 0
kill "$pid2"; wait "$pid2"
check "... and stops with status 0" test "$?" = 0
sed -E "s|$other/control.sock|$RUN_DIR/control.sock|" "$other/segd.conf" >"$other/same-socket.conf"
ip netns exec "$LAB_GW" env -u NOTIFY_SOCKET "$SEGD" -c "$other/same-socket.conf" >"$other/log3" 2>&1 &
pid3=$!
wait_until 120 grep -q "control socket" "$other/log3"
check "a segd of another table does not take over the first one's control socket" \
	grep -q "cannot open the control socket .*in use" "$other/log3"
check "... which still answers the first segd" test "$(segctl_status pid)" = "$SEGD_PID"
kill "$pid3"; wait "$pid3"

heading "the file on disk against what runs"
cp "$SEGD_CONF" "$RUN_DIR/before-edit.conf"
check "status: the file on disk is what runs" test "$(segctl_status config_file_changed)" = no
echo "# an edit not yet reloaded" >>"$SEGD_CONF"
check "status: an edit not yet reloaded is flagged" test "$(segctl_status config_file_changed)" = yes
check "... with the file's own sha256" \
	test "$(segctl_status config_file_sha256)" = "$(sha256sum <"$SEGD_CONF" | cut -d' ' -f1)"
cp "$RUN_DIR/before-edit.conf" "$SEGD_CONF"
check "status: undone, nothing flagged" test "$(segctl_status config_file_changed)" = no

heading "stop"
mark=$(notify_mark)
kill "$SEGD_PID"; wait "$SEGD_PID"; rc=$?
check "SIGTERM: segd exits 0" test "$rc" = 0
notify_sync || echo "     the notification reader did not log our marker"
check "STOPPING=1 sent" test "$(notify_count STOPPING=1 "$mark")" = 1
check "table inet $LAB_TABLE stays" table_listing
SEGD_PID=""
summary
