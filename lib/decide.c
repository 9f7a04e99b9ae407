/*
 * decide.c - the policy of decide.h as a pure function, and the index that
 * makes it fast enough to compare against the kernel over millions of flows.
 *
 * Index: every non-expired conduit between two different, unguarded zones is
 * expanded into entries (source prefix x destination prefix x service). An
 * entry's "shape" is what it leaves open: the prefix lengths, whether the
 * destination is "the whole exit zone", and whether the service fixes the
 * port, only the protocol (icmp, port ranges) or nothing ('any'). Per zone
 * pair there are few shapes, so seg_decide masks the flow once per shape and
 * probes one hash table (tuple space search); port ranges hang off the entry
 * as a short candidate list. Conduits whose expansion would be too large are
 * checked one by one instead (the "big" list): always correct, only slower.
 * Among several conduits that hold a flow the first one in the file wins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "addr.h"
#include "decide.h"

/* Expansion limits: above them a conduit is checked linearly (see above). */
#define CONDUIT_EXPANSION_MAX  65536u
#define TOTAL_EXPANSION_MAX    (8u << 20)
#define PAIR_SHAPES_MAX        4096u

enum svc_shape { SVC_PORT, SVC_PROTO, SVC_ANY };

struct shape {
	uint8_t family, slen, dlen, dwhole, svc;
};

struct key {
	uint8_t src[16], dst[16];
	uint16_t pair, shape, port;
	uint8_t proto, pad;
};

struct slot {
	struct key k;
	uint32_t head, tail;          /* 1-based into cands; head 0: empty slot */
};

struct cand {
	uint16_t lo, hi;              /* destination ports this conduit opens */
	uint32_t conduit;
	uint32_t next;                /* 1-based; 0 ends the list */
};

struct pair {
	struct shape *shapes;
	size_t n_shapes, cap_shapes;
	uint32_t *big;                /* conduit indexes, ascending */
	size_t n_big, cap_big;
};

struct iface {
	const char *name;
	int zone;
};

struct seg_policy {
	const struct seg_config *cfg;
	struct seg_zonemap map;
	struct iface *ifaces;
	size_t n_ifaces;
	struct pair *pairs;           /* n_zones * n_zones, [from * n + to] */
	struct slot *slots;
	size_t mask, used;            /* capacity - 1, occupied slots */
	struct cand *cands;
	size_t n_cands, cap_cands;
	size_t expanded;
};

/* One side of an entry while expanding a conduit. */
struct side {
	int family;
	uint8_t len, whole;
	const uint8_t *addr;
};

static const uint8_t zero16[16];

static const char *const reason_names[SEG_REASON_COUNT] = {
	[SEG_REASON_INTRA_ZONE] = "intra-zone",
	[SEG_REASON_CONDUIT] = "conduit",
	[SEG_REASON_DEFAULT_DENY] = "default-deny",
	[SEG_REASON_MODEL_GUARD] = "model-guard",
	[SEG_REASON_SPOOFED_SOURCE] = "spoofed-source",
	[SEG_REASON_UNZONED] = "unzoned",
	[SEG_REASON_NO_ZONE] = "no-zone",
	[SEG_REASON_TO_GATEWAY] = "to-gateway",
	[SEG_REASON_GATEWAY_SERVICE] = "gateway-service",
	[SEG_REASON_NEIGHBOR_DISCOVERY] = "neighbor-discovery",
	[SEG_REASON_LOCAL_INTERFACE] = "local-interface",
	[SEG_REASON_ISOLATED] = "isolated",
	[SEG_REASON_LINK_SERVICE] = "link-service",
	[SEG_REASON_LINK_SCOPE] = "link-scope",
	[SEG_REASON_FROM_GATEWAY] = "from-gateway",
};

const char *seg_reason_name(enum seg_reason r)
{
	return (unsigned)r < SEG_REASON_COUNT ? reason_names[r] : "?";
}

/* ---- matching a flow against the model, one conduit at a time ---- */

static bool service_holds(const struct seg_service *s, uint8_t l4proto, uint16_t dport)
{
	if (s->proto == SEG_PROTO_ANY)
		return true;
	if (seg_proto_ipproto(s->proto) != l4proto)
		return false;
	if (s->proto == SEG_PROTO_TCP || s->proto == SEG_PROTO_UDP)
		return dport >= s->port_lo && dport <= s->port_hi;
	return !s->typed || dport == s->icmp_type;   /* icmp flows carry their type in dport */
}

static bool services_hold(const struct seg_service *v, size_t n, uint8_t l4proto, uint16_t dport)
{
	for (size_t i = 0; i < n; i++)
		if (service_holds(&v[i], l4proto, dport))
			return true;
	return false;
}

/* A conduit side: its prefixes, or (none named) the whole zone. */
static bool side_holds(const struct seg_policy *p, const struct seg_prefix *v, size_t n,
		       size_t zone, int family, const uint8_t *addr)
{
	if (n == 0)   /* a conduit from the gateway: from any of its addresses */
		return seg_zone_is_gateway(p->cfg, zone) || seg_zonemap_lookup(&p->map, family, addr) == (int)zone;
	for (size_t i = 0; i < n; i++)
		if (seg_prefix_has(&v[i], family, addr))
			return true;
	return false;
}

unsigned seg_conduit_mismatch(const struct seg_policy *p, size_t conduit, const struct seg_flow *f)
{
	const struct seg_conduit *c = &p->cfg->conduits[conduit];
	unsigned m = 0;

	if (c->expired)
		m |= SEG_MISMATCH_EXPIRED;
	if (!side_holds(p, c->srcs, c->n_srcs, c->from, f->family, f->src))
		m |= SEG_MISMATCH_SOURCE;
	if (!side_holds(p, c->dsts, c->n_dsts, c->to, f->family, f->dst))
		m |= SEG_MISMATCH_DESTINATION;
	if (!services_hold(c->services, c->n_services, f->l4proto, f->dport))
		m |= SEG_MISMATCH_SERVICE;
	return m;
}

static bool kind_open_to_world(enum seg_zone_kind k)
{
	return k == SEG_ZONE_INTERNET || k == SEG_ZONE_EXTERNAL;
}

bool seg_zone_pair_guarded(const struct seg_config *cfg, size_t from, size_t to)
{
	enum seg_zone_kind a = cfg->zones[from].kind, b = cfg->zones[to].kind;

	return (a == SEG_ZONE_MYNUMBER && kind_open_to_world(b)) ||
	       (b == SEG_ZONE_MYNUMBER && kind_open_to_world(a));
}

/* ---- the hash table of entries ---- */

static size_t family_width(int family)
{
	return family == AF_INET ? 4 : 16;
}

static void mask_addr(uint8_t *out, const uint8_t *in, int family, unsigned len)
{
	size_t w = family_width(family);

	memset(out, 0, 16);
	for (size_t i = 0; i < w && len > 0; i++) {
		unsigned bits = len >= 8 ? 8 : len;
		out[i] = in[i] & (uint8_t)(0xff00u >> bits);
		len -= bits;
	}
}

static uint64_t hash_key(const struct key *k)
{
	uint64_t w[sizeof(*k) / 8], h = 0x243f6a8885a308d3ull;

	memcpy(w, k, sizeof(w));
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h = (h ^ w[i]) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

static const struct slot *find_slot(const struct seg_policy *p, const struct key *k)
{
	for (size_t i = hash_key(k) & p->mask;; i = (i + 1) & p->mask) {
		const struct slot *s = &p->slots[i];
		if (s->head == 0)
			return s;
		if (memcmp(&s->k, k, sizeof(*k)) == 0)
			return s;
	}
}

static int grow_slots(struct seg_policy *p)
{
	size_t cap = p->slots ? 2 * (p->mask + 1) : 1024;
	struct slot *old = p->slots, *v = calloc(cap, sizeof(*v));
	size_t old_cap = old ? p->mask + 1 : 0;

	if (!v)
		return -ENOMEM;
	p->slots = v;
	p->mask = cap - 1;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].head != 0)
			*(struct slot *)find_slot(p, &old[i].k) = old[i];
	free(old);
	return 0;
}

static int push_cand(struct seg_policy *p, uint16_t lo, uint16_t hi, size_t conduit)
{
	if (p->n_cands == p->cap_cands) {
		size_t cap = p->cap_cands ? 2 * p->cap_cands : 1024;
		struct cand *v = realloc(p->cands, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		p->cands = v;
		p->cap_cands = cap;
	}
	p->cands[p->n_cands++] = (struct cand){ .lo = lo, .hi = hi, .conduit = (uint32_t)conduit };
	return (int)0;
}

/* Adds a candidate under k. Conduits come in file order, so appending keeps
 * each list ascending; one that the list's first candidate covers adds nothing. */
static int insert_entry(struct seg_policy *p, const struct key *k, uint16_t lo, uint16_t hi,
			size_t conduit)
{
	int r;

	if (2 * (p->used + 1) > p->mask + 1 && (r = grow_slots(p)) < 0)
		return r;
	struct slot *s = (struct slot *)find_slot(p, k);
	if (s->head != 0) {
		const struct cand *first = &p->cands[s->head - 1];
		if (first->lo <= lo && first->hi >= hi)
			return 0;
	}
	if ((r = push_cand(p, lo, hi, conduit)) < 0)
		return r;
	uint32_t id = (uint32_t)p->n_cands;
	if (s->head == 0) {
		s->k = *k;
		s->head = id;
		p->used++;
	} else {
		p->cands[s->tail - 1].next = id;
	}
	s->tail = id;
	return 0;
}

/* ---- building the index ---- */

static int pair_shape(struct pair *pr, const struct shape *sh)
{
	for (size_t i = 0; i < pr->n_shapes; i++)
		if (memcmp(&pr->shapes[i], sh, sizeof(*sh)) == 0)
			return (int)i;
	if (pr->n_shapes >= PAIR_SHAPES_MAX)
		return -E2BIG;
	if (pr->n_shapes == pr->cap_shapes) {
		size_t cap = pr->cap_shapes ? 2 * pr->cap_shapes : 8;
		struct shape *v = realloc(pr->shapes, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pr->shapes = v;
		pr->cap_shapes = cap;
	}
	pr->shapes[pr->n_shapes] = *sh;
	return (int)pr->n_shapes++;
}

static int pair_big(struct pair *pr, size_t conduit)
{
	if (pr->n_big == pr->cap_big) {
		size_t cap = pr->cap_big ? 2 * pr->cap_big : 8;
		uint32_t *v = realloc(pr->big, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		pr->big = v;
		pr->cap_big = cap;
	}
	pr->big[pr->n_big++] = (uint32_t)conduit;
	return 0;
}

/* The service part of an entry: its shape, key fields and port range. */
static void service_entry(const struct seg_service *s, struct shape *sh, struct key *k,
			  uint16_t *lo, uint16_t *hi)
{
	bool ported = s->proto == SEG_PROTO_TCP || s->proto == SEG_PROTO_UDP;

	*lo = 0;
	*hi = UINT16_MAX;
	k->port = 0;
	k->proto = s->proto == SEG_PROTO_ANY ? 0 : (uint8_t)seg_proto_ipproto(s->proto);
	if (s->proto == SEG_PROTO_ANY) {
		sh->svc = SVC_ANY;
	} else if (ported && s->port_lo == s->port_hi) {
		sh->svc = SVC_PORT;
		k->port = s->port_lo;
	} else {
		sh->svc = SVC_PROTO;
		if (ported) {
			*lo = s->port_lo;
			*hi = s->port_hi;
		} else if (s->typed) {   /* the query's type; its answer is a reply, not an opener */
			*lo = *hi = s->icmp_type;
		}
	}
}

static int add_entry(struct seg_policy *p, size_t pair_id, size_t conduit,
		     const struct side *src, const struct side *dst, const struct seg_service *svc)
{
	struct shape sh = { .family = (uint8_t)src->family, .slen = src->len,
			    .dlen = dst->len, .dwhole = dst->whole };
	struct key k = { .pair = (uint16_t)pair_id };
	uint16_t lo, hi;

	service_entry(svc, &sh, &k, &lo, &hi);
	int id = pair_shape(&p->pairs[pair_id], &sh);
	if (id < 0)
		return id;
	k.shape = (uint16_t)id;
	mask_addr(k.src, src->addr, src->family, src->len);
	mask_addr(k.dst, dst->addr, dst->family, dst->len);
	return insert_entry(p, &k, lo, hi, conduit);
}

/* The sides of a conduit: its prefixes, or both families' /0 for the whole
 * zone (the source is in the zone by then; the destination is checked). */
static size_t conduit_sides(const struct seg_prefix *v, size_t n, bool is_dst, struct side *out)
{
	if (n == 0) {
		out[0] = (struct side){ AF_INET, 0, is_dst, zero16 };
		out[1] = (struct side){ AF_INET6, 0, is_dst, zero16 };
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t max = (uint8_t)(8 * family_width(v[i].family));
		out[i] = (struct side){ v[i].family, v[i].len > max ? max : v[i].len, 0, v[i].addr };
	}
	return n;
}

static int expand_conduit(struct seg_policy *p, size_t pair_id, size_t ci,
			  const struct side *s, size_t ns, const struct side *d, size_t nd)
{
	const struct seg_conduit *c = &p->cfg->conduits[ci];
	int r = 0;

	for (size_t i = 0; i < ns && r == 0; i++)
		for (size_t j = 0; j < nd && r == 0; j++) {
			if (s[i].family != d[j].family)
				continue;
			for (size_t k = 0; k < c->n_services && r == 0; k++)
				r = add_entry(p, pair_id, ci, &s[i], &d[j], &c->services[k]);
		}
	return r;
}

static bool expansion_fits(struct seg_policy *p, const struct seg_conduit *c)
{
	size_t ns = c->n_srcs ? c->n_srcs : 2, nd = c->n_dsts ? c->n_dsts : 2;

	if (ns > CONDUIT_EXPANSION_MAX || nd > CONDUIT_EXPANSION_MAX)
		return false;
	size_t total = ns * nd;
	if (c->n_services > CONDUIT_EXPANSION_MAX || total > CONDUIT_EXPANSION_MAX / (c->n_services + 1))
		return false;
	total *= c->n_services;
	if (p->expanded + total > TOTAL_EXPANSION_MAX)
		return false;
	p->expanded += total;
	return true;
}

static int index_conduit(struct seg_policy *p, size_t ci)
{
	const struct seg_conduit *c = &p->cfg->conduits[ci];
	size_t nz = p->cfg->n_zones, pair_id = c->from * nz + c->to;
	struct side *s = NULL, *d = NULL;
	int r = -ENOMEM;

	if (c->expired || c->from >= nz || c->to >= nz || c->from == c->to ||
	    seg_zone_pair_guarded(p->cfg, c->from, c->to))
		return 0;
	if (!expansion_fits(p, c))
		return pair_big(&p->pairs[pair_id], ci);
	s = calloc(c->n_srcs ? c->n_srcs : 2, sizeof(*s));
	d = calloc(c->n_dsts ? c->n_dsts : 2, sizeof(*d));
	if (s && d) {
		size_t ns = conduit_sides(c->srcs, c->n_srcs, false, s);
		size_t nd = conduit_sides(c->dsts, c->n_dsts, true, d);
		r = expand_conduit(p, pair_id, ci, s, ns, d, nd);
	}
	if (r == -E2BIG)
		r = pair_big(&p->pairs[pair_id], ci);
	free(s);
	free(d);
	return r;
}

static int cmp_iface(const void *a, const void *b)
{
	return strcmp(((const struct iface *)a)->name, ((const struct iface *)b)->name);
}

static int index_ifaces(struct seg_policy *p)
{
	const struct seg_config *cfg = p->cfg;
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_zones; i++)
		n += cfg->zones[i].n_ifaces;
	p->ifaces = calloc(n ? n : 1, sizeof(*p->ifaces));
	if (!p->ifaces)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_zones; i++)
		for (size_t j = 0; j < cfg->zones[i].n_ifaces; j++)
			p->ifaces[p->n_ifaces++] = (struct iface){ cfg->zones[i].ifaces[j], (int)i };
	/* An interface named by two zones (invalid) goes to the first one. */
	qsort(p->ifaces, n, sizeof(*p->ifaces), cmp_iface);
	return 0;
}

int seg_policy_build(const struct seg_config *cfg, struct seg_policy **ret)
{
	struct seg_policy *p = calloc(1, sizeof(*p));
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	p->cfg = cfg;
	if (cfg->n_zones > SEG_MAX_ZONES) {
		r = -E2BIG;
		goto fail;
	}
	p->pairs = calloc(cfg->n_zones * cfg->n_zones + 1, sizeof(*p->pairs));
	if (!p->pairs || (r = grow_slots(p)) < 0 || (r = index_ifaces(p)) < 0 ||
	    (r = seg_zonemap_build(cfg, &p->map)) < 0)
		goto fail;
	for (size_t i = 0; i < cfg->n_conduits; i++)
		if ((r = index_conduit(p, i)) < 0)
			goto fail;
	*ret = p;
	return 0;
fail:
	seg_policy_free(p);
	return r;
}

void seg_policy_free(struct seg_policy *p)
{
	if (!p)
		return;
	if (p->pairs)
		for (size_t i = 0; i < p->cfg->n_zones * p->cfg->n_zones; i++) {
			free(p->pairs[i].shapes);
			free(p->pairs[i].big);
		}
	free(p->pairs);
	free(p->slots);
	free(p->cands);
	free(p->ifaces);
	seg_zonemap_free(&p->map);
	free(p);
}

const struct seg_zonemap *seg_policy_zonemap(const struct seg_policy *p)
{
	return &p->map;
}

/* ---- deciding ---- */

static int iface_zone(const struct seg_policy *p, const char *name)
{
	struct iface k = { .name = name };
	const struct iface *i = bsearch(&k, p->ifaces, p->n_ifaces, sizeof(k), cmp_iface);

	return i ? i->zone : -1;
}

static int addr_zone(const struct seg_policy *p, int family, const uint8_t *addr)
{
	return seg_zonemap_lookup(&p->map, family, addr);
}

/* The first candidate of the entry under k that opens dport, or limit. */
static uint32_t probe(const struct seg_policy *p, const struct key *k, uint16_t dport, uint32_t limit)
{
	const struct slot *s = find_slot(p, k);

	for (uint32_t c = s->head; c != 0; c = p->cands[c - 1].next) {
		const struct cand *e = &p->cands[c - 1];
		if (e->conduit >= limit)
			break;
		if (dport >= e->lo && dport <= e->hi)
			return e->conduit;
	}
	return limit;
}

static uint32_t probe_shape(const struct seg_policy *p, const struct seg_flow *f, size_t pair_id,
			    size_t si, uint32_t best)
{
	const struct shape *sh = &p->pairs[pair_id].shapes[si];
	struct key k = { .pair = (uint16_t)pair_id, .shape = (uint16_t)si };

	mask_addr(k.src, f->src, f->family, sh->slen);
	mask_addr(k.dst, f->dst, f->family, sh->dlen);
	if (sh->svc != SVC_ANY)
		k.proto = f->l4proto;
	if (sh->svc == SVC_PORT)
		k.port = f->dport;
	return probe(p, &k, sh->svc == SVC_PORT ? 0 : f->dport, best);
}

/* The first conduit (in file order) from sz to dz that holds f, or -1. */
static int find_conduit(const struct seg_policy *p, const struct seg_flow *f, int sz, int dz,
			bool dst_in_zone)
{
	size_t pair_id = (size_t)sz * p->cfg->n_zones + (size_t)dz;
	const struct pair *pr = &p->pairs[pair_id];
	uint32_t best = UINT32_MAX;

	for (size_t i = 0; i < pr->n_shapes; i++) {
		const struct shape *sh = &pr->shapes[i];
		if (sh->family != f->family || (sh->dwhole && !dst_in_zone))
			continue;
		best = probe_shape(p, f, pair_id, i, best);
	}
	for (size_t i = 0; i < pr->n_big && pr->big[i] < best; i++)
		if (seg_conduit_mismatch(p, pr->big[i], f) == 0)
			best = pr->big[i];
	return best == UINT32_MAX ? -1 : (int)best;
}

static void set_verdict(struct seg_verdict *v, bool accept, enum seg_reason r)
{
	v->accept = accept;
	v->reason = r;
}

/* Rules 1 and 2 of FORWARD and the zone inference of decide.h; false when
 * they already decided. */
static bool forward_zones(const struct seg_policy *p, const struct seg_flow *f,
			  struct seg_verdict *v)
{
	if (f->iif && (v->src_zone = iface_zone(p, f->iif)) < 0)
		goto unzoned;
	if (f->oif && (v->dst_zone = iface_zone(p, f->oif)) < 0)
		goto unzoned;
	int src_zone = addr_zone(p, f->family, f->src);
	if (f->iif && src_zone != v->src_zone) {
		set_verdict(v, false, SEG_REASON_SPOOFED_SOURCE);
		return false;
	}
	v->src_zone = src_zone;
	if (!f->oif)
		v->dst_zone = addr_zone(p, f->family, f->dst);
	if (v->src_zone < 0 || v->dst_zone < 0) {
		set_verdict(v, false, SEG_REASON_NO_ZONE);
		return false;
	}
	return true;
unzoned:
	set_verdict(v, false, SEG_REASON_UNZONED);
	return false;
}

static void decide_forward(const struct seg_policy *p, const struct seg_flow *f, struct seg_verdict *v)
{
	if (!forward_zones(p, f, v))
		return;
	if (v->src_zone == v->dst_zone) {
		set_verdict(v, true, SEG_REASON_INTRA_ZONE);
		return;
	}
	if (p->cfg->zones[v->src_zone].isolated || p->cfg->zones[v->dst_zone].isolated) {
		set_verdict(v, false, SEG_REASON_ISOLATED);
		return;
	}
	if (seg_zone_pair_guarded(p->cfg, (size_t)v->src_zone, (size_t)v->dst_zone)) {
		set_verdict(v, false, SEG_REASON_MODEL_GUARD);
		return;
	}
	bool dst_in_zone = !f->oif || addr_zone(p, f->family, f->dst) == v->dst_zone;
	v->conduit = find_conduit(p, f, v->src_zone, v->dst_zone, dst_in_zone);
	if (v->conduit >= 0)
		set_verdict(v, true, SEG_REASON_CONDUIT);
	else
		set_verdict(v, false, SEG_REASON_DEFAULT_DENY);
}

/* For icmp/icmpv6 flows dport carries the ICMP type (see decide.h). */
static bool neighbor_discovery(const struct seg_flow *f)
{
	static const uint8_t types[] = SEG_LINK_ICMPV6_TYPES;

	if (f->family != AF_INET6 || f->l4proto != IPPROTO_ICMPV6)
		return false;
	for (size_t i = 0; i < sizeof(types); i++)
		if (f->dport == types[i])
			return true;
	return false;
}

static bool local_iface(const struct seg_policy *p, const char *name)
{
	const struct seg_settings *st = &p->cfg->settings;

	if (strcmp(name, "lo") == 0)
		return true;
	for (size_t i = 0; i < st->n_mgmt_ifaces; i++)
		if (strcmp(st->mgmt_ifaces[i], name) == 0)
			return true;
	return false;
}

/* The zone of the gateway's interface on the flow's side (iif for INPUT,
 * oif for OUTPUT), else that of the peer's address; false when that
 * decided (local interface, unzoned, no zone). */
static bool gateway_side_zone(const struct seg_policy *p, const struct seg_flow *f, const char *ifname,
			      const uint8_t *peer, int *zone, struct seg_verdict *v)
{
	if (ifname && local_iface(p, ifname)) {
		set_verdict(v, true, SEG_REASON_LOCAL_INTERFACE);
		return false;
	}
	/* sent: the output base chain passes it on any interface; received: every
	 * zone's chain does, so without --in it passes whatever the zone */
	if ((f->path == SEG_PATH_OUTPUT || !ifname) && neighbor_discovery(f)) {
		set_verdict(v, true, SEG_REASON_NEIGHBOR_DISCOVERY);
		return false;
	}
	*zone = ifname ? iface_zone(p, ifname) : addr_zone(p, f->family, peer);
	if (ifname && *zone < 0) {
		set_verdict(v, false, SEG_REASON_UNZONED);
		return false;
	}
	if (*zone < 0) {
		set_verdict(v, false, SEG_REASON_NO_ZONE);
		return false;
	}
	return true;
}

/* li.Z / lo.Z: a link service holds the protocol and either port. */
static void decide_link(const struct seg_policy *p, const struct seg_flow *f, int zone, struct seg_verdict *v)
{
	const struct seg_zone *z = &p->cfg->zones[zone];
	bool port = f->l4proto == IPPROTO_TCP || f->l4proto == IPPROTO_UDP;
	bool held = services_hold(z->link_services, z->n_link_services, f->l4proto, f->dport) ||
		    (port && f->sport && services_hold(z->link_services, z->n_link_services, f->l4proto, f->sport));
	set_verdict(v, held, held ? SEG_REASON_LINK_SERVICE : SEG_REASON_LINK_SCOPE);
}

static void decide_input(const struct seg_policy *p, const struct seg_flow *f, struct seg_verdict *v)
{
	if (!gateway_side_zone(p, f, f->iif, f->src, &v->src_zone, v))
		return;
	if (neighbor_discovery(f)) {
		set_verdict(v, true, SEG_REASON_NEIGHBOR_DISCOVERY);
		return;
	}
	if (seg_addr_link_scope(f->family, f->src) || seg_addr_link_scope(f->family, f->dst)) {
		decide_link(p, f, v->src_zone, v);
		return;
	}
	if (addr_zone(p, f->family, f->src) != v->src_zone) {
		set_verdict(v, false, SEG_REASON_SPOOFED_SOURCE);
		return;
	}
	const struct seg_zone *z = &p->cfg->zones[v->src_zone];
	if (services_hold(z->gw_services, z->n_gw_services, f->l4proto, f->dport))
		set_verdict(v, true, SEG_REASON_GATEWAY_SERVICE);
	else
		set_verdict(v, false, SEG_REASON_TO_GATEWAY);
}

static void decide_output(const struct seg_policy *p, const struct seg_flow *f, struct seg_verdict *v)
{
	int g = seg_gateway_zone(p->cfg);

	if (!gateway_side_zone(p, f, f->oif, f->dst, &v->dst_zone, v))
		return;
	if (seg_addr_link_scope(f->family, f->dst)) {
		decide_link(p, f, v->dst_zone, v);
		return;
	}
	v->src_zone = g;
	bool dst_in_zone = addr_zone(p, f->family, f->dst) == v->dst_zone;
	if (g >= 0 && !p->cfg->zones[v->dst_zone].isolated)
		v->conduit = find_conduit(p, f, g, v->dst_zone, dst_in_zone);
	if (v->conduit >= 0)
		set_verdict(v, true, SEG_REASON_CONDUIT);
	else
		set_verdict(v, false, SEG_REASON_FROM_GATEWAY);
}

static bool proto_opened(const struct seg_conduit *c, uint8_t l4proto)
{
	for (size_t i = 0; i < c->n_services; i++)
		if (c->services[i].proto == SEG_PROTO_ANY ||
		    seg_proto_ipproto(c->services[i].proto) == l4proto)
			return true;
	return false;
}

/* The error as a packet first (zones, spoofing, the guard, isolation, the
 * gateway: as any ICMP packet), then, where that finds no conduit, as
 * related to a connection of a conduit from dst's zone to src's (compile.c
 * fill_pair: ct original ip saddr . ip saddr . ct protocol @r.B.A), or, to
 * the gateway, from the gateway to src's zone (fill_input_zone). The
 * gateway's own errors (OUTPUT) are related packets that always pass. */
static void decide_icmp_error(const struct seg_policy *p, const struct seg_flow *f, struct seg_verdict *v)
{
	struct seg_flow o = *f, back = *f;

	o.icmp_error = false;
	o.l4proto = f->family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	o.dport = f->family == AF_INET ? 3 : 1;         /* destination unreachable */
	seg_decide(p, &o, v);
	/* to the gateway (in.Z: r4.gateway.Z): about one of its own connections */
	int opener = f->path == SEG_PATH_INPUT ? seg_gateway_zone(p->cfg) : v->dst_zone;
	if (v->reason != (f->path == SEG_PATH_INPUT ? SEG_REASON_TO_GATEWAY : SEG_REASON_DEFAULT_DENY) ||
	    v->src_zone < 0 || opener < 0)
		return;
	memcpy(back.src, f->dst, sizeof(back.src));
	memcpy(back.dst, f->src, sizeof(back.dst));
	back.icmp_error = false;
	for (size_t i = 0; i < p->cfg->n_conduits; i++) {
		const struct seg_conduit *c = &p->cfg->conduits[i];
		if ((int)c->from != opener || (int)c->to != v->src_zone || !proto_opened(c, f->l4proto) ||
		    (seg_conduit_mismatch(p, i, &back) & ~(unsigned)SEG_MISMATCH_SERVICE))
			continue;
		v->accept = true;
		v->reason = SEG_REASON_CONDUIT;
		v->conduit = (int)i;
		return;
	}
}

void seg_decide(const struct seg_policy *p, const struct seg_flow *f, struct seg_verdict *v)
{
	*v = (struct seg_verdict){ .accept = false, .reason = SEG_REASON_NO_ZONE,
				   .src_zone = -1, .dst_zone = -1, .conduit = -1 };
	if (f->family != AF_INET && f->family != AF_INET6)
		return;
	if (f->icmp_error && f->path != SEG_PATH_OUTPUT) {
		decide_icmp_error(p, f, v);
		return;
	}
	if (f->path == SEG_PATH_INPUT)
		decide_input(p, f, v);
	else if (f->path == SEG_PATH_OUTPUT)
		decide_output(p, f, v);
	else
		decide_forward(p, f, v);
}
