/* test_zonemap.c - address -> zone: most specific network wins, catch-all
 * external zones own the rest, ranges are sorted and non-overlapping.
 *
 * The configurations are built by hand (not through the loader) so that the
 * map is also tested on input that validation would reject (nested zones,
 * two catch-alls): it must still be deterministic there. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "addr.h"
#include "suites.h"
#include "zonemap.h"

/* A zone as text: kind, catch-all flags, networks separated by spaces. */
struct zone_spec {
	enum seg_zone_kind kind;
	bool catchall4, catchall6;
	const char *nets;
};

static void add_nets(struct seg_zone *z, const char *nets)
{
	char *copy = strdup(nets), *save = NULL;

	ck_assert_ptr_nonnull(copy);
	z->nets = calloc(64, sizeof(*z->nets));
	for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		const char *why = NULL;
		ck_assert_msg(seg_prefix_parse(t, &z->nets[z->n_nets], &why) == 0, "%s: %s", t, why);
		z->n_nets++;
	}
	free(copy);
}

static struct seg_config *make_config(const struct zone_spec *spec, size_t n)
{
	struct seg_config *cfg = calloc(1, sizeof(*cfg));

	cfg->zones = calloc(n, sizeof(*cfg->zones));
	cfg->n_zones = n;
	for (size_t i = 0; i < n; i++) {
		struct seg_zone *z = &cfg->zones[i];
		char name[32];
		snprintf(name, sizeof(name), "z%zu", i);
		z->name = strdup(name);
		z->kind = spec[i].kind;
		z->catchall4 = spec[i].catchall4;
		z->catchall6 = spec[i].catchall6;
		add_nets(z, spec[i].nets);
	}
	return cfg;
}

/* Checks the invariants every map must have: per family sorted, lo <= hi,
 * no overlap, and no two adjacent ranges of one zone left unmerged. */
static void check_invariants(const struct seg_zonemap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct seg_range *r = &m->v[i];
		ck_assert_int_le(memcmp(r->lo, r->hi, 16), 0);
		if (i == 0 || m->v[i - 1].family != r->family)
			continue;
		ck_assert_int_lt(memcmp(m->v[i - 1].hi, r->lo, 16), 0);
	}
	for (size_t i = 1; i < m->n; i++)
		ck_assert_int_le(m->v[i - 1].family, m->v[i].family);
}

struct lookup_case {
	const char *what;
	struct zone_spec zones[4];
	size_t n_zones;
	const char *addr;
	int want;              /* zone index or -1 */
};

#define Z(k, c4, c6, n) { SEG_ZONE_##k, c4, c6, n }

static const struct lookup_case lookups[] = {
	/* a catch-all external zone owns everything no internal zone owns */
	{ "catchall minus internal: below", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "9.255.255.255", 1 },
	{ "catchall minus internal: first", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "10.0.0.0", 0 },
	{ "catchall minus internal: last", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "10.255.255.255", 0 },
	{ "catchall minus internal: above", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "11.0.0.0", 1 },
	{ "catchall: 0.0.0.0", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2, "0.0.0.0", 1 },
	/* link scope, multicast and the local broadcast belong to no zone, not even a catch-all */
	{ "catchall: 255.255.255.255 is no zone's", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "255.255.255.255", -1 },
	{ "catchall: 255.255.255.254", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "255.255.255.254", 1 },
	{ "catchall: 224.0.0.18 (VRRP) is no zone's", { Z(EXTERNAL, 1, 1, "") }, 1, "224.0.0.18", -1 },
	{ "catchall: 239.255.255.255 is no zone's", { Z(EXTERNAL, 1, 1, "") }, 1, "239.255.255.255", -1 },
	{ "catchall: 240.0.0.0", { Z(EXTERNAL, 1, 1, "") }, 1, "240.0.0.0", 0 },
	{ "catchall: 223.255.255.255", { Z(EXTERNAL, 1, 1, "") }, 1, "223.255.255.255", 0 },
	{ "catchall: v6 all ones is no zone's", { Z(LGWAN, 0, 0, "fd00::/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", -1 },
	{ "catchall: fe80::1 is no zone's", { Z(EXTERNAL, 1, 1, "") }, 1, "fe80::1", -1 },
	{ "catchall: febf:ffff:: is no zone's", { Z(EXTERNAL, 1, 1, "") }, 1, "febf:ffff::", -1 },
	{ "catchall: fec0:: (after link scope)", { Z(EXTERNAL, 1, 1, "") }, 1, "fec0::", 0 },
	{ "catchall: fe7f:ffff:: (before link scope)", { Z(EXTERNAL, 1, 1, "") }, 1, "fe7f:ffff::", 0 },
	{ "catchall: ff02::1:2 (DHCPv6) is no zone's", { Z(EXTERNAL, 1, 1, "") }, 1, "ff02::1:2", -1 },
	{ "a zone holding ::/0 does not hold fe80::1", { Z(LGWAN, 0, 0, "::/0") }, 1, "fe80::1", -1 },
	{ "catchall: v6 inside internal", { Z(LGWAN, 0, 0, "fd00::/8"), Z(EXTERNAL, 1, 1, "") }, 2,
	  "fdff::1", 0 },
	/* external with no networks and no flags is a catch-all too (zonemap.h) */
	{ "external without networks", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 0, 0, "") }, 2,
	  "8.8.8.8", 1 },
	{ "external without networks v6", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 0, 0, "") }, 2,
	  "2001:db8::1", 1 },
	/* the catch-all given as networks, before the internal zone */
	{ "0.0.0.0/0 listed first", { Z(EXTERNAL, 0, 0, "0.0.0.0/0 ::/0"), Z(MYNUMBER, 0, 0, "10.10.0.0/24") }, 2,
	  "10.10.0.77", 1 },
	{ "0.0.0.0/0 does not hold IPv6", { Z(EXTERNAL, 0, 0, "0.0.0.0/0"), Z(LGWAN, 0, 0, "10.0.0.0/8") }, 2,
	  "2001:db8::1", -1 },
	{ "::/0 does not hold IPv4", { Z(EXTERNAL, 0, 0, "::/0"), Z(LGWAN, 0, 0, "fd00::/8") }, 2,
	  "8.8.8.8", -1 },
	{ "::/0 holds IPv6", { Z(EXTERNAL, 0, 0, "::/0"), Z(LGWAN, 0, 0, "fd00::/8") }, 2, "2001:db8::1", 0 },
	{ "v4 and v6 catch-alls in two zones: v4", { Z(EXTERNAL, 0, 0, "0.0.0.0/0"), Z(EXTERNAL, 0, 0, "::/0") }, 2,
	  "1.2.3.4", 0 },
	{ "v4 and v6 catch-alls in two zones: v6", { Z(EXTERNAL, 0, 0, "0.0.0.0/0"), Z(EXTERNAL, 0, 0, "::/0") }, 2,
	  "::1", 1 },
	/* several zones of one kind */
	{ "two lgwan zones: first", { Z(LGWAN, 0, 0, "10.1.0.0/16"), Z(LGWAN, 0, 0, "10.2.0.0/16") }, 2,
	  "10.1.200.1", 0 },
	{ "two lgwan zones: second", { Z(LGWAN, 0, 0, "10.1.0.0/16"), Z(LGWAN, 0, 0, "10.2.0.0/16") }, 2,
	  "10.2.0.1", 1 },
	{ "two lgwan zones: between", { Z(LGWAN, 0, 0, "10.1.0.0/16"), Z(LGWAN, 0, 0, "10.3.0.0/16") }, 2,
	  "10.2.0.1", -1 },
	/* adjacent prefixes of different zones meet exactly */
	{ "adjacent: last of first", { Z(LGWAN, 0, 0, "10.0.0.0/25"), Z(INTERNET, 0, 0, "10.0.0.128/25") }, 2,
	  "10.0.0.127", 0 },
	{ "adjacent: first of second", { Z(LGWAN, 0, 0, "10.0.0.0/25"), Z(INTERNET, 0, 0, "10.0.0.128/25") }, 2,
	  "10.0.0.128", 1 },
	/* nested (invalid, but the most specific still wins) */
	{ "nested: innermost", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(MYNUMBER, 0, 0, "10.1.0.0/16") }, 3,
	  "10.1.2.3", 2 },
	{ "nested: middle after inner", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(MYNUMBER, 0, 0, "10.1.0.0/16") }, 3,
	  "10.2.0.0", 1 },
	{ "nested: middle before inner", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(MYNUMBER, 0, 0, "10.1.0.0/16") }, 3,
	  "10.0.255.255", 1 },
	{ "host just below the local broadcast", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "255.255.255.254/32") }, 2,
	  "255.255.255.254", 1 },
	{ "below that host", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "255.255.255.254/32") }, 2,
	  "255.255.255.253", 0 },
	{ "v6 host just below link scope", { Z(EXTERNAL, 0, 1, ""), Z(LGWAN, 0, 0, "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128") }, 2,
	  "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1 },
	{ "host at the bottom", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "0.0.0.0/32") }, 2, "0.0.0.0", 1 },
	{ "above the host at the bottom", { Z(EXTERNAL, 1, 0, ""), Z(LGWAN, 0, 0, "0.0.0.0/32") }, 2, "0.0.0.1", 0 },
	/* in no zone */
	{ "no zone v4", { Z(LGWAN, 0, 0, "10.0.0.0/8 fd00::/8") }, 1, "192.168.1.1", -1 },
	{ "no zone v6", { Z(LGWAN, 0, 0, "10.0.0.0/8 fd00::/8") }, 1, "fe80::1", -1 },
	{ "no zones at all", { Z(LGWAN, 0, 0, "") }, 1, "10.0.0.1", -1 },
};

START_TEST(test_lookup)
{
	const struct lookup_case *c = &lookups[_i];
	struct seg_config *cfg = make_config(c->zones, c->n_zones);
	struct seg_zonemap m = { 0 };
	uint8_t addr[16];
	int family;
	const char *why;

	ck_assert_int_eq(seg_zonemap_build(cfg, &m), 0);
	check_invariants(&m);
	ck_assert_int_eq(seg_addr_parse(c->addr, &family, addr, &why), 0);
	if (family == AF_INET)
		memset(addr + 4, 0xa5, 12);   /* bytes past an IPv4 address are not looked at */
	ck_assert_msg(seg_zonemap_lookup(&m, family, addr) == c->want, "%s: %s -> %d, want %d",
		      c->what, c->addr, seg_zonemap_lookup(&m, family, addr), c->want);
	seg_zonemap_free(&m);
	seg_config_free(cfg);
}
END_TEST

/* Collects a zone's ranges as text: "lo-hi lo-hi". */
struct collect {
	char buf[512];
};

static void collect_range(const struct seg_range *r, void *ctx)
{
	struct collect *c = ctx;
	char lo[64], hi[64];

	seg_addr_format(r->family, r->lo, lo, sizeof(lo));
	seg_addr_format(r->family, r->hi, hi, sizeof(hi));
	size_t n = strlen(c->buf);
	snprintf(c->buf + n, sizeof(c->buf) - n, "%s%s-%s", n ? " " : "", lo, hi);
}

struct ranges_case {
	const char *what;
	struct zone_spec zones[3];
	size_t n_zones;
	int zone, family;
	const char *want;
};

static const struct ranges_case ranges[] = {
	{ "catch-all minus two zones", { Z(LGWAN, 0, 0, "10.0.0.0/8"), Z(EXTERNAL, 1, 1, ""),
	  Z(INTERNET, 0, 0, "192.168.0.0/16") }, 3, 1, AF_INET,
	  "0.0.0.0-9.255.255.255 11.0.0.0-192.167.255.255 192.169.0.0-223.255.255.255 240.0.0.0-255.255.255.254" },
	{ "catch-all v6 minus one zone", { Z(LGWAN, 0, 0, "fd00:20::/64"), Z(EXTERNAL, 1, 1, "") }, 2, 1, AF_INET6,
	  "::-fd00:1f:ffff:ffff:ffff:ffff:ffff:ffff fd00:20:0:1::-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff fec0::-feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	{ "adjacent prefixes of one zone merge", { Z(LGWAN, 0, 0, "10.0.0.128/25 10.0.0.0/25 10.0.1.0/24") }, 1, 0,
	  AF_INET, "10.0.0.0-10.0.1.255" },
	{ "adjacent prefixes of two zones stay apart", { Z(LGWAN, 0, 0, "10.0.0.0/25"),
	  Z(LGWAN, 0, 0, "10.0.0.128/25") }, 2, 1, AF_INET, "10.0.0.128-10.0.0.255" },
	{ "a zone without networks of a family has no ranges", { Z(LGWAN, 0, 0, "10.0.0.0/8") }, 1, 0, AF_INET6, "" },
	{ "nested inner splits the outer", { Z(EXTERNAL, 0, 0, "10.0.0.0/8"), Z(LGWAN, 0, 0, "10.1.0.0/16") }, 2, 0,
	  AF_INET, "10.0.0.0-10.0.255.255 10.2.0.0-10.255.255.255" },
};

START_TEST(test_ranges)
{
	const struct ranges_case *c = &ranges[_i];
	struct seg_config *cfg = make_config(c->zones, c->n_zones);
	struct seg_zonemap m = { 0 };
	struct collect got = { .buf = "" };
	char want[512];

	ck_assert_int_eq(seg_zonemap_build(cfg, &m), 0);
	check_invariants(&m);
	seg_zonemap_each(&m, c->zone, c->family, collect_range, &got);
	/* the table writes ":: -" to keep the v6 line readable */
	snprintf(want, sizeof(want), "%s", c->want);
	for (char *p; (p = strstr(want, " -"));)
		memmove(p, p + 1, strlen(p));
	ck_assert_msg(strcmp(got.buf, want) == 0, "%s: got '%s', want '%s'", c->what, got.buf, want);
	seg_zonemap_free(&m);
	seg_config_free(cfg);
}
END_TEST

/* A random forest of prefixes against the definition: the zone of the
 * longest prefix holding the address (ties: the first-defined zone). */
static int brute_zone(const struct seg_config *cfg, int family, const uint8_t *a)
{
	int best = -1, best_len = -1;

	for (size_t i = 0; i < cfg->n_zones; i++)
		for (size_t j = 0; j < cfg->zones[i].n_nets; j++) {
			const struct seg_prefix *p = &cfg->zones[i].nets[j];
			if (seg_prefix_has(p, family, a) && p->len > best_len) {
				best = (int)i;
				best_len = p->len;
			}
		}
	return best;
}

static void random_prefix(struct seg_prefix *p, unsigned *seed)
{
	memset(p, 0, sizeof(*p));
	p->family = AF_INET;
	p->len = (uint8_t)(rand_r(seed) % 33);
	uint32_t a = (uint32_t)rand_r(seed) & 0x0f0f0f0f;   /* few distinct values: many nestings */
	for (unsigned b = 0; b < 32; b++)
		if (b >= p->len)
			a &= ~(1u << (31 - b));
	p->addr[0] = (uint8_t)(a >> 24);
	p->addr[1] = (uint8_t)(a >> 16);
	p->addr[2] = (uint8_t)(a >> 8);
	p->addr[3] = (uint8_t)a;
}

START_TEST(test_random_forest)
{
	unsigned seed = 42u + (unsigned)_i;
	struct seg_config cfg = { 0 };
	struct seg_zone zones[4] = { 0 };
	struct seg_prefix nets[4][6];
	struct seg_zonemap m = { 0 };

	cfg.zones = zones;
	cfg.n_zones = 4;
	for (size_t i = 0; i < 4; i++) {
		zones[i].kind = SEG_ZONE_LGWAN;
		zones[i].nets = nets[i];
		zones[i].n_nets = 6;
		for (size_t j = 0; j < 6; j++)
			random_prefix(&nets[i][j], &seed);
	}
	ck_assert_int_eq(seg_zonemap_build(&cfg, &m), 0);
	check_invariants(&m);
	for (int k = 0; k < 2000; k++) {
		uint8_t a[16] = { 0 };
		uint32_t v = (uint32_t)rand_r(&seed) & 0x1f1f1f1f;
		a[0] = (uint8_t)(v >> 24); a[1] = (uint8_t)(v >> 16); a[2] = (uint8_t)(v >> 8); a[3] = (uint8_t)v;
		ck_assert_int_eq(seg_zonemap_lookup(&m, AF_INET, a), brute_zone(&cfg, AF_INET, a));
	}
	seg_zonemap_free(&m);
}
END_TEST

START_TEST(test_free_null_safe)
{
	struct seg_zonemap m = { 0 };

	seg_zonemap_free(NULL);
	seg_zonemap_free(&m);
	seg_zonemap_free(&m);
	ck_assert_int_eq(seg_zonemap_lookup(&m, AF_INET, (const uint8_t *)"\x0a\0\0\x01"), -1);
}
END_TEST

Suite *zonemap_suite(void)
{
	Suite *s = suite_create("zonemap");
	TCase *tc = tcase_create("zonemap");

	tcase_add_loop_test(tc, test_lookup, 0, (int)(sizeof(lookups) / sizeof(lookups[0])));
	tcase_add_loop_test(tc, test_ranges, 0, (int)(sizeof(ranges) / sizeof(ranges[0])));
	tcase_add_loop_test(tc, test_random_forest, 0, 20);
	tcase_add_test(tc, test_free_null_safe);
	suite_add_tcase(s, tc);
	return s;
}
