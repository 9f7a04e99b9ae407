/*
 * segd.c - the daemon's entry: segd [-c FILE] [-n].
 *
 * -n checks the configuration like `segctl check`; otherwise daemon.c runs
 * the event loop: SIGHUP or `segctl reload` reloads, SIGTERM/SIGINT end segd
 * and leave the rules in the kernel (fail closed). Exit status as segctl:
 * 0 ok, 1 invalid configuration, 2 usage or runtime error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "apply.h"
#include "config.h"
#include "daemon.h"

enum { EXIT_OK = 0, EXIT_NOT_OK = 1, EXIT_ERROR = 2 };

static void usage(FILE *f)
{
	fprintf(f, "usage: segd [-c FILE] [-n]\n"
		"  -c FILE  configuration (default %s)\n"
		"  -n       check the configuration and exit (0 valid, 1 invalid, 2 unreadable)\n"
		"Signals: SIGHUP reloads; SIGTERM/SIGINT stop segd and leave its rules in force.\n",
		SEG_DEFAULT_CONFIG);
}

static int check_only(const char *path)
{
	struct segd_gen *g = NULL;
	int r = segd_gen_load(path, SEG_LINKS_IF_HERE, stderr, &g);

	if (r == 0)
		fprintf(stderr, "%s: ok: %zu zones, %zu conduits; the ruleset would have %zu sets "
			"(%zu elements), %zu chains, %zu rules\n", path, seg_zone_count(g->cfg), g->cfg->n_conduits,
			g->plan->counts.sets, g->plan->counts.elems, g->plan->counts.chains,
			g->plan->counts.rules);
	segd_gen_free(g);
	return r == 0 ? EXIT_OK : r == -EINVAL ? EXIT_NOT_OK : EXIT_ERROR;
}

int main(int argc, char **argv)
{
	const char *path = SEG_DEFAULT_CONFIG;
	int opt, check = 0;

	while ((opt = getopt(argc, argv, "c:nh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_ERROR;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	return check ? check_only(path) : segd_serve(path);
}
