/* apply.c - load, compile and install one generation; report in plain words. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "apply.h"
#include "config.h"
#include "diag.h"
#include "links.h"

int segd_gen_load(const char *path, enum seg_links_when links, FILE *log, struct segd_gen **ret)
{
	struct segd_gen *g = calloc(1, sizeof(*g));
	struct seg_diags d;
	int r;

	if (!g)
		return -ENOMEM;
	r = seg_config_load(path, seg_today(), &g->cfg, &d);
	if (r == 0)
		r = seg_links_judge(&g->cfg, links, &d);
	if (r == 0)
		r = seg_zonemap_build(g->cfg, &g->map);
	if (r == 0)
		r = seg_plan_build(g->cfg, &g->map, &d, &g->plan);
	seg_diags_print(&d, log);
	seg_diags_free(&d);
	if (r < 0 && r != -EINVAL)
		fprintf(log, "%s: error: cannot load: %s\n", path, strerror(-r));
	if (r < 0) {
		segd_gen_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

void segd_gen_free(struct segd_gen *g)
{
	if (!g)
		return;
	seg_plan_free(g->plan);
	seg_zonemap_free(&g->map);
	seg_config_free(g->cfg);
	free(g);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void log_refusal(const struct segd_gen *g, const struct seg_nft_error *e, FILE *log)
{
	const char *file = g->cfg->file ? g->cfg->file : "segd.conf";

	if (e->line > 0)
		fprintf(log, "%s:%d: ", file, e->line);
	else
		fprintf(log, "%s: ", file);
	fprintf(log, "error: the kernel refused the ruleset: %s: %s (%s)%s%s%s — nothing was changed, "
		"the previous rules stay in force; fix the configuration or the conflicting "
		"nftables object and reload\n", e->what, strerror(-e->err), e->errname,
		e->ext[0] ? ": '" : "", e->ext, e->ext[0] ? "'" : "");
	if (e->n_failed > 1)
		fprintf(log, "%s: note: %zu messages of the transaction were refused; the first is shown\n",
			file, e->n_failed);
}

/* How much of the kernel's table was read: the connection remembers the
 * elements it committed and reads again only the sets another process's
 * commit touched (nft_apply.c). */
static void log_read(const struct seg_nft_stats *s, FILE *log)
{
	if (s->sets_kernel)
		fprintf(log, "; elements read from the kernel: %zu of %zu sets (the others as segd committed them)",
			s->sets_read, s->sets_kernel);
}

/* What the one transaction did: only the difference is sent, so say it. */
static void log_transaction(const struct seg_nft_stats *s, double ms, FILE *log)
{
	if (s->unchanged) {
		fprintf(log, "the kernel already had exactly these rules: nothing sent, %.1f ms, generation %u",
			ms, s->gen_after);
		log_read(s, log);
		return;
	}
	fprintf(log, "one transaction of %zu bytes in %zu messages, %.1f ms (commit %.1f ms), generation %u",
		s->batch_bytes, s->messages, ms, s->commit_ms, s->gen_after);
	if (s->replaced)
		fprintf(log, " (the table was created anew)");
	else
		fprintf(log, " (difference: elements +%zu -%zu, rules +%zu -%zu, sets +%zu -%zu, chains +%zu -%zu)",
			s->elems_added, s->elems_deleted, s->rules_added, s->rules_deleted, s->sets_added,
			s->sets_deleted, s->chains_added, s->chains_deleted);
	if (s->acks_lost)
		fprintf(log, " (acknowledgements lost; commit confirmed by the generation)");
	if (s->attempts > 1)
		fprintf(log, " (read again %u times: another process committed meanwhile)", s->attempts - 1);
	log_read(s, log);
}

/* The daemon's one connection: every transaction goes through it so that the
 * table it owns stays changeable by segd alone. */
static struct seg_nft_conn *daemon_conn;

void segd_apply_use(struct seg_nft_conn *c)
{
	daemon_conn = c;
}

int segd_gen_apply(struct segd_gen *g, const struct segd_gen *running, FILE *log)
{
	struct seg_nft_error e;
	const struct seg_plan_counts *c = &g->plan->counts;
	double t0 = now_ms();
	int r = daemon_conn ? seg_nft_conn_apply(daemon_conn, g->plan, running ? running->plan : NULL, &g->stats, &e)
			    : seg_nft_apply(g->plan, &g->stats, &e);

	g->apply_ms = now_ms() - t0;
	if (r < 0) {
		log_refusal(g, &e, log);
		return r;
	}
	if (g->stats.delta_refused[0])
		fprintf(log, "%s: warning: the kernel refused the difference (%s); the table was replaced whole "
			"instead (allowed traffic may have seen a gap of a few packets)\n", g->cfg->file,
			g->stats.delta_refused);
	fprintf(log, "segd: installed table inet '%s' from '%s': %zu sets (%zu elements), %zu chains, "
		"%zu rules; conduits: %zu installed, %zu expired (not installed), %zu without effect; ",
		g->plan->table, g->cfg->file, c->sets, c->elems, c->chains, c->rules,
		c->conduits_installed, c->conduits_expired, c->conduits_unreachable);
	log_transaction(&g->stats, g->apply_ms, log);
	fprintf(log, "%s\n", seg_nft_conn_owns(daemon_conn) ? "; the table is owned by this segd (flags owner, "
		"persist)" : "");
	return 0;
}

int segd_reload(const char *path, FILE *log, struct segd_gen **cur)
{
	struct segd_gen *g = NULL;
	int r = segd_gen_load(path, SEG_LINKS_ALWAYS, log, &g);

	if (r == 0)
		r = segd_gen_apply(g, *cur, log);
	if (r < 0) {
		segd_gen_free(g);
		if (*cur)
			fprintf(log, "segd: reload of '%s' failed; the rules of '%s' stay in force\n", path,
				(*cur)->cfg->file);
		return r;
	}
	segd_gen_free(*cur);
	*cur = g;
	return 0;
}
