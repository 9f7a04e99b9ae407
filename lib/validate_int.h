/*
 * validate_int.h - the parts of seg_config_validate() (config.h) that live in
 * separate files: validate.c checks a configuration's form and zones,
 * width.c what each conduit opens and the paths between them.
 */
#ifndef SEGD_VALIDATE_INT_H
#define SEGD_VALIDATE_INT_H

#include <stdbool.h>
#include "config.h"

/* A /32 or /128. */
bool seg_is_host(const struct seg_prefix *p);
/* Width rules on one conduit whose zones and name could be read. */
void seg_check_width(const struct seg_config *cfg, const struct seg_conduit *c, struct seg_diags *d);
/* A host bound to two different MAC addresses. */
void seg_check_macs(const struct seg_config *cfg, struct seg_diags *d);
/* Hosts that are parties of a mynumber conduit and of an lgwan <-> outside one. */
void seg_check_paths(const struct seg_config *cfg, struct seg_diags *d);
/* The gateway as a party: its conduits, its settings, no relay through it,
 * the services it offers a mynumber zone. */
void seg_check_gateway(const struct seg_config *cfg, struct seg_diags *d);

#endif
