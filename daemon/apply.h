/*
 * apply.h - one generation of segd's configuration (model, zone map, plan)
 * and putting it into the kernel. A reload builds a whole new generation and
 * swaps it in only after the kernel accepted it; the event loop calls these.
 */
#ifndef SEGD_APPLY_H
#define SEGD_APPLY_H

#include <stdio.h>
#include "diag.h"
#include "links.h"
#include "model.h"
#include "nftnl.h"
#include "plan.h"
#include "zonemap.h"

struct segd_gen {
	struct seg_config *cfg;
	struct seg_zonemap map;
	struct seg_plan *plan;
	struct seg_nft_stats stats;       /* of the transaction that installed it */
	double apply_ms;
};

/* Loads, validates and compiles path. Every diagnostic goes to log.
 * 0 and *ret; -EINVAL for an invalid file; -errno otherwise. */
int segd_gen_load(const char *path, enum seg_links_when links, FILE *log, struct segd_gen **ret);
void segd_gen_free(struct segd_gen *g);

/* Installs g in one transaction and logs what was installed, or the
 * kernel's refusal in plain words (the previous ruleset then stays).
 * running: the generation in force (g itself for a restore; NULL: none),
 * whose sets the connection need not compare again where g has them alike. */
int segd_gen_apply(struct segd_gen *g, const struct segd_gen *running, FILE *log);

/* From now on segd_gen_apply commits through c (the daemon's connection,
 * which may own the table); NULL: a socket per transaction. */
void segd_apply_use(struct seg_nft_conn *c);

/* Load + apply; on success *cur is replaced (the old one freed), on any
 * failure *cur and the kernel's rules stay as they were. */
int segd_reload(const char *path, FILE *log, struct segd_gen **cur);

#endif
