/*
 * config.h - load a configuration file into the model and check it.
 *
 * This is the only file of lib/ that includes libconfig. Loading has no side
 * effects: it reads one file and returns a new tree or diagnostics.
 */
#ifndef SEGD_CONFIG_H
#define SEGD_CONFIG_H

#include <stdint.h>
#include "model.h"
#include "diag.h"

#define SEG_DEFAULT_CONFIG "/etc/segd/segd.conf"

/* Parses and validates PATH. 'today' (days since epoch, UTC) decides expiry.
 * Always fills diags (initialised by this function). Returns 0 and sets
 * *ret_cfg (caller frees) when there are no errors; warnings may remain.
 * Returns -EINVAL when the file has errors, -errno when it cannot be read. */
int seg_config_load(const char *path, int64_t today,
		    struct seg_config **ret_cfg, struct seg_diags *diags);

/* The same for text in memory; 'name' is used in diagnostics. */
int seg_config_load_string(const char *text, const char *name, int64_t today,
			   struct seg_config **ret_cfg, struct seg_diags *diags);

/* The rules of the three-layer model on a parsed tree (used by the loader;
 * exposed for tests). Appends to diags; marks expired conduits. */
void seg_config_validate(struct seg_config *cfg, int64_t today, struct seg_diags *diags);

/* SHA-256 of the file's bytes as hex, for status/revisions. */
#endif
