/* admin.c - revisions, confirm-or-revert, rollback, isolation, audit trail. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include "addr.h"
#include "admin.h"
#include "config.h"
#include "ctlsrv.h"
#include "revision.h"

#define MAX_CONFIRM_S   86400u   /* a day: longer is not "confirm or revert" any more */
#define RETRY_REVERT_MS 10000

struct segd_admin {
	char *state_dir, *rev_prefix, *config_path;
	struct seg_loop *loop;
	struct seg_writer *w;
	struct segd_admin_ops ops;
	void *ctx;
	int timerfd;
	uint32_t running;               /* the running revision; 0 when none is stored */
	char running_sha[SEG_SHA256_HEX];
	bool pending;                   /* a reload --confirm awaits `segctl confirm` */
	uint32_t pending_rev, revert_to;
	int64_t deadline;               /* unix seconds */
	struct seg_isolations iso;
};

/* ---- the audit trail ---- */

struct audit {
	const char *command;
	uint32_t uid, revision;
	const char *outcome;            /* ok, failed, refused */
	const char *zone, *reason;      /* isolate / release */
};

__attribute__((format(printf, 4, 5)))
static void audit(struct segd_admin *a, int prio, const struct audit *au, const char *fmt, ...)
{
	char uid[32], cmd[64], rev[32], out[160], zone[64], reason[SEG_ISO_MAX_REASON + 16], *msg = NULL;
	const char *f[7] = { uid, cmd, rev, out, NULL, NULL, NULL };
	size_t n = 4;
	va_list ap;

	snprintf(uid, sizeof(uid), "SEGD_UID=%" PRIu32, au->uid);
	snprintf(cmd, sizeof(cmd), "SEGD_COMMAND=%s", au->command);
	snprintf(rev, sizeof(rev), "SEGD_REVISION=%" PRIu32, au->revision);
	snprintf(out, sizeof(out), "SEGD_OUTCOME=%s", au->outcome);
	if (au->zone && snprintf(zone, sizeof(zone), "SEGD_ZONE=%s", au->zone) > 0)
		f[n++] = zone;
	if (au->reason && snprintf(reason, sizeof(reason), "SEGD_ISOLATION_REASON=%s", au->reason) > 0)
		f[n++] = reason;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	seg_writer_log(a->w, prio, "audit", f, "audit: uid %" PRIu32 " %s: %s", au->uid, au->command,
		       msg ? msg : au->outcome);
	free(msg);
}

/* ---- loading ---- */

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static size_t mark_isolated(const struct segd_admin *a, struct seg_config *cfg)
{
	size_t n = 0;

	for (size_t i = 0; i < cfg->n_zones; i++) {
		cfg->zones[i].isolated = a && seg_iso_find(&a->iso, cfg->zones[i].name) >= 0;
		n += cfg->zones[i].isolated;
	}
	return n;
}

/* At start: the zones still isolated, in the journal (a restart must not
 * hide an emergency measure from whoever reads the log). */
static void log_isolated(struct segd_admin *a, const struct seg_config *cfg)
{
	for (size_t i = 0; i < a->iso.n; i++) {
		const struct seg_isolation *z = &a->iso.v[i];
		bool known = seg_zone_find(cfg, z->zone) >= 0;
		seg_writer_log(a->w, known ? 2 : 4, "isolated", NULL, "zone '%s' is isolated (by uid %" PRIu32
			       ", reason '%s')%s", z->zone, z->uid, z->reason, known ? "" :
			       "; the configuration has no such zone: it applies again if the zone comes back");
	}
}

int segd_admin_isolate_gen(struct segd_admin *a, struct segd_gen *g)
{
	struct seg_plan *plan = NULL;

	log_isolated(a, g->cfg);
	if (mark_isolated(a, g->cfg) == 0)
		return 0;
	int r = seg_plan_compile(g->cfg, &g->map, &plan);
	if (r < 0)
		return r;
	seg_plan_free(g->plan);
	g->plan = plan;
	return 0;
}

static int load_model(struct segd_admin *a, const char *path, const char *bytes, bool from_bytes,
		      FILE *log, struct seg_config **cfg)
{
	struct seg_diags d;
	int r = from_bytes ? seg_config_load_string(bytes, path, seg_today(), cfg, &d) :
		seg_config_load(path, seg_today(), cfg, &d);

	(void)a;
	if (r == 0)   /* the daemon runs on the gateway: always compared */
		r = seg_links_judge(cfg, SEG_LINKS_ALWAYS, &d);
	seg_diags_print(&d, log);
	seg_diags_free(&d);
	if (r < 0 && r != -EINVAL)
		fprintf(log, "%s: error: cannot load: %s\n", path, strerror(-r));
	return r;
}

/* A revision's content is loaded from its bytes: it was valid and written
 * by segd; the file's ownership checks are for the administrator's file. */
static bool is_revision(const struct segd_admin *a, const char *path)
{
	return a && strncmp(path, a->rev_prefix, strlen(a->rev_prefix)) == 0;
}

int segd_admin_load(struct segd_admin *a, const char *path, FILE *log, struct segd_candidate *ret)
{
	struct segd_candidate c = { 0 };
	char *again = NULL;
	size_t again_len = 0;
	bool rev = is_revision(a, path);
	int rb = seg_rev_read_file(path, &c.bytes, &c.len);
	int r = rev && rb < 0 ? rb : 0;

	if (r == 0 && !(c.gen = calloc(1, sizeof(*c.gen))))
		r = -ENOMEM;
	if (r == 0)
		r = load_model(a, path, c.bytes, rev, log, &c.gen->cfg);
	if (r == 0 && !rev && (rb < 0 || seg_rev_read_file(path, &again, &again_len) < 0 ||
			       again_len != c.len || memcmp(again, c.bytes, c.len) != 0)) {
		fprintf(log, "%s: error: the file changed while segd read it — reload again once it is "
			"written (write a temporary file and rename it over the configuration)\n", path);
		r = -EAGAIN;
	}
	free(again);
	if (r == 0)
		seg_sha256_hex(c.bytes, c.len, c.sha);
	if (r == 0)
		r = seg_zonemap_build(c.gen->cfg, &c.gen->map);
	if (r == 0)
		mark_isolated(a, c.gen->cfg);
	if (r == 0) {      /* a ruleset over settings.max_elements is a file:line error */
		struct seg_diags d;
		seg_diags_init(&d, path);
		r = seg_plan_build(c.gen->cfg, &c.gen->map, &d, &c.gen->plan);
		seg_diags_print(&d, log);
		seg_diags_free(&d);
	}
	if (r < 0) {
		if (r == -ENOENT && rev)
			fprintf(log, "%s: error: the revision's content is missing\n", path);
		segd_candidate_clear(&c);
		return r;
	}
	*ret = c;
	return 0;
}

void segd_candidate_clear(struct segd_candidate *c)
{
	if (!c)
		return;
	segd_gen_free(c->gen);
	free(c->bytes);
	*c = (struct segd_candidate){ 0 };
}

/* ---- revisions ---- */

struct appr {
	const char *ap;
	size_t at;                 /* conduit index: the first in file order is kept */
};

static int cmp_appr(const void *pa, const void *pb)
{
	const struct appr *a = pa, *b = pb;
	int r = strcmp(a->ap, b->ap);

	return r ? r : (a->at > b->at) - (a->at < b->at);
}

/* The conduits' approval references, each once, in file order: sorted to
 * find the first of each (100,000-entry files carry ~10,000 conduits; a
 * pairwise search took 160 ms of every reload). */
static int add_approvals(struct seg_revision *m, const struct seg_config *cfg)
{
	struct appr *v = calloc(cfg->n_conduits + 1, sizeof(*v));
	bool *keep = calloc(cfg->n_conduits + 1, sizeof(*keep));
	size_t n = 0, k = 0;
	int r = v && keep ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < cfg->n_conduits; i++)
		if (cfg->conduits[i].approval && *cfg->conduits[i].approval)
			v[n++] = (struct appr){ cfg->conduits[i].approval, i };
	if (r == 0 && n > 1)
		qsort(v, n, sizeof(*v), cmp_appr);
	for (size_t i = 0; r == 0 && i < n; i++) {
		keep[v[i].at] = i == 0 || strcmp(v[i - 1].ap, v[i].ap) != 0;
		k += keep[v[i].at];
	}
	if (r == 0 && k && !(m->approvals = calloc(k, sizeof(*m->approvals))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < cfg->n_conduits; i++)
		if (keep[i] && !(m->approvals[m->n_approvals++] = strdup(cfg->conduits[i].approval)))
			r = -ENOMEM;
	free(v);
	free(keep);
	return r;
}

static void arm(struct segd_admin *a, uint64_t ms)
{
	seg_timer_set(a->timerfd, ms ? ms : 1, 0);
}

static void disarm(struct segd_admin *a)
{
	struct itimerspec its = { 0 };
	timerfd_settime(a->timerfd, 0, &its, NULL);
}

/* A new revision unless the content is the running one's; reload --confirm,
 * rollback and revert always make one (docs/audit.md). */
static bool wants_revision(const struct segd_admin *a, const struct segd_candidate *c,
			   const struct segd_change *ch)
{
	if (ch->confirm_s || ch->source || !a->running)
		return true;
	return strcmp(c->sha, a->running_sha) != 0;
}

static int store(struct segd_admin *a, const struct segd_candidate *c, const struct segd_change *ch,
		 uint32_t *ret)
{
	struct seg_revision m = { .time = now_s(), .uid = ch->uid, .source = ch->source,
				  .state = ch->confirm_s ? SEG_REV_PENDING : SEG_REV_APPLIED };
	int r;

	snprintf(m.how, sizeof(m.how), "%s", ch->how);
	snprintf(m.why, sizeof(m.why), "%s", ch->why ? ch->why : "");
	if (ch->confirm_s) {
		m.deadline = m.time + ch->confirm_s;
		m.revert_to = a->running;
	}
	r = add_approvals(&m, c->gen->cfg);
	if (r == 0)
		r = seg_rev_store(a->state_dir, c->bytes, c->len, &m, SEG_REV_KEEP, ret);
	seg_rev_clear(&m);
	return r;
}

void segd_admin_applied(struct segd_admin *a, struct segd_candidate *c, const struct segd_change *ch)
{
	struct audit au = { .command = ch->how, .uid = ch->uid, .outcome = "ok" };
	uint32_t prev = a->running, n = 0;
	int r = 0;

	if (wants_revision(a, c, ch) && (r = store(a, c, ch, &n)) == 0) {
		a->running = n;
		memcpy(a->running_sha, c->sha, sizeof(a->running_sha));
	}
	au.revision = a->running;
	if (r < 0)
		seg_writer_log(a->w, 3, NULL, NULL, "cannot store the applied configuration as a revision in "
			       "'%s/revisions': %s — check that the state directory is writable by segd",
			       a->state_dir, strerror(-r));
	if (ch->confirm_s) {
		a->pending = true;
		a->pending_rev = n;
		a->revert_to = prev;
		a->deadline = now_s() + ch->confirm_s;
		arm(a, (uint64_t)ch->confirm_s * 1000);
		audit(a, 4, &au, "applied revision %" PRIu32 " (%s); it reverts to revision %" PRIu32
		      " in %u seconds unless 'segctl confirm' follows", a->running, ch->why, prev, ch->confirm_s);
	} else {
		audit(a, 5, &au, "applied %s revision %" PRIu32 " (%s)", n ? "as" : "unchanged,",
		      a->running, ch->why);
	}
	free(c->bytes);
	c->bytes = NULL;
}

void segd_admin_failed(struct segd_admin *a, const struct segd_change *ch, int err)
{
	struct audit au = { .command = ch->how, .uid = ch->uid, .revision = a->running, .outcome = "failed" };

	audit(a, 3, &au, "failed (%s): %s; revision %" PRIu32 " stays in force", ch->why,
	      err == -EINVAL ? "the configuration is invalid" : strerror(-err), a->running);
}

bool segd_admin_may_change(struct segd_admin *a, const struct segd_change *ch, struct seg_kvlist *resp)
{
	struct audit au = { .command = ch->how, .uid = ch->uid, .revision = a->running, .outcome = "refused" };
	char msg[256];

	if (a->pending)
		snprintf(msg, sizeof(msg), "revision %" PRIu32 " awaits confirmation for %lld more seconds — "
			 "run 'segctl confirm' first, or wait for the revert to revision %" PRIu32,
			 a->pending_rev, (long long)(a->deadline - now_s()), a->revert_to);
	else if (ch->confirm_s && !a->running)
		snprintf(msg, sizeof(msg), "no stored revision to revert to (state directory '%s') — "
			 "reload without --confirm, or make the state directory writable", a->state_dir);
	else if (ch->confirm_s > MAX_CONFIRM_S)
		snprintf(msg, sizeof(msg), "--confirm %u: at most %u seconds", ch->confirm_s, MAX_CONFIRM_S);
	else
		return true;
	audit(a, 4, &au, "%s refused: %s", ch->how, msg);
	if (resp)
		seg_ctl_error(resp, 1, "%s", msg);
	return false;
}

/* ---- confirm or revert ---- */

static void set_state(struct segd_admin *a, uint32_t rev, enum seg_rev_state st, uint32_t uid)
{
	struct seg_revision m;

	if (!rev || seg_rev_get(a->state_dir, rev, &m) < 0)
		return;
	m.state = st;
	m.state_time = now_s();
	m.state_uid = uid;
	seg_rev_update(a->state_dir, &m);
	seg_rev_clear(&m);
}

static void revert(struct segd_admin *a)
{
	struct segd_change ch = { .how = "confirm-revert", .source = a->revert_to };
	char why[160], *src = seg_rev_conf_path(a->state_dir, a->revert_to);
	uint32_t unconfirmed = a->pending_rev;

	snprintf(why, sizeof(why), "revision %" PRIu32 " was not confirmed in time: back to revision %" PRIu32,
		 unconfirmed, a->revert_to);
	ch.why = why;
	a->pending = false;
	int r = src ? a->ops.apply(a->ctx, src, &ch, NULL) : -ENOMEM;
	free(src);
	if (r == 0) {
		set_state(a, unconfirmed, SEG_REV_REVERTED, 0);
		seg_writer_log(a->w, 4, "confirm-revert", NULL, "reverted: %s (now revision %" PRIu32 ")", why,
			       a->running);
		return;
	}
	a->pending = true;    /* try again: the unconfirmed rules must not stay */
	arm(a, RETRY_REVERT_MS);
	seg_writer_log(a->w, 2, "confirm-revert", NULL, "could not revert to revision %" PRIu32 ": %s — the "
		       "unconfirmed revision %" PRIu32 " stays in force; retrying in %d s", a->revert_to,
		       strerror(-r), unconfirmed, RETRY_REVERT_MS / 1000);
}

static void on_timer(struct seg_loop *l, int fd, uint32_t ev, void *ctx)
{
	struct segd_admin *a = ctx;
	(void)l;
	(void)ev;

	seg_timer_ack(fd);
	if (a->pending)
		revert(a);
}

static void handle_confirm(struct segd_admin *a, const struct ucred *cred, struct seg_kvlist *resp)
{
	struct audit au = { .command = "confirm", .uid = cred->uid, .revision = a->running, .outcome = "ok" };

	if (!a->pending) {
		au.outcome = "refused";
		audit(a, 5, &au, "nothing to confirm");
		seg_ctl_error(resp, 1, "nothing to confirm: no 'segctl reload --confirm' is pending");
		return;
	}
	disarm(a);
	a->pending = false;
	set_state(a, a->pending_rev, SEG_REV_CONFIRMED, cred->uid);
	au.revision = a->pending_rev;
	audit(a, 5, &au, "confirmed revision %" PRIu32 " with %lld seconds left; no revert", a->pending_rev,
	      (long long)(a->deadline - now_s()));
	seg_ctl_ok(resp);
	seg_kv_addf(resp, "revision", "%" PRIu32, a->pending_rev);
}

/* ---- rollback ---- */

static int parse_rev(const char *s, uint32_t *out)
{
	char *end;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static void reply_report(struct seg_kvlist *resp, char *report)
{
	char *save = NULL;

	for (char *line = report ? strtok_r(report, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
		seg_kv_add(resp, "line", line);
}

static void handle_rollback(struct segd_admin *a, const struct ucred *cred, const struct seg_kvlist *req,
			    struct seg_kvlist *resp)
{
	struct segd_change ch = { .how = "rollback", .uid = cred->uid };
	struct seg_revision m;
	char why[96], *report = NULL, *src;
	uint32_t n;

	if (parse_rev(seg_kv_get(req, "revision"), &n) < 0) {
		seg_ctl_error(resp, 2, "rollback needs a revision number (see segctl revisions)");
		return;
	}
	if (seg_rev_get(a->state_dir, n, &m) < 0) {
		seg_ctl_error(resp, 1, "revision %" PRIu32 " does not exist in '%s/revisions' — see segctl "
			      "revisions (the last %d are kept)", n, a->state_dir, SEG_REV_KEEP);
		return;
	}
	seg_rev_clear(&m);
	snprintf(why, sizeof(why), "segctl rollback %" PRIu32 " by uid %u", n, (unsigned)cred->uid);
	ch.why = why;
	ch.source = n;
	if (!segd_admin_may_change(a, &ch, resp))
		return;
	if (!(src = seg_rev_conf_path(a->state_dir, n))) {
		seg_ctl_error(resp, 2, "out of memory");
		return;
	}
	int r = a->ops.apply(a->ctx, src, &ch, &report);
	free(src);
	if (r == 0)
		seg_ctl_ok(resp);
	else
		seg_ctl_error(resp, r == -EINVAL ? 1 : 2, "rollback to revision %" PRIu32 " failed: %s; the running "
			      "rules stay in force", n, r == -EINVAL ? "its configuration is invalid today" : strerror(-r));
	reply_report(resp, report);
	seg_kv_addf(resp, "revision", "%" PRIu32, a->running);
	free(report);
}

/* ---- isolation ---- */

/* Recompiles the running generation with the isolation state and installs it. */
static int recompile(struct segd_admin *a, const char *why)
{
	struct segd_gen *g = a->ops.running(a->ctx);
	struct seg_plan *plan = NULL, *old = g->plan;

	mark_isolated(a, g->cfg);
	int r = seg_plan_compile(g->cfg, &g->map, &plan);
	if (r < 0)
		return r;
	g->plan = plan;
	if ((r = a->ops.reinstall(a->ctx, why)) < 0) {
		g->plan = old;          /* the kernel kept the old ruleset (one transaction) */
		seg_plan_free(plan);
		return r;
	}
	seg_plan_free(old);
	return 0;
}

static bool check_zone(struct segd_admin *a, const char *zone, struct seg_kvlist *resp)
{
	const struct segd_gen *g = a->ops.running(a->ctx);

	if (!zone || !*zone) {
		seg_ctl_error(resp, 2, "a zone name is required");
		return false;
	}
	if (seg_zone_find(g->cfg, zone) < 0) {
		seg_ctl_error(resp, 1, "zone '%s' is not in the running configuration", zone);
		return false;
	}
	return true;
}

/* Applies a changed isolation list: kernel first (an emergency must not wait
 * for a disk), then the state file. On a kernel failure the list is restored. */
static int commit_iso(struct segd_admin *a, struct seg_isolations *before, const char *why,
		      struct seg_kvlist *resp)
{
	int r = recompile(a, why);

	if (r < 0) {
		seg_iso_free(&a->iso);
		a->iso = *before;
		mark_isolated(a, a->ops.running(a->ctx)->cfg);
		seg_ctl_error(resp, 2, "the kernel refused the ruleset: %s; nothing changed", strerror(-r));
		return r;
	}
	seg_iso_free(before);
	seg_ctl_ok(resp);
	if ((r = seg_iso_save(a->state_dir, &a->iso)) < 0) {
		seg_writer_log(a->w, 2, NULL, NULL, "cannot save the isolation state in '%s': %s — it is in "
			       "force now but will not survive a restart", a->state_dir, strerror(-r));
		seg_kv_addf(resp, "warning", "the isolation state could not be saved (%s): it will not survive "
			    "a restart of segd", strerror(-r));
	}
	return 0;
}

static int copy_iso(const struct seg_isolations *from, struct seg_isolations *to)
{
	*to = (struct seg_isolations){ 0 };
	for (size_t i = 0; i < from->n; i++)
		if (seg_iso_set(to, from->v[i].zone, from->v[i].reason, from->v[i].uid, from->v[i].time) < 0) {
			seg_iso_free(to);
			return -ENOMEM;
		}
	return 0;
}

static void handle_isolate(struct segd_admin *a, const struct ucred *cred, const struct seg_kvlist *req,
			   struct seg_kvlist *resp)
{
	const char *zone = seg_kv_get(req, "zone"), *reason = seg_kv_get(req, "reason"), *why = NULL;
	struct audit au = { .command = "isolate", .uid = cred->uid, .revision = a->running,
			    .zone = zone, .reason = reason };
	struct seg_isolations before;
	char what[128];

	if (!check_zone(a, zone, resp))
		return;
	if (!reason || !seg_iso_reason_valid(reason, &why)) {
		seg_ctl_error(resp, 2, "isolate needs --reason TEXT: %s", why ? why : "a reason is required");
		return;
	}
	if (copy_iso(&a->iso, &before) < 0 || seg_iso_set(&a->iso, zone, reason, cred->uid, now_s()) < 0) {
		seg_ctl_error(resp, 2, "out of memory");
		return;
	}
	snprintf(what, sizeof(what), "segctl isolate '%s' by uid %u", zone, (unsigned)cred->uid);
	int r = commit_iso(a, &before, what, resp);
	au.outcome = r < 0 ? "failed" : "ok";
	audit(a, r < 0 ? 2 : 2, &au, "zone '%s' %s: every flow between it and any other zone is dropped "
	      "(reason '%s')", zone, r < 0 ? "could NOT be isolated" : "isolated", reason);
	seg_kv_add(resp, "zone", zone);
}

static void handle_release(struct segd_admin *a, const struct ucred *cred, const struct seg_kvlist *req,
			   struct seg_kvlist *resp)
{
	const char *zone = seg_kv_get(req, "zone");
	struct audit au = { .command = "release", .uid = cred->uid, .revision = a->running, .zone = zone };
	struct seg_isolations before;
	char what[128], reason[SEG_ISO_MAX_REASON + 1];
	int i = zone ? seg_iso_find(&a->iso, zone) : -1;

	if (i < 0) {
		seg_ctl_error(resp, 1, "zone '%s' is not isolated", zone ? zone : "");
		return;
	}
	snprintf(reason, sizeof(reason), "%s", a->iso.v[i].reason);
	au.reason = reason;
	if (copy_iso(&a->iso, &before) < 0 || seg_iso_remove(&a->iso, zone) < 0) {
		seg_ctl_error(resp, 2, "out of memory");
		return;
	}
	snprintf(what, sizeof(what), "segctl release '%s' by uid %u", zone, (unsigned)cred->uid);
	int r = commit_iso(a, &before, what, resp);
	au.outcome = r < 0 ? "failed" : "ok";
	audit(a, r < 0 ? 2 : 4, &au, "zone '%s' %s (it was isolated for '%s')", zone,
	      r < 0 ? "could NOT be released" : "released: its conduits are in force again", reason);
	seg_kv_add(resp, "zone", zone);
}

/* ---- requests and status ---- */

static void handle_revisions(struct segd_admin *a, struct seg_kvlist *resp)
{
	seg_ctl_ok(resp);
	seg_kv_addf(resp, "running", "%" PRIu32, a->running);
	segd_admin_status(a, resp);
}

bool segd_admin_request(struct segd_admin *a, const struct ucred *cred, const struct seg_kvlist *req,
			struct seg_kvlist *resp)
{
	const char *cmd = seg_kv_get(req, "cmd");

	if (strcmp(cmd, "revisions") == 0)
		handle_revisions(a, resp);
	else if (strcmp(cmd, "confirm") == 0)
		handle_confirm(a, cred, resp);
	else if (strcmp(cmd, "rollback") == 0)
		handle_rollback(a, cred, req, resp);
	else if (strcmp(cmd, "isolate") == 0)
		handle_isolate(a, cred, req, resp);
	else if (strcmp(cmd, "release") == 0)
		handle_release(a, cred, req, resp);
	else
		return false;
	return true;
}

void segd_admin_status(struct segd_admin *a, struct seg_kvlist *r)
{
	if (!a)
		return;
	seg_kv_addf(r, "revision", "%" PRIu32, a->running);
	seg_kv_add(r, "state_dir", a->state_dir);
	if (a->pending) {
		seg_kv_addf(r, "confirm_revision", "%" PRIu32, a->pending_rev);
		seg_kv_addf(r, "confirm_deadline", "%lld", (long long)a->deadline);
		seg_kv_addf(r, "revert_to", "%" PRIu32, a->revert_to);
	}
	for (size_t i = 0; i < a->iso.n; i++) {
		seg_kv_add(r, "isolated", a->iso.v[i].zone);
		seg_kv_add(r, "isolated_reason", a->iso.v[i].reason);
		seg_kv_addf(r, "isolated_uid", "%" PRIu32, a->iso.v[i].uid);
		seg_kv_addf(r, "isolated_since", "%lld", (long long)a->iso.v[i].time);
	}
}

/* ---- start ---- */

/* The newest revision is the running one until start says otherwise; a
 * confirmation pending when segd stopped is still pending (lockout safety:
 * a restart must not make an unconfirmed change permanent). */
static void read_revisions(struct segd_admin *a)
{
	struct seg_revision *v = NULL;
	size_t n = 0;

	if (seg_rev_list(a->state_dir, &v, &n) < 0)
		return;
	if (n == 0) {
		seg_rev_list_free(v, n);
		return;
	}
	a->running = v[n - 1].number;
	memcpy(a->running_sha, v[n - 1].sha256, SEG_SHA256_HEX);
	for (size_t i = n; i-- > 0;)
		if (v[i].state == SEG_REV_PENDING && v[i].revert_to) {
			a->pending = true;
			a->pending_rev = v[i].number;
			a->revert_to = v[i].revert_to;
			a->deadline = v[i].deadline;
			int64_t left = a->deadline - now_s();
			arm(a, left > 0 ? (uint64_t)left * 1000 : 1);
			break;
		}
	seg_rev_list_free(v, n);
}

int segd_admin_open(const char *state_dir, const char *config_path, struct seg_loop *loop,
		    struct seg_writer *w, const struct segd_admin_ops *ops, void *ctx,
		    struct segd_admin **ret)
{
	struct segd_admin *a = calloc(1, sizeof(*a));
	size_t bad = 0;
	int r;

	if (!a)
		return -ENOMEM;
	*a = (struct segd_admin){ .loop = loop, .w = w, .ops = *ops, .ctx = ctx, .timerfd = -1 };
	if (!(a->state_dir = strdup(state_dir)) || !(a->config_path = strdup(config_path)) ||
	    asprintf(&a->rev_prefix, "%s/revisions/", state_dir) < 0) {
		a->rev_prefix = NULL;
		r = -ENOMEM;
		goto fail;
	}
	if (mkdir(state_dir, 0750) < 0 && errno != EEXIST)
		seg_writer_log(w, 3, NULL, NULL, "cannot create the state directory '%s': %s — revisions and "
			       "isolation will not be kept", state_dir, strerror(errno));
	if ((r = seg_iso_load(state_dir, &a->iso, &bad)) < 0)
		seg_writer_log(w, 2, NULL, NULL, "cannot read the isolation state in '%s': %s — zones isolated "
			       "before are NOT isolated now", state_dir, strerror(-r));
	if (bad)
		seg_writer_log(w, 3, NULL, NULL, "'%s/isolation': %zu unreadable lines skipped", state_dir, bad);
	if ((a->timerfd = seg_timer_new(3600 * 1000, 0)) < 0 || (r = seg_loop_add(loop, a->timerfd, EPOLLIN,
										  on_timer, a)) < 0) {
		r = a->timerfd < 0 ? a->timerfd : r;
		goto fail;
	}
	disarm(a);
	read_revisions(a);
	*ret = a;
	return 0;
fail:
	segd_admin_free(a);
	return r;
}

void segd_admin_free(struct segd_admin *a)
{
	if (!a)
		return;
	if (a->timerfd >= 0) {
		seg_loop_del(a->loop, a->timerfd);
		close(a->timerfd);
	}
	seg_iso_free(&a->iso);
	free(a->state_dir);
	free(a->rev_prefix);
	free(a->config_path);
	free(a);
}
