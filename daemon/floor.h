/*
 * floor.h - the boot floor: the last ruleset the kernel accepted, kept as
 * `nft -f` text in <state_dir>/floor.nft, so that segd-floor.service can load
 * it before the network comes up and before segd has started (docs/reliability.md).
 */
#ifndef SEGD_FLOOR_H
#define SEGD_FLOOR_H

#include "plan.h"

#define SEGD_FLOOR_FILE "floor.nft"

/* Writes plan as nft text to dir/floor.nft atomically: a temporary file in
 * dir, fsync, rename over the old one, fsync of dir. A reader (the floor unit
 * at the next boot) sees the old file or the new one, never a part. Call it
 * after the kernel committed the plan. 0 or -errno (the old file stays). */
int segd_floor_write(const struct seg_plan *plan, const char *dir);

#endif
