#!/bin/bash
# test-incidents.sh - issue 4 end to end, with a real systemd-journald in a
# private mount namespace: forbidden flows of each event kind (denied between
# two zones, the model guard, spoofed source, to the gateway), IPv4 and IPv6,
# TCP, UDP and ICMP, each with its own packet count; then
#   - one journal entry per flow per window, with exactly the contract's
#     fields and values (MESSAGE, MESSAGE_ID, PRIORITY, SEGD_*), read back
#     with journalctl; a second window of some flows is a second entry;
#   - the same incidents in the spool (keys without SEGD_, lower-case);
#   - segctl incidents --json/--zone/--event/--since finds them;
#   - allowed flows make no incident; the kernel's drop counters equal the
#     packets in incidents plus what segd reports as not sampled;
#   - a restart of segd (SIGTERM, start) neither loses nor repeats incidents.
#
#   E2E_CONFIG=FILE   another configuration than conf/lab.conf
#   E2E_WINDOW=S      incident_window of the test (default 2 s)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/journald.sh"
require_root
journal_reexec bash "$0" "$@"
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
WINDOW=${E2E_WINDOW:-2}
INC="$PY $TOOLS/incidents.py"

cleanup() { stop_segd; lab_down; journal_stop; }

heading "a private systemd-journald"
if journal_start; then ok "journald runs (pid $JOURNALD_PID) on /run/systemd/journal/socket"; else
	fail "journald starts"; journal_stop; summary; exit 1
fi

heading "lab from $(basename "$CONFIG"), segd with incident_window = $WINDOW s"
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; cleanup; summary; exit 1; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
$INC window "$CONFIG" "$RUN_DIR/window.conf" "$WINDOW"
if start_segd "$RUN_DIR/window.conf"; then ok "segd installed table inet $LAB_TABLE"; else
	fail "segd starts"; summary; exit 1
fi
SPOOL="$RUN_DIR/incidents.jsonl"
FLOWS="$RUN_DIR/flows.json"
$INC plan "$RUN_DIR" "$FLOWS"
# wait_window: until segd holds every record the kernel counted as a drop
# (NFLOG batches them up to 1 s), every window has closed and every entry is
# handed to journald: what segd reports, not a sleep (the ceiling, 120 s,
# only bounds a failure)
# (BASE: the kernel's drop counters when this segd started, whose totals begin at 0)
BASE=0
wait_window() { check "segd has every dropped packet, closed its incidents and handed them on" $INC settle "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --base "$BASE"; }

heading "window 1: every forbidden flow, and the allowed ones"
tap $INC allowed "$RUN_DIR" "$FLOWS"
$INC send "$RUN_DIR" "$FLOWS"
wait_window
tap $INC accounting "$RUN_DIR" "$SEGCTL" "$SEGD_CONF"
SINCE=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)

heading "window 2: the first three flows again, 4 packets each"
$INC rounds "$FLOWS" 4 '#3' >/dev/null
sleep 0.2
$INC send "$RUN_DIR" "$FLOWS" --first 3 --count 4
wait_window
journal_read >"$RUN_DIR/journal.jsonl"
tap $INC check-journal "$RUN_DIR" "$FLOWS" "$RUN_DIR/journal.jsonl" "$SPOOL"

heading "segctl incidents reads the spool (no daemon needed)"
tap $INC queries "$SEGCTL" "$SEGD_CONF" "$SPOOL" "$SINCE"

heading "restart: SIGTERM while an incident is open, then start again"
# The incident must still be open when segd is stopped: a segd with a window
# no scheduling delay reaches gets the packets, and the stop comes once segd
# has them all (not 'sleep 1.2', which a slow machine could push past a
# 2 s window); segd then starts again with the test's window.
$INC window "$CONFIG" "$RUN_DIR/long.conf" 600
stop_segd
if start_segd "$RUN_DIR/long.conf"; then ok "segd runs with a 600 s window"; else fail "segd starts with a 600 s window"; fi
BASE=$($INC drops "$RUN_DIR")
$INC rounds "$FLOWS" 6 '#1' >/dev/null
$INC send "$RUN_DIR" "$FLOWS" --first 1 --count 6
check "segd has the 6 packets" $INC settle "$RUN_DIR" "$SEGCTL" "$SEGD_CONF" --delivered --base "$BASE"
check "... in an incident still open" test "$($INC status-get "$SEGCTL" "$SEGD_CONF" incidents_open)" -ge 1
stop_segd
cp "$SPOOL" "$RUN_DIR/spool.before"
if start_segd "$RUN_DIR/window.conf"; then ok "segd starts again"; else fail "segd starts again"; fi
BASE=$($INC drops "$RUN_DIR")
$INC rounds "$FLOWS" 5 '#1' >/dev/null
$INC send "$RUN_DIR" "$FLOWS" --first 1 --count 5
wait_window
journal_read >"$RUN_DIR/journal.jsonl"
tap $INC restart "$RUN_DIR/spool.before" "$SPOOL" "$RUN_DIR/journal.jsonl"
tap $INC check-journal "$RUN_DIR" "$FLOWS" "$RUN_DIR/journal.jsonl" "$SPOOL"
check "segd still running" segd_alive
summary
