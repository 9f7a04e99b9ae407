#!/bin/bash
# test-check-cli.sh - `segctl check` and `segd -n` from the outside, over the
# whole catalog of tests/configs (issue 2 point 7, issue 7 point 3): exit
# status 0/1/2, every expected `file:line: error:` on stderr, --json that
# parses, `segd -n` agreeing with `segctl check`, usage errors. No namespaces.
#
#   SEGCTL=path SEGD=path   binaries to test (default build/segctl, build/segd)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
SEGCTL=${SEGCTL:-$TOP/build/segctl}
SEGD=${SEGD:-$TOP/build/segd}
CONFIGS=$TOP/tests/configs
source "$TOP/tests/e2e/tools/dates.sh"
fake_date 2026-11-26                 # expiry cases must not rot (libfaketime)
PASS=0 FAIL=0
TMP=$(mktemp -d /tmp/segd-check-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok()   { PASS=$((PASS + 1)); [ -n "${VERBOSE:-}" ] && echo "ok   $*"; return 0; }
fail() { FAIL=$((FAIL + 1)); echo "FAIL $*"; }
# run CMD...: sets rc, out (stdout), err (stderr)
run() {
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	out=$(cat "$TMP/out") err=$(cat "$TMP/err")
}
expect_rc() { # want description
	if [ "$rc" = "$1" ]; then ok "$2"; else fail "$2: exit $rc, expected $1"; sed 's/^/     | /' "$TMP/err" | head -5; fi
}

[ -x "$SEGCTL" ] || { echo "test-check-cli: $SEGCTL missing (run make)"; echo "0 passed, 1 failed"; exit 1; }

# ---- the catalog through segctl check ----
# The leading "# expect: LINE: text" lines of a bad file; BOM and CR removed.
expects() {
	LC_ALL=C sed -e '1s/^\xef\xbb\xbf//' -e 's/\r$//' "$1" | LC_ALL=C awk '/^# expect: /{ print; next } { exit }'
}

n_bad=0
for f in "$CONFIGS"/bad/*.conf; do
	n_bad=$((n_bad + 1))
	name=bad/$(basename "$f")
	run "$SEGCTL" check "$f"
	expect_rc 1 "segctl check $name"
	missing=0
	while IFS= read -r e; do
		line=${e#\# expect: } line=${line%%:*}
		text=${e#\# expect: *: }
		if [ "$line" = 0 ]; then where="$f: error: "; else where="$f:$line: error: "; fi
		# grep -F for both parts: the message itself may hold regex characters
		if ! grep -F -- "$where" "$TMP/err" | grep -qF -- "$text"; then
			fail "$name: no '$where...$text' on stderr"
			missing=1
		fi
	done < <(expects "$f")
	[ "$missing" = 0 ] && ok "$name: every expected file:line error"
	grep -q -- "nothing would be installed" "$TMP/err" && ok "$name: summary" || fail "$name: no summary line"
done
[ "$n_bad" -ge 85 ] && ok "$n_bad bad configurations" || fail "only $n_bad bad configurations"

n_good=0
for f in "$CONFIGS"/good/*.conf "$TOP"/conf/*.conf; do
	n_good=$((n_good + 1))
	name=${f#"$TOP"/}
	run "$SEGCTL" check "$f"
	expect_rc 0 "segctl check $name"
	if grep -q ': error: ' "$TMP/err"; then fail "$name: errors printed for a valid file"; fi
	case $out in *": ok: "*) ok "$name: ok on stdout" ;; *) fail "$name: no ok line on stdout: $out" ;; esac
done

# ---- --json ----
json_ok=0 json_bad=0
for f in "$CONFIGS"/bad/*.conf "$CONFIGS"/good/*.conf; do
	run "$SEGCTL" --json check "$f"
	want=true; case $f in */bad/*) want=false ;; esac
	if ! valid=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(str(d["valid"]).lower()); assert isinstance(d["diagnostics"], list)' <"$TMP/out" 2>/dev/null); then
		json_bad=$((json_bad + 1)); fail "--json check ${f#"$CONFIGS"/}: output does not parse"
	elif [ "$valid" != "$want" ]; then
		json_bad=$((json_bad + 1)); fail "--json check ${f#"$CONFIGS"/}: valid=$valid"
	else
		json_ok=$((json_ok + 1))
	fi
done
[ "$json_bad" = 0 ] && ok "--json parses (python3 json) with the right verdict for $json_ok files"
run "$SEGCTL" --json check "$CONFIGS/good/detail.conf"
if python3 -m json.tool <"$TMP/out" >/dev/null 2>&1 &&
   python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["valid"] and d["zones"]==4 and d["conduits"]==3 and d["errors"]==0 and d["warnings"]==2, d; assert {x["line"] for x in d["diagnostics"]}=={35,43}' <"$TMP/out"; then
	ok "--json detail.conf: zones, conduits, warnings with lines"
else
	fail "--json detail.conf: $out"
fi
expect_rc 0 "--json check exit status of a valid file"
run "$SEGCTL" --json check "$CONFIGS/bad/001-unknown-top-key.conf"
expect_rc 1 "--json check exit status of an invalid file"
[ -z "$err" ] && ok "--json: nothing on stderr" || fail "--json: stderr: $err"

# ---- segd -n gives the same verdict ----
if [ -x "$SEGD" ]; then
	differ=0 n=0
	for f in "$CONFIGS"/bad/*.conf "$CONFIGS"/good/*.conf "$TOP"/conf/*.conf; do
		n=$((n + 1))
		"$SEGCTL" check "$f" >/dev/null 2>&1; a=$?
		"$SEGD" -n -c "$f" >/dev/null 2>&1; b=$?
		[ "$a" = "$b" ] || { differ=$((differ + 1)); fail "segd -n exit $b, segctl check exit $a: ${f#"$TOP"/}"; }
	done
	[ "$differ" = 0 ] && ok "segd -n agrees with segctl check on $n files"
	run "$SEGD" -n -c "$TMP/does-not-exist.conf"
	expect_rc 2 "segd -n on a missing file"
	run "$SEGD" -n -c "$CONFIGS"
	expect_rc 2 "segd -n on a directory"
else
	echo "SKIP segd -n comparison: $SEGD does not exist yet"
fi

# ---- names that are nft keywords: valid, and the ruleset they give is valid nft ----
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null && command -v unshare >/dev/null &&
   "$SEGCTL" --help | grep -q '^  rules '; then
	"$SEGCTL" rules "$CONFIGS/good/nft-keywords.conf" >"$TMP/kw.nft" 2>"$TMP/err"
	# nft -c only checks; a throwaway network namespace keeps the host's ruleset out of reach anyway
	if unshare -n nft -c -f "$TMP/kw.nft" 2>>"$TMP/err"; then
		ok "zones named accept/drop/table/chain: nft -c accepts segctl rules"
	else
		fail "nft -c refuses the ruleset of nft-keywords.conf: $(head -3 "$TMP/err")"
	fi
	# every table name segd accepts, nft accepts unquoted: candidates are the
	# parser's token names from libnftables (its keywords) and some edge names
	lib=$(ldconfig -p 2>/dev/null | awk '/libnftables\.so/ { print $NF; exit }')
	{ [ -n "$lib" ] && strings "$lib" | LC_ALL=C grep -E '^"[a-z][a-z0-9_-]*"$' | tr -d '"'
	  printf '%s\n' segd seg-d seg_d a z ip-x tcp-1 drop- x_1-2; } | sort -u >"$TMP/tables"
	n_acc=0 n_ref=0 wrong=""
	while IFS= read -r t; do
		sed "s|^  table = \"[^\"]*\";|  table = \"$t\";|" "$CONFIGS/good/nft-keywords.conf" >"$TMP/table.conf"
		if ! "$SEGCTL" check "$TMP/table.conf" >/dev/null 2>&1; then
			n_ref=$((n_ref + 1))
			continue
		fi
		n_acc=$((n_acc + 1))
		printf 'table inet %s {\n}\n' "$t" >"$TMP/table.nft"
		unshare -n nft -c -f "$TMP/table.nft" >/dev/null 2>&1 || wrong="$wrong $t"
	done <"$TMP/tables"
	[ -z "$wrong" ] && [ "$n_ref" -gt 100 ] && ok "table names: nft -c accepts all $n_acc that segd accepts ($n_ref refused)" ||
		fail "table names segd accepts but nft -c refuses:$wrong ($n_acc accepted, $n_ref refused)"
else
	echo "SKIP nft -c of nft-keywords.conf and table names (needs root, nft, unshare and segctl rules)"
fi

# ---- exit status 2 and usage ----
run "$SEGCTL" check "$TMP/does-not-exist.conf"
expect_rc 2 "check of a missing file"
grep -q "does-not-exist.conf: error: cannot read the file" "$TMP/err" && ok "missing file named" || fail "missing file: $err"
# a file that cannot be read is a runtime error (2) like a missing one, never "invalid" (1)
run "$SEGCTL" check "$CONFIGS"
expect_rc 2 "check of a directory"
grep -q "configs: error: not a regular file" "$TMP/err" && ok "directory named" || fail "directory: $err"
run "$SEGCTL" --json check "$CONFIGS"
expect_rc 2 "--json check of a directory"
run "$SEGCTL" check /dev/null
expect_rc 2 "check of a character device"
if [ "$(id -u)" != 0 ]; then
	cp "$CONFIGS/good/base.conf" "$TMP/unreadable.conf" && chmod 0000 "$TMP/unreadable.conf"
	run "$SEGCTL" check "$TMP/unreadable.conf"
	expect_rc 2 "check of an unreadable file"
fi
run "$SEGCTL" --help
expect_rc 0 "segctl --help"
case $out in *"usage: segctl"*check*) ok "--help: usage and the check command" ;; *) fail "--help: $out" ;; esac
run "$SEGCTL" check --help
expect_rc 0 "segctl check --help"
run "$SEGCTL" frobnicate
expect_rc 2 "unknown command"
case $err in *frobnicate*--help*) ok "unknown command: named, with a pointer to --help" ;; *) fail "unknown command: $err" ;; esac
case $err in *"unknown command 'frobnicate'"*check*$'\n''usage: segctl [-c FILE] [--json] COMMAND [ARGS]'*) ok "unknown command: the known commands and a usage line" ;; *) fail "unknown command: no usage line: $err" ;; esac
run "$SEGCTL" check a.conf b.conf
expect_rc 2 "check with two files"
case $err in "usage: segctl"*check*) ok "two files: usage line" ;; *) fail "two files: $err" ;; esac
run "$SEGCTL" -c
expect_rc 2 "-c without FILE"
case $err in *usage:*) ok "-c without FILE: usage line" ;; *) fail "-c without FILE: $err" ;; esac
run "$SEGCTL"
expect_rc 2 "no command"
case $err in *usage:*) ok "no command: usage line" ;; *) fail "no command: $err" ;; esac

# ---- -c and --config= select the file like the argument does ----
for form in "-c $CONFIGS/good/base.conf check" "check -c $CONFIGS/good/base.conf" "--config=$CONFIGS/good/base.conf check"; do
	run "$SEGCTL" $form
	expect_rc 0 "segctl $form"
done
run "$SEGCTL" -c "$CONFIGS/bad/001-unknown-top-key.conf" check
expect_rc 1 "segctl -c BAD check"

# ---- the date: the clock decides expiry, never the environment ----
run "$SEGCTL" check "$CONFIGS/good/expired.conf"
case $out in *"(1 expired, not installed)"*) ok "expired conduit counted on 2026-11-26" ;; *) fail "expired: $out" ;; esac
grep -q "expired.conf:[0-9]*: warning: conduit 'old-link' expired on 2026-11-25" "$TMP/err" && ok "expiry warning with line" || fail "expiry warning: $err"
FAKETIME="@2026-11-01 12:00:00" run "$SEGCTL" check "$CONFIGS/good/expired.conf"
case $out in *"(0 expired, not installed)"*) ok "not yet expired on 2026-11-01" ;; *) fail "2026-11-01: $out" ;; esac
# SEGD_TODAY once moved the date and re-installed expired conduits without a word
SEGD_TODAY=2026-11-01 run "$SEGCTL" check "$CONFIGS/good/expired.conf"
case $out in *"(1 expired, not installed)"*) ok "SEGD_TODAY is ignored (still expired on 2026-11-26)" ;; *) fail "SEGD_TODAY moved the date: $out" ;; esac

# ---- inputs made here: big, deep, writable ----
{ cat "$CONFIGS/good/base.conf"; yes '# padding padding padding padding padding padding padding padding' | head -c $((10 << 20)); } >"$TMP/big.conf"
start=$(date +%s%N)
run "$SEGCTL" check "$TMP/big.conf"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_rc 0 "10 MiB file (comments) is valid"
[ "$ms" -lt 10000 ] && ok "10 MiB checked in $ms ms" || fail "10 MiB took $ms ms"
head -c $((10 << 20)) /dev/urandom | tr -d '\000' >"$TMP/garbage.conf"
run timeout 60 "$SEGCTL" check "$TMP/garbage.conf"
expect_rc 1 "10 MiB of random bytes without NUL is invalid"
grep -q "garbage.conf:[1-9][0-9]*: error: " "$TMP/err" && ok "random bytes: error with a line" || fail "random bytes: $err"
python3 -c 'import sys; sys.stdout.write("version = 1;\nzones = " + "(" * 100000 + ")" * 100000 + ";\n")' >"$TMP/deep.conf"
run timeout 60 "$SEGCTL" check "$TMP/deep.conf"
expect_rc 1 "100,000 levels of nesting refused (no stack overflow)"
grep -q "deep.conf:2: error: nesting deeper than" "$TMP/err" && ok "deep nesting: line 2" || fail "deep nesting: $err"
truncate -s 65M "$TMP/huge.conf"
run "$SEGCTL" check "$TMP/huge.conf"
[ "$rc" = 2 ] && grep -q "larger than 64 MiB" "$TMP/err" && ok "65 MiB file refused unread (exit $rc)" || fail "65 MiB: exit $rc $err"
cp "$CONFIGS/good/base.conf" "$TMP/writable.conf"
chmod 0666 "$TMP/writable.conf"
run "$SEGCTL" check "$TMP/writable.conf"
expect_rc 0 "a world-writable file is still valid"
grep -q "writable.conf: warning: the file is writable by users other than root" "$TMP/err" &&
	ok "world-writable file: warning" || fail "world-writable file: no warning: $err"
grep -q "chown root:root and chmod 0644 (or 0640 root:segctl)" "$TMP/err" &&
	ok "world-writable file: advice keeps it readable by segd" || fail "world-writable file: advice: $err"
chmod 0644 "$TMP/writable.conf"
run "$SEGCTL" check "$TMP/writable.conf"
if [ "$(id -u)" = 0 ]; then
	grep -q "writable by users" "$TMP/err" && fail "root-owned 0644 file: unexpected warning" || ok "root-owned 0644: no warning"
fi
# whoever can write the directory can replace the file
mkdir "$TMP/etc-segd"
cp "$CONFIGS/good/base.conf" "$TMP/etc-segd/segd.conf"
chmod 0644 "$TMP/etc-segd/segd.conf"
chmod 0777 "$TMP/etc-segd"
run "$SEGCTL" check "$TMP/etc-segd/segd.conf"
expect_rc 0 "a file in a world-writable directory is still valid"
grep -q "segd.conf: warning: the directory '$TMP/etc-segd' is writable by users other than root.* — " "$TMP/err" &&
	ok "world-writable directory: warning naming it" || fail "world-writable directory: no warning: $err"
chmod 0755 "$TMP/etc-segd"
if [ "$(id -u)" = 0 ]; then
	run "$SEGCTL" check "$TMP/etc-segd/segd.conf"
	grep -q "warning: the directory" "$TMP/err" && fail "root's 0755 directory: unexpected warning" || ok "root's 0755 directory: no warning"
	chown 1234 "$TMP/etc-segd"
	run "$SEGCTL" check "$TMP/etc-segd/segd.conf"
	grep -q "warning: the directory '$TMP/etc-segd' .*owner uid 1234" "$TMP/err" &&
		ok "directory owned by a user: warning" || fail "directory owned by uid 1234: no warning: $err"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
