/*
 * segctl.h - the control tool: a table of subcommands (segctl.c), one file
 * each (cmd_<name>.c). Subcommands render what lib/ or the daemon returns.
 *
 * Exit status, the same for every subcommand and for segd -n:
 *   0 ok, 1 the thing asked about is not ok (invalid config, denied flow),
 *   2 usage or runtime error.
 */
#ifndef SEGCTL_H
#define SEGCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "model.h"

enum { SEGCTL_OK = 0, SEGCTL_NOT_OK = 1, SEGCTL_ERROR = 2 };

struct segctl {
	const char *prog;
	const char *config;     /* -c FILE; NULL: SEG_DEFAULT_CONFIG */
	bool json;              /* --json */
	const char *socket;     /* --socket PATH: the daemon's control socket */
};

struct segctl_cmd {
	const char *name;
	int (*run)(struct segctl *s, int argc, char **argv); /* argv[0] is the command */
	const char *args;       /* usage after the command name */
	const char *summary;
};

/* Loads and validates s->config (or path when non-NULL), printing every
 * diagnostic to stderr. Returns SEGCTL_OK and *ret_cfg, or an exit code. */
int segctl_load(struct segctl *s, const char *path, struct seg_config **ret_cfg);
/* The value of "--name VALUE" or "--name=VALUE" at argv[*i] (advancing *i
 * past VALUE), or NULL when argv[*i] is another argument; a missing VALUE is
 * said on stderr for command cmd and sets *bad. Shared by the subcommands'
 * option parsers. */
const char *segctl_option_value(const char *cmd, int argc, char **argv, int *i, const char *name,
				bool *bad);
/* Prints "usage: segctl CMD ARGS" for cmd to stderr and returns SEGCTL_ERROR. */
int segctl_usage(struct segctl *s, const char *cmd);

struct seg_kvlist;
/* Sends req to segd and fills resp; prints why on failure. Returns an exit code:
 * SEGCTL_OK when segd answered status=ok. */
int segctl_call(struct segctl *s, struct seg_kvlist *req, struct seg_kvlist *resp);
/* A response as one JSON object; repeated keys become arrays. */
void segctl_print_kv_json(const struct seg_kvlist *l, FILE *f);

int cmd_check(struct segctl *s, int argc, char **argv);
int cmd_explain(struct segctl *s, int argc, char **argv);
int cmd_incidents(struct segctl *s, int argc, char **argv);
int cmd_matrix(struct segctl *s, int argc, char **argv);
int cmd_rules(struct segctl *s, int argc, char **argv);
int cmd_status(struct segctl *s, int argc, char **argv);
int cmd_reload(struct segctl *s, int argc, char **argv);
int cmd_revisions(struct segctl *s, int argc, char **argv);
int cmd_diff(struct segctl *s, int argc, char **argv);
int cmd_rollback(struct segctl *s, int argc, char **argv);
int cmd_confirm(struct segctl *s, int argc, char **argv);
int cmd_isolate(struct segctl *s, int argc, char **argv);
int cmd_release(struct segctl *s, int argc, char **argv);

struct seg_isolations;
/* Marks cfg's isolated zones (segctl isolate) from the running segd, or
 * without it from settings.state_dir; *ret (may be NULL) gets the list with
 * reasons. 0 or -errno (the zones are then marked as far as known). */
int segctl_isolation(struct segctl *s, struct seg_config *cfg, struct seg_isolations *ret);
int cmd_stats(struct segctl *s, int argc, char **argv);
int cmd_trace(struct segctl *s, int argc, char **argv);
int cmd_report(struct segctl *s, int argc, char **argv);

struct seg_report;
/* The report as one self-contained HTML page (report_html.c). */
void segctl_report_html(const struct seg_report *r, FILE *f);
/* "2025-11-26" of a local day number (seg_report_local_day). */
void segctl_report_day(int64_t day, char *buf, size_t len);

#endif
