/*
 * compile.c - configuration model -> plan (plan.h).
 *
 * The ruleset enforces decide.h's policy, in its order:
 *
 *   forward:  iifname . oifname vmap @pairs    (a zoned pair -> goto p.<a>.<b>)
 *             unzoned interface on either side -> drop "U"
 *   p.<a>.<b>: source outside zone a           -> drop "S"
 *             a == b                           -> accept
 *             model rule 1 pair                -> drop "M" (before any conduit)
 *             conduit a->b holds the packet    -> accept (header lookups)
 *             reply of a conduit b->a, checked against the CURRENT b->a sets
 *             with the reply's header reversed -> accept
 *             ICMP errors of such connections  -> accept
 *             otherwise                        -> drop "D"
 *   input:    iifname vmap @izones             (zoned iif -> goto in.<z>)
 *             unzoned iif                      -> counter accept (the host's
 *             firewall governs; a rule, never the chain's policy)
 *   in.<z>:   ICMPv6 neighbour discovery       -> accept
 *             source outside zone z            -> drop "S"
 *             replies of the gateway's own connections -> accept
 *             gateway_services of z            -> accept
 *             otherwise                        -> drop "G"
 *
 * No `ct state established accept` shortcut: every packet of a connection is
 * judged against the current sets, so an atomic swap that removes a conduit
 * stops its connections at once and keeps the ones both versions allow.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "addr.h"
#include "decide.h"
#include "diag.h"
#include "plan.h"

#define MAX_PLAN_ELEMS 8000000u   /* all sets together: keeps a batch < 2 GiB */

/* SH_ICMP: a named ICMP query (icmp/echo-request): the query's type in the
 * original direction and its answer's in the reply direction, each
 * direction asked of conntrack, so that neither passes the other way. */
enum shape { SH_PORT, SH_PROTO, SH_ANY, SH_ICMP, SH_COUNT };

struct shape_desc {
	const char *tag;
	size_t n;
	enum seg_field orig[2][SEG_PLAN_MAX_FIELDS];   /* [family v4/v6] */
	enum seg_field reply[2][SEG_PLAN_MAX_FIELDS];
};

#define A4 SEG_F_IP_SADDR, SEG_F_IP_DADDR
#define R4 SEG_F_IP_DADDR, SEG_F_IP_SADDR
#define A6 SEG_F_IP6_SADDR, SEG_F_IP6_DADDR
#define R6 SEG_F_IP6_DADDR, SEG_F_IP6_SADDR
static const struct shape_desc shapes[SH_COUNT] = {
	[SH_PORT]  = { "p", 4, { { A4, SEG_F_L4PROTO, SEG_F_TH_DPORT }, { A6, SEG_F_L4PROTO, SEG_F_TH_DPORT } },
		       { { R4, SEG_F_L4PROTO, SEG_F_TH_SPORT }, { R6, SEG_F_L4PROTO, SEG_F_TH_SPORT } } },
	[SH_PROTO] = { "l", 3, { { A4, SEG_F_L4PROTO }, { A6, SEG_F_L4PROTO } },
		       { { R4, SEG_F_L4PROTO }, { R6, SEG_F_L4PROTO } } },
	[SH_ANY]   = { "a", 2, { { A4 }, { A6 } }, { { R4 }, { R6 } } },
	[SH_ICMP]  = { "t", 4, { { A4, SEG_F_L4PROTO, SEG_F_ICMP_TYPE }, { A6, SEG_F_L4PROTO, SEG_F_ICMPV6_TYPE } },
		       { { R4, SEG_F_L4PROTO, SEG_F_ICMP_TYPE }, { R6, SEG_F_L4PROTO, SEG_F_ICMPV6_TYPE } } },
};
#undef A4
#undef R4
#undef A6
#undef R6

/* An element vector not yet owned by a set. */
struct evec {
	struct seg_plan_elem *v;
	size_t n, cap;
	int line;
};

struct cctx {
	const struct seg_config *cfg;
	const struct seg_zonemap *map;
	struct seg_plan *plan;
	size_t nz;
	struct evec *buckets;        /* [a][b][fam][shape][interval][whole source] */
	int32_t *zset;               /* [zone][fam]: index of z4./z6. set or -1 */
	int32_t *mset;               /* [zone][fam][hosts, host . mac]: MAC bindings' sets or -1 */
	struct evec *rel;            /* [a][b][fam][interval]: source . destination . protocol of a -> b's entries */
	int32_t *rset;               /* [a][b][fam][interval]: their sets (r4.a.b, r4i.a.b) or -1 */
	int32_t nd, local, ls[2];    /* sets: ND types, the gateway's own interfaces, link scope v4/v6 */
	size_t total, limit;         /* entries expanded so far; where expanding stops */
};

/* A zone's chains: what reaches the gateway from it, what the gateway sends
 * to it, and link-scope traffic each way (ZCH per zone in tables.zch). */
enum { ZCH_IN, ZCH_OUT, ZCH_LIN, ZCH_LOUT, ZCH };

/* A pair's conduit sets: [family][shape][interval][whole source], -1 where
 * none. A conduit whose sources are its whole zone (or the gateway) keys
 * its elements without the source: the pair's anti-spoofing rule has
 * already dropped every source outside the zone, conntrack established the
 * reply's destination, and an exact destination . protocol . port then
 * fits a hash set instead of an interval set whose first field is one wide
 * range shared by every element (lookup cost growing with its size). */
typedef int32_t pair_sets[2][SH_COUNT][2][2];
#define PAIR_SETS (2 * SH_COUNT * 2 * 2)

static size_t bucket_index(const struct cctx *c, size_t a, size_t b, int fam, int sh, int iv, int ws)
{
	return (((((a * c->nz + b) * 2 + (size_t)fam) * SH_COUNT + (size_t)sh) * 2) + (size_t)iv) * 2 + (size_t)ws;
}

/* ---- key geometry ---- */

static const size_t ktype_len[SEG_KT_COUNT] = {
	[SEG_KT_IFNAME] = 16, [SEG_KT_IPV4] = 4, [SEG_KT_IPV6] = 16,
	[SEG_KT_PROTO] = 1, [SEG_KT_PORT] = 2, [SEG_KT_ICMPV6_TYPE] = 1, [SEG_KT_ETHER] = 6, [SEG_KT_ICMP_TYPE] = 1,
};

static const enum seg_ktype field_ktype[SEG_F_COUNT] = {
	[SEG_F_IIFNAME] = SEG_KT_IFNAME, [SEG_F_OIFNAME] = SEG_KT_IFNAME,
	[SEG_F_IP_SADDR] = SEG_KT_IPV4, [SEG_F_IP_DADDR] = SEG_KT_IPV4,
	[SEG_F_IP6_SADDR] = SEG_KT_IPV6, [SEG_F_IP6_DADDR] = SEG_KT_IPV6,
	[SEG_F_L4PROTO] = SEG_KT_PROTO,
	[SEG_F_TH_SPORT] = SEG_KT_PORT, [SEG_F_TH_DPORT] = SEG_KT_PORT,
	[SEG_F_ICMPV6_TYPE] = SEG_KT_ICMPV6_TYPE, [SEG_F_ETHER_SADDR] = SEG_KT_ETHER,
	[SEG_F_ICMP_TYPE] = SEG_KT_ICMP_TYPE,
	[SEG_F_CT_OSADDR] = SEG_KT_IPV4, [SEG_F_CT_OSADDR6] = SEG_KT_IPV6, [SEG_F_CT_PROTO] = SEG_KT_PROTO,
};

size_t seg_ktype_len(enum seg_ktype t)
{
	return (unsigned)t < SEG_KT_COUNT ? ktype_len[t] : 0;
}

enum seg_ktype seg_field_ktype(enum seg_field f)
{
	return field_ktype[f];
}

/* Components of a concatenation sit in 32-bit registers; a lone one is not padded. */
size_t seg_set_key_off(const struct seg_plan_set *s, size_t i)
{
	size_t off = 0;

	for (size_t k = 0; k < i; k++)
		off += (seg_ktype_len(s->key[k]) + 3) & ~(size_t)3;
	return off;
}

size_t seg_set_key_len(const struct seg_plan_set *s)
{
	if (s->n_key == 1)
		return seg_ktype_len(s->key[0]);
	return seg_set_key_off(s, s->n_key);
}

/* ---- small builders ---- */

static uint32_t fnv1a(uint32_t h, const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 16777619u;
	return h;
}

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	void *n = reallocarray(*v, ncap, size);
	if (!n)
		return -ENOMEM;
	memset((char *)n + *cap * size, 0, (ncap - *cap) * size);
	*v = n;
	*cap = ncap;
	return 0;
}

__attribute__((format(printf, 1, 2)))
static char *strf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	return r < 0 ? NULL : s;
}

static int evec_push(struct evec *v, const struct seg_plan_elem *e)
{
	if (grow((void **)&v->v, &v->cap, v->n + 1, sizeof(*v->v)) < 0)
		return -ENOMEM;
	v->v[v->n++] = *e;
	return 0;
}

/* Takes ownership of name (freed on failure). Returns the set index or -errno. */
static int32_t add_set(struct seg_plan *p, char *name, const enum seg_ktype *key, size_t n_key,
		       bool interval, bool vmap, int line)
{
	if (!name || grow((void **)&p->sets, &p->cap_sets, p->n_sets + 1, sizeof(*p->sets)) < 0) {
		free(name);
		return -ENOMEM;
	}
	struct seg_plan_set *s = &p->sets[p->n_sets];
	memset(s, 0, sizeof(*s));
	s->name = name;
	memcpy(s->key, key, n_key * sizeof(*key));
	s->n_key = n_key;
	s->interval = interval;
	s->vmap = vmap;
	s->line = line;
	return (int32_t)p->n_sets++;
}

static int32_t add_chain(struct seg_plan *p, char *name, enum seg_plan_hook hook, bool drop)
{
	if (!name || grow((void **)&p->chains, &p->cap_chains, p->n_chains + 1, sizeof(*p->chains)) < 0) {
		free(name);
		return -ENOMEM;
	}
	struct seg_plan_chain *c = &p->chains[p->n_chains];
	memset(c, 0, sizeof(*c));
	c->name = name;
	c->hook = hook;
	c->policy_drop = drop;
	return (int32_t)p->n_chains++;
}

static struct seg_plan_rule *add_rule(struct seg_plan *p, uint32_t chain, enum seg_plan_action a, int line)
{
	struct seg_plan_chain *c = &p->chains[chain];

	if (grow((void **)&c->rules, &c->cap, c->n_rules + 1, sizeof(*c->rules)) < 0)
		return NULL;
	struct seg_plan_rule *r = &c->rules[c->n_rules++];
	memset(r, 0, sizeof(*r));
	r->action = a;
	r->line = line;
	return r;
}

static void cond_lookup(struct seg_plan_rule *r, enum seg_cond_kind kind, uint32_t set, bool invert,
			const enum seg_field *f, size_t n)
{
	struct seg_plan_cond *c = &r->c[r->n_c++];

	c->kind = kind;
	c->set = set;
	c->invert = invert;
	memcpy(c->f, f, n * sizeof(*f));
	c->n_f = n;
}

static void cond_simple(struct seg_plan_rule *r, enum seg_cond_kind kind, int arg)
{
	struct seg_plan_cond *c = &r->c[r->n_c++];

	c->kind = kind;
	c->arg = arg;
}

/* A drop rule: counter, log with the event prefix, drop. */
static struct seg_plan_rule *add_drop(struct seg_plan *p, uint32_t chain, char ev,
				      const char *from, const char *to, int line)
{
	struct seg_plan_rule *r = add_rule(p, chain, SEG_A_DROP, line);

	if (!r)
		return NULL;
	r->log_prefix = strf("segd %c %s %s", ev, from ? from : "-", to ? to : "-");
	return r->log_prefix ? r : NULL;
}

/* ---- element keys ---- */

static void put_range(struct seg_plan_elem *e, size_t off, const uint8_t *lo, const uint8_t *hi, size_t len)
{
	memcpy(e->lo + off, lo, len);
	memcpy(e->hi + off, hi, len);
}

static void put_value(struct seg_plan_elem *e, size_t off, const void *v, size_t len)
{
	put_range(e, off, v, v, len);
}

static bool range_exact(const uint8_t *lo, const uint8_t *hi, size_t len)
{
	return memcmp(lo, hi, len) == 0;
}

/* Big-endian arithmetic on one key component; false on wrap. */
static bool comp_inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

static bool comp_dec(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (a[i]-- != 0)
			return true;
	return false;
}

/* qsort_r context: the key length of the set being sorted. */
static int cmp_elem(const void *pa, const void *pb, void *ctx)
{
	const struct seg_plan_elem *a = pa, *b = pb;
	size_t len = *(const size_t *)ctx;
	int r = memcmp(a->lo, b->lo, len);

	if (r == 0)
		r = memcmp(a->hi, b->hi, len);
	if (r == 0)
		r = (a->line > b->line) - (a->line < b->line);
	return r;
}

struct geom {
	size_t n, keylen;
	size_t off[SEG_PLAN_MAX_FIELDS], len[SEG_PLAN_MAX_FIELDS];
};

static void geom_of(const struct seg_plan_set *s, struct geom *g)
{
	g->n = s->n_key;
	g->keylen = seg_set_key_len(s);
	for (size_t i = 0; i < s->n_key; i++) {
		g->off[i] = seg_set_key_off(s, i);
		g->len[i] = seg_ktype_len(s->key[i]);
	}
}

static bool boxes_overlap(const struct geom *g, const struct seg_plan_elem *a, const struct seg_plan_elem *b)
{
	for (size_t i = 0; i < g->n; i++) {
		size_t o = g->off[i], l = g->len[i];
		if (memcmp(a->lo + o, b->hi + o, l) > 0 || memcmp(b->lo + o, a->hi + o, l) > 0)
			return false;
	}
	return true;
}

/* Pushes the pieces of a minus b (which overlap) to out: one slab below and
 * one above b per dimension, so the pieces are disjoint from b and each other. */
static int box_subtract(const struct geom *g, struct seg_plan_elem a, const struct seg_plan_elem *b,
			struct evec *out)
{
	for (size_t i = 0; i < g->n; i++) {
		size_t o = g->off[i], l = g->len[i];
		if (memcmp(a.lo + o, b->lo + o, l) < 0) {
			struct seg_plan_elem piece = a;
			memcpy(piece.hi + o, b->lo + o, l);
			comp_dec(piece.hi + o, l);
			if (evec_push(out, &piece) < 0)
				return -ENOMEM;
			memcpy(a.lo + o, b->lo + o, l);
		}
		if (memcmp(a.hi + o, b->hi + o, l) > 0) {
			struct seg_plan_elem piece = a;
			memcpy(piece.lo + o, b->hi + o, l);
			comp_inc(piece.lo + o, l);
			if (evec_push(out, &piece) < 0)
				return -ENOMEM;
			memcpy(a.hi + o, b->hi + o, l);
		}
	}
	return 0;
}

/* Cuts one new box against the disjoint pieces already kept (only those
 * whose first dimension can still reach it: 'active'). */
static int cut_box(const struct geom *g, const struct evec *kept, const size_t *active, size_t n_active,
		   struct evec *work)
{
	struct evec next = { 0 };
	int r = 0;

	for (size_t k = 0; k < n_active && work->n > 0 && r == 0; k++) {
		const struct seg_plan_elem *p = &kept->v[active[k]];
		next.n = 0;
		for (size_t w = 0; w < work->n && r == 0; w++) {
			if (boxes_overlap(g, &work->v[w], p))
				r = box_subtract(g, work->v[w], p, &next);
			else
				r = evec_push(&next, &work->v[w]);
		}
		struct evec t = *work;
		*work = next;
		next = t;
	}
	free(next.v);
	return r;
}

/* qsort_r context: the sweep dimension and the whole key's length. */
struct sweep {
	size_t off, len, keylen;
};

/* By the start in the sweep dimension, then as cmp_elem (the plan stays
 * deterministic: which of two overlapping boxes keeps the shared piece, and
 * so which conduit counts it, does not depend on qsort). */
static int cmp_sweep(const void *pa, const void *pb, void *ctx)
{
	const struct sweep *sw = ctx;
	int r = memcmp(((const struct seg_plan_elem *)pa)->lo + sw->off,
		       ((const struct seg_plan_elem *)pb)->lo + sw->off, sw->len);

	return r ? r : cmp_elem(pa, pb, (void *)&sw->keylen);
}

/* The dimension to sweep along: the one whose ranges reach furthest apart,
 * i.e. with the most distinct starts. Boxes that share one range in a
 * dimension (every source of a whole-zone conduit is the zone) all overlap
 * there, and sweeping along it would compare every box with every other. */
static size_t sweep_dim(const struct geom *g, struct evec *in)
{
	size_t best = 0, best_n = 0;

	for (size_t d = 0; d < g->n; d++) {
		struct sweep sw = { g->off[d], g->len[d], g->keylen };
		size_t distinct = in->n > 0;
		qsort_r(in->v, in->n, sizeof(*in->v), cmp_sweep, &sw);
		for (size_t i = 1; i < in->n; i++)
			distinct += memcmp(in->v[i - 1].lo + sw.off, in->v[i].lo + sw.off, sw.len) != 0;
		if (distinct > best_n)
			best = d, best_n = distinct;
	}
	struct sweep sw = { g->off[best], g->len[best], g->keylen };
	qsort_r(in->v, in->n, sizeof(*in->v), cmp_sweep, &sw);
	return best;
}

/* Interval sets of concatenations (pipapo) refuse a box whose corner falls in
 * another box, so overlapping entries (two conduits, tcp/1-100 and tcp/50)
 * become disjoint pieces covering the same union: a sweep along one
 * dimension, cutting each box against the kept pieces that still reach it
 * there ('active'). O(n log n) while few boxes overlap in the swept
 * dimension; the caller sorts the result again. */
static int make_disjoint(const struct geom *g, struct evec *in)
{
	struct evec kept = { 0 }, work = { 0 };
	size_t *active = NULL, n_active = 0, cap_active = 0;
	size_t d = in->n > 1 ? sweep_dim(g, in) : 0, o = g->off[d], l = g->len[d];
	int r = 0;

	for (size_t i = 0; i < in->n && r == 0; i++) {
		size_t out = 0;
		for (size_t k = 0; k < n_active; k++)     /* retire pieces left behind */
			if (memcmp(kept.v[active[k]].hi + o, in->v[i].lo + o, l) >= 0)
				active[out++] = active[k];
		n_active = out;
		work.n = 0;
		r = evec_push(&work, &in->v[i]);
		if (r == 0)
			r = cut_box(g, &kept, active, n_active, &work);
		for (size_t w = 0; w < work.n && r == 0; w++) {
			r = grow((void **)&active, &cap_active, n_active + 1, sizeof(*active));
			if (r == 0)
				r = evec_push(&kept, &work.v[w]);
			if (r == 0)
				active[n_active++] = kept.n - 1;
		}
	}
	free(work.v);
	free(active);
	if (r < 0) {
		free(kept.v);
		return r;
	}
	free(in->v);
	*in = kept;
	return 0;
}

/* One-dimensional interval sets (rbtree): merge overlapping and adjacent ranges. */
static void merge_ranges(const struct geom *g, struct evec *v)
{
	size_t out = 0, l = g->len[0];

	for (size_t i = 0; i < v->n; i++) {
		if (out > 0) {
			struct seg_plan_elem *last = &v->v[out - 1];
			uint8_t next[16];
			memcpy(next, last->hi, l);
			bool wrap = !comp_inc(next, l);
			if (wrap || memcmp(v->v[i].lo, next, l) <= 0) {
				if (memcmp(v->v[i].hi, last->hi, l) > 0)
					memcpy(last->hi, v->v[i].hi, l);
				continue;
			}
		}
		v->v[out++] = v->v[i];
	}
	v->n = out;
}

static void dedupe_exact(const struct geom *g, struct evec *v)
{
	size_t out = 0;

	for (size_t i = 0; i < v->n; i++)
		if (out == 0 || memcmp(v->v[out - 1].lo, v->v[i].lo, g->keylen) != 0)
			v->v[out++] = v->v[i];
	v->n = out;
}

/* Sorts, removes duplicates or overlaps, stamps ids, and hands the elements to the set. */
static int finish_set(struct seg_plan_set *s, struct evec *v)
{
	struct geom g;
	int r = 0;

	geom_of(s, &g);
	qsort_r(v->v, v->n, sizeof(*v->v), cmp_elem, &g.keylen);
	if (!s->interval)
		dedupe_exact(&g, v);
	else if (g.n == 1)
		merge_ranges(&g, v);
	else if ((r = make_disjoint(&g, v)) == 0)
		qsort_r(v->v, v->n, sizeof(*v->v), cmp_elem, &g.keylen);
	if (r < 0)
		return r;
	for (size_t i = 0; i < v->n; i++) {
		uint32_t h = fnv1a(2166136261u, s->name, strlen(s->name));
		h = fnv1a(h, v->v[i].lo, g.keylen);
		v->v[i].id = fnv1a(h, v->v[i].hi, g.keylen);
	}
	s->elems = v->v;
	s->n_elems = s->cap = v->n;
	*v = (struct evec){ 0 };
	return 0;
}

/* ---- address sides of a conduit ---- */

struct side {
	int fam;                     /* 0: IPv4, 1: IPv6 */
	uint8_t lo[16], hi[16];
};

struct sides {
	struct side *v;
	size_t n, cap;
	int err;
};

static size_t fam_width(int fam)
{
	return fam == 0 ? 4 : 16;
}

static void collect_range(const struct seg_range *r, void *ctx)
{
	struct sides *s = ctx;

	if (s->err || (s->err = grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v))) < 0)
		return;
	struct side *d = &s->v[s->n];
	size_t w = r->family == AF_INET ? 4 : 16;
	d->fam = r->family == AF_INET ? 0 : 1;
	memcpy(d->lo, r->lo, w);
	memcpy(d->hi, r->hi, w);
	/* zonemap splits a zone around more specific networks of other zones;
	 * pieces that touch are one range to the kernel */
	if (s->n > 0 && s->v[s->n - 1].fam == d->fam) {
		struct side *p = &s->v[s->n - 1];
		uint8_t next[16];
		memcpy(next, p->hi, w);
		if (comp_inc(next, w) && memcmp(next, d->lo, w) == 0) {
			memcpy(p->hi, d->hi, w);
			return;
		}
	}
	s->n++;
}

static int zone_sides(const struct seg_zonemap *map, size_t zone, struct sides *out)
{
	out->n = 0;
	out->err = 0;
	seg_zonemap_each(map, (int)zone, AF_INET, collect_range, out);
	seg_zonemap_each(map, (int)zone, AF_INET6, collect_range, out);
	return out->err;
}

static int prefix_sides(const struct seg_prefix *v, size_t n, struct sides *out)
{
	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		if (grow((void **)&out->v, &out->cap, out->n + 1, sizeof(*out->v)) < 0)
			return -ENOMEM;
		struct side *d = &out->v[out->n++];
		d->fam = v[i].family == AF_INET ? 0 : 1;
		size_t w = fam_width(d->fam);
		for (size_t b = 0; b < w; b++) {
			unsigned bits = v[i].len >= 8 * (b + 1) ? 8 : v[i].len > 8 * b ? v[i].len - 8 * b : 0;
			uint8_t mask = (uint8_t)(0xff00u >> bits);
			d->lo[b] = v[i].addr[b] & mask;
			d->hi[b] = (uint8_t)(d->lo[b] | (uint8_t)~mask);
		}
	}
	return 0;
}

/* The gateway's side of a conduit from it: any address of either family.
 * Which of its addresses the gateway sends from is its routing's business;
 * out.Z is reached only for packets the gateway itself sends. */
static int gateway_sides(struct sides *out)
{
	out->n = 0;
	if (grow((void **)&out->v, &out->cap, 2, sizeof(*out->v)) < 0)
		return -ENOMEM;
	for (int f = 0; f < 2; f++) {
		struct side *d = &out->v[out->n++];
		d->fam = f;
		memset(d->lo, 0, sizeof(d->lo));
		memset(d->hi, 0xff, sizeof(d->hi));
	}
	return 0;
}

/* The conduit side as the policy means it: the named prefixes, or the zone. */
static int conduit_sides(const struct cctx *c, const struct seg_prefix *v, size_t n, size_t zone,
			 struct sides *out)
{
	if (n == 0 && seg_zone_is_gateway(c->cfg, zone))
		return gateway_sides(out);
	return n > 0 ? prefix_sides(v, n, out) : zone_sides(c->map, zone, out);
}

/* ---- conduits -> bucketed elements ---- */

/* The protocol byte of a named service (never 'any'). */
static uint8_t proto_byte(enum seg_proto p)
{
	return (uint8_t)seg_proto_ipproto(p);
}

/* Who may answer whom with an ICMP error of which protocol: a conduit's
 * sources, its destinations, its protocol (any: all of them). A related
 * packet back to a connection's originator passes only when its sender is
 * one of the originator's approved destinations (fill_pair). */
static int push_relation(struct cctx *c, const struct seg_conduit *k, const struct side *s,
			 const struct side *d, const uint8_t *proto)
{
	struct seg_plan_elem e = { .line = k->line };
	size_t w = fam_width(s->fam);
	static const uint8_t all_lo = 0, all_hi = 255;
	bool exact = proto && range_exact(s->lo, s->hi, w) && range_exact(d->lo, d->hi, w);
	struct evec *v = &c->rel[((k->from * c->nz + k->to) * 2 + (size_t)s->fam) * 2 + !exact];

	put_range(&e, 0, s->lo, s->hi, w);
	put_range(&e, w, d->lo, d->hi, w);
	put_range(&e, 2 * w, proto ? proto : &all_lo, proto ? proto : &all_hi, 1);
	if (v->n == 0)
		v->line = k->line;
	return evec_push(v, &e);
}

/* ws: the sources are the whole zone (or the gateway): no source field. */
static int emit_entry(struct cctx *c, const struct seg_conduit *k, const struct side *s,
		      const struct side *d, const struct seg_service *sv, int ws)
{
	struct seg_plan_elem e = { .line = k->line, .conduit = (uint32_t)c->plan->n_conduits };
	size_t w = fam_width(s->fam);
	size_t doff = ws ? 0 : w, rest = doff + w;     /* addresses are 4-byte aligned (4 or 16 bytes) */
	bool exact = (ws || range_exact(s->lo, s->hi, w)) && range_exact(d->lo, d->hi, w);
	int sh = sv->proto == SEG_PROTO_ANY ? SH_ANY :
		 (sv->proto == SEG_PROTO_TCP || sv->proto == SEG_PROTO_UDP) ? SH_PORT : sv->typed ? SH_ICMP : SH_PROTO;

	if (sh == SH_ICMP && (sv->proto == SEG_PROTO_ICMPV6) != (s->fam == 1))
		return 0;   /* an ICMP query of the other family never matches here */
	if (!ws)
		put_range(&e, 0, s->lo, s->hi, w);
	put_range(&e, doff, d->lo, d->hi, w);
	uint8_t proto = sh == SH_ANY ? 0 : proto_byte(sv->proto);
	if (sh != SH_ANY)
		put_value(&e, rest, &proto, 1);
	if (sh == SH_PORT) {
		uint8_t lo[2] = { (uint8_t)(sv->port_lo >> 8), (uint8_t)sv->port_lo };
		uint8_t hi[2] = { (uint8_t)(sv->port_hi >> 8), (uint8_t)sv->port_hi };
		put_range(&e, rest + 4, lo, hi, 2);
		exact = exact && sv->port_lo == sv->port_hi;
	}
	if (++c->total > c->limit)
		return -E2BIG;      /* far past settings.max_elements: stop expanding (seg_plan_size_diag) */
	int rr = push_relation(c, k, s, d, sh == SH_ANY ? NULL : &proto);
	if (rr < 0)
		return rr;
	struct evec *b = &c->buckets[bucket_index(c, k->from, k->to, s->fam, sh, !exact, ws)];
	if (b->n == 0)
		b->line = k->line;
	if (sh != SH_ICMP)
		return evec_push(b, &e);
	struct seg_plan_elem answer = e;   /* the query one way, its answer the other */
	put_value(&e, rest + 4, &sv->icmp_type, 1);
	put_value(&answer, rest + 4, &sv->icmp_reply, 1);
	int r = evec_push(b, &e);
	return r < 0 ? r : evec_push(b, &answer);
}

/* Whether the sources cover the whole zone (every range the zone map gives
 * it lies in one source prefix): then the anti-spoofing rule says all the
 * key would (pair_sets), whether the sources were left out or written out. */
static bool covers_zone(const struct cctx *c, const struct sides *src, size_t zone, struct sides *tmp)
{
	if (seg_zone_is_gateway(c->cfg, zone) || zone_sides(c->map, zone, tmp) < 0 || tmp->n == 0)
		return false;
	for (size_t i = 0; i < tmp->n; i++) {
		const struct side *z = &tmp->v[i];
		size_t w = fam_width(z->fam);
		bool in = false;
		for (size_t j = 0; j < src->n && !in; j++)
			in = src->v[j].fam == z->fam && memcmp(src->v[j].lo, z->lo, w) <= 0 &&
			     memcmp(src->v[j].hi, z->hi, w) >= 0;
		if (!in)
			return false;
	}
	return true;
}

static int expand_conduit(struct cctx *c, const struct seg_conduit *k, struct sides *src, struct sides *dst)
{
	int r = conduit_sides(c, k->srcs, k->n_srcs, k->from, src);

	if (r == 0)
		r = conduit_sides(c, k->dsts, k->n_dsts, k->to, dst);
	/* dst is filled again below: it serves as scratch for the zone's ranges */
	bool ws = r == 0 && (k->n_srcs == 0 || covers_zone(c, src, k->from, dst));
	if (r == 0)
		r = conduit_sides(c, k->dsts, k->n_dsts, k->to, dst);
	for (size_t i = 0; i < src->n && r == 0; i++)
		for (size_t j = 0; j < dst->n && r == 0; j++) {
			if (src->v[i].fam != dst->v[j].fam)
				continue;
			for (size_t s = 0; s < k->n_services && r == 0; s++)
				r = emit_entry(c, k, &src->v[i], &dst->v[j], &k->services[s], ws);
		}
	return r;
}

/* Entries a conduit expands to (source x destination x service sides of one
 * family; a named ICMP query counts twice: query and answer), without
 * building them. */
static size_t conduit_entries(const struct cctx *c, const struct seg_conduit *k, struct sides *src,
			      struct sides *dst)
{
	size_t n = 0;

	if (conduit_sides(c, k->srcs, k->n_srcs, k->from, src) < 0 ||
	    conduit_sides(c, k->dsts, k->n_dsts, k->to, dst) < 0)
		return SIZE_MAX;
	for (int f = 0; f < 2; f++) {
		size_t ns = 0, nd = 0, nv = 0;
		for (size_t i = 0; i < src->n; i++)
			ns += src->v[i].fam == f;
		for (size_t i = 0; i < dst->n; i++)
			nd += dst->v[i].fam == f;
		for (size_t i = 0; i < k->n_services; i++) {
			const struct seg_service *sv = &k->services[i];
			if (!sv->typed)
				nv++;
			else if ((sv->proto == SEG_PROTO_ICMPV6) == (f == 1))
				nv += 2;
		}
		n += ns * nd * nv;
	}
	return n;
}

struct big {
	size_t entries;
	const struct seg_conduit *k;
};

int seg_plan_size_diag(const struct seg_config *cfg, const struct seg_zonemap *map, struct seg_diags *d)
{
	struct cctx c = { .cfg = cfg, .map = map, .nz = cfg->n_zones };
	struct sides src = { 0 }, dst = { 0 };
	struct big top[3] = { { 0 } };
	size_t total = 0;

	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *k = &cfg->conduits[i];
		if (k->expired)
			continue;
		size_t n = conduit_entries(&c, k, &src, &dst);
		total = n == SIZE_MAX || total + n < total ? SIZE_MAX : total + n;
		for (size_t j = 0; j < 3; j++)
			if (n > top[j].entries) {
				memmove(&top[j + 1], &top[j], (2 - j) * sizeof(top[0]));
				top[j] = (struct big){ n, k };
				break;
			}
	}
	free(src.v);
	free(dst.v);
	if (!top[0].k)
		return 0;
	char list[600];
	size_t len = 0;
	for (size_t j = 0; j < 3 && top[j].k && len < sizeof(list); j++) {
		const struct seg_conduit *k = top[j].k;
		char srcs[32], dsts[32];
		snprintf(srcs, sizeof(srcs), k->n_srcs ? "%zu sources" : "the whole zone", k->n_srcs);
		snprintf(dsts, sizeof(dsts), k->n_dsts ? "%zu destinations" : "the whole zone", k->n_dsts);
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s'%s' (line %d: %zu from %s x %s x %zu "
					"services)", j ? ", " : "", k->name, k->line, top[j].entries, srcs, dsts,
					k->n_services);
	}
	seg_diag(d, SEG_SEV_ERROR, top[0].k->line, "the ruleset would hold more than settings.max_elements "
		 "(%u) set elements (the conduits expand to %zu entries); the conduits that expand most are %s — "
		 "name prefixes or ranges instead of single hosts, split the lists, or raise "
		 "settings.max_elements", cfg->settings.max_elements, total, list);
	return 1;
}

int seg_plan_build(const struct seg_config *cfg, const struct seg_zonemap *map, struct seg_diags *d,
		   struct seg_plan **ret)
{
	int r = seg_plan_compile(cfg, map, ret);

	if (r == -E2BIG && seg_plan_size_diag(cfg, map, d))
		return -EINVAL;
	return r;
}

static bool zone_has_ifaces(const struct seg_config *cfg, size_t z)
{
	return cfg->zones[z].n_ifaces > 0;
}

/* Names the conduit whose elements come next (their .conduit is its number,
 * 1-based: emit_entry reads n_conduits after this). plan->conduits has room
 * for every conduit of the configuration (expand_conduits). */
static int add_plan_conduit(struct cctx *c, const struct seg_conduit *k)
{
	struct seg_plan_conduit *pc = &c->plan->conduits[c->plan->n_conduits++];

	pc->name = strdup(k->name);
	pc->from = strdup(c->cfg->zones[k->from].name);
	pc->to = strdup(c->cfg->zones[k->to].name);
	pc->line = k->line;
	return pc->name && pc->from && pc->to ? 0 : -ENOMEM;
}

static int expand_conduits(struct cctx *c)
{
	struct sides src = { 0 }, dst = { 0 };
	int r = 0;

	c->plan->conduits = calloc(c->cfg->n_conduits + 1, sizeof(*c->plan->conduits));
	if (!c->plan->conduits)
		return -ENOMEM;
	for (size_t i = 0; i < c->cfg->n_conduits && r == 0; i++) {
		const struct seg_conduit *k = &c->cfg->conduits[i];
		if (k->expired) {
			c->plan->counts.conduits_expired++;
			continue;
		}
		/* a guarded pair, an isolated zone, or a zone without interfaces: no packet can reach it */
		if (seg_zone_pair_guarded(c->cfg, k->from, k->to) || k->from == k->to ||
		    c->cfg->zones[k->from].isolated || c->cfg->zones[k->to].isolated ||
		    !(zone_has_ifaces(c->cfg, k->from) || seg_zone_is_gateway(c->cfg, k->from)) ||
		    !zone_has_ifaces(c->cfg, k->to)) {
			c->plan->counts.conduits_unreachable++;
			continue;
		}
		r = add_plan_conduit(c, k);
		if (r == 0)
			r = expand_conduit(c, k, &src, &dst);
		c->plan->counts.conduits_installed++;
	}
	free(src.v);
	free(dst.v);
	return r;
}

/* ---- sets ---- */

/* Creates the set only when it has elements; returns its index, -1 when
 * empty, or -errno. Takes ownership of name and of v's elements. */
static int32_t set_from(struct cctx *c, char *name, const enum seg_ktype *key, size_t n_key,
			bool interval, struct evec *v)
{
	if (v->n == 0) {
		free(name);
		return -1;
	}
	int32_t si = add_set(c->plan, name, key, n_key, interval, false, v->line);
	if (si < 0)
		return si;
	int r = finish_set(&c->plan->sets[si], v);
	return r < 0 ? r : si;
}

static int add_nd_set(struct cctx *c, int32_t *ret)
{
	static const enum seg_ktype key[] = { SEG_KT_ICMPV6_TYPE };
	struct evec v = { 0 };
	int r = 0;

	static const uint8_t types[] = SEG_LINK_ICMPV6_TYPES;   /* MLD, RS, RA, NS, NA */

	for (size_t i = 0; i < sizeof(types) && r == 0; i++) {
		struct seg_plan_elem e = { 0 };
		put_value(&e, 0, &types[i], 1);
		r = evec_push(&v, &e);
	}
	int32_t si = r < 0 ? r : set_from(c, strf("nd"), key, 1, false, &v);
	free(v.v);
	*ret = si;
	return si < 0 ? si : 0;
}

/* One address set per family (names[0] v4, names[1] v6) from the ranges
 * of sd; out[f] = the set or -1 when that family has none. Takes names. */
static int family_sets(struct cctx *c, const struct sides *sd, int line, char *names[2], int32_t out[2])
{
	static const enum seg_ktype k4[] = { SEG_KT_IPV4 }, k6[] = { SEG_KT_IPV6 };
	struct evec v[2] = { { 0 }, { 0 } };
	int r = 0;

	for (size_t i = 0; i < sd->n && r == 0; i++) {
		struct seg_plan_elem e = { .line = line };
		put_range(&e, 0, sd->v[i].lo, sd->v[i].hi, fam_width(sd->v[i].fam));
		v[sd->v[i].fam].line = line;
		r = evec_push(&v[sd->v[i].fam], &e);
	}
	for (int f = 0; f < 2; f++) {
		out[f] = r < 0 ? (free(names[f]), -1) : set_from(c, names[f], f ? k6 : k4, 1, true, &v[f]);
		if (out[f] < -1)
			r = out[f];
		free(v[f].v);
	}
	return r;
}

static int add_zone_sets(struct cctx *c, size_t z)
{
	struct sides s = { 0 };
	const char *zn = c->cfg->zones[z].name;
	int r = zone_sides(c->map, z, &s);
	char *names[2] = { strf("z4.%s", zn), strf("z6.%s", zn) };

	if (r == 0)
		r = family_sets(c, &s, c->cfg->zones[z].line, names, &c->zset[z * 2]);
	else
		free(names[0]), free(names[1]);
	free(s.v);
	return r;
}

/* Services of a zone on the gateway (gateway_services: set prefix "g",
 * link_services: "k"): [0] proto.port exact, [1] proto.port ranges, [2]
 * proto, [3] ICMP types, [4] ICMPv6 types (a named query: icmp/echo-request
 * opens that type only). */
enum { NSVC = 5 };

static int add_service_sets(struct cctx *c, size_t z, const struct seg_service *svc, size_t n, char prefix,
			    int32_t gset[NSVC], bool *any)
{
	static const enum seg_ktype kp[] = { SEG_KT_PROTO, SEG_KT_PORT }, kl[] = { SEG_KT_PROTO },
		kt4[] = { SEG_KT_ICMP_TYPE }, kt6[] = { SEG_KT_ICMPV6_TYPE };
	static const struct { const char *tag; const enum seg_ktype *key; size_t n; } sets[NSVC] = {
		{ "p", kp, 2 }, { "pi", kp, 2 }, { "l", kl, 1 }, { "t4", kt4, 1 }, { "t6", kt6, 1 },
	};
	const struct seg_zone *zn = &c->cfg->zones[z];
	struct evec v[NSVC] = { { 0 } };
	int r = 0;

	*any = false;
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct seg_service *sv = &svc[i];
		struct seg_plan_elem e = { .line = sv->line };
		int which = 2;
		if (sv->proto == SEG_PROTO_ANY) {
			*any = true;
			continue;
		}
		uint8_t proto = proto_byte(sv->proto);
		put_value(&e, 0, sv->typed ? &sv->icmp_type : &proto, 1);
		if (sv->typed)
			which = sv->proto == SEG_PROTO_ICMP ? 3 : 4;
		if (sv->proto == SEG_PROTO_TCP || sv->proto == SEG_PROTO_UDP) {
			uint8_t lo[2] = { (uint8_t)(sv->port_lo >> 8), (uint8_t)sv->port_lo };
			uint8_t hi[2] = { (uint8_t)(sv->port_hi >> 8), (uint8_t)sv->port_hi };
			put_range(&e, 4, lo, hi, 2);
			which = sv->port_lo == sv->port_hi ? 0 : 1;
		}
		v[which].line = v[which].line ? v[which].line : sv->line;
		r = evec_push(&v[which], &e);
	}
	for (int k = 0; k < NSVC; k++) {
		gset[k] = r < 0 ? -1 : set_from(c, strf("%c.%s.%s", prefix, zn->name, sets[k].tag), sets[k].key,
						sets[k].n, k == 1, &v[k]);
		if (gset[k] < -1)
			r = gset[k];
		free(v[k].v);
	}
	return r;
}

/* The key of a shape's set; ws: without the source (its first field). */
static void shape_ktypes(int sh, int fam, int ws, enum seg_ktype *k)
{
	enum seg_ktype a = fam ? SEG_KT_IPV6 : SEG_KT_IPV4;
	enum seg_ktype all[4] = { a, a, SEG_KT_PROTO,
				  sh != SH_ICMP ? SEG_KT_PORT : fam ? SEG_KT_ICMPV6_TYPE : SEG_KT_ICMP_TYPE };

	memcpy(k, all + ws, sizeof(all) - (size_t)ws * sizeof(all[0]));
}

/* Creates the conduit sets of pair a->b (pair_sets). */
static int add_pair_sets(struct cctx *c, size_t a, size_t b, pair_sets cset)
{
	static const enum seg_ktype r4[] = { SEG_KT_IPV4, SEG_KT_IPV4, SEG_KT_PROTO },
		r6[] = { SEG_KT_IPV6, SEG_KT_IPV6, SEG_KT_PROTO };
	int r = 0;

	/* exact host pairs in a hash set, prefixes and whole zones in an interval one */
	for (int f = 0; f < 4 && r == 0; f++) {
		struct evec *v = &c->rel[(a * c->nz + b) * 4 + (size_t)f];
		int32_t si = set_from(c, strf("r%d%s.%s.%s", f / 2 ? 6 : 4, f % 2 ? "i" : "", c->cfg->zones[a].name,
					      c->cfg->zones[b].name), f / 2 ? r6 : r4, 3, f % 2, v);
		c->rset[(a * c->nz + b) * 4 + (size_t)f] = si;
		r = si < -1 ? si : 0;
		free(v->v);
		*v = (struct evec){ 0 };
	}

	for (int f = 0; f < 2; f++)
		for (int sh = 0; sh < SH_COUNT; sh++)
			for (int iv = 0; iv < 2; iv++)
				for (int ws = 0; ws < 2; ws++) {
					struct evec *v = &c->buckets[bucket_index(c, a, b, f, sh, iv, ws)];
					enum seg_ktype k[4];
					int32_t *si = &cset[f][sh][iv][ws];
					shape_ktypes(sh, f, ws, k);
					*si = r < 0 ? -1 :
						set_from(c, strf("c%d%s%s%s.%s.%s", f ? 6 : 4, shapes[sh].tag, ws ? "w" : "",
								 iv ? "i" : "", c->cfg->zones[a].name, c->cfg->zones[b].name),
							 k, shapes[sh].n - (size_t)ws, iv, v);
					if (*si < -1)
						r = *si;
					else if (*si >= 0)     /* per-conduit packet counts (segctl stats) */
						c->plan->sets[*si].counter = true;
					free(v->v);
					*v = (struct evec){ 0 };
				}
	return r;
}

/* Verdict maps of the interfaces: izones (iifname -> in.Z), ozones
 * (oifname -> out.Z), pairs (iifname . oifname -> p.A.B). */
static int add_iface_maps(struct cctx *c, const int32_t *zch, const int32_t *pch, int32_t maps[3])
{
	static const enum seg_ktype k1[] = { SEG_KT_IFNAME }, k2[] = { SEG_KT_IFNAME, SEG_KT_IFNAME };
	static const char *const names[3] = { "izones", "ozones", "pairs" };
	const struct seg_config *cfg = c->cfg;
	struct evec v[3] = { { 0 }, { 0 }, { 0 } };
	int r = 0;

	for (size_t a = 0; a < cfg->n_zones; a++)
		for (size_t i = 0; i < cfg->zones[a].n_ifaces && r == 0; i++) {
			const char *in = cfg->zones[a].ifaces[i];
			struct seg_plan_elem e = { .verdict = SEG_V_GOTO, .chain = (uint32_t)zch[a * ZCH + ZCH_IN],
						   .line = cfg->zones[a].line };
			strncpy((char *)e.lo, in, SEG_IFNAMSIZ - 1);
			memcpy(e.hi, e.lo, SEG_IFNAMSIZ);
			r = evec_push(&v[0], &e);
			e.chain = (uint32_t)zch[a * ZCH + ZCH_OUT];
			if (r == 0)
				r = evec_push(&v[1], &e);
			for (size_t b = 0; b < cfg->n_zones && r == 0; b++)
				for (size_t j = 0; j < cfg->zones[b].n_ifaces && r == 0; j++) {
					e.chain = (uint32_t)pch[a * c->nz + b];
					strncpy((char *)e.lo + 16, cfg->zones[b].ifaces[j], SEG_IFNAMSIZ - 1);
					memcpy(e.hi, e.lo, 32);
					r = evec_push(&v[2], &e);
					memset(e.lo + 16, 0, 16);
				}
		}
	for (int k = 0; k < 3; k++) {
		v[k].line = 0;
		maps[k] = r < 0 ? -1 : set_from(c, strf("%s", names[k]), k == 2 ? k2 : k1, k == 2 ? 2 : 1, false, &v[k]);
		if (maps[k] >= 0)
			c->plan->sets[maps[k]].vmap = true;
		else if (maps[k] < -1)
			r = maps[k];
		free(v[k].v);
	}
	return r;
}

/* The gateway's own interfaces, outside every zone: loopback and
 * settings.management_interfaces. */
static int add_local_set(struct cctx *c, int32_t *ret)
{
	static const enum seg_ktype k1[] = { SEG_KT_IFNAME };
	const struct seg_settings *st = &c->cfg->settings;
	struct evec v = { 0 };
	int r = 0;

	for (size_t i = 0; i <= st->n_mgmt_ifaces && r == 0; i++) {
		struct seg_plan_elem e = { .line = i ? st->line : 0 };
		strncpy((char *)e.lo, i ? st->mgmt_ifaces[i - 1] : "lo", SEG_IFNAMSIZ - 1);
		memcpy(e.hi, e.lo, SEG_IFNAMSIZ);
		r = evec_push(&v, &e);
	}
	*ret = r < 0 ? r : set_from(c, strf("local"), k1, 1, false, &v);
	free(v.v);
	return *ret < 0 ? *ret : 0;
}

/* Link scope (seg_link_scope): what never leaves the wire it is on, so
 * belongs to no zone (zonemap.c): VRRP, OSPF, IGMP, DHCP and DHCPv6, MLD. */
static int add_link_scope_sets(struct cctx *c, int32_t ls[2])
{
	struct sides sd = { 0 };
	size_t n;
	const struct seg_prefix *blocks = seg_link_scope(&n);
	char *names[2] = { strf("ls4"), strf("ls6") };
	int r = prefix_sides(blocks, n, &sd);

	if (r == 0)
		r = family_sets(c, &sd, 0, names, ls);
	else
		free(names[0]), free(names[1]);
	free(sd.v);
	return r;
}

/* ---- rules ---- */

/* The MAC bindings of zone z's hosts: [fam][0] the bound hosts, [fam][1]
 * host . MAC, from the installed conduits (an expired one binds nothing). */
static int add_mac_sets(struct cctx *c, size_t z)
{
	static const enum seg_ktype h4[] = { SEG_KT_IPV4 }, h6[] = { SEG_KT_IPV6 },
		m4[] = { SEG_KT_IPV4, SEG_KT_ETHER }, m6[] = { SEG_KT_IPV6, SEG_KT_ETHER };
	const enum seg_ktype *keys[2][2] = { { h4, m4 }, { h6, m6 } };
	struct evec v[2][2] = { { { 0 }, { 0 } }, { { 0 }, { 0 } } };
	int r = 0;

	for (size_t i = 0; i < c->cfg->n_conduits && r == 0; i++) {
		const struct seg_conduit *k = &c->cfg->conduits[i];
		for (int side = 0; side < 2 && r == 0 && !k->expired; side++) {
			const struct seg_prefix *p = side ? k->dsts : k->srcs;
			size_t n = side ? k->n_dsts : k->n_srcs;
			if ((side ? k->to : k->from) != z)
				continue;
			for (size_t j = 0; j < n && r == 0; j++) {
				if (!p[j].has_mac)
					continue;
				int f = p[j].family == AF_INET6;
				size_t w = fam_width(f);
				struct seg_plan_elem e = { .line = p[j].line }, em = { .line = p[j].line };
				put_value(&e, 0, p[j].addr, w);
				put_value(&em, 0, p[j].addr, w);
				put_value(&em, w, p[j].mac, 6);
				v[f][0].line = v[f][1].line = v[f][0].line ? v[f][0].line : p[j].line;
				if ((r = evec_push(&v[f][0], &e)) == 0)
					r = evec_push(&v[f][1], &em);
			}
		}
	}
	for (int f = 0; f < 2; f++)
		for (int t = 0; t < 2; t++) {
			int32_t si = r < 0 ? -1 : set_from(c, strf("%s%d.%s", t ? "mac" : "mb", f ? 6 : 4,
							       c->cfg->zones[z].name), keys[f][t], (size_t)t + 1, false,
							   &v[f][t]);
			if (si < -1)
				r = si;
			c->mset[(z * 2 + (size_t)f) * 2 + (size_t)t] = si;
			free(v[f][t].v);
		}
	return r;
}

/* Frames from a bound host that carry another MAC: spoofed. */
static int add_mac_drops(struct cctx *c, uint32_t chain, size_t z, const char *to)
{
	static const enum seg_field saddr[2][2] = { { SEG_F_IP_SADDR, SEG_F_ETHER_SADDR },
						    { SEG_F_IP6_SADDR, SEG_F_ETHER_SADDR } };
	const struct seg_zone *zn = &c->cfg->zones[z];

	for (int f = 0; f < 2; f++) {
		int32_t hosts = c->mset[(z * 2 + (size_t)f) * 2], pairs = c->mset[(z * 2 + (size_t)f) * 2 + 1];
		if (hosts < 0 || pairs < 0)
			continue;
		struct seg_plan_rule *r = add_drop(c->plan, chain, 'S', zn->name, to, c->plan->sets[pairs].line);
		if (!r)
			return -ENOMEM;
		cond_lookup(r, SEG_C_LOOKUP, (uint32_t)hosts, false, saddr[f], 1);
		cond_lookup(r, SEG_C_LOOKUP, (uint32_t)pairs, true, saddr[f], 2);
	}
	return 0;
}

static int add_spoof(struct cctx *c, uint32_t chain, size_t z, const char *to)
{
	static const enum seg_field saddr[2] = { SEG_F_IP_SADDR, SEG_F_IP6_SADDR };
	const struct seg_zone *zn = &c->cfg->zones[z];

	for (int f = 0; f < 2; f++) {
		struct seg_plan_rule *r = add_drop(c->plan, chain, 'S', zn->name, to, zn->line);
		if (!r)
			return -ENOMEM;
		int32_t si = c->zset[z * 2 + (size_t)f];
		if (si >= 0)
			cond_lookup(r, SEG_C_LOOKUP, (uint32_t)si, true, &saddr[f], 1);
		else                 /* the zone has no address of this family at all */
			cond_simple(r, SEG_C_NFPROTO, f ? 6 : 4);
	}
	return add_mac_drops(c, chain, z, to);
}

static int add_conduit_lookups(struct cctx *c, uint32_t chain, pair_sets cset, bool reply, bool *any);

/* Lookups of a zone's service sets (add_service_sets); sport: also by the
 * source port (link services). */
static int accept_services(struct cctx *c, uint32_t chain, const int32_t set[NSVC], bool sport)
{
	static const enum seg_field fp[2][2] = { { SEG_F_L4PROTO, SEG_F_TH_DPORT }, { SEG_F_L4PROTO, SEG_F_TH_SPORT } },
		ft[2] = { SEG_F_ICMP_TYPE, SEG_F_ICMPV6_TYPE };
	struct seg_plan *p = c->plan;

	for (int k = 0; k < NSVC; k++)
		for (int port = 0; port < (k < 2 && sport ? 2 : 1); port++) {
			struct seg_plan_rule *r;
			if (set[k] < 0)
				continue;
			if (!(r = add_rule(p, chain, SEG_A_ACCEPT, p->sets[set[k]].line)))
				return -ENOMEM;
			cond_lookup(r, SEG_C_LOOKUP, (uint32_t)set[k], false, k >= 3 ? &ft[k - 3] : fp[port],
				    k < 2 ? 2 : 1);
		}
	return 0;
}

/* Rules that send link-scope packets (ls4/ls6 on the given address fields)
 * to chain target; v4 has no link-scope sources a zone could own. */
static int goto_link(struct cctx *c, uint32_t chain, uint32_t target, const enum seg_field *f4,
		     const enum seg_field *f6, size_t n6)
{
	for (size_t i = 0; i < n6 + (f4 != NULL); i++) {
		bool v4 = i == n6;
		int32_t si = c->ls[!v4];
		struct seg_plan_rule *r;
		if (si < 0)
			continue;
		if (!(r = add_rule(c->plan, chain, SEG_A_GOTO, 0)))
			return -ENOMEM;
		cond_lookup(r, SEG_C_LOOKUP, (uint32_t)si, false, v4 ? f4 : &f6[i], 1);
		r->target = target;
	}
	return 0;
}

/* li.Z / lo.Z: the zone's link_services, either port of the pair (a client
 * on udp/546 talks to a server on udp/547); link scope never leaves the
 * wire, so this is about which protocols the gateway speaks there. */
static int fill_link(struct cctx *c, uint32_t chain, size_t z, const int32_t lset[NSVC], bool in)
{
	const char *zn = c->cfg->zones[z].name;

	if (accept_services(c, chain, lset, true) < 0)
		return -ENOMEM;
	return add_drop(c->plan, chain, 'L', in ? zn : NULL, in ? NULL : zn, c->cfg->zones[z].line) ? 0 : -ENOMEM;
}

/* ICMP errors of the connections of pair a -> b, back to their originator
 * in a: only from a host the originator may reach by that protocol (ct
 * original ip saddr . ip saddr . ct protocol in r.a.b), not from any host
 * that quotes an approved connection. */
static int accept_errors(struct cctx *c, uint32_t chain, size_t a, size_t b)
{
	static const enum seg_field rel[2][3] = { { SEG_F_CT_OSADDR, SEG_F_IP_SADDR, SEG_F_CT_PROTO },
						  { SEG_F_CT_OSADDR6, SEG_F_IP6_SADDR, SEG_F_CT_PROTO } };

	for (int f = 0; f < 4; f++) {
		int32_t si = c->rset[(a * c->nz + b) * 4 + (size_t)f];
		struct seg_plan_rule *r;
		if (si < 0)
			continue;
		if (!(r = add_rule(c->plan, chain, SEG_A_ACCEPT, c->plan->sets[si].line)))
			return -ENOMEM;
		cond_simple(r, SEG_C_CT_REPLY, 0);
		cond_simple(r, SEG_C_CT_RELATED, 0);
		cond_lookup(r, SEG_C_LOOKUP, (uint32_t)si, false, rel[f / 2], 3);
	}
	return 0;
}

/* ICMP errors about the gateway's own connections to zone z (r4.gateway.Z). */
static int accept_gateway_errors(struct cctx *c, uint32_t chain, size_t z)
{
	int g = seg_gateway_zone(c->cfg);

	return g < 0 ? 0 : accept_errors(c, chain, (size_t)g, z);
}

static int fill_input_zone(struct cctx *c, const int32_t *zch, size_t z, const int32_t gset[NSVC], bool any)
{
	static const enum seg_field ft[] = { SEG_F_ICMPV6_TYPE }, f4[] = { SEG_F_IP_DADDR },
		f6[] = { SEG_F_IP6_SADDR, SEG_F_IP6_DADDR };
	struct seg_plan *p = c->plan;
	struct seg_plan_rule *r;
	uint32_t chain = (uint32_t)zch[ZCH_IN];
	int line = c->cfg->zones[z].line;

	if (c->nd >= 0) {
		if (!(r = add_rule(p, chain, SEG_A_ACCEPT, 0)))
			return -ENOMEM;
		cond_lookup(r, SEG_C_LOOKUP, (uint32_t)c->nd, false, ft, 1);
	}
	if (goto_link(c, chain, (uint32_t)zch[ZCH_LIN], f4, f6, 2) < 0)
		return -ENOMEM;
	if (add_spoof(c, chain, z, NULL) < 0 || !(r = add_rule(p, chain, SEG_A_ACCEPT, 0)))
		return -ENOMEM;
	cond_simple(r, SEG_C_CT_REPLY, 0);     /* replies of the gateway's own connections */
	cond_simple(r, SEG_C_CT_ESTABLISHED, 0);
	if (accept_gateway_errors(c, chain, z) < 0 || accept_services(c, chain, gset, false) < 0)
		return -ENOMEM;
	if (any && !add_rule(p, chain, SEG_A_ACCEPT, line))
		return -ENOMEM;
	return add_drop(p, chain, 'G', c->cfg->zones[z].name, NULL, line) ? 0 : -ENOMEM;
}

/* out.Z: what the gateway itself sends to zone z. */
static int fill_output_zone(struct cctx *c, const int32_t *zch, size_t z, pair_sets *csets)
{
	static const enum seg_field f4[] = { SEG_F_IP_DADDR }, f6[] = { SEG_F_IP6_DADDR };
	uint32_t chain = (uint32_t)zch[ZCH_OUT];
	struct seg_plan_rule *r;
	int g = seg_gateway_zone(c->cfg);
	bool any;

	/* answers of the gateway's services, and its ICMP errors about packets
	 * it was sent or asked to forward: back to their sender, who wrote them */
	if (!(r = add_rule(c->plan, chain, SEG_A_ACCEPT, 0)))
		return -ENOMEM;
	cond_simple(r, SEG_C_CT_REPLY, 0);
	if (!(r = add_rule(c->plan, chain, SEG_A_ACCEPT, 0)))
		return -ENOMEM;
	cond_simple(r, SEG_C_CT_RELATED, 0);
	if (goto_link(c, chain, (uint32_t)zch[ZCH_LOUT], f4, f6, 1) < 0)
		return -ENOMEM;
	if (g >= 0) {
		if (add_conduit_lookups(c, chain, csets[(size_t)g * c->nz + z], false, &any) < 0)
			return -ENOMEM;
	}
	return add_drop(c->plan, chain, 'O', NULL, c->cfg->zones[z].name, 0) ? 0 : -ENOMEM;
}

/* Lookups of a pair's conduit sets, as the packet goes (orig) or reversed
 * (reply); a whole-source set is looked up without the first field (the
 * original source: saddr as the packet goes, daddr in reply). */
static int add_conduit_lookups(struct cctx *c, uint32_t chain, pair_sets cset, bool reply, bool *any)
{
	*any = false;
	for (int f = 0; f < 2; f++)
		for (int sh = 0; sh < SH_COUNT; sh++)
			for (int iv = 0; iv < 2; iv++)
				for (int ws = 0; ws < 2; ws++) {
					int32_t si = cset[f][sh][iv][ws];
					if (si < 0)
						continue;
					struct seg_plan_rule *r = add_rule(c->plan, chain, SEG_A_ACCEPT, c->plan->sets[si].line);
					if (!r)
						return -ENOMEM;
					if (reply)
						cond_simple(r, SEG_C_CT_REPLY, 0);
					else if (sh == SH_ICMP)   /* a query opens; its answer never does */
						cond_simple(r, SEG_C_CT_ORIGINAL, 0);
					const enum seg_field *fields = reply ? shapes[sh].reply[f] : shapes[sh].orig[f];
					cond_lookup(r, SEG_C_LOOKUP, (uint32_t)si, false, fields + ws, shapes[sh].n - (size_t)ws);
					*any = true;
				}
	return 0;
}

static int fill_pair(struct cctx *c, uint32_t chain, size_t a, size_t b, pair_sets *csets)
{
	const struct seg_config *cfg = c->cfg;
	const char *an = cfg->zones[a].name, *bn = cfg->zones[b].name;
	bool any_reply;

	if (add_spoof(c, chain, a, bn) < 0)
		return -ENOMEM;
	if (a == b)
		return add_rule(c->plan, chain, SEG_A_ACCEPT, cfg->zones[a].line) ? 0 : -ENOMEM;
	if (cfg->zones[a].isolated || cfg->zones[b].isolated)   /* segctl isolate: both directions */
		return add_drop(c->plan, chain, 'I', an, bn, 0) ? 0 : -ENOMEM;
	if (seg_zone_pair_guarded(cfg, a, b))
		return add_drop(c->plan, chain, 'M', an, bn, 0) ? 0 : -ENOMEM;
	if (add_conduit_lookups(c, chain, csets[a * c->nz + b], false, &any_reply) < 0 ||
	    add_conduit_lookups(c, chain, csets[b * c->nz + a], true, &any_reply) < 0)
		return -ENOMEM;
	/* ICMP errors (PMTU, unreachable) of those connections, back to their originator in b */
	if (any_reply && accept_errors(c, chain, b, a) < 0)
		return -ENOMEM;
	return add_drop(c->plan, chain, 'D', an, bn, 0) ? 0 : -ENOMEM;
}

static uint32_t rule_id(const struct seg_plan *p, const struct seg_plan_chain *ch, const struct seg_plan_rule *r)
{
	uint32_t h = fnv1a(2166136261u, ch->name, strlen(ch->name) + 1);

	h = fnv1a(h, &r->action, sizeof(r->action));
	if (r->log_prefix)
		h = fnv1a(h, r->log_prefix, strlen(r->log_prefix));
	if (r->action == SEG_A_GOTO)
		h = fnv1a(h, p->chains[r->target].name, strlen(p->chains[r->target].name));
	for (size_t i = 0; i < r->n_c; i++) {
		const struct seg_plan_cond *k = &r->c[i];
		h = fnv1a(h, &k->kind, sizeof(k->kind));
		h = fnv1a(h, &k->arg, sizeof(k->arg));
		h = fnv1a(h, &k->invert, sizeof(k->invert));
		h = fnv1a(h, k->f, k->n_f * sizeof(k->f[0]));
		if (k->kind == SEG_C_LOOKUP || k->kind == SEG_C_VMAP)
			h = fnv1a(h, p->sets[k->set].name, strlen(p->sets[k->set].name));
	}
	return h;
}

static void stamp_rules(struct seg_plan *p)
{
	p->counts.sets = p->n_sets;
	p->counts.chains = p->n_chains;
	for (size_t i = 0; i < p->n_sets; i++)
		p->counts.elems += p->sets[i].n_elems;
	for (size_t i = 0; i < p->n_chains; i++)
		for (size_t j = 0; j < p->chains[i].n_rules; j++) {
			p->chains[i].rules[j].id = rule_id(p, &p->chains[i], &p->chains[i].rules[j]);
			p->counts.rules++;
		}
}

/* Chains first (empty), so that verdict maps can name them: forward (0),
 * input (1) and output (2) are the base chains add_base_rules fills. */
static int add_chains(struct cctx *c, int32_t *zch, int32_t *pch)
{
	static const char *const zpre[ZCH] = { "in", "out", "li", "lo" };
	const struct seg_config *cfg = c->cfg;
	int r = 0;

	if (add_chain(c->plan, strf("forward"), SEG_HOOK_FORWARD, true) < 0 ||
	    add_chain(c->plan, strf("input"), SEG_HOOK_INPUT, false) < 0 ||
	    add_chain(c->plan, strf("output"), SEG_HOOK_OUTPUT, false) < 0)
		return -ENOMEM;
	for (size_t z = 0; z < cfg->n_zones && r == 0; z++)
		for (int k = 0; k < ZCH && r == 0 && zone_has_ifaces(cfg, z); k++)
			if ((zch[z * ZCH + k] = add_chain(c->plan, strf("%s.%s", zpre[k], cfg->zones[z].name), SEG_HOOK_NONE,
							  false)) < 0)
				r = zch[z * ZCH + k];
	for (size_t a = 0; a < cfg->n_zones && r == 0; a++)
		for (size_t b = 0; b < cfg->n_zones && r == 0; b++) {
			if (!zone_has_ifaces(cfg, a) || !zone_has_ifaces(cfg, b))
				continue;
			int32_t ci = add_chain(c->plan, strf("p.%s.%s", cfg->zones[a].name, cfg->zones[b].name),
					       SEG_HOOK_NONE, false);
			pch[a * c->nz + b] = ci;
			r = ci < 0 ? ci : 0;
		}
	return r;
}

static int add_all_sets(struct cctx *c, int32_t *gsets, bool *gany, pair_sets *csets)
{
	const struct seg_config *cfg = c->cfg;
	int r = add_nd_set(c, &c->nd);
	bool any;

	if (r == 0)
		r = add_local_set(c, &c->local);
	if (r == 0)
		r = add_link_scope_sets(c, c->ls);
	for (size_t z = 0; z < cfg->n_zones && r == 0; z++)
		if (zone_has_ifaces(cfg, z) && (r = add_zone_sets(c, z)) == 0)
			r = add_mac_sets(c, z);
	for (size_t z = 0; z < cfg->n_zones && r == 0; z++) {
		const struct seg_zone *zn = &cfg->zones[z];
		if (!zone_has_ifaces(cfg, z))
			continue;
		r = add_service_sets(c, z, zn->gw_services, zn->n_gw_services, 'g', &gsets[z * 2 * NSVC], &gany[z]);
		if (r == 0)   /* link services are never 'any' (validate.c) */
			r = add_service_sets(c, z, zn->link_services, zn->n_link_services, 'k', &gsets[(z * 2 + 1) * NSVC], &any);
	}
	for (size_t a = 0; a < cfg->n_zones && r == 0; a++)
		for (size_t b = 0; b < cfg->n_zones && r == 0; b++)
			r = add_pair_sets(c, a, b, csets[a * c->nz + b]);
	return r;
}

/* The base chains: each ends in a counted rule of its own, never in its
 * policy (a base chain's policy is accept until the commit that creates it
 * has finished). What no zone's interface carries is dropped as unzoned —
 * forwarded, to the gateway or from it — except on the gateway's own
 * interfaces (loopback, settings.management_interfaces). */
static int add_base_rules(struct cctx *c, const int32_t maps[3])
{
	static const enum seg_field fi[] = { SEG_F_IIFNAME }, fo[] = { SEG_F_OIFNAME },
		f2[] = { SEG_F_IIFNAME, SEG_F_OIFNAME }, ft[] = { SEG_F_ICMPV6_TYPE };
	static const struct { int map; const enum seg_field *f; size_t n; } vmaps[3] = {
		{ 2, f2, 2 }, { 0, fi, 1 }, { 1, fo, 1 },
	};
	struct seg_plan_rule *r;

	for (uint32_t ch = 0; ch < 3; ch++) {
		if (ch > 0 && c->local >= 0) {
			if (!(r = add_rule(c->plan, ch, SEG_A_ACCEPT, 0)))
				return -ENOMEM;
			cond_lookup(r, SEG_C_LOOKUP, (uint32_t)c->local, false, vmaps[ch].f, 1);
		}
		if (ch == 2 && c->nd >= 0) {   /* neighbour discovery and MLD of the gateway itself */
			if (!(r = add_rule(c->plan, ch, SEG_A_ACCEPT, 0)))
				return -ENOMEM;
			cond_lookup(r, SEG_C_LOOKUP, (uint32_t)c->nd, false, ft, 1);
		}
		if (maps[vmaps[ch].map] >= 0) {
			if (!(r = add_rule(c->plan, ch, SEG_A_NONE, 0)))
				return -ENOMEM;
			cond_lookup(r, SEG_C_VMAP, (uint32_t)maps[vmaps[ch].map], false, vmaps[ch].f, vmaps[ch].n);
		}
		if (!add_drop(c->plan, ch, 'U', NULL, NULL, 0))
			return -ENOMEM;
	}
	return 0;
}

struct tables {
	int32_t *zch, *pch, *gsets;          /* gsets: [zone][gateway, link services][NSVC] */
	pair_sets *csets;                    /* [a][b] */
	bool *gany;
};

static void tables_free(struct tables *t)
{
	free(t->zch);
	free(t->pch);
	free(t->gsets);
	free(t->csets);
	free(t->gany);
}

static int tables_alloc(struct tables *t, size_t nz)
{
	size_t nc = nz * nz;

	t->zch = malloc((nz * ZCH + 1) * sizeof(int32_t));
	t->pch = malloc((nz * nz + 1) * sizeof(int32_t));
	t->gsets = malloc((nz * 2 * NSVC + 1) * sizeof(int32_t));
	t->csets = malloc((nc + 1) * sizeof(*t->csets));
	t->gany = calloc(nz + 1, sizeof(bool));
	if (!t->zch || !t->pch || !t->gsets || !t->csets || !t->gany)
		return -ENOMEM;
	memset(t->zch, 0xff, (nz * ZCH + 1) * sizeof(int32_t));      /* all -1 */
	memset(t->pch, 0xff, (nz * nz + 1) * sizeof(int32_t));
	memset(t->gsets, 0xff, (nz * 2 * NSVC + 1) * sizeof(int32_t));
	memset(t->csets, 0xff, (nc + 1) * sizeof(*t->csets));
	return 0;
}

static int fill_rules(struct cctx *c, const struct tables *t)
{
	const struct seg_config *cfg = c->cfg;
	int r = 0;

	for (size_t z = 0; z < cfg->n_zones && r == 0; z++) {
		const int32_t *zch = &t->zch[z * ZCH];
		if (zch[ZCH_IN] < 0)
			continue;
		r = fill_input_zone(c, zch, z, &t->gsets[z * 2 * NSVC], t->gany[z]);
		if (r == 0)
			r = fill_output_zone(c, zch, z, t->csets);
		for (int in = 1; in >= 0 && r == 0; in--)
			r = fill_link(c, (uint32_t)zch[in ? ZCH_LIN : ZCH_LOUT], z, &t->gsets[(z * 2 + 1) * NSVC], in);
	}
	for (size_t a = 0; a < cfg->n_zones && r == 0; a++)
		for (size_t b = 0; b < cfg->n_zones && r == 0; b++)
			if (t->pch[a * c->nz + b] >= 0)
				r = fill_pair(c, (uint32_t)t->pch[a * c->nz + b], a, b, t->csets);
	return r;
}

static int compile(struct cctx *c)
{
	struct tables t = { 0 };
	int32_t maps[3] = { -1, -1, -1 };
	int r = tables_alloc(&t, c->nz);

	if (r == 0)
		r = expand_conduits(c);
	if (r == 0)
		r = add_chains(c, t.zch, t.pch);
	if (r == 0)
		r = add_all_sets(c, t.gsets, t.gany, t.csets);
	if (r == 0)
		r = add_iface_maps(c, t.zch, t.pch, maps);
	if (r == 0)
		r = add_base_rules(c, maps);
	if (r == 0)
		r = fill_rules(c, &t);
	tables_free(&t);
	return r;
}

int seg_plan_compile(const struct seg_config *cfg, const struct seg_zonemap *map, struct seg_plan **ret)
{
	struct seg_plan *p = calloc(1, sizeof(*p));
	struct cctx c = { .cfg = cfg, .map = map, .plan = p, .nz = cfg->n_zones, .nd = -1, .local = -1,
			  .ls = { -1, -1 } };
	/* entries and elements differ (overlaps cut apart or merged, relation
	 * sets): twice the cap, and never past the compiler's own bound */
	c.limit = (size_t)cfg->settings.max_elements * 2 + 1000;
	if (c.limit > MAX_PLAN_ELEMS || cfg->settings.max_elements == 0)
		c.limit = MAX_PLAN_ELEMS;
	size_t nb = c.nz * c.nz * PAIR_SETS;
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->log_group = cfg->settings.log_group;
	p->table_line = cfg->settings.line;
	p->table = strdup(cfg->settings.table ? cfg->settings.table : "segd");
	p->file = cfg->file ? strdup(cfg->file) : NULL;
	c.buckets = calloc(nb + 1, sizeof(*c.buckets));
	c.zset = malloc((c.nz * 2 + 1) * sizeof(*c.zset));
	c.mset = malloc((c.nz * 4 + 1) * sizeof(*c.mset));
	c.rel = calloc(c.nz * c.nz * 4 + 1, sizeof(*c.rel));
	c.rset = malloc((c.nz * c.nz * 4 + 1) * sizeof(*c.rset));
	if (p->table && c.buckets && c.zset && c.mset && c.rel && c.rset) {
		memset(c.rset, 0xff, (c.nz * c.nz * 4 + 1) * sizeof(*c.rset));
		memset(c.zset, 0xff, (c.nz * 2 + 1) * sizeof(*c.zset));
		memset(c.mset, 0xff, (c.nz * 4 + 1) * sizeof(*c.mset));
		r = compile(&c);
	}
	for (size_t i = 0; c.buckets && i < nb; i++)
		free(c.buckets[i].v);
	free(c.buckets);
	free(c.zset);
	free(c.mset);
	for (size_t i = 0; c.rel && i < c.nz * c.nz * 4; i++)
		free(c.rel[i].v);
	free(c.rel);
	free(c.rset);
	if (r < 0) {
		seg_plan_free(p);
		return r;
	}
	stamp_rules(p);
	if (p->counts.elems > cfg->settings.max_elements) {
		seg_plan_free(p);
		return -E2BIG;
	}
	static uint64_t serials;
	p->serial = ++serials;
	*ret = p;
	return 0;
}

void seg_plan_free(struct seg_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_sets; i++) {
		free(plan->sets[i].name);
		free(plan->sets[i].elems);
	}
	for (size_t i = 0; i < plan->n_chains; i++) {
		for (size_t j = 0; j < plan->chains[i].n_rules; j++)
			free(plan->chains[i].rules[j].log_prefix);
		free(plan->chains[i].rules);
		free(plan->chains[i].name);
	}
	for (size_t i = 0; i < plan->n_conduits; i++) {
		free(plan->conduits[i].name);
		free(plan->conduits[i].from);
		free(plan->conduits[i].to);
	}
	free(plan->conduits);
	free(plan->sets);
	free(plan->chains);
	free(plan->table);
	free(plan->file);
	free(plan);
}
