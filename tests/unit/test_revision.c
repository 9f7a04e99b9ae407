/* test_revision.c - the revision store (numbering, listing, metadata round
 * trip, the bound, atomicity against crashes) and the isolation state file. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "revision.h"
#include "suites.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/segd-test-rev.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static uint32_t store_text(const char *text, const char *how, unsigned keep)
{
	struct seg_revision m = { .time = 1700000000, .uid = 1000 };
	uint32_t n = 0;

	snprintf(m.how, sizeof(m.how), "%s", how);
	ck_assert_int_eq(seg_rev_store(dir, text, strlen(text), &m, keep, &n), 0);
	return n;
}

/* Files in dir/revisions whose names contain sub. */
static int count_files(const char *sub)
{
	char path[128];
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/revisions", dir);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += strstr(e->d_name, sub) != NULL;
	closedir(d);
	return n;
}

START_TEST(test_store_list)
{
	static const char *const texts[] = { "version = 1;\n", "version = 1; # b\n", "" };
	struct seg_revision *v = NULL;
	size_t n = 0;
	char sha[SEG_SHA256_HEX], *data = NULL;
	size_t len;

	for (size_t i = 0; i < 3; i++)
		ck_assert_uint_eq(store_text(texts[i], "reload", SEG_REV_KEEP), i + 1);
	ck_assert_int_eq(seg_rev_list(dir, &v, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(v[i].number, i + 1);
		seg_sha256_hex(texts[i], strlen(texts[i]), sha);
		ck_assert_str_eq(v[i].sha256, sha);
		ck_assert_uint_eq(v[i].size, strlen(texts[i]));
		ck_assert_str_eq(v[i].how, "reload");
		ck_assert_uint_eq(v[i].uid, 1000);
		char *p = seg_rev_conf_path(dir, v[i].number);
		ck_assert_int_eq(seg_rev_read_file(p, &data, &len), 0);
		ck_assert_uint_eq(len, strlen(texts[i]));
		ck_assert_mem_eq(data, texts[i], len);
		free(data);
		free(p);
	}
	seg_rev_list_free(v, n);
}
END_TEST

START_TEST(test_empty_and_missing)
{
	struct seg_revision *v = NULL, m;
	size_t n = 7;

	ck_assert_int_eq(seg_rev_list(dir, &v, &n), 0);   /* no revisions directory yet */
	ck_assert_uint_eq(n, 0);
	seg_rev_list_free(v, n);
	ck_assert_int_eq(seg_rev_get(dir, 1, &m), -ENOENT);
}
END_TEST

/* Metadata survives the round trip, newlines and backslashes included. */
START_TEST(test_meta_roundtrip)
{
	char *apps[] = { "R8-DX-014", "multi\nline \\ approval" };
	struct seg_revision m = { .time = 1795699219, .uid = 4242, .source = 3, .state = SEG_REV_PENDING,
				  .deadline = 1795699300, .revert_to = 2, .approvals = apps, .n_approvals = 2 }, g;
	uint32_t n;

	snprintf(m.how, sizeof(m.how), "rollback");
	snprintf(m.why, sizeof(m.why), "line one\nline two");
	ck_assert_int_eq(seg_rev_store(dir, "x", 1, &m, 10, &n), 0);
	ck_assert_int_eq(seg_rev_get(dir, n, &g), 0);
	ck_assert_uint_eq(g.number, 1);
	ck_assert_int_eq(g.time, 1795699219);
	ck_assert_uint_eq(g.uid, 4242);
	ck_assert_uint_eq(g.source, 3);
	ck_assert_int_eq(g.state, SEG_REV_PENDING);
	ck_assert_int_eq(g.deadline, 1795699300);
	ck_assert_uint_eq(g.revert_to, 2);
	ck_assert_str_eq(g.how, "rollback");
	ck_assert_str_eq(g.why, "line one\nline two");
	ck_assert_uint_eq(g.n_approvals, 2);
	ck_assert_str_eq(g.approvals[1], "multi\nline \\ approval");
	g.state = SEG_REV_CONFIRMED;
	g.state_uid = 7;
	ck_assert_int_eq(seg_rev_update(dir, &g), 0);
	seg_rev_clear(&g);
	ck_assert_int_eq(seg_rev_get(dir, n, &g), 0);
	ck_assert_int_eq(g.state, SEG_REV_CONFIRMED);
	ck_assert_uint_eq(g.state_uid, 7);
	ck_assert_str_eq(seg_rev_state_name(g.state), "confirmed");
	seg_rev_clear(&g);
	g.number = 99;
	ck_assert_int_eq(seg_rev_update(dir, &g), -ENOENT);   /* never creates a revision */
}
END_TEST

/* The bound: after keep+k stores exactly the newest keep remain, numbered on. */
static const unsigned bound_keep[] = { 1, 3, 10 };

START_TEST(test_bound)
{
	unsigned keep = bound_keep[_i], total = keep + 7;
	struct seg_revision *v = NULL;
	size_t n = 0;
	char text[32];

	for (unsigned i = 1; i <= total; i++) {
		snprintf(text, sizeof(text), "rev %u\n", i);
		ck_assert_uint_eq(store_text(text, "reload", keep), i);
	}
	ck_assert_int_eq(seg_rev_list(dir, &v, &n), 0);
	ck_assert_uint_eq(n, keep);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(v[i].number, total - keep + 1 + i);
	ck_assert_int_eq(count_files(".conf"), (int)keep);
	ck_assert_int_eq(count_files(".meta"), (int)keep);
	seg_rev_list_free(v, n);
}
END_TEST

/* A crash between writing the content and its metadata, or in the middle
 * of a temporary file, leaves nothing visible; the next store goes on. */
START_TEST(test_crash_leftovers)
{
	char path[160];
	struct seg_revision *v = NULL;
	size_t n = 0;
	FILE *f;

	store_text("one\n", "start", 10);
	snprintf(path, sizeof(path), "%s/revisions/0000000002.conf", dir);   /* content, no meta */
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("half-written", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/revisions/0000000002.meta.tmp.12345", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fclose(f);
	snprintf(path, sizeof(path), "%s/revisions/0000000003.meta", dir);   /* garbage meta */
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("not a revision\n", f);
	fclose(f);
	ck_assert_int_eq(seg_rev_list(dir, &v, &n), 0);
	ck_assert_uint_eq(n, 1);
	seg_rev_list_free(v, n);
	/* numbering follows the newest .meta name, so the garbage one is skipped over */
	ck_assert_uint_eq(store_text("two\n", "reload", 10), 4);
	ck_assert_int_eq(seg_rev_list(dir, &v, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(v[1].number, 4);
	seg_rev_list_free(v, n);
	ck_assert_int_eq(count_files(".tmp."), 1);   /* only the stale one; ours were renamed */
}
END_TEST

START_TEST(test_write_atomic)
{
	char path[128], *data = NULL;
	size_t len;
	struct stat st;

	snprintf(path, sizeof(path), "%s/f", dir);
	ck_assert_int_eq(seg_rev_write_atomic(path, "old", 3, 0640), 0);
	ck_assert_int_eq(seg_rev_write_atomic(path, "new content", 11, 0600), 0);
	ck_assert_int_eq(seg_rev_read_file(path, &data, &len), 0);
	ck_assert_str_eq(data, "new content");
	free(data);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/no/such/dir/f", dir);
	ck_assert_int_eq(seg_rev_write_atomic(path, "x", 1, 0600), -ENOENT);
}
END_TEST

/* ---- isolation ---- */

static const struct { const char *reason; bool ok; } reasons[] = {
	{ "incident 42", true }, { "侵害の疑い (CSIRT #7)", true }, { "", false },
	{ "tab\there", false }, { "new\nline", false }, { "del\x7f", false },
};

START_TEST(test_reason_valid)
{
	const char *why = NULL;

	ck_assert_int_eq(seg_iso_reason_valid(reasons[_i].reason, &why), reasons[_i].ok);
	if (!reasons[_i].ok)
		ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_iso_roundtrip)
{
	struct seg_isolations iso = { 0 }, back = { 0 };
	char path[128];
	size_t bad = 9;
	FILE *f;

	ck_assert_int_eq(seg_iso_load(dir, &back, &bad), 0);   /* no file: nothing isolated */
	ck_assert_uint_eq(back.n, 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(seg_iso_set(&iso, "lgwan", "incident 42", 0, 1700000000), 0);
	ck_assert_int_eq(seg_iso_set(&iso, "internet", "侵害の疑い", 1000, 1700000001), 0);
	ck_assert_int_eq(seg_iso_set(&iso, "lgwan", "incident 43", 5, 1700000002), 0);   /* replaces */
	ck_assert_uint_eq(iso.n, 2);
	ck_assert_int_eq(seg_iso_save(dir, &iso), 0);
	ck_assert_int_eq(seg_iso_load(dir, &back, NULL), 0);
	ck_assert_uint_eq(back.n, 2);
	int i = seg_iso_find(&back, "lgwan");
	ck_assert_int_ge(i, 0);
	ck_assert_str_eq(back.v[i].reason, "incident 43");
	ck_assert_uint_eq(back.v[i].uid, 5);
	ck_assert_int_eq(back.v[i].time, 1700000002);
	ck_assert_int_eq(seg_iso_remove(&back, "lgwan"), 0);
	ck_assert_int_eq(seg_iso_remove(&back, "lgwan"), -ENOENT);
	ck_assert_int_eq(seg_iso_find(&back, "internet"), 0);
	seg_iso_free(&back);
	/* damaged lines are skipped and counted, the good ones kept */
	snprintf(path, sizeof(path), "%s/isolation", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "a"));
	fputs("BAD NAME\t0\t1\tx\nonlyzone\nlg2\t-1\t1\tx\ncloud\t0\t1\tok\n", f);
	fclose(f);
	ck_assert_int_eq(seg_iso_load(dir, &back, &bad), 0);
	ck_assert_uint_eq(back.n, 3);
	ck_assert_uint_eq(bad, 3);
	seg_iso_free(&back);
	seg_iso_free(&iso);
	seg_iso_free(NULL);
}
END_TEST

Suite *revision_suite(void)
{
	Suite *s = suite_create("revision");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_store_list);
	tcase_add_test(tc, test_empty_and_missing);
	tcase_add_test(tc, test_meta_roundtrip);
	tcase_add_loop_test(tc, test_bound, 0, sizeof(bound_keep) / sizeof(bound_keep[0]));
	tcase_add_test(tc, test_crash_leftovers);
	tcase_add_test(tc, test_write_atomic);
	tcase_add_loop_test(tc, test_reason_valid, 0, sizeof(reasons) / sizeof(reasons[0]));
	tcase_add_test(tc, test_iso_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
