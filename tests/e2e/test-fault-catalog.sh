#!/bin/bash
# test-fault-catalog.sh - issue 7, point 3 (last sentence): the whole catalog
# of bad configurations as reloads against a running segd. For every file of
# tests/configs/bad/: copy it over the running configuration's path and
# `segctl reload` — exit 1, every "# expect: LINE: text" of the file on
# stderr as `<running path>:LINE: error: ...text`. Over the whole run the
# kernel's ruleset does not move: `nft list ruleset` hashes the same, segd's
# generation_kernel and generation_applied stay, no revision is made, the
# live table is in sync, and reload_failures counts every file. At the end a
# good reload works (one new generation). No sleeps: each reload is answered
# when segd has decided.
#
#   E2E_CONFIG: the running configuration (default conf/lab.conf)
source "$(dirname "$0")/lib.sh"
source "$TOOLS/daemon-lib.sh"
require_root
CONFIG=${E2E_CONFIG:-$TOP/conf/lab.conf}
BAD=$TOP/tests/configs/bad
fake_date 2026-11-26   # expiry cases of the catalog must not rot (libfaketime)

lab_up "$CONFIG" || { fail "lab_up $CONFIG"; summary; exit 1; }
start_segd "$CONFIG" || { fail "segd starts"; summary; exit 1; }
ok "segd runs (pid $SEGD_PID)"
SOCK=$RUN_DIR/control.sock
cp "$SEGD_CONF" "$RUN_DIR/good.conf"
st() { "$SEGCTL" --socket "$SOCK" --json status | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(str(s.get(k, "")) for k in sys.argv[1:]))' "$@"; }
ruleset_hash() { ip netns exec "$LAB_GW" nft list ruleset | sha256sum | cut -c1-16; }
# the leading "# expect: LINE: text" lines of a bad file (BOM and CR removed)
expects() {
	LC_ALL=C sed -e '1s/^\xef\xbb\xbf//' -e 's/\r$//' "$1" | LC_ALL=C awk '/^# expect: /{ print; next } { exit }'
}

h0=$(ruleset_hash)
read -r gk0 ga0 rev0 fail0 <<<"$(st generation_kernel generation_applied revision reload_failures)"
echo "     before: ruleset $h0, generation kernel $gk0 applied $ga0, revision $rev0"

heading "every file of tests/configs/bad as a reload"
n=0 wrong_rc=0 missing=0 moved=0 t0=$(date +%s%N)
for f in "$BAD"/*.conf; do
	n=$((n + 1))
	cp "$f" "$SEGD_CONF"
	"$SEGCTL" --socket "$SOCK" reload >"$RUN_DIR/out" 2>"$RUN_DIR/err"
	rc=$?
	if [ "$rc" != 1 ]; then
		wrong_rc=$((wrong_rc + 1)); echo "     $(basename "$f"): exit $rc"; sed 's/^/       | /' "$RUN_DIR/err" | head -3
	fi
	while IFS= read -r e; do
		line=${e#\# expect: } line=${line%%:*}
		text=${e#\# expect: *: }
		if [ "$line" = 0 ]; then where="$SEGD_CONF: error: "; else where="$SEGD_CONF:$line: error: "; fi
		if ! grep -F -- "$where" "$RUN_DIR/err" | grep -qF -- "$text"; then
			missing=$((missing + 1)); echo "     $(basename "$f"): no '${where#"$RUN_DIR"/}...$text'"
		fi
	done < <(expects "$f")
	# the generation after every reload (cheap: one GETGEN inside segd)
	[ "$(st generation_kernel)" = "$gk0" ] || moved=$((moved + 1))
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "     $n reloads in $ms ms ($((ms / (n ? n : 1))) ms each, status read after each)"
check "$n bad files (>= 80)" test "$n" -ge 80
check "every reload exited 1 ($wrong_rc did not)" test "$wrong_rc" = 0
check "every expected file:line error named the running path ($missing missing)" test "$missing" = 0
check "generation_kernel read after each reload never moved ($moved moved)" test "$moved" = 0
read -r gk1 ga1 rev1 fail1 sync1 <<<"$(st generation_kernel generation_applied revision reload_failures in_sync)"
check "nft list ruleset byte-identical over the run ($h0 -> $(ruleset_hash))" test "$(ruleset_hash)" = "$h0"
check "generation_kernel $gk0 -> $gk1, generation_applied $ga0 -> $ga1" test "$gk1:$ga1" = "$gk0:$ga0"
check "no revision made ($rev0 -> $rev1)" test "$rev1" = "$rev0"
check "reload_failures counted every file ($fail0 -> $fail1)" test "$fail1" = $((fail0 + n))
check "the live table is in sync with the running plan" test "$sync1" = yes
check "segd is the same process" segd_alive

heading "a good reload at the end"
# the running file without its first conduit (or, without conduits, as it was)
last=$("$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); import libconf
c = libconf.loads(open(sys.argv[2], encoding="utf-8").read()).get("conduits") or []
print(c[0]["name"] if c else "")' "$TOOLS" "$RUN_DIR/good.conf")
if [ -n "$last" ]; then "$PY" "$TOOLS/lab.py" drop-conduit "$RUN_DIR/good.conf" "$SEGD_CONF" "$last"
else cp "$RUN_DIR/good.conf" "$SEGD_CONF"; fi
out=$("$SEGCTL" --socket "$SOCK" reload 2>&1); rc=$?
[ "$rc" = 0 ] || echo "$out" | sed "s/^/       | /"
check "segctl reload of a valid file exits 0" test "$rc" = 0
read -r gk2 ga2 rev2 sync2 <<<"$(st generation_kernel generation_applied revision in_sync)"
check "one new generation ($gk1 -> $gk2), applied = kernel" test "$gk2" = $((gk1 + 1)) -a "$ga2" = "$gk2"
check "a new revision ($rev1 -> $rev2)" test "$rev2" = $((rev1 + 1))
check "the ruleset changed and is in sync" test "$(ruleset_hash)" != "$h0" -a "$sync2" = yes
stop_segd
summary
