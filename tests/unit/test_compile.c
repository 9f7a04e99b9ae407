/* test_compile.c - the compiled plan: golden `nft -f` text per configuration,
 * and the properties the kernel relies on (sorted, no duplicates, interval
 * boxes disjoint, every reference in range).
 *
 * SEGD_UPDATE_GOLDEN=1 rewrites tests/golden/<name>.nft from the current
 * output (then review the diff before committing). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "config.h"
#include "plan.h"
#include "suites.h"
#include "zonemap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define GOLDEN_DIR "tests/golden"
#define TODAY "2026-06-01"     /* fixed, so that expiry does not age the golden files */

static const char *const golden_configs[] = {
	TEST_CONFIGS "/good/several-zones-per-kind.conf",
	TEST_CONFIGS "/good/port-ranges.conf",
	TEST_CONFIGS "/good/ipv6-only.conf",
	TEST_CONFIGS "/good/catchall-omitted.conf",
	TEST_CONFIGS "/good/gateway-services.conf",
	TEST_CONFIGS "/good/expired.conf",
	TEST_CONFIGS "/good/mixed-families.conf",
	TEST_CONFIGS "/good/lgwan-to-lgwan-any.conf",
	TEST_CONFIGS "/good/mac-binding.conf",
	TEST_CONFIGS "/good/gateway-egress.conf",
};

static struct seg_plan *compile_file(const char *path, struct seg_config **ret_cfg, struct seg_zonemap *map)
{
	struct seg_diags d;
	struct seg_plan *plan = NULL;
	const char *why = NULL;
	int64_t today;

	ck_assert_int_eq(seg_date_parse(TODAY, &today, &why), 0);
	int r = seg_config_load(path, today, ret_cfg, &d);
	ck_assert_msg(r == 0, "%s: load failed (%d, %zu errors)", path, r, d.n_errors);
	seg_diags_free(&d);
	ck_assert_int_eq(seg_zonemap_build(*ret_cfg, map), 0);
	ck_assert_int_eq(seg_plan_compile(*ret_cfg, map, &plan), 0);
	return plan;
}

static char *render(const struct seg_plan *plan, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(seg_plan_write_nft(plan, f), 0);
	fclose(f);
	return buf;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;

	if (!f)
		return NULL;
	FILE *m = open_memstream(&buf, len);
	int c;
	while ((c = fgetc(f)) != EOF)
		fputc(c, m);
	fclose(m);
	fclose(f);
	return buf;
}

static void golden_path(const char *conf, char *out, size_t len)
{
	const char *base = strrchr(conf, '/');
	base = base ? base + 1 : conf;
	snprintf(out, len, "%s/%.*s.nft", GOLDEN_DIR, (int)(strlen(base) - 5), base);
}

START_TEST(test_golden)
{
	const char *conf = golden_configs[_i];
	struct seg_config *cfg = NULL;
	struct seg_zonemap map = { 0 };
	struct seg_plan *plan = compile_file(conf, &cfg, &map);
	size_t len, glen = 0;
	char *text = render(plan, &len), path[512];

	golden_path(conf, path, sizeof(path));
	if (getenv("SEGD_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fwrite(text, 1, len, f);
		fclose(f);
	}
	char *want = slurp(path, &glen);
	ck_assert_msg(want != NULL, "%s missing (SEGD_UPDATE_GOLDEN=1 creates it)", path);
	ck_assert_msg(glen == len && memcmp(want, text, len) == 0,
		      "%s: the compiled ruleset differs from %s (diff <(build/segctl rules %s) %s)",
		      conf, path, conf, path);
	/* deterministic: a second compilation renders the same bytes */
	struct seg_plan *again = NULL;
	ck_assert_int_eq(seg_plan_compile(cfg, &map, &again), 0);
	size_t len2;
	char *text2 = render(again, &len2);
	ck_assert(len2 == len && memcmp(text, text2, len) == 0);
	free(text2);
	seg_plan_free(again);
	free(want);
	free(text);
	seg_plan_free(plan);
	seg_zonemap_free(&map);
	seg_config_free(cfg);
}
END_TEST

static bool boxes_overlap(const struct seg_plan_set *s, const struct seg_plan_elem *a,
			  const struct seg_plan_elem *b)
{
	for (size_t i = 0; i < s->n_key; i++) {
		size_t o = seg_set_key_off(s, i), l = seg_ktype_len(s->key[i]);
		if (memcmp(a->lo + o, b->hi + o, l) > 0 || memcmp(b->lo + o, a->hi + o, l) > 0)
			return false;
	}
	return true;
}

static void check_set(const struct seg_plan *p, const struct seg_plan_set *s)
{
	size_t kl = seg_set_key_len(s);

	ck_assert_uint_gt(s->n_elems, 0);          /* created only when non-empty */
	for (size_t i = 0; i < s->n_elems; i++) {
		const struct seg_plan_elem *e = &s->elems[i];
		ck_assert_int_le(memcmp(e->lo, e->hi, kl), 0);
		if (!s->interval)
			ck_assert_msg(memcmp(e->lo, e->hi, kl) == 0, "set %s: a range in a hash set", s->name);
		if (i > 0)
			ck_assert_msg(memcmp(s->elems[i - 1].lo, e->lo, kl) < 0, "set %s: not sorted/unique", s->name);
		if (s->vmap)
			ck_assert_uint_lt(e->chain, p->n_chains);
		for (size_t j = i + 1; s->interval && j < s->n_elems; j++)
			ck_assert_msg(!boxes_overlap(s, e, &s->elems[j]), "set %s: elements %zu and %zu overlap",
				      s->name, i, j);
	}
}

/* Counting sets are exactly the conduit sets ("c4p.a.b", ...); each of their
 * elements names an installed conduit of that very pair, so that segctl stats
 * can add the kernel's element counters up per conduit. */
static void check_conduit_counts(const struct seg_plan *p, const struct seg_config *cfg)
{
	ck_assert_uint_eq(p->n_conduits, p->counts.conduits_installed);
	ck_assert_uint_le(p->n_conduits, cfg->n_conduits);
	for (size_t i = 0; i < p->n_sets; i++) {
		const struct seg_plan_set *s = &p->sets[i];
		char pair[80];
		ck_assert_msg(s->counter == (s->name[0] == 'c'), "set %s: counter %d", s->name, s->counter);
		for (size_t j = 0; j < s->n_elems; j++) {
			uint32_t k = s->elems[j].conduit;
			if (!s->counter) {
				ck_assert_uint_eq(k, 0);
				continue;
			}
			ck_assert_msg(k >= 1 && k <= p->n_conduits, "set %s element %zu: conduit %u", s->name, j, k);
			const struct seg_plan_conduit *c = &p->conduits[k - 1];
			snprintf(pair, sizeof(pair), ".%s.%s", c->from, c->to);
			ck_assert_str_eq(strchr(s->name, '.'), pair);
			ck_assert_int_eq(s->elems[j].line, c->line);
		}
	}
}

START_TEST(test_plan_properties)
{
	struct seg_config *cfg = NULL;
	struct seg_zonemap map = { 0 };
	struct seg_plan *p = compile_file(golden_configs[_i], &cfg, &map);

	for (size_t i = 0; i < p->n_sets; i++)
		check_set(p, &p->sets[i]);
	for (size_t c = 0; c < p->n_chains; c++)
		for (size_t r = 0; r < p->chains[c].n_rules; r++) {
			const struct seg_plan_rule *rule = &p->chains[c].rules[r];
			for (size_t k = 0; k < rule->n_c; k++)
				if (rule->c[k].kind == SEG_C_LOOKUP || rule->c[k].kind == SEG_C_VMAP)
					ck_assert_uint_lt(rule->c[k].set, p->n_sets);
			if (rule->action == SEG_A_DROP)
				ck_assert(strncmp(rule->log_prefix, "segd ", 5) == 0 && strlen(rule->log_prefix) < 128);
		}
	ck_assert_str_eq(p->chains[0].name, "forward");
	ck_assert(p->chains[0].policy_drop);
	check_conduit_counts(p, cfg);
	seg_plan_free(p);
	seg_zonemap_free(&map);
	seg_config_free(cfg);
}
END_TEST

/* Overlapping conduits become disjoint pieces with the same union. */
static const char overlap_conf[] =
	"version = 1;\n"
	"zones = ( { name = \"a\"; kind = \"lgwan\"; interfaces = [ \"a0\" ]; networks = [ \"10.1.0.0/16\" ]; },\n"
	"          { name = \"b\"; kind = \"lgwan\"; interfaces = [ \"b0\" ]; networks = [ \"10.2.0.0/16\" ]; } );\n"
	"conduits = (\n"
	" { name = \"x\"; kind = \"specific\"; from = \"a\"; to = \"b\"; sources = [ \"10.1.0.0/24\" ];\n"
	"   destinations = [ \"10.2.0.0/24\" ]; services = [ \"tcp/100-200\" ]; approval = \"A\"; expires = \"2027-12-31\"; },\n"
	" { name = \"y\"; kind = \"specific\"; from = \"a\"; to = \"b\"; sources = [ \"10.1.0.128/25\" ];\n"
	"   destinations = [ \"10.2.0.5\" ]; services = [ \"tcp/150-300\" ]; approval = \"A\"; expires = \"2027-12-31\"; },\n"
	" { name = \"z\"; kind = \"specific\"; from = \"a\"; to = \"b\"; sources = [ \"10.1.0.0/16\" ];\n"
	"   destinations = [ \"10.2.0.0/16\" ]; services = [ \"tcp/120\" ]; approval = \"A\"; expires = \"2027-12-31\"; } );\n";

static bool set_holds(const struct seg_plan_set *s, const uint8_t *key)
{
	for (size_t i = 0; i < s->n_elems; i++) {
		bool in = true;
		for (size_t k = 0; k < s->n_key && in; k++) {
			size_t o = seg_set_key_off(s, k), l = seg_ktype_len(s->key[k]);
			in = memcmp(key + o, s->elems[i].lo + o, l) >= 0 && memcmp(key + o, s->elems[i].hi + o, l) <= 0;
		}
		if (in)
			return true;
	}
	return false;
}

/* Whether pair a -> b's conduit sets hold key (saddr . daddr . tcp . port,
 * IPv4): the interval and hash sets, and those of whole-zone sources keyed
 * without the source (every set checked for disjoint, sorted pieces). */
static bool pair_holds(const struct seg_plan *p, const uint8_t key[16])
{
	static const char *const names[] = { "c4pi.a.b", "c4p.a.b", "c4pwi.a.b", "c4pw.a.b" };
	bool held = false;

	for (size_t i = 0; i < p->n_sets; i++)
		for (size_t j = 0; j < N(names); j++)
			if (strcmp(p->sets[i].name, names[j]) == 0)
				held = set_holds(&p->sets[i], key + (j >= 2 ? 4 : 0)) || held;
	return held;
}

static void check_pair_sets(const struct seg_plan *p)
{
	for (size_t i = 0; i < p->n_sets; i++)
		if (strncmp(p->sets[i].name, "c4p", 3) == 0)
			check_set(p, &p->sets[i]);
}

START_TEST(test_overlap_union)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	struct seg_zonemap map = { 0 };
	struct seg_plan *p = NULL;

	ck_assert_int_eq(seg_config_load_string(overlap_conf, "overlap.conf", 20600, &cfg, &d), 0);
	seg_diags_free(&d);
	ck_assert_int_eq(seg_zonemap_build(cfg, &map), 0);
	ck_assert_int_eq(seg_plan_compile(cfg, &map, &p), 0);
	check_pair_sets(p);
	/* probe a grid of keys: held iff some conduit holds it */
	static const uint8_t srcs[][4] = { {10,1,0,1}, {10,1,0,200}, {10,1,5,5} };
	static const uint8_t dsts[][4] = { {10,2,0,5}, {10,2,0,9}, {10,2,7,7} };
	static const uint16_t ports[] = { 99, 100, 120, 149, 150, 200, 201, 300, 301 };
	for (size_t a = 0; a < N(srcs); a++)
		for (size_t b = 0; b < N(dsts); b++)
			for (size_t c = 0; c < N(ports); c++) {
				uint8_t key[16] = { 0 };
				memcpy(key, srcs[a], 4);
				memcpy(key + 4, dsts[b], 4);
				key[8] = 6;
				key[12] = (uint8_t)(ports[c] >> 8);
				key[13] = (uint8_t)ports[c];
				bool x = srcs[a][2] == 0 && dsts[b][2] == 0 && ports[c] >= 100 && ports[c] <= 200;
				bool y = srcs[a][2] == 0 && srcs[a][3] >= 128 && dsts[b][3] == 5 && dsts[b][2] == 0 &&
					 ports[c] >= 150 && ports[c] <= 300;
				bool z = ports[c] == 120;
				ck_assert_msg(pair_holds(p, key) == (x || y || z), "src %zu dst %zu port %u", a, b, ports[c]);
			}
	/* every piece is counted for one of x, y, z, and each of them keeps some */
	ck_assert_uint_eq(p->n_conduits, 3);
	bool owns[4] = { false };
	for (size_t i = 0; i < p->n_sets; i++)
		for (size_t j = 0; strncmp(p->sets[i].name, "c4p", 3) == 0 && j < p->sets[i].n_elems; j++) {
			const struct seg_plan_elem *e = &p->sets[i].elems[j];
			ck_assert_uint_ge(e->conduit, 1);
			ck_assert_uint_le(e->conduit, 3);
			owns[e->conduit] = true;
		}
	ck_assert(owns[1] && owns[2] && owns[3]);
	ck_assert_str_eq(p->conduits[0].name, "x");
	ck_assert_str_eq(p->conduits[2].name, "z");
	seg_plan_free(p);
	seg_zonemap_free(&map);
	seg_config_free(cfg);
}
END_TEST

/* Random overlapping conduits of every shape (whole-zone sides, prefixes of
 * several lengths, single hosts, port ranges): whatever dimension the
 * compiler sweeps along, the interval set's pieces are disjoint and hold
 * exactly the union of the conduits (probed at random and at every corner). */
struct rbox {
	uint32_t slo, shi, dlo, dhi;
	uint16_t plo, phi;
};

static uint32_t rnd(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*x >> 33);
}

static void rand_side(uint64_t *x, uint32_t net, char *buf, size_t len, uint32_t *lo, uint32_t *hi)
{
	static const int plen[] = { 16, 20, 24, 25, 28, 32, 32 };
	int k = (int)(rnd(x) % 8);

	if (k == 7) {      /* the whole zone: no sides written */
		buf[0] = '\0';
		*lo = net, *hi = net | 0xffffu;
		return;
	}
	uint32_t a = net | (rnd(x) & 0xfff0u) | (rnd(x) % 3);
	uint32_t m = plen[k] == 32 ? 0xffffffffu : ~(0xffffffffu >> plen[k]);
	*lo = a & m, *hi = *lo | ~m;
	snprintf(buf, len, "\"%u.%u.%u.%u/%d\"", *lo >> 24, (*lo >> 16) & 255, (*lo >> 8) & 255, *lo & 255, plen[k]);
}

START_TEST(test_random_overlaps)
{
	uint64_t x = 0x5e9d0000u + (uint64_t)_i;
	struct rbox b[40];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	fputs("version = 1;\nzones = ( { name = \"a\"; kind = \"lgwan\"; interfaces = [ \"a0\" ]; networks = "
	      "[ \"10.1.0.0/16\" ]; },\n { name = \"b\"; kind = \"lgwan\"; interfaces = [ \"b0\" ]; networks = "
	      "[ \"10.2.0.0/16\" ]; } );\nconduits = (\n", f);
	for (size_t i = 0; i < N(b); i++) {
		char src[40], dst[40];
		rand_side(&x, 0x0a010000u, src, sizeof(src), &b[i].slo, &b[i].shi);
		rand_side(&x, 0x0a020000u, dst, sizeof(dst), &b[i].dlo, &b[i].dhi);
		if (!dst[0])       /* destinations are required: the whole zone as its prefix */
			snprintf(dst, sizeof(dst), "\"10.2.0.0/16\"");
		b[i].plo = (uint16_t)(1000 + rnd(&x) % 200);
		b[i].phi = (uint16_t)(b[i].plo + (rnd(&x) % 3 ? rnd(&x) % 40 : 0));
		fprintf(f, "%s { name = \"k%zu\"; kind = \"specific\"; from = \"a\"; to = \"b\"; %s%s%s "
			"destinations = [ %s ]; services = [ \"tcp/%u-%u\" ]; approval = \"A\"; "
			"expires = \"2027-12-31\"; }\n", i ? "," : "", i, src[0] ? "sources = [ " : "", src,
			src[0] ? " ];" : "", dst, b[i].plo, b[i].phi);
	}
	fputs(");\n", f);
	fclose(f);

	struct seg_config *cfg = NULL;
	struct seg_diags d;
	struct seg_zonemap map = { 0 };
	struct seg_plan *p = NULL;
	int r = seg_config_load_string(text, "random.conf", 20600, &cfg, &d);   /* loads and validates */
	ck_assert_msg(r == 0 && d.n_errors == 0, "%s", d.n ? d.v[0].msg : "");
	seg_diags_free(&d);
	ck_assert_int_eq(seg_zonemap_build(cfg, &map), 0);
	ck_assert_int_eq(seg_plan_compile(cfg, &map, &p), 0);
	check_pair_sets(p);
	for (int t = 0; t < 4000; t++) {
		const struct rbox *c = &b[rnd(&x) % N(b)];
		uint32_t sa, da;
		uint16_t port;
		if (t % 2) {       /* near a box's corners, where cutting goes wrong */
			sa = (rnd(&x) & 1 ? c->slo : c->shi) + (uint32_t)(int)(rnd(&x) % 3) - 1;
			da = (rnd(&x) & 1 ? c->dlo : c->dhi) + (uint32_t)(int)(rnd(&x) % 3) - 1;
			port = (uint16_t)((rnd(&x) & 1 ? c->plo : c->phi) + (int)(rnd(&x) % 3) - 1);
		} else {
			sa = 0x0a010000u | (rnd(&x) & 0xffffu);
			da = 0x0a020000u | (rnd(&x) & 0xffffu);
			port = (uint16_t)(990 + rnd(&x) % 260);
		}
		if ((sa >> 16) != 0x0a01u)
			continue;      /* outside zone a: the pair's anti-spoofing rule drops it before any set */
		bool want = false;
		for (size_t i = 0; i < N(b) && !want; i++)
			want = sa >= b[i].slo && sa <= b[i].shi && da >= b[i].dlo && da <= b[i].dhi &&
			       port >= b[i].plo && port <= b[i].phi;
		uint8_t key[16] = { sa >> 24, (uint8_t)(sa >> 16), (uint8_t)(sa >> 8), (uint8_t)sa,
				    da >> 24, (uint8_t)(da >> 16), (uint8_t)(da >> 8), (uint8_t)da, 6, 0, 0, 0,
				    (uint8_t)(port >> 8), (uint8_t)port, 0, 0 };
		bool held = pair_holds(p, key);
		ck_assert_msg(held == want, "seed %d probe %d: %08x -> %08x port %u: sets %d, conduits %d",
			      _i, t, sa, da, port, held, want);
	}
	seg_plan_free(p);
	seg_zonemap_free(&map);
	seg_config_free(cfg);
	free(text);
}
END_TEST

Suite *compile_suite(void)
{
	Suite *s = suite_create("compile");
	TCase *tc = tcase_create("golden");

	tcase_add_loop_test(tc, test_golden, 0, N(golden_configs));
	tcase_add_loop_test(tc, test_plan_properties, 0, N(golden_configs));
	tcase_add_test(tc, test_overlap_union);
	tcase_add_loop_test(tc, test_random_overlaps, 0, 12);
	suite_add_tcase(s, tc);
	return s;
}
