/* test_nftnl.c - netlink round trip without root: build segd's batch for a
 * compiled plan, parse every message back with libnftnl and compare it with
 * the plan; and map a kernel error's sequence number and attribute offset
 * back to the element and its configuration line. */
#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include "addr.h"
#include "config.h"
#include "nftnl.h"
#include "nft_int.h"
#include "plan.h"
#include "suites.h"
#include "zonemap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const configs[] = {
	TEST_CONFIGS "/good/several-zones-per-kind.conf",
	TEST_CONFIGS "/good/port-ranges.conf",
	TEST_CONFIGS "/good/ipv6-only.conf",
	TEST_CONFIGS "/good/gateway-services.conf",
};

struct fixture {
	struct seg_config *cfg;
	struct seg_zonemap map;
	struct seg_plan *plan;
	struct seg_nft_batch *batch;
};

static void setup_fixture(struct fixture *f, const char *path)
{
	struct seg_diags d;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(seg_config_load(path, 20600, &f->cfg, &d), 0);
	seg_diags_free(&d);
	ck_assert_int_eq(seg_zonemap_build(f->cfg, &f->map), 0);
	ck_assert_int_eq(seg_plan_compile(f->cfg, &f->map, &f->plan), 0);
	ck_assert_int_eq(seg_nft_batch_build(f->plan, &f->batch), 0);
}

static void teardown_fixture(struct fixture *f)
{
	seg_nft_batch_free(f->batch);
	seg_plan_free(f->plan);
	seg_zonemap_free(&f->map);
	seg_config_free(f->cfg);
}

/* Where the walk over the batch stands against the plan. */
struct walk {
	const struct seg_plan *p;
	size_t chains, sets, rules, elems[4096];
	size_t tables, deltables, acks;
	uint32_t expect_seq;
	const struct seg_plan_set *cur_set;
	size_t cur_set_i;
};

static void check_set_msg(struct walk *w, const struct nlmsghdr *nlh)
{
	struct nftnl_set *s = nftnl_set_alloc();

	ck_assert_int_eq(nftnl_set_nlmsg_parse(nlh, s), 0);
	ck_assert_uint_lt(w->sets, w->p->n_sets);
	const struct seg_plan_set *ps = &w->p->sets[w->sets];
	ck_assert_str_eq(nftnl_set_get_str(s, NFTNL_SET_NAME), ps->name);
	ck_assert_uint_eq(nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN), seg_set_key_len(ps));
	ck_assert_uint_eq(!!(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_INTERVAL), ps->interval);
	ck_assert_uint_eq(!!(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_MAP), ps->vmap);
	w->cur_set = ps;
	w->cur_set_i = w->sets++;
	nftnl_set_free(s);
}

/* The data of a NFTA_SET_ELEM_KEY / _KEY_END nest (its NFTA_DATA_VALUE). */
static const void *data_value(const struct nlattr *nest, uint32_t *len)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest)
		if (mnl_attr_get_type(a) == NFTA_DATA_VALUE) {
			*len = mnl_attr_get_payload_len(a);
			return mnl_attr_get_payload(a);
		}
	return NULL;
}

static void check_elem(struct walk *w, const struct nlattr *el)
{
	const struct seg_plan_set *ps = w->cur_set;
	const void *key = NULL, *end = NULL;
	uint32_t len = 0, elen = 0, flags = 0;
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, el) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_KEY)
			key = data_value(a, &len);
		else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_KEY_END)
			end = data_value(a, &elen);
		else if (mnl_attr_get_type(a) == NFTA_SET_ELEM_FLAGS)
			flags = ntohl(mnl_attr_get_u32(a));
	}
	ck_assert_ptr_nonnull(key);
	ck_assert_uint_eq(len, seg_set_key_len(ps));
	if (!(ps->interval && ps->n_key == 1)) {       /* 1:1 with the plan, in order */
		size_t i = w->elems[w->cur_set_i];
		ck_assert_uint_lt(i, ps->n_elems);
		ck_assert(memcmp(key, ps->elems[i].lo, len) == 0);
		if (ps->interval)
			ck_assert(end && elen == len && memcmp(end, ps->elems[i].hi, len) == 0);
	}
	if (!(flags & NFT_SET_ELEM_INTERVAL_END))
		w->elems[w->cur_set_i]++;
}

static void check_elems_msg(struct walk *w, const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *el;

	ck_assert_ptr_nonnull(w->cur_set);
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_SET)
			ck_assert_str_eq(mnl_attr_get_str(a), w->cur_set->name);
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			mnl_attr_for_each_nested(el, a)
				check_elem(w, el);
	}
}

static int last_expr(struct nftnl_expr *e, void *data)
{
	*(struct nftnl_expr **)data = e;
	return 0;
}

static void check_rule_msg(struct walk *w, const struct nlmsghdr *nlh)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_expr *last = NULL;
	size_t c = 0, k = w->rules;

	ck_assert_int_eq(nftnl_rule_nlmsg_parse(nlh, r), 0);
	while (c < w->p->n_chains && k >= w->p->chains[c].n_rules)
		k -= w->p->chains[c++].n_rules;
	ck_assert_uint_lt(c, w->p->n_chains);
	ck_assert_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), w->p->chains[c].name);
	nftnl_expr_foreach(r, last_expr, &last);
	ck_assert_ptr_nonnull(last);
	const struct seg_plan_rule *pr = &w->p->chains[c].rules[k];
	const char *want = pr->action == SEG_A_NONE ? "lookup" : "immediate";
	ck_assert_str_eq(nftnl_expr_get_str(last, NFTNL_EXPR_NAME), want);
	if (pr->action != SEG_A_NONE)
		ck_assert_int_eq((int)nftnl_expr_get_u32(last, NFTNL_EXPR_IMM_VERDICT),
				 pr->action == SEG_A_DROP ? NF_DROP : pr->action == SEG_A_GOTO ? NFT_GOTO : NF_ACCEPT);
	if (pr->action == SEG_A_GOTO)
		ck_assert_str_eq(nftnl_expr_get_str(last, NFTNL_EXPR_IMM_CHAIN), w->p->chains[pr->target].name);
	w->rules++;
	nftnl_rule_free(r);
}

static void check_msg(struct walk *w, const struct nlmsghdr *nlh)
{
	uint16_t type = nlh->nlmsg_type & 0xff;

	if (nlh->nlmsg_flags & NLM_F_ACK)
		w->acks++;
	switch (type) {
	case NFT_MSG_NEWTABLE: w->tables++; break;
	case NFT_MSG_DELTABLE: w->deltables++; break;
	case NFT_MSG_NEWCHAIN: {
		struct nftnl_chain *ch = nftnl_chain_alloc();
		ck_assert_int_eq(nftnl_chain_nlmsg_parse(nlh, ch), 0);
		ck_assert_str_eq(nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME), w->p->chains[w->chains++].name);
		nftnl_chain_free(ch);
		break;
	}
	case NFT_MSG_NEWSET: check_set_msg(w, nlh); break;
	case NFT_MSG_NEWSETELEM: check_elems_msg(w, nlh); break;
	case NFT_MSG_NEWRULE: check_rule_msg(w, nlh); break;
	default: ck_abort_msg("unexpected message type %u", type);
	}
}

START_TEST(test_round_trip)
{
	struct fixture f;
	struct walk w = { 0 };
	size_t len, n = 0;

	setup_fixture(&f, configs[_i]);
	ck_assert_uint_lt(f.plan->n_sets, N(w.elems));
	w.p = f.plan;
	const char *buf = seg_nft_batch_data(f.batch, &len);
	int rest = (int)len;
	const struct nlmsghdr *nlh = (const void *)buf, *last = NULL;
	ck_assert_uint_eq(nlh->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	w.expect_seq = nlh->nlmsg_seq;
	for (; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest), n++) {
		ck_assert_uint_eq(nlh->nlmsg_seq, w.expect_seq++);      /* one seq per message */
		last = nlh;
		if (n > 0 && nlh->nlmsg_type != NFNL_MSG_BATCH_END)
			check_msg(&w, nlh);
	}
	ck_assert_int_eq(rest, 0);
	ck_assert_uint_eq(last->nlmsg_type, NFNL_MSG_BATCH_END);
	ck_assert_uint_eq(n, seg_nft_batch_messages(f.batch));
	ck_assert_uint_eq(w.tables, 2);
	ck_assert_uint_eq(w.deltables, 1);
	ck_assert_uint_eq(w.acks, 1);                                  /* only the last object */
	ck_assert_uint_eq(w.chains, f.plan->n_chains);
	ck_assert_uint_eq(w.sets, f.plan->n_sets);
	ck_assert_uint_eq(w.rules, f.plan->counts.rules);
	for (size_t i = 0; i < f.plan->n_sets; i++)
		ck_assert_msg(w.elems[i] == f.plan->sets[i].n_elems, "set %s: %zu of %zu elements",
			      f.plan->sets[i].name, w.elems[i], f.plan->sets[i].n_elems);
	teardown_fixture(&f);
}
END_TEST

/* A kernel error names the sequence number and the offset of the refused
 * attribute: both must lead back to the element and its line. */
START_TEST(test_error_mapping)
{
	struct fixture f;
	struct seg_nft_error err = { 0 };
	size_t len;

	setup_fixture(&f, configs[0]);
	const char *buf = seg_nft_batch_data(f.batch, &len);
	int rest = (int)len, checked = 0;
	for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest)) {
		if ((nlh->nlmsg_type & 0xff) != NFT_MSG_NEWSETELEM || nlh->nlmsg_type >> 8 != NFNL_SUBSYS_NFTABLES)
			continue;
		const struct nlattr *a, *e, *first = NULL;
		mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
			if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
				mnl_attr_for_each_nested(e, a)
					first = first ? first : e;
		ck_assert_ptr_nonnull(first);
		uint32_t off = (uint32_t)((const char *)first - (const char *)nlh) + 4;
		seg_nft_batch_describe(f.batch, f.plan, nlh->nlmsg_seq, off, &err);
		ck_assert_msg(strstr(err.what, "element ") != NULL, "%s", err.what);
		if (strncmp(err.what, "set 'c", 6) == 0)       /* conduit elements carry their line */
			ck_assert_int_gt(err.line, 0);
		checked++;
	}
	ck_assert_int_gt(checked, 0);
	seg_nft_batch_describe(f.batch, f.plan, seg_nft_batch_first_seq(f.batch) + 1, 0, &err);
	ck_assert_str_eq(err.what, "create table inet 'segd'");
	seg_nft_batch_describe(f.batch, f.plan, seg_nft_batch_first_seq(f.batch) + 100000, 0, &err);
	ck_assert(strstr(err.what, "not in the batch") != NULL);
	teardown_fixture(&f);
}
END_TEST

/* ---- verify: the plan against a table described by netlink messages ---- */

static bool has_text(const struct seg_nft_diff *d, const char *needle)
{
	for (size_t i = 0; i < d->n_text; i++)
		if (strstr(d->text[i], needle))
			return true;
	return false;
}

static int set_index(const struct seg_plan *p, const char *prefix)
{
	for (size_t i = 0; i < p->n_sets; i++)
		if (strncmp(p->sets[i].name, prefix, strlen(prefix)) == 0 && p->sets[i].n_elems >= 3)
			return (int)i;
	return -1;
}

/* One tampering: applied to the plan whose batch plays the kernel ('live'),
 * or to the plan being verified ('want'), with what verify must say. */
struct tamper {
	const char *name;
	void (*apply)(struct seg_plan *p);
	bool on_want;
	size_t struct_off;                /* the count that must be 1 (or 3 for elements) */
	size_t expect;
	const char *text;
};

static void t_none(struct seg_plan *p) { (void)p; }
static void t_drop_last_rule(struct seg_plan *p) { p->chains[0].n_rules--; }
static void t_policy(struct seg_plan *p) { p->chains[0].policy_drop = false; }
static void t_three_elems(struct seg_plan *p) { p->sets[set_index(p, "c")].n_elems -= 3; }
static void t_counter_off(struct seg_plan *p) { p->sets[set_index(p, "c")].counter = false; }
static void t_retarget(struct seg_plan *p)
{
	struct seg_plan_set *s = &p->sets[set_index(p, "pairs")];
	s->elems[0].chain = s->elems[0].chain == 2 ? 3 : 2;
}
static void t_rename_table(struct seg_plan *p) { p->table[0] = 'x'; }

#define OFF(f) offsetof(struct seg_nft_diff, f)
static const struct tamper tampers[] = {
	{ "none", t_none, false, 0, 0, NULL },
	{ "rule deleted", t_drop_last_rule, false, OFF(rules_missing), 1, "chain 'forward': rule missing: counter log" },
	{ "rule added", t_drop_last_rule, true, OFF(rules_extra), 1, "chain 'forward': rule 2 not in the plan" },
	{ "policy", t_policy, false, OFF(chains_changed), 1, "chain 'forward': policy accept, the plan says drop" },
	{ "elements deleted", t_three_elems, false, OFF(elems_missing), 3, "3 elements missing (" },
	{ "elements added", t_three_elems, true, OFF(elems_extra), 3, "3 elements extra (" },
	{ "set counters", t_counter_off, false, OFF(sets_changed), 1, "element counters missing" },
	{ "vmap target", t_retarget, false, OFF(elems_changed), 1, "set 'pairs': 1 element changed" },
	{ "table", t_rename_table, false, OFF(table_missing), 1, "table inet 'segd' missing" },
};
#undef OFF

static size_t total_diffs(const struct seg_nft_diff *d)
{
	return d->chains_missing + d->chains_extra + d->chains_changed + d->rules_missing + d->rules_extra +
	       d->rules_changed + d->sets_missing + d->sets_extra + d->sets_changed + d->elems_missing +
	       d->elems_extra + d->elems_changed + d->table_missing + d->table_changed;
}

START_TEST(test_verify_messages)
{
	const struct tamper *t = &tampers[_i];
	struct fixture want, live;
	struct seg_nft_diff d;
	size_t len;

	setup_fixture(&want, configs[1]);     /* its conduit sets have several elements */
	setup_fixture(&live, configs[1]);
	struct fixture *victim = t->on_want ? &want : &live;
	size_t n_rules = victim->plan->chains[0].n_rules;
	int ci = set_index(victim->plan, "c"), pi = set_index(victim->plan, "pairs");
	ck_assert_int_ge(ci, 0);
	ck_assert_int_ge(pi, 0);
	size_t n_elems = victim->plan->sets[ci].n_elems;
	t->apply(victim->plan);
	seg_nft_batch_free(live.batch);
	ck_assert_int_eq(seg_nft_batch_build(live.plan, &live.batch), 0);
	const void *buf = seg_nft_batch_data(live.batch, &len);
	ck_assert_int_eq(seg_nft_verify_messages(want.plan, buf, len, &d), 0);
	ck_assert_int_eq(d.in_sync, t->expect == 0);
	ck_assert_uint_eq(total_diffs(&d), t->expect);          /* that difference and nothing else */
	if (t->expect) {
		size_t got = t->struct_off == offsetof(struct seg_nft_diff, table_missing) ? d.table_missing :
			     *(const size_t *)((const char *)&d + t->struct_off);
		ck_assert_uint_eq(got, t->expect);
		ck_assert_msg(has_text(&d, t->text), "%s: no text with \"%s\"", t->name, t->text);
	}
	victim->plan->chains[0].n_rules = n_rules;               /* what the fixture frees */
	victim->plan->sets[ci].n_elems = n_elems;
	teardown_fixture(&want);
	teardown_fixture(&live);
}
END_TEST

/* Differences past SEG_NFT_DIFF_TEXTS are counted, not described. */
START_TEST(test_verify_many)
{
	struct fixture want, live;
	struct seg_nft_diff d;
	size_t len, n[256], total = 0;

	setup_fixture(&want, configs[0]);
	setup_fixture(&live, configs[0]);
	ck_assert_uint_lt(live.plan->n_chains, N(n));
	for (size_t i = 0; i < live.plan->n_chains; i++) {
		n[i] = live.plan->chains[i].n_rules;
		total += n[i] > 0;
		live.plan->chains[i].n_rules = n[i] ? n[i] - 1 : 0;
	}
	seg_nft_batch_free(live.batch);
	ck_assert_int_eq(seg_nft_batch_build(live.plan, &live.batch), 0);
	const void *buf = seg_nft_batch_data(live.batch, &len);
	ck_assert_int_eq(seg_nft_verify_messages(want.plan, buf, len, &d), 0);
	ck_assert(!d.in_sync);
	ck_assert_uint_gt(total, SEG_NFT_DIFF_TEXTS);
	ck_assert_uint_eq(d.rules_missing, total);
	ck_assert_uint_eq(d.n_text, SEG_NFT_DIFF_TEXTS);
	ck_assert_uint_eq(d.n_text + d.n_more, total);
	for (size_t i = 0; i < live.plan->n_chains; i++)
		live.plan->chains[i].n_rules = n[i];
	teardown_fixture(&want);
	teardown_fixture(&live);
}
END_TEST

/* The difference each tampering needs to be undone (tampers[] order): what
 * the delta adds and deletes, and nothing else; never the table or a base
 * chain deleted. live's batch plays the kernel's table. */
struct want_delta {
	size_t ea, ed, ra, rd, sa, sd;
	bool unchanged, chain_update, whole;
};
static const struct want_delta deltas[] = {
	{ .unchanged = true },                    /* none */
	{ .ra = 1 },                              /* rule deleted from the kernel */
	{ .rd = 1 },                              /* rule added to the kernel */
	{ .chain_update = true },                 /* policy */
	{ .ea = 3 },                              /* elements deleted */
	{ .ed = 3 },                              /* elements added */
	{ .sa = 1, .sd = 1 },                     /* set counters: re-created, rules with it */
	{ .ea = 1, .ed = 1 },                     /* vmap target */
	{ .whole = true },                        /* table missing */
};

static void check_delta_msgs(const struct seg_nft_batch *b)
{
	size_t len;
	const void *buf = seg_nft_batch_data(b, &len);
	int rest = (int)len;

	for (const struct nlmsghdr *nlh = buf; mnl_nlmsg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest)) {
		uint16_t type = nlh->nlmsg_type & 0xff;
		ck_assert_uint_ne(type, NFT_MSG_DELTABLE);
		if (type == NFT_MSG_DELCHAIN) {
			struct nftnl_chain *c = nftnl_chain_alloc();
			ck_assert_int_eq(nftnl_chain_nlmsg_parse(nlh, c), 0);
			ck_assert_str_ne(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "forward");
			ck_assert_str_ne(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "input");
			nftnl_chain_free(c);
		}
	}
}

START_TEST(test_delta)
{
	const struct tamper *t = &tampers[_i];
	const struct want_delta *x = &deltas[_i];
	struct fixture want, live;
	struct vtable w = { 0 }, h = { 0 };
	struct seg_nft_stats st = { 0 };
	struct seg_nft_batch *b = NULL;
	size_t len;

	ck_assert_uint_eq(N(deltas), N(tampers));
	setup_fixture(&want, configs[1]);
	setup_fixture(&live, configs[1]);
	struct fixture *victim = t->on_want ? &want : &live;
	size_t n_rules = victim->plan->chains[0].n_rules;
	int ci = set_index(victim->plan, "c");
	size_t n_elems = victim->plan->sets[ci].n_elems;
	t->apply(victim->plan);
	seg_nft_batch_free(live.batch);
	ck_assert_int_eq(seg_nft_batch_build(live.plan, &live.batch), 0);
	w.name = h.name = want.plan->table;
	ck_assert_int_eq(seg_vt_from_plan(want.plan, &w), 0);
	const void *buf = seg_nft_batch_data(live.batch, &len);
	ck_assert_int_eq(seg_vt_take_msgs(&h, buf, len), 0);
	ck_assert_int_eq(seg_nft_delta_build(want.plan, &w, &h, 0, &st, &b), 0);
	ck_assert_int_eq(st.unchanged, x->unchanged);
	check_delta_msgs(b);
	if (x->whole) {
		ck_assert_uint_eq(st.sets_added, want.plan->n_sets);
		ck_assert_uint_eq(st.chains_added, want.plan->n_chains);
	} else {
		ck_assert_uint_eq(st.elems_added, x->ea + (x->sa ? want.plan->sets[ci].n_elems : 0));
		ck_assert_uint_eq(st.elems_deleted, x->ed);
		ck_assert_uint_eq(st.sets_added, x->sa);
		ck_assert_uint_eq(st.sets_deleted, x->sd);
		ck_assert_uint_eq(st.chains_added + st.chains_deleted, 0);
		if (x->sa) {                       /* the rules that look the set up go and come back */
			ck_assert_uint_gt(st.rules_added, 0);
			ck_assert_uint_eq(st.rules_added, st.rules_deleted);
		} else {
			ck_assert_uint_eq(st.rules_added, x->ra);
			ck_assert_uint_eq(st.rules_deleted, x->rd);
		}
		if (x->chain_update)               /* BEGIN, NEWCHAIN (policy), END */
			ck_assert_uint_eq(seg_nft_batch_messages(b), 3);
	}
	seg_nft_batch_free(b);
	seg_vt_free(&w);
	seg_vt_free(&h);
	victim->plan->chains[0].n_rules = n_rules;
	victim->plan->sets[ci].n_elems = n_elems;
	teardown_fixture(&want);
	teardown_fixture(&live);
}
END_TEST

Suite *nftnl_suite(void)
{
	Suite *s = suite_create("nftnl");
	TCase *tc = tcase_create("batch");

	tcase_add_loop_test(tc, test_round_trip, 0, N(configs));
	tcase_add_test(tc, test_error_mapping);
	tcase_add_loop_test(tc, test_verify_messages, 0, N(tampers));
	tcase_add_test(tc, test_verify_many);
	tcase_add_loop_test(tc, test_delta, 0, N(tampers));
	suite_add_tcase(s, tc);
	return s;
}
