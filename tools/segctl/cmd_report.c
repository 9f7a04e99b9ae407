/*
 * cmd_report.c - segctl report [--since T] [--until T] [--spool FILE]
 * [--soon DAYS] [--no-kernel] [--json] [--html FILE]: the self-inspection
 * report (自己点検) for auditors, collected by lib/report.c and rendered
 * here as text or JSON (report_html.c: one self-contained HTML page).
 *
 * Works without the daemon: the configuration, the spool, the state
 * directory and the kernel are read directly; segd is asked for its loss
 * counters only when it answers.
 *
 * Exit status: 0 the report was produced and the live ruleset is the
 * configuration's; 1 the configuration is invalid or the kernel's table
 * differs from it (the report says how); 2 usage or runtime error.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "config.h"
#include "control.h"
#include "incident.h"
#include "json.h"
#include "report.h"
#include "segctl.h"
#include "spool.h"

#define STATUS_TIMEOUT_MS 3000

struct ropts {
	const char *since, *until, *spool, *html, *soon;
	bool no_kernel;
};

static int parse_args(int argc, char **argv, struct ropts *o)
{
	static const struct { const char *name; size_t off; } opts[] = {
		{ "--since", offsetof(struct ropts, since) }, { "--until", offsetof(struct ropts, until) },
		{ "--spool", offsetof(struct ropts, spool) }, { "--html", offsetof(struct ropts, html) },
		{ "--soon", offsetof(struct ropts, soon) },
	};
	bool bad = false;

	for (int i = 1; i < argc && !bad; i++) {
		bool taken = false;
		for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]) && !taken && !bad; k++) {
			const char *v = segctl_option_value("report", argc, argv, &i, opts[k].name, &bad);
			if (v)
				*(const char **)((char *)o + opts[k].off) = v, taken = true;
		}
		if (!taken && !bad && strcmp(argv[i], "--no-kernel") == 0)
			o->no_kernel = taken = true;
		if (!taken && !bad) {
			fprintf(stderr, "segctl report: unknown argument '%s'\n", argv[i]);
			bad = true;
		}
	}
	return bad ? -EINVAL : 0;
}

static int period(const struct ropts *o, int64_t now, struct seg_report_opts *ro)
{
	char *end;

	if (o->since && seg_time_parse(o->since, now, &ro->since_us) < 0) {
		fprintf(stderr, "segctl report: --since '%s': not a time — use 2025-11-01, 2025-11-01T09:00, "
			"...Z, +09:00, or 30d, 1w\n", o->since);
		return -EINVAL;
	}
	if (o->until && seg_time_parse(o->until, now, &ro->until_us) < 0) {
		fprintf(stderr, "segctl report: --until '%s': not a time — use 2025-11-30T18:00 or 1d\n",
			o->until);
		return -EINVAL;
	}
	if (o->soon) {
		unsigned long d = strtoul(o->soon, &end, 10);
		if (!*o->soon || *end || d == 0 || d > 3650) {
			fprintf(stderr, "segctl report: --soon '%s': give days, 1-3650\n", o->soon);
			return -EINVAL;
		}
		ro->soon_days = (unsigned)d;
	}
	int64_t until = ro->until_us ? ro->until_us : now;
	if (ro->since_us && ro->since_us > until) {
		fprintf(stderr, "segctl report: --since is after --until — swap them\n");
		return -EINVAL;
	}
	return 0;
}

/* ---- the daemon, optional ---- */

static void ask_daemon(struct segctl *s, struct seg_report *r)
{
	struct seg_kvlist req, resp;
	const char *path = s->socket ? s->socket : r->cfg ? r->cfg->settings.control_socket : NULL;
	char why[160];

	if (!path) {
		seg_report_set_no_daemon(r, "no control socket known");
		return;
	}
	seg_kv_init(&req);
	seg_kv_init(&resp);
	seg_kv_add(&req, "cmd", "status");
	int e = seg_ctl_call(path, &req, STATUS_TIMEOUT_MS, &resp);
	const char *st = seg_kv_get(&resp, "status");
	if (e == 0 && st && strcmp(st, "ok") == 0) {
		seg_report_add_status(r, &resp);
	} else {
		snprintf(why, sizeof(why), "segd did not answer on %s (%s)", path,
			 e < 0 ? strerror(-e) : "error response");
		seg_report_set_no_daemon(r, why);
	}
	seg_kv_free(&req);
	seg_kv_free(&resp);
}

/* ---- text ---- */

static void local_time(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm);
}

void segctl_report_day(int64_t day, char *buf, size_t len)
{
	time_t t = (time_t)(day * 86400);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d", &tm);
}

static void put_clean(FILE *f, const char *s)
{
	seg_put_text(f, s, SEG_MEDIUM_TERMINAL);
}

static void heading(FILE *f, enum seg_report_section s)
{
	const struct seg_report_section_info *i = seg_report_section(s);

	fprintf(f, "\n[%d] %s / %s\n    policy clauses: %s — %s\n", (int)s + 1, i->title, i->title_ja,
		i->clauses, i->answers);
}

static void text_sync(FILE *f, const struct seg_report *r)
{
	heading(f, SEG_RS_SYNC);
	if (!r->cfg)
		fputs("    not checked: the configuration is invalid\n", f);
	else if (r->kernel_skipped)
		fputs("    not checked (--no-kernel)\n", f);
	else if (r->verify_err)
		fprintf(f, "    NOT CHECKED: reading table inet %s failed: %s\n", r->cfg->settings.table,
			strerror(-r->verify_err));
	else if (r->diff.in_sync)
		fprintf(f, "    IN SYNC: table inet %s holds exactly the rules compiled from %s\n",
			r->cfg->settings.table, r->config_file);
	else {
		fprintf(f, "    DIFFERS: table inet %s is not what %s compiles to%s\n", r->cfg->settings.table,
			r->config_file, r->diff.table_missing ? " (the table is missing)" : "");
		for (size_t i = 0; i < r->diff.n_text; i++)
			fprintf(f, "      - %s\n", r->diff.text[i]);
		if (r->diff.n_more)
			fprintf(f, "      (%zu more differences)\n", r->diff.n_more);
	}
}

static void text_model(FILE *f, const struct seg_report *r)
{
	heading(f, SEG_RS_MODEL);
	if (!r->cfg) {
		fprintf(f, "    INVALID: %zu error%s — nothing of it can be installed\n", r->diags.n_errors,
			r->diags.n_errors == 1 ? "" : "s");
	} else {
		fprintf(f, "    VALID: %zu zones, %zu conduits\n", seg_zone_count(r->cfg), r->cfg->n_conduits);
		fprintf(f, "    %zu warning%s, %zu note%s\n", r->diags.n_warnings, r->diags.n_warnings == 1 ? "" : "s",
			r->diags.n - r->diags.n_errors - r->diags.n_warnings,
			r->diags.n - r->diags.n_errors - r->diags.n_warnings == 1 ? "" : "s");
	}
	fprintf(f, "    the model's checks (%d), with the policy clause each serves:\n", SEG_CHECK_COUNT);
	for (int k = 0; k < SEG_CHECK_COUNT; k++) {
		const struct seg_check_info *ci = seg_check_info((enum seg_check)k);
		char state[48];
		fprintf(f, "      %-22s %-11s %s (%s)\n", seg_report_check_state(r, (enum seg_check)k, state,
			sizeof(state)), ci->id, ci->en, ci->clause);
	}
	for (size_t i = 0; i < r->diags.n; i++) {
		fprintf(f, "      %s:%d: %s: ", r->config_file, r->diags.v[i].line,
			seg_severity_name(r->diags.v[i].sev));
		put_clean(f, r->diags.v[i].msg);
		fputc('\n', f);
	}
}

static void text_matrix(FILE *f, const struct seg_report *r)
{
	size_t nz = r->cfg->n_zones, nc = seg_zone_count(r->cfg);   /* columns: the zones, not the gateway */

	heading(f, SEG_RS_MATRIX);
	fprintf(f, "    %-14s", "from \\ to");
	for (size_t b = 0; b < nc; b++)
		fprintf(f, " %-12.12s", r->cfg->zones[b].name);
	fputc('\n', f);
	for (size_t a = 0; a < nz; a++) {
		fprintf(f, "    %-14.14s", r->cfg->zones[a].name);
		for (size_t b = 0; b < nc; b++) {
			char cell[24];
			enum seg_report_cell c = r->cells[a * nz + b];
			if (c == SEG_CELL_OPEN)
				snprintf(cell, sizeof(cell), "%zu conduit%s", r->cell_open[a * nz + b],
					 r->cell_open[a * nz + b] == 1 ? "" : "s");
			else
				snprintf(cell, sizeof(cell), "%s", seg_report_cell_name(c));
			fprintf(f, " %-12s", cell);
		}
		fputc('\n', f);
	}
}

static void text_conduits(FILE *f, const struct seg_report *r)
{
	heading(f, SEG_RS_CONDUITS);
	if (r->counters_err && !r->kernel_skipped)
		fprintf(f, "    (hits unknown: the kernel's counters could not be read: %s)\n",
			strerror(-r->counters_err));
	fprintf(f, "    %-24s %-9s %-22s %-14s %-10s %6s %12s  %s\n", "CONDUIT", "KIND", "FROM -> TO", "APPROVAL",
		"EXPIRES", "DAYS", "HITS(pkts)", "STATE");
	for (size_t i = 0; i < r->n_conduits; i++) {
		const struct seg_report_conduit *rc = &r->conduits[i];
		const struct seg_conduit *c = &r->cfg->conduits[rc->index];
		char pair[80], hits[24];
		snprintf(pair, sizeof(pair), "%s -> %s", r->cfg->zones[c->from].name, r->cfg->zones[c->to].name);
		if (rc->has_hits)
			snprintf(hits, sizeof(hits), "%llu", (unsigned long long)rc->packets);
		else
			snprintf(hits, sizeof(hits), "?");
		fprintf(f, "    %-24s %-9s %-22s %-14s %-10s %6lld %12s  %s\n", c->name, seg_conduit_kind_name(c->kind),
			pair, c->approval ? c->approval : "-", c->expires ? c->expires : "-",
			(long long)rc->days_left, hits, rc->expired ? "EXPIRED (not installed)" :
			rc->soon ? "expires soon" : rc->installed ? "installed" : "not installed");
	}
}

static void text_expiry(FILE *f, const struct seg_report *r)
{
	heading(f, SEG_RS_EXPIRY);
	fprintf(f, "    %zu expired, %zu expiring within %u days\n", r->n_expired, r->n_soon, r->soon_days);
	for (size_t i = 0; i < r->n_conduits; i++) {
		const struct seg_report_conduit *rc = &r->conduits[i];
		const struct seg_conduit *c = &r->cfg->conduits[rc->index];
		if (rc->expired)
			fprintf(f, "      EXPIRED %s on %s (%lld days ago), approval %s, %s:%d — renew the approval "
				"or remove it\n", c->name, c->expires, (long long)-rc->days_left, c->approval,
				r->config_file, c->line);
		else if (rc->soon)
			fprintf(f, "      SOON    %s on %s (%lld days left), approval %s, %s:%d\n", c->name,
				c->expires, (long long)rc->days_left, c->approval, r->config_file, c->line);
	}
}

static void text_incidents(FILE *f, const struct seg_report *r)
{
	heading(f, SEG_RS_INCIDENTS);
	if (r->spool_err && !r->spool)
		fputs("    no spool known (the configuration is invalid): give --spool FILE\n", f);
	else if (r->spool_err)
		fprintf(f, "    spool %s: %s\n", r->spool, strerror(-r->spool_err));
	fprintf(f, "    %llu incidents, %llu packets (spool %s: %llu lines read, %llu unreadable)\n",
		(unsigned long long)r->incidents, (unsigned long long)r->packets, r->spool ? r->spool : "-",
		(unsigned long long)r->spool_lines, (unsigned long long)r->spool_bad);
	fprintf(f, "    %-15s %-22s %10s %10s %14s  %s\n", "EVENT", "FROM -> TO", "INCIDENTS", "PACKETS",
		"KERNEL(total)", "TOP SOURCES (packets)");
	for (size_t i = 0; i < r->n_pairs; i++) {
		const struct seg_report_pair *p = &r->pairs[i];
		char pair[80], kern[24] = "-";
		snprintf(pair, sizeof(pair), "%s -> %s", *p->from ? p->from : "-", *p->to ? p->to : "gateway");
		if (p->has_kernel)
			snprintf(kern, sizeof(kern), "%llu", (unsigned long long)p->kernel_packets);
		fprintf(f, "    %-15s %-22s %10llu %10llu %14s  ", p->event, pair, (unsigned long long)p->incidents,
			(unsigned long long)p->packets, kern);
		for (size_t k = 0; k < p->n_top; k++) {
			fputs(k ? ", " : "", f);
			put_clean(f, p->top[k].addr);
			fprintf(f, " (%llu)", (unsigned long long)p->top[k].packets);
		}
		fputc('\n', f);
	}
	fputs("    per day:", f);
	if (!r->incidents)
		fputs(" none", f);
	for (size_t d = 0, shown = 0; d < r->n_days; d++) {
		uint64_t n = 0;
		for (int e = 0; e < SEG_REPORT_EV_COUNT; e++)
			n += r->days[d].incidents[e];
		if (!n)
			continue;
		char day[16];
		segctl_report_day(r->days[d].day, day, sizeof(day));
		fprintf(f, "%s %s: %llu", shown++ ? "," : "", day, (unsigned long long)n);
	}
	fputc('\n', f);
}

static void text_loss(FILE *f, const struct seg_report *r)
{
	const struct seg_report_loss *l = &r->loss;

	heading(f, SEG_RS_LOSS);
	if (!l->available) {
		fprintf(f, "    not available: %s\n", l->error);
		return;
	}
	fprintf(f, "    since segd started: %llu packets in incidents, %llu not sampled (%llu sequence gaps, "
		"%llu undecodable), %llu socket drops\n", (unsigned long long)l->packets_in_incidents,
		(unsigned long long)l->not_sampled, (unsigned long long)l->seq_gaps,
		(unsigned long long)l->undecodable, (unsigned long long)l->socket_drops);
	fprintf(f, "    journal: %llu sent, %llu dropped; spool: %llu lines, %llu dropped%s%s\n",
		(unsigned long long)l->journal_sent, (unsigned long long)l->journal_dropped,
		(unsigned long long)l->spool_lines, (unsigned long long)l->spool_dropped,
		*l->degraded ? "; DEGRADED: " : "", l->degraded);
}

static void text_changes(FILE *f, const struct seg_report *r)
{
	char t[64];

	heading(f, SEG_RS_CHANGES);
	if (r->rev_err && r->rev_err != -ENOENT)
		fprintf(f, "    revisions: %s\n", strerror(-r->rev_err));
	fprintf(f, "    %zu revision%s applied in the period (%zu kept)\n", r->n_revs, r->n_revs == 1 ? "" : "s",
		r->revs_total);
	for (size_t i = 0; i < r->n_revs; i++) {
		const struct seg_revision *v = &r->revs[i];
		local_time(v->time * 1000000, t, sizeof(t));
		fprintf(f, "      #%u  %s  %-8s uid %u  %s  sha256 %.16s  ", v->number, t, v->how, v->uid,
			seg_rev_state_name(v->state), v->sha256);
		put_clean(f, v->why);
		fputc('\n', f);
	}
	fprintf(f, "    %zu zone%s isolated now (緊急遮断)\n", r->iso.n, r->iso.n == 1 ? "" : "s");
	for (size_t i = 0; i < r->iso.n; i++) {
		local_time(r->iso.v[i].time * 1000000, t, sizeof(t));
		fprintf(f, "      %s since %s by uid %u: ", r->iso.v[i].zone, t, r->iso.v[i].uid);
		put_clean(f, r->iso.v[i].reason);
		fputc('\n', f);
	}
}

static void print_text(FILE *f, const struct seg_report *r)
{
	char a[64], b[64], g[64];

	local_time(r->since_us, a, sizeof(a));
	local_time(r->until_us, b, sizeof(b));
	local_time(r->generated_us, g, sizeof(g));
	fprintf(f, "segd self-inspection report / 自己点検報告\n");
	fprintf(f, "  configuration  %s\n  sha256         %s\n  period         %s — %s\n  generated      %s\n",
		r->config_file, *r->sha256 ? r->sha256 : "?", a, b, g);
	text_sync(f, r);
	text_model(f, r);
	if (r->cfg) {
		text_matrix(f, r);
		text_conduits(f, r);
		text_expiry(f, r);
	}
	text_incidents(f, r);
	text_loss(f, r);
	if (r->cfg)
		text_changes(f, r);
}

/* ---- JSON ---- */

static void json_u64(FILE *f, int *first, const char *k, uint64_t v)
{
	seg_json_key(f, first, k);
	fprintf(f, "%llu", (unsigned long long)v);
}

static void json_time(FILE *f, int *first, const char *k, int64_t us)
{
	char t[40];

	seg_time_format(us, t, sizeof(t));
	seg_json_key(f, first, k);
	seg_json_str(f, t);
}

static void json_section(FILE *f, int *first, enum seg_report_section s, int *inner)
{
	const struct seg_report_section_info *i = seg_report_section(s);

	seg_json_key(f, first, i->key);
	fputc('{', f);
	*inner = 1;
	seg_json_key(f, inner, "title");
	seg_json_str(f, i->title);
	seg_json_key(f, inner, "title_ja");
	seg_json_str(f, i->title_ja);
	seg_json_key(f, inner, "clauses");
	seg_json_str(f, i->clauses);
}

static void json_sync(FILE *f, int *first, const struct seg_report *r)
{
	int o;

	json_section(f, first, SEG_RS_SYNC, &o);
	seg_json_key(f, &o, "checked");
	fputs(r->cfg && !r->kernel_skipped && !r->verify_err ? "true" : "false", f);
	if (r->cfg && !r->kernel_skipped && r->verify_err) {
		seg_json_key(f, &o, "error");
		seg_json_str(f, strerror(-r->verify_err));
	}
	seg_json_key(f, &o, "in_sync");
	fputs(r->cfg && !r->kernel_skipped && !r->verify_err ? (r->diff.in_sync ? "true" : "false") : "null", f);
	seg_json_key(f, &o, "differences");
	fputc('[', f);
	for (size_t i = 0; r->cfg && !r->verify_err && i < r->diff.n_text; i++) {
		fputs(i ? "," : "", f);
		seg_json_str(f, r->diff.text[i]);
	}
	fputc(']', f);
	json_u64(f, &o, "more_differences", r->cfg && !r->verify_err ? r->diff.n_more : 0);
	fputc('}', f);
}

static void json_model(FILE *f, int *first, const struct seg_report *r)
{
	int o;

	json_section(f, first, SEG_RS_MODEL, &o);
	seg_json_key(f, &o, "valid");
	fputs(r->cfg ? "true" : "false", f);
	json_u64(f, &o, "errors", r->diags.n_errors);
	json_u64(f, &o, "warnings", r->diags.n_warnings);
	seg_json_key(f, &o, "diagnostics");
	fputc('[', f);
	for (size_t i = 0; i < r->diags.n; i++) {
		int d = 1;
		fputs(i ? ",{" : "{", f);
		json_u64(f, &d, "line", (uint64_t)r->diags.v[i].line);
		seg_json_key(f, &d, "severity");
		seg_json_str(f, seg_severity_name(r->diags.v[i].sev));
		seg_json_key(f, &d, "message");
		seg_json_str(f, r->diags.v[i].msg);
		seg_json_key(f, &d, "check");
		seg_json_str(f, seg_check_info((enum seg_check)r->diags.v[i].check) ?
			     seg_check_info((enum seg_check)r->diags.v[i].check)->id : "form");
		fputc('}', f);
	}
	fputc(']', f);
	seg_json_key(f, &o, "checks");
	fputc('[', f);
	for (int k = 0; k < SEG_CHECK_COUNT; k++) {
		const struct seg_check_info *ci = seg_check_info((enum seg_check)k);
		char state[48];
		int c = 1;
		fputs(k ? ",{" : "{", f);
		seg_json_key(f, &c, "id");
		seg_json_str(f, ci->id);
		seg_json_key(f, &c, "state");
		seg_json_str(f, seg_report_check_state(r, (enum seg_check)k, state, sizeof(state)));
		seg_json_key(f, &c, "clause");
		seg_json_str(f, ci->clause);
		seg_json_key(f, &c, "what");
		seg_json_str(f, ci->en);
		seg_json_key(f, &c, "what_ja");
		seg_json_str(f, ci->ja);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void json_cells(FILE *f, const struct seg_report *r)
{
	size_t nz = r->cfg->n_zones;

	fputc('[', f);
	for (size_t a = 0; a < nz; a++)
		for (size_t b = 0; b < seg_zone_count(r->cfg); b++) {
			int c = 1;
			fputs(a + b ? ",{" : "{", f);
			seg_json_key(f, &c, "from");
			seg_json_str(f, r->cfg->zones[a].name);
			seg_json_key(f, &c, "to");
			seg_json_str(f, r->cfg->zones[b].name);
			seg_json_key(f, &c, "state");
			seg_json_str(f, seg_report_cell_name(r->cells[a * nz + b]));
			json_u64(f, &c, "conduits", r->cell_open[a * nz + b]);
			fputc('}', f);
		}
	fputc(']', f);
}

static void json_matrix(FILE *f, int *first, const struct seg_report *r)
{
	int o;

	json_section(f, first, SEG_RS_MATRIX, &o);
	seg_json_key(f, &o, "zones");
	fputc('[', f);
	for (size_t a = 0; a < r->cfg->n_zones; a++) {
		int z = 1;
		fputs(a ? ",{" : "{", f);
		seg_json_key(f, &z, "name");
		seg_json_str(f, r->cfg->zones[a].name);
		seg_json_key(f, &z, "kind");
		seg_json_str(f, seg_zone_kind_name(r->cfg->zones[a].kind));
		seg_json_key(f, &z, "isolated");
		fputs(r->cfg->zones[a].isolated ? "true}" : "false}", f);
	}
	fputc(']', f);
	seg_json_key(f, &o, "cells");
	json_cells(f, r);
	fputc('}', f);
}

static void json_conduit(FILE *f, const struct seg_report *r, const struct seg_report_conduit *rc)
{
	const struct seg_conduit *c = &r->cfg->conduits[rc->index];
	int o = 1;

	fputc('{', f);
	seg_json_key(f, &o, "name");
	seg_json_str(f, c->name);
	seg_json_key(f, &o, "kind");
	seg_json_str(f, seg_conduit_kind_name(c->kind));
	seg_json_key(f, &o, "from");
	seg_json_str(f, r->cfg->zones[c->from].name);
	seg_json_key(f, &o, "to");
	seg_json_str(f, r->cfg->zones[c->to].name);
	seg_json_key(f, &o, "approval");
	seg_json_str(f, c->approval);
	seg_json_key(f, &o, "expires");
	seg_json_str(f, c->expires);
	seg_json_key(f, &o, "days_left");
	fprintf(f, "%lld", (long long)rc->days_left);
	seg_json_key(f, &o, "expired");
	fputs(rc->expired ? "true" : "false", f);
	seg_json_key(f, &o, "expires_soon");
	fputs(rc->soon ? "true" : "false", f);
	seg_json_key(f, &o, "installed");
	fputs(rc->installed ? "true" : "false", f);
	seg_json_key(f, &o, "hits_packets");
	rc->has_hits ? fprintf(f, "%llu", (unsigned long long)rc->packets) : fputs("null", f);
	seg_json_key(f, &o, "hits_bytes");
	rc->has_hits ? fprintf(f, "%llu", (unsigned long long)rc->bytes) : fputs("null", f);
	json_u64(f, &o, "line", (uint64_t)c->line);
	seg_json_key(f, &o, "comment");
	seg_json_str(f, c->comment);
	fputc('}', f);
}

static void json_conduits(FILE *f, int *first, const struct seg_report *r, enum seg_report_section s)
{
	int o;
	size_t n = 0;

	json_section(f, first, s, &o);
	if (s == SEG_RS_EXPIRY) {
		json_u64(f, &o, "expired", r->n_expired);
		json_u64(f, &o, "expiring_soon", r->n_soon);
		json_u64(f, &o, "soon_days", r->soon_days);
	}
	seg_json_key(f, &o, "conduits");
	fputc('[', f);
	for (size_t i = 0; i < r->n_conduits; i++) {
		if (s == SEG_RS_EXPIRY && !r->conduits[i].expired && !r->conduits[i].soon)
			continue;
		fputs(n++ ? "," : "", f);
		json_conduit(f, r, &r->conduits[i]);
	}
	fputs("]}", f);
}

static void json_pair(FILE *f, const struct seg_report_pair *p)
{
	int o = 1;

	fputc('{', f);
	seg_json_key(f, &o, "event");
	seg_json_str(f, p->event);
	seg_json_key(f, &o, "from");
	seg_json_str(f, *p->from ? p->from : NULL);
	seg_json_key(f, &o, "to");
	seg_json_str(f, *p->to ? p->to : NULL);
	json_u64(f, &o, "incidents", p->incidents);
	json_u64(f, &o, "packets", p->packets);
	json_u64(f, &o, "sources", p->sources);
	seg_json_key(f, &o, "kernel_packets");
	p->has_kernel ? fprintf(f, "%llu", (unsigned long long)p->kernel_packets) : fputs("null", f);
	seg_json_key(f, &o, "top_sources");
	fputc('[', f);
	for (size_t k = 0; k < p->n_top; k++) {
		int t = 1;
		fputs(k ? ",{" : "{", f);
		seg_json_key(f, &t, "address");
		seg_json_str(f, p->top[k].addr);
		json_u64(f, &t, "incidents", p->top[k].incidents);
		json_u64(f, &t, "packets", p->top[k].packets);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void json_days(FILE *f, const struct seg_report *r)
{
	static const char *const keys[SEG_REPORT_EV_COUNT] = { "flow-denied", "spoofed-source", "to-gateway",
								"other" };
	char day[16];

	fputc('[', f);
	for (size_t d = 0; d < r->n_days; d++) {
		int o = 1;
		segctl_report_day(r->days[d].day, day, sizeof(day));
		fputs(d ? ",{" : "{", f);
		seg_json_key(f, &o, "day");
		seg_json_str(f, day);
		for (int e = 0; e < SEG_REPORT_EV_COUNT; e++)
			json_u64(f, &o, keys[e], r->days[d].incidents[e]);
		json_u64(f, &o, "packets", r->days[d].packets);
		fputc('}', f);
	}
	fputc(']', f);
}

static void json_incidents(FILE *f, int *first, const struct seg_report *r)
{
	int o;

	json_section(f, first, SEG_RS_INCIDENTS, &o);
	seg_json_key(f, &o, "spool");
	seg_json_str(f, r->spool);
	if (r->spool_err) {
		seg_json_key(f, &o, "error");
		seg_json_str(f, strerror(-r->spool_err));
	}
	json_u64(f, &o, "unreadable_lines", r->spool_bad);
	json_u64(f, &o, "incidents", r->incidents);
	json_u64(f, &o, "packets", r->packets);
	seg_json_key(f, &o, "pairs");
	fputc('[', f);
	for (size_t i = 0; i < r->n_pairs; i++) {
		fputs(i ? "," : "", f);
		json_pair(f, &r->pairs[i]);
	}
	fputc(']', f);
	seg_json_key(f, &o, "per_day");
	json_days(f, r);
	fputc('}', f);
}

static void json_loss(FILE *f, int *first, const struct seg_report *r)
{
	const struct seg_report_loss *l = &r->loss;
	int o;

	json_section(f, first, SEG_RS_LOSS, &o);
	seg_json_key(f, &o, "available");
	fputs(l->available ? "true" : "false", f);
	if (!l->available) {
		seg_json_key(f, &o, "error");
		seg_json_str(f, l->error);
	} else {
		json_u64(f, &o, "packets_in_incidents", l->packets_in_incidents);
		json_u64(f, &o, "not_sampled", l->not_sampled);
		json_u64(f, &o, "seq_gaps", l->seq_gaps);
		json_u64(f, &o, "undecodable", l->undecodable);
		json_u64(f, &o, "socket_drops", l->socket_drops);
		json_u64(f, &o, "journal_sent", l->journal_sent);
		json_u64(f, &o, "journal_dropped", l->journal_dropped);
		json_u64(f, &o, "spool_lines", l->spool_lines);
		json_u64(f, &o, "spool_dropped", l->spool_dropped);
		seg_json_key(f, &o, "degraded");
		seg_json_str(f, l->degraded);
	}
	fputc('}', f);
}

static void json_changes(FILE *f, int *first, const struct seg_report *r)
{
	int o;

	json_section(f, first, SEG_RS_CHANGES, &o);
	json_u64(f, &o, "revisions_kept", r->revs_total);
	seg_json_key(f, &o, "revisions");
	fputc('[', f);
	for (size_t i = 0; i < r->n_revs; i++) {
		const struct seg_revision *v = &r->revs[i];
		int e = 1;
		fputs(i ? ",{" : "{", f);
		json_u64(f, &e, "number", v->number);
		json_time(f, &e, "time", v->time * 1000000);
		json_u64(f, &e, "uid", v->uid);
		seg_json_key(f, &e, "how");
		seg_json_str(f, v->how);
		seg_json_key(f, &e, "why");
		seg_json_str(f, v->why);
		seg_json_key(f, &e, "state");
		seg_json_str(f, seg_rev_state_name(v->state));
		seg_json_key(f, &e, "sha256");
		seg_json_str(f, v->sha256);
		fputc('}', f);
	}
	fputc(']', f);
	seg_json_key(f, &o, "isolated");
	fputc('[', f);
	for (size_t i = 0; i < r->iso.n; i++) {
		int e = 1;
		fputs(i ? ",{" : "{", f);
		seg_json_key(f, &e, "zone");
		seg_json_str(f, r->iso.v[i].zone);
		seg_json_key(f, &e, "reason");
		seg_json_str(f, r->iso.v[i].reason);
		json_u64(f, &e, "uid", r->iso.v[i].uid);
		json_time(f, &e, "since", r->iso.v[i].time * 1000000);
		fputc('}', f);
	}
	fputs("]}", f);
}

static void print_json(FILE *f, const struct seg_report *r)
{
	int first = 1, o;

	fputc('{', f);
	seg_json_key(f, &first, "config");
	seg_json_str(f, r->config_file);
	seg_json_key(f, &first, "sha256");
	seg_json_str(f, r->sha256);
	json_time(f, &first, "generated", r->generated_us);
	json_time(f, &first, "since", r->since_us);
	json_time(f, &first, "until", r->until_us);
	seg_json_key(f, &first, "sections");
	o = 1;
	fputc('{', f);
	json_sync(f, &o, r);
	json_model(f, &o, r);
	if (r->cfg) {
		json_matrix(f, &o, r);
		json_conduits(f, &o, r, SEG_RS_CONDUITS);
		json_conduits(f, &o, r, SEG_RS_EXPIRY);
	}
	json_incidents(f, &o, r);
	json_loss(f, &o, r);
	if (r->cfg)
		json_changes(f, &o, r);
	fputs("}}\n", f);
}

/* ---- the command ---- */

static int write_html(const char *path, const struct seg_report *r)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		fprintf(stderr, "segctl report: %s: %s — check the directory and its permissions\n", path,
			strerror(errno));
		return SEGCTL_ERROR;
	}
	segctl_report_html(r, f);
	if (fclose(f) != 0) {
		fprintf(stderr, "segctl report: %s: %s\n", path, strerror(errno));
		return SEGCTL_ERROR;
	}
	return SEGCTL_OK;
}

int cmd_report(struct segctl *s, int argc, char **argv)
{
	struct ropts o = { 0 };
	struct timespec ts;
	struct seg_report *r = NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	struct seg_report_opts ro = { .config = s->config ? s->config : SEG_DEFAULT_CONFIG,
				      .now_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000 };
	if (parse_args(argc, argv, &o) < 0)
		return segctl_usage(s, "report");
	if (period(&o, ro.now_us, &ro) < 0)
		return SEGCTL_ERROR;
	ro.spool = o.spool;
	ro.no_kernel = o.no_kernel;
	int e = seg_report_collect(&ro, &r);
	if (e < 0 && (!r || e == -ENOMEM)) {
		fprintf(stderr, "segctl report: %s: %s\n", ro.config, strerror(-e));
		seg_report_free(r);
		return SEGCTL_ERROR;
	}
	if (!r->cfg && r->load_err != -EINVAL) {
		fprintf(stderr, "segctl report: %s: %s — give the configuration with -c FILE\n", ro.config,
			strerror(-r->load_err));
		seg_report_free(r);
		return SEGCTL_ERROR;
	}
	ask_daemon(s, r);
	int rc = o.html ? write_html(o.html, r) : SEGCTL_OK;
	if (s->json)
		print_json(stdout, r);
	else if (!o.html)
		print_text(stdout, r);
	if (rc == SEGCTL_OK && (!r->cfg || (!r->kernel_skipped && !r->verify_err && !r->diff.in_sync)))
		rc = SEGCTL_NOT_OK;
	seg_report_free(r);
	return rc;
}
