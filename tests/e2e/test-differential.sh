#!/bin/bash
# test-differential.sh - at least 1,000 random flows: the kernel's verdict
# (did the packet reach the destination host's namespace) equals the decision
# function's (`segctl explain`) for every one (issue 3, point 7).
#
#   E2E_SEED=N        replay a run (the seed is printed)
#   E2E_FLOWS=N       number of flows (default 2000)
#   E2E_EXTRA=N       random addresses per family on each zone's host (default 8)
#   E2E_CONFIG, E2E_SEGCTL, E2E_LOADER: as in test-enforce.sh
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
DECIDE=${E2E_SEGCTL:-$SEGCTL}
SEED=${E2E_SEED:-$(( (RANDOM << 15) | RANDOM ))}
FLOWS=${E2E_FLOWS:-2000}

heading "lab from $(basename "$CONFIG"), ${E2E_EXTRA:-8} random addresses per zone and family (seed $SEED)"
lab_up "$CONFIG" "${E2E_EXTRA:-8}" "$SEED" || { fail "lab_up $CONFIG"; summary; exit 1; }
lab_show

if [ "${E2E_LOADER:-segd}" = nft ]; then
	"$PY" "$TOOLS/lab.py" localize "$CONFIG" "$RUN_DIR/segd.conf" "$RUN_DIR"
	SEGD_CONF="$RUN_DIR/segd.conf"
	check "segctl rules | nft -f - loads (development mode)" load_rules_with_nft "$SEGD_CONF"
elif start_segd "$CONFIG"; then
	ok "segd installed table inet $LAB_TABLE"
else
	fail "segd installed table inet $LAB_TABLE"; summary; exit 1
fi

heading "$FLOWS random flows: kernel vs. segctl explain"
tap "$PY" "$TOOLS/differential.py" "$RUN_DIR" "$DECIDE" "$SEGD_CONF" "$FLOWS" "$SEED"
summary
