/*
 * fuzz_config.c - the configuration loader and validator, and everything a
 * configuration that loads goes through on its way to the kernel: the zone
 * map, the decision index, the compiler, the nft text and the netlink batch.
 *
 * Text without NUL goes through seg_config_load_string(); text with a NUL
 * goes through seg_config_load() on a memfd, the only path that sees the
 * NUL (a string loader stops at it). Properties: a configuration that loads
 * compiles (or hits a documented limit: -E2BIG), and compiling it twice
 * gives the same nft text byte for byte (the plan is deterministic).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "config.h"
#include "decide.h"
#include "fuzz.h"
#include "nftnl.h"
#include "plan.h"
#include "zonemap.h"

#define FUZZ_TODAY 20000   /* 2024-10-04: some seeds' conduits expire before it */

/* nft text of cfg's plan in *ret (malloc'ed), or NULL when compilation
 * failed with *ret_err set. Also builds the netlink batch of the plan. */
static char *render(const struct seg_config *cfg, const struct seg_zonemap *map, int *ret_err)
{
	struct seg_plan *plan = NULL;
	struct seg_nft_batch *batch = NULL;
	char *text = NULL;
	size_t len = 0;
	int r = seg_plan_compile(cfg, map, &plan);

	if (r == 0) {
		FILE *f = open_memstream(&text, &len);
		if (!f || seg_plan_write_nft(plan, f) < 0)
			r = -EIO;
		if (f)
			fclose(f);
	}
	if (r == 0)
		r = seg_nft_batch_build(plan, &batch);
	seg_nft_batch_free(batch);
	seg_plan_free(plan);
	*ret_err = r;
	if (r < 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* A flow from the first network of zone a to the first network of zone b. */
static void decide_pairs(const struct seg_config *cfg)
{
	struct seg_policy *pol = NULL;

	if (seg_policy_build(cfg, &pol) < 0)
		return;
	for (size_t a = 0; a < cfg->n_zones; a++) {
		for (size_t b = 0; b < cfg->n_zones; b++) {
			const struct seg_zone *za = &cfg->zones[a], *zb = &cfg->zones[b];
			if (!za->n_nets || !zb->n_nets || za->nets[0].family != zb->nets[0].family)
				continue;
			struct seg_flow fl = { .path = SEG_PATH_FORWARD, .family = za->nets[0].family,
					       .l4proto = 6, .dport = 443 };
			struct seg_verdict v;
			memcpy(fl.src, za->nets[0].addr, 16);
			memcpy(fl.dst, zb->nets[0].addr, 16);
			seg_decide(pol, &fl, &v);
		}
	}
	seg_policy_free(pol);
}

/* -1 when a loaded configuration does not compile or compiles differently twice. */
static int check_loaded(const struct seg_config *cfg)
{
	struct seg_zonemap map = { 0 };
	int r1 = 0, r2 = 0, bad = 0;

	if (seg_zonemap_build(cfg, &map) < 0)
		return 0;
	decide_pairs(cfg);
	char *t1 = render(cfg, &map, &r1), *t2 = render(cfg, &map, &r2);
	if (r1 != r2 || (r1 < 0 && r1 != -E2BIG && r1 != -ENOMEM))
		bad = 1;
	if (t1 && t2 && strcmp(t1, t2) != 0)
		bad = 1;
	free(t1);
	free(t2);
	seg_zonemap_free(&map);
	return bad ? -1 : 0;
}

static void print_diags(const struct seg_diags *d)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f) {
		seg_diags_print(d, f);
		fclose(f);
	}
	free(text);
}

/* The file loader on a memfd holding the bytes. */
static int load_via_file(const uint8_t *data, size_t size, struct seg_config **ret, struct seg_diags *d)
{
	char path[64];
	int fd = memfd_create("fuzz.conf", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		seg_diags_init(d, "fuzz.conf");
		return -EIO;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int r = seg_config_load(path, FUZZ_TODAY, ret, d);
	close(fd);
	return r;
}

int seg_fuzz_config(const uint8_t *data, size_t size)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	int r, bad = 0;

	if (memchr(data, '\0', size)) {
		r = load_via_file(data, size, &cfg, &d);
	} else {
		char *text = malloc(size + 1);
		if (!text)
			return 0;
		memcpy(text, data, size);
		text[size] = '\0';
		r = seg_config_load_string(text, "fuzz.conf", FUZZ_TODAY, &cfg, &d);
		free(text);
	}
	print_diags(&d);
	if (r == 0 && (!cfg || d.n_errors > 0))
		bad = 1;                 /* success must mean a tree and no errors */
	if (r == 0 && cfg && check_loaded(cfg) < 0)
		bad = 1;
	seg_config_free(cfg);
	seg_diags_free(&d);
	return bad ? -1 : 0;
}

#ifdef SEG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (seg_fuzz_config(data, size) < 0)
		abort();
	return 0;
}
#endif
