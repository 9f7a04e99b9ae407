/*
 * zonemap.c - address -> zone, with the most specific network winning.
 *
 * Prefixes are either nested or disjoint, so the networks of all zones form a
 * forest. Sorting them by (family, first address, length) lists every prefix
 * after the prefixes that contain it; a sweep with a stack of "open" prefixes
 * then hands each address to the innermost prefix holding it. A catch-all
 * external zone is simply the prefix of length 0 at the bottom of that stack,
 * so it owns whatever no other zone owns without any special case.
 *
 * Link scope and multicast belong to no zone, catch-all or not (reserved[]):
 * fe80::/10 is the link itself (a router never forwards it, so a packet from
 * it came from the wire it arrived on), ff00::/8 and 224.0.0.0/4 are groups,
 * 255.255.255.255 the local broadcast. Without this, DHCPv6, VRRPv3 or
 * OSPFv3 from a link-local address would be "from the security cloud".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "zonemap.h"

/* One network of one zone, as an inclusive range. */
struct net {
	int family;
	uint8_t len;
	int zone;
	uint8_t lo[16], hi[16];
};

/* Growable array of ranges, the map under construction. */
struct builder {
	struct seg_range *v;
	size_t n, cap;
};

static size_t family_width(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int cmp_addr(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, 16);
}

static void fill_net(struct net *n, int family, uint8_t len, const uint8_t *addr, int zone)
{
	size_t w = family_width(family);

	memset(n, 0, sizeof(*n));
	n->family = family;
	n->len = len;
	n->zone = zone;
	for (size_t i = 0; i < w; i++) {
		unsigned bits = len >= 8 * (i + 1) ? 8 : len > 8 * i ? len - 8 * i : 0;
		uint8_t mask = (uint8_t)(0xff00u >> bits);
		n->lo[i] = addr[i] & mask;
		n->hi[i] = (uint8_t)(n->lo[i] | (uint8_t)~mask);
	}
}

/* Address arithmetic over the family's width; both return false on wrap. */
static bool addr_inc(uint8_t *a, size_t w)
{
	for (size_t i = w; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

static bool addr_dec(uint8_t *a, size_t w)
{
	for (size_t i = w; i-- > 0;)
		if (a[i]-- != 0)
			return true;
	return false;
}

/* Innermost last: among prefixes starting at one address the shorter (outer)
 * comes first; for identical prefixes of two zones the first-defined zone
 * ends up innermost, so the result is deterministic even for invalid input. */
static int cmp_net(const void *pa, const void *pb)
{
	const struct net *a = pa, *b = pb;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if ((c = cmp_addr(a->lo, b->lo)) != 0)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return (a->zone < b->zone) - (a->zone > b->zone);
}

static bool zone_catchall(const struct seg_zone *z, int family)
{
	if (z->kind == SEG_ZONE_EXTERNAL && z->n_nets == 0)
		return true;
	return family == AF_INET ? z->catchall4 : z->catchall6;
}

static const struct { int family; uint8_t len; uint8_t addr[16]; } reserved[] = {
	{ AF_INET6, 10, { 0xfe, 0x80 } }, { AF_INET6, 8, { 0xff } },
	{ AF_INET, 4, { 224 } }, { AF_INET, 32, { 255, 255, 255, 255 } },
};
#define N_RESERVED (sizeof(reserved) / sizeof(reserved[0]))

static size_t count_nets(const struct seg_config *cfg)
{
	size_t n = N_RESERVED;

	for (size_t i = 0; i < cfg->n_zones; i++)
		n += cfg->zones[i].n_nets + 2;
	return n;
}

static size_t collect_nets(const struct seg_config *cfg, struct net *v)
{
	static const uint8_t zero[16];
	static const int families[] = { AF_INET, AF_INET6 };
	size_t n = 0;

	for (size_t i = 0; i < N_RESERVED; i++)   /* zone -1: no zone */
		fill_net(&v[n++], reserved[i].family, reserved[i].len, reserved[i].addr, -1);
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		for (size_t k = 0; k < 2; k++)
			if (zone_catchall(z, families[k]))
				fill_net(&v[n++], families[k], 0, zero, (int)i);
		for (size_t j = 0; j < z->n_nets; j++) {
			const struct seg_prefix *p = &z->nets[j];
			if (p->family != AF_INET && p->family != AF_INET6)
				continue;
			uint8_t len = p->len > 8 * family_width(p->family) ?
				(uint8_t)(8 * family_width(p->family)) : p->len;
			fill_net(&v[n++], p->family, len, p->addr, (int)i);
		}
	}
	return n;
}

/* Appends [lo, hi] for zone, merging with the previous range when adjacent
 * and of the same zone (two /25 of one zone become one range). */
static int emit(struct builder *b, int family, const uint8_t *lo, const uint8_t *hi, int zone)
{
	if (b->n > 0) {
		struct seg_range *last = &b->v[b->n - 1];
		uint8_t next[16];
		memcpy(next, last->hi, 16);
		if (last->family == family && last->zone == zone &&
		    addr_inc(next, family_width(family)) && cmp_addr(next, lo) == 0) {
			memcpy(last->hi, hi, 16);
			return 0;
		}
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		struct seg_range *v = realloc(b->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	struct seg_range *r = &b->v[b->n++];
	memset(r, 0, sizeof(*r));
	r->family = family;
	memcpy(r->lo, lo, 16);
	memcpy(r->hi, hi, 16);
	r->zone = zone;
	return 0;
}

/* The sweep state of one family: the open prefixes and the first address
 * not yet handed out ('done' once the top of the address space is out). */
struct sweep {
	const struct net **stack;
	size_t depth;
	uint8_t cursor[16];
	bool done;
};

/* Hands out [cursor, top->hi] to the top of the stack and pops it. */
static int close_top(struct builder *b, struct sweep *s)
{
	const struct net *top = s->stack[--s->depth];
	int r = 0;

	if (!s->done && cmp_addr(s->cursor, top->hi) <= 0) {
		r = emit(b, top->family, s->cursor, top->hi, top->zone);
		memcpy(s->cursor, top->hi, 16);
		s->done = !addr_inc(s->cursor, family_width(top->family));
	}
	return r;
}

static int open_net(struct builder *b, struct sweep *s, const struct net *n)
{
	int r = 0;

	while (s->depth > 0 && cmp_addr(s->stack[s->depth - 1]->hi, n->lo) < 0)
		if ((r = close_top(b, s)) < 0)
			return r;
	if (s->depth > 0 && !s->done && cmp_addr(s->cursor, n->lo) < 0) {
		uint8_t before[16];
		memcpy(before, n->lo, 16);
		addr_dec(before, family_width(n->family));
		r = emit(b, n->family, s->cursor, before, s->stack[s->depth - 1]->zone);
	}
	s->stack[s->depth++] = n;
	memcpy(s->cursor, n->lo, 16);
	s->done = false;
	return r;
}

static int sweep_nets(struct builder *b, const struct net *v, size_t n, const struct net **stack)
{
	struct sweep s = { .stack = stack };
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (i > 0 && v[i].family != v[i - 1].family)
			while (s.depth > 0 && r == 0)
				r = close_top(b, &s);
		if (r == 0)
			r = open_net(b, &s, &v[i]);
	}
	while (s.depth > 0 && r == 0)
		r = close_top(b, &s);
	return r;
}

int seg_zonemap_build(const struct seg_config *cfg, struct seg_zonemap *map)
{
	struct builder b = { 0 };
	size_t cap = count_nets(cfg);
	struct net *v = calloc(cap ? cap : 1, sizeof(*v));
	const struct net **stack = calloc(cap ? cap : 1, sizeof(*stack));
	int r = -ENOMEM;

	if (!v || !stack)
		goto cleanup;
	size_t n = collect_nets(cfg, v);
	qsort(v, n, sizeof(*v), cmp_net);
	r = sweep_nets(&b, v, n, stack);
	if (r < 0) {
		free(b.v);
		goto cleanup;
	}
	map->v = b.v;
	map->n = b.n;
cleanup:
	free(v);
	free(stack);
	return r;
}

void seg_zonemap_free(struct seg_zonemap *map)
{
	if (!map)
		return;
	free(map->v);
	map->v = NULL;
	map->n = 0;
}

int seg_zonemap_lookup(const struct seg_zonemap *map, int family, const uint8_t *addr)
{
	uint8_t key[16] = { 0 };
	size_t lo = 0, hi = map->n;

	memcpy(key, addr, family_width(family));
	/* First range that starts after addr; the candidate is the one before. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct seg_range *r = &map->v[mid];
		if (r->family < family || (r->family == family && cmp_addr(r->lo, key) <= 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	const struct seg_range *r = &map->v[lo - 1];
	if (r->family != family || cmp_addr(key, r->hi) > 0)
		return -1;
	return r->zone;
}

void seg_zonemap_each(const struct seg_zonemap *map, int zone, int family,
		      void (*fn)(const struct seg_range *r, void *ctx), void *ctx)
{
	for (size_t i = 0; i < map->n; i++)
		if (map->v[i].zone == zone && map->v[i].family == family)
			fn(&map->v[i], ctx);
}
