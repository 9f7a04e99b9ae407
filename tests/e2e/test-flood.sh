#!/bin/bash
# test-flood.sh - issue 4, point 4: a flood of forbidden packets (default
# 300,000, as fast as two packet-socket senders go), with many more distinct
# flows than segd's table holds and one heavy flow; segd running against a
# real journald. Then:
#   - accounting: the kernel's drop counters == packets in incidents + not
#     sampled (segctl status --json);
#   - the journal holds at most max_open + max_overflow + 5 incidents per
#     window; the overflow incidents say how many flows they folded; the
#     heavy flow is one incident with every packet;
#   - segd's peak resident memory (VmHWM) stays <= 16 MiB; the loop answers
#     segctl status during the flood;
#   - a second flood while segd is stopped (SIGSTOP): the records the kernel
#     could not deliver show up as sequence gaps and the equation still holds.
#
#   E2E_CONFIG=FILE     another configuration than conf/lab.conf
#   E2E_FLOOD=N         packets per sender (default 150000; two senders)
#   E2E_DISTINCT=N      distinct flows per sender (default 25000)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/journald.sh"
require_root
journal_reexec bash "$0" "$@"
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
PER_SENDER=${E2E_FLOOD:-150000}
DISTINCT=${E2E_DISTINCT:-25000}
WINDOW=10                 # longer than the flood: every flow is in one window
RSS_LIMIT_KB=$((16 * 1024))
INC="$PY $TOOLS/incidents.py"

cleanup() { stop_segd; lab_down; journal_stop; }

heading "journald, lab, segd (incident_window = $WINDOW s)"
JOURNAL_RATELIMIT_INTERVAL=0 journal_start || { fail "journald starts"; journal_stop; summary; exit 1; }
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; cleanup; summary; exit 1; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
$INC window "$CONFIG" "$RUN_DIR/window.conf" "$WINDOW"
start_segd "$RUN_DIR/window.conf" || { fail "segd starts"; summary; exit 1; }
ok "segd runs (pid $SEGD_PID)"
if ! cc -O2 -o "$RUN_DIR/flood" "$TOOLS/flood.c"; then fail "flood.c compiles"; summary; exit 1; fi

heading "the flood: 2 senders x $PER_SENDER packets, $DISTINCT distinct flows each, one heavy flow"
NS_A=$($INC frames "$RUN_DIR" "$RUN_DIR/a.frames" --letter M --fam 4 --proto udp --distinct "$DISTINCT" --heavy)
NS_B=$($INC frames "$RUN_DIR" "$RUN_DIR/b.frames" --letter D --fam 6 --proto tcp --distinct "$DISTINCT")
# the heavy flow's first packet ahead, so that it holds a slot of its own
# (a flow that arrives once the table is full is folded, as it should be)
ip netns exec "$NS_A" "$RUN_DIR/flood" eth0 "$RUN_DIR/a.frames" 1 >/dev/null
# NFLOG delivers a lone record within 1 s: wait (up to 60 s) until segd has
# every packet the kernel dropped, instead of a fixed 1.5 s
$INC settle "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --delivered --timeout 60 ||
	fail "segd got the heavy flow's first packet"
rss_before=$(awk '/VmHWM/ { print $2 }' "/proc/$SEGD_PID/status")
t0=$(date +%s.%N)
ip netns exec "$NS_A" "$RUN_DIR/flood" eth0 "$RUN_DIR/a.frames" "$PER_SENDER" >"$RUN_DIR/a.out" 2>&1 &
pid_a=$!
ip netns exec "$NS_B" "$RUN_DIR/flood" eth0 "$RUN_DIR/b.frames" "$PER_SENDER" >"$RUN_DIR/b.out" 2>&1 &
pid_b=$!
# the event loop keeps answering during the flood
slow=0 asked=0
while kill -0 "$pid_a" 2>/dev/null || kill -0 "$pid_b" 2>/dev/null; do
	s=$(date +%s%N)
	timeout 5 "$SEGCTL" -c "$SEGD_CONF" --json status >/dev/null || slow=$((slow + 1))
	[ $(( ($(date +%s%N) - s) / 1000000 )) -gt 1000 ] && slow=$((slow + 1))
	asked=$((asked + 1))
	sleep 0.1
done
wait "$pid_a"; rc_a=$?
wait "$pid_b"; rc_b=$?
t1=$(date +%s.%N)
sed 's/^/     /' "$RUN_DIR/a.out" "$RUN_DIR/b.out"
if [ "$rc_a" = 0 ] && [ "$rc_b" = 0 ]; then ok "both senders finished"; else fail "senders exited $rc_a $rc_b"; fi
sent=$(awk '{ s += $2 } END { print s }' "$RUN_DIR/a.out" "$RUN_DIR/b.out")
awk -v n="$sent" -v a="$t1" -v b="$t0" 'BEGIN { printf "     %d packets in %.2f s: %.0f pps together\n", n, a - b, n / (a - b) }'
if [ "$sent" -ge 200000 ]; then ok "flood of $sent packets (>= 200,000)"; else fail "only $sent packets sent"; fi
if [ "$slow" = 0 ]; then ok "segctl status answered within 1 s during the flood ($asked times)"; else
	fail "segctl status slow or unanswered $slow of $asked times during the flood"
fi
heavy=$(sed -n 's/.*frame 0 sent \([0-9]*\) times.*/\1/p' "$RUN_DIR/a.out")
"$PY" - "$RUN_DIR/a.frames.json" "$heavy" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); d['heavy_sent'] = int(sys.argv[2]) + 1   # + the one ahead
json.dump(d, open(sys.argv[1], 'w'))
PY

heading "accounting (NFLOG flushes within 1 s)"
# no fixed wait: accounting polls (60 s ceiling) until the kernel's counters
# stand still and segd's totals equal them
tap $INC accounting "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --save "$RUN_DIR/status.json"
records=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["records"])' "$RUN_DIR/status.json")
kernel=$("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(int(s["packets_in_incidents"])+int(s["not_sampled"]))' "$RUN_DIR/status.json")
awk -v r="$records" -v k="$kernel" 'BEGIN { printf "     delivered to segd: %d of %d records (%.2f%%)\n", r, k, k ? 100 * r / k : 0 }'

heading "the windows close: journal entries"
# until every incident is closed and handed on (settle: no incident open, no
# journal entry pending), then until journald holds as many incident entries
# as segd emitted (journald reads its socket on its own time); 120 s ceilings
$INC settle "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --timeout 120 || fail "the incidents close and are handed on"
journal_has_all() {
	local emitted got
	emitted=$($INC status-get "$SEGCTL" "$SEGD_CONF" incidents_emitted)
	got=$(journal_read | "$PY" -c 'import json, sys
print(sum(1 for l in sys.stdin if json.loads(l).get("SEGD_EVENT") in ("flow-denied", "spoofed-source", "to-gateway")))')
	[ "$got" -ge "$emitted" ]
}
wait_until 120 journal_has_all
journal_read >"$RUN_DIR/journal.jsonl"
unsampled=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["not_sampled"])' "$RUN_DIR/status.json")
tap $INC flood-check "$RUN_DIR/journal.jsonl" "$RUN_DIR/a.frames.json" "$RUN_DIR/b.frames.json" --windows 1 \
	--unsampled-ok "$unsampled"
"$SEGCTL" -c "$SEGD_CONF" --json status >"$RUN_DIR/status2.json"
check "no journal entry dropped, spool lines == incidents emitted" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
print(s)
sys.exit(not (int(s["journal_dropped"]) == 0 and int(s["spool_lines"]) >= int(s["incidents_emitted"])))' "$RUN_DIR/status2.json"

heading "segd stopped (SIGSTOP) during a flood: lost records are counted, not missed"
kill -STOP "$SEGD_PID"
ip netns exec "$NS_A" "$RUN_DIR/flood" eth0 "$RUN_DIR/a.frames" "$PER_SENDER" | sed 's/^/     /'
ip netns exec "$NS_B" "$RUN_DIR/flood" eth0 "$RUN_DIR/b.frames" "$PER_SENDER" | sed 's/^/     /'
kill -CONT "$SEGD_PID"
# no fixed wait: accounting polls until segd has read what the kernel kept
tap $INC accounting "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --save "$RUN_DIR/status3.json"
check "records were lost and counted as sequence gaps (not_sampled > 0)" "$PY" -c '
import json, sys
s = json.load(open(sys.argv[1]))
print("seq_gaps", s["seq_gaps"], "socket_drops", s["socket_drops"])
sys.exit(not int(s["seq_gaps"]) > 0)' "$RUN_DIR/status3.json"

heading "memory"
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$SEGD_PID/status")
echo "     segd VmHWM: ${rss_before} kB before the flood, ${rss} kB after"
if [ "$rss" -le "$RSS_LIMIT_KB" ]; then ok "segd peak RSS ${rss} kB <= 16 MiB"; else fail "segd peak RSS ${rss} kB > 16 MiB"; fi
check "segd still running" segd_alive
summary
