#!/bin/bash
# test-rules-compare.sh - what segd installs is what `segctl rules` prints.
#
# For each configuration: in one throwaway namespace segd applies it (libnftnl,
# one batch); in a second one `nft -f` loads the text of `segctl rules`. The two
# `nft list table inet <table>` listings must be identical (handles aside).
# Also: `nft -c -f` accepts the text, and re-applying to a namespace that
# already holds an older table replaces it in one go.
#
# Configurations: conf/lab.conf (when present), every tests/configs/good/*.conf,
# and generated ones: IPv6, several zones per kind, prefixes, ranges,
# overlapping services, any, icmp/icmpv6, a catch-all external zone, and
# 10,000 conduits in one transaction.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
source "$TOP/tests/e2e/tools/dates.sh"   # EXPIRES
SEGD=${E2E_SEGD:-$TOP/build/segd}
SEGCTL=$TOP/build/segctl
PFX=segrc$$
TMP=$(mktemp -d /tmp/segd-rules-compare.XXXXXX)
pass=0 fail=0

cleanup() {
	for ns in ${PFX}a ${PFX}b; do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

for tool in "$SEGD" "$SEGCTL"; do
	[ -x "$tool" ] || { echo "missing $tool: run make" >&2; echo "0 passed, 1 failed"; exit 1; }
done

# A generated configuration with many shapes (argument: number of bulk conduits).
gen_config() {
	local n=$1
	cat <<EOF
version = 1;
settings = { table = "segd_gen"; log_group = 9; };
zones = (
  { name = "my1"; kind = "mynumber"; interfaces = [ "m1a", "m1b" ];
    networks = [ "10.10.0.0/24", "fd00:10::/64" ]; },
  { name = "my2"; kind = "mynumber"; interfaces = [ "m2" ];
    networks = [ "10.11.0.0/24" ]; },
  { name = "lg1"; kind = "lgwan"; interfaces = [ "l1a", "l1b" ];
    networks = [ "10.20.0.0/16", "fd00:20::/48", "172.16.0.0/24" ];
    gateway_services = [ "tcp/22", "udp/161-162", "icmp", "icmpv6" ]; },
  { name = "lg2"; kind = "lgwan"; interfaces = [ "l2" ];
    networks = [ "10.21.0.0/16", "fd00:21::/48" ];
    gateway_services = [ "tcp/22", "tcp/20-21", "udp/53" ]; },
  { name = "in1"; kind = "internet"; interfaces = [ "i1" ];
    networks = [ "10.30.0.0/16", "fd00:30::/48" ]; },
  { name = "in2"; kind = "internet"; interfaces = [ "i2" ];
    networks = [ "10.31.0.0/16" ]; },
  { name = "cloud"; kind = "external"; interfaces = [ "up0" ]; },
  { name = "partner"; kind = "external"; interfaces = [ "pt" ];
    networks = [ "198.51.100.0/24", "2001:db8:51::/48" ]; }
);
conduits = (
  { name = "my-lg"; kind = "specific"; from = "my1"; to = "lg1";
    sources = [ "10.10.0.5", "fd00:10::5" ]; destinations = [ "10.20.0.50", "fd00:20::50" ];
    services = [ "tcp/443", "icmp/echo-request", "icmpv6/echo-request", "udp/500" ];
    approval = "A-1"; expires = "$EXPIRES"; },
  { name = "my2-lg"; kind = "specific"; from = "my2"; to = "lg1";
    sources = [ "10.11.0.7" ]; destinations = [ "10.20.0.50" ];
    services = [ "tcp/8443" ]; approval = "A-2"; expires = "$EXPIRES"; },
  { name = "lg-lg-any"; kind = "specific"; from = "lg1"; to = "lg2";
    sources = [ "10.20.1.0/24", "10.20.2.0/23", "fd00:20:0:1::/64" ];
    destinations = [ "10.21.0.0/16", "fd00:21::/48" ];
    services = [ "any" ]; approval = "A-3"; expires = "$EXPIRES"; },
  { name = "lg-lg-ranges"; kind = "specific"; from = "lg1"; to = "lg2";
    sources = [ "10.20.0.0/24" ]; destinations = [ "10.21.0.10", "10.21.0.11" ];
    services = [ "tcp/1000-2000", "tcp/2500-2600", "udp/53", "icmp" ];
    approval = "A-4"; expires = "$EXPIRES"; },
  { name = "lg-lg-overlap"; kind = "specific"; from = "lg1"; to = "lg2";
    sources = [ "10.20.0.0/25" ]; destinations = [ "10.21.0.0/24" ];
    services = [ "tcp/1200-3000" ]; approval = "A-5"; expires = "$EXPIRES"; },
  { name = "lg2-back"; kind = "specific"; from = "lg2"; to = "lg1";
    services = [ "tcp/80" ]; approval = "A-6"; expires = "$EXPIRES"; },
  { name = "mail"; kind = "sanitize"; from = "in1"; to = "lg1";
    destinations = [ "10.20.0.25", "fd00:20::25" ]; services = [ "tcp/25" ];
    approval = "A-7"; expires = "$EXPIRES"; },
  { name = "vdi"; kind = "screen"; from = "lg1"; to = "in1";
    sources = [ "10.20.8.0/22" ]; destinations = [ "10.30.0.33", "fd00:30::33" ];
    services = [ "tcp/3389", "udp/3389" ]; approval = "A-8"; expires = "$EXPIRES"; },
  { name = "egress"; kind = "egress"; from = "in1"; to = "cloud";
    destinations = [ "203.0.113.0/24", "2001:db8:113::/48" ]; services = [ "tcp/80", "tcp/443", "udp/443" ]; approval = "A-9"; expires = "$EXPIRES"; },
  { name = "egress2"; kind = "egress"; from = "in2"; to = "partner";
    destinations = [ "198.51.100.0/25" ]; services = [ "tcp/443", "icmp" ]; approval = "A-10"; expires = "$EXPIRES"; },
  { name = "old"; kind = "specific"; from = "lg2"; to = "lg1";
    services = [ "tcp/23" ]; approval = "A-11"; expires = "2001-01-01"; }
EOF
	local i
	for ((i = 0; i < n; i++)); do
		printf '  ,{ name = "bulk%d"; kind = "specific"; from = "lg1"; to = "lg2"; sources = [ "10.20.%d.%d" ]; destinations = [ "10.21.%d.%d" ]; services = [ "tcp/%d" ]; approval = "B"; expires = "%s"; }\n' \
			"$i" $((i / 250 % 256)) $((i % 250 + 1)) $((i / 200 % 256)) $((i % 200 + 1)) $((i % 60000 + 1024)) "$EXPIRES"
	done
	echo ");"
}

table_of() { sed 's/#.*//' "$1" | grep -o '\btable *= *"[^"]*"' | head -1 | cut -d'"' -f2; }
# Handles are the kernel's numbering; table ownership (flags owner,persist,
# which nft 1.0.6 prints as "flags " followed by a blank line, and the
# "# progname" comment) says who holds the table, not what it enforces.
normalise() { sed -E -e 's/ # handle [0-9]+//' -e 's/ # progname .*$//' -e '/^\tflags ( |owner|persist|,)*$/{N;d}'; }

# Runs segd on CONF in namespace NS until the table is there, then stops it.
segd_apply() {
	local ns=$1 conf=$2 table=$3 log=$4 i
	ip netns exec "$ns" "$SEGD" -c "$conf" >"$log" 2>&1 &
	local pid=$!
	for ((i = 0; i < 300; i++)); do
		grep -q "installed table" "$log" 2>/dev/null && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	grep -q "installed table" "$log"
}

compare_one() {
	local conf=$1 name=$2
	local table text="$TMP/$name.nft"
	table=$(table_of "$conf")
	table=${table:-segd}
	if ! "$SEGCTL" rules "$conf" >"$text" 2>"$TMP/$name.rules.err"; then
		bad "$name: segctl rules failed: $(head -3 "$TMP/$name.rules.err")"
		return
	fi
	ip netns add ${PFX}a && ip netns add ${PFX}b || { bad "$name: netns"; return; }
	if ip netns exec ${PFX}b nft -c -f "$text" 2>"$TMP/$name.nftc.err"; then
		ok "$name: nft -c -f accepts segctl rules"
	else
		bad "$name: nft -c -f refuses segctl rules: $(head -3 "$TMP/$name.nftc.err")"
	fi
	ip netns exec ${PFX}b nft -f "$text" 2>>"$TMP/$name.nftc.err"
	if segd_apply ${PFX}a "$conf" "$table" "$TMP/$name.segd.log"; then
		ok "$name: segd installed it: $(grep -o 'one transaction.*' "$TMP/$name.segd.log")"
	else
		bad "$name: segd did not install it: $(tail -3 "$TMP/$name.segd.log")"
	fi
	ip netns exec ${PFX}a nft -a list table inet "$table" 2>&1 | normalise >"$TMP/$name.a"
	ip netns exec ${PFX}b nft -a list table inet "$table" 2>&1 | normalise >"$TMP/$name.b"
	if head -1 "$TMP/$name.a" | grep -q "^table inet $table {" && cmp -s "$TMP/$name.a" "$TMP/$name.b"; then
		ok "$name: nft list table inet $table is identical ($(wc -l <"$TMP/$name.a") lines)"
	else
		bad "$name: listings differ:"
		diff "$TMP/$name.a" "$TMP/$name.b" | head -20
	fi
	ip netns del ${PFX}a
	ip netns del ${PFX}b
}

configs=()
[ -f "$TOP/conf/lab.conf" ] && configs+=("$TOP/conf/lab.conf")
for f in "$TOP"/tests/configs/good/*.conf; do
	[ -f "$f" ] && configs+=("$f")
done
gen_config 0 >"$TMP/generated.conf"
gen_config 10000 >"$TMP/generated-10k.conf"
configs+=("$TMP/generated.conf" "$TMP/generated-10k.conf")

for conf in "${configs[@]}"; do
	name=$(basename "$conf" .conf)
	if ! "$SEGCTL" check "$conf" >/dev/null 2>"$TMP/check.err"; then
		bad "$name: segctl check refuses it: $(head -2 "$TMP/check.err")"
		continue
	fi
	compare_one "$conf" "$name"
done

# Re-applying over an older table: one transaction replaces it entirely.
ip netns add ${PFX}a
segd_apply ${PFX}a "$TMP/generated-10k.conf" segd_gen "$TMP/re1.log"
segd_apply ${PFX}a "$TMP/generated.conf" segd_gen "$TMP/re2.log"
ip netns exec ${PFX}a nft -a list table inet segd_gen | normalise >"$TMP/re.a"
if cmp -s "$TMP/re.a" "$TMP/generated.a"; then
	ok "re-apply: the 10,000-conduit table was replaced by the small one in one transaction"
else
	bad "re-apply: the table after re-apply differs from a fresh install"
	diff "$TMP/re.a" "$TMP/generated.a" | head -10
fi
ip netns del ${PFX}a

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
