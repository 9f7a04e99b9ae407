/*
 * nft_batch.c - plan objects -> the netlink messages of one batch, and a
 * refused message back to the plan element and its configuration line.
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
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include "nft_int.h"
#include "nftexpr.h"

#define MSG_RESERVE     (128 * 1024)

int seg_nft_grow(void **v, size_t *cap, size_t need, size_t size)
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
	int r = seg_nft_grow((void **)&b->buf, &b->cap, need, 1);

	if (r == 0 && b->cap > old)
		memset(b->buf + old, 0, b->cap - old);
	return r;
}

/* Room for the next message; returns where it starts and records its op. */
char *seg_nftb_msg_begin(struct seg_nft_batch *b, enum op_kind kind, uint32_t obj, uint32_t rule)
{
	if (grow_zeroed(b, b->len + MSG_RESERVE) < 0 ||
	    seg_nft_grow((void **)&b->ops, &b->cap_ops, b->n_ops + 1, sizeof(*b->ops)) < 0)
		return NULL;
	b->ops[b->n_ops++] = (struct op){ .kind = kind, .obj = obj, .rule = rule, .offset = b->len };
	return b->buf + b->len;
}

void seg_nftb_msg_end(struct seg_nft_batch *b, const struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

static uint32_t seq_of(const struct seg_nft_batch *b)
{
	return b->seq0 + (uint32_t)b->n_ops - 1;
}

/* ---- table and chains ---- */

int seg_nftb_table(struct seg_nft_batch *b, const struct seg_plan *p, uint16_t type, enum op_kind kind,
		     uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	char *at = seg_nftb_msg_begin(b, kind, 0, 0);

	if (!t || !at) {
		nftnl_table_free(t);
		return -ENOMEM;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, p->table);
	nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, type, NFPROTO_INET,
						     type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0, seq_of(b));
	nftnl_table_nlmsg_build_payload(nlh, t);
	seg_nftb_msg_end(b, nlh);
	nftnl_table_free(t);
	return 0;
}

int seg_nftb_chain(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t ci)
{
	const struct seg_plan_chain *c = &p->chains[ci];
	struct nftnl_chain *ch = nftnl_chain_alloc();
	char *at = seg_nftb_msg_begin(b, OP_CHAIN, ci, 0);

	if (!ch || !at) {
		nftnl_chain_free(ch);
		return -ENOMEM;
	}
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, p->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c->name);
	if (c->hook != SEG_HOOK_NONE) {
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM,
				    c->hook == SEG_HOOK_FORWARD ? NF_INET_FORWARD :
				    c->hook == SEG_HOOK_INPUT ? NF_INET_LOCAL_IN : NF_INET_LOCAL_OUT);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, c->policy_drop ? NF_DROP : NF_ACCEPT);
	}
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE,
						     seq_of(b));
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	seg_nftb_msg_end(b, nlh);
	nftnl_chain_free(ch);
	return 0;
}

/* ---- sets and elements ---- */

static const uint32_t ktype_nft[SEG_KT_COUNT] = {     /* nft's datatype numbers */
	[SEG_KT_IFNAME] = 41, [SEG_KT_IPV4] = 7, [SEG_KT_IPV6] = 8,
	[SEG_KT_PROTO] = 12, [SEG_KT_PORT] = 13, [SEG_KT_ICMPV6_TYPE] = 29, [SEG_KT_ETHER] = 9,
	[SEG_KT_ICMP_TYPE] = 14,
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

int seg_nftb_set(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si)
{
	const struct seg_plan_set *s = &p->sets[si];
	struct nftnl_set *ns = nftnl_set_alloc();
	char *at = seg_nftb_msg_begin(b, OP_SET, si, 0);
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
	seg_nftb_msg_end(b, nlh);
	nftnl_set_free(ns);
	return 0;
}


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

int seg_nftb_kernel_elems(const struct seg_plan_set *s, struct kelem **ret, size_t *ret_n)
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
					const struct kelem *k, bool del)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();
	uint32_t len = (uint32_t)seg_set_key_len(s);

	if (!e)
		return NULL;
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, k->key, len);
	if (k->end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, k->end, len);
	if (k->flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, k->flags);
	if (s->vmap && !k->flags && !del) {
		const struct seg_plan_elem *pe = &s->elems[k->pe];
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT,
				       pe->verdict == SEG_V_GOTO ? (uint32_t)NFT_GOTO : NF_ACCEPT);
		if (pe->verdict == SEG_V_GOTO)
			nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, p->chains[pe->chain].name);
	}
	return e;
}

static int elem_chunk(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si, const struct kelem *k,
		      size_t n, bool del)
{
	struct nftnl_set *ns = nftnl_set_alloc();
	char *at = seg_nftb_msg_begin(b, del ? OP_DELELEMS : OP_ELEMS, si, 0);
	int r = 0;

	if (!ns || !at || seg_nft_grow((void **)&b->kmap, &b->cap_kmap, b->n_kmap + n, sizeof(*b->kmap)) < 0) {
		nftnl_set_free(ns);
		return -ENOMEM;
	}
	set_identity(ns, p, si);
	b->ops[b->n_ops - 1].kfirst = b->n_kmap;
	b->ops[b->n_ops - 1].kcount = n;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct nftnl_set_elem *e = make_elem(p, &p->sets[si], &k[i], del);
		if (!e)
			r = -ENOMEM;
		else
			nftnl_set_elem_add(ns, e);
		b->kmap[b->n_kmap++] = k[i].pe;
	}
	if (r == 0) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, del ? NFT_MSG_DELSETELEM : NFT_MSG_NEWSETELEM,
							     NFPROTO_INET, del ? 0 : NLM_F_CREATE, seq_of(b));
		nftnl_set_elems_nlmsg_build_payload(nlh, ns);
		seg_nftb_msg_end(b, nlh);
	}
	nftnl_set_free(ns);
	return r;
}

int seg_nftb_elem_list(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si, const struct kelem *k,
		       size_t n, bool del)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i += SEG_NFT_ELEMS_PER_MSG)
		r = elem_chunk(b, p, si, k + i, n - i < SEG_NFT_ELEMS_PER_MSG ? n - i : SEG_NFT_ELEMS_PER_MSG, del);
	return r;
}

int seg_nftb_elems(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si)
{
	struct kelem *k = NULL;
	size_t n = 0;
	int r = seg_nftb_kernel_elems(&p->sets[si], &k, &n);

	if (r == 0)
		r = seg_nftb_elem_list(b, p, si, k, n, false);
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
	bool icmp;                 /* implies meta l4proto icmp */
	bool ether;                /* implies meta iiftype ether */
	bool ct;                   /* a conntrack key (key), of the original direction when ctdir */
	bool ctdir;
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
	[SEG_F_ETHER_SADDR] = { .base = NFT_PAYLOAD_LL_HEADER, .off = 6, .len = 6, .ether = true },
	[SEG_F_ICMP_TYPE] = { .base = NFT_PAYLOAD_TRANSPORT_HEADER, .off = 0, .len = 1, .nfproto = 4, .icmp = true },
	[SEG_F_CT_OSADDR] = { .ct = true, .key = NFT_CT_SRC_IP, .ctdir = true, .nfproto = 4 },
	[SEG_F_CT_OSADDR6] = { .ct = true, .key = NFT_CT_SRC_IP6, .ctdir = true, .nfproto = 6 },
	[SEG_F_CT_PROTO] = { .ct = true, .key = NFT_CT_PROTOCOL },
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

/* A conntrack key into reg; dir: of the original direction's tuple. */
static int e_ct_load(struct nftnl_rule *r, uint32_t key, bool dir, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, reg);
		if (dir)
			nftnl_expr_set_u8(e, NFTNL_EXPR_CT_DIR, 0);   /* IP_CT_DIR_ORIGINAL */
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

static int e_goto(struct nftnl_rule *r, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)NFT_GOTO);
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
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
	bool l4_icmpv6, l4_icmp;
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

	/* Every dependency is matched before the concatenation is loaded (a
	 * dependency's meta load would overwrite the registers it fills), in
	 * the order nft writes them: family, layer-4 protocol, link type
	 * (meta iiftype ether: ARPHRD_ETHER, host order). */
	for (size_t i = 0; i < c->n_f && r == 0; i++) {
		const struct field_load *fl = &loads[c->f[i]];
		if (fl->nfproto)
			r = dep_nfproto(l, fl->nfproto);
		if (r == 0 && ((fl->icmpv6 && !l->l4_icmpv6) || (fl->icmp && !l->l4_icmp))) {
			uint8_t v = fl->icmpv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
			l->l4_icmpv6 |= fl->icmpv6;
			l->l4_icmp |= fl->icmp;
			r = seg_nx_meta(l->r, NFT_META_L4PROTO, NFT_REG_1) < 0 ? -ENOMEM : seg_nx_cmp(l->r, NFT_CMP_EQ, &v, 1);
		}
	}
	for (size_t i = 0; i < c->n_f && r == 0; i++)
		if (loads[c->f[i]].ether) {
			uint16_t ether = 1;
			r = seg_nx_meta(l->r, NFT_META_IIFTYPE, NFT_REG_1) < 0 ? -ENOMEM :
			    seg_nx_cmp(l->r, NFT_CMP_EQ, &ether, sizeof(ether));
			break;
		}

	for (size_t i = 0; i < c->n_f && r == 0; i++) {
		const struct field_load *fl = &loads[c->f[i]];
		uint32_t reg = c->n_f > 1 ? reg_at(w) : NFT_REG_1;
		if (r == 0 && fl->ct)
			r = e_ct_load(l->r, fl->key, fl->ctdir, reg);
		else if (r == 0 && fl->meta)
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
	static const uint8_t reply = 1, original = 0;      /* IP_CT_DIR_REPLY, _ORIGINAL (not in uapi) */
	static const uint32_t zero = 0;
	uint32_t state = NF_CT_STATE_BIT(c->kind == SEG_C_CT_RELATED ? IP_CT_RELATED : IP_CT_ESTABLISHED);

	switch (c->kind) {
	case SEG_C_NFPROTO:
		return dep_nfproto(l, c->arg);
	case SEG_C_CT_REPLY:
		return e_ct(l->r, NFT_CT_DIRECTION) < 0 ? -ENOMEM : seg_nx_cmp(l->r, NFT_CMP_EQ, &reply, 1);
	case SEG_C_CT_ORIGINAL:
		return e_ct(l->r, NFT_CT_DIRECTION) < 0 ? -ENOMEM : seg_nx_cmp(l->r, NFT_CMP_EQ, &original, 1);
	case SEG_C_CT_RELATED:
	case SEG_C_CT_ESTABLISHED: {
		struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
		if (e_ct(l->r, NFT_CT_STATE) < 0 || !e)
			return -ENOMEM;
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &state, 4);
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

static int add_counter(struct nftnl_rule *r)
{
	struct nftnl_expr *ctr = nftnl_expr_alloc("counter");

	if (ctr) {
		nftnl_expr_set_u64(ctr, NFTNL_EXPR_CTR_PACKETS, 0);
		nftnl_expr_set_u64(ctr, NFTNL_EXPR_CTR_BYTES, 0);
	}
	return add_expr(r, ctr);
}

static int lin_drop(struct lin *l, const struct seg_plan *p, const struct seg_plan_rule *rule)
{
	struct nftnl_expr *log;

	if (add_counter(l->r) < 0 || !(log = nftnl_expr_alloc("log")))
		return -ENOMEM;
	nftnl_expr_set_str(log, NFTNL_EXPR_LOG_PREFIX, rule->log_prefix);
	nftnl_expr_set_u16(log, NFTNL_EXPR_LOG_GROUP, p->log_group);
	nftnl_rule_add_expr(l->r, log);
	return e_verdict(l->r, NF_DROP);
}

int seg_nftb_rule(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t ci, uint32_t ri, uint64_t before)
{
	const struct seg_plan_rule *rule = &p->chains[ci].rules[ri];
	struct lin l = { .r = nftnl_rule_alloc() };
	char *at = seg_nftb_msg_begin(b, OP_RULE, ci, ri);
	int r = (!l.r || !at) ? -ENOMEM : 0;

	if (r == 0) {
		nftnl_rule_set_str(l.r, NFTNL_RULE_TABLE, p->table);
		nftnl_rule_set_str(l.r, NFTNL_RULE_CHAIN, p->chains[ci].name);
		nftnl_rule_set_u32(l.r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		if (before)
			nftnl_rule_set_u64(l.r, NFTNL_RULE_POSITION, before);
	}
	for (size_t i = 0; i < rule->n_c && r == 0; i++)
		r = lin_cond(&l, p, &rule->c[i]);
	if (r == 0 && rule->action == SEG_A_COUNT_ACCEPT)
		r = add_counter(l.r);
	if (r == 0 && (rule->action == SEG_A_ACCEPT || rule->action == SEG_A_COUNT_ACCEPT))
		r = e_verdict(l.r, NF_ACCEPT);
	else if (r == 0 && rule->action == SEG_A_DROP)
		r = lin_drop(&l, p, rule);
	else if (r == 0 && rule->action == SEG_A_GOTO)
		r = e_goto(l.r, p->chains[rule->target].name);
	if (r == 0) {
		/* with a position and without APPEND the kernel inserts before it */
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, NFPROTO_INET,
							     NLM_F_CREATE | (before ? 0 : NLM_F_APPEND), seq_of(b));
		nftnl_rule_nlmsg_build_payload(nlh, l.r);
		seg_nftb_msg_end(b, nlh);
	}
	nftnl_rule_free(l.r);
	return r;
}

/* ---- deleting what the kernel has ---- */

static char *del_begin(struct seg_nft_batch *b, enum op_kind kind, const char *name)
{
	char *at = seg_nftb_msg_begin(b, kind, 0, 0);
	char *copy = at ? strdup(name) : NULL;

	if (!copy)
		return NULL;
	b->ops[b->n_ops - 1].name = copy;
	return at;
}

int seg_nftb_del_rule(struct seg_nft_batch *b, const char *table, const char *chain, uint64_t handle)
{
	struct nftnl_rule *nr = nftnl_rule_alloc();
	char *at = del_begin(b, OP_DELRULE, chain);

	if (!nr || !at) {
		nftnl_rule_free(nr);
		return -ENOMEM;
	}
	nftnl_rule_set_str(nr, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(nr, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(nr, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_u64(nr, NFTNL_RULE_HANDLE, handle);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_DELRULE, NFPROTO_INET, 0, seq_of(b));
	nftnl_rule_nlmsg_build_payload(nlh, nr);
	seg_nftb_msg_end(b, nlh);
	nftnl_rule_free(nr);
	return 0;
}

/* A set, or a chain with its rules (the kernel deletes them with it). */
int seg_nftb_del_named(struct seg_nft_batch *b, const char *table, enum op_kind kind, const char *name)
{
	char *at = del_begin(b, kind, name);
	struct nlmsghdr *nlh;

	if (!at)
		return -ENOMEM;
	if (kind == OP_DELSET) {
		struct nftnl_set *s = nftnl_set_alloc();
		if (!s)
			return -ENOMEM;
		nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
		nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_DELSET, NFPROTO_INET, 0, seq_of(b));
		nftnl_set_nlmsg_build_payload(nlh, s);
		nftnl_set_free(s);
	} else {
		struct nftnl_chain *c = nftnl_chain_alloc();
		if (!c)
			return -ENOMEM;
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
		nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_DELCHAIN, NFPROTO_INET, 0, seq_of(b));
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nftnl_chain_free(c);
	}
	seg_nftb_msg_end(b, nlh);
	return 0;
}

/* ---- the batch ---- */

int seg_nftb_marker(struct seg_nft_batch *b, enum op_kind kind)
{
	char *at = seg_nftb_msg_begin(b, kind, 0, 0);

	if (!at)
		return -ENOMEM;
	struct nlmsghdr *nlh = kind == OP_BEGIN ? nftnl_batch_begin(at, seq_of(b)) : nftnl_batch_end(at, seq_of(b));
	seg_nftb_msg_end(b, nlh);
	return 0;
}

/* no_elems: per plan set, its elements are left out (NULL: none left out). */
static int build_objects(struct seg_nft_batch *b, const struct seg_plan *p, bool replace, const bool *no_elems)
{
	/* the first NEWTABLE only makes sure the table exists for DELTABLE: it
	 * repeats the flags the table has (an update that changes owner is refused) */
	int r = replace ? seg_nftb_table(b, p, NFT_MSG_NEWTABLE, OP_TABLE, b->flags_before) : 0;

	if (r == 0 && replace)
		r = seg_nftb_table(b, p, NFT_MSG_DELTABLE, OP_DELTABLE, 0);
	if (r == 0)
		r = seg_nftb_table(b, p, NFT_MSG_NEWTABLE, OP_TABLE, b->flags_after);
	for (uint32_t i = 0; i < p->n_chains && r == 0; i++)
		r = seg_nftb_chain(b, p, i);
	for (uint32_t i = 0; i < p->n_sets && r == 0; i++) {
		r = seg_nftb_set(b, p, i);
		if (r == 0 && !(no_elems && no_elems[i]))
			r = seg_nftb_elems(b, p, i);
	}
	for (uint32_t i = 0; i < p->n_chains && r == 0; i++)
		for (uint32_t j = 0; j < p->chains[i].n_rules && r == 0; j++)
			r = seg_nftb_rule(b, p, i, j, 0);
	return r;
}

int seg_nftb_plan_side(const struct seg_plan *plan, const bool *no_elems, struct seg_nft_batch **ret)
{
	struct seg_nft_batch *b = NULL;
	int r = seg_nftb_open(&b, 0);

	if (r == 0)
		r = build_objects(b, plan, false, no_elems);
	if (r < 0) {
		seg_nft_batch_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int seg_nftb_open(struct seg_nft_batch **ret, uint32_t genid)
{
	struct seg_nft_batch *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->seq0 = (uint32_t)time(NULL);
	r = seg_nftb_marker(b, OP_BEGIN);
	if (r == 0 && genid) {
		struct nlmsghdr *nlh = (struct nlmsghdr *)b->buf;
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
		b->len = NLMSG_ALIGN(nlh->nlmsg_len);
	}
	if (r < 0) {
		seg_nft_batch_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int seg_nftb_close(struct seg_nft_batch *b)
{
	/* one ACK, for the last object: errors are answered anyway */
	struct nlmsghdr *last = (struct nlmsghdr *)(b->buf + b->ops[b->n_ops - 1].offset);

	last->nlmsg_flags |= NLM_F_ACK;
	return seg_nftb_marker(b, OP_END);
}

int seg_nftb_replace(const struct seg_plan *plan, uint32_t flags_before, uint32_t flags_after,
		     struct seg_nft_batch **ret)
{
	return seg_nftb_whole(plan, true, flags_before, flags_after, ret);
}

int seg_nftb_whole(const struct seg_plan *plan, bool replace, uint32_t flags_before, uint32_t flags_after,
		   struct seg_nft_batch **ret)
{
	struct seg_nft_batch *b = NULL;
	int r = seg_nftb_open(&b, 0);

	if (r < 0)
		return r;
	b->flags_before = flags_before;
	b->flags_after = flags_after;
	r = build_objects(b, plan, replace, NULL);
	if (r == 0)
		r = seg_nftb_close(b);
	if (r < 0) {
		seg_nft_batch_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int seg_nft_batch_build(const struct seg_plan *plan, struct seg_nft_batch **ret)
{
	return seg_nftb_replace(plan, 0, 0, ret);
}

void seg_nft_batch_free(struct seg_nft_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_ops; i++)
		free(b->ops[i].name);
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
	case OP_DELELEMS:
		snprintf(err->what, sizeof(err->what), "delete %zu elements of set '%s' that the plan no longer has",
			 op->kcount, p->sets[op->obj].name);
		err->line = p->sets[op->obj].line;
		break;
	case OP_DELRULE:
	case OP_DELSET:
	case OP_DELCHAIN:
		snprintf(err->what, sizeof(err->what), "delete %s '%.200s' that the plan no longer has",
			 op->kind == OP_DELRULE ? "a rule of chain" : op->kind == OP_DELSET ? "set" : "chain",
			 op->name ? op->name : "?");
		break;
	}
}

