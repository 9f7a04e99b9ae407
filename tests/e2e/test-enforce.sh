#!/bin/bash
# test-enforce.sh - segd applying lab.conf in the lab: for every ordered zone
# pair, TCP, UDP and ICMP, IPv4 and IPv6, the kernel does what `segctl
# explain` says; what is dropped is counted per zone pair; spoofed sources and
# traffic to the gateway are dropped and counted (issue 3, point 7).
#
#   E2E_CONFIG=FILE   another configuration than conf/lab.conf
#   E2E_SEGCTL=PATH   another decision helper than build/segctl (development)
#   E2E_LOADER=nft    install `segctl rules` with nft instead of running segd
#                     (development, before segd existed)
source "$(dirname "$0")/lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
DECIDE=${E2E_SEGCTL:-$SEGCTL}

heading "lab from $(basename "$CONFIG")"
lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
lab_show

if [ "${E2E_LOADER:-segd}" = nft ]; then
	heading "rules loaded with nft (development mode)"
	"$PY" "$TOOLS/lab.py" localize "$CONFIG" "$RUN_DIR/segd.conf" "$RUN_DIR"
	SEGD_CONF="$RUN_DIR/segd.conf"
	check "segctl rules | nft -f - loads" load_rules_with_nft "$SEGD_CONF"
else
	heading "segd applies the configuration"
	if start_segd "$CONFIG"; then ok "segd installed table inet $LAB_TABLE"; else
		fail "segd installed table inet $LAB_TABLE"; summary; exit 1
	fi
fi

heading "traffic matrix"
tap "$PY" "$TOOLS/enforce.py" "$RUN_DIR" "$DECIDE" "$SEGD_CONF"
if [ "${E2E_LOADER:-segd}" != nft ]; then
	check "segd still running after the traffic" segd_alive
fi
summary
