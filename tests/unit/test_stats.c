/* test_stats.c - counters per drop rule and per conduit without a kernel:
 * the plan's zero entries, the kernel's values added through the same
 * functions seg_nft_counters uses, and the key=value round trips segctl
 * relies on (counters and verify results). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "control.h"
#include "plan.h"
#include "stats.h"
#include "suites.h"
#include "zonemap.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

struct fix {
	struct seg_config *cfg;
	struct seg_zonemap map;
	struct seg_plan *plan;
};

static void fix_up(struct fix *f)
{
	struct seg_diags d;

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(seg_config_load(TEST_CONFIGS "/good/port-ranges.conf", 20600, &f->cfg, &d), 0);
	seg_diags_free(&d);
	ck_assert_int_eq(seg_zonemap_build(f->cfg, &f->map), 0);
	ck_assert_int_eq(seg_plan_compile(f->cfg, &f->map, &f->plan), 0);
}

static void fix_down(struct fix *f)
{
	seg_plan_free(f->plan);
	seg_zonemap_free(&f->map);
	seg_config_free(f->cfg);
}

static const struct seg_drop_count *find_drop(const struct seg_counters *c, const char *ev, const char *from,
					      const char *to)
{
	for (size_t i = 0; i < c->n_drops; i++)
		if (strcmp(seg_drop_event_name(c->drops[i].event), ev) == 0 && strcmp(c->drops[i].from, from) == 0 &&
		    strcmp(c->drops[i].to, to) == 0)
			return &c->drops[i];
	return NULL;
}

/* Every element's counter lands on its conduit; other keys are unattributed;
 * prefixes of one (event, from, to) add up. */
START_TEST(test_attribution)
{
	struct fix f;
	struct seg_counters *c = NULL;
	uint64_t want[64] = { 0 };
	uint8_t junk[SEG_PLAN_KEY_MAX] = { 0xff, 0xfe };

	fix_up(&f);
	ck_assert_uint_lt(f.plan->n_conduits, N(want));
	ck_assert_int_eq(seg_counters_new(f.plan, &c), 0);
	ck_assert_uint_eq(c->n_conduits, f.plan->n_conduits);
	ck_assert_ptr_nonnull(find_drop(c, "unzoned", "", ""));
	for (size_t s = 0; s < f.plan->n_sets; s++)
		for (size_t e = 0; f.plan->sets[s].counter && e < f.plan->sets[s].n_elems; e++) {
			const struct seg_plan_elem *pe = &f.plan->sets[s].elems[e];
			seg_counters_add_elem(c, f.plan, s, pe->lo, seg_set_key_len(&f.plan->sets[s]), 10 + e, 1000);
			want[pe->conduit - 1] += 10 + e;
		}
	seg_counters_add_elem(c, f.plan, 0, junk, 1, 5, 500);
	for (size_t k = 0; k < c->n_conduits; k++)
		ck_assert_uint_eq(c->conduits[k].packets, want[k]);
	ck_assert_uint_eq(c->unattributed, 1);
	ck_assert_uint_eq(c->unattributed_packets, 5);
	ck_assert_int_eq(seg_counters_add_drop(c, "segd S lgwan internet", 3, 300), 0);
	ck_assert_int_eq(seg_counters_add_drop(c, "segd S lgwan internet", 4, 400), 0);
	ck_assert_int_eq(seg_counters_add_drop(c, "not segd", 4, 400), -EINVAL);
	const struct seg_drop_count *d = find_drop(c, "spoofed-source", "lgwan", "internet");
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(d->packets, 7);
	ck_assert_uint_eq(d->bytes, 700);
	seg_counters_free(c);
	fix_down(&f);
}
END_TEST

START_TEST(test_counters_kv_round_trip)
{
	struct fix f;
	struct seg_counters *c = NULL, *back = NULL;
	struct seg_kvlist l;

	fix_up(&f);
	ck_assert_int_eq(seg_counters_new(f.plan, &c), 0);
	for (size_t i = 0; i < c->n_conduits; i++)
		c->conduits[i].packets = 1000000007ull * (i + 1), c->conduits[i].bytes = 3 * i;
	ck_assert_int_eq(seg_counters_add_drop(c, "segd D lgwan internet", 42, 4200), 0);
	seg_kv_init(&l);
	ck_assert_int_eq(seg_counters_to_kv(c, &l), 0);
	ck_assert_int_eq(seg_counters_from_kv(&l, &back), 0);
	ck_assert_uint_eq(back->n_conduits, c->n_conduits);
	ck_assert_uint_eq(back->n_drops, c->n_drops);
	for (size_t i = 0; i < c->n_conduits; i++) {
		ck_assert_str_eq(back->conduits[i].name, c->conduits[i].name);
		ck_assert_str_eq(back->conduits[i].to, c->conduits[i].to);
		ck_assert_uint_eq(back->conduits[i].packets, c->conduits[i].packets);
		ck_assert_uint_eq(back->conduits[i].bytes, c->conduits[i].bytes);
	}
	for (size_t i = 0; i < c->n_drops; i++) {
		ck_assert_int_eq(back->drops[i].event, c->drops[i].event);
		ck_assert_str_eq(back->drops[i].from, c->drops[i].from);
		ck_assert_str_eq(back->drops[i].to, c->drops[i].to);
		ck_assert_uint_eq(back->drops[i].packets, c->drops[i].packets);
	}
	seg_counters_free(back);
	seg_counters_free(c);
	seg_kv_free(&l);
	fix_down(&f);
}
END_TEST

/* More conduits than one message carries: the busiest are listed, the rest summed. */
START_TEST(test_counters_kv_limit)
{
	struct seg_counters c = { 0 }, *back = NULL;
	struct seg_kvlist l;
	size_t n = SEG_STATS_MAX_CONDUITS_KV + 10;
	uint64_t omitted = 0;

	c.conduits = calloc(n, sizeof(*c.conduits));
	c.n_conduits = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(c.conduits[i].name, sizeof(c.conduits[i].name), "c%zu", i);
		strcpy(c.conduits[i].from, "a");
		strcpy(c.conduits[i].to, "b");
		c.conduits[i].packets = (i * 7919) % n;
		if (c.conduits[i].packets < 10)
			omitted += c.conduits[i].packets;
	}
	seg_kv_init(&l);
	ck_assert_int_eq(seg_counters_to_kv(&c, &l), 0);
	ck_assert_int_eq(seg_counters_from_kv(&l, &back), 0);
	ck_assert_uint_eq(back->n_conduits, SEG_STATS_MAX_CONDUITS_KV);
	ck_assert_uint_eq(back->omitted, 10);
	ck_assert_uint_eq(back->omitted_packets, omitted);
	for (size_t i = 0; i < back->n_conduits; i++)
		ck_assert_uint_ge(back->conduits[i].packets, 10);
	seg_counters_free(back);
	seg_kv_free(&l);
	free(c.conduits);
}
END_TEST

static const char *const bad_values[][2] = {
	{ "drop", "flow-denied a b 1" },
	{ "drop", "no-such-event a b 1 2" },
	{ "drop", "flow-denied A b 1 2" },
	{ "drop", "flow-denied a b 1 2 3" },
	{ "conduit", "x a b -1 2" },
	{ "conduit", "x a b 1 2x" },
	{ "conduit", "averyveryveryveryveryverylongname1 a b 1 2" },
	{ "unattributed", "1 2" },
};

START_TEST(test_counters_kv_malformed)
{
	struct seg_kvlist l;
	struct seg_counters *c = NULL;

	seg_kv_init(&l);
	ck_assert_int_eq(seg_kv_add(&l, bad_values[_i][0], bad_values[_i][1]), 0);
	ck_assert_int_eq(seg_counters_from_kv(&l, &c), -EBADMSG);
	ck_assert_ptr_null(c);
	seg_kv_free(&l);
}
END_TEST

START_TEST(test_diff_kv_round_trip)
{
	struct seg_nft_diff d, back;
	struct seg_kvlist l;

	memset(&d, 0, sizeof(d));
	d.rules_missing = 2;
	d.elems_extra = 100000;
	d.sets_changed = 1;
	d.n_text = 2;
	d.n_more = 7;
	strcpy(d.text[0], "chain 'forward': rule missing: counter log prefix \"segd U - -\" group 7 drop");
	strcpy(d.text[1], "a text\nwith a newline = and a key=value look");
	seg_kv_init(&l);
	ck_assert_int_eq(seg_nft_diff_to_kv(&d, &l), 0);
	ck_assert_str_eq(seg_kv_get(&l, "in_sync"), "no");
	ck_assert_str_eq(seg_kv_get(&l, "diff.elements"), "0 100000 0");
	char *buf = NULL;
	size_t len = 0;
	struct seg_kvlist wire;
	const char *why = NULL;
	ck_assert_int_eq(seg_ctl_encode(&l, &buf, &len), 0);            /* through the wire format too */
	seg_kv_init(&wire);
	ck_assert_int_eq(seg_ctl_decode(buf, len, &wire, &why), 0);
	ck_assert_int_eq(seg_nft_diff_from_kv(&wire, &back), 0);
	ck_assert(memcmp(&back, &d, sizeof(d)) == 0);
	free(buf);
	seg_kv_free(&wire);
	seg_kv_free(&l);
	seg_kv_init(&l);
	ck_assert_int_eq(seg_nft_diff_from_kv(&l, &back), -EBADMSG);    /* no in_sync */
	seg_kv_free(&l);
}
END_TEST

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_test(tc, test_attribution);
	tcase_add_test(tc, test_counters_kv_round_trip);
	tcase_add_test(tc, test_counters_kv_limit);
	tcase_add_loop_test(tc, test_counters_kv_malformed, 0, N(bad_values));
	tcase_add_test(tc, test_diff_kv_round_trip);
	suite_add_tcase(s, tc);
	return s;
}
