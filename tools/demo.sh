#!/bin/bash
# demo.sh - `make demo`: segd in a lab of network namespaces built from
# conf/lab.conf (a gateway and one host per zone), allowed and forbidden
# traffic live, the kernel's drop counters; the lab is torn down at the end
# (also on Ctrl-C). Needs root. DEMO_CONFIG=FILE to use another configuration.
TOP=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
	echo "make demo: needs root (network namespaces, nftables): run it as root" >&2
	exit 2
fi
"$TOP/tools/install-deps.sh" || exit 2
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
lab_up "$CONFIG" || exit 1
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
start_segd "$CONFIG" || exit 1
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

heading "8. Tearing the lab down"
stop_segd
lab_down
echo "done: every namespace of the demo is gone; the rules lived only in the lab's gateway."
exit $demo_rc
