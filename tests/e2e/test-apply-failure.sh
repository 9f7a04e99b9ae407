#!/bin/bash
# test-apply-failure.sh - a transaction the kernel refuses changes nothing, and
# segd says why in plain words.
#
# The refusal is real: another process holds a table with the nftables `owner`
# flag (the kernel lets only the owning netlink socket change it), and segd's
# configuration names that table in settings.table. segd's one batch
# (NEWTABLE, DELTABLE, NEWTABLE, ...) is then refused as a whole:
#   1. at start: segd exits 2, reports the kernel's error, the held table is
#      byte-identical;
#   2. on reload: segd keeps running with its previous rules, the whole ruleset
#      (`nft list ruleset`) is byte-identical, the error names the operation,
#      the errno and the config line.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
source "$TOP/tests/e2e/tools/dates.sh"   # EXPIRES
SEGD=${E2E_SEGD:-$TOP/build/segd}
PFX=segaf$$
NS=${PFX}gw
TMP=$(mktemp -d /tmp/segd-apply-failure.XXXXXX)
pass=0 fail=0

cleanup() {
	for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ok() { pass=$((pass + 1)); echo "ok   $*"; }
# wait_for SECONDS CMD...: until CMD succeeds; the ceiling (generous: segd may
# be an ASan build on a loaded machine) only bounds a failure
wait_for() {
	local end=$(($(date +%s) + $1)); shift
	until "$@" >/dev/null 2>&1; do [ "$(date +%s)" -le "$end" ] || return 1; sleep 0.05; done
}
# failed_reloads N: segd has reported at least N failed reloads in its log
failed_reloads() { [ "$(grep -c "reload of .* failed.* stay in force" "$TMP/segd2.log")" -ge "$1" ]; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

[ -x "$SEGD" ] || { echo "missing $SEGD: run make" >&2; echo "0 passed, 1 failed"; exit 1; }

# holder TABLE: creates table inet TABLE with the owner flag, a chain, a set
# with an element, prints "ready" and keeps the owning socket open.
cat >"$TMP/holder.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#ifndef NFT_TABLE_F_OWNER
#define NFT_TABLE_F_OWNER 2
#endif
int main(int argc, char **argv)
{
	char *buf = malloc(65536), *p = buf;
	uint32_t seq = (uint32_t)time(NULL), addr = htonl(0x0a000001);
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	if (argc != 2 || !nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return 2;
	nlh = nftnl_batch_begin(p, seq++); p += nlh->nlmsg_len;
	struct nftnl_table *t = nftnl_table_alloc();
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, argv[1]);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER);
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE, seq++);
	nftnl_table_nlmsg_build_payload(nlh, t); p += nlh->nlmsg_len;
	struct nftnl_chain *c = nftnl_chain_alloc();
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, argv[1]);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "mine");
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE, seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c); p += nlh->nlmsg_len;
	struct nftnl_set *s = nftnl_set_alloc();
	nftnl_set_set_str(s, NFTNL_SET_TABLE, argv[1]);
	nftnl_set_set_str(s, NFTNL_SET_NAME, "held");
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, 7);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 4);
	nftnl_set_set_u32(s, NFTNL_SET_ID, 1);
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, seq++);
	nftnl_set_nlmsg_build_payload(nlh, s); p += nlh->nlmsg_len;
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &addr, 4);
	nftnl_set_elem_add(s, e);
	nlh = nftnl_nlmsg_build_hdr(p, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK, seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, s); p += nlh->nlmsg_len;
	nlh = nftnl_batch_end(p, seq++); p += nlh->nlmsg_len;
	if (mnl_socket_sendto(nl, buf, (size_t)(p - buf)) < 0)
		return 2;
	int n = (int)mnl_socket_recvfrom(nl, buf, 65536);
	if (n <= 0 || mnl_cb_run(buf, (size_t)n, 0, mnl_socket_get_portid(nl), NULL, NULL) < 0) {
		perror("holder: commit");
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	pause();
	return 0;
}
EOF
if ! cc -o "$TMP/holder" "$TMP/holder.c" $(pkg-config --cflags --libs libnftnl libmnl) 2>"$TMP/cc.err"; then
	echo "cannot build the holder: $(head -3 "$TMP/cc.err")" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

config() {   # config TABLE
	cat <<EOF
version = 1;
settings = { table = "$1"; log_group = 7; };
zones = (
  { name = "lgwan"; kind = "lgwan"; interfaces = [ "lg0" ];
    networks = [ "10.20.0.0/24", "fd00:20::/64" ]; },
  { name = "internet"; kind = "internet"; interfaces = [ "in0" ];
    networks = [ "10.30.0.0/24", "fd00:30::/64" ]; }
);
conduits = (
  { name = "mail"; kind = "sanitize"; from = "internet"; to = "lgwan";
    destinations = [ "10.20.0.25" ]; services = [ "tcp/25" ];
    approval = "X-1"; expires = "$EXPIRES"; }
);
EOF
}
config held >"$TMP/held.conf"
config segd >"$TMP/segd.conf"

ip netns add "$NS"
: >"$TMP/holder.out"
ip netns exec "$NS" "$TMP/holder" held >"$TMP/holder.out" 2>&1 &
wait_for 60 grep -q ready "$TMP/holder.out"
if grep -q ready "$TMP/holder.out"; then
	ok "another process holds table inet held with the owner flag"
else
	bad "the holder could not create its table: $(cat "$TMP/holder.out")"
fi
ip netns exec "$NS" nft list ruleset >"$TMP/before1"

# 1. at start
ip netns exec "$NS" timeout 120 "$SEGD" -c "$TMP/held.conf" >"$TMP/segd1.log" 2>&1
rc=$?
ip netns exec "$NS" nft list ruleset >"$TMP/after1"
[ "$rc" = 2 ] && ok "segd exits 2 when the kernel refuses its first ruleset" ||
	bad "segd exited $rc (want 2): $(cat "$TMP/segd1.log")"
cmp -s "$TMP/before1" "$TMP/after1" && ok "the ruleset is byte-identical after the refused transaction" ||
	{ bad "the ruleset changed"; diff "$TMP/before1" "$TMP/after1" | head; }
msg=$(grep 'error: the kernel refused' "$TMP/segd1.log")
echo "     segd said: $msg"
echo "$msg" | grep -qE "^$TMP/held.conf:2: error: the kernel refused the ruleset: create table inet 'held': Operation not permitted \(EPERM\)" &&
	ok "the error names the config line, the operation, the errno in words and its name" ||
	bad "unexpected error text: $(cat "$TMP/segd1.log")"

# 2. on reload: segd runs with table segd, then the configuration moves to the held table
ip netns exec "$NS" "$SEGD" -c "$TMP/segd.conf" >"$TMP/segd2.log" 2>&1 &
SEGD_PID=$!
wait_for 120 grep -q "installed table" "$TMP/segd2.log"
grep -q "installed table" "$TMP/segd2.log" && ok "segd installed table inet segd" ||
	bad "segd did not start: $(cat "$TMP/segd2.log")"
ip netns exec "$NS" nft list ruleset >"$TMP/before2"
cp "$TMP/held.conf" "$TMP/segd.conf"
kill -HUP "$SEGD_PID"
wait_for 120 failed_reloads 1
ip netns exec "$NS" nft list ruleset >"$TMP/after2"
grep -q "rules of .* stay in force" "$TMP/segd2.log" && ok "the reload is reported as failed, the running rules named" ||
	bad "no reload failure reported: $(cat "$TMP/segd2.log")"
cmp -s "$TMP/before2" "$TMP/after2" && ok "the whole ruleset is byte-identical after the refused reload" ||
	{ bad "the ruleset changed on a refused reload"; diff "$TMP/before2" "$TMP/after2" | head; }
kill -0 "$SEGD_PID" 2>/dev/null && ok "segd keeps running with its previous rules" || bad "segd died"
grep -q 'segd.conf:2: error: the kernel refused the ruleset: create table' "$TMP/segd2.log" &&
	ok "the reload error is in plain words with its config line" || bad "reload error: $(cat "$TMP/segd2.log")"

# 3. an invalid configuration on reload: every error printed, the rules stay
printf 'version = 1;\nzones = ( { name = "x"; kind = "nope"; } );\nconduits = ( { name = 7; } );\n' >"$TMP/segd.conf"
# segd prints every error, then the failure line: wait for the second one
kill -HUP "$SEGD_PID"
wait_for 120 failed_reloads 2
ip netns exec "$NS" nft list ruleset >"$TMP/after3"
n=$(grep -c 'segd.conf:[0-9]*: error' "$TMP/segd2.log")
[ "$n" -ge 3 ] && ok "an invalid reload prints every error ($n error lines in all)" ||
	bad "expected several errors: $(tail -5 "$TMP/segd2.log")"
cmp -s "$TMP/before2" "$TMP/after3" && ok "the rules stay after an invalid reload" || bad "rules changed"

# 4. SIGTERM: segd ends, its rules stay (fail closed)
kill -TERM "$SEGD_PID"
wait "$SEGD_PID" 2>/dev/null
ip netns exec "$NS" nft list table inet segd >/dev/null 2>&1 && ok "after SIGTERM table inet segd is still in the kernel" ||
	bad "table inet segd vanished with segd"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
