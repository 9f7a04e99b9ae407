#!/bin/bash
# test-journal-faults.sh - issue 4, points 2 and 3: segd against a real
# journald that fails, and a spool that cannot be written.
#   - journald stopped (SIGSTOP) during forbidden traffic: segd's loop keeps
#     serving (segctl status within 1 s), sd_notify WATCHDOG=1 keeps coming,
#     incidents keep going to the spool; after SIGCONT the entries lost (if
#     any) are reported (SEGD_EVENT=journal-loss) and counted in status;
#   - journald's socket removed, and journald killed (socket left,
#     ECONNREFUSED): the lost entries are counted and reported when a
#     journald is back;
#   - the spool's file system full: enforcement and the journal go on, the
#     error is reported in the journal (spool-error) and in status; when space
#     comes back the queued lines are written (spool-ok) and none is lost.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/journald.sh"
require_root
journal_reexec bash "$0" "$@"
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
WINDOW=1
INC="$PY $TOOLS/incidents.py"
NOTIFY_PID=""

cleanup() {
	[ -n "${JOURNALD_PID:-}" ] && kill -CONT "$JOURNALD_PID" 2>/dev/null
	stop_segd
	[ -n "$NOTIFY_PID" ] && kill "$NOTIFY_PID" 2>/dev/null
	[ -n "$RUN_DIR" ] && umount "$RUN_DIR/spooldir" 2>/dev/null
	lab_down
	journal_stop
}
mono() { "$PY" -c 'import time; print("%.3f" % time.monotonic())'; }
status() { $INC status-get "$SEGCTL" "$SEGD_CONF" "$@"; }
jevents() { journal_read >"$RUN_DIR/journal.jsonl"; $INC jevents "$RUN_DIR/journal.jsonl" "$1"; }
# journal_taking: a datagram connect() to journald's socket succeeds (a socket
# file that a killed journald left refuses it)
journal_taking() { "$PY" -c 'import socket, sys
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).connect(sys.argv[1])' /run/systemd/journal/socket; }
journald_again() {
	/lib/systemd/systemd-journald >/dev/null 2>&1 &
	JOURNALD_PID=$!
	wait_until 60 journal_taking
}
# journal_mark: an entry of our own, sent to journald's socket after
# everything segd sent; journald reads its socket in order, so once the mark
# is in the journal, so is every entry segd sent before it (up to 60 s)
journal_mark() {
	local m="mark-$$-$(date +%s%N)"
	printf 'MESSAGE=%s\nSYSLOG_IDENTIFIER=segd-e2e-mark\n' "$m" | logger --journald || return 1
	wait_until 60 bash -c 'journalctl --sync >/dev/null 2>&1; journalctl -D "$1" -o cat --no-pager SYSLOG_IDENTIFIER=segd-e2e-mark | grep -qx "$2"' \
		_ "$JOURNAL_DIR" "$m"
}
# settle [nomark]: until segd has a record of every packet the kernel dropped,
# no incident is open and no journal entry pending (incidents.py settle, up to
# 120 s: the incidents of the last traffic are closed and handed on), and,
# unless nomark (journald not there), the journal holds what segd sent
settle() {
	$INC settle "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --timeout 120 || echo "     (not settled)"
	[ "${1:-}" = nomark ] || journal_mark || echo "     (journal mark not seen)"
}
# spool_caught_up LINES0 EMITTED0: no incident open, and one spool line for
# each incident emitted since (the spool lane has written them all)
spool_caught_up() {
	local open lines emitted
	read -r open lines emitted < <(status incidents_open spool_lines incidents_emitted)
	[ "$open" = 0 ] && [ $((lines - $1)) = $((emitted - $2)) ]
}
spool_incidents() { grep -c '"incident_id"' "$RUN_DIR/incidents.jsonl" 2>/dev/null || echo 0; }

heading "journald, lab, segd (incident_window = $WINDOW s, watchdog 1 s, spool on its own file system)"
journal_start || { fail "journald starts"; journal_stop; summary; exit 1; }
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; cleanup; summary; exit 1; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
$INC window "$CONFIG" "$RUN_DIR/window.conf" "$WINDOW"
$INC plan "$RUN_DIR" "$RUN_DIR/flows.json" >/dev/null
# the spool (RUN_DIR/incidents.jsonl, see lab.py localize) lives on a tmpfs
# of its own that the test can fill; mounted before segd starts so that
# segd's mount namespace (ip netns exec) has it
mkdir "$RUN_DIR/spooldir"
mount -t tmpfs -o size=32m tmpfs "$RUN_DIR/spooldir"
ln -s spooldir/incidents.jsonl "$RUN_DIR/incidents.jsonl"
$INC notify "$RUN_DIR/notify.sock" "$RUN_DIR/notify.log" &
NOTIFY_PID=$!
wait_until 60 test -S "$RUN_DIR/notify.sock"
export NOTIFY_SOCKET="$RUN_DIR/notify.sock" WATCHDOG_USEC=1000000
start_segd "$RUN_DIR/window.conf" || { fail "segd starts"; summary; exit 1; }
unset NOTIFY_SOCKET WATCHDOG_USEC
ok "segd runs (pid $SEGD_PID)"
cc -O2 -o "$RUN_DIR/flood" "$TOOLS/flood.c" || { fail "flood.c compiles"; summary; exit 1; }
NS=$($INC frames "$RUN_DIR" "$RUN_DIR/many.frames" --letter D --fam 4 --proto udp --distinct 6000)

heading "journald works: the first incidents reach it"
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 3
settle
read -r n _ < <(jevents flow-denied)
if [ "$n" -ge 3 ]; then ok "$n flow-denied entries in the journal"; else fail "only $n flow-denied entries"; fi

heading "journald stopped (SIGSTOP) while $((5 * 12000)) forbidden packets of 6000 flows a second arrive"
read -r lines0 emitted0 < <(status spool_lines incidents_emitted)
kill -STOP "$JOURNALD_PID"
t_stop=$(mono)
slow=0 asked=0
for round in 1 2 3 4 5; do
	ip netns exec "$NS" "$RUN_DIR/flood" eth0 "$RUN_DIR/many.frames" 12000 >/dev/null
	for _ in 1 2 3 4; do
		s=$(date +%s%N)
		timeout 5 "$SEGCTL" -c "$SEGD_CONF" --json status >/dev/null || slow=$((slow + 1))
		[ $(( ($(date +%s%N) - s) / 1000000 )) -gt 1000 ] && slow=$((slow + 1))
		asked=$((asked + 1))
		sleep 0.25
	done
done
# instead of a fixed 2 s: until segd has every record of the drops (NFLOG
# flushes within 1 s), then until every incident closed and is in the spool
$INC settle "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --delivered --timeout 120 || echo "     (records not all delivered)"
wait_until 60 spool_caught_up "$lines0" "$emitted0"
read -r lines1 pending dropped_stalled emitted < <(status spool_lines journal_pending journal_dropped incidents_emitted)
t_cont=$(mono)
echo "     during the stall: $((lines1 - lines0)) spool lines written, $pending journal entries waiting, $dropped_stalled dropped; $emitted incidents emitted"
if [ "$slow" = 0 ]; then ok "segctl status answered within 1 s, $asked times, while journald was stopped"; else
	fail "segctl status slow or unanswered $slow of $asked times while journald was stopped"
fi
tap $INC watchdog "$RUN_DIR/notify.log" "$t_stop" "$t_cont" 1.0
if [ "$((lines1 - lines0))" -gt 4096 ]; then ok "incidents kept going to the spool ($((lines1 - lines0)) lines)"; else
	fail "the spool stalled with journald: $((lines1 - lines0)) lines"
fi
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$SEGD_PID/status")
echo "     segd VmHWM ${rss} kB"
if [ "$rss" -le $((16 * 1024)) ]; then ok "segd peak RSS ${rss} kB <= 16 MiB with journald stopped"; else
	fail "segd peak RSS ${rss} kB > 16 MiB with journald stopped"
fi
kill -CONT "$JOURNALD_PID"
pending_none() { [ "$(status journal_pending)" = 0 ]; }
wait_until 120 pending_none
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 1
settle
read -r dropped < <(status journal_dropped)
read -r n sum < <(jevents journal-loss)
if [ "$dropped" -gt 0 ] && [ "$sum" = "$dropped" ]; then
	ok "after SIGCONT: $n journal-loss entries report $sum lost entries, as status counts ($dropped)"
else
	fail "after SIGCONT: journal-loss reports $sum (in $n entries), status counts $dropped"
fi

heading "journald's socket removed"
rm -f /run/systemd/journal/socket
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 4
settle nomark
read -r dropped2 < <(status journal_dropped)
if [ "$((dropped2 - dropped))" -ge 4 ]; then ok "entries sent to no socket are counted as lost ($((dropped2 - dropped)))"; else
	fail "entries sent to no socket: $((dropped2 - dropped)) counted as lost, want >= 4"
fi
journal_stop
journald_again || fail "journald starts again"
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 1
settle
read -r n sum < <(jevents journal-loss)
if [ "$sum" = "$dropped2" ]; then ok "a new journald gets the report: $sum lost entries in all"; else
	fail "journal-loss reports $sum lost entries, status counts $dropped2"
fi

heading "journald killed, its socket left (ECONNREFUSED)"
kill -9 "$JOURNALD_PID"; wait "$JOURNALD_PID" 2>/dev/null
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 4
settle nomark
read -r dropped3 < <(status journal_dropped)
if [ "$((dropped3 - dropped2))" -ge 4 ]; then ok "refused entries are counted as lost ($((dropped3 - dropped2)))"; else
	fail "refused entries: $((dropped3 - dropped2)) counted as lost, want >= 4"
fi
journald_again || fail "journald starts again"
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 1
settle
read -r n sum < <(jevents journal-loss)
if [ "$sum" = "$dropped3" ]; then ok "reported when journald is back: $sum lost entries in all"; else
	fail "journal-loss reports $sum lost entries, status counts $dropped3"
fi

heading "the spool's file system is full"
dd if=/dev/zero of="$RUN_DIR/spooldir/filler" bs=64k 2>/dev/null
read -r c0 < <($PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import netlab, json
p = json.load(open(sys.argv[2] + "/lab.json")); print(sum(netlab.drop_counters(p["gw_ns"], p["table"]).values()))' "$TOOLS" "$RUN_DIR")
read -r j0 _ < <(jevents flow-denied)
$INC send "$RUN_DIR" "$RUN_DIR/flows.json" --first 5
settle
read -r err < <(status spool_error)
read -r c1 < <($PY -c 'import sys; sys.path.insert(0, sys.argv[1]); import netlab, json
p = json.load(open(sys.argv[2] + "/lab.json")); print(sum(netlab.drop_counters(p["gw_ns"], p["table"]).values()))' "$TOOLS" "$RUN_DIR")
read -r j1 _ < <(jevents flow-denied)
read -r n_err _ < <(jevents spool-error)
if [ "$err" != "-" ]; then ok "segctl status shows the spool error: $err"; else fail "status shows no spool error"; fi
if [ "$n_err" -ge 1 ]; then ok "the journal has the spool error (SEGD_EVENT=spool-error)"; else fail "no spool-error entry"; fi
if [ "$((j1 - j0))" -ge 5 ]; then ok "incidents still reach the journal ($((j1 - j0)) new)"; else
	fail "incidents stopped reaching the journal ($((j1 - j0)) new)"
fi
if [ "$((c1 - c0))" -gt 0 ]; then ok "enforcement goes on: the kernel dropped and counted $((c1 - c0)) packets"; else
	fail "no drops counted while the spool was full"
fi
rm -f "$RUN_DIR/spooldir/filler"
# instead of a fixed 2.5 s: until the error has cleared and the spool holds a
# line for every incident emitted (up to 60 s), then the mark for the journal
spool_back() {
	local emitted err
	read -r emitted err < <(status incidents_emitted spool_error)
	[ "$err" = "-" ] && [ "$(spool_incidents)" = "$emitted" ]
}
wait_until 60 spool_back
journal_mark || echo "     (journal mark not seen)"
read -r emitted spool_dropped err < <(status incidents_emitted spool_dropped spool_error)
read -r n_ok _ < <(jevents spool-ok)
if [ "$err" = "-" ] && [ "$n_ok" -ge 1 ]; then ok "space back: the error clears (spool-ok in the journal)"; else
	fail "space back: spool_error '$err', $n_ok spool-ok entries"
fi
lines=$(spool_incidents)
if [ "$lines" = "$emitted" ] && [ "$spool_dropped" = 0 ]; then
	ok "the spool holds every incident emitted ($lines), none dropped"
else
	fail "the spool holds $lines incidents, segd emitted $emitted ($spool_dropped dropped)"
fi
check "segd still running" segd_alive
summary
