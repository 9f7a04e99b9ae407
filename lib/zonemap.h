/*
 * zonemap.h - which zone an address belongs to.
 *
 * Zone networks do not overlap except for catch-all external zones (0.0.0.0/0,
 * ::/0, or no networks at all). The map decomposes all networks into sorted,
 * non-overlapping inclusive ranges where the most specific network wins, so
 * that a catch-all zone owns "everything no other zone owns". Both the
 * decision function and the compiler (spoofing sets, whole-zone conduits) use
 * it, so the kernel and `segctl explain` agree on zone membership.
 */
#ifndef SEGD_ZONEMAP_H
#define SEGD_ZONEMAP_H

#include <stddef.h>
#include <stdint.h>
#include "model.h"

struct seg_range {
	int family;               /* AF_INET (first 4 bytes used) or AF_INET6 */
	uint8_t lo[16], hi[16];   /* inclusive, network order */
	int zone;                 /* index into cfg->zones */
};

struct seg_zonemap {
	struct seg_range *v;      /* sorted by family, then lo; non-overlapping */
	size_t n;
};

/* Builds the map; 0 or -ENOMEM. Free with seg_zonemap_free (NULL-safe content). */
int seg_zonemap_build(const struct seg_config *cfg, struct seg_zonemap *map);
void seg_zonemap_free(struct seg_zonemap *map);
/* Zone index of addr, or -1 when no zone holds it. O(log n). */
int seg_zonemap_lookup(const struct seg_zonemap *map, int family, const uint8_t *addr);
/* The ranges of one zone and family, in order: calls fn for each. */
void seg_zonemap_each(const struct seg_zonemap *map, int zone, int family,
		      void (*fn)(const struct seg_range *r, void *ctx), void *ctx);

#endif
