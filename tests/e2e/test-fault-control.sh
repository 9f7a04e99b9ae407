#!/bin/bash
# test-fault-control.sh - issue 7, point 4: the control socket under abuse.
# 10,000 garbage requests from 8 threads (random bytes, frames over 256 KiB,
# clients that connect and never send — up to 256 held open at once —,
# connects closed at once, requests cut short) while well-behaved clients
# ask for status every 20 ms: `segctl status` (must exit 0) and the same
# request sent on the socket from the test itself, timed. Verdict: segd is the
# same process, every good request is served, segd answers each within 100 ms
# (p50/p99/max printed; the time to start segctl is printed apart: an ASan
# build takes ~90 ms to start, which is not segd's), and segd still answers
# and enforces afterwards (table in sync).
#
#   E2E_CONFIG: the configuration (default conf/lab.conf)
#   E2E_ABUSE:  garbage requests (default 10000)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
N=${E2E_ABUSE:-10000}

lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
start_segd "$CONFIG" || { fail "segd starts"; summary; exit 1; }
pid0=$SEGD_PID
SOCK=$RUN_DIR/control.sock
wait_until 5 "$SEGCTL" --socket "$SOCK" status
ok "segd runs (pid $pid0)"

heading "$N garbage requests while segctl status measures its latency"
tap "$PY" "$TOOLS/faults.py" abuse "$SOCK" "$SEGCTL" "$N"
check "segd is the same process (pid $pid0) and alive" test "$(pgrep -x segd -P "$$" 2>/dev/null || echo "$SEGD_PID")" = "$pid0" -a -d "/proc/$pid0"
check "segd still answers status" "$SEGCTL" --socket "$SOCK" status
check "the live table is still the approved one (in sync)" test "$(segctl_status in_sync)" = yes
echo "     segd VmHWM $(awk '/VmHWM/ { print $2 }' "/proc/$pid0/status") kB, open fds $(ls "/proc/$pid0/fd" | wc -l)"
check "no sanitizer report in segd's output" bash -c '! grep -q "runtime error\|Sanitizer" "$1"' _ "$RUN_DIR/segd.log"
stop_segd
summary
