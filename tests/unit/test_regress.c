/* test_regress.c - every input that once broke a fuzz target
 * (tests/regress/<target>/) and every seed (fuzz/corpus/<target>/), through
 * the target's own entry point: what the fuzzer found stays found, here, in
 * the ASan build and under valgrind. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../fuzz/fuzz.h"
#include "suites.h"

struct target {
	const char *name;
	int (*fn)(const uint8_t *data, size_t size);
};

static const struct target targets[] = {
	{ "config", seg_fuzz_config },
	{ "nflog", seg_fuzz_nflog },
	{ "control", seg_fuzz_control },
	{ "netlink", seg_fuzz_netlink },
};

static const char *const dirs[] = { "tests/regress", "fuzz/corpus" };

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int read_all(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    !(buf = malloc((size_t)n + 1)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

/* Loop index: target i / 2 over directory i % 2. A missing directory holds
 * no inputs; an unreadable file fails. */
START_TEST(test_replay)
{
	const struct target *t = &targets[_i / N(dirs)];
	char dir[256], path[512];

	snprintf(dir, sizeof(dir), "%s/%s", dirs[_i % N(dirs)], t->name);
	DIR *d = opendir(dir);
	if (!d) {
		ck_assert_msg(errno == ENOENT, "%s: %s", dir, strerror(errno));
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		uint8_t *data = NULL;
		size_t len = 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		ck_assert_msg(read_all(path, &data, &len) == 0, "cannot read %s", path);
		int r = t->fn(data, len);
		free(data);
		ck_assert_msg(r == 0, "%s: the fuzz target '%s' reports a broken property", path, t->name);
	}
	closedir(d);
}
END_TEST

Suite *regress_suite(void)
{
	Suite *s = suite_create("regress");
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_replay, 0, (int)(N(targets) * N(dirs)));
	suite_add_tcase(s, tc);
	return s;
}
