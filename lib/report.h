/*
 * report.h - the self-inspection report (自己点検) for auditors: everything
 * `segctl report` shows, collected into one structure that the text, JSON
 * and HTML renderers (tools/segctl) only walk.
 *
 * Sources, each optional and each with its own error, so that one missing
 * part never hides the others:
 *   the configuration       seg_config_load (validation = the model's rules)
 *   the isolation state     seg_iso_load (state_dir): applied before compiling
 *   the live ruleset        seg_nft_verify against the compiled plan
 *   the kernel's counters   seg_nft_counters (conduit hits, drops per pair)
 *   the incident spool      seg_spool_read, within [since, until]
 *   the revisions           seg_rev_list (state_dir), within [since, until]
 *   the daemon's counters   seg_report_add_status (the caller asks segd)
 *
 * Each section names the policy clauses it answers (docs/report.md,
 * ../shared/docs/three-layer-model.md).
 *
 * Ownership: struct seg_report owns everything below it, the configuration
 * included; seg_report_free accepts NULL.
 */
#ifndef SEGD_REPORT_H
#define SEGD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "control.h"
#include "diag.h"
#include "model.h"
#include "nftnl.h"
#include "revision.h"
#include "sha256.h"
#include "stats.h"

#define SEG_REPORT_TOP        5      /* top sources per zone pair and event */
#define SEG_REPORT_SOON_DAYS  30     /* "expiring soon" */
#define SEG_REPORT_MAX_DAYS   366    /* bars of the per-day chart */
#define SEG_REPORT_DEFAULT_SPAN_US (30LL * 86400 * 1000000)

enum seg_report_section {
	SEG_RS_SYNC,          /* live ruleset = running configuration */
	SEG_RS_MODEL,         /* the model's rules checked */
	SEG_RS_MATRIX,        /* zone matrix */
	SEG_RS_CONDUITS,      /* every conduit: approval, expiry, hits */
	SEG_RS_EXPIRY,        /* expired and soon-expiring conduits */
	SEG_RS_INCIDENTS,     /* incidents per pair and event, per day */
	SEG_RS_LOSS,          /* loss counters */
	SEG_RS_CHANGES,       /* revisions and isolations */
	SEG_RS_COUNT
};

struct seg_report_section_info {
	const char *key;      /* JSON key: "sync", "model", ... */
	const char *title, *title_ja;
	const char *clauses;  /* "3(2), 7(6), 8, 9" */
	const char *answers;  /* one sentence: what the auditor learns */
};
const struct seg_report_section_info *seg_report_section(enum seg_report_section s);

enum seg_report_cell { SEG_CELL_INTRA, SEG_CELL_DENY, SEG_CELL_GUARD, SEG_CELL_OPEN,
		       SEG_CELL_ISOLATED, SEG_CELL_COUNT };
const char *seg_report_cell_name(enum seg_report_cell c);   /* "intra", "deny", ... */

/* What each check of the model (config.h: enum seg_check) found: "passed",
 * "passed, N warnings", "FAILED (N errors)" or "not run" (the file could not
 * be parsed, so only the form was checked). Returns buf. */
struct seg_report;
const char *seg_report_check_state(const struct seg_report *r, enum seg_check c, char *buf, size_t len);

struct seg_report_conduit {
	size_t index;                /* into cfg->conduits */
	int64_t days_left;           /* through the expiry day; < 0 expired */
	bool expired, soon;
	bool installed;              /* in the plan (not expired, zones reachable, not isolated) */
	bool has_hits;               /* the kernel's counters were read */
	uint64_t packets, bytes;
};

struct seg_report_source {
	char addr[48];
	uint64_t incidents, packets;
};

/* Incidents of one (event, from, to) in the period. */
struct seg_report_pair {
	char event[24], from[SEG_MAX_NAME + 1], to[SEG_MAX_NAME + 1];   /* "" no zone */
	uint64_t incidents, packets, sources;
	struct seg_report_source top[SEG_REPORT_TOP];
	size_t n_top;
	bool has_kernel;             /* the kernel's drop counter of the pair's rule(s) */
	uint64_t kernel_packets;     /* since the table was installed, not only the period */
};

enum { SEG_REPORT_EV_DENIED, SEG_REPORT_EV_SPOOFED, SEG_REPORT_EV_GATEWAY, SEG_REPORT_EV_OTHER,
       SEG_REPORT_EV_COUNT };

struct seg_report_day {
	int64_t day;                 /* local date, days since 1970-01-01 */
	uint64_t incidents[SEG_REPORT_EV_COUNT];
	uint64_t packets;
};

/* segd's own accounting (segctl status), when it answered. */
struct seg_report_loss {
	bool available;
	char error[128];             /* why not, when !available */
	uint64_t incidents_emitted, packets_in_incidents, not_sampled, seq_gaps, undecodable,
		 socket_drops, journal_sent, journal_dropped, spool_lines, spool_dropped;
	char degraded[256];
};

struct seg_report {
	char *config_file;
	char sha256[SEG_SHA256_HEX]; /* "" when unreadable */
	int64_t generated_us, since_us, until_us, today;
	unsigned soon_days;
	struct seg_config *cfg;      /* NULL when the configuration is invalid/unreadable */
	int load_err;
	struct seg_diags diags;
	/* zone matrix: n_zones x n_zones, row = from */
	enum seg_report_cell *cells;
	size_t *cell_open;           /* conduits installed per cell */
	/* the kernel */
	bool kernel_skipped;
	int verify_err;
	struct seg_nft_diff diff;
	int counters_err;
	struct seg_counters *counters;
	/* conduits, in configuration order */
	struct seg_report_conduit *conduits;
	size_t n_conduits, n_expired, n_soon, n_installed;
	/* incidents */
	char *spool;
	int spool_err;
	uint64_t spool_lines, spool_bad;
	struct seg_report_pair *pairs;   /* sorted: most packets first */
	size_t n_pairs;
	struct seg_report_day *days;     /* every day of the period (at most MAX_DAYS, the last ones) */
	size_t n_days;
	uint64_t incidents, packets;
	uint64_t by_event[SEG_REPORT_EV_COUNT];
	struct seg_report_acc *acc;      /* private: sources while reading */
	/* loss */
	struct seg_report_loss loss;
	/* changes */
	int rev_err;
	struct seg_revision *revs;       /* in the period, oldest first */
	size_t n_revs, revs_total;
	int iso_err;
	struct seg_isolations iso;       /* isolated now */
};

struct seg_report_opts {
	const char *config;          /* path */
	int64_t now_us;              /* wall clock, µs */
	int64_t since_us, until_us;  /* 0: until = now, since = until - 30 days */
	unsigned soon_days;          /* 0: SEG_REPORT_SOON_DAYS */
	const char *spool;           /* NULL: settings.spool */
	bool no_kernel;              /* do not read the kernel (tests, no privileges) */
};

/* Collects everything. 0 with *ret (parts that failed carry their -errno),
 * or -ENOMEM / -EINVAL (options). */
int seg_report_collect(const struct seg_report_opts *o, struct seg_report **ret);
void seg_report_free(struct seg_report *r);

/* The daemon's `status` response (control.h keys) into r->loss. */
void seg_report_add_status(struct seg_report *r, const struct seg_kvlist *status);
void seg_report_set_no_daemon(struct seg_report *r, const char *why);

/* Pieces exposed for the unit tests. */
int64_t seg_report_local_day(int64_t us);          /* local date of a time, days since epoch */
/* The incidents of one spool line into r (pairs, days, top sources are
 * finished by seg_report_finish_incidents). */
int seg_report_add_incident(struct seg_report *r, const char *event, const char *from, const char *to,
			    const char *src, uint64_t packets, int64_t first_us);
int seg_report_finish_incidents(struct seg_report *r);
/* Fills the matrix, conduit rows and counts from r->cfg (and r->counters). */
int seg_report_fill_config(struct seg_report *r);
/* A report with only the period set, for the tests; free with seg_report_free. */
int seg_report_new(int64_t since_us, int64_t until_us, struct seg_report **ret);

#endif
