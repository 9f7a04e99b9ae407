/*
 * revision.h - segd's persistent state under settings.state_dir: the numbered
 * revisions of every configuration it applied, and the zones cut off by
 * `segctl isolate`. The daemon writes both; segctl reads them, also when the
 * daemon is not running.
 *
 * Layout (docs/audit.md):
 *   <state_dir>/revisions/<NNNNNNNNNN>.conf   the applied file's exact bytes
 *   <state_dir>/revisions/<NNNNNNNNNN>.meta   key=value lines (struct seg_revision)
 *   <state_dir>/isolation                     one line per isolated zone
 *
 * Every file is written atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. A revision exists once its .meta
 * exists (written after its .conf), so a crash between the two leaves an
 * invisible .conf that the next store overwrites. Pruning deletes .meta first.
 *
 * Ownership: struct seg_revision owns its approvals; seg_rev_list returns an
 * array the caller frees with seg_rev_list_free. Pure in the lib/ sense: file
 * I/O only, no logging, no globals; -errno returns.
 */
#ifndef SEGD_REVISION_H
#define SEGD_REVISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sha256.h"

#define SEG_REV_KEEP      100          /* revisions kept; older ones are deleted */
#define SEG_REV_MAX_META  (64u * 1024) /* a .meta larger than this is not ours */
#define SEG_REV_MAX_CONF  (512u << 20) /* a configuration larger than this is refused */
#define SEG_REV_HOW       24
#define SEG_REV_WHY       128

/* state of a revision applied with --confirm */
enum seg_rev_state {
	SEG_REV_APPLIED,         /* applied, nothing to confirm */
	SEG_REV_PENDING,         /* awaiting `segctl confirm` */
	SEG_REV_CONFIRMED,
	SEG_REV_REVERTED,        /* not confirmed in time: segd went back */
	SEG_REV_STATE_COUNT
};

struct seg_revision {
	uint32_t number;
	char sha256[SEG_SHA256_HEX];
	int64_t time;            /* unix seconds, when it was applied */
	uint32_t uid;            /* SO_PEERCRED of the requester; 0 for start and SIGHUP */
	char how[SEG_REV_HOW];   /* start, reload, sighup, rollback, confirm-revert */
	char why[SEG_REV_WHY];   /* free text, e.g. "rollback to 12" */
	uint32_t source;         /* rollback / revert: the revision whose content it is; 0 otherwise */
	uint64_t size;           /* bytes of the .conf */
	enum seg_rev_state state;
	int64_t deadline;        /* PENDING: unix seconds of the revert */
	uint32_t revert_to;      /* PENDING: the revision segd goes back to */
	int64_t state_time;      /* when CONFIRMED/REVERTED happened */
	uint32_t state_uid;      /* who confirmed (0 for the revert timer) */
	char **approvals;        /* the conduits' approval references, unique, file order */
	size_t n_approvals;
};

const char *seg_rev_state_name(enum seg_rev_state s);
void seg_rev_clear(struct seg_revision *r);   /* frees approvals; NULL-safe */

/* Stores data as a new revision numbered after the newest one, with *meta's
 * fields (number, sha256 and size are filled in here), then deletes the
 * oldest beyond keep (keep >= 1). Creates dir/revisions when missing.
 * 0 and *ret_number. */
int seg_rev_store(const char *state_dir, const void *data, size_t len,
		  const struct seg_revision *meta, unsigned keep, uint32_t *ret_number);

/* Rewrites the metadata of an existing revision (state changes), atomically. */
int seg_rev_update(const char *state_dir, const struct seg_revision *meta);

/* All revisions, oldest first. -ENOENT is not an error: 0 revisions. */
int seg_rev_list(const char *state_dir, struct seg_revision **ret, size_t *ret_n);
void seg_rev_list_free(struct seg_revision *v, size_t n);

/* One revision's metadata; -ENOENT when it does not exist. */
int seg_rev_get(const char *state_dir, uint32_t number, struct seg_revision *ret);

/* The path of a revision's content (malloc'ed). */
char *seg_rev_conf_path(const char *state_dir, uint32_t number);

/* Reads a whole file (a revision's content, or the configuration itself),
 * at most SEG_REV_MAX_CONF bytes, NUL-terminated; *ret_len excludes the NUL. */
int seg_rev_read_file(const char *path, char **ret, size_t *ret_len);

/* Writes path atomically (temp + fsync + rename + fsync dir) with mode. */
int seg_rev_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* ---- isolation state ---- */

#define SEG_ISO_MAX_REASON 256

struct seg_isolation {
	char *zone;
	char *reason;
	uint32_t uid;
	int64_t time;
};

struct seg_isolations {
	struct seg_isolation *v;
	size_t n;
};

/* A reason is 1..SEG_ISO_MAX_REASON bytes of UTF-8 without control characters. */
bool seg_iso_reason_valid(const char *reason, const char **why);

/* Reads <state_dir>/isolation; a missing file is 0 zones. Lines it cannot
 * read are skipped and counted in *ret_bad (may be NULL). */
int seg_iso_load(const char *state_dir, struct seg_isolations *ret, size_t *ret_bad);
int seg_iso_save(const char *state_dir, const struct seg_isolations *iso);
void seg_iso_free(struct seg_isolations *iso);
/* index of zone, or -1 */
int seg_iso_find(const struct seg_isolations *iso, const char *zone);
/* Adds or replaces (copies the strings). */
int seg_iso_set(struct seg_isolations *iso, const char *zone, const char *reason, uint32_t uid, int64_t t);
/* Removes; -ENOENT when not isolated. */
int seg_iso_remove(struct seg_isolations *iso, const char *zone);

#endif
