/*
 * cfgdiff.h - the semantic difference between two configurations (models, not
 * text): settings, zones and conduits added, removed or changed, field by
 * field. `segctl diff` renders it; the audit report can too.
 *
 * Zones and conduits are matched by name (a rename is a removal and an
 * addition). Lists (interfaces, networks, services, sources, destinations,
 * approvals) compare as sets: reordering them is no change. Every value is
 * rendered as text in its canonical form ("tcp/25, tcp/587"; "(whole zone)"
 * for omitted sources/destinations), so old and new read side by side.
 *
 * Ownership: struct seg_cfgdiff owns every string below it.
 */
#ifndef SEGD_CFGDIFF_H
#define SEGD_CFGDIFF_H

#include <stddef.h>
#include "model.h"

enum seg_diff_what { SEG_DIFF_SETTINGS, SEG_DIFF_ZONE, SEG_DIFF_CONDUIT };
enum seg_diff_op { SEG_DIFF_ADDED, SEG_DIFF_REMOVED, SEG_DIFF_CHANGED };

struct seg_diff_field {
	const char *field;     /* static: "services", "expires", ... */
	char *old_value, *new_value;   /* ADDED: old NULL; REMOVED: new NULL */
};

struct seg_diff_item {
	enum seg_diff_what what;
	enum seg_diff_op op;
	char *name;            /* zone/conduit name; "settings" */
	struct seg_diff_field *fields;
	size_t n_fields;
};

struct seg_cfgdiff {
	struct seg_diff_item *items;
	size_t n;
};

/* Order: settings, then zones, then conduits; within each, removed ones in
 * a's order, then changed and added ones in b's order. 0 or -ENOMEM. */
int seg_cfgdiff_compute(const struct seg_config *a, const struct seg_config *b, struct seg_cfgdiff *ret);
void seg_cfgdiff_free(struct seg_cfgdiff *d);

const char *seg_diff_what_name(enum seg_diff_what w);  /* "settings", "zone", "conduit" */
const char *seg_diff_op_name(enum seg_diff_op op);     /* "added", "removed", "changed" */

/* One line of text per item (malloc'ed), e.g.
 *   conduit 'mail': services tcp/25 -> tcp/25, tcp/587; expires 2027-03-31 -> 2028-03-31
 *   conduit 'web' added: kind specific; from a; to b; ...
 *   zone 'dmz' removed */
char *seg_cfgdiff_line(const struct seg_diff_item *it);

#endif
