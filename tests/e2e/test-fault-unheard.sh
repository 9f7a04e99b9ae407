#!/bin/bash
# test-fault-unheard.sh - issue 11/14: segd leaves the nftables event group
# during its own commits (the kernel would build one event per element for
# it), so a change another process commits in that window is not heard as an
# event. The ruleset generation must tell: it moves by one for segd's own
# commit, by two here, and segd compares and restores.
#
# tools/nlfault.c (SEGD_FAULT_AFTER) runs an `nft add element` exactly after
# segd's reload transaction was sent, not at a time hoped for. Checked: the
# foreign element is gone, segd says another process committed while it
# applied, the restore is reported as tamper by "unknown", and the monitor
# did not hear the element's event (no "changed by nft" line): the
# generation alone found it. Control: the same reload without the foreign
# command raises no warning (the check does not cry wolf on segd's own
# commit).
#
#   E2E_ENTRIES: entries per configuration (default 2000)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
ENTRIES=${E2E_ENTRIES:-2000}

lab_trap
RUN_DIR=$(mktemp -d /tmp/segd-e2e.XXXXXX)
AFTER=$RUN_DIR/after-command
fault_gateway "$ENTRIES"
SEGD_CONF=$RUN_DIR/segd.conf
cp "$RUN_DIR/c1.conf" "$SEGD_CONF"
SEGD_TABLE_OWNER=no SEGD_FAULT_AFTER=$AFTER SEGD_FAULT_MIN=4096 LD_PRELOAD="$RUN_DIR/nlfault.so" \
	ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" >>"$RUN_DIR/segd.log" 2>&1 &
SEGD_PID=$!
if wait_until 60 "$SEGCTL" -c "$SEGD_CONF" status; then ok "segd runs on A ($ENTRIES entries), table not owned"
else fail "segd starts"; sed 's/^/  /' "$RUN_DIR/segd.log"; summary; exit 1; fi
ZSET=$(table_listing | awk '/^\tset z4\./ { print $2; exit }')

# reload_to FILE: the file replaced, SIGHUP, until segd reported the reload
reload_to() {
	local mark
	mark=$(grep -c "^reloaded " "$RUN_DIR/segd.log")
	cp "$1" "$SEGD_CONF.tmp" && mv "$SEGD_CONF.tmp" "$SEGD_CONF"
	kill -HUP "$SEGD_PID"
	wait_until 60 bash -c '[ "$(grep -c "^reloaded " "$1")" -gt "$2" ]' _ "$RUN_DIR/segd.log" "$mark"
}
warnings() { grep -c "another process committed to nftables while segd applied" "$RUN_DIR/segd.log"; }

heading "control: a reload to B, nobody else commits"
w0=$(warnings)
check "segd reloaded B" reload_to "$RUN_DIR/c2.conf"
check "no warning about another process (its own commit moved the generation by one)" test "$(warnings)" = "$w0"
check "status: in sync" test "$(segctl_status in_sync)" = yes

heading "another process commits right after segd's reload transaction"
t0=$(segctl_status tampers)
echo "nft add element inet $LAB_TABLE $ZSET { 192.0.2.81 }" >"$AFTER"
check "segd reloaded A" reload_to "$RUN_DIR/c1.conf"
check "the injector ran the nft command after segd's transaction" grep -q "nlfault: ran 'nft add element" "$RUN_DIR/segd.log"
check "segd: another process committed while it applied" wait_until 60 bash -c '[ "$(grep -c "another process committed to nftables while segd applied" "$1")" -gt "$2" ]' _ "$RUN_DIR/segd.log" "$w0"
gone() { ! table_listing | grep -q "192.0.2.81"; }
check "the foreign element is gone from $ZSET" wait_until 60 gone
check "restore reported as tamper by 'unknown'" grep -q "changed by unknown: changes committed while segd applied its own were not heard — the approved ruleset was restored" "$RUN_DIR/segd.log"
check "status: tamper count +1" test "$(segctl_status tampers)" = $((t0 + 1))
check "status: in sync with A, the running configuration (the comparison was made against it)" \
	test "$(segctl_status in_sync)" = yes
# the monitor was out of the event group: the element's own event never came
check "the monitor did not hear it (no 'changed by nft' line): the generation found it" \
	bash -c '! grep -q "changed by nft" "$1"' _ "$RUN_DIR/segd.log"
grep -E "another process committed|changed by unknown" "$RUN_DIR/segd.log" | sed 's/^/     /' | cut -c1-220

stop_segd
summary
