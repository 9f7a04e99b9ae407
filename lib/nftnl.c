/*
 * nftnl.c - plan -> one netlink batch -> kernel (the only file of lib/ that
 * includes libnftnl and libmnl).
 *
 * Each rule is linearized the way nft(8) does it (implicit protocol
 * dependencies, register layout of concatenations), so that `nft list table`
 * of what segd installed reads exactly like the `nft -f` text of segctl rules.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include "nftnl.h"

#define ELEMS_PER_MSG   200        /* keeps an element list well under 64 KiB (u16 nla_len) */
#define MSG_RESERVE     (128 * 1024)

enum op_kind { OP_BEGIN, OP_TABLE, OP_DELTABLE, OP_CHAIN, OP_SET, OP_ELEMS, OP_RULE, OP_END };

/* What one message of the batch does, to map a kernel error back. */
struct op {
	enum op_kind kind;
	uint32_t obj;              /* chain, set index */
	uint32_t rule;             /* OP_RULE: rule index in chain obj */
	size_t kfirst, kcount;     /* OP_ELEMS: kernel elements in kmap[kfirst..] */
	size_t offset;             /* of the message in the buffer */
};

struct seg_nft_batch {
	char *buf;
	size_t len, cap;
	struct op *ops;
	size_t n_ops, cap_ops;
	uint32_t *kmap;            /* kernel element -> plan element of its set */
	size_t n_kmap, cap_kmap;
	uint32_t seq0;
};

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*v, ncap * size);
	if (!n)
		return -ENOMEM;
	*v = n;
	*cap = ncap;
	return 0;
}

/* Room for the next message; returns where it starts and records its op. */
static char *msg_begin(struct seg_nft_batch *b, enum op_kind kind, uint32_t obj, uint32_t rule)
{
	if (grow((void **)&b->buf, &b->cap, b->len + MSG_RESERVE, 1) < 0 ||
	    grow((void **)&b->ops, &b->cap_ops, b->n_ops + 1, sizeof(*b->ops)) < 0)
		return NULL;
	b->ops[b->n_ops++] = (struct op){ .kind = kind, .obj = obj, .rule = rule, .offset = b->len };
	return b->buf + b->len;
}

static void msg_end(struct seg_nft_batch *b, const struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static uint32_t seq_of(const struct seg_nft_batch *b)
{
	return b->seq0 + (uint32_t)b->n_ops - 1;
}

/* ---- table and chains ---- */

static int put_table(struct seg_nft_batch *b, const struct seg_plan *p, uint16_t type, enum op_kind kind)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char *at = msg_begin(b, kind, 0, 0);

	if (!t || !at) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, p->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, 0);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, type, NFPROTO_INET,
						     type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, seq_of(b));
	nftnl_table_nlmsg_build_payload(nlh, t);
	msg_end(b, nlh);
	nftnl_table_free(t);
	return 0;
}

static int put_chain(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t ci)
{
	const struct seg_plan_chain *c = &p->chains[ci];
	struct nftnl_chain *ch = nftnl_chain_alloc();
	char *at = msg_begin(b, OP_CHAIN, ci, 0);

	if (!ch || !at) {
		nftnl_chain_free(ch);
		return -ENOMEM;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, p->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	if (c->hook != SEG_HOOK_NONE) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM,
				    c->hook == SEG_HOOK_FORWARD ? NF_INET_FORWARD : NF_INET_LOCAL_IN);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, c->policy_drop ? NF_DROP : NF_ACCEPT);
	}
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE,
						     seq_of(b));
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	msg_end(b, nlh);
	nftnl_chain_free(ch);
	return 0;
}

/* ---- sets and elements ---- */

static const uint32_t ktype_nft[SEG_KT_COUNT] = {     /* nft's datatype numbers */
	[SEG_KT_IFNAME] = 41, [SEG_KT_IPV4] = 7, [SEG_KT_IPV6] = 8,
	[SEG_KT_PROTO] = 12, [SEG_KT_PORT] = 13, [SEG_KT_ICMPV6_TYPE] = 29,
};

/* nft reads a lone key's byte order from the set's user data (strings such
 * as interface names are host order); concatenations carry it per type. */
static int set_key_byteorder(struct nftnl_set *ns, const struct seg_plan_set *s)
{
	enum { BYTEORDER_HOST_ENDIAN = 1, BYTEORDER_BIG_ENDIAN = 2 };   /* nft's enum byteorder */
	struct nftnl_udata_buf *u;

	if (s->n_key != 1)
		return 0;
	u = nftnl_udata_buf_alloc(64);
	if (!u)
		return -ENOMEM;
	nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER,
			    s->key[0] == SEG_KT_IFNAME ? BYTEORDER_HOST_ENDIAN : BYTEORDER_BIG_ENDIAN);
	nftnl_set_set_data(ns, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
	return 0;
}

static uint32_t set_flags(const struct seg_plan_set *s)
{
	uint32_t f = 0;

	if (s->interval)
		f |= NFT_SET_INTERVAL;
	if (s->interval && s->n_key > 1)
		f |= NFT_SET_CONCAT;
	if (s->vmap)
		f |= NFT_SET_MAP;
	return f;
}

static void set_identity(struct nftnl_set *ns, const struct seg_plan *p, uint32_t si)
{
	nftnl_set_set_str(ns, NFTNL_SET_TABLE, p->table);
	nftnl_set_set_str(ns, NFTNL_SET_NAME, p->sets[si].name);
	nftnl_set_set_u32(ns, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(ns, NFTNL_SET_ID, si + 1);
}

static int put_set(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si)
{
	const struct seg_plan_set *s = &p->sets[si];
	struct nftnl_set *ns = nftnl_set_alloc();
	char *at = msg_begin(b, OP_SET, si, 0);
	uint32_t ktype = 0;
	uint8_t field_len[NFT_REG32_COUNT] = { 0 };

	if (!ns || !at || set_key_byteorder(ns, s) < 0) {
		nftnl_set_free(ns);
		return -ENOMEM;
	}
	set_identity(ns, p, si);
	for (size_t i = 0; i < s->n_key; i++) {
		ktype = (ktype << 6) | ktype_nft[s->key[i]];
		field_len[i] = (uint8_t)seg_ktype_len(s->key[i]);
	}
	nftnl_set_set_u32(ns, NFTNL_SET_FLAGS, set_flags(s));
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_TYPE, ktype);
	nftnl_set_set_u32(ns, NFTNL_SET_KEY_LEN, (uint32_t)seg_set_key_len(s));
	if (set_flags(s) & NFT_SET_CONCAT)       /* the kernel wants it for concatenated intervals only */
		nftnl_set_set_data(ns, NFTNL_SET_DESC_CONCAT, field_len, (uint32_t)s->n_key);
	if (s->vmap)
		nftnl_set_set_u32(ns, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE, seq_of(b));
	nftnl_set_nlmsg_build_payload(nlh, ns);
	msg_end(b, nlh);
	nftnl_set_free(ns);
	return 0;
}

/* One element as the kernel stores it. */
struct kelem {
	uint32_t pe;                       /* plan element */
	const uint8_t *key, *end;          /* end: concatenated ranges (pipapo) */
	uint8_t buf[SEG_PLAN_KEY_MAX];     /* a computed key (interval end + 1) */
	uint32_t flags;
};

static bool key_inc(uint8_t *k, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++k[i] != 0)
			return true;
	return false;
}

/* One-dimensional interval sets (rbtree) take [start, end) pairs: a start
 * element, and an end element flagged INTERVAL_END at hi + 1 (none when hi is
 * the last value). Like nft, an end element at 0 opens the set when the first
 * range does not start at 0. */
static size_t rbtree_elems(const struct seg_plan_set *s, struct kelem *out)
{
	size_t n = 0, len = seg_set_key_len(s);
	static const uint8_t zero[SEG_PLAN_KEY_MAX];

	for (uint32_t i = 0; i < s->n_elems; i++) {
		const struct seg_plan_elem *e = &s->elems[i];
		if (i == 0 && memcmp(e->lo, zero, len) != 0)
			out[n++] = (struct kelem){ .pe = i, .key = zero, .flags = NFT_SET_ELEM_INTERVAL_END };
		out[n++] = (struct kelem){ .pe = i, .key = e->lo };
		struct kelem *k = &out[n];
		*k = (struct kelem){ .pe = i, .flags = NFT_SET_ELEM_INTERVAL_END };
		memcpy(k->buf, e->hi, len);
		if (key_inc(k->buf, len)) {
			k->key = k->buf;
			n++;
		}
	}
	return n;
}

static int kernel_elems(const struct seg_plan_set *s, struct kelem **ret, size_t *ret_n)
{
	struct kelem *k = calloc(s->n_elems * 2 + 1, sizeof(*k));
	size_t n = 0;

	if (!k)
		return -ENOMEM;
	if (s->interval && s->n_key == 1)
		n = rbtree_elems(s, k);
	else
		for (uint32_t i = 0; i < s->n_elems; i++)
			k[n++] = (struct kelem){ .pe = i, .key = s->elems[i].lo,
						 .end = s->interval ? s->elems[i].hi : NULL };
	*ret = k;
	*ret_n = n;
	return 0;
}

static struct nftnl_set_elem *make_elem(const struct seg_plan *p, const struct seg_plan_set *s,
					const struct kelem *k)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t len = (uint32_t)seg_set_key_len(s);
	const struct seg_plan_elem *pe = &s->elems[k->pe];

	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->key, len);
	if (k->end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k->end, len);
	if (k->flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, k->flags);
	if (s->vmap && !k->flags) {
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
				       pe->verdict == SEG_V_GOTO ? (uint32_t)NFT_GOTO : NF_ACCEPT);
		if (pe->verdict == SEG_V_GOTO)
			nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, p->chains[pe->chain].name);
	}
	return e;
}

static int put_elem_chunk(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si,
			  const struct kelem *k, size_t n)
{
	struct nftnl_set *ns = nftnl_set_alloc();
	char *at = msg_begin(b, OP_ELEMS, si, 0);
	int r = 0;

	if (!ns || !at || grow((void **)&b->kmap, &b->cap_kmap, b->n_kmap + n, sizeof(*b->kmap)) < 0) {
		nftnl_set_free(ns);
		return -ENOMEM;
	}
	set_identity(ns, p, si);
	b->ops[b->n_ops - 1].kfirst = b->n_kmap;
	b->ops[b->n_ops - 1].kcount = n;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct nftnl_set_elem *e = make_elem(p, &p->sets[si], &k[i]);
		if (!e)
			r = -ENOMEM;
		else
			nftnl_set_elem_add(ns, e);
		b->kmap[b->n_kmap++] = k[i].pe;
	}
	if (r == 0) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWSETELEM, NFPROTO_INET,
							     NLM_F_CREATE, seq_of(b));
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		msg_end(b, nlh);
	}
	nftnl_set_free(ns);
	return r;
}

static int put_elems(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si)
{
	struct kelem *k = NULL;
	size_t n = 0;
	int r = kernel_elems(&p->sets[si], &k, &n);

	for (size_t i = 0; i < n && r == 0; i += ELEMS_PER_MSG)
		r = put_elem_chunk(b, p, si, k + i, n - i < ELEMS_PER_MSG ? n - i : ELEMS_PER_MSG);
	free(k);
	return r;
}

/* ---- rules, linearized as nft does ---- */

struct field_load {
	bool meta;
	uint32_t key;              /* NFT_META_* */
	uint32_t base, off, len;   /* payload */
	int nfproto;               /* implied dependency: 4, 6 or 0 */
	bool icmpv6;               /* implies meta l4proto ipv6-icmp */
};

static const struct field_load loads[SEG_F_COUNT] = {
	[SEG_F_IIFNAME] = { .meta = true, .key = NFT_META_IIFNAME },
	[SEG_F_OIFNAME] = { .meta = true, .key = NFT_META_OIFNAME },
	[SEG_F_IP_SADDR] = { .base = NFT_PAYLOAD_NETWORK_HEADER, .off = 12, .len = 4, .nfproto = 4 },
	[SEG_F_IP_DADDR] = { .base = NFT_PAYLOAD_NETWORK_HEADER, .off = 16, .len = 4, .nfproto = 4 },
	[SEG_F_IP6_SADDR] = { .base = NFT_PAYLOAD_NETWORK_HEADER, .off = 8, .len = 16, .nfproto = 6 },
	[SEG_F_IP6_DADDR] = { .base = NFT_PAYLOAD_NETWORK_HEADER, .off = 24, .len = 16, .nfproto = 6 },
	[SEG_F_L4PROTO] = { .meta = true, .key = NFT_META_L4PROTO },
	[SEG_F_TH_SPORT] = { .base = NFT_PAYLOAD_TRANSPORT_HEADER, .off = 0, .len = 2 },
	[SEG_F_TH_DPORT] = { .base = NFT_PAYLOAD_TRANSPORT_HEADER, .off = 2, .len = 2 },
	[SEG_F_ICMPV6_TYPE] = { .base = NFT_PAYLOAD_TRANSPORT_HEADER, .off = 0, .len = 1, .nfproto = 6,
				.icmpv6 = true },
};

static int add_expr(struct nftnl_rule *r, struct nftnl_expr *e)
{
	if (!e)
		return -ENOMEM;
	nftnl_rule_add_expr(r, e);
	return 0;
}

static int e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return add_expr(r, e);
}

static int e_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

static int e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	}
	return add_expr(r, e);
}

static int e_ct(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	return add_expr(r, e);
}

/* nft emits a (no-op) byteorder after meta l4proto inside a concatenation
 * that has no network-header field before it; mirrored so listings agree. */
static int e_byteorder(struct nftnl_rule *r, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
	}
	return add_expr(r, e);
}

static int e_verdict(struct nftnl_rule *r, int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	return add_expr(r, e);
}

/* Register of a concatenation component at 32-bit word w, named as nft does. */
static uint32_t reg_at(size_t w)
{
	return w % 4 == 0 ? NFT_REG_1 + (uint32_t)(w / 4) : NFT_REG32_00 + (uint32_t)w;
}

struct lin {
	struct nftnl_rule *r;
	int nfproto;               /* dependency already matched in this rule */
	bool l4_icmpv6;
};

static int dep_nfproto(struct lin *l, int fam)
{
	uint8_t v = fam == 6 ? NFPROTO_IPV6 : NFPROTO_IPV4;

	if (l->nfproto == fam)
		return 0;
	l->nfproto = fam;
	if (e_meta(l->r, NFT_META_NFPROTO, NFT_REG_1) < 0)
		return -ENOMEM;
	return e_cmp(l->r, NFT_CMP_EQ, &v, 1);
}

static int load_fields(struct lin *l, const struct seg_plan_cond *c)
{
	size_t w = 0;
	bool net_seen = false;
	int r = 0;

	for (size_t i = 0; i < c->n_f && r == 0; i++) {
		const struct field_load *fl = &loads[c->f[i]];
		if (fl->nfproto)
			r = dep_nfproto(l, fl->nfproto);
		if (r == 0 && fl->icmpv6 && !l->l4_icmpv6) {
			uint8_t v = IPPROTO_ICMPV6;
			l->l4_icmpv6 = true;
			r = e_meta(l->r, NFT_META_L4PROTO, NFT_REG_1) < 0 ? -ENOMEM : e_cmp(l->r, NFT_CMP_EQ, &v, 1);
		}
		uint32_t reg = c->n_f > 1 ? reg_at(w) : NFT_REG_1;
		if (r == 0 && fl->meta)
			r = e_meta(l->r, fl->key, reg);
		else if (r == 0)
			r = e_payload(l->r, fl->base, fl->off, fl->len, reg);
		if (r == 0 && c->f[i] == SEG_F_L4PROTO && c->n_f > 1 && !net_seen)
			r = e_byteorder(l->r, reg);
		net_seen = net_seen || fl->base == NFT_PAYLOAD_NETWORK_HEADER;
		w += (seg_ktype_len(seg_field_ktype(c->f[i])) + 3) / 4;
	}
	return r;
}

static int e_lookup(struct lin *l, const struct seg_plan *p, const struct seg_plan_cond *c)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, p->sets[c->set].name);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, c->set + 1);
		if (c->kind == SEG_C_VMAP)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
		if (c->invert)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
	}
	return add_expr(l->r, e);
}

static int lin_cond(struct lin *l, const struct seg_plan *p, const struct seg_plan_cond *c)
{
	static const uint8_t reply = 1;      /* IP_CT_DIR_REPLY (not in uapi) */
	static const uint32_t related = NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;

	switch (c->kind) {
	case SEG_C_NFPROTO:
		return dep_nfproto(l, c->arg);
	case SEG_C_CT_REPLY:
		return e_ct(l->r, NFT_CT_DIRECTION) < 0 ? -ENOMEM : e_cmp(l->r, NFT_CMP_EQ, &reply, 1);
	case SEG_C_CT_RELATED: {
		struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
		if (e_ct(l->r, NFT_CT_STATE) < 0 || !e)
			return -ENOMEM;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &related, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
		nftnl_rule_add_expr(l->r, e);
		return e_cmp(l->r, NFT_CMP_NEQ, &zero, 4);
	}
	case SEG_C_LOOKUP:
	case SEG_C_VMAP:
		return load_fields(l, c) < 0 ? -ENOMEM : e_lookup(l, p, c);
	}
	return -EINVAL;
}

static int lin_drop(struct lin *l, const struct seg_plan *p, const struct seg_plan_rule *rule)
{
	struct nftnl_expr *ctr = nftnl_expr_alloc("counter"), *log = nftnl_expr_alloc("log");

	if (!ctr || !log) {
		nftnl_expr_free(ctr);
		nftnl_expr_free(log);
		return -ENOMEM;
	}
	nftnl_expr_set_u64(ctr, NFTNL_EXPR_CTR_PACKETS, 0);
	nftnl_expr_set_u64(ctr, NFTNL_EXPR_CTR_BYTES, 0);
	nftnl_rule_add_expr(l->r, ctr);
	nftnl_expr_set_str(log, NFTNL_EXPR_LOG_PREFIX, rule->log_prefix);
	nftnl_expr_set_u16(log, NFTNL_EXPR_LOG_GROUP, p->log_group);
	nftnl_rule_add_expr(l->r, log);
	return e_verdict(l->r, NF_DROP);
}

static int put_rule(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t ci, uint32_t ri)
{
	const struct seg_plan_rule *rule = &p->chains[ci].rules[ri];
	struct lin l = { .r = nftnl_rule_alloc() };
	char *at = msg_begin(b, OP_RULE, ci, ri);
	int r = (!l.r || !at) ? -ENOMEM : 0;

	if (r == 0) {
		nftnl_rule_set_str(l.r, NFTNL_RULE_TABLE, p->table);
		nftnl_rule_set_str(l.r, NFTNL_RULE_CHAIN, p->chains[ci].name);
		nftnl_rule_set_u32(l.r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	}
	for (size_t i = 0; i < rule->n_c && r == 0; i++)
		r = lin_cond(&l, p, &rule->c[i]);
	if (r == 0 && rule->action == SEG_A_ACCEPT)
		r = e_verdict(l.r, NF_ACCEPT);
	else if (r == 0 && rule->action == SEG_A_DROP)
		r = lin_drop(&l, p, rule);
	if (r == 0) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, NFPROTO_INET,
							     NLM_F_CREATE | NLM_F_APPEND, seq_of(b));
		nftnl_rule_nlmsg_build_payload(nlh, l.r);
		msg_end(b, nlh);
	}
	nftnl_rule_free(l.r);
	return r;
}

/* ---- the batch ---- */

static int put_marker(struct seg_nft_batch *b, enum op_kind kind)
{
	char *at = msg_begin(b, kind, 0, 0);

	if (!at)
		return -ENOMEM;
	struct nlmsghdr *nlh = kind == OP_BEGIN ? nftnl_batch_begin(at, seq_of(b)) : nftnl_batch_end(at, seq_of(b));
	msg_end(b, nlh);
	return 0;
}

static int build_objects(struct seg_nft_batch *b, const struct seg_plan *p)
{
	int r = put_table(b, p, NFT_MSG_NEWTABLE, OP_TABLE);

	if (r == 0)
		r = put_table(b, p, NFT_MSG_DELTABLE, OP_DELTABLE);
	if (r == 0)
		r = put_table(b, p, NFT_MSG_NEWTABLE, OP_TABLE);
	for (uint32_t i = 0; i < p->n_chains && r == 0; i++)
		r = put_chain(b, p, i);
	for (uint32_t i = 0; i < p->n_sets && r == 0; i++) {
		r = put_set(b, p, i);
		if (r == 0)
			r = put_elems(b, p, i);
	}
	for (uint32_t i = 0; i < p->n_chains && r == 0; i++)
		for (uint32_t j = 0; j < p->chains[i].n_rules && r == 0; j++)
			r = put_rule(b, p, i, j);
	return r;
}

int seg_nft_batch_build(const struct seg_plan *plan, struct seg_nft_batch **ret)
{
	struct seg_nft_batch *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->seq0 = (uint32_t)time(NULL);
	r = put_marker(b, OP_BEGIN);
	if (r == 0)
		r = build_objects(b, plan);
	if (r == 0) {
		/* one ACK, for the last object: errors are answered anyway */
		struct nlmsghdr *last = (struct nlmsghdr *)(b->buf + b->ops[b->n_ops - 1].offset);
		last->nlmsg_flags |= NLM_F_ACK;
		r = put_marker(b, OP_END);
	}
	if (r < 0) {
		seg_nft_batch_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

void seg_nft_batch_free(struct seg_nft_batch *b)
{
	if (!b)
		return;
	free(b->buf);
	free(b->ops);
	free(b->kmap);
	free(b);
}

const void *seg_nft_batch_data(const struct seg_nft_batch *b, size_t *ret_len)
{
	*ret_len = b->len;
	return b->buf;
}

size_t seg_nft_batch_messages(const struct seg_nft_batch *b)
{
	return b->n_ops;
}

uint32_t seg_nft_batch_first_seq(const struct seg_nft_batch *b)
{
	return b->seq0;
}

/* ---- mapping a kernel error back to the plan ---- */

/* Which element of an element message holds byte offset 'off'. */
static long elem_at_offset(const struct nlmsghdr *nlh, uint32_t off)
{
	const struct nlattr *a, *e;
	long k = 0;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		if (mnl_attr_get_type(a) != NFTA_SET_ELEM_LIST_ELEMENTS)
			continue;
		mnl_attr_for_each_nested(e, a) {
			size_t start = (size_t)((const char *)e - (const char *)nlh);
			if (off >= start && off < start + e->nla_len)
				return k;
			k++;
		}
	}
	return -1;
}

static void describe_elems(const struct seg_nft_batch *b, const struct seg_plan *p, const struct op *op,
			   uint32_t offset, struct seg_nft_error *err)
{
	const struct seg_plan_set *s = &p->sets[op->obj];
	long k = offset ? elem_at_offset((const struct nlmsghdr *)(b->buf + op->offset), offset) : -1;
	char el[256];

	if (k >= 0 && (size_t)k < op->kcount) {
		const struct seg_plan_elem *e = &s->elems[b->kmap[op->kfirst + (size_t)k]];
		seg_plan_format_elem(s, e, el, sizeof(el));
		snprintf(err->what, sizeof(err->what), "set '%s' element %s", s->name, el);
		err->line = e->line;
		return;
	}
	const struct seg_plan_elem *e0 = &s->elems[b->kmap[op->kfirst]];
	const struct seg_plan_elem *e1 = &s->elems[b->kmap[op->kfirst + op->kcount - 1]];
	seg_plan_format_elem(s, e0, el, sizeof(el));
	snprintf(err->what, sizeof(err->what), "set '%s' elements %s ... (%zu in this message)", s->name, el,
		 op->kcount);
	err->line = e0->line == e1->line ? e0->line : s->line;
}

void seg_nft_batch_describe(const struct seg_nft_batch *b, const struct seg_plan *p, uint32_t seq,
			    uint32_t offset, struct seg_nft_error *err)
{
	size_t i = (size_t)(seq - b->seq0);
	char text[400];

	err->line = 0;
	if (i >= b->n_ops) {
		snprintf(err->what, sizeof(err->what), "netlink message %u (not in the batch)", seq);
		return;
	}
	const struct op *op = &b->ops[i];
	switch (op->kind) {
	case OP_BEGIN:
	case OP_END:
		snprintf(err->what, sizeof(err->what), "the transaction's %s marker",
			 op->kind == OP_BEGIN ? "begin" : "end");
		break;
	case OP_TABLE:
	case OP_DELTABLE:
		snprintf(err->what, sizeof(err->what), "%s table inet '%s'",
			 op->kind == OP_TABLE ? "create" : "replace", p->table);
		err->line = p->table_line;
		break;
	case OP_CHAIN:
		snprintf(err->what, sizeof(err->what), "chain '%s'", p->chains[op->obj].name);
		break;
	case OP_SET:
		snprintf(err->what, sizeof(err->what), "set '%s'", p->sets[op->obj].name);
		err->line = p->sets[op->obj].line;
		break;
	case OP_ELEMS:
		describe_elems(b, p, op, offset, err);
		break;
	case OP_RULE:
		seg_plan_format_rule(p, &p->chains[op->obj].rules[op->rule], text, sizeof(text));
		snprintf(err->what, sizeof(err->what), "rule in chain '%.64s': %s", p->chains[op->obj].name, text);
		err->line = p->chains[op->obj].rules[op->rule].line;
		break;
	}
}

/* ---- talking to the kernel ---- */

static struct mnl_socket *open_socket(size_t sndbuf)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1, fd;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	fd = mnl_socket_get_fd(nl);
	/* failures here only cost detail (no ext-ack text) or size (EMSGSIZE, reported) */
	(void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (sndbuf > 0) {
		int v = sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)sndbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		v = 4 << 20;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	return nl;
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

int seg_nft_generation(uint32_t *ret_gen)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE;
	char *buf = malloc(size);
	struct mnl_socket *nl = buf ? open_socket(0) : NULL;
	uint32_t seq = (uint32_t)time(NULL), gen = 0;
	int r = -ENOMEM;

	if (buf && !nl)
		r = -errno;
	if (nl) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0, seq);
		r = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
		ssize_t n = r == 0 ? mnl_socket_recvfrom(nl, buf, size) : -1;
		if (r == 0 && n < 0)
			r = -errno;
		if (r == 0 && mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), gen_cb, &gen) < 0)
			r = -errno;
		mnl_socket_close(nl);
	}
	free(buf);
	if (r == 0)
		*ret_gen = gen;
	return r;
}

struct replies {
	uint32_t last_seq;         /* the one message that asked for an ACK */
	bool saw_last, overflow;
	uint32_t err_seq, err_off;
	int err;
	char ext[256];
	size_t n_failed;
};

static int ext_ack_cb(const struct nlattr *a, void *data)
{
	struct replies *rp = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(rp->ext, sizeof(rp->ext), "%s", mnl_attr_get_str(a));
	else if (mnl_attr_get_type(a) == NLMSGERR_ATTR_OFFS && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		rp->err_off = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

/* One NLMSG_ERROR: an ACK (error 0) or a refusal; the first refusal is the cause. */
static void take_error(const struct nlmsghdr *nlh, struct replies *rp)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return;
	if (e->error == 0) {
		rp->saw_last = rp->saw_last || e->msg.nlmsg_seq == rp->last_seq;
		return;
	}
	rp->n_failed++;
	if (rp->err != 0 && e->msg.nlmsg_seq >= rp->err_seq)
		return;
	rp->err = e->error;
	rp->err_seq = e->msg.nlmsg_seq;
	rp->err_off = 0;
	rp->ext[0] = '\0';
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (off < mnl_nlmsg_get_payload_len(nlh))
			mnl_attr_parse(nlh, (unsigned)off, ext_ack_cb, rp);
	}
}

/* The kernel answers while it processes the batch inside sendmsg, so every
 * reply is queued when sendmsg returns: read them all without blocking. */
static int read_replies(struct mnl_socket *nl, struct replies *rp)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE;
	char *buf = malloc(size);
	int fd = mnl_socket_get_fd(nl), r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {          /* answers lost: the generation decides */
			rp->overflow = true;
			continue;
		}
		if (n < 0) {
			r = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
			break;
		}
		int len = (int)n;
		for (const struct nlmsghdr *nlh = (void *)buf; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_type == NLMSG_ERROR)
				take_error(nlh, rp);
	}
	free(buf);
	return r;
}

static void fill_error(struct seg_nft_error *err, int e, const char *ext)
{
	const char *name = strerrorname_np(-e);

	err->err = e;
	snprintf(err->errname, sizeof(err->errname), "%s", name ? name : "E?");
	snprintf(err->ext, sizeof(err->ext), "%s", ext ? ext : "");
}

static int send_batch(struct seg_nft_batch *b, const struct seg_plan *p, struct seg_nft_stats *st,
		      struct seg_nft_error *err)
{
	struct mnl_socket *nl = open_socket(b->len + 65536);
	struct replies rp = { .last_seq = b->seq0 + (uint32_t)b->n_ops - 2 };
	int r = 0;

	if (!nl) {
		fill_error(err, -errno, NULL);
		snprintf(err->what, sizeof(err->what), "open a netfilter netlink socket");
		return err->err;
	}
	if (mnl_socket_sendto(nl, b->buf, b->len) < 0)
		r = -errno;
	else
		r = read_replies(nl, &rp);
	mnl_socket_close(nl);
	if (r < 0) {
		fill_error(err, r, NULL);
		snprintf(err->what, sizeof(err->what), "send the transaction (%zu bytes, %zu messages)",
			 b->len, b->n_ops);
		return r;
	}
	if (rp.err != 0) {
		fill_error(err, rp.err, rp.ext);
		err->n_failed = rp.n_failed;
		seg_nft_batch_describe(b, p, rp.err_seq, rp.err_off, err);
		return rp.err;
	}
	st->acks_lost = rp.overflow || !rp.saw_last;
	return 0;
}

int seg_nft_apply(const struct seg_plan *plan, struct seg_nft_stats *stats, struct seg_nft_error *err)
{
	struct seg_nft_batch *b = NULL;
	struct seg_nft_stats st = { 0 };
	int r;

	memset(err, 0, sizeof(*err));
	(void)seg_nft_generation(&st.gen_before);
	r = seg_nft_batch_build(plan, &b);
	if (r < 0) {
		fill_error(err, r, NULL);
		snprintf(err->what, sizeof(err->what), "build the transaction");
		return r;
	}
	st.batch_bytes = b->len;
	st.messages = b->n_ops;
	r = send_batch(b, plan, &st, err);
	seg_nft_batch_free(b);
	if (r == 0 && seg_nft_generation(&st.gen_after) == 0 && st.acks_lost && st.gen_after == st.gen_before) {
		r = -ENOBUFS;
		fill_error(err, r, NULL);
		snprintf(err->what, sizeof(err->what), "the kernel's answers were lost and the ruleset "
			 "generation did not change: the transaction was not committed");
	}
	if (stats)
		*stats = st;
	return r;
}

#ifndef NFT_TABLE_F_OWNER
#define NFT_TABLE_F_OWNER 0x2
#endif
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

/* A dry run: BEGIN and a NEWTABLE with owner|persist but no END, so the
 * kernel answers the NEWTABLE and then aborts the transaction. */
int seg_nft_probe_persist(void)
{
	struct seg_plan p = { .table = (char *)"segd-probe-persist" };
	struct seg_nft_batch b = { .seq0 = (uint32_t)time(NULL) };
	struct replies rp = { 0 };
	struct mnl_socket *nl = NULL;
	int r = put_marker(&b, OP_BEGIN);

	if (r == 0)
		r = put_table(&b, &p, NFT_MSG_NEWTABLE, OP_TABLE);
	if (r == 0) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)(b.buf + b.ops[1].offset);
		struct nftnl_table *t = nftnl_table_alloc();
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, p.table);
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
		nlh = nftnl_nlmsg_build_hdr((char *)nlh, NFT_MSG_NEWTABLE, NFPROTO_INET, NLM_F_CREATE | NLM_F_ACK,
					    b.seq0 + 1);
		nftnl_table_nlmsg_build_payload(nlh, t);
		nftnl_table_free(t);
		b.len = b.ops[1].offset + NLMSG_ALIGN(nlh->nlmsg_len);
		rp.last_seq = b.seq0 + 1;
		nl = open_socket(b.len);
		r = !nl ? -errno : mnl_socket_sendto(nl, b.buf, b.len) < 0 ? -errno : read_replies(nl, &rp);
	}
	if (nl)
		mnl_socket_close(nl);
	free(b.buf);
	free(b.ops);
	if (r < 0)
		return r;
	if (rp.err == -EOPNOTSUPP)
		return 0;
	return rp.err == 0 && rp.saw_last ? 1 : rp.err;
}
