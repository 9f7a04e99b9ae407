#!/bin/bash
# test-reapply.sh - re-applying a configuration without a conduit (SIGHUP
# after editing segd's configuration file) stops new connections through it
# at once and established ones within one second; a connection allowed by
# both versions survives without a lost packet (issue 3, point 5).
#
#   E2E_CONFIG, E2E_SEGCTL: as in test-enforce.sh
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
DECIDE=${E2E_SEGCTL:-$SEGCTL}

heading "lab from $(basename "$CONFIG")"
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
if start_segd "$CONFIG"; then ok "segd installed table inet $LAB_TABLE"; else
	fail "segd installed table inet $LAB_TABLE"; summary; exit 1
fi

heading "re-apply without a conduit, with traffic running"
tap "$PY" "$TOOLS/reapply.py" "$RUN_DIR" "$DECIDE" "$SEGD_CONF" "$SEGD_PID"
check "segd still running after two re-applies" segd_alive
summary
