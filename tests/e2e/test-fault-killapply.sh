#!/bin/bash
# test-fault-killapply.sh - issue 7, point 4: SIGKILL between sending a batch
# and reading its ACKs. Two large generated configurations A and B
# (tools/bench/gen.py, E2E_ENTRIES conduit entries each, different seeds);
# segd runs on one, the file is replaced by the other, SIGHUP, and segd is
# SIGKILLed after a random delay spread over the whole reload (read, compile,
# send, ACKs, report). After every kill `nft list table` (normalized: no
# counters' values, no owner flags) must equal exactly the listing of A or
# of B, never anything else. Each outcome is classified from segd's own
# output: "old" (killed before the commit), "new, unreported" (the kernel
# committed, segd died before it said so: the window between sendmsg and
# reading the ACKs is in here), "new, reported". Then segd is restarted on
# the file and takes the (orphaned) table over, and the next round goes the
# other way.
#
#   E2E_ENTRIES: entries per configuration (default 30000)
#   E2E_KILLS:   kills (default 10)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
ENTRIES=${E2E_ENTRIES:-30000}
KILLS=${E2E_KILLS:-10}

lab_trap
RUN_DIR=$(mktemp -d /tmp/segd-e2e.XXXXXX)
LAB_GW=${LAB_PREFIX}gw
ip netns add "$LAB_GW" || { fail "ip netns add $LAB_GW"; summary; exit 1; }
for s in 1 2; do
	"$PY" "$TOP/tools/bench/gen.py" --entries "$ENTRIES" --seed "$s" --dir "$RUN_DIR" --name "g$s" >/dev/null &&
		"$PY" "$TOOLS/lab.py" localize "$RUN_DIR/g$s.conf" "$RUN_DIR/c$s.conf" "$RUN_DIR" ||
		{ fail "configuration $s generated"; summary; exit 1; }
done
LAB_TABLE=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import libconf
print(libconf.loads(open(sys.argv[2], encoding="utf-8").read())["settings"]["table"])' "$TOOLS" "$RUN_DIR/c1.conf")
SEGD_CONF=$RUN_DIR/segd.conf
norm() {
	table_listing | sed -E -e 's/packets [0-9]+ bytes [0-9]+//g' -e 's/ # progname .*$//' \
		-e '/^\tflags /{s/\b(owner|persist)\b,?//g; s/,$//}' -e '/^\tflags *$/d' | sha256sum | cut -c1-16
}
run_segd() {   # segd on SEGD_CONF, wait until it is ready (answers status)
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

# odd kills anywhere in the reload, even ones in the 250 ms before the commit as seen
# (the stamp lags the commit by the shell loop's latency)
heading "$KILLS SIGKILLs after SIGHUP: odd ones in [0, $((RELOAD_MS * 12 / 10))] ms, even ones in [$((COMMIT_MS - 250)), $COMMIT_MS] ms"
cur=2 old=0 new_unrep=0 new_rep=0 mixed=0
for k in $(seq "$KILLS"); do
	next=$((3 - cur))
	cp "$RUN_DIR/c$next.conf" "$SEGD_CONF"
	mark=$(grep -c "^reloaded " "$RUN_DIR/segd.log")
	if [ $((k % 2)) = 1 ]; then delay=$(( RANDOM * RELOAD_MS * 12 / 10 / 32768 ))
	else delay=$(( COMMIT_MS - 250 + RANDOM * 250 / 32768 )); [ "$delay" -ge 0 ] || delay=0; fi
	kill -HUP "$SEGD_PID"
	sleep "$(awk -v d="$delay" 'BEGIN { printf "%.3f", d / 1000 }')"
	kill -KILL "$SEGD_PID"; wait "$SEGD_PID" 2>/dev/null
	reported=$(( $(grep -c "^reloaded " "$RUN_DIR/segd.log") > mark ))
	h=$(norm)
	if [ "$cur" = 1 ]; then hold=$HA hnew=$HB; else hold=$HB hnew=$HA; fi
	if [ "$h" = "$hold" ]; then what=old old=$((old + 1))
	elif [ "$h" = "$hnew" ] && [ "$reported" = 0 ]; then what="new, unreported" new_unrep=$((new_unrep + 1))
	elif [ "$h" = "$hnew" ]; then what="new, reported" new_rep=$((new_rep + 1))
	else what="NEITHER ($h)" mixed=$((mixed + 1)); fi
	echo "     kill $k at $delay ms: $what"
	# the file says "next" from now on: a restarted segd takes the table over with it
	run_segd || { fail "segd restarted after kill $k"; break; }
	settle
	[ "$(norm)" = "$([ "$next" = 1 ] && echo "$HA" || echo "$HB")" ] || { fail "restarted segd installed the file's ruleset"; }
	cur=$next
done
echo "     outcomes: $old old, $new_unrep new (killed before segd reported it), $new_rep new and reported, $mixed neither"
check "after each of $KILLS kills the kernel held exactly the old or the new ruleset ($mixed otherwise)" test "$mixed" = 0
check "both outcomes occurred (old $old, new $((new_unrep + new_rep)))" test "$old" -gt 0 -a $((new_unrep + new_rep)) -gt 0
stop_segd
summary
