/* test_spool.c - the JSONL spool: append, rotation, torn tails, errors and
 * the retry queue, the last id, the filtered reader, line and time parsing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "spool.h"
#include "suites.h"

#define T0 1764158400000000LL        /* 2025-11-26T12:00:00Z */

static char dir[64], path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/segd-spool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/incidents.jsonl", dir);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static size_t line_of(char *buf, size_t cap, unsigned id, const char *event, const char *src,
		      const char *dst, const char *first)
{
	return (size_t)snprintf(buf, cap, "{\"event\":\"%s\",\"src_zone\":\"%s\",\"dst_zone\":\"%s\","
				"\"first\":\"%s\",\"last\":\"%s\",\"packets\":1,\"incident_id\":%u}\n",
				event, src, dst, first, first, id);
}

static void append(struct seg_spool *sp, unsigned id, const char *event, const char *src,
		   const char *dst, const char *first)
{
	char buf[512];
	size_t n = line_of(buf, sizeof(buf), id, event, src, dst, first);
	ck_assert_int_eq(seg_spool_append(sp, buf, n), 0);
}

struct got {
	unsigned n;
	unsigned ids[256];
};

static int collect(const struct seg_spool_rec *r, void *ctx)
{
	struct got *g = ctx;
	const char *id = seg_spool_get(r, "incident_id");
	if (g->n < 256)
		g->ids[g->n] = id ? (unsigned)atoi(id) : 0;
	g->n++;
	return 0;
}

static struct got read_all(const struct seg_spool_filter *f, struct seg_spool_read_stats *st)
{
	struct got g = { 0 };
	ck_assert_int_eq(seg_spool_read(path, f, collect, &g, st), 0);
	return g;
}

START_TEST(test_append_read)
{
	struct seg_spool *sp;

	ck_assert_int_eq(seg_spool_new(path, NULL, &sp), 0);
	append(sp, 1, "flow-denied", "mynumber", "internet", "2025-11-26T12:00:00.000Z");
	append(sp, 2, "to-gateway", "lgwan", "", "2025-11-26T13:00:00.000Z");
	append(sp, 3, "flow-denied", "lgwan", "internet", "2025-11-27T12:00:00.000Z");
	ck_assert_int_eq(seg_spool_sync(sp, 0, true), 0);
	struct seg_spool_stats st;
	seg_spool_stats(sp, &st);
	ck_assert_uint_eq(st.lines, 3);
	ck_assert_int_eq(st.error, 0);
	seg_spool_close(sp);

	struct stat sb;
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0640);

	struct seg_spool_read_stats rs;
	struct got g = read_all(NULL, &rs);
	ck_assert_uint_eq(g.n, 3);
	ck_assert_uint_eq(rs.bad, 0);
	struct seg_spool_filter f = { .zone = "lgwan" };
	g = read_all(&f, NULL);
	ck_assert_uint_eq(g.n, 2);
	f = (struct seg_spool_filter){ .event = "flow-denied", .zone = "internet" };
	g = read_all(&f, NULL);
	ck_assert_uint_eq(g.n, 2);
	f = (struct seg_spool_filter){ .since_us = T0 + 1, .until_us = T0 + 86400000000LL - 1 };
	g = read_all(&f, NULL);
	ck_assert_uint_eq(g.n, 1);
	ck_assert_uint_eq(g.ids[0], 2);
	uint64_t id;
	ck_assert_int_eq(seg_spool_last_id(path, &id), 0);
	ck_assert_uint_eq(id, 3);
}
END_TEST

/* Size rotation keeps N files; the reader goes oldest first. */
START_TEST(test_rotation)
{
	struct seg_spool_opts o = { .max_bytes = 1000, .keep = 2 };
	struct seg_spool *sp;

	ck_assert_int_eq(seg_spool_new(path, &o, &sp), 0);
	for (unsigned i = 1; i <= 40; i++)
		append(sp, i, "flow-denied", "a", "b", "2025-11-26T12:00:00.000Z");
	struct seg_spool_stats st;
	seg_spool_stats(sp, &st);
	ck_assert_uint_gt(st.rotations, 2);
	seg_spool_close(sp);

	char name[160];
	struct stat sb;
	snprintf(name, sizeof(name), "%s.2", path);
	ck_assert_int_eq(stat(name, &sb), 0);
	ck_assert_uint_le(sb.st_size, 1000);
	snprintf(name, sizeof(name), "%s.3", path);
	ck_assert_int_eq(stat(name, &sb), -1);
	struct got g = read_all(NULL, NULL);
	ck_assert_uint_gt(g.n, 10);
	ck_assert_uint_eq(g.ids[g.n - 1], 40);
	for (unsigned i = 1; i < g.n; i++)
		ck_assert_uint_eq(g.ids[i], g.ids[i - 1] + 1);
	uint64_t id;
	ck_assert_int_eq(seg_spool_last_id(path, &id), 0);
	ck_assert_uint_eq(id, 40);
}
END_TEST

/* A torn last line (power loss) is ended before the next append and
 * skipped by the reader; whole lines around it survive. */
START_TEST(test_torn_tail)
{
	FILE *f = fopen(path, "w");
	fputs("{\"incident_id\":1,\"event\":\"flow-denied\"}\n{\"incident_id\":2,\"ev", f);
	fclose(f);
	struct seg_spool *sp;
	ck_assert_int_eq(seg_spool_new(path, NULL, &sp), 0);
	append(sp, 3, "flow-denied", "a", "b", "2025-11-26T12:00:00.000Z");
	seg_spool_close(sp);
	struct seg_spool_read_stats rs;
	struct got g = read_all(NULL, &rs);
	ck_assert_uint_eq(g.n, 2);
	ck_assert_uint_eq(g.ids[0], 1);
	ck_assert_uint_eq(g.ids[1], 3);
	ck_assert_uint_eq(rs.bad, 1);
}
END_TEST

/* An unwritable spool: the error comes back, lines wait in memory (bounded)
 * and are written once the spool can be written again. */
START_TEST(test_errors_retry)
{
	char sub[160], buf[512];
	struct seg_spool_opts o = { .max_pending = 400 };
	struct seg_spool *sp;

	snprintf(sub, sizeof(sub), "%s/later/incidents.jsonl", dir);
	ck_assert_int_eq(seg_spool_new(sub, &o, &sp), 0);
	size_t n = line_of(buf, sizeof(buf), 1, "flow-denied", "a", "b", "2025-11-26T12:00:00.000Z");
	ck_assert_int_eq(seg_spool_append(sp, buf, n), -ENOENT);
	ck_assert_int_eq(seg_spool_append(sp, buf, n), -ENOENT);
	ck_assert_int_eq(seg_spool_append(sp, buf, n), -ENOENT);   /* past 400 bytes: dropped */
	struct seg_spool_stats st;
	seg_spool_stats(sp, &st);
	ck_assert_int_eq(st.error, -ENOENT);
	ck_assert_uint_eq(st.pending_bytes, 2 * n);
	ck_assert_uint_eq(st.dropped, 1);
	ck_assert_int_eq(seg_spool_sync(sp, 0, true), -ENOENT);

	snprintf(sub, sizeof(sub), "%s/later", dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(seg_spool_sync(sp, 0, true), 0);
	seg_spool_stats(sp, &st);
	ck_assert_uint_eq(st.pending_bytes, 0);
	ck_assert_uint_eq(st.lines, 2);
	seg_spool_close(sp);

	/* a directory where the file should be */
	ck_assert_int_eq(seg_spool_new(sub, NULL, &sp), 0);
	ck_assert_int_lt(seg_spool_append(sp, buf, n), 0);
	seg_spool_close(sp);
	seg_spool_close(NULL);
}
END_TEST

START_TEST(test_bad_lines)
{
	struct seg_spool *sp;

	ck_assert_int_eq(seg_spool_new(path, NULL, &sp), 0);
	ck_assert_int_eq(seg_spool_append(sp, "{}", 2), -EINVAL);
	ck_assert_int_eq(seg_spool_append(sp, "{}\n{}\n", 6), -EINVAL);
	ck_assert_int_eq(seg_spool_append(sp, "", 0), -EINVAL);
	seg_spool_close(sp);
	ck_assert_int_eq(seg_spool_new("", NULL, &sp), -EINVAL);
	uint64_t id;
	ck_assert_int_eq(seg_spool_last_id(path, &id), -ENOENT);   /* created, empty */
}
END_TEST

/* The last id is found in the tail of a large spool, or in .1 when the
 * spool was just rotated. */
START_TEST(test_last_id)
{
	struct seg_spool *sp;
	uint64_t id = 0;

	ck_assert_int_eq(seg_spool_last_id(path, &id), -ENOENT);
	ck_assert_int_eq(seg_spool_new(path, NULL, &sp), 0);
	for (unsigned i = 1; i <= 2000; i++)
		append(sp, i, "flow-denied", "a", "b", "2025-11-26T12:00:00.000Z");
	seg_spool_close(sp);
	ck_assert_int_eq(seg_spool_last_id(path, &id), 0);
	ck_assert_uint_eq(id, 2000);
	char name[160];
	snprintf(name, sizeof(name), "%s.1", path);
	ck_assert_int_eq(rename(path, name), 0);
	close(open(path, O_CREAT | O_WRONLY, 0640));
	ck_assert_int_eq(seg_spool_last_id(path, &id), 0);
	ck_assert_uint_eq(id, 2000);
}
END_TEST

static const struct {
	const char *line;
	int ok;
	const char *key, *val;
} line_cases[] = {
	{ "{\"a\":\"b\"}", 1, "a", "b" },
	{ " { \"a\" : 12 , \"b\":null } ", 1, "a", "12" },
	{ "{\"a\":\"x\\\"y\\\\z\\n\"}", 1, "a", "x\"y\\z\n" },
	{ "{\"a\":\"\\u00e9\\u2192\\ud83d\\ude00\"}", 1, "a", "é→😀" },
	{ "{\"a\":true}", 1, "a", "true" },
	{ "{}", 1, NULL, NULL },
	{ "{\"a\":\"b\"", 0, NULL, NULL },
	{ "{\"a\":\"b\"}x", 0, NULL, NULL },
	{ "{\"a\":{\"b\":1}}", 0, NULL, NULL },
	{ "{\"a\":[1]}", 0, NULL, NULL },
	{ "{\"a\":\"\\u0000\"}", 0, NULL, NULL },
	{ "{\"a\":\"\\ud83d\"}", 0, NULL, NULL },
	{ "{\"a\":\"\\x\"}", 0, NULL, NULL },
	{ "{\"a\" \"b\"}", 0, NULL, NULL },
	{ "{a:1}", 0, NULL, NULL },
	{ "{\"first\":\"yesterday\"}", 0, NULL, NULL },
	{ "", 0, NULL, NULL },
};

START_TEST(test_parse_line)
{
	struct seg_spool_rec r;
	const char *l = line_cases[_i].line;
	size_t n = strlen(l);
	char *copy = malloc(n + 1), *scratch = malloc(n + 1);

	memcpy(copy, l, n);   /* not NUL-terminated: the parser must not need it */
	int rc = seg_spool_parse_line(copy, n, scratch, &r);
	ck_assert_msg((rc == 0) == line_cases[_i].ok, "'%s': %d", l, rc);
	if (rc == 0 && line_cases[_i].key)
		ck_assert_str_eq(seg_spool_get(&r, line_cases[_i].key), line_cases[_i].val);
	if (rc == 0 && strstr(l, "null"))
		ck_assert_ptr_null(seg_spool_get(&r, "b"));
	free(copy);
	free(scratch);
}
END_TEST

static const struct {
	const char *s;
	int ok;
	int64_t want;
} time_cases[] = {
	{ "2025-11-26T12:00:00Z", 1, T0 },
	{ "2025-11-26T12:00:00.250Z", 1, T0 + 250000 },
	{ "2025-11-26T21:00:00+09:00", 1, T0 },
	{ "2025-11-26T21:00+0900", 1, T0 },
	{ "2025-11-26T12:00Z", 1, T0 },
	{ "2025-11-26 12:00:00Z", 1, T0 },
	{ "1h", 1, T0 - 3600000000LL },
	{ "2d", 1, T0 - 2 * 86400000000LL },
	{ "90s", 1, T0 - 90000000LL },
	{ "1w", 1, T0 - 7 * 86400000000LL },
	{ "2025-02-30", 0, 0 },
	{ "2025-13-01", 0, 0 },
	{ "2025-11-26T25:00Z", 0, 0 },
	{ "2025-11-26T12:00:00+25:00", 0, 0 },
	{ "2025-11-26Tnoon", 0, 0 },
	{ "1y", 0, 0 },
	{ "-1h", 0, 0 },
	{ "h", 0, 0 },
	{ "1hh", 0, 0 },
	{ "", 0, 0 },
	{ "99999999999999d", 0, 0 },
};

START_TEST(test_time_parse)
{
	int64_t t = 0;
	int rc = seg_time_parse(time_cases[_i].s, T0, &t);

	ck_assert_msg((rc == 0) == time_cases[_i].ok, "'%s': %d", time_cases[_i].s, rc);
	if (rc == 0)
		ck_assert_msg(t == time_cases[_i].want, "'%s': %lld", time_cases[_i].s, (long long)t);
}
END_TEST

/* A date without a zone is local time: the same instant as its UTC form
 * shifted by the local offset, whatever TZ the test runs in. */
START_TEST(test_time_local)
{
	int64_t local, utc;

	ck_assert_int_eq(seg_time_parse("2025-11-26", 0, &local), 0);
	ck_assert_int_eq(seg_time_parse("2025-11-26T00:00:00Z", 0, &utc), 0);
	ck_assert_int_le(llabs(local - utc), 14 * 3600 * 1000000LL);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("files");
	TCase *tp = tcase_create("parse");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_append_read);
	tcase_add_test(tc, test_rotation);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_errors_retry);
	tcase_add_test(tc, test_bad_lines);
	tcase_add_test(tc, test_last_id);
	suite_add_tcase(s, tc);
	tcase_add_loop_test(tp, test_parse_line, 0, N(line_cases));
	tcase_add_loop_test(tp, test_time_parse, 0, N(time_cases));
	tcase_add_test(tp, test_time_local);
	suite_add_tcase(s, tp);
	return s;
}
