/* segctl.c - option parsing and the subcommand table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "config.h"
#include "segctl.h"

static const struct segctl_cmd commands[] = {
	{ "check",   cmd_check,   "[--live|--offline] [FILE]", "validate a configuration; errors and warnings with file:line (on the gateway also its interfaces)" },
	{ "rules",   cmd_rules,   "[FILE]", "print the ruleset segd would install, in nft -f syntax" },
	{ "explain", cmd_explain, "SRC DST PROTO[/PORT] [--in IFACE] [--out IFACE] [--to-gateway | --from-gateway]",
	  "verdict for one flow and the conduit or rule that decides it" },
	{ "incidents", cmd_incidents, "[--since T] [--until T] [--zone Z] [--event E] [--spool FILE]",
	  "the recorded incidents, from the spool (no daemon needed)" },
	{ "status",  cmd_status,  "", "the running segd: configuration and its hash, generation, counters, incidents" },
	{ "reload",  cmd_reload,  "[--confirm SECONDS]", "make segd re-read its configuration; if invalid, print why (rules stay)" },
	{ "matrix",  cmd_matrix,  "", "zone x zone table: intra-zone, denied, guarded, or the conduits that open it" },
	{ "revisions", cmd_revisions, "", "every applied configuration: number, time, uid, how, sha256, approvals" },
	{ "diff",    cmd_diff,    "[A [B]]", "semantic diff of two revisions (default: previous -> running; A -> running)" },
	{ "rollback", cmd_rollback, "N", "apply revision N's configuration again (a new revision)" },
	{ "confirm", cmd_confirm, "", "keep a 'reload --confirm' change (otherwise segd reverts it)" },
	{ "isolate", cmd_isolate, "ZONE --reason TEXT", "emergency: cut ZONE off from every other zone, conduits included" },
	{ "release", cmd_release, "ZONE", "end the isolation of ZONE" },
	{ "stats",   cmd_stats,   "", "packets and bytes per zone pair (drops by event) and per conduit, from the kernel's counters" },
	{ "trace",   cmd_trace,   "SRC DST PROTO[/PORT] [--seconds N] [--count N]",
	  "follow live packets of a flow through the kernel's rules: path, verdict, deciding conduit or rule" },
	{ "report",  cmd_report,  "[--since T] [--until T] [--html FILE] [--spool FILE] [--soon DAYS] [--no-kernel]",
	  "self-inspection report for auditors (自己点検): sync, conduits, expiry, hits, incidents" },
};

static const struct segctl_cmd *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_help(FILE *f, const char *prog)
{
	fprintf(f, "usage: %s [-c FILE] [--json] COMMAND [ARGS]\n\n"
		"Options (anywhere on the line):\n"
		"  -c, --config FILE  configuration file (default %s)\n"
		"  --json             machine-readable output\n"
		"  -h, --help         this help\n\nCommands:\n", prog, SEG_DEFAULT_CONFIG);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %-28s %s\n", commands[i].name, commands[i].args, commands[i].summary);
	fprintf(f, "\nExit status: 0 ok, 1 not ok (invalid configuration, denied flow), "
		"2 usage or runtime error.\nSee segctl(8).\n");
}

const char *segctl_option_value(const char *cmd, int argc, char **argv, int *i, const char *name,
				bool *bad)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		fprintf(stderr, "segctl %s: option '%s' needs a value\n", cmd, name);
		*bad = true;
		return NULL;
	}
	return argv[++*i];
}

int segctl_usage(struct segctl *s, const char *cmd)
{
	const struct segctl_cmd *c = cmd ? find_command(cmd) : NULL;

	if (c)
		fprintf(stderr, "usage: %s [-c FILE] [--json] %s %s\n", s->prog, c->name, c->args);
	else
		fprintf(stderr, "usage: %s [-c FILE] [--json] COMMAND [ARGS] (try '%s --help')\n",
			s->prog, s->prog);
	return SEGCTL_ERROR;
}

int segctl_load(struct segctl *s, const char *path, struct seg_config **ret_cfg)
{
	struct seg_diags d;
	const char *file = path ? path : s->config ? s->config : SEG_DEFAULT_CONFIG;
	int r = seg_config_load(file, seg_today(), ret_cfg, &d);

	seg_diags_print(&d, stderr);
	seg_diags_free(&d);
	if (r == -EINVAL)
		return SEGCTL_NOT_OK;
	return r < 0 ? SEGCTL_ERROR : SEGCTL_OK;
}

/* Takes the global options out of argv wherever they stand, so that
 * "segctl explain -c x.conf A B tcp/22" works as well as "segctl -c x.conf explain". */
static int take_globals(struct segctl *s, int *argc, char **argv)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "%s: option '%s' needs a FILE\n", s->prog, a);
				return -1;
			}
			s->config = argv[++i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			s->config = a + 9;
		} else if (strcmp(a, "--socket") == 0 && i + 1 < *argc) {
			s->socket = argv[++i];
		} else if (strcmp(a, "--json") == 0) {
			s->json = true;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	return 0;
}

int main(int argc, char **argv)
{
	struct segctl s = { .prog = "segctl" };
	int n = argc - 1;
	char **args = argv + 1;

	if (take_globals(&s, &n, args) < 0)
		return segctl_usage(&s, NULL);
	if (n >= 1 && (strcmp(args[0], "-h") == 0 || strcmp(args[0], "--help") == 0 ||
		       strcmp(args[0], "help") == 0)) {
		print_help(stdout, s.prog);
		return SEGCTL_OK;
	}
	if (n < 1)
		return segctl_usage(&s, NULL);
	const struct segctl_cmd *c = find_command(args[0]);
	if (!c) {
		fprintf(stderr, "%s: unknown command '%s' — use one of: ", s.prog, args[0]);
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			fprintf(stderr, "%s%s", i ? ", " : "", commands[i].name);
		fputc('\n', stderr);
		return segctl_usage(&s, NULL);
	}
	for (int i = 1; i < n; i++)
		if (strcmp(args[i], "-h") == 0 || strcmp(args[i], "--help") == 0) {
			fprintf(stdout, "usage: %s [-c FILE] [--json] %s %s\n  %s\n", s.prog,
				c->name, c->args, c->summary);
			return SEGCTL_OK;
		}
	return c->run(&s, n, args);
}
