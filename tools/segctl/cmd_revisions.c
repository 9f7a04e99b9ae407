/*
 * cmd_revisions.c - segctl revisions, diff, rollback, confirm, isolate,
 * release, and the isolation state that matrix and explain show.
 *
 * revisions and diff ask segd which revision runs and where its state
 * directory is; without segd they read settings.state_dir of the
 * configuration and take the newest revision as the running one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "cfgdiff.h"
#include "config.h"
#include "control.h"
#include "json.h"
#include "revision.h"
#include "segctl.h"

#define DEFAULT_SOCKET    "/run/segd/control.sock"
#define DEFAULT_STATE_DIR "/var/lib/segd"
#define QUIET_TIMEOUT_MS  5000

/* What segd (or, without it, the state directory) says. */
struct where {
	char *state_dir;
	bool daemon;
	uint32_t running, confirm_rev, revert_to;
	int64_t deadline;
	struct seg_kvlist resp;     /* segd's answer, for the isolation state */
};

static void where_free(struct where *w)
{
	free(w->state_dir);
	seg_kv_free(&w->resp);
}

static uint32_t kv_u32(const struct seg_kvlist *l, const char *k)
{
	const char *v = seg_kv_get(l, k);
	return v ? (uint32_t)strtoul(v, NULL, 10) : 0;
}

/* Asks segd without printing anything when it does not answer. */
static int ask_quietly(const char *socket, const char *cmd, struct seg_kvlist *resp)
{
	struct seg_kvlist req;

	seg_kv_init(&req);
	seg_kv_init(resp);
	seg_kv_add(&req, "cmd", cmd);
	int r = seg_ctl_call(socket, &req, QUIET_TIMEOUT_MS, resp);
	seg_kv_free(&req);
	const char *st = r == 0 ? seg_kv_get(resp, "status") : NULL;
	return st && strcmp(st, "ok") == 0 ? 0 : -ENOENT;
}

static int locate(struct segctl *s, struct where *w)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	const char *file = s->config ? s->config : SEG_DEFAULT_CONFIG;
	bool loaded = seg_config_load(file, seg_today(), &cfg, &d) == 0;
	const char *sock = s->socket ? s->socket : loaded ? cfg->settings.control_socket : DEFAULT_SOCKET;

	seg_diags_free(&d);
	*w = (struct where){ 0 };
	if (ask_quietly(sock, "revisions", &w->resp) == 0 && seg_kv_get(&w->resp, "state_dir")) {
		w->daemon = true;
		w->state_dir = strdup(seg_kv_get(&w->resp, "state_dir"));
		w->running = kv_u32(&w->resp, "running");
		w->confirm_rev = kv_u32(&w->resp, "confirm_revision");
		w->revert_to = kv_u32(&w->resp, "revert_to");
		w->deadline = (int64_t)kv_u32(&w->resp, "confirm_deadline");
	} else {
		w->state_dir = strdup(loaded ? cfg->settings.state_dir : DEFAULT_STATE_DIR);
	}
	seg_config_free(cfg);
	return w->state_dir ? 0 : -ENOMEM;
}

static int list(struct segctl *s, struct where *w, struct seg_revision **v, size_t *n)
{
	int r = locate(s, w);

	if (r == 0)
		r = seg_rev_list(w->state_dir, v, n);
	if (r < 0) {
		fprintf(stderr, "%s: cannot read the revisions in '%s/revisions': %s — run as root or as a "
			"member of the control group\n", s->prog, w->state_dir ? w->state_dir : "?", strerror(-r));
		return SEGCTL_ERROR;
	}
	if (!w->daemon && *n)
		w->running = (*v)[*n - 1].number;   /* without segd: the newest */
	return SEGCTL_OK;
}

/* ---- segctl revisions ---- */

static void local_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!localtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static void print_rev_line(const struct seg_revision *r, uint32_t running)
{
	char t[32], from[24] = "";

	local_time(r->time, t, sizeof(t));
	if (r->source)
		snprintf(from, sizeof(from), " (of %" PRIu32 ")", r->source);
	printf("%c%6" PRIu32 "  %s  %5" PRIu32 "  %-14s %-12.12s  %-9s ", r->number == running ? '*' : ' ',
	       r->number, t, r->uid, r->how, r->sha256, seg_rev_state_name(r->state));
	for (size_t i = 0; i < r->n_approvals; i++)
		printf("%s%s", i ? "," : "", r->approvals[i]);
	printf("%s\n", from);
}

static void json_rev(FILE *f, const struct seg_revision *r, uint32_t running)
{
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "revision");
	fprintf(f, "%" PRIu32, r->number);
	seg_json_key(f, &first, "running");
	fputs(r->number == running ? "true" : "false", f);
	seg_json_key(f, &first, "time");
	fprintf(f, "%lld", (long long)r->time);
	seg_json_key(f, &first, "uid");
	fprintf(f, "%" PRIu32, r->uid);
	seg_json_key(f, &first, "how");
	seg_json_str(f, r->how);
	seg_json_key(f, &first, "why");
	seg_json_str(f, r->why);
	seg_json_key(f, &first, "sha256");
	seg_json_str(f, r->sha256);
	seg_json_key(f, &first, "size");
	fprintf(f, "%llu", (unsigned long long)r->size);
	seg_json_key(f, &first, "source");
	fprintf(f, "%" PRIu32, r->source);
	seg_json_key(f, &first, "state");
	seg_json_str(f, seg_rev_state_name(r->state));
	seg_json_key(f, &first, "approvals");
	fputc('[', f);
	for (size_t i = 0; i < r->n_approvals; i++) {
		fputs(i ? "," : "", f);
		seg_json_str(f, r->approvals[i]);
	}
	fputs("]}", f);
}

static void print_revisions_json(const struct where *w, const struct seg_revision *v, size_t n)
{
	int first = 1;

	fputc('{', stdout);
	seg_json_key(stdout, &first, "state_dir");
	seg_json_str(stdout, w->state_dir);
	seg_json_key(stdout, &first, "daemon");
	fputs(w->daemon ? "true" : "false", stdout);
	seg_json_key(stdout, &first, "running");
	printf("%" PRIu32, w->running);
	seg_json_key(stdout, &first, "revisions");
	fputc('[', stdout);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? "," : "", stdout);
		json_rev(stdout, &v[i], w->running);
	}
	fputs("]}\n", stdout);
}

int cmd_revisions(struct segctl *s, int argc, char **argv)
{
	struct seg_revision *v = NULL;
	struct where w;
	size_t n = 0;
	(void)argv;

	if (argc != 1)
		return segctl_usage(s, "revisions");
	int r = list(s, &w, &v, &n);
	if (r == SEGCTL_OK && s->json) {
		print_revisions_json(&w, v, n);
	} else if (r == SEGCTL_OK) {
		printf("  %6s  %-19s  %5s  %-14s %-12s  %-9s %s\n", "REV", "APPLIED", "UID", "HOW", "SHA256",
		       "STATE", "APPROVALS");
		for (size_t i = 0; i < n; i++)
			print_rev_line(&v[i], w.running);
		printf("\n* running%s. %zu revisions in %s/revisions (the last %d are kept).\n",
		       w.daemon ? "" : " (segd is not running: the newest is marked)", n, w.state_dir, SEG_REV_KEEP);
		if (w.confirm_rev)
			printf("revision %" PRIu32 " awaits 'segctl confirm'; without it segd reverts to revision %"
			       PRIu32 " in %lld seconds.\n", w.confirm_rev, w.revert_to,
			       (long long)(w.deadline - (int64_t)time(NULL)));
	}
	seg_rev_list_free(v, n);
	where_free(&w);
	return r;
}

/* ---- segctl diff ---- */

struct side {
	char *path;        /* file to load */
	char label[96];
};

static const struct seg_revision *find_rev(const struct seg_revision *v, size_t n, uint32_t num)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].number == num)
			return &v[i];
	return NULL;
}

static uint32_t previous_of(const struct seg_revision *v, size_t n, uint32_t num)
{
	uint32_t prev = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].number < num && v[i].number > prev)
			prev = v[i].number;
	return prev;
}

/* "12" (a revision), "running", or a file's path. */
static int resolve(struct segctl *s, const struct where *w, const struct seg_revision *v, size_t n,
		   const char *arg, struct side *out)
{
	char *end;
	unsigned long num = 0;

	if (strcmp(arg, "running") == 0)
		num = w->running;
	else if (arg[0] >= '0' && arg[0] <= '9' && ((num = strtoul(arg, &end, 10)), *end == '\0'))
		;
	else {
		out->path = strdup(arg);
		snprintf(out->label, sizeof(out->label), "%s", arg);
		return out->path ? 0 : -ENOMEM;
	}
	const struct seg_revision *r = num ? find_rev(v, n, (uint32_t)num) : NULL;
	if (!r) {
		fprintf(stderr, "%s: diff: revision '%s' does not exist — see segctl revisions\n", s->prog, arg);
		return -ENOENT;
	}
	out->path = seg_rev_conf_path(w->state_dir, r->number);
	snprintf(out->label, sizeof(out->label), "revision %" PRIu32 "%s (%s, sha256 %.12s)", r->number,
		 r->number == w->running ? " running" : "", r->how, r->sha256);
	return out->path ? 0 : -ENOMEM;
}

static struct seg_config *load_side(struct segctl *s, const struct side *sd)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;

	if (seg_config_load(sd->path, seg_today(), &cfg, &d) < 0) {
		seg_diags_print(&d, stderr);   /* only when it fails: warnings are not the diff's business */
		fprintf(stderr, "%s: diff: cannot load %s\n", s->prog, sd->label);
	}
	seg_diags_free(&d);
	return cfg;
}

static void print_diff_json(const struct side *a, const struct side *b, const struct seg_cfgdiff *df)
{
	int first = 1;

	fputc('{', stdout);
	seg_json_key(stdout, &first, "old");
	seg_json_str(stdout, a->label);
	seg_json_key(stdout, &first, "new");
	seg_json_str(stdout, b->label);
	seg_json_key(stdout, &first, "changes");
	fputc('[', stdout);
	for (size_t i = 0; i < df->n; i++) {
		const struct seg_diff_item *it = &df->items[i];
		int f = 1;
		fputs(i ? ",{" : "{", stdout);
		seg_json_key(stdout, &f, "what");
		seg_json_str(stdout, seg_diff_what_name(it->what));
		seg_json_key(stdout, &f, "name");
		seg_json_str(stdout, it->name);
		seg_json_key(stdout, &f, "op");
		seg_json_str(stdout, seg_diff_op_name(it->op));
		seg_json_key(stdout, &f, "fields");
		fputc('[', stdout);
		for (size_t j = 0; j < it->n_fields; j++) {
			int ff = 1;
			fputs(j ? ",{" : "{", stdout);
			seg_json_key(stdout, &ff, "field");
			seg_json_str(stdout, it->fields[j].field);
			seg_json_key(stdout, &ff, "old");
			seg_json_str(stdout, it->fields[j].old_value);
			seg_json_key(stdout, &ff, "new");
			seg_json_str(stdout, it->fields[j].new_value);
			fputc('}', stdout);
		}
		fputs("]}", stdout);
	}
	fputs("]}\n", stdout);
}

static int show_diff(struct segctl *s, const struct side *a, const struct side *b)
{
	struct seg_config *ca = load_side(s, a), *cb = ca ? load_side(s, b) : NULL;
	struct seg_cfgdiff df;
	int r = SEGCTL_ERROR;

	if (!ca || !cb || seg_cfgdiff_compute(ca, cb, &df) < 0)
		goto cleanup;
	if (s->json) {
		print_diff_json(a, b, &df);
	} else {
		printf("--- %s\n+++ %s\n", a->label, b->label);
		for (size_t i = 0; i < df.n; i++) {
			char *line = seg_cfgdiff_line(&df.items[i]);
			printf("%s\n", line ? line : "?");
			free(line);
		}
		if (df.n == 0)
			puts("no differences in settings, zones or conduits");
	}
	r = df.n ? SEGCTL_NOT_OK : SEGCTL_OK;   /* as diff(1): 1 when they differ */
	seg_cfgdiff_free(&df);
cleanup:
	seg_config_free(ca);
	seg_config_free(cb);
	return r;
}

int cmd_diff(struct segctl *s, int argc, char **argv)
{
	struct seg_revision *v = NULL;
	struct side a = { 0 }, b = { 0 };
	struct where w;
	size_t n = 0;
	char prev[16];

	if (argc > 3)
		return segctl_usage(s, "diff");
	int r = list(s, &w, &v, &n);
	if (r != SEGCTL_OK)
		goto cleanup;
	snprintf(prev, sizeof(prev), "%" PRIu32, previous_of(v, n, w.running));
	const char *old = argc > 1 ? argv[1] : prev, *new = argc > 2 ? argv[2] : "running";
	r = SEGCTL_ERROR;
	if (argc == 1 && !previous_of(v, n, w.running))
		fprintf(stderr, "%s: diff: there is no revision before the running one (%" PRIu32 ")\n",
			s->prog, w.running);
	else if (resolve(s, &w, v, n, old, &a) == 0 && resolve(s, &w, v, n, new, &b) == 0)
		r = show_diff(s, &a, &b);
cleanup:
	free(a.path);
	free(b.path);
	seg_rev_list_free(v, n);
	where_free(&w);
	return r;
}

/* ---- requests that change state ---- */

static void print_lines(const struct seg_kvlist *resp, FILE *f)
{
	size_t i = 0;
	const char *line;

	while ((line = seg_kv_next(resp, "line", &i)))
		fprintf(f, "%s\n", line);
}

/* Sends cmd with the pairs k[i]=v[i] and prints the answer (JSON, or the
 * report lines, then pre, the value of ok_key, post). */
static int request(struct segctl *s, const char *cmd, const char *const *k, const char *const *v,
		   const char *pre, const char *ok_key, const char *post)
{
	struct seg_kvlist req, resp;

	seg_kv_init(&req);
	seg_kv_add(&req, "cmd", cmd);
	for (size_t i = 0; k && k[i]; i++)
		seg_kv_add(&req, k[i], v[i]);
	int r = segctl_call(s, &req, &resp);
	seg_kv_free(&req);
	if (s->json) {
		segctl_print_kv_json(&resp, stdout);
	} else {
		print_lines(&resp, r == SEGCTL_OK ? stdout : stderr);
		const char *val = seg_kv_get(&resp, ok_key), *warn = seg_kv_get(&resp, "warning");
		if (r == SEGCTL_OK)
			printf("%s%s%s\n", pre, val ? val : "?", post);
		if (warn)
			fprintf(stderr, "%s: warning: %s\n", s->prog, warn);
	}
	seg_kv_free(&resp);
	return r;
}

int cmd_rollback(struct segctl *s, int argc, char **argv)
{
	const char *k[] = { "revision", NULL }, *v[] = { argc == 2 ? argv[1] : NULL, NULL };

	if (argc != 2)
		return segctl_usage(s, "rollback");
	return request(s, "rollback", k, v, "rolled back: now running revision ", "revision",
		       " (see segctl revisions)");
}

int cmd_confirm(struct segctl *s, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return segctl_usage(s, "confirm");
	return request(s, "confirm", NULL, NULL, "confirmed revision ", "revision", ": it stays in force");
}

int cmd_isolate(struct segctl *s, int argc, char **argv)
{
	const char *zone = NULL, *reason = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--reason") == 0 && i + 1 < argc)
			reason = argv[++i];
		else if (strncmp(argv[i], "--reason=", 9) == 0)
			reason = argv[i] + 9;
		else if (!zone && argv[i][0] != '-')
			zone = argv[i];
		else
			return segctl_usage(s, "isolate");
	}
	if (!zone || !reason)
		return segctl_usage(s, "isolate");
	const char *k[] = { "zone", "reason", NULL }, *v[] = { zone, reason, NULL };
	return request(s, "isolate", k, v, "zone '", "zone", "' isolated: every flow between it and any "
		       "other zone is dropped, conduits included; 'segctl release' ends it");
}

int cmd_release(struct segctl *s, int argc, char **argv)
{
	if (argc != 2)
		return segctl_usage(s, "release");
	const char *k[] = { "zone", NULL }, *v[] = { argv[1], NULL };
	return request(s, "release", k, v, "zone '", "zone", "' released: its conduits are in force again");
}

/* ---- the isolation state for matrix and explain ---- */

static int iso_from_daemon(const struct seg_kvlist *resp, struct seg_isolations *iso)
{
	size_t i = 0, j = 0;
	const char *z, *reason;

	while ((z = seg_kv_next(resp, "isolated", &i))) {
		reason = seg_kv_next(resp, "isolated_reason", &j);
		if (seg_iso_set(iso, z, reason ? reason : "", 0, 0) < 0)
			return -ENOMEM;
	}
	return 0;
}

int segctl_isolation(struct segctl *s, struct seg_config *cfg, struct seg_isolations *ret)
{
	struct seg_kvlist resp;
	struct seg_isolations iso = { 0 };
	const char *sock = s->socket ? s->socket : cfg->settings.control_socket;
	int r;

	/* the daemon's answer counts only for this configuration's state */
	if (ask_quietly(sock, "revisions", &resp) == 0 && seg_kv_get(&resp, "state_dir") &&
	    strcmp(seg_kv_get(&resp, "state_dir"), cfg->settings.state_dir) == 0)
		r = iso_from_daemon(&resp, &iso);
	else
		r = seg_iso_load(cfg->settings.state_dir, &iso, NULL);
	seg_kv_free(&resp);
	if (r < 0 && r != -EACCES)
		fprintf(stderr, "%s: cannot read the isolation state in '%s': %s\n", s->prog,
			cfg->settings.state_dir, strerror(-r));
	for (size_t i = 0; i < cfg->n_zones; i++)
		cfg->zones[i].isolated = seg_iso_find(&iso, cfg->zones[i].name) >= 0;
	if (ret)
		*ret = iso;
	else
		seg_iso_free(&iso);
	return r;
}
