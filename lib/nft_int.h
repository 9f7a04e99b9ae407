/*
 * nft_int.h - the inside of the netlink backend, shared by its four files
 * and by nothing else (the public face is nftnl.h):
 *
 *   nft_batch.c  plan objects -> netlink messages of one batch, and a kernel
 *                error's sequence number -> the plan element and its line
 *   nft_sock.c   the one netlink socket helper: open, buffers, extended ACK,
 *                send a batch and read every answer, the ruleset generation
 *   nft_read.c   a table as a struct vtable (from a plan's batch or from the
 *                kernel's dumps) and the comparison of two (verify, counters)
 *   nft_apply.c  the difference between the kernel's table and a plan as one
 *                transaction, and applying it (re-apply, restore, takeover)
 *
 * These and trace.c (tracing) are the files of lib/ that include libnftnl
 * and libmnl; trace.c and daemon/nftmon.c open their sockets with
 * nft_sock.c's seg_nft_socket(), so there is one socket set-up.
 */
#ifndef SEGD_NFT_INT_H
#define SEGD_NFT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/set.h>
#include "nftnl.h"

#ifndef NFT_TABLE_F_OWNER
#define NFT_TABLE_F_OWNER 0x2
#endif
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

#define SEG_NFT_ELEMS_PER_MSG 200     /* keeps an element list well under 64 KiB (u16 nla_len) */

enum op_kind {
	OP_BEGIN, OP_TABLE, OP_DELTABLE, OP_CHAIN, OP_SET, OP_ELEMS, OP_RULE, OP_END,
	OP_DELCHAIN, OP_DELSET, OP_DELELEMS, OP_DELRULE,
};

/* What one message of the batch does, to map a kernel error back. */
struct op {
	enum op_kind kind;
	uint32_t obj;              /* chain, set index of the plan */
	uint32_t rule;             /* OP_RULE: rule index in chain obj */
	size_t kfirst, kcount;     /* OP_ELEMS: kernel elements in kmap[kfirst..] */
	size_t offset;             /* of the message in the buffer */
	char *name;                /* OP_DEL*: the kernel object's name (owned) */
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

/* One element as the kernel stores it. */
struct kelem {
	uint32_t pe;                       /* plan element */
	const uint8_t *key, *end;          /* end: concatenated ranges (pipapo) */
	uint8_t buf[SEG_PLAN_KEY_MAX];     /* a computed key (interval end + 1) */
	uint32_t flags;
};

int seg_nft_grow(void **v, size_t *cap, size_t need, size_t size);

/* ---- nft_batch.c: each appends one message (0 or -ENOMEM) ---- */
char *seg_nftb_msg_begin(struct seg_nft_batch *b, enum op_kind kind, uint32_t obj, uint32_t rule);
void seg_nftb_msg_end(struct seg_nft_batch *b, const struct nlmsghdr *nlh);
int seg_nftb_marker(struct seg_nft_batch *b, enum op_kind kind);
int seg_nftb_table(struct seg_nft_batch *b, const struct seg_plan *p, uint16_t type, enum op_kind kind,
		   uint32_t flags);
int seg_nftb_chain(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t ci);
int seg_nftb_set(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si);
int seg_nftb_elems(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si);
/* n elements k[] of plan set si, in messages of SEG_NFT_ELEMS_PER_MSG: added
 * (with their verdicts), or with del deleted (keys and flags only). */
int seg_nftb_elem_list(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t si, const struct kelem *k,
		       size_t n, bool del);
/* Rule ri of chain ci; before != 0: inserted before the rule with that
 * handle, otherwise appended. */
int seg_nftb_rule(struct seg_nft_batch *b, const struct seg_plan *p, uint32_t ci, uint32_t ri, uint64_t before);
int seg_nftb_kernel_elems(const struct seg_plan_set *s, struct kelem **ret, size_t *ret_n);
/* Deleting what the kernel has: a rule by its handle, a set, a chain (and
 * its rules) by name. */
int seg_nftb_del_rule(struct seg_nft_batch *b, const char *table, const char *chain, uint64_t handle);
int seg_nftb_del_named(struct seg_nft_batch *b, const char *table, enum op_kind kind, const char *name);
/* An empty batch; BEGIN carries genid (the generation the batch was
 * computed against: the kernel refuses it with ERESTART when another commit
 * came between), 0 for none. */
int seg_nftb_open(struct seg_nft_batch **ret, uint32_t genid);
/* The whole plan the old way (DELTABLE and NEWTABLE in one batch): for a
 * table whose flags cannot be updated in place (persist differs). */
int seg_nftb_replace(const struct seg_plan *plan, uint32_t flags_before, uint32_t flags_after,
		     struct seg_nft_batch **ret);
/* The whole plan into a table that does not exist (replace false: no
 * DELTABLE; the difference from nothing, without computing it). */
int seg_nftb_whole(const struct seg_plan *plan, bool replace, uint32_t flags_before, uint32_t flags_after,
		   struct seg_nft_batch **ret);
/* The plan's objects as messages, to be read as its side of a comparison
 * (never sent): no_elems[i] leaves out the elements of plan set i. */
int seg_nftb_plan_side(const struct seg_plan *plan, const bool *no_elems, struct seg_nft_batch **ret);
/* Asks the last message for an ACK and appends END. */
int seg_nftb_close(struct seg_nft_batch *b);

/* ---- nft_sock.c ---- */
/* A NETLINK_NETFILTER socket, bound, with extended ACKs and capped ACKs,
 * its send buffer forced to sndbuf (0: default) and a 4 MiB receive buffer;
 * groups: multicast group to join (0: none); nonblock. NULL with errno. */
struct mnl_socket *seg_nft_sock_open(size_t sndbuf);
void seg_nft_sock_size(struct mnl_socket *nl, size_t sndbuf);
bool seg_nft_msg_ok(const struct nlmsghdr *nlh, int rest);
void seg_nft_fill_error(struct seg_nft_error *err, int e, const char *ext);
int seg_nft_read_replies(struct mnl_socket *nl, struct seg_nft_replies *rp);
int seg_nft_send(struct mnl_socket *nl, struct seg_nft_batch *b, const struct seg_plan *p,
		 struct seg_nft_stats *st, struct seg_nft_error *err);
int seg_nft_table_flags(struct mnl_socket *nl, const char *table, uint32_t *ret);

/* ---- nft_read.c: a table as data ---- */

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
	uint64_t handle;           /* kernel side: its handle */
};

struct vset {
	char *name;
	struct nftnl_set *s;
	struct vel *el;
	size_t n, cap;
	bool sorted;
	bool borrowed;             /* el[] belongs to the connection's memory (not freed here) */
	bool elems_skipped;        /* kernel side: elements not dumped (the memory has them) */
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
	uint32_t gen;              /* kernel side: the generation it was read at */
	struct vchain *ch;
	size_t n_ch, cap_ch;
	struct vset *set;
	size_t n_set, cap_set;
	const uint32_t *kmap;      /* plan side: kernel element -> plan element */
	size_t kpos, n_kmap;
	int err;
};

void seg_vt_free(struct vtable *t);
struct vchain *seg_vt_chain(const struct vtable *t, const char *name);
struct vset *seg_vt_set(const struct vtable *t, const char *name);
int seg_vt_take_msgs(struct vtable *t, const void *buf, size_t len);
int seg_vt_from_plan(const struct seg_plan *plan, struct vtable *want);
/* The same without the elements of the sets no_elems names (their vsets
 * stay empty, for the caller to fill). */
int seg_vt_from_plan_some(const struct seg_plan *plan, const bool *no_elems, struct vtable *want);
int seg_vt_from_kernel(const char *table, const struct seg_plan *counted, struct vtable *have);
/* The same, but the elements of a set for which skip(name, gen, ctx) is true
 * (gen: the generation the dump is read at) are not dumped: that vset gets
 * elems_skipped, for the caller to fill from what it remembers. */
typedef bool (*seg_vt_skip_fn)(const char *set, uint32_t gen, void *ctx);
int seg_vt_from_kernel_skip(const char *table, seg_vt_skip_fn skip, void *ctx, struct vtable *have);
int seg_vt_cmp_elem(const void *pa, const void *pb);
bool seg_vt_same_verdict(const struct vel *a, const struct vel *b);
void seg_vt_sort(struct vset *s);
/* LCS of two rule lists as suffix lengths L[i * (h->n + 1) + j]; NULL when too big. */
uint32_t *seg_vt_align_rules(const struct vchain *w, const struct vchain *h);
bool seg_vt_chain_attr_differs(const struct nftnl_chain *a, const struct nftnl_chain *b, uint16_t attr);
bool seg_vt_set_attrs_differ(const struct vset *w, const struct vset *h);

/* ---- nft_apply.c ---- */
/* The transaction that turns have (the kernel's table) into want (the
 * plan's, from seg_vt_from_plan; its sets get sorted). st->unchanged and no
 * batch to send when nothing differs. */
int seg_nft_delta_build(const struct seg_plan *plan, struct vtable *want, const struct vtable *have,
			uint32_t flags_after, struct seg_nft_stats *st, struct seg_nft_batch **ret);

#endif
