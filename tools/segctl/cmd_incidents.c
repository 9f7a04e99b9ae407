/*
 * cmd_incidents.c - segctl incidents [--since T] [--until T] [--zone Z]
 * [--event E] [--spool FILE] [--json]: the recorded incidents, read from the
 * spool (settings.spool of the configuration, or --spool) and its rotated
 * files, oldest first. Works without the daemon.
 *
 * T: ISO 8601 ("2025-11-26", "2025-11-26T09:00", "...Z", "...+09:00"; no
 * zone = local time) or relative to now ("30m", "1h", "2d", "1w").
 * Exit status: 0 (also when no incident matches), 2 usage or runtime error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "config.h"
#include "incident.h"
#include "segctl.h"
#include "spool.h"

struct opts {
	const char *since, *until, *spool;
	struct seg_spool_filter f;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
	bool bad = false;

	for (int i = 1; i < argc && !bad; i++) {
		const char *v;
		if ((v = segctl_option_value("incidents", argc, argv, &i, "--since", &bad)))
			o->since = v;
		else if ((v = segctl_option_value("incidents", argc, argv, &i, "--until", &bad)))
			o->until = v;
		else if ((v = segctl_option_value("incidents", argc, argv, &i, "--zone", &bad)))
			o->f.zone = v;
		else if ((v = segctl_option_value("incidents", argc, argv, &i, "--event", &bad)))
			o->f.event = v;
		else if ((v = segctl_option_value("incidents", argc, argv, &i, "--spool", &bad)))
			o->spool = v;
		else if (!bad) {
			fprintf(stderr, "segctl incidents: unknown argument '%s'\n", argv[i]);
			bad = true;
		}
	}
	return bad ? -EINVAL : 0;
}

static bool event_known(const char *name)
{
	for (int i = 0; i < SEG_EVENT_COUNT; i++)
		if (strcmp(seg_event_info((enum seg_event)i)->name, name) == 0)
			return true;
	return false;
}

static int check_filter(struct opts *o, int64_t now)
{
	const char *why;

	if (o->since && seg_time_parse(o->since, now, &o->f.since_us) < 0) {
		fprintf(stderr, "segctl incidents: --since '%s': not a time — use 2025-11-26, "
			"2025-11-26T09:00, 2025-11-26T00:00:00Z or 1h, 2d\n", o->since);
		return -EINVAL;
	}
	if (o->until && seg_time_parse(o->until, now, &o->f.until_us) < 0) {
		fprintf(stderr, "segctl incidents: --until '%s': not a time — use 2025-11-26T18:00 "
			"or 30m\n", o->until);
		return -EINVAL;
	}
	if (o->f.zone && !seg_name_valid(o->f.zone, &why)) {
		fprintf(stderr, "segctl incidents: --zone '%s': %s\n", o->f.zone, why);
		return -EINVAL;
	}
	if (o->f.event && !event_known(o->f.event)) {
		fprintf(stderr, "segctl incidents: --event '%s': unknown — use flow-denied, "
			"spoofed-source or to-gateway\n", o->f.event);
		return -EINVAL;
	}
	return 0;
}

/* Text from the spool goes to a terminal: control characters as '?'. */
static void put_clean(const char *s, FILE *f)
{
	seg_put_text(f, s, SEG_MEDIUM_TERMINAL);
}

static const char *priority_name(const char *p)
{
	static const char *const names[] = { "emerg", "alert", "crit", "err", "warning",
					     "notice", "info", "debug" };
	return p && p[0] >= '0' && p[0] <= '7' && !p[1] ? names[p[0] - '0'] : "-";
}

struct out {
	bool json;
	unsigned long n;
};

static int print_rec(const struct seg_spool_rec *r, void *ctx)
{
	struct out *o = ctx;
	const char *first = seg_spool_get(r, "first"), *ev = seg_spool_get(r, "event");

	if (o->json) {
		fwrite(r->line, 1, r->len, stdout);
		fputc('\n', stdout);
	} else {
		if (o->n == 0)
			printf("%-24s %-15s %-7s %s\n", "FIRST (UTC)", "EVENT", "PRIO", "INCIDENT");
		printf("%-24s ", first ? first : "-");
		put_clean(ev ? ev : "-", stdout);
		printf("%*s %-7s ", ev && strlen(ev) < 15 ? (int)(15 - strlen(ev)) : 0, "",
		       priority_name(seg_spool_get(r, "priority")));
		put_clean(seg_spool_get(r, "message"), stdout);
		fputc('\n', stdout);
	}
	o->n++;
	return 0;
}

static int spool_path(struct segctl *s, const struct opts *o, char **ret)
{
	struct seg_config *cfg = NULL;

	if (o->spool) {
		*ret = strdup(o->spool);
		return *ret ? 0 : -ENOMEM;
	}
	if (segctl_load(s, NULL, &cfg) != SEGCTL_OK) {
		fprintf(stderr, "segctl incidents: no spool path — fix the configuration or give "
			"--spool FILE\n");
		return -EINVAL;
	}
	*ret = cfg->settings.spool ? strdup(cfg->settings.spool) : NULL;
	seg_config_free(cfg);
	return *ret ? 0 : -EINVAL;
}

int cmd_incidents(struct segctl *s, int argc, char **argv)
{
	struct opts o = { 0 };
	struct out out = { .json = s->json };
	struct seg_spool_read_stats st;
	char *path = NULL;

	if (parse_args(argc, argv, &o) < 0)
		return segctl_usage(s, "incidents");
	if (check_filter(&o, (int64_t)time(NULL) * 1000000) < 0 || spool_path(s, &o, &path) < 0)
		return SEGCTL_ERROR;
	int r = seg_spool_read(path, &o.f, print_rec, &out, &st);
	if (r < 0) {
		fprintf(stderr, "segctl incidents: %s: %s — check the path and its permissions\n",
			path, strerror(-r));
		free(path);
		return SEGCTL_ERROR;
	}
	if (!out.json)
		fprintf(stderr, "%lu incident%s", out.n, out.n == 1 ? "" : "s");
	if (!out.json && st.bad)
		fprintf(stderr, " (%llu unreadable line%s skipped in %s)", (unsigned long long)st.bad,
			st.bad == 1 ? "" : "s", path);
	if (!out.json)
		fputc('\n', stderr);
	free(path);
	return SEGCTL_OK;
}
