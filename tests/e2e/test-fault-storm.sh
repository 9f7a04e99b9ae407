#!/bin/bash
# test-fault-storm.sh - issue 7, point 4: a reload storm. 200 reloads, half
# by SIGHUP and half by `segctl reload` (mixed), alternating two valid
# configurations that both allow the stream (B is A without a conduit the
# stream does not use), while a TCP stream runs between allowed hosts as fast
# as it goes and a forbidden UDP sender (1 ms apart) is counted where it
# would arrive. Verdict: bytes received == bytes sent, 0 forbidden packets
# passed, 200 reloads counted by segd, 0 failed, each one new generation,
# the table in sync at the end.
#
#   E2E_CONFIG: configuration A (default conf/lab.conf)
#   E2E_RELOADS: reloads (default 200)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
RELOADS=${E2E_RELOADS:-200}
STREAM_PID=""

lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
stop_stream() { [ -n "$STREAM_PID" ] && kill "$STREAM_PID" 2>/dev/null && wait "$STREAM_PID" 2>/dev/null; STREAM_PID=""; }
trap 'stop_stream; lab_down' EXIT
trap 'stop_stream; lab_down; exit 130' INT
trap 'stop_stream; lab_down; exit 143' TERM
start_segd "$CONFIG" || { fail "segd starts"; summary; exit 1; }
SOCK=$RUN_DIR/control.sock
wait_until 5 "$SEGCTL" --socket "$SOCK" status
ok "segd runs (pid $SEGD_PID)"
STATE=$RUN_DIR/stream.json
"$PY" "$TOOLS/faults.py" stream "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" "$STATE" >"$RUN_DIR/stream.out" 2>"$RUN_DIR/stream.err" &
STREAM_PID=$!
if wait_until 10 grep -q '^ready' "$RUN_DIR/stream.out"; then ok "stream running: $(head -1 "$RUN_DIR/stream.err")"
else fail "stream running"; cat "$RUN_DIR/stream.err"; summary; exit 1; fi
counter() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$STATE" "$1"; }

# B: A without one conduit that the stream does not use (never the last: lab.py
# drop-conduit leaves a trailing comma after it)
used=$(sed -n 's/.*(\([^()]*\))$/\1/p' "$RUN_DIR/stream.err" | head -1)
drop=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import libconf
c = libconf.loads(open(sys.argv[2], encoding="utf-8").read()).get("conduits") or []
print(next((x["name"] for x in c[:-1] if x["name"] != sys.argv[3]), ""))' "$TOOLS" "$SEGD_CONF" "$used")
[ -n "$drop" ] || { fail "a second conduit to drop for configuration B"; summary; exit 1; }
cp "$SEGD_CONF" "$RUN_DIR/a.conf"
"$PY" "$TOOLS/lab.py" drop-conduit "$RUN_DIR/a.conf" "$RUN_DIR/b.conf" "$drop"
check "configuration B (without conduit '$drop') is valid" "$SEGCTL" check "$RUN_DIR/b.conf"

heading "$RELOADS reloads (SIGHUP and segctl reload), A and B alternating, under the stream"
read -r rl0 gk0 <<<"$("$PY" "$TOOLS/incidents.py" status-get "$SEGCTL" "$SEGD_CONF" reloads generation_kernel)"
b0=$(counter bytes_received)
bad=0 hup=0 ctl=0 t0=$(date +%s%N)
for i in $(seq "$RELOADS"); do
	if [ $((i % 2)) = 1 ]; then cp "$RUN_DIR/b.conf" "$SEGD_CONF.tmp"; else cp "$RUN_DIR/a.conf" "$SEGD_CONF.tmp"; fi
	mv "$SEGD_CONF.tmp" "$SEGD_CONF"
	if [ $(((i / 2) % 2)) = 0 ]; then
		ctl=$((ctl + 1))
		"$SEGCTL" --socket "$SOCK" reload >/dev/null 2>"$RUN_DIR/err" || { bad=$((bad + 1)); cat "$RUN_DIR/err"; }
	else
		hup=$((hup + 1))
		kill -HUP "$SEGD_PID"
		# one SIGHUP at a time: signals do not queue, so wait for this reload to be counted
		want=$((rl0 + i))
		wait_until 5 bash -c '[ "$("$1" --socket "$2" --json status | "$3" -c "import json,sys; print(json.load(sys.stdin)[\"reloads\"])")" -ge "$4" ]' \
			_ "$SEGCTL" "$SOCK" "$PY" "$want" || { bad=$((bad + 1)); echo "     SIGHUP $i: no reload counted"; }
	fi
done
secs=$(awk -v a="$(date +%s%N)" -v b="$t0" 'BEGIN { printf "%.1f", (a - b) / 1e9 }')
b1=$(counter bytes_received)
echo "     $RELOADS reloads ($ctl segctl reload, $hup SIGHUP) in $secs s; $(( (b1 - b0) >> 20 )) MiB streamed meanwhile"
read -r rl1 fl1 gk1 <<<"$("$PY" "$TOOLS/incidents.py" status-get "$SEGCTL" "$SEGD_CONF" reloads reload_failures generation_kernel)"
check "every reload done ($bad went wrong)" test "$bad" = 0
check "segd counted $RELOADS reloads ($rl0 -> $rl1), $fl1 failed" test $((rl1 - rl0)) = "$RELOADS" -a "$fl1" = 0
check "one generation per reload ($gk0 -> $gk1)" test $((gk1 - gk0)) = "$RELOADS"
check "the live table is in sync with the running plan" test "$(segctl_status in_sync)" = yes
check "segd alive (same pid)" segd_alive

heading "the stream ends"
stop_stream
sent=$(counter bytes_sent) got=$(counter bytes_received)
echo "     TCP: $sent bytes sent, $got received, longest stall $(counter longest_stall_ms | cut -d. -f1) ms; error '$(counter stream_error)'"
echo "     forbidden UDP: $(counter forbidden_sent) sent, $(counter forbidden_passed) passed"
check "the stream closed cleanly" test "$(counter stream_done)" = True -a -z "$(counter stream_error)"
check "bytes received == bytes sent ($got == $sent)" test "$got" = "$sent" -a "$sent" -gt 0
check "0 forbidden packets passed ($(counter forbidden_sent) sent)" test "$(counter forbidden_passed)" = 0 -a "$(counter forbidden_sent)" -gt 100
stop_segd
summary
