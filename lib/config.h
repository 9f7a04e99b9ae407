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

/* The checks a configuration goes through, each with the clause of the
 * city's policy it serves: every diagnostic carries the check that said it
 * (seg_diag.check), so that the report can say which checks ran and passed. */
enum seg_check {
	SEG_CHECK_FORM,           /* keys, types, values, names, entries in their zones */
	SEG_CHECK_ZONES,          /* networks unicast, no overlap, no disguised catch-all; interfaces */
	SEG_CHECK_RULE1,          /* no conduit between mynumber and internet/external */
	SEG_CHECK_MYNUMBER,       /* specific, unicast single hosts, max_hosts, named services, max_ports */
	SEG_CHECK_RELAY,          /* lgwan <-> outside: sanitize/screen to single relay hosts, named services */
	SEG_CHECK_INTERNET,       /* internet -> external egress to named destinations; inbound to hosts */
	SEG_CHECK_KINDS,          /* the KINDS table */
	SEG_CHECK_PATHS,          /* no host both joined to My Number and to the outside */
	SEG_CHECK_APPROVAL,       /* approval text, expiry within max_validity, expired, soon */
	SEG_CHECK_TUNNELS,        /* services that carry tunnels (warnings) */
	SEG_CHECK_DUPLICATES,     /* conduits that open the same (warnings) */
	SEG_CHECK_GATEWAY,        /* the gateway as a party: what it sends, no relay, its services */
	SEG_CHECK_COUNT
};

struct seg_check_info {
	const char *id;           /* "paths": JSON and tests */
	const char *en, *ja;      /* what it asks */
	const char *clause;       /* of the city's policy (three-layer-model.md) */
};

const struct seg_check_info *seg_check_info(enum seg_check c);

/* SHA-256 of the file's bytes as hex, for status/revisions. */
#endif
