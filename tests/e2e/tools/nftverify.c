/* nftverify.c - test helper of tests/e2e/test-verify.sh: lib/'s verify and
 * counter reading from the shell, printed as the control protocol's
 * key=value lines (what the daemon's handlers will send).
 *
 *   nftverify apply CONF          install CONF's plan (seg_nft_apply, as segd does)
 *   nftverify verify CONF         seg_nft_verify: seg_nft_diff_to_kv lines; exit 0 in sync, 1 not
 *   nftverify counters CONF       seg_nft_counters: seg_counters_to_kv lines
 *   nftverify time CONF N         N verifies; prints "verify_ms=<best> <median>" and elements
 *   nftverify rules CONF          the plan as nft -f text (segctl rules without segctl)
 *
 * Built by the test from build/o/lib objects. Exit 2 on errors. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "config.h"
#include "control.h"
#include "nftnl.h"
#include "plan.h"
#include "stats.h"
#include "zonemap.h"

static struct seg_plan *load_plan(const char *path)
{
	struct seg_config *cfg = NULL;
	struct seg_zonemap map = { 0 };
	struct seg_plan *plan = NULL;
	struct seg_diags d;

	if (seg_config_load(path, seg_today(), &cfg, &d) != 0) {
		seg_diags_print(&d, stderr);
		seg_diags_free(&d);
		return NULL;
	}
	seg_diags_free(&d);
	if (seg_zonemap_build(cfg, &map) != 0 || seg_plan_compile(cfg, &map, &plan) != 0)
		fprintf(stderr, "nftverify: %s: cannot compile\n", path);
	seg_zonemap_free(&map);
	seg_config_free(cfg);
	return plan;
}

static void print_kv(const struct seg_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		printf("%s=%s\n", l->v[i].key, l->v[i].value);
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int do_verify(const struct seg_plan *plan)
{
	struct seg_nft_diff diff, back;
	struct seg_kvlist l;
	int r = seg_nft_verify(plan, &diff);

	if (r < 0) {
		fprintf(stderr, "nftverify: verify: %s\n", strerror(-r));
		return 2;
	}
	seg_kv_init(&l);
	if (seg_nft_diff_to_kv(&diff, &l) < 0 || seg_nft_diff_from_kv(&l, &back) < 0 ||
	    back.in_sync != diff.in_sync || back.n_text != diff.n_text) {
		fprintf(stderr, "nftverify: the diff does not survive key=value\n");
		r = -EPROTO;
	}
	print_kv(&l);
	seg_kv_free(&l);
	return r < 0 ? 2 : diff.in_sync ? 0 : 1;
}

static int do_counters(const struct seg_plan *plan)
{
	struct seg_counters *c = NULL;
	struct seg_kvlist l;
	int r = seg_nft_counters(plan, &c);

	if (r < 0) {
		fprintf(stderr, "nftverify: counters: %s\n", strerror(-r));
		return 2;
	}
	seg_kv_init(&l);
	r = seg_counters_to_kv(c, &l);
	print_kv(&l);
	seg_kv_free(&l);
	seg_counters_free(c);
	return r < 0 ? 2 : 0;
}

static int do_time(const struct seg_plan *plan, int n)
{
	double *ms = calloc((size_t)n, sizeof(*ms));
	struct seg_nft_diff diff;

	for (int i = 0; ms && i < n; i++) {
		double t0 = now_ms();
		if (seg_nft_verify(plan, &diff) < 0 || !diff.in_sync) {
			fprintf(stderr, "nftverify: time: verify failed or not in sync\n");
			free(ms);
			return 2;
		}
		ms[i] = now_ms() - t0;
	}
	if (!ms)
		return 2;
	qsort(ms, (size_t)n, sizeof(*ms), cmp_double);
	printf("verify_ms=%.1f %.1f\nelements=%zu\n", ms[0], ms[n / 2], plan->counts.elems);
	free(ms);
	return 0;
}

static int do_apply(const struct seg_plan *plan)
{
	struct seg_nft_stats st;
	struct seg_nft_error err;
	int r = seg_nft_apply(plan, &st, &err);

	if (r < 0) {
		fprintf(stderr, "nftverify: apply: %s (%s) %s: %s\n", err.errname, err.ext, err.what, strerror(-r));
		return 2;
	}
	printf("applied=%zu bytes %zu messages\n", st.batch_bytes, st.messages);
	return 0;
}

int main(int argc, char **argv)
{
	struct seg_plan *plan;
	int r = 2;

	if (argc < 3) {
		fprintf(stderr, "usage: nftverify apply|verify|counters|time CONF [N]\n");
		return 2;
	}
	plan = load_plan(argv[2]);
	if (!plan)
		return 2;
	if (strcmp(argv[1], "apply") == 0)
		r = do_apply(plan);
	else if (strcmp(argv[1], "verify") == 0)
		r = do_verify(plan);
	else if (strcmp(argv[1], "counters") == 0)
		r = do_counters(plan);
	else if (strcmp(argv[1], "rules") == 0)
		r = seg_plan_write_nft(plan, stdout) < 0 ? 2 : 0;
	else if (strcmp(argv[1], "time") == 0)
		r = do_time(plan, argc > 3 ? atoi(argv[3]) : 5);
	seg_plan_free(plan);
	return r;
}
