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
wait_window() { sleep $((WINDOW + 2)); }   # the window, NFLOG's 1 s batching, the writer

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
$INC rounds "$FLOWS" 6 '#1' >/dev/null
$INC send "$RUN_DIR" "$FLOWS" --first 1 --count 6
sleep 1.2                 # delivered (NFLOG flushes within 1 s), window still open
stop_segd
cp "$SPOOL" "$RUN_DIR/spool.before"
if start_segd "$RUN_DIR/window.conf"; then ok "segd starts again"; else fail "segd starts again"; fi
$INC rounds "$FLOWS" 5 '#1' >/dev/null
$INC send "$RUN_DIR" "$FLOWS" --first 1 --count 5
wait_window
journal_read >"$RUN_DIR/journal.jsonl"
tap $INC restart "$RUN_DIR/spool.before" "$SPOOL" "$RUN_DIR/journal.jsonl"
tap $INC check-journal "$RUN_DIR" "$FLOWS" "$RUN_DIR/journal.jsonl" "$SPOOL"
check "segd still running" segd_alive
summary
