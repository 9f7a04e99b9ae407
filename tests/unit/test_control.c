/* The control protocol: encode/decode round trips and hostile messages. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"
#include "suites.h"

START_TEST(roundtrip)
{
	struct seg_kvlist a, b;
	char *msg;
	size_t len;
	const char *why = NULL;

	seg_kv_init(&a);
	seg_kv_init(&b);
	ck_assert_int_eq(seg_kv_add(&a, "cmd", "isolate"), 0);
	ck_assert_int_eq(seg_kv_add(&a, "reason", "line1\nstatus=ok\\n"), 0);
	ck_assert_int_eq(seg_kv_addf(&a, "zone", "%s-%d", "lg", 2), 0);
	ck_assert_int_eq(seg_kv_add(&a, "zone", ""), 0);
	ck_assert_int_eq(seg_ctl_encode(&a, &msg, &len), 0);
	/* the newline in the value must not become a line of its own */
	ck_assert_ptr_null(strstr(msg, "\nstatus=ok"));
	ck_assert_int_eq(seg_ctl_decode(msg, len, &b, &why), 0);
	ck_assert_uint_eq(b.n, 4);
	ck_assert_str_eq(seg_kv_get(&b, "reason"), "line1\nstatus=ok\\n");
	size_t i = 0;
	ck_assert_str_eq(seg_kv_next(&b, "zone", &i), "lg-2");
	ck_assert_str_eq(seg_kv_next(&b, "zone", &i), "");
	ck_assert_ptr_null(seg_kv_next(&b, "zone", &i));
	free(msg);
	seg_kv_free(&a);
	seg_kv_free(&b);
}
END_TEST

static const struct { const char *msg; size_t len; int err; } bad[] = {
	{ "", 0, -EBADMSG },
	{ "cmd=status", 10, -EBADMSG },               /* no final newline */
	{ "=x\n", 3, -EBADMSG },                       /* empty key */
	{ "CMD=x\n", 6, -EBADMSG },                    /* key charset */
	{ "cmd\n", 4, -EBADMSG },                      /* no '=' */
	{ "cmd=a\\qb\n", 9, -EBADMSG },                /* bad escape */
	{ "cmd=a\\\n", 7, -EBADMSG },                  /* escape at end */
	{ "cmd=a\0b\n", 8, -EBADMSG },                 /* NUL */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1\n", 36, -EBADMSG }, /* key of 33 */
};

START_TEST(hostile)
{
	struct seg_kvlist l;
	const char *why = NULL;

	seg_kv_init(&l);
	ck_assert_int_eq(seg_ctl_decode(bad[_i].msg, bad[_i].len, &l, &why), bad[_i].err);
	ck_assert_ptr_nonnull(why);
	seg_kv_free(&l);
}
END_TEST

START_TEST(limits)
{
	struct seg_kvlist l;
	const char *why;
	size_t n = SEG_CTL_MAX_PAIRS + 1, len = n * 4;
	char *big = malloc(len);

	for (size_t i = 0; i < n; i++)
		memcpy(big + i * 4, "a=b\n", 4);
	seg_kv_init(&l);
	ck_assert_int_eq(seg_ctl_decode(big, len, &l, &why), -E2BIG);
	seg_kv_free(&l);
	seg_kv_init(&l);
	ck_assert_int_eq(seg_ctl_decode(big, SEG_CTL_MAX_MSG + 1, &l, &why), -E2BIG);
	seg_kv_free(&l);
	ck_assert_int_eq(seg_kv_add(&l, "Bad", "x"), -EINVAL);
	seg_kv_free(NULL);
	free(big);
}
END_TEST

START_TEST(no_daemon)
{
	struct seg_kvlist req, resp;

	seg_kv_init(&req);
	seg_kv_init(&resp);
	seg_kv_add(&req, "cmd", "status");
	ck_assert_int_eq(seg_ctl_call("/nonexistent/segd.sock", &req, 100, &resp), -ENOENT);
	seg_kv_free(&req);
	seg_kv_free(&resp);
}
END_TEST

Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("protocol");

	tcase_add_test(tc, roundtrip);
	tcase_add_loop_test(tc, hostile, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, limits);
	tcase_add_test(tc, no_daemon);
	suite_add_tcase(s, tc);
	return s;
}
