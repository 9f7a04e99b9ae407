/* daemon.c - segd's event loop and what it does on each event. */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"
#include "admin.h"
#include "apply.h"
#include "config.h"
#include "ctlsrv.h"
#include "daemon.h"
#include "floor.h"
#include "incident.h"
#include "json.h"
#include "links.h"
#include "loop.h"
#include "nflog.h"
#include "nftmon.h"
#include "sha256.h"
#include "stats.h"
#include "watch.h"
#include "writer.h"

#define WATCH_BUFFER    (8u << 20)   /* no NFLOG records lost up to ~600 kpps (testing-recipes) */
#define WRITER_QUEUE    4096   /* per lane: about one incident window at the journal bound (docs/incidents.md); keeps RSS under 16 MiB with journald stalled */
#define RETRY_WATCH_S   5
#define EXIT_NOT_OK     1
#define EXIT_ERROR      2

struct segd {
	const char *path;
	struct segd_gen *gen;
	char hash[SEG_SHA256_HEX];
	bool floor_written;            /* the floor holds the plan in force (follow_floor) */
	bool unheard;                  /* another commit came during segd's own (apply_unheard) */
	struct seg_loop *loop;
	struct seg_writer *w;
	struct seg_watch *watch;
	struct seg_incidents *inc;
	struct seg_nftmon *mon;
	struct mnl_socket *links;      /* link changes (RTM_NEWLINK), links.h */
	char *links_said;              /* what the last interface check found, to say only news */
	struct seg_ctlsrv *ctl;
	struct segd_admin *admin;      /* revisions, confirm timer, isolation (admin.h) */
	struct seg_nft_conn *nft;      /* every transaction of segd; may own the table */
	int sigfd, tickfd, wdfd, incfd, lockfd;
	bool stop;
	char degraded[512];            /* "" when every part works */
	uint64_t reloads, reload_failures, tampers, restores, watch_errors;
	time_t started, applied, last_watch_try;
	int64_t applied_day;           /* seg_today() when the running rules were compiled */
};

static int64_t now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- logging: what apply.c writes to a FILE goes to the journal, line by line ---- */

/* text is left as it was: a reload also sends it to segctl. */
static void forward_lines(struct segd *d, const char *text, const char *event, int base_prio)
{
	char *copy = strdup(text), *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "segd: ", 6) == 0)
			line += 6;
		int prio = strstr(line, ": error: ") ? 3 : strstr(line, ": warning: ") ? 4 : base_prio;
		seg_writer_log(d->w, prio, event, NULL, "%s", line);
	}
	free(copy);
}

struct capture {
	FILE *f;
	char *buf;
	size_t len;
};

static FILE *capture_begin(struct capture *c)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	return c->f ? c->f : stderr;
}

/* Returns the captured text (caller frees), "" when nothing was captured. */
static char *capture_end(struct capture *c)
{
	if (!c->f)
		return strdup("");
	fclose(c->f);
	return c->buf ? c->buf : strdup("");
}

/* ---- sd_notify ---- */

static void notify_status(struct segd *d)
{
	const struct seg_plan_counts *c = &d->gen->plan->counts;

	sd_notifyf(0, "STATUS=enforcing table inet %s: %zu zones, %zu conduits installed%s%s",
		   d->gen->plan->table, seg_zone_count(d->gen->cfg), c->conduits_installed,
		   d->degraded[0] ? "; DEGRADED: " : "", d->degraded);
}

/* ---- applying ---- */

/* The boot floor follows every ruleset the kernel accepted, so that the next
 * boot enforces it before segd runs (docs/reliability.md). */
static void write_floor(struct segd *d)
{
	const char *dir = d->gen->cfg->settings.state_dir;
	int r = segd_floor_write(d->gen->plan, dir);

	if (r < 0)
		seg_writer_log(d->w, 4, NULL, NULL, "cannot write the boot floor '%s/%s': %s — until it is "
			       "written, the next boot enforces the previous floor or the static one until segd "
			       "starts", dir, SEGD_FLOOR_FILE, strerror(-r));
}

/* g runs now; sha is of the bytes it was parsed from (the file may have
 * changed since it was read). */
static void set_running(struct segd *d, struct segd_gen *g, const char *sha)
{
	if (g != d->gen) {
		segd_gen_free(d->gen);
		d->gen = g;
	}
	memcpy(d->hash, sha, sizeof(d->hash));
	d->applied = time(NULL);
	d->applied_day = seg_today();
}

/* The floor is a rendering of the plan in force: rewritten when the kernel's
 * table changed (an unchanged re-apply leaves it as it is). Written after
 * READY=1: the rules are in force at the commit, the floor is for the next
 * boot. */
static void follow_floor(struct segd *d)
{
	if (!d->floor_written || !d->gen->stats.unchanged)
		write_floor(d);
	d->floor_written = true;
}

static void check_links(struct segd *d, bool quiet);
static void tamper_once(struct segd *d, const char *what, const char *who, int lost);

/* Applies g with the tamper monitor out of the event group: the kernel
 * builds one event per changed element for every listener, which for
 * segd's own 161,509-element install cost 1.2-2 s of a 2.2 s commit (the
 * commit itself: 0.3 s) and overflowed the monitor anyway. What the monitor
 * did not hear is told by the generation: it moves by one for segd's own
 * commit; any more, and another process committed meanwhile. That is
 * answered by hear_unheard() once g runs (not here: a reload's new
 * generation is not the running one yet, and comparing with the old would
 * put the old rules back). */
static int apply_unheard(struct segd *d, struct segd_gen *g, FILE *log)
{
	uint32_t g0 = 0, g1 = 0;
	bool deaf = d->mon && seg_nftmon_listen(d->mon, false) == 0;
	bool known = deaf && seg_nft_generation(&g0) == 0;
	int r = segd_gen_apply(g, d->gen, log);

	if (!deaf)
		return r;
	if (seg_nftmon_listen(d->mon, true) < 0)
		seg_writer_log(d->w, 3, NULL, NULL, "the tamper monitor could not join the nftables event group "
			       "again: %s — changes by other processes are not detected until segd restarts",
			       strerror(errno));
	uint32_t ours = r == 0 && !g->stats.unchanged, want = g0 + ours ? g0 + ours : 1;
	if (known && seg_nft_generation(&g1) == 0 && g1 == want) {
		seg_nftmon_accounted(d->mon, g1);
		return r;
	}
	/* the generation counts every table's commits: this one, or another
	 * program's own table (the comparison says which) */
	seg_writer_log(d->w, 5, NULL, NULL, "another process committed to nftables while segd applied "
		       "(generation %u -> %u, segd's own commits: %u): comparing table inet %s with the approved "
		       "ruleset", g0, g1, ours, g->plan->table);
	d->unheard = true;
	return r;
}

/* The comparison apply_unheard asked for, against the rules that run now
 * (a restore by difference: nothing sent, nothing changed). Once: the
 * comparison's own apply may ask again, and is answered the next time. */
static void hear_unheard(struct segd *d)
{
	if (!d->unheard)
		return;
	d->unheard = false;
	tamper_once(d, "changes committed while segd applied its own were not heard", "unknown", 1);
}

/* Loads, compiles and installs src (the configuration file, or a revision's
 * content); on success it becomes the running generation and a revision.
 * *report receives every line written (caller frees). */
static int reload_from(struct segd *d, const char *src, const struct segd_change *ch, char **report)
{
	struct capture cap;
	FILE *log = capture_begin(&cap);
	struct segd_candidate c = { 0 };

	sd_notify(0, "RELOADING=1");
	int r = segd_admin_load(d->admin, src, log, &c);
	if (r == 0)
		r = apply_unheard(d, c.gen, log);
	char *text = capture_end(&cap);
	if (r == 0) {
		struct segd_gen *g = c.gen;
		set_running(d, g, c.sha);
		if (d->links)
			check_links(d, true);   /* the load said what it found */
		d->reloads++;
		forward_lines(d, text, NULL, 6);
		const char *f[] = { "SEGD_CONFIG_SHA256=", NULL };
		char hashf[96];
		snprintf(hashf, sizeof(hashf), "SEGD_CONFIG_SHA256=%s", d->hash);
		f[0] = hashf;
		seg_writer_log(d->w, 5, "reload", f, "reloaded '%s' (%s): sha256 %s, generation %u",
			       src, ch->why, d->hash, g->stats.gen_after);
		segd_admin_applied(d->admin, &c, ch);
		c.gen = NULL;   /* running now */
	} else {
		d->reload_failures++;
		forward_lines(d, text, "reload-failed", 3);
		seg_writer_log(d->w, 3, "reload-failed", NULL, "reload of '%s' (%s) failed: %s; the rules of "
			       "'%s' (sha256 %s) stay in force", src, ch->why,
			       r == -EINVAL ? "the configuration is invalid" : strerror(-r),
			       d->gen->cfg->file, d->hash);
		segd_admin_failed(d->admin, ch, r);
	}
	segd_candidate_clear(&c);
	sd_notify(0, "READY=1");
	notify_status(d);
	if (r == 0)
		follow_floor(d);
	hear_unheard(d);
	if (report)
		*report = text;
	else
		free(text);
	return r;
}

/* Installs the running generation, its report to the journal; a failure is
 * logged as fail_event. */
static int apply_logged(struct segd *d, const char *fail_event)
{
	struct capture cap;
	FILE *log = capture_begin(&cap);
	int r = apply_unheard(d, d->gen, log);
	char *text = capture_end(&cap);

	forward_lines(d, text, r < 0 ? fail_event : NULL, r < 0 ? 2 : 6);
	free(text);
	hear_unheard(d);
	return r;
}

/* Re-installs the running generation (tamper restore, expiry). */
static int reinstall(struct segd *d, const char *why)
{
	int r = apply_logged(d, "restore-failed");

	if (r < 0)
		seg_writer_log(d->w, 2, "restore-failed", NULL, "could not re-install table inet %s (%s): %s",
			       d->gen->plan->table, why, strerror(-r));
	return r;
}

/* ---- incidents ---- */

static void ifname(uint32_t idx, char buf[IF_NAMESIZE])
{
	if (idx == 0 || !if_indextoname(idx, buf))
		buf[0] = '\0';
}

static void emit_incident(const struct seg_incident *inc, void *ctx)
{
	struct segd *d = ctx;
	char in[IF_NAMESIZE], out[IF_NAMESIZE], *line = NULL;
	struct seg_journal_entry *je = NULL;
	size_t len = 0;

	ifname(inc->in_ifindex, in);
	ifname(inc->out_ifindex, out);
	if (seg_incident_journal(inc, in[0] ? in : NULL, out[0] ? out : NULL, &je) < 0)
		je = NULL;
	if (seg_incident_json(inc, in[0] ? in : NULL, out[0] ? out : NULL, &line, &len) < 0)
		line = NULL;
	seg_writer_submit(d->w, je, line, len);
}

static void arm_incident_timer(struct segd *d)
{
	int64_t when;

	if (!seg_incidents_next_deadline(d->inc, &when)) {
		seg_timer_set(d->incfd, 3600 * 1000, 0);
		return;
	}
	int64_t left = when - now_us(CLOCK_MONOTONIC);
	seg_timer_set(d->incfd, left > 0 ? (uint64_t)(left + 999) / 1000 : 0, 0);
}

static void on_record(const uint8_t *rec, size_t caplen, size_t len, void *ctx)
{
	struct segd *d = ctx;
	struct seg_nflog_rec r;
	(void)len;

	enum seg_nflog_status st = seg_nflog_decode(rec, caplen, &r);
	seg_incidents_add(d->inc, &r, st, d->gen->cfg, now_us(CLOCK_REALTIME), now_us(CLOCK_MONOTONIC));
}

static void on_watch(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd *d = ctx;
	(void)l;
	(void)fd;
	(void)ev;

	if (seg_watch_dispatch(d->watch) < 0)
		d->watch_errors++;
	arm_incident_timer(d);
}

static void on_incident_timer(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd *d = ctx;
	(void)l;
	(void)ev;

	seg_timer_ack(fd);
	seg_incidents_expire(d->inc, now_us(CLOCK_MONOTONIC), emit_incident, d);
	arm_incident_timer(d);
}

/* Opens nflog:<group> and asks the kernel to number its records, so that every
 * record lost between the kernel and us is counted. */
static int open_watch(struct segd *d)
{
	char err[256] = "";
	uint8_t msg[256];
	uint16_t group = d->gen->plan->log_group;
	int r = seg_watch_open(group, WATCH_BUFFER, on_record, d, &d->watch, err, sizeof(err));

	d->last_watch_try = time(NULL);
	if (r < 0) {
		snprintf(d->degraded, sizeof(d->degraded), "NFLOG group %u cannot be watched (%s): denied "
			 "packets are still dropped and counted by the kernel, but no incidents are logged — "
			 "stop the other listener on the group (ulogd, tcpdump) or choose another log_group",
			 group, err);
		return r;
	}
	int n = seg_nflog_build_config(group, NULL, 1, msg, sizeof(msg));
	if (n > 0)
		send(seg_watch_fd(d->watch), msg, (size_t)n, 0);
	seg_incidents_seq_restart(d->inc);
	if ((r = seg_loop_add(d->loop, seg_watch_fd(d->watch), EPOLLIN, on_watch, d)) < 0)
		return r;
	d->degraded[0] = '\0';
	return 0;
}

/* ---- tamper ---- */

static void spool_event(struct segd *d, const char *event, int prio, const char *msg,
			const char *what, const char *who)
{
	char *line = NULL, t[40];
	size_t len = 0;
	int first = 1;
	FILE *f = open_memstream(&line, &len);

	if (!f)
		return;
	seg_time_format(now_us(CLOCK_REALTIME), t, sizeof(t));
	fputc('{', f);
	seg_json_key(f, &first, "event");
	seg_json_str(f, event);
	seg_json_key(f, &first, "priority");
	fprintf(f, "%d", prio);
	seg_json_key(f, &first, "message");
	seg_json_str(f, msg);
	seg_json_key(f, &first, "first");
	seg_json_str(f, t);
	seg_json_key(f, &first, "last");
	seg_json_str(f, t);
	seg_json_key(f, &first, "what");
	seg_json_str(f, what);
	seg_json_key(f, &first, "by");
	seg_json_str(f, who);
	fputs("}\n", f);
	fclose(f);
	seg_writer_submit(d->w, NULL, line, len);
}

static void tamper_once(struct segd *d, const char *what, const char *who, int lost)
{
	char msg[1400], whatf[1100], whof[128];
	const char *extra[] = { whatf, whof, NULL };
	int64_t t0 = now_us(CLOCK_MONOTONIC);
	uint32_t gen;

	/* segd's own 100,000-element install overflows the event socket every
	 * time: when nobody has committed since that commit, there is nothing
	 * to compare (a full read of the table would cost ~170 ms). */
	if (lost && seg_nft_conn_still_ours(d->nft, &gen)) {
		seg_writer_log(d->w, 6, NULL, NULL, "nftables change events were lost (%s); no process has "
			       "committed since segd's own last transaction (generation %u): table inet %s is as "
			       "segd installed it", what, gen, d->gen->plan->table);
		return;
	}
	/* Undo first, tell afterwards. The restore is by difference, so it is
	 * the comparison as well: when the events were lost (the socket
	 * overflowed; segd's own 100,000-element install does that) and nothing
	 * had to be sent, nobody changed anything and nobody is called a
	 * tamperer. */
	struct capture cap;
	FILE *log = capture_begin(&cap);
	int r = apply_unheard(d, d->gen, log);
	char *text = capture_end(&cap);
	double ms = (double)(now_us(CLOCK_MONOTONIC) - t0) / 1e3;

	if (lost && r == 0 && d->gen->stats.unchanged) {
		seg_writer_log(d->w, 6, NULL, NULL, "nftables change events were lost (%s); table inet %s "
			       "was compared with the approved ruleset and is in sync", what, d->gen->plan->table);
		free(text);
		return;
	}
	d->tampers++;
	snprintf(msg, sizeof(msg), "tamper: table inet %s was changed by %s: %s — %s", d->gen->plan->table, who,
		 what, r == 0 ? "the approved ruleset was restored" : "restoring the approved ruleset failed");
	snprintf(whatf, sizeof(whatf), "SEGD_CHANGE=%s", what);
	snprintf(whof, sizeof(whof), "SEGD_BY=%s", who);
	seg_writer_log(d->w, lost ? 3 : 2, "tamper", extra, "%s", msg);
	spool_event(d, "tamper", 2, msg, what, who);
	forward_lines(d, text, r < 0 ? "restore-failed" : NULL, r < 0 ? 2 : 6);
	free(text);
	if (r < 0) {
		seg_writer_log(d->w, 2, "restore-failed", NULL, "could not re-install table inet %s (tamper): %s",
			       d->gen->plan->table, strerror(-r));
		return;
	}
	d->restores++;
	seg_writer_log(d->w, 5, "restored", NULL, "restored table inet %s (sha256 %s), %.1f ms after the change "
		       "was seen", d->gen->plan->table, d->hash, ms);
}

/* The monitor's report: undone, then told; and what the restore's own
 * apply did not hear, answered once more. */
static void on_tamper(const char *what, const char *who, int lost, void *ctx)
{
	struct segd *d = ctx;

	tamper_once(d, what, who, lost);
	hear_unheard(d);
}

/* ---- the zones' interfaces, when links change ---- */

/* Judges the zone interfaces against the live links; says in the journal
 * (event "interface") what changed since the last time: an interface
 * joined to another zone's is critical (the rules stay as they are, but the
 * packets of one zone may arrive as another's), a missing one a warning. */
static void check_links(struct segd *d, bool quiet)
{
	struct seg_diags dg;
	char *text = NULL;
	size_t len = 0;

	seg_diags_init(&dg, d->gen->cfg->file);
	if (seg_links_check_live(d->gen->cfg, &dg) < 0) {
		seg_diags_free(&dg);
		return;
	}
	FILE *f = open_memstream(&text, &len);
	if (f) {
		seg_diags_print(&dg, f);
		fclose(f);
	}
	if (text && (!d->links_said || strcmp(text, d->links_said) != 0)) {
		for (size_t i = 0; !quiet && i < dg.n; i++)
			seg_writer_log(d->w, dg.v[i].sev == SEG_SEV_ERROR ? 2 : 4, "interface", NULL, "%s:%d: %s: %s%s",
				       dg.file, dg.v[i].line, seg_severity_name(dg.v[i].sev), dg.v[i].msg,
				       dg.v[i].sev == SEG_SEV_ERROR ? " (seen while segd runs: the rules in force are "
				       "unchanged; correct the interfaces or the configuration and reload)" : "");
		if (!quiet && dg.n == 0)
			seg_writer_log(d->w, 5, "interface", NULL, "the zones' interfaces are as the configuration "
				       "says again");
		free(d->links_said);
		d->links_said = text;
		text = NULL;
	}
	free(text);
	seg_diags_free(&dg);
}

static void on_links(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd *d = ctx;
	(void)l;
	(void)fd;
	(void)ev;

	if (seg_links_monitor_drain(d->links) != 0)
		check_links(d, false);
}

static void on_mon(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd *d = ctx;
	(void)l;
	(void)fd;
	(void)ev;

	seg_nftmon_dispatch(d->mon);
}

/* ---- expiry ---- */

/* Once a day: conduits that expired since the last compile are taken out
 * (re-validated and re-compiled from the running configuration, not from a
 * file that may have changed since), and warnings 30 and 7 days ahead. */
static void check_expiry(struct segd *d)
{
	int64_t today = seg_today();
	struct seg_config *cfg = d->gen->cfg;
	bool expired_now = false;

	if (today == d->applied_day)
		return;
	for (size_t i = 0; i < cfg->n_conduits; i++) {
		struct seg_conduit *c = &cfg->conduits[i];
		int64_t left = c->expires_day - today;
		if (!c->expired && left < 0) {
			expired_now = true;
			const char *f[] = { NULL, NULL };
			char cf[64];
			snprintf(cf, sizeof(cf), "SEGD_CONDUIT=%s", c->name);
			f[0] = cf;
			seg_writer_log(d->w, 4, "conduit-expired", f, "conduit '%s' (%s -> %s, approval %s) expired on "
				       "%s; it is removed from the kernel", c->name, cfg->zones[c->from].name,
				       cfg->zones[c->to].name, c->approval, c->expires);
		} else if (!c->expired && (left == 30 || left == 7)) {
			seg_writer_log(d->w, 4, "conduit-expiring", NULL, "conduit '%s' (approval %s) expires on "
				       "%s, in %lld days — renew its approval in time", c->name, c->approval,
				       c->expires, (long long)left);
		}
	}
	d->applied_day = today;
	if (!expired_now)
		return;
	struct seg_diags diags;
	struct seg_plan *plan = NULL;
	seg_diags_init(&diags, cfg->file);
	seg_config_validate(cfg, today, &diags);
	seg_diags_free(&diags);
	if (seg_plan_compile(cfg, &d->gen->map, &plan) == 0) {
		seg_plan_free(d->gen->plan);
		d->gen->plan = plan;
		if (reinstall(d, "conduit expiry") == 0)
			write_floor(d);
	}
}

/* ---- control ---- */

static void status_kv(struct segd *d, struct seg_kvlist *r)
{
	const struct seg_plan_counts *c = &d->gen->plan->counts;
	struct seg_incident_totals t;
	struct seg_writer_stats ws;
	uint32_t gen = 0;

	seg_incidents_totals(d->inc, &t);
	seg_writer_get_stats(d->w, &ws);
	seg_nft_generation(&gen);
	seg_kv_addf(r, "pid", "%d", (int)getpid());
	seg_kv_add(r, "config", d->path);
	seg_kv_add(r, "sha256", d->hash);
	/* after a rollback, a revert or an edit not yet reloaded, the file on
	 * disk is not what runs: say so, an administrator would assume it is */
	char on_disk[SEG_SHA256_HEX];
	if (seg_sha256_file(d->path, on_disk) < 0)
		snprintf(on_disk, sizeof(on_disk), "unreadable");
	seg_kv_add(r, "config_file_sha256", on_disk);
	seg_kv_add(r, "config_file_changed", strcmp(on_disk, d->hash) ? "yes" : "no");
	seg_kv_add(r, "table", d->gen->plan->table);
	seg_kv_add(r, "table_owner", seg_nft_conn_owns(d->nft) ? "yes" : "no");
	seg_kv_addf(r, "applied", "%lld", (long long)d->applied);
	seg_kv_addf(r, "started", "%lld", (long long)d->started);
	seg_kv_addf(r, "generation_applied", "%u", d->gen->stats.gen_after);
	seg_kv_addf(r, "generation_kernel", "%u", gen);
	/* the tamper monitor has judged every commit up to this one: a test (or
	 * an operator) can tell that a change of theirs has been looked at */
	seg_kv_addf(r, "generation_judged", "%u", seg_nftmon_generation(d->mon));
	/* "rules in sync": the live table compared element by element with the
	 * running plan (about 10 ms at 10,000 elements, 0.5 s at 100,000) */
	struct seg_nft_diff diff;
	if (seg_nft_verify(d->gen->plan, &diff) == 0)
		seg_nft_diff_to_kv(&diff, r);
	else
		seg_kv_add(r, "in_sync", "unknown");
	seg_kv_addf(r, "zones", "%zu", seg_zone_count(d->gen->cfg));
	seg_kv_addf(r, "conduits_installed", "%zu", c->conduits_installed);
	seg_kv_addf(r, "conduits_expired", "%zu", c->conduits_expired);
	seg_kv_addf(r, "elements", "%zu", c->elems);
	seg_kv_add(r, "degraded", d->degraded);
	seg_kv_addf(r, "reloads", "%llu", (unsigned long long)d->reloads);
	seg_kv_addf(r, "reload_failures", "%llu", (unsigned long long)d->reload_failures);
	seg_kv_addf(r, "tampers", "%llu", (unsigned long long)d->tampers);
	seg_kv_addf(r, "restores", "%llu", (unsigned long long)d->restores);
	seg_kv_addf(r, "records", "%llu", (unsigned long long)t.records);
	seg_kv_addf(r, "packets_in_incidents", "%llu", (unsigned long long)t.packets);
	seg_kv_addf(r, "not_sampled", "%llu", (unsigned long long)t.not_sampled);
	seg_kv_addf(r, "seq_gaps", "%llu", (unsigned long long)t.seq_gaps);
	seg_kv_addf(r, "undecodable", "%llu", (unsigned long long)t.undecodable);
	seg_kv_addf(r, "incidents_emitted", "%llu", (unsigned long long)t.emitted);
	seg_kv_addf(r, "incidents_open", "%llu", (unsigned long long)t.open);
	seg_kv_addf(r, "socket_drops", "%llu",
		    (unsigned long long)(d->watch ? seg_watch_socket_drops(d->watch) : 0));
	seg_kv_addf(r, "journal_sent", "%llu", (unsigned long long)ws.sent);
	seg_kv_addf(r, "journal_dropped", "%llu", (unsigned long long)ws.dropped);
	seg_kv_addf(r, "journal_pending", "%zu", ws.pending);
	seg_kv_addf(r, "spool_lines", "%llu", (unsigned long long)ws.spool.lines);
	seg_kv_addf(r, "spool_dropped", "%llu", (unsigned long long)ws.spool.dropped);
	seg_kv_add(r, "spool_error", ws.spool.error ? strerror(-ws.spool.error) : "");
	segd_admin_status(d->admin, r);
}

static void reply_reload(struct segd *d, const struct ucred *cred, const struct seg_kvlist *req,
			 struct seg_kvlist *resp)
{
	char why[64], *report = NULL, *save = NULL, *end = NULL;
	struct segd_change ch = { .how = "reload", .uid = cred->uid, .why = why };
	const char *confirm = seg_kv_get(req, "confirm");

	snprintf(why, sizeof(why), "segctl reload by uid %u", (unsigned)cred->uid);
	if (confirm) {
		unsigned long s = strtoul(confirm, &end, 10);
		if (!*confirm || *end || s == 0 || s > UINT32_MAX) {
			seg_ctl_error(resp, 2, "confirm: '%s' is not a number of seconds", confirm);
			return;
		}
		ch.confirm_s = (unsigned)s;
	}
	if (!segd_admin_may_change(d->admin, &ch, resp))
		return;
	int r = reload_from(d, d->path, &ch, &report);
	if (r == 0)
		seg_ctl_ok(resp);
	else
		seg_ctl_error(resp, r == -EINVAL ? 1 : 2, "reload failed: %s; the running rules stay in force",
			      r == -EINVAL ? "the configuration is invalid" : strerror(-r));
	for (char *line = strtok_r(report, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		seg_kv_add(resp, "line", line);
	seg_kv_add(resp, "sha256", d->hash);
	segd_admin_status(d->admin, resp);
	free(report);
}

/* Packets and bytes per drop rule and per conduit, from the kernel's counters. */
static void reply_stats(struct segd *d, struct seg_kvlist *resp)
{
	struct seg_counters *c = NULL;
	int r = seg_nft_counters(d->gen->plan, &c);

	if (r < 0) {
		seg_ctl_error(resp, 2, "cannot read the counters of table inet %s: %s", d->gen->plan->table,
			      strerror(-r));
		return;
	}
	seg_ctl_ok(resp);
	seg_counters_to_kv(c, resp);
	seg_counters_free(c);
}

/* The live table compared with the running generation's plan. */
static void reply_verify(struct segd *d, struct seg_kvlist *resp)
{
	struct seg_nft_diff diff;
	int r = seg_nft_verify(d->gen->plan, &diff);

	if (r < 0) {
		seg_ctl_error(resp, 2, "cannot compare table inet %s with the running configuration: %s",
			      d->gen->plan->table, strerror(-r));
		return;
	}
	seg_ctl_ok(resp);
	seg_nft_diff_to_kv(&diff, resp);
}

static void on_request(void *ctx, const struct ucred *cred, const struct seg_kvlist *req,
		       struct seg_kvlist *resp)
{
	struct segd *d = ctx;
	const char *cmd = seg_kv_get(req, "cmd");

	if (strcmp(cmd, "status") == 0) {
		seg_ctl_ok(resp);
		status_kv(d, resp);
	} else if (strcmp(cmd, "reload") == 0) {
		reply_reload(d, cred, req, resp);
	} else if (strcmp(cmd, "stats") == 0) {
		reply_stats(d, resp);
	} else if (strcmp(cmd, "verify") == 0) {
		reply_verify(d, resp);
	} else if (strcmp(cmd, "ping") == 0) {
		seg_ctl_ok(resp);
	} else if (segd_admin_request(d->admin, cred, req, resp)) {
		/* revisions, confirm, rollback, isolate, release */
	} else {
		seg_ctl_error(resp, 2, "unknown command '%s'", cmd);
	}
}

/* ---- signals and timers ---- */

static void on_signal(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd *d = ctx;
	struct signalfd_siginfo si;
	(void)l;
	(void)ev;

	while (read(fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			struct segd_change ch = { .how = "sighup", .why = "SIGHUP" };
			if (segd_admin_may_change(d->admin, &ch, NULL))
				reload_from(d, d->path, &ch, NULL);
		} else
			d->stop = true;
	}
}

static void on_tick(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd *d = ctx;
	(void)l;
	(void)ev;

	seg_timer_ack(fd);
	seg_ctlsrv_sweep(d->ctl);
	check_expiry(d);
	if (!d->watch && time(NULL) - d->last_watch_try >= RETRY_WATCH_S) {
		seg_watch_close(d->watch);
		d->watch = NULL;
		if (open_watch(d) == 0) {
			seg_writer_log(d->w, 5, "watch-ok", NULL, "NFLOG group %u is watched again; incidents are "
				       "logged", d->gen->plan->log_group);
			notify_status(d);
		}
	}
}

static void on_watchdog(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	(void)l;
	(void)ev;
	(void)ctx;
	seg_timer_ack(fd);
	sd_notify(0, "WATCHDOG=1");
}

/* ---- start and stop ---- */

/* One segd per table and network namespace: an abstract socket name is
 * released by the kernel when its holder dies, even by SIGKILL. */
static int take_lock(const char *table)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "segd/table/%s", table);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void make_parent_dir(const char *path)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;

	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0750);
	}
	free(dir);
}

static const int handled_signals[] = { SIGHUP, SIGTERM, SIGINT };

/* Where the kernel has NFT_TABLE_F_PERSIST (6.9+), segd owns its table: no
 * other process can change it while segd runs, and it stays when segd
 * exits. Elsewhere (or with SEGD_TABLE_OWNER=no) detection and restore are
 * the defence. Owner without persist would fail open: never. */
static int open_nft(struct segd *d)
{
	const char *env = getenv("SEGD_TABLE_OWNER");
	bool want = !env || strcmp(env, "no") != 0;
	int persist = want ? seg_nft_probe_persist() : 0;
	int r = seg_nft_conn_open(persist == 1, &d->nft);

	if (r < 0)
		return r;
	segd_apply_use(d->nft);
	if (persist != 1)
		seg_writer_log(d->w, 5, NULL, NULL, "table inet %s is not owned by segd (%s): changes by other "
			       "processes are detected and undone", d->gen->plan->table,
			       !want ? "SEGD_TABLE_OWNER=no" : persist == 0 ? "the kernel has no table persist "
			       "flag; it needs Linux 6.9" : "the persist flag could not be probed");
	return 0;
}

static int start_parts(struct segd *d)
{
	uint64_t wd_usec = 0, seed = 0;
	int r;

	if ((r = open_nft(d)) < 0)
		return r;
	if ((r = seg_loop_new(&d->loop)) < 0 || (d->sigfd = seg_signalfd_new(handled_signals, 3)) < 0 ||
	    (d->tickfd = seg_timer_new(1000, 1)) < 0 || (d->incfd = seg_timer_new(3600 * 1000, 0)) < 0)
		return r < 0 ? r : -errno;
	seg_loop_add(d->loop, d->sigfd, EPOLLIN, on_signal, d);
	seg_loop_add(d->loop, d->tickfd, EPOLLIN, on_tick, d);
	seg_loop_add(d->loop, d->incfd, EPOLLIN, on_incident_timer, d);
	if (sd_watchdog_enabled(0, &wd_usec) > 0 && (d->wdfd = seg_timer_new(wd_usec / 2000, 1)) >= 0)
		seg_loop_add(d->loop, d->wdfd, EPOLLIN, on_watchdog, d);
	if ((r = seg_nftmon_open(d->gen->plan->table, on_tamper, d, &d->mon)) < 0)
		return r;
	seg_nftmon_own(d->mon, d->nft);
	seg_loop_add(d->loop, seg_nftmon_fd(d->mon), EPOLLIN, on_mon, d);
	/* the load judged the interfaces and said so: only changes are news */
	if ((d->links = seg_links_monitor_open())) {
		check_links(d, true);
		seg_loop_add(d->loop, seg_links_monitor_fd(d->links), EPOLLIN, on_links, d);
	} else {
		seg_writer_log(d->w, 4, "interface", NULL, "cannot watch link changes: %s — interfaces that appear "
			       "later are judged only at the next reload", strerror(errno));
	}
	uint64_t last = 0;
	seg_spool_last_id(d->gen->cfg->settings.spool, &last);
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)now_us(CLOCK_MONOTONIC);
	struct seg_incidents_opts o = { .window_s = d->gen->cfg->settings.incident_window, .hash_seed = seed,
					.first_id = seg_incident_next_id(last, now_us(CLOCK_REALTIME)) };
	return seg_incidents_new(&o, &d->inc);
}

static void open_control(struct segd *d)
{
	const struct seg_settings *s = &d->gen->cfg->settings;

	make_parent_dir(s->control_socket);
	int r = seg_ctlsrv_open(d->loop, s->control_socket, s->control_group, on_request, d, &d->ctl);
	if (r < 0)
		seg_writer_log(d->w, 3, NULL, NULL, "cannot open the control socket '%s': %s — segctl status "
			       "and reload will not work; SIGHUP still reloads", s->control_socket, strerror(-r));
}

/* ready: READY=1 was sent; a segd that never started says nothing of stopping. */
static void shut_down(struct segd *d, bool ready)
{
	if (ready)
		sd_notify(0, "STOPPING=1");
	if (d->inc)
		seg_incidents_flush(d->inc, emit_incident, d);
	if (ready)
		seg_writer_log(d->w, 5, NULL, NULL, "stopping; table inet %s stays in the kernel and keeps "
			       "enforcing (fail closed)", d->gen->plan->table);
	seg_ctlsrv_close(d->ctl);
	segd_admin_free(d->admin);
	seg_watch_close(d->watch);
	seg_nftmon_close(d->mon);
	seg_links_monitor_close(d->links);
	free(d->links_said);
	seg_incidents_free(d->inc);
	seg_writer_stop(d->w, 2000);
	seg_loop_free(d->loop);
	segd_apply_use(NULL);
	seg_nft_conn_close(d->nft);   /* an owned table stays: it has persist */
	for (int *fd = &d->sigfd; fd <= &d->lockfd; fd++)
		if (*fd >= 0)
			close(*fd);
	segd_gen_free(d->gen);
}

static int first_apply(struct segd *d, const struct segd_candidate *start)
{
	int r = apply_logged(d, "apply-failed");

	if (r == 0) {
		set_running(d, d->gen, start->sha);
		follow_floor(d);
	}
	return r;
}

/* ---- admin.c's way back in ---- */

static int op_apply(void *ctx, const char *src, const struct segd_change *ch, char **report)
{
	return reload_from(ctx, src, ch, report);
}

static int op_reinstall(void *ctx, const char *why)
{
	return reinstall(ctx, why);
}

static struct segd_gen *op_running(void *ctx)
{
	return ((struct segd *)ctx)->gen;
}

static const struct segd_admin_ops admin_ops = { op_apply, op_reinstall, op_running };

/* The state directory: isolation compiled in before the first apply, which
 * becomes a revision (how=start). */
static int open_admin(struct segd *d)
{
	int r = segd_admin_open(d->gen->cfg->settings.state_dir, d->path, d->loop, d->w, &admin_ops, d,
				&d->admin);

	if (r == 0)
		r = segd_admin_isolate_gen(d->admin, d->gen);
	if (r < 0)
		seg_writer_log(d->w, 2, NULL, NULL, "cannot open the state directory '%s': %s",
			       d->gen->cfg->settings.state_dir, strerror(-r));
	return r;
}

int segd_serve(const char *path)
{
	struct segd d = { .path = path, .sigfd = -1, .tickfd = -1, .wdfd = -1, .incfd = -1, .lockfd = -1 };
	struct segd_candidate start = { 0 };
	struct segd_change start_ch = { .how = "start", .why = "start" };
	int r = segd_admin_load(NULL, path, stderr, &start), status = EXIT_ERROR;

	d.gen = start.gen;
	start.gen = NULL;
	d.started = time(NULL);
	if (r < 0)
		return r == -EINVAL ? EXIT_NOT_OK : EXIT_ERROR;
	/* blocked before any thread starts: threads inherit the mask, and a
	 * SIGHUP delivered to the writer thread would kill segd */
	sigset_t set;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(handled_signals) / sizeof(handled_signals[0]); i++)
		sigaddset(&set, handled_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	make_parent_dir(d.gen->cfg->settings.spool);
	if ((r = seg_writer_start(d.gen->cfg->settings.spool, WRITER_QUEUE, &d.w)) < 0) {
		fprintf(stderr, "segd: cannot start the journal writer: %s\n", strerror(-r));
		segd_gen_free(d.gen);
		free(start.bytes);
		return EXIT_ERROR;
	}
	if ((d.lockfd = take_lock(d.gen->plan->table)) < 0) {
		seg_writer_log(d.w, 2, NULL, NULL, "another segd already enforces table inet %s in this network "
			       "namespace — stop it first (systemctl stop segd), or give this one another "
			       "settings.table", d.gen->plan->table);
		goto out;
	}
	/* the monitor listens before the first apply, so no change slips in between */
	if ((r = start_parts(&d)) < 0) {
		seg_writer_log(d.w, 2, NULL, NULL, "cannot start: %s", strerror(-r));
		goto out;
	}
	/* listen on the log group before the first apply: every packet the new
	 * rules drop from then on is seen or counted as a sequence gap */
	if (open_watch(&d) < 0)
		seg_writer_log(d.w, 2, "degraded", NULL, "%s", d.degraded);
	if (open_admin(&d) < 0 || first_apply(&d, &start) < 0)
		goto out;
	start.gen = d.gen;
	segd_admin_applied(d.admin, &start, &start_ch);
	start.gen = NULL;
	open_control(&d);
	sd_notify(0, "READY=1");
	notify_status(&d);
	while (!d.stop)
		if (seg_loop_run_once(d.loop, -1) < 0)
			break;
	status = 0;
out:
	free(start.bytes);
	shut_down(&d, status == 0);
	return status;
}
