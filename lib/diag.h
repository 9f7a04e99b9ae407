/*
 * diag.h - diagnostics collected while loading and checking a configuration.
 *
 * Library code never prints: it appends diagnostics here and goes on, so that
 * every error of a file is reported, not only the first. The caller renders
 * them as "file:line: error: what is wrong — what to do".
 *
 * Ownership: struct seg_diags owns its messages and its copy of the file name.
 */
#ifndef SEGD_DIAG_H
#define SEGD_DIAG_H

#include <stddef.h>
#include <stdio.h>

enum seg_severity { SEG_SEV_ERROR, SEG_SEV_WARNING, SEG_SEV_NOTE };

struct seg_diag {
	enum seg_severity sev;
	int line;                 /* 0: the file as a whole */
	int check;                /* which check said it (config.h: enum seg_check) */
	char *msg;                /* without location and severity */
};

struct seg_diags {
	char *file;
	struct seg_diag *v;
	size_t n, cap;
	size_t n_errors, n_warnings;
	int oom;                  /* an allocation failed: the list is incomplete */
	int check;                /* the check running now: stamped on what it appends */
	int validated;            /* the model's checks ran (a file that cannot be parsed skips them) */
};

void seg_diags_init(struct seg_diags *d, const char *file);
void seg_diags_free(struct seg_diags *d);

/* Appends a diagnostic; on allocation failure sets d->oom and still counts it. */
__attribute__((format(printf, 4, 5)))
void seg_diag(struct seg_diags *d, enum seg_severity sev, int line, const char *fmt, ...);

const char *seg_severity_name(enum seg_severity sev);

/* "file:line: error: msg" lines, sorted by line (stable), to f. */
void seg_diags_print(const struct seg_diags *d, FILE *f);

#endif
