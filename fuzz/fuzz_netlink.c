/*
 * fuzz_netlink.c - what segd reads back from the kernel over netlink.
 *
 * The input is one datagram of netlink messages as a socket would deliver
 * it. It goes through both readers of lib/nft_sock.c (the ACK reader) and lib/nft_read.c (the dump reader):
 *  - seg_nft_replies_take(): the ACKs and refusals (with extended-ACK
 *    attributes) of a batch; a refusal is then mapped back to the plan with
 *    seg_nft_batch_describe(), as seg_nft_apply() does (the sequence number
 *    is taken relative to the batch's first one, so that inputs replay);
 *  - seg_nft_verify_messages(): a dump of the table (or a batch) compared
 *    with the plan, element by element and rule by rule (messages that
 *    libnftnl parses only as the fixture's batch has them: see
 *    keep_parsable; element messages, parsed by segd, as they come).
 * The plan is compiled once from a fixture with exact tuples, port ranges,
 * prefixes, both families and a verdict map. Properties: a refusal is
 * counted (n_failed > 0 exactly when err != 0) and described in words; the
 * diff keeps at most SEG_NFT_DIFF_TEXTS descriptions and is in sync only
 * with nothing missing, extra or changed.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include "config.h"
#include "fuzz.h"
#include "nftnl.h"
#include "plan.h"
#include "zonemap.h"

static const char fixture_conf[] =
	"version = 1;\n"
	"settings = { table = \"segd\"; log_group = 7; max_ports = 2048; };\n"
	"zones = (\n"
	" { name = \"mynumber\"; kind = \"mynumber\"; interfaces = [\"eth1\"]; networks = [\"10.10.0.0/24\", \"fd00:10::/64\"]; },\n"
	" { name = \"lgwan\"; kind = \"lgwan\"; interfaces = [\"eth2\", \"eth4\"]; networks = [\"10.20.0.0/24\", \"fd00:20::/64\"];\n"
	"   gateway_services = [\"udp/53\", \"icmpv6\"]; },\n"
	" { name = \"internet\"; kind = \"internet\"; interfaces = [\"eth3\"]; networks = [\"10.30.0.0/24\", \"fd00:30::/64\"]; },\n"
	" { name = \"cloud\"; kind = \"external\"; interfaces = [\"eth0\"]; }\n"
	");\n"
	"conduits = (\n"
	" { name = \"ranges\"; kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
	"   sources = [\"10.20.0.0/25\", \"fd00:20::/80\"]; destinations = [\"10.30.0.33\", \"fd00:30::33\"];\n"
	"   services = [\"tcp/1000-2000\", \"udp/53\", \"icmp\"]; approval = \"A-1\"; expires = \"2027-12-31\"; },\n"
	" { name = \"exact\"; kind = \"specific\"; from = \"mynumber\"; to = \"lgwan\";\n"
	"   sources = [\"10.10.0.5\"]; destinations = [\"10.20.0.207\", \"10.20.0.208\"];\n"
	"   services = [\"tcp/443\"]; approval = \"A-2\"; expires = \"2027-12-31\"; }\n"
	");\n";

struct fixture {
	struct seg_config *cfg;
	struct seg_zonemap map;
	struct seg_plan *plan;
	struct seg_nft_batch *batch;
};

/* Built once per process and kept (reachable) until it exits. */
static const struct fixture *fixture(void)
{
	static struct fixture fx;
	static bool tried, ok;
	struct seg_diags d;

	if (tried)
		return ok ? &fx : NULL;
	tried = true;
	ok = seg_config_load_string(fixture_conf, "fixture.conf", 20600, &fx.cfg, &d) == 0 &&
	     seg_zonemap_build(fx.cfg, &fx.map) == 0 && seg_plan_compile(fx.cfg, &fx.map, &fx.plan) == 0 &&
	     seg_nft_batch_build(fx.plan, &fx.batch) == 0;
	seg_diags_free(&d);
	return ok ? &fx : NULL;
}

static bool replies_ok(const struct fixture *fx, const uint8_t *data, size_t size)
{
	struct seg_nft_replies rp = { .last_seq = 7 };
	struct seg_nft_error err = { 0 };

	seg_nft_replies_take(&rp, data, size);
	if ((rp.err != 0) != (rp.n_failed > 0) || memchr(rp.ext, '\0', sizeof(rp.ext)) == NULL)
		return false;
	if (rp.err == 0)
		return true;
	seg_nft_batch_describe(fx->batch, fx->plan, seg_nft_batch_first_seq(fx->batch) + rp.err_seq,
			       rp.err_off, &err);
	return err.what[0] != '\0' && memchr(err.what, '\0', sizeof(err.what)) != NULL;
}

/* Whether the payload of message m (after its netlink header) is that of
 * one of the fixture batch's messages of the same type. */
static bool known_msg(const struct fixture *fx, const struct nlmsghdr *m)
{
	size_t blen, plen = m->nlmsg_len - sizeof(*m);
	const uint8_t *b = seg_nft_batch_data(fx->batch, &blen);
	const struct nlmsghdr *h;

	for (size_t off = 0; off + sizeof(*h) <= blen; off += NLMSG_ALIGN(h->nlmsg_len)) {
		h = (const struct nlmsghdr *)(b + off);
		if (h->nlmsg_len < sizeof(*h))
			break;
		if (h->nlmsg_type == m->nlmsg_type && h->nlmsg_len == m->nlmsg_len &&
		    memcmp(h + 1, m + 1, plen) == 0)
			return true;
	}
	return false;
}

/* libnftnl's table, chain, set and rule parsers exit the process ("nf_tables
 * kernel ABI is broken") on an attribute of the wrong type: they trust the
 * kernel. So those messages pass only unchanged (they may still be dropped,
 * repeated or reordered); element messages, which segd parses itself, and
 * anything else go through as they are. *ret (malloc'ed) holds the
 * messages kept. */
static size_t keep_parsable(const struct fixture *fx, const uint8_t *data, size_t size, uint8_t **ret)
{
	uint8_t *out = malloc(size ? size : 1);
	size_t n = 0, off = 0;

	*ret = out;
	if (!out)
		return 0;
	while (off + sizeof(struct nlmsghdr) <= size) {
		struct nlmsghdr h;
		memcpy(&h, data + off, sizeof(h));
		if (h.nlmsg_len < sizeof(h) || h.nlmsg_len > size - off)
			break;
		bool by_libnftnl = (h.nlmsg_type >> 8) == NFNL_SUBSYS_NFTABLES &&
				   (h.nlmsg_type & 0xff) != NFT_MSG_NEWSETELEM;
		if (!by_libnftnl || known_msg(fx, (const struct nlmsghdr *)(data + off))) {
			memcpy(out + n, data + off, h.nlmsg_len);
			n += NLMSG_ALIGN(h.nlmsg_len);
		}
		off += NLMSG_ALIGN(h.nlmsg_len);
	}
	return n;
}

static bool diff_ok(const struct fixture *fx, const uint8_t *data, size_t size)
{
	struct seg_nft_diff *diff = calloc(1, sizeof(*diff));
	uint8_t *kept = NULL;
	size_t n = keep_parsable(fx, data, size, &kept);
	bool ok = true;

	if (!diff || !kept) {
		free(diff);
		free(kept);
		return true;
	}
	if (seg_nft_verify_messages(fx->plan, kept, n, diff) == 0) {
		size_t bad = diff->table_missing + diff->table_changed + diff->chains_missing + diff->chains_extra +
			     diff->chains_changed + diff->rules_missing + diff->rules_extra + diff->rules_changed +
			     diff->sets_missing + diff->sets_extra + diff->sets_changed + diff->elems_missing +
			     diff->elems_extra + diff->elems_changed;
		ok = diff->n_text <= SEG_NFT_DIFF_TEXTS && diff->in_sync == (bad == 0);
	}
	free(diff);
	free(kept);
	return ok;
}

int seg_fuzz_netlink(const uint8_t *data, size_t size)
{
	const struct fixture *fx = fixture();

	if (!fx)
		return -1;
	bool a = replies_ok(fx, data, size), b = diff_ok(fx, data, size);
	return a && b ? 0 : -1;
}

#ifdef SEG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (seg_fuzz_netlink(data, size) < 0)
		abort();
	return 0;
}
#endif
