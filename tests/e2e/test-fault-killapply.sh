#!/bin/bash
# test-fault-killapply.sh - issue 7, point 4 and issue 11, point 8: SIGKILL
# around the sending of a batch. Two large generated configurations A and B
# (tools/bench/gen.py, E2E_ENTRIES conduit entries each, different seeds);
# segd runs on one, the file is replaced by the other, SIGHUP, and segd is
# SIGKILLed. After every kill `nft list table` (normalized: no counters'
# values, no owner flags) must equal exactly the listing of A or of B, never
# anything else. The kills come in three kinds, in turn:
#   before  tools/nlfault.c (LD_PRELOAD) kills segd just before it sends the
#           transaction: the kernel must hold the OLD ruleset;
#   after   nlfault kills segd as soon as it has read the kernel's first
#           answer to it: the kernel committed, segd never said so: the NEW
#           ruleset, unreported;
#   random  a plain SIGKILL after a random delay within the reload: old or
#           new, whichever it hit, but nothing else.
# The first two are decisive (the outcome is forced, not hoped for). Each
# outcome is classified from segd's own output ("reloaded" or not). Then segd
# is restarted on the file and takes the (orphaned) table over, and the next
# round goes the other way.
#
#   E2E_ENTRIES: entries per configuration (default 30000)
#   E2E_KILLS:   kills (default 9)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
ENTRIES=${E2E_ENTRIES:-30000}
KILLS=${E2E_KILLS:-9}

lab_trap
RUN_DIR=$(mktemp -d /tmp/segd-e2e.XXXXXX)
ORDER=$RUN_DIR/kill-order
fault_gateway "$ENTRIES"
SEGD_CONF=$RUN_DIR/segd.conf
norm() {
	table_listing | sed -E -e 's/packets [0-9]+ bytes [0-9]+//g' -e 's/ # progname .*$//' \
		-e '/^\tflags /{s/\b(owner|persist)\b,?//g; s/,$//}' -e '/^\tflags *$/d' | sha256sum | cut -c1-16
}
run_segd() {   # segd on SEGD_CONF, wait until it is ready (answers status)
	SEGD_FAULT_KILL=$ORDER SEGD_FAULT_MIN=4096 LD_PRELOAD="$RUN_DIR/nlfault.so" \
		ip netns exec "$LAB_GW" "$SEGD" -c "$SEGD_CONF" >>"$RUN_DIR/segd.log" 2>&1 &
	SEGD_PID=$!
	wait_until 30 "$SEGCTL" --socket "$RUN_DIR/control.sock" status
}
settle() {     # wait until segd has no more transactions to make (tamper restore after its own)
	local a b
	a=$(segctl_status generation_kernel)
	for _ in $(seq 50); do sleep 0.2; b=$(segctl_status generation_kernel); [ "$a" = "$b" ] && return; a=$b; done
}

heading "reference listings: A and B installed by segd ($ENTRIES entries each)"
cp "$RUN_DIR/c1.conf" "$SEGD_CONF"
run_segd || { fail "segd starts on A"; sed 's/^/  /' "$RUN_DIR/segd.log"; summary; exit 1; }
settle
HA=$(norm)
lines=$(table_listing | wc -l)
cp "$RUN_DIR/c2.conf" "$SEGD_CONF"
mark=$(grep -c "^reloaded " "$RUN_DIR/segd.log")
# when does the kernel commit? NEWGEN events, stamped as they come
ip netns exec "$LAB_GW" "$PY" -u "$TOOLS/genmon.py" 2>/dev/null \
	> >(while IFS= read -r l; do echo "$(date +%s%N) $l"; done >"$RUN_DIR/gens") &
MON=$!
wait_until 5 grep -q listening "$RUN_DIR/gens"
t0=$(date +%s%N)
kill -HUP "$SEGD_PID"
wait_until 30 bash -c '[ "$(grep -c "^reloaded " "$1")" -gt "$2" ]' _ "$RUN_DIR/segd.log" "$mark"
RELOAD_MS=$(( ($(date +%s%N) - t0) / 1000000 ))
settle
kill "$MON" 2>/dev/null; wait "$MON" 2>/dev/null
COMMIT_MS=$(awk -v t0="$t0" '/new generation/ { print int(($1 - t0) / 1e6); exit }' "$RUN_DIR/gens")
HB=$(norm)
echo "     A $HA, B $HB ($lines lines listed); a reload takes $RELOAD_MS ms from SIGHUP to segd's report;" \
	"the kernel commits at ${COMMIT_MS:-?} ms"
COMMIT_MS=${COMMIT_MS:-$((RELOAD_MS / 2))}
grep "^installed\|one transaction" "$RUN_DIR/segd.log" | tail -1 | sed 's/^/     /'
check "A and B differ" test "$HA" != "$HB"

heading "$KILLS SIGKILLs after SIGHUP, in turn: before the send (nlfault), after the first answer (nlfault), random in [0, $((RELOAD_MS * 12 / 10))] ms"
cur=2 old=0 new_unrep=0 new_rep=0 mixed=0 forced_ok=0 forced=0
for k in $(seq "$KILLS"); do
	next=$((3 - cur))
	cp "$RUN_DIR/c$next.conf" "$SEGD_CONF"
	mark=$(grep -c "^reloaded " "$RUN_DIR/segd.log")
	injected=$(grep -c "^nlfault: SIGKILL" "$RUN_DIR/segd.log")
	case $((k % 3)) in
	1) kind=before; echo before >"$ORDER" ;;
	2) kind=after; echo after >"$ORDER" ;;
	0) kind=random; rm -f "$ORDER" ;;
	esac
	kill -HUP "$SEGD_PID"
	if [ "$kind" = random ]; then
		delay=$(( RANDOM * RELOAD_MS * 12 / 10 / 32768 ))
		sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
		kill -KILL "$SEGD_PID"
		kind="random, $delay ms"
	elif ! wait_until 60 bash -c '[ "$(grep -c "^nlfault: SIGKILL" "$1")" -gt "$2" ]' _ "$RUN_DIR/segd.log" "$injected"; then
		fail "kill $k ($kind): nlfault's kill did not happen within 60 s (no transaction sent?)"
		kill -KILL "$SEGD_PID"
	fi
	wait "$SEGD_PID" 2>/dev/null
	rm -f "$ORDER"
	reported=$(( $(grep -c "^reloaded " "$RUN_DIR/segd.log") > mark ))
	h=$(norm)
	if [ "$cur" = 1 ]; then hold=$HA hnew=$HB; else hold=$HB hnew=$HA; fi
	if [ "$h" = "$hold" ]; then what=old old=$((old + 1))
	elif [ "$h" = "$hnew" ] && [ "$reported" = 0 ]; then what="new, unreported" new_unrep=$((new_unrep + 1))
	elif [ "$h" = "$hnew" ]; then what="new, reported" new_rep=$((new_rep + 1))
	else what="NEITHER ($h)" mixed=$((mixed + 1)); fi
	echo "     kill $k ($kind): $what"
	case $kind in
	before) forced=$((forced + 1)); [ "$what" = old ] && forced_ok=$((forced_ok + 1)) ;;
	after) forced=$((forced + 1)); [ "$what" = "new, unreported" ] && forced_ok=$((forced_ok + 1)) ;;
	esac
	# the file says "next" from now on: a restarted segd takes the table over with it
	run_segd || { fail "segd restarted after kill $k"; break; }
	settle
	[ "$(norm)" = "$([ "$next" = 1 ] && echo "$HA" || echo "$HB")" ] || { fail "restarted segd installed the file's ruleset"; }
	cur=$next
done
echo "     outcomes: $old old, $new_unrep new (killed before segd reported it), $new_rep new and reported, $mixed neither"
check "after each of $KILLS kills the kernel held exactly the old or the new ruleset ($mixed otherwise)" test "$mixed" = 0
check "every forced kill had its outcome: before the send -> old, after the answer -> new, unreported ($forced_ok of $forced)" \
	test "$forced" -gt 0 -a "$forced_ok" = "$forced"
stop_segd
summary
