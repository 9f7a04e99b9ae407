/*
 * nft_read.c - a table as data (struct vtable), read from a plan's batch or
 * from the kernel's dumps, and the comparison of the two: verify, counters.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include "nft_int.h"

/* ==== reading the table back: verify and counters ====
 *
 * Both sides of a comparison are built by the same parser from netlink
 * messages: the plan's side from its own batch (exactly what apply sends),
 * the kernel's side from NFT_MSG_GET* dumps of the table. Rules are compared
 * as libnftnl's text of their expressions with counter values zeroed (set
 * ids, handles and positions do not appear in it); set elements as sorted
 * (key, key end, flags, verdict) records, so a large set costs one sort. */

#define DUMP_RETRIES 3
#define DUMP_BUF     32768        /* the kernel fills dump messages up to this */

void seg_vt_free(struct vtable *t)
{
	for (size_t i = 0; i < t->n_ch; i++) {
		for (size_t j = 0; j < t->ch[i].n; j++) {
			free(t->ch[i].r[j].text);
			free(t->ch[i].r[j].prefix);
		}
		free(t->ch[i].r);
		free(t->ch[i].name);
		nftnl_chain_free(t->ch[i].c);
	}
	for (size_t i = 0; i < t->n_set; i++) {
		for (size_t j = 0; !t->set[i].borrowed && j < t->set[i].n; j++)
			free(t->set[i].el[j].chain);
		if (!t->set[i].borrowed)
			free(t->set[i].el);
		free(t->set[i].name);
		nftnl_set_free(t->set[i].s);
	}
	free(t->ch);
	free(t->set);
}

struct vchain *seg_vt_chain(const struct vtable *t, const char *name)
{
	for (size_t i = 0; i < t->n_ch; i++)
		if (strcmp(t->ch[i].name, name) == 0)
			return &t->ch[i];
	return NULL;
}

struct vset *seg_vt_set(const struct vtable *t, const char *name)
{
	for (size_t i = 0; i < t->n_set; i++)
		if (strcmp(t->set[i].name, name) == 0)
			return &t->set[i];
	return NULL;
}

/* ---- messages -> vtable ---- */

static char *dup_name(const char *s)
{
	return strdup(s ? s : "");
}

static bool same_table(const struct vtable *t, const char *table)
{
	return table && strcmp(table, t->name) == 0;
}

static int take_table(struct vtable *t, const struct nlmsghdr *nlh)
{
	struct nftnl_table *nt = nftnl_table_alloc();

	if (!nt || nftnl_table_nlmsg_parse(nlh, nt) < 0) {
		nftnl_table_free(nt);
		return nt ? -EBADMSG : -ENOMEM;
	}
	if (same_table(t, nftnl_table_get_str(nt, NFTNL_TABLE_NAME))) {
		t->present = true;
		t->flags = nftnl_table_get_u32(nt, NFTNL_TABLE_FLAGS);
	}
	nftnl_table_free(nt);
	return 0;
}

static int take_chain(struct vtable *t, const struct nlmsghdr *nlh)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		nftnl_chain_free(c);
		return c ? -EBADMSG : -ENOMEM;
	}
	if (!same_table(t, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE)) ||
	    seg_nft_grow((void **)&t->ch, &t->cap_ch, t->n_ch + 1, sizeof(*t->ch)) < 0) {
		bool mine = same_table(t, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
		nftnl_chain_free(c);
		return mine ? -ENOMEM : 0;
	}
	struct vchain *v = &t->ch[t->n_ch];
	*v = (struct vchain){ .name = dup_name(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME)), .c = c };
	t->n_ch++;
	return v->name ? 0 : -ENOMEM;
}

static int take_set(struct vtable *t, const struct nlmsghdr *nlh)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (!s || nftnl_set_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return s ? -EBADMSG : -ENOMEM;
	}
	if (!same_table(t, nftnl_set_get_str(s, NFTNL_SET_TABLE)) ||
	    seg_nft_grow((void **)&t->set, &t->cap_set, t->n_set + 1, sizeof(*t->set)) < 0) {
		bool mine = same_table(t, nftnl_set_get_str(s, NFTNL_SET_TABLE));
		nftnl_set_free(s);
		return mine ? -ENOMEM : 0;
	}
	struct vset *v = &t->set[t->n_set];
	*v = (struct vset){ .name = dup_name(nftnl_set_get_str(s, NFTNL_SET_NAME)), .s = s };
	t->n_set++;
	return v->name ? 0 : -ENOMEM;
}

/* ---- set elements, straight from the attributes (a set may hold millions) ---- */

/* tb[type] = the attribute, for the direct children of nest up to max. */
static void index_nest(const struct nlattr *nest, const struct nlattr **tb, uint16_t max)
{
	const struct nlattr *a;

	memset(tb, 0, (max + 1u) * sizeof(*tb));
	mnl_attr_for_each_nested(a, nest)
		if (mnl_attr_get_type(a) <= max)
			tb[mnl_attr_get_type(a)] = a;
}

static uint8_t copy_value(const struct nlattr *nest, uint8_t *out)
{
	const struct nlattr *tb[NFTA_DATA_MAX + 1];

	index_nest(nest, tb, NFTA_DATA_MAX);
	if (!tb[NFTA_DATA_VALUE])
		return 0;
	size_t len = mnl_attr_get_payload_len(tb[NFTA_DATA_VALUE]);
	len = len > SEG_PLAN_KEY_MAX ? SEG_PLAN_KEY_MAX : len;   /* a foreign key type: the set differs anyway */
	memcpy(out, mnl_attr_get_payload(tb[NFTA_DATA_VALUE]), len);
	return (uint8_t)len;
}

static int copy_verdict(const struct nlattr *nest, struct vel *e)
{
	const struct nlattr *tb[NFTA_DATA_MAX + 1], *vb[NFTA_VERDICT_MAX + 1];

	index_nest(nest, tb, NFTA_DATA_MAX);
	if (!tb[NFTA_DATA_VERDICT])
		return 0;
	index_nest(tb[NFTA_DATA_VERDICT], vb, NFTA_VERDICT_MAX);
	e->has_verdict = true;
	if (vb[NFTA_VERDICT_CODE] && mnl_attr_get_payload_len(vb[NFTA_VERDICT_CODE]) == 4)
		e->verdict = (int32_t)ntohl(mnl_attr_get_u32(vb[NFTA_VERDICT_CODE]));
	if (vb[NFTA_VERDICT_CHAIN]) {
		e->chain = strndup(mnl_attr_get_payload(vb[NFTA_VERDICT_CHAIN]),
				   mnl_attr_get_payload_len(vb[NFTA_VERDICT_CHAIN]));
		if (!e->chain)
			return -ENOMEM;
	}
	return 0;
}

static uint64_t be64_of(const struct nlattr *a)
{
	uint64_t v = 0;

	if (a && mnl_attr_get_payload_len(a) == 8) {
		const uint8_t *p = mnl_attr_get_payload(a);
		for (int i = 0; i < 8; i++)
			v = v << 8 | p[i];
	}
	return v;
}

/* One expression (NFTA_EXPR_NAME, NFTA_EXPR_DATA): adds a counter's values. */
static void copy_counter(const struct nlattr *expr, struct vel *e)
{
	const struct nlattr *tb[NFTA_EXPR_MAX + 1], *cb[NFTA_COUNTER_MAX + 1];

	index_nest(expr, tb, NFTA_EXPR_MAX);
	if (!tb[NFTA_EXPR_NAME] || !tb[NFTA_EXPR_DATA] ||
	    strncmp(mnl_attr_get_payload(tb[NFTA_EXPR_NAME]), "counter", mnl_attr_get_payload_len(tb[NFTA_EXPR_NAME])) != 0)
		return;
	index_nest(tb[NFTA_EXPR_DATA], cb, NFTA_COUNTER_MAX);
	e->packets += be64_of(cb[NFTA_COUNTER_PACKETS]);
	e->bytes += be64_of(cb[NFTA_COUNTER_BYTES]);
}

static int parse_elem(const struct nlattr *el, struct vel *e)
{
	const struct nlattr *tb[NFTA_SET_ELEM_MAX + 1], *x;

	index_nest(el, tb, NFTA_SET_ELEM_MAX);
	memset(e, 0, sizeof(*e));
	e->pe = UINT32_MAX;
	if (tb[NFTA_SET_ELEM_KEY])
		e->klen = copy_value(tb[NFTA_SET_ELEM_KEY], e->key);
	if (tb[NFTA_SET_ELEM_KEY_END])
		e->elen = copy_value(tb[NFTA_SET_ELEM_KEY_END], e->end);
	if (tb[NFTA_SET_ELEM_FLAGS] && mnl_attr_get_payload_len(tb[NFTA_SET_ELEM_FLAGS]) == 4)
		e->flags = ntohl(mnl_attr_get_u32(tb[NFTA_SET_ELEM_FLAGS]));
	if (tb[NFTA_SET_ELEM_EXPR])
		copy_counter(tb[NFTA_SET_ELEM_EXPR], e);
	if (tb[NFTA_SET_ELEM_EXPRESSIONS])
		mnl_attr_for_each_nested(x, tb[NFTA_SET_ELEM_EXPRESSIONS])
			copy_counter(x, e);
	return tb[NFTA_SET_ELEM_DATA] ? copy_verdict(tb[NFTA_SET_ELEM_DATA], e) : 0;
}

static int take_elems(struct vtable *t, const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *el, *list = NULL;
	struct vset *s = NULL;
	int r = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		uint16_t type = mnl_attr_get_type(a);
		if (type == NFTA_SET_ELEM_LIST_TABLE && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0 &&
		    !same_table(t, mnl_attr_get_str(a)))
			return 0;
		if (type == NFTA_SET_ELEM_LIST_SET && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			s = seg_vt_set(t, mnl_attr_get_str(a));
		if (type == NFTA_SET_ELEM_LIST_ELEMENTS)
			list = a;
	}
	if (!s || !list)
		return 0;
	mnl_attr_for_each_nested(el, list) {
		if (r < 0 || (r = seg_nft_grow((void **)&s->el, &s->cap, s->n + 1, sizeof(*s->el))) < 0)
			break;
		struct vel *e = &s->el[s->n++];
		r = parse_elem(el, e);
		if (t->kmap && t->kpos < t->n_kmap)
			e->pe = t->kmap[t->kpos++];
	}
	return r;
}

/* ---- rules ---- */

struct canon {
	FILE *f;
	struct vrule *vr;
};

static int canon_expr(struct nftnl_expr *e, void *data)
{
	struct canon *c = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
	char text[1024];

	if (strcmp(name, "counter") == 0) {     /* its values are state, not policy */
		c->vr->counted = true;
		c->vr->packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		c->vr->bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
		nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, 0);
		nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, 0);
	}
	/* nft puts a byteorder of len 1, size 2 (zero units: a no-op) after meta
	 * l4proto in some concatenations where segd does not: not policy */
	if (strcmp(name, "byteorder") == 0 &&
	    nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_LEN) < nftnl_expr_get_u32(e, NFTNL_EXPR_BYTEORDER_SIZE))
		return 0;
	if (strcmp(name, "lookup") == 0 && !nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS))
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);   /* the kernel always reports them */
	if (strcmp(name, "log") == 0 && nftnl_expr_is_set(e, NFTNL_EXPR_LOG_PREFIX) && !c->vr->prefix)
		c->vr->prefix = strdup(nftnl_expr_get_str(e, NFTNL_EXPR_LOG_PREFIX));
	nftnl_expr_snprintf(text, sizeof(text), e, NFTNL_OUTPUT_DEFAULT, 0);
	fprintf(c->f, "[ %s %s]", name, text);
	return 0;
}

static int canon_rule(struct nftnl_rule *nr, struct vrule *vr)
{
	size_t len;
	struct canon c = { .f = open_memstream(&vr->text, &len), .vr = vr };

	if (!c.f)
		return -ENOMEM;
	nftnl_expr_foreach(nr, canon_expr, &c);
	return fclose(c.f) == 0 && vr->text ? 0 : -ENOMEM;
}

/* libnftnl 1.2.4's nftnl_expr_parse() reads NFTA_EXPR_NAME without checking
 * that it is there: a NULL dereference on a malformed message (found by
 * fuzz_netlink). Every expression must carry a name before libnftnl parses. */
static bool exprs_named(const struct nlmsghdr *nlh)
{
	const struct nlattr *a, *e, *x;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_RULE_EXPRESSIONS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			bool named = false;
			mnl_attr_for_each_nested(x, e)
				named = named || (mnl_attr_get_type(x) == NFTA_EXPR_NAME &&
						  mnl_attr_validate(x, MNL_TYPE_NUL_STRING) == 0);
			if (!named)
				return false;
		}
	}
	return true;
}

static int take_rule(struct vtable *t, const struct nlmsghdr *nlh)
{
	struct nftnl_rule *nr;
	struct vchain *c;
	int r = 0;

	if (!exprs_named(nlh))
		return -EBADMSG;
	nr = nftnl_rule_alloc();
	if (!nr || nftnl_rule_nlmsg_parse(nlh, nr) < 0) {
		nftnl_rule_free(nr);
		return nr ? -EBADMSG : -ENOMEM;
	}
	/* a rule of a chain not seen (created during the dump): the generation check catches it */
	if (same_table(t, nftnl_rule_get_str(nr, NFTNL_RULE_TABLE)) &&
	    (c = seg_vt_chain(t, nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN))) != NULL) {
		r = seg_nft_grow((void **)&c->r, &c->cap, c->n + 1, sizeof(*c->r));
		if (r == 0) {
			c->r[c->n] = (struct vrule){ 0 };
			if (nftnl_rule_is_set(nr, NFTNL_RULE_HANDLE))
				c->r[c->n].handle = nftnl_rule_get_u64(nr, NFTNL_RULE_HANDLE);
			r = canon_rule(nr, &c->r[c->n++]);
		}
	}
	nftnl_rule_free(nr);
	return r;
}

/* One message of a batch or of a dump. */
static int take_msg(struct vtable *t, const struct nlmsghdr *nlh)
{
	if (nlh->nlmsg_type >> 8 != NFNL_SUBSYS_NFTABLES)
		return 0;                      /* batch markers, errors, DONE */
	switch (nlh->nlmsg_type & 0xff) {
	case NFT_MSG_NEWTABLE: return take_table(t, nlh);
	case NFT_MSG_NEWCHAIN: return take_chain(t, nlh);
	case NFT_MSG_NEWSET: return take_set(t, nlh);
	case NFT_MSG_NEWSETELEM: return take_elems(t, nlh);
	case NFT_MSG_NEWRULE: return take_rule(t, nlh);
	default: return 0;              /* DELTABLE of the batch: the last word is the NEWTABLE */
	}
}

int seg_vt_take_msgs(struct vtable *t, const void *buf, size_t len)
{
	int rest = len > INT32_MAX ? INT32_MAX : (int)len, r = 0;

	for (const struct nlmsghdr *nlh = buf; r == 0 && seg_nft_msg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest))
		r = take_msg(t, nlh);
	return r;
}

/* The plan's side: its batch, read like a dump. */
int seg_vt_from_plan(const struct seg_plan *plan, struct vtable *want)
{
	return seg_vt_from_plan_some(plan, NULL, want);
}

int seg_vt_from_plan_some(const struct seg_plan *plan, const bool *no_elems, struct vtable *want)
{
	struct seg_nft_batch *b = NULL;
	int r = seg_nftb_plan_side(plan, no_elems, &b);

	if (r < 0)
		return r;
	want->kmap = b->kmap;
	want->n_kmap = b->n_kmap;
	r = seg_vt_take_msgs(want, b->buf, b->len);
	want->kmap = NULL;
	seg_nft_batch_free(b);
	return r;
}

/* ---- the kernel's side: dumps ---- */

struct dumper {
	struct mnl_socket *nl;
	char *buf;
	size_t size;
	uint32_t seq;
	struct vtable *t;
	int err;                   /* a parse error inside the callback */
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dumper *d = data;

	d->err = take_msg(d->t, nlh);
	return d->err < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* Sends one GET request (a dump unless it is GETTABLE) and feeds every reply
 * to the vtable. -errno: the kernel's refusal (ENOENT: no such table or set),
 * EINTR when the ruleset changed during the dump. */
static int dump_one(struct dumper *d, uint16_t type, const char *set)
{
	uint16_t flags = type == NFT_MSG_GETTABLE ? NLM_F_ACK : NLM_F_DUMP;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(d->buf, type, NFPROTO_INET, flags, ++d->seq);
	uint32_t portid = mnl_socket_get_portid(d->nl);
	int r;

	mnl_attr_put_strz(nlh, 1, d->t->name);   /* NFTA_{TABLE_NAME,CHAIN,SET,RULE,SET_ELEM_LIST}_TABLE */
	if (set)
		mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		ssize_t n = mnl_socket_recvfrom(d->nl, d->buf, d->size);
		if (n < 0)
			return -errno;
		d->err = 0;
		r = mnl_cb_run(d->buf, (size_t)n, d->seq, portid, dump_cb, d);
		if (r < 0)
			return d->err < 0 ? d->err : -errno;
	} while (r > MNL_CB_STOP);
	return 0;
}

/* The whole table as it is in the kernel, table missing included; with
 * 'counted', only the elements of that plan's counting sets. */
static int counting_set(const struct seg_plan *p, const char *name);

/* Which sets' elements a dump reads: all, a plan's counting sets, or those
 * the skip function does not remember. */
struct which {
	const struct seg_plan *counted;
	seg_vt_skip_fn skip;
	void *ctx;
	uint32_t gen;
};

static bool wanted(const struct which *w, struct vset *s)
{
	if (w->counted)
		return counting_set(w->counted, s->name) >= 0;
	s->elems_skipped = w->skip && w->skip(s->name, w->gen, w->ctx);
	return !s->elems_skipped;
}

static int dump_table(struct dumper *d, const struct which *w)
{
	static const uint16_t types[] = { NFT_MSG_GETCHAIN, NFT_MSG_GETSET, NFT_MSG_GETRULE };
	int r = dump_one(d, NFT_MSG_GETTABLE, NULL);

	if (r == -ENOENT)
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && r == 0; i++)
		r = dump_one(d, types[i], NULL);
	for (size_t i = 0; i < d->t->n_set && r == 0; i++)
		if (wanted(w, &d->t->set[i]))
			r = dump_one(d, NFT_MSG_GETSETELEM, d->t->set[i].name);
	return r;
}

/* A consistent picture: the dumps are repeated when the ruleset generation
 * moved under them (another process committed meanwhile). */
static int from_kernel(const char *table, struct which *w, struct vtable *have)
{
	struct dumper d = { .size = DUMP_BUF, .seq = (uint32_t)time(NULL) };
	int r = -EAGAIN;

	d.buf = malloc(d.size);
	d.nl = d.buf ? seg_nft_sock_open(0) : NULL;
	if (!d.nl) {
		r = d.buf ? -errno : -ENOMEM;
		free(d.buf);
		return r;
	}
	for (int attempt = 0; attempt < DUMP_RETRIES && r == -EAGAIN; attempt++) {
		uint32_t g0 = 0, g1 = 1;
		seg_vt_free(have);
		*have = (struct vtable){ .name = table };
		d.t = have;
		r = seg_nft_generation(&g0);
		w->gen = g0;
		if (r == 0)
			r = dump_table(&d, w);
		if (r == 0 || r == -EINTR)
			r = seg_nft_generation(&g1) < 0 || g0 != g1 || r == -EINTR ? -EAGAIN : 0;
		have->gen = g0;
	}
	mnl_socket_close(d.nl);
	free(d.buf);
	return r;
}

int seg_vt_from_kernel(const char *table, const struct seg_plan *counted, struct vtable *have)
{
	struct which w = { .counted = counted };

	return from_kernel(table, &w, have);
}

int seg_vt_from_kernel_skip(const char *table, seg_vt_skip_fn skip, void *ctx, struct vtable *have)
{
	struct which w = { .skip = skip, .ctx = ctx };

	return from_kernel(table, &w, have);
}

int seg_nft_table_exists(const char *name)
{
	struct vtable t = { .name = name };
	struct dumper d = { .size = DUMP_BUF, .seq = (uint32_t)time(NULL), .t = &t };
	int r;

	d.buf = malloc(d.size);
	d.nl = d.buf ? seg_nft_sock_open(0) : NULL;
	if (!d.nl) {
		r = d.buf ? -errno : -ENOMEM;
		free(d.buf);
		return r;
	}
	r = dump_one(&d, NFT_MSG_GETTABLE, NULL);
	mnl_socket_close(d.nl);
	free(d.buf);
	seg_vt_free(&t);
	return r == -ENOENT ? 0 : r < 0 ? r : t.present;
}

/* ---- comparing ---- */

__attribute__((format(printf, 2, 3)))
static void say(struct seg_nft_diff *d, const char *fmt, ...)
{
	va_list ap;

	d->in_sync = false;
	if (d->n_text >= SEG_NFT_DIFF_TEXTS) {
		d->n_more++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(d->text[d->n_text++], SEG_NFT_DIFF_TEXT, fmt, ap);
	va_end(ap);
}

static const char *policy_name(uint32_t p)
{
	return p == NF_DROP ? "drop" : p == NF_ACCEPT ? "accept" : "?";
}

bool seg_vt_chain_attr_differs(const struct nftnl_chain *a, const struct nftnl_chain *b, uint16_t attr)
{
	if (nftnl_chain_is_set(a, attr) != nftnl_chain_is_set(b, attr))
		return true;
	if (!nftnl_chain_is_set(a, attr))
		return false;
	if (attr == NFTNL_CHAIN_TYPE)
		return strcmp(nftnl_chain_get_str(a, attr), nftnl_chain_get_str(b, attr)) != 0;
	return nftnl_chain_get_u32(a, attr) != nftnl_chain_get_u32(b, attr);
}

static void diff_chain_attrs(struct seg_nft_diff *d, const struct vchain *w, const struct vchain *h)
{
	static const struct { uint16_t attr; const char *what; } attrs[] = {
		{ NFTNL_CHAIN_HOOKNUM, "hook" }, { NFTNL_CHAIN_PRIO, "priority" }, { NFTNL_CHAIN_TYPE, "type" },
	};
	bool changed = false;

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (seg_vt_chain_attr_differs(w->c, h->c, attrs[i].attr)) {
			say(d, "chain '%s': its %s differs from the plan's", w->name, attrs[i].what);
			changed = true;
		}
	if (seg_vt_chain_attr_differs(w->c, h->c, NFTNL_CHAIN_POLICY)) {
		say(d, "chain '%s': policy %s, the plan says %s", w->name,
		    policy_name(nftnl_chain_get_u32(h->c, NFTNL_CHAIN_POLICY)),
		    policy_name(nftnl_chain_get_u32(w->c, NFTNL_CHAIN_POLICY)));
		changed = true;
	}
	d->chains_changed += changed;
}

/* Longest common subsequence of the two rule lists, as suffix lengths:
 * L[i][j] for want[i..] and have[j..]. NULL when too large to align. */
uint32_t *seg_vt_align_rules(const struct vchain *w, const struct vchain *h)
{
	size_t n = w->n, m = h->n, cols = m + 1;
	uint32_t *L;

	if ((n + 1) > (16u << 20) / cols || !(L = calloc((n + 1) * cols, sizeof(*L))))
		return NULL;
	for (size_t i = n; i-- > 0;)
		for (size_t j = m; j-- > 0;)
			L[i * cols + j] = strcmp(w->r[i].text, h->r[j].text) == 0 ? L[(i + 1) * cols + j + 1] + 1 :
					  L[(i + 1) * cols + j] > L[i * cols + j + 1] ? L[(i + 1) * cols + j] :
					  L[i * cols + j + 1];
	return L;
}

static void rule_text(const struct seg_plan *p, int ci, size_t ri, char *buf, size_t len)
{
	if (ci >= 0 && ri < p->chains[ci].n_rules)
		seg_plan_format_rule(p, &p->chains[ci].rules[ri], buf, len);
	else
		snprintf(buf, len, "#%zu", ri + 1);
}

/* Walks the alignment: a rule of both is kept, one where both lists skip
 * one at once is changed, otherwise missing (plan only) or extra (kernel only). */
static void diff_rules(struct seg_nft_diff *d, const struct seg_plan *p, int ci, const struct vchain *w,
		       const struct vchain *h)
{
	uint32_t *L = seg_vt_align_rules(w, h);
	size_t i = 0, j = 0, cols = h->n + 1;
	char text[256];

	if (!L) {
		say(d, "chain '%s': %zu rules, the plan has %zu (too many to align)", w->name, h->n, w->n);
		d->rules_changed++;
		return;
	}
	while (i < w->n || j < h->n) {
		if (i < w->n && j < h->n && strcmp(w->r[i].text, h->r[j].text) == 0) {
			i++, j++;
		} else if (i < w->n && j < h->n && L[i * cols + j] == L[(i + 1) * cols + j + 1]) {
			rule_text(p, ci, i, text, sizeof(text));
			say(d, "chain '%s': rule %zu differs from the plan's: %s", w->name, j + 1, text);
			d->rules_changed++, i++, j++;
		} else if (i < w->n && (j == h->n || L[(i + 1) * cols + j] >= L[i * cols + j + 1])) {
			rule_text(p, ci, i, text, sizeof(text));
			say(d, "chain '%s': rule missing: %s", w->name, text);
			d->rules_missing++, i++;
		} else {
			say(d, "chain '%s': rule %zu not in the plan: %.200s", w->name, j + 1, h->r[j].text);
			d->rules_extra++, j++;
		}
	}
	free(L);
}

static int plan_chain(const struct seg_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_chains; i++)
		if (strcmp(p->chains[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void diff_chains(struct seg_nft_diff *d, const struct seg_plan *p, const struct vtable *want,
			const struct vtable *have)
{
	for (size_t i = 0; i < want->n_ch; i++) {
		const struct vchain *w = &want->ch[i], *h = seg_vt_chain(have, w->name);
		if (!h) {
			say(d, "chain '%s' missing (%zu rules)", w->name, w->n);
			d->chains_missing++;
			continue;
		}
		diff_chain_attrs(d, w, h);
		diff_rules(d, p, plan_chain(p, w->name), w, h);
	}
	for (size_t i = 0; i < have->n_ch; i++) {
		const struct vchain *h = &have->ch[i];
		if (seg_vt_chain(want, h->name))
			continue;
		say(d, "chain '%s' not in the plan (%zu rules%s)", h->name, h->n,
		    nftnl_chain_is_set(h->c, NFTNL_CHAIN_HOOKNUM) ? ", a base chain: it sees packets" : "");
		d->chains_extra++;
	}
}

static int count_counter(struct nftnl_expr *e, void *data)
{
	*(size_t *)data += strcmp(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), "counter") == 0;
	return 0;
}

static size_t set_counters(const struct nftnl_set *s)
{
	size_t n = 0;

	nftnl_set_expr_foreach(s, count_counter, &n);
	return n;
}

static const struct { uint16_t attr; const char *what; } set_attrs[] = {
	{ NFTNL_SET_KEY_TYPE, "key type" }, { NFTNL_SET_KEY_LEN, "key length" },
	{ NFTNL_SET_FLAGS, "flags" }, { NFTNL_SET_DATA_TYPE, "data type" },
};

static uint32_t set_attr(const struct nftnl_set *s, uint16_t attr)
{
	return nftnl_set_is_set(s, attr) ? nftnl_set_get_u32(s, attr) : 0;
}

bool seg_vt_set_attrs_differ(const struct vset *w, const struct vset *h)
{
	for (size_t i = 0; i < sizeof(set_attrs) / sizeof(set_attrs[0]); i++)
		if (set_attr(w->s, set_attrs[i].attr) != set_attr(h->s, set_attrs[i].attr))
			return true;
	return set_counters(w->s) != set_counters(h->s);
}

static void diff_set_attrs(struct seg_nft_diff *d, const struct vset *w, const struct vset *h)
{
	if (!seg_vt_set_attrs_differ(w, h))
		return;
	for (size_t i = 0; i < sizeof(set_attrs) / sizeof(set_attrs[0]); i++) {
		uint32_t a = set_attr(w->s, set_attrs[i].attr), b = set_attr(h->s, set_attrs[i].attr);
		if (a != b)
			say(d, "set '%s': %s 0x%x, the plan says 0x%x", w->name, set_attrs[i].what, b, a);
	}
	if (set_counters(w->s) != set_counters(h->s))
		say(d, "set '%s': element counters %s", w->name, set_counters(h->s) ? "added" : "missing");
	d->sets_changed++;
}

int seg_vt_cmp_elem(const void *pa, const void *pb)
{
	const struct vel *a = pa, *b = pb;
	int r = memcmp(a->key, b->key, sizeof(a->key));

	if (r == 0)
		r = memcmp(a->end, b->end, sizeof(a->end));
	if (r == 0)
		r = (a->klen > b->klen) - (a->klen < b->klen);
	if (r == 0)
		r = (a->elen > b->elen) - (a->elen < b->elen);
	if (r == 0)
		r = (a->flags > b->flags) - (a->flags < b->flags);
	return r;
}

void seg_vt_sort(struct vset *s)
{
	if (s->n > 1 && !s->sorted)     /* qsort(NULL, 0) is undefined (UBSan, fuzz_netlink) */
		qsort(s->el, s->n, sizeof(*s->el), seg_vt_cmp_elem);
	s->sorted = true;
}

bool seg_vt_same_verdict(const struct vel *a, const struct vel *b)
{
	if (a->has_verdict != b->has_verdict || a->verdict != b->verdict)
		return false;
	return (!a->chain && !b->chain) || (a->chain && b->chain && strcmp(a->chain, b->chain) == 0);
}

/* Counts of one set's element differences; ends of one-dimensional
 * intervals are counted apart, and only when nothing else differs. */
struct ediff {
	size_t n[3], n_end[3];         /* missing, extra, changed */
	const struct vel *first[3];
};

static void ediff_note(struct ediff *x, int kind, const struct vel *e)
{
	if (e->flags & NFT_SET_ELEM_INTERVAL_END) {
		x->n_end[kind]++;
		return;
	}
	if (x->n[kind]++ == 0)
		x->first[kind] = e;
}

static void merge_elems(const struct vset *w, const struct vset *h, struct ediff *x)
{
	size_t i = 0, j = 0;

	while (i < w->n || j < h->n) {
		int c = i == w->n ? 1 : j == h->n ? -1 : seg_vt_cmp_elem(&w->el[i], &h->el[j]);
		if (c < 0) {
			ediff_note(x, 0, &w->el[i++]);
		} else if (c > 0) {
			ediff_note(x, 1, &h->el[j++]);
		} else {
			if (!seg_vt_same_verdict(&w->el[i], &h->el[j]))
				ediff_note(x, 2, &h->el[j]);
			i++, j++;
		}
	}
	for (int k = 0; k < 3; k++)
		if (x->n[0] + x->n[1] + x->n[2] == 0)
			x->n[k] = x->n_end[k];
}

/* "10.0.0.5 . 10.20.0.50 . tcp . 443" for an element of plan set ps. */
static void elem_example(const struct seg_plan_set *ps, const struct vel *e, char *buf, size_t len)
{
	struct seg_plan_elem pe = { 0 };

	buf[0] = '\0';
	if (!ps || !e)
		return;
	if (e->pe < ps->n_elems) {
		seg_plan_format_elem(ps, &ps->elems[e->pe], buf, len);
		return;
	}
	if (e->klen != seg_set_key_len(ps) || (e->elen && e->elen != e->klen))
		return;
	memcpy(pe.lo, e->key, e->klen);
	memcpy(pe.hi, e->elen ? e->end : e->key, e->klen);
	seg_plan_format_elem(ps, &pe, buf, len);
}

static void diff_elems(struct seg_nft_diff *d, const struct seg_plan_set *ps, struct vset *w, struct vset *h)
{
	static const char *const kind[3] = { "missing", "extra", "changed" };
	struct ediff x = { 0 };
	char ex[3][160], msg[SEG_NFT_DIFF_TEXT];
	size_t used = 0;

	seg_vt_sort(w);
	seg_vt_sort(h);
	merge_elems(w, h, &x);
	if (x.n[0] + x.n[1] + x.n[2] == 0)
		return;
	d->elems_missing += x.n[0];
	d->elems_extra += x.n[1];
	d->elems_changed += x.n[2];
	used += (size_t)snprintf(msg, sizeof(msg), "set '%s':", w->name);
	for (int k = 0; k < 3 && used < sizeof(msg); k++) {
		if (!x.n[k])
			continue;
		elem_example(ps, x.first[k], ex[k], sizeof(ex[k]));
		used += (size_t)snprintf(msg + used, sizeof(msg) - used, "%s %zu element%s %s%s%s%s",
					 used > strlen(w->name) + 8 ? "," : "", x.n[k], x.n[k] == 1 ? "" : "s",
					 kind[k], ex[k][0] ? " (" : "", ex[k], ex[k][0] ? ")" : "");
	}
	say(d, "%s", msg);
}

static void diff_sets(struct seg_nft_diff *d, const struct seg_plan *p, const struct vtable *want,
		      const struct vtable *have)
{
	for (size_t i = 0; i < want->n_set; i++) {
		struct vset *w = &want->set[i], *h = seg_vt_set(have, w->name);
		if (!h) {
			say(d, "set '%s' missing (%zu elements)", w->name, w->n);
			d->sets_missing++;
			continue;
		}
		diff_set_attrs(d, w, h);
		diff_elems(d, i < p->n_sets && strcmp(p->sets[i].name, w->name) == 0 ? &p->sets[i] : NULL, w, h);
	}
	for (size_t i = 0; i < have->n_set; i++)
		if (!seg_vt_set(want, have->set[i].name)) {
			say(d, "set '%s' not in the plan (%zu elements)", have->set[i].name, have->set[i].n);
			d->sets_extra++;
		}
}

static void diff_vtables(const struct seg_plan *p, const struct vtable *want, const struct vtable *have,
			 struct seg_nft_diff *d)
{
	memset(d, 0, sizeof(*d));
	d->in_sync = true;
	if (!have->present) {
		d->table_missing = true;
		say(d, "table inet '%s' missing", p->table);
		return;
	}
	/* owner and persist say who may change the table (segd, where the kernel
	 * has them), not what it does to packets */
	if ((have->flags & ~(uint32_t)(NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)) != want->flags) {
		d->table_changed = true;
		say(d, "table inet '%s': flags 0x%x, the plan says 0x%x%s", p->table, have->flags, want->flags,
		    have->flags & NFT_TABLE_F_DORMANT ? " (dormant: its chains see no packets)" : "");
	}
	diff_chains(d, p, want, have);
	diff_sets(d, p, want, have);
}

int seg_nft_verify_messages(const struct seg_plan *plan, const void *buf, size_t len, struct seg_nft_diff *ret)
{
	struct vtable want = { .name = plan->table }, have = { .name = plan->table };
	int r = seg_vt_from_plan(plan, &want);

	if (r == 0)
		r = seg_vt_take_msgs(&have, buf, len);
	if (r == 0)
		diff_vtables(plan, &want, &have, ret);
	seg_vt_free(&want);
	seg_vt_free(&have);
	return r;
}

int seg_nft_verify(const struct seg_plan *plan, struct seg_nft_diff *ret)
{
	struct vtable want = { .name = plan->table }, have = { .name = plan->table };
	int r = seg_vt_from_plan(plan, &want);

	if (r == 0)
		r = seg_vt_from_kernel(plan->table, NULL, &have);
	if (r == 0)
		diff_vtables(plan, &want, &have, ret);
	seg_vt_free(&want);
	seg_vt_free(&have);
	return r;
}

/* ---- counters ---- */

static int counting_set(const struct seg_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_sets; i++)
		if (p->sets[i].counter && strcmp(p->sets[i].name, name) == 0)
			return (int)i;
	return -1;
}

int seg_nft_read_counters(const struct seg_plan *plan, const struct seg_nft_counter_fns *fns, void *ctx)
{
	struct vtable have = { .name = plan->table };
	int r = seg_vt_from_kernel(plan->table, plan, &have);

	if (r == 0 && !have.present)
		r = -ENOENT;
	for (size_t i = 0; r == 0 && fns->rule && i < have.n_ch; i++)
		for (size_t j = 0; j < have.ch[i].n; j++) {
			const struct vrule *vr = &have.ch[i].r[j];
			if (vr->counted && vr->prefix)
				fns->rule(have.ch[i].name, vr->prefix, vr->packets, vr->bytes, ctx);
		}
	for (size_t i = 0; r == 0 && fns->elem && i < have.n_set; i++) {
		int si = counting_set(plan, have.set[i].name);
		for (size_t j = 0; si >= 0 && j < have.set[i].n; j++) {
			const struct vel *e = &have.set[i].el[j];
			if (!(e->flags & NFT_SET_ELEM_INTERVAL_END))
				fns->elem((size_t)si, e->key, e->klen, e->packets, e->bytes, ctx);
		}
	}
	seg_vt_free(&have);
	return r;
}
