#!/bin/bash
# demo.sh - `make demo`: segd in a lab of network namespaces built from
# conf/lab.conf (a gateway and one host per zone), allowed and forbidden
# traffic live, the kernel's drop counters, and the incidents segd logged, as
# the CSIRT sees them (segctl incidents, and journalctl from a journald of the
# demo's own, started in a private mount namespace when systemd-journald is
# installed); the lab is torn down at the end (also on Ctrl-C). Needs root.
# DEMO_CONFIG=FILE to use another configuration; DEMO_WINDOW=S the incident
# window of the demo's copy of it (default 3 s, so that the incidents close
# while you watch).
TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "make demo: needs root (network namespaces, nftables): run it as root" >&2
	exit 2
fi
source "$TOP/tests/e2e/journald.sh"
if [ -z "${SEGD_TEST_MNTNS:-}" ]; then
	"$TOP/tools/install-deps.sh" || exit 2
	# our own journald needs a private mount namespace (its own /run/systemd/journal)
	[ -x /lib/systemd/systemd-journald ] && command -v unshare >/dev/null && journal_reexec bash "$0" "$@"
fi
source "$TOP/tests/e2e/lib.sh"
if [ ! -x "$SEGD" ] || [ ! -x "$SEGCTL" ]; then
	make -s -C "$TOP" all || exit 2
fi
CONFIG=${DEMO_CONFIG:-$TOP/conf/lab.conf}
rel=${CONFIG#"$TOP"/}
pause() { [ -t 1 ] && [ -z "${DEMO_FAST:-}" ] && sleep "${1:-1}"; }
run() { echo "${C_DIM}\$ $*${C_OFF}"; "$@"; }

heading "1. The configuration: $rel"
echo "Zones, their kinds and the conduits (approved exceptions) between them."
run "$SEGCTL" check "$CONFIG"
pause

heading "2. Which zone may talk to which: segctl matrix"
run "$SEGCTL" -c "$CONFIG" matrix
pause

heading "3. The lab: a gateway namespace and one host per zone"
HAVE_JOURNAL=""
if [ -n "${SEGD_TEST_MNTNS:-}" ] && journal_start; then HAVE_JOURNAL=1; fi
demo_down() { stop_segd; lab_down; [ -n "$HAVE_JOURNAL" ] && journal_stop; }
lab_up "$CONFIG" || { demo_down; exit 1; }
trap demo_down EXIT
trap 'demo_down; exit 130' INT
trap 'demo_down; exit 143' TERM
lab_show
pause

heading "4. Asking the decision function: segctl explain"
while read -r args; do
	# shellcheck disable=SC2086
	run "$SEGCTL" -c "$CONFIG" explain $args
	echo
done < <("$PY" "$TOOLS/demo.py" examples "$RUN_DIR" "$CONFIG")
pause

heading "5. segd applies the configuration in the gateway"
WINDOW=${DEMO_WINDOW:-3}
"$PY" "$TOOLS/incidents.py" window "$CONFIG" "$RUN_DIR/demo.conf" "$WINDOW" || exit 1
echo "(the demo's copy of $rel has incident_window = $WINDOW s: repeats of a flow within $WINDOW s are one incident)"
start_segd "$RUN_DIR/demo.conf" || exit 1
echo "segd (pid $SEGD_PID) installed table inet $LAB_TABLE in one transaction:"
table_listing | grep -cE '^\s' | xargs -I{} echo "  {} lines of ruleset, with these chains:"
table_listing | awk '$1 == "chain" { print $2 }' | paste -sd' ' | fold -s -w 90 | sed 's/^/    /'
pause

heading "6. Traffic, live: what the conduits allow passes, the rest is blocked"
"$PY" "$TOOLS/demo.py" traffic "$RUN_DIR" "$SEGCTL" "$SEGD_CONF"
demo_rc=$?
pause

heading "7. The kernel counted every drop"
"$PY" "$TOOLS/demo.py" counters "$RUN_DIR"

heading "8. The incidents, as the CSIRT sees them"
echo "segd aggregates the denied packets of each flow for incident_window ($WINDOW s), then writes one"
echo "incident to the journal and to its spool. Waiting for the windows to close..."
for _ in $(seq 40); do
	open=$("$SEGCTL" -c "$SEGD_CONF" --json status 2>/dev/null | "$PY" -c 'import json, sys
s = json.load(sys.stdin); print(int(s["incidents_open"]) + int(s["journal_pending"]))' 2>/dev/null)
	[ "$open" = 0 ] && break
	sleep 0.5
done
sleep 0.5
echo
run "$SEGCTL" -c "$SEGD_CONF" incidents
pause
echo
echo "${C_DIM}\$ $SEGCTL -c $SEGD_CONF incidents --zone mynumber --json | head -1${C_OFF}"
"$SEGCTL" -c "$SEGD_CONF" incidents --zone mynumber --json | head -1
if [ -n "$HAVE_JOURNAL" ]; then
	echo
	echo "The same incidents in the journal (the demo's own journald; on a gateway: journalctl -u segd):"
	journalctl --sync >/dev/null 2>&1
	run journalctl -D "$JOURNAL_DIR" --no-pager -o short-iso SYSLOG_IDENTIFIER=segd \
		MESSAGE_ID=6c4adeefc8ef443f8ce94bb12b9b459e MESSAGE_ID=df2f1a8877044e93966d01bfd19ed0c3 \
		MESSAGE_ID=367ccd5ece284adb909c0bbeaa6b04c1
	echo
	echo "Every field of one of them (journalctl -o verbose):"
	journalctl -D "$JOURNAL_DIR" --no-pager -o verbose -n 1 SYSLOG_IDENTIFIER=segd SEGD_EVENT=flow-denied \
		PRIORITY=2 | grep -E '^ +(MESSAGE|PRIORITY|SYSLOG_IDENTIFIER|SEGD_[A-Z_]+)=' || true
else
	echo "(no systemd-journald here to start a private one: the journal part of the demo is left out)"
fi
echo
"$SEGCTL" -c "$SEGD_CONF" --json status | "$PY" -c 'import json, sys
s = json.load(sys.stdin)
print("segctl status: %s incidents emitted, %s packets in incidents, %s not sampled; journal: %s sent, %s lost"
      % (s["incidents_emitted"], s["packets_in_incidents"], s["not_sampled"], s["journal_sent"], s["journal_dropped"]))'

heading "9. Tearing the lab down"
demo_down
trap - EXIT INT TERM
echo "done: every namespace of the demo is gone; the rules lived only in the lab's gateway."
exit $demo_rc
