/*
 * admin.h - segd's safe-change and emergency state: the revisions of every
 * configuration it applied, confirm-or-revert (`segctl reload --confirm`),
 * rollback, zone isolation, and the audit trail of every state-changing
 * request in the journal (docs/audit.md).
 *
 * daemon.c owns the generation and the kernel; this module owns the state
 * under settings.state_dir (lib/revision.h) and the confirm timer, and calls
 * back into daemon.c through struct segd_admin_ops to apply or re-install.
 */
#ifndef SEGD_ADMIN_H
#define SEGD_ADMIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include "apply.h"
#include "sha256.h"
#include "control.h"
#include "loop.h"
#include "writer.h"

/* What caused an apply; how is one of start, reload, sighup, rollback,
 * confirm-revert. */
struct segd_change {
	const char *how;
	uint32_t uid;           /* SO_PEERCRED; 0 for start, SIGHUP and the revert timer */
	const char *why;        /* for the journal: "segctl reload by uid 0" */
	uint32_t source;        /* rollback / revert: the revision whose content is applied */
	unsigned confirm_s;     /* reload --confirm SECONDS; 0: none */
};

/* A loaded generation and the exact bytes it was built from. */
struct segd_candidate {
	struct segd_gen *gen;
	char *bytes;
	size_t len;
	char sha[SEG_SHA256_HEX];     /* of bytes, computed once by segd_admin_load */
};

struct segd_admin_ops {
	/* Loads src (a file) through segd_admin_load, applies it and makes it
	 * the running generation, calling segd_admin_applied/failed. */
	int (*apply)(void *ctx, const char *src, const struct segd_change *ch, char **report);
	/* Re-installs the running generation (its plan was just recompiled). */
	int (*reinstall)(void *ctx, const char *why);
	struct segd_gen *(*running)(void *ctx);
};

struct segd_admin;

/* Opens state_dir (created when missing), reads the isolation state and a
 * pending confirmation, and registers the confirm timer on loop. */
int segd_admin_open(const char *state_dir, const char *config_path, struct seg_loop *loop,
		    struct seg_writer *w, const struct segd_admin_ops *ops, void *ctx,
		    struct segd_admin **ret);
void segd_admin_free(struct segd_admin *a);

/* Loads path into a candidate: a revision's content (under state_dir) is
 * loaded from its bytes; the configuration file is read before and after
 * loading, and a file that changed meanwhile is refused (-EAGAIN), so that
 * the revision holds exactly what was compiled. Isolated zones are marked
 * and compiled in. a may be NULL (no isolation). */
int segd_admin_load(struct segd_admin *a, const char *path, FILE *log, struct segd_candidate *ret);
void segd_candidate_clear(struct segd_candidate *c);   /* frees what is left in it */

/* Marks the isolated zones in g and recompiles its plan when any is. */
int segd_admin_isolate_gen(struct segd_admin *a, struct segd_gen *g);

/* After a successful apply of c (c->gen is now running): stores the
 * revision, arms the confirm timer, writes the audit entry. Takes c->bytes. */
void segd_admin_applied(struct segd_admin *a, struct segd_candidate *c, const struct segd_change *ch);
/* After a failed apply: the audit entry. */
void segd_admin_failed(struct segd_admin *a, const struct segd_change *ch, int err);

/* Whether a configuration change may go ahead now: not while a confirmation
 * is pending. When not, fills resp (may be NULL) and writes the audit entry. */
bool segd_admin_may_change(struct segd_admin *a, const struct segd_change *ch, struct seg_kvlist *resp);

/* Handles revisions, confirm, rollback, isolate, release; false for other
 * commands. */
bool segd_admin_request(struct segd_admin *a, const struct ucred *cred, const struct seg_kvlist *req,
			struct seg_kvlist *resp);

/* Keys for `segctl status`: revision, confirm_*, isolated zones. */
void segd_admin_status(struct segd_admin *a, struct seg_kvlist *resp);

#endif
