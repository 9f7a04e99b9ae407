/*
 * nftnl.c - plan -> one netlink batch -> kernel (the only file of lib/ that
 * includes libnftnl and libmnl).
 *
 * Each rule is linearized the way nft(8) does it (implicit protocol
 * dependencies, register layout of concatenations), so that `nft list table`
 * of what segd installed reads exactly like the `nft -f` text of segctl rules.
 */
#include <errno.h>
#include <stdarg.h>
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
#include "nftexpr.h"
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
	uint32_t flags_before;     /* of the first NEWTABLE: the table's flags as they are */
	uint32_t flags_after;      /* of the table this batch creates */
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

/* Grows the batch buffer with zeroed bytes: libmnl 1.0.4 does not clear the
 * padding after an attribute, and every byte of the batch goes to the kernel. */
static int grow_zeroed(struct seg_nft_batch *b, size_t need)
{
	size_t old = b->cap;
	int r = grow((void **)&b->buf, &b->cap, need, 1);

	if (r == 0 && b->cap > old)
		memset(b->buf + old, 0, b->cap - old);
	return r;
}

/* Room for the next message; returns where it starts and records its op. */
static char *msg_begin(struct seg_nft_batch *b, enum op_kind kind, uint32_t obj, uint32_t rule)
{
	if (grow_zeroed(b, b->len + MSG_RESERVE) < 0 ||
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

static int put_table(struct seg_nft_batch *b, const struct seg_plan *p, uint16_t type, enum op_kind kind,
		     uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char *at = msg_begin(b, kind, 0, 0);

	if (!t || !at) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, p->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
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

/* `counter` in the set's declaration: the kernel gives every element its own
 * counter (a copy of this expression), updated by the lookup that matches it. */
static int set_counter(struct nftnl_set *ns)
{
	struct nftnl_expr *e = nftnl_expr_alloc("counter");

	if (!e)
		return -ENOMEM;
	nftnl_set_add_expr(ns, e);
	return 0;
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
	if (s->counter && set_counter(ns) < 0) {
		nftnl_set_free(ns);
		return -ENOMEM;
	}
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

int seg_nx_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return add_expr(r, e);
}

int seg_nx_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add_expr(r, e);
}

int seg_nx_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
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
	if (seg_nx_meta(l->r, NFT_META_NFPROTO, NFT_REG_1) < 0)
		return -ENOMEM;
	return seg_nx_cmp(l->r, NFT_CMP_EQ, &v, 1);
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
			r = seg_nx_meta(l->r, NFT_META_L4PROTO, NFT_REG_1) < 0 ? -ENOMEM : seg_nx_cmp(l->r, NFT_CMP_EQ, &v, 1);
		}
		uint32_t reg = c->n_f > 1 ? reg_at(w) : NFT_REG_1;
		if (r == 0 && fl->meta)
			r = seg_nx_meta(l->r, fl->key, reg);
		else if (r == 0)
			r = seg_nx_payload(l->r, fl->base, fl->off, fl->len, reg);
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
		return e_ct(l->r, NFT_CT_DIRECTION) < 0 ? -ENOMEM : seg_nx_cmp(l->r, NFT_CMP_EQ, &reply, 1);
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
		return seg_nx_cmp(l->r, NFT_CMP_NEQ, &zero, 4);
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
	/* the first NEWTABLE only makes sure the table exists for DELTABLE: it
	 * repeats the flags the table has (an update that changes owner is refused) */
	int r = put_table(b, p, NFT_MSG_NEWTABLE, OP_TABLE, b->flags_before);

	if (r == 0)
		r = put_table(b, p, NFT_MSG_DELTABLE, OP_DELTABLE, 0);
	if (r == 0)
		r = put_table(b, p, NFT_MSG_NEWTABLE, OP_TABLE, b->flags_after);
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

static int build_batch(const struct seg_plan *plan, uint32_t flags_before, uint32_t flags_after,
		       struct seg_nft_batch **ret)
{
	struct seg_nft_batch *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->seq0 = (uint32_t)time(NULL);
	b->flags_before = flags_before;
	b->flags_after = flags_after;
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

int seg_nft_batch_build(const struct seg_plan *plan, struct seg_nft_batch **ret)
{
	return build_batch(plan, 0, 0, ret);
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

static void size_socket(struct mnl_socket *nl, size_t sndbuf)
{
	int fd = mnl_socket_get_fd(nl);

	if (sndbuf > 0) {
		int v = sndbuf > INT32_MAX / 2 ? INT32_MAX / 2 : (int)sndbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
		v = 4 << 20;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
}

static struct mnl_socket *open_socket(size_t sndbuf)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;
		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	/* failures here only cost detail (no ext-ack text) or size (EMSGSIZE, reported) */
	(void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	size_socket(nl, sndbuf);
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

static int ext_ack_cb(const struct nlattr *a, void *data)
{
	struct seg_nft_replies *rp = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(rp->ext, sizeof(rp->ext), "%s", mnl_attr_get_str(a));
	else if (mnl_attr_get_type(a) == NLMSGERR_ATTR_OFFS && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		rp->err_off = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

/* One NLMSG_ERROR: an ACK (error 0) or a refusal; the first refusal is the cause. */
static void take_error(const struct nlmsghdr *nlh, struct seg_nft_replies *rp)
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

/* mnl_nlmsg_ok() compares (int)nlmsg_len with the bytes left: a length past
 * INT_MAX passes as negative and mnl_nlmsg_next() then jumps gigabytes past
 * the buffer (found by fuzz/fuzz_netlink.c). */
static bool msg_ok(const struct nlmsghdr *nlh, int rest)
{
	return mnl_nlmsg_ok(nlh, rest) && nlh->nlmsg_len <= (uint32_t)rest;
}

void seg_nft_replies_take(struct seg_nft_replies *rp, const void *buf, size_t len)
{
	int rest = len > INT32_MAX ? INT32_MAX : (int)len;

	for (const struct nlmsghdr *nlh = buf; msg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest))
		if (nlh->nlmsg_type == NLMSG_ERROR)
			take_error(nlh, rp);
}

/* The kernel answers while it processes the batch inside sendmsg, so every
 * reply is queued when sendmsg returns: read them all without blocking. */
static int read_replies(struct mnl_socket *nl, struct seg_nft_replies *rp)
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
		seg_nft_replies_take(rp, buf, (size_t)n);
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

#ifndef NFT_TABLE_F_OWNER
#define NFT_TABLE_F_OWNER 0x2
#endif
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

static int send_on(struct mnl_socket *nl, struct seg_nft_batch *b, const struct seg_plan *p,
		   struct seg_nft_stats *st, struct seg_nft_error *err)
{
	struct seg_nft_replies rp = { .last_seq = b->seq0 + (uint32_t)b->n_ops - 2 };
	int r = 0;

	size_socket(nl, b->len + 65536);
	if (mnl_socket_sendto(nl, b->buf, b->len) < 0)
		r = -errno;
	else
		r = read_replies(nl, &rp);
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

static int flags_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0)
		*(uint32_t *)data = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
	nftnl_table_free(t);
	return MNL_CB_OK;
}

/* The flags the table has now (0 when it does not exist). */
static int table_flags(struct mnl_socket *nl, const char *table, uint32_t *ret)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE;
	char *buf = malloc(size);
	struct nftnl_table *t = nftnl_table_alloc();
	uint32_t seq = (uint32_t)time(NULL) ^ 0x5e6d0000u, flags = 0;
	int r = -ENOMEM;

	if (buf && t) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
		nftnl_table_nlmsg_build_payload(nlh, t);
		r = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 1;
		while (r == 1) {
			ssize_t n = mnl_socket_recvfrom(nl, buf, size);
			r = n < 0 ? -errno : mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), flags_cb, &flags);
			if (r < 0)
				r = errno == ENOENT ? 0 : -errno;
		}
	}
	nftnl_table_free(t);
	free(buf);
	if (r == 0)
		*ret = flags;
	return r;
}

/* Installs plan through nl; the new table gets flags_after. */
static int apply_on(struct mnl_socket *nl, uint32_t flags_after, const struct seg_plan *plan,
		    struct seg_nft_stats *stats, struct seg_nft_error *err)
{
	struct seg_nft_batch *b = NULL;
	struct seg_nft_stats st = { 0 };
	uint32_t before = 0;
	int r;

	memset(err, 0, sizeof(*err));
	(void)seg_nft_generation(&st.gen_before);
	if ((r = table_flags(nl, plan->table, &before)) < 0 ||
	    (r = build_batch(plan, before, flags_after, &b)) < 0) {
		fill_error(err, r, NULL);
		snprintf(err->what, sizeof(err->what), "build the transaction");
		return r;
	}
	st.batch_bytes = b->len;
	st.messages = b->n_ops;
	r = send_on(nl, b, plan, &st, err);
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

int seg_nft_apply(const struct seg_plan *plan, struct seg_nft_stats *stats, struct seg_nft_error *err)
{
	struct mnl_socket *nl = open_socket(0);

	if (!nl) {
		memset(err, 0, sizeof(*err));
		fill_error(err, -errno, NULL);
		snprintf(err->what, sizeof(err->what), "open a netfilter netlink socket");
		return err->err;
	}
	int r = apply_on(nl, 0, plan, stats, err);
	mnl_socket_close(nl);
	return r;
}

struct seg_nft_conn {
	struct mnl_socket *nl;
	uint32_t flags;
};

int seg_nft_conn_open(bool own, struct seg_nft_conn **ret)
{
	struct seg_nft_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (!(c->nl = open_socket(0))) {
		int r = -errno;
		free(c);
		return r;
	}
	/* never owner alone: the table would go with this socket (fail open) */
	c->flags = own ? NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST : 0;
	*ret = c;
	return 0;
}

void seg_nft_conn_close(struct seg_nft_conn *c)
{
	if (!c)
		return;
	mnl_socket_close(c->nl);
	free(c);
}

bool seg_nft_conn_owns(const struct seg_nft_conn *c)
{
	return c && c->flags != 0;
}

int seg_nft_conn_apply(struct seg_nft_conn *c, const struct seg_plan *plan, struct seg_nft_stats *stats,
		       struct seg_nft_error *err)
{
	return apply_on(c->nl, c->flags, plan, stats, err);
}

/* A dry run: BEGIN and a NEWTABLE with owner|persist but no END, so the
 * kernel answers the NEWTABLE and then aborts the transaction. */
int seg_nft_probe_persist(void)
{
	struct seg_plan p = { .table = (char *)"segd-probe-persist" };
	struct seg_nft_batch b = { .seq0 = (uint32_t)time(NULL) };
	struct seg_nft_replies rp = { 0 };
	struct mnl_socket *nl = NULL;
	int r = put_marker(&b, OP_BEGIN);

	if (r == 0)
		r = put_table(&b, &p, NFT_MSG_NEWTABLE, OP_TABLE, 0);
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

struct vel {                       /* one set element as the kernel holds it */
	uint8_t key[SEG_PLAN_KEY_MAX], end[SEG_PLAN_KEY_MAX];
	uint8_t klen, elen;
	uint32_t flags;
	bool has_verdict;
	int32_t verdict;
	char *chain;               /* goto target */
	uint64_t packets, bytes;   /* its counter, when it has one */
	uint32_t pe;               /* plan side: plan element; kernel side: UINT32_MAX */
};

struct vrule {
	char *text;                /* expressions, counters zeroed */
	char *prefix;              /* its log prefix, or NULL */
	bool counted;
	uint64_t packets, bytes;
};

struct vset {
	char *name;
	struct nftnl_set *s;
	struct vel *el;
	size_t n, cap;
};

struct vchain {
	char *name;
	struct nftnl_chain *c;
	struct vrule *r;
	size_t n, cap;
};

struct vtable {
	const char *name;
	bool present;
	uint32_t flags;
	struct vchain *ch;
	size_t n_ch, cap_ch;
	struct vset *set;
	size_t n_set, cap_set;
	const uint32_t *kmap;      /* plan side: kernel element -> plan element */
	size_t kpos, n_kmap;
	int err;
};

static void vtable_free(struct vtable *t)
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
		for (size_t j = 0; j < t->set[i].n; j++)
			free(t->set[i].el[j].chain);
		free(t->set[i].el);
		free(t->set[i].name);
		nftnl_set_free(t->set[i].s);
	}
	free(t->ch);
	free(t->set);
}

static struct vchain *find_chain(const struct vtable *t, const char *name)
{
	for (size_t i = 0; i < t->n_ch; i++)
		if (strcmp(t->ch[i].name, name) == 0)
			return &t->ch[i];
	return NULL;
}

static struct vset *find_set(const struct vtable *t, const char *name)
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
	    grow((void **)&t->ch, &t->cap_ch, t->n_ch + 1, sizeof(*t->ch)) < 0) {
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
	    grow((void **)&t->set, &t->cap_set, t->n_set + 1, sizeof(*t->set)) < 0) {
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
			s = find_set(t, mnl_attr_get_str(a));
		if (type == NFTA_SET_ELEM_LIST_ELEMENTS)
			list = a;
	}
	if (!s || !list)
		return 0;
	mnl_attr_for_each_nested(el, list) {
		if (r < 0 || (r = grow((void **)&s->el, &s->cap, s->n + 1, sizeof(*s->el))) < 0)
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
	    (c = find_chain(t, nftnl_rule_get_str(nr, NFTNL_RULE_CHAIN))) != NULL) {
		r = grow((void **)&c->r, &c->cap, c->n + 1, sizeof(*c->r));
		if (r == 0) {
			c->r[c->n] = (struct vrule){ 0 };
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

static int take_msgs(struct vtable *t, const void *buf, size_t len)
{
	int rest = len > INT32_MAX ? INT32_MAX : (int)len, r = 0;

	for (const struct nlmsghdr *nlh = buf; r == 0 && msg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest))
		r = take_msg(t, nlh);
	return r;
}

/* The plan's side: its batch, read like a dump. */
static int plan_side(const struct seg_plan *plan, struct vtable *want)
{
	struct seg_nft_batch *b = NULL;
	int r = seg_nft_batch_build(plan, &b);

	if (r < 0)
		return r;
	want->kmap = b->kmap;
	want->n_kmap = b->n_kmap;
	r = take_msgs(want, b->buf, b->len);
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

static int dump_table(struct dumper *d, const struct seg_plan *counted)
{
	static const uint16_t types[] = { NFT_MSG_GETCHAIN, NFT_MSG_GETSET, NFT_MSG_GETRULE };
	int r = dump_one(d, NFT_MSG_GETTABLE, NULL);

	if (r == -ENOENT)
		return 0;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && r == 0; i++)
		r = dump_one(d, types[i], NULL);
	for (size_t i = 0; i < d->t->n_set && r == 0; i++)
		if (!counted || counting_set(counted, d->t->set[i].name) >= 0)
			r = dump_one(d, NFT_MSG_GETSETELEM, d->t->set[i].name);
	return r;
}

/* A consistent picture: the dumps are repeated when the ruleset generation
 * moved under them (another process committed meanwhile). */
static int kernel_side(const char *table, const struct seg_plan *counted, struct vtable *have)
{
	struct dumper d = { .size = DUMP_BUF, .seq = (uint32_t)time(NULL) };
	int r = -EAGAIN;

	d.buf = malloc(d.size);
	d.nl = d.buf ? open_socket(0) : NULL;
	if (!d.nl) {
		r = d.buf ? -errno : -ENOMEM;
		free(d.buf);
		return r;
	}
	for (int attempt = 0; attempt < DUMP_RETRIES && r == -EAGAIN; attempt++) {
		uint32_t g0 = 0, g1 = 1;
		vtable_free(have);
		*have = (struct vtable){ .name = table };
		d.t = have;
		r = seg_nft_generation(&g0);
		if (r == 0)
			r = dump_table(&d, counted);
		if (r == 0 || r == -EINTR)
			r = seg_nft_generation(&g1) < 0 || g0 != g1 || r == -EINTR ? -EAGAIN : 0;
	}
	mnl_socket_close(d.nl);
	free(d.buf);
	return r;
}

int seg_nft_table_exists(const char *name)
{
	struct vtable t = { .name = name };
	struct dumper d = { .size = DUMP_BUF, .seq = (uint32_t)time(NULL), .t = &t };
	int r;

	d.buf = malloc(d.size);
	d.nl = d.buf ? open_socket(0) : NULL;
	if (!d.nl) {
		r = d.buf ? -errno : -ENOMEM;
		free(d.buf);
		return r;
	}
	r = dump_one(&d, NFT_MSG_GETTABLE, NULL);
	mnl_socket_close(d.nl);
	free(d.buf);
	vtable_free(&t);
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

static bool chain_attr_differs(const struct nftnl_chain *a, const struct nftnl_chain *b, uint16_t attr)
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
		if (chain_attr_differs(w->c, h->c, attrs[i].attr)) {
			say(d, "chain '%s': its %s differs from the plan's", w->name, attrs[i].what);
			changed = true;
		}
	if (chain_attr_differs(w->c, h->c, NFTNL_CHAIN_POLICY)) {
		say(d, "chain '%s': policy %s, the plan says %s", w->name,
		    policy_name(nftnl_chain_get_u32(h->c, NFTNL_CHAIN_POLICY)),
		    policy_name(nftnl_chain_get_u32(w->c, NFTNL_CHAIN_POLICY)));
		changed = true;
	}
	d->chains_changed += changed;
}

/* Longest common subsequence of the two rule lists, as suffix lengths:
 * L[i][j] for want[i..] and have[j..]. NULL when too large to align. */
static uint32_t *align_rules(const struct vchain *w, const struct vchain *h)
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
	uint32_t *L = align_rules(w, h);
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
		const struct vchain *w = &want->ch[i], *h = find_chain(have, w->name);
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
		if (find_chain(want, h->name))
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

static void diff_set_attrs(struct seg_nft_diff *d, const struct vset *w, const struct vset *h)
{
	static const struct { uint16_t attr; const char *what; } attrs[] = {
		{ NFTNL_SET_KEY_TYPE, "key type" }, { NFTNL_SET_KEY_LEN, "key length" },
		{ NFTNL_SET_FLAGS, "flags" }, { NFTNL_SET_DATA_TYPE, "data type" },
	};
	bool changed = false;

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		uint32_t a = nftnl_set_is_set(w->s, attrs[i].attr) ? nftnl_set_get_u32(w->s, attrs[i].attr) : 0;
		uint32_t b = nftnl_set_is_set(h->s, attrs[i].attr) ? nftnl_set_get_u32(h->s, attrs[i].attr) : 0;
		if (a != b) {
			say(d, "set '%s': %s 0x%x, the plan says 0x%x", w->name, attrs[i].what, b, a);
			changed = true;
		}
	}
	if (set_counters(w->s) != set_counters(h->s)) {
		say(d, "set '%s': element counters %s", w->name, set_counters(h->s) ? "added" : "missing");
		changed = true;
	}
	d->sets_changed += changed;
}

static int cmp_vel(const void *pa, const void *pb)
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

static bool same_verdict(const struct vel *a, const struct vel *b)
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
		int c = i == w->n ? 1 : j == h->n ? -1 : cmp_vel(&w->el[i], &h->el[j]);
		if (c < 0) {
			ediff_note(x, 0, &w->el[i++]);
		} else if (c > 0) {
			ediff_note(x, 1, &h->el[j++]);
		} else {
			if (!same_verdict(&w->el[i], &h->el[j]))
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

	if (w->n > 1)             /* qsort(NULL, 0) is undefined (UBSan, fuzz_netlink) */
		qsort(w->el, w->n, sizeof(*w->el), cmp_vel);
	if (h->n > 1)
		qsort(h->el, h->n, sizeof(*h->el), cmp_vel);
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
		struct vset *w = &want->set[i], *h = find_set(have, w->name);
		if (!h) {
			say(d, "set '%s' missing (%zu elements)", w->name, w->n);
			d->sets_missing++;
			continue;
		}
		diff_set_attrs(d, w, h);
		diff_elems(d, i < p->n_sets && strcmp(p->sets[i].name, w->name) == 0 ? &p->sets[i] : NULL, w, h);
	}
	for (size_t i = 0; i < have->n_set; i++)
		if (!find_set(want, have->set[i].name)) {
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
	int r = plan_side(plan, &want);

	if (r == 0)
		r = take_msgs(&have, buf, len);
	if (r == 0)
		diff_vtables(plan, &want, &have, ret);
	vtable_free(&want);
	vtable_free(&have);
	return r;
}

int seg_nft_verify(const struct seg_plan *plan, struct seg_nft_diff *ret)
{
	struct vtable want = { .name = plan->table }, have = { .name = plan->table };
	int r = plan_side(plan, &want);

	if (r == 0)
		r = kernel_side(plan->table, NULL, &have);
	if (r == 0)
		diff_vtables(plan, &want, &have, ret);
	vtable_free(&want);
	vtable_free(&have);
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
	int r = kernel_side(plan->table, plan, &have);

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
	vtable_free(&have);
	return r;
}
