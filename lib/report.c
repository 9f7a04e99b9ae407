/*
 * report.c - collect the self-inspection report (see report.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config.h"
#include "decide.h"
#include "incident.h"
#include "plan.h"
#include "report.h"
#include "spool.h"
#include "zonemap.h"

#define DAY_US (86400LL * 1000000)

/* What each part of the report answers; clause numbers as in the city's
 * policy (three-layer-model.md, "What the policy asks of a gateway"). */
static const struct seg_report_section_info sections[SEG_RS_COUNT] = {
	[SEG_RS_SYNC] = { "sync", "Live ruleset against the running configuration", "稼働中ルールと設定の照合",
		"7(6), 8, 9", "the kernel enforces exactly the approved configuration, nothing more or less" },
	[SEG_RS_MODEL] = { "model", "The model's rules checked", "三層分離モデルの検証",
		"3(2), 5, 7(3)①②③",
		"the configuration passed every rule of the three-layer model before it was installed" },
	[SEG_RS_MATRIX] = { "matrix", "Zone matrix", "領域間の通信可否",
		"3(1), 7(3)①②③", "which zone pairs are closed, guarded, or opened by which conduits" },
	[SEG_RS_CONDUITS] = { "conduits", "Conduits: approval, expiry, hits", "例外通信路 (承認・期限・通過数)",
		"7(3)①②③, 8, 9", "every exception is approved, dated, and how much it is used" },
	[SEG_RS_EXPIRY] = { "expiry", "Expired and soon-expiring conduits", "期限切れ・期限間近の通信路",
		"8, 9", "exceptions that lapsed (no longer installed) or need re-approval" },
	[SEG_RS_INCIDENTS] = { "incidents", "Incidents per zone pair and event", "インシデント (領域・事象別)",
		"3(1), 5, 7(3)③, 7(7)", "what was attempted across the lines in the period, and from where" },
	[SEG_RS_LOSS] = { "loss", "Loss counters", "記録の欠落",
		"7(7), 9", "whether every denied packet reached the record (journal and spool)" },
	[SEG_RS_CHANGES] = { "changes", "Revisions and isolations", "設定変更履歴・緊急遮断",
		"3(2), 7(7), 8", "who changed the rules when, and which zones were cut off in an emergency" },
};

const struct seg_report_section_info *seg_report_section(enum seg_report_section s)
{
	return (unsigned)s < SEG_RS_COUNT ? &sections[s] : NULL;
}

static const char *const cell_names[SEG_CELL_COUNT] = { "intra", "deny", "guard", "open", "isolated" };

const char *seg_report_cell_name(enum seg_report_cell c)
{
	return (unsigned)c < SEG_CELL_COUNT ? cell_names[c] : "?";
}

const char *seg_report_check_state(const struct seg_report *r, enum seg_check c, char *buf, size_t len)
{
	size_t errs = 0, warns = 0;

	for (size_t i = 0; i < r->diags.n; i++) {
		errs += r->diags.v[i].check == (int)c && r->diags.v[i].sev == SEG_SEV_ERROR;
		warns += r->diags.v[i].check == (int)c && r->diags.v[i].sev == SEG_SEV_WARNING;
	}
	if (errs)
		snprintf(buf, len, "FAILED (%zu error%s)", errs, errs == 1 ? "" : "s");
	else if (!r->diags.validated && c != SEG_CHECK_FORM)
		snprintf(buf, len, "not run");
	else if (warns)
		snprintf(buf, len, "passed, %zu warning%s", warns, warns == 1 ? "" : "s");
	else
		snprintf(buf, len, "passed");
	return buf;
}

int64_t seg_report_local_day(int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return us / DAY_US;
	int64_t local = (int64_t)t + tm.tm_gmtoff;
	return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

/* ---- period and days ---------------------------------------------------- */

int seg_report_new(int64_t since_us, int64_t until_us, struct seg_report **ret)
{
	struct seg_report *r;

	if (until_us < since_us)
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->since_us = since_us;
	r->until_us = until_us;
	r->soon_days = SEG_REPORT_SOON_DAYS;
	int64_t first = seg_report_local_day(since_us), last = seg_report_local_day(until_us);
	if (last - first + 1 > SEG_REPORT_MAX_DAYS)
		first = last - SEG_REPORT_MAX_DAYS + 1;
	r->n_days = (size_t)(last - first + 1);
	r->days = calloc(r->n_days, sizeof(*r->days));
	if (!r->days) {
		free(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n_days; i++)
		r->days[i].day = first + (int64_t)i;
	seg_diags_init(&r->diags, "");
	*ret = r;
	return 0;
}

/* ---- incidents -------------------------------------------------------------- */

struct src_entry {
	size_t pair;
	char addr[48];
	uint64_t packets;
};

struct seg_report_acc {
	struct src_entry *v;
	size_t n, cap;
};

static int grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 64;
	while (nc < need)
		nc *= 2;
	void *n = realloc(*v, nc * size);
	if (!n)
		return -ENOMEM;
	*v = n;
	*cap = nc;
	return 0;
}

static long find_pair(struct seg_report *r, const char *event, const char *from, const char *to)
{
	for (size_t i = 0; i < r->n_pairs; i++) {
		const struct seg_report_pair *p = &r->pairs[i];
		if (strcmp(p->event, event) == 0 && strcmp(p->from, from) == 0 && strcmp(p->to, to) == 0)
			return (long)i;
	}
	return -1;
}

static long add_pair(struct seg_report *r, const char *event, const char *from, const char *to)
{
	long i = find_pair(r, event, from, to);
	size_t cap = r->n_pairs;      /* pairs grow one by one: few of them */

	if (i >= 0)
		return i;
	struct seg_report_pair *n = realloc(r->pairs, (cap + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	r->pairs = n;
	struct seg_report_pair *p = &r->pairs[r->n_pairs];
	memset(p, 0, sizeof(*p));
	snprintf(p->event, sizeof(p->event), "%s", event);
	snprintf(p->from, sizeof(p->from), "%s", from);
	snprintf(p->to, sizeof(p->to), "%s", to);
	return (long)r->n_pairs++;
}

static int event_slot(const char *event)
{
	static const char *const names[] = { "flow-denied", "spoofed-source", "to-gateway" };

	for (int i = 0; i < 3; i++)
		if (strcmp(event, names[i]) == 0)
			return i;
	return SEG_REPORT_EV_OTHER;
}

static void count_day(struct seg_report *r, int64_t first_us, int slot, uint64_t packets)
{
	if (r->n_days == 0 || first_us <= 0)
		return;
	int64_t i = seg_report_local_day(first_us) - r->days[0].day;
	if (i < 0 || i >= (int64_t)r->n_days)
		return;
	r->days[i].incidents[slot]++;
	r->days[i].packets += packets;
}

int seg_report_add_incident(struct seg_report *r, const char *event, const char *from, const char *to,
			    const char *src, uint64_t packets, int64_t first_us)
{
	long pi = add_pair(r, event ? event : "?", from ? from : "", to ? to : "");

	if (pi < 0)
		return (int)pi;
	struct seg_report_pair *p = &r->pairs[pi];
	int slot = event_slot(p->event);
	p->incidents++;
	p->packets += packets;
	r->incidents++;
	r->packets += packets;
	r->by_event[slot]++;
	count_day(r, first_us, slot, packets);
	if (!src)                      /* overflow incidents name no source */
		return 0;
	if (!r->acc && !(r->acc = calloc(1, sizeof(*r->acc))))
		return -ENOMEM;
	if (grow((void **)&r->acc->v, &r->acc->cap, r->acc->n + 1, sizeof(*r->acc->v)) < 0)
		return -ENOMEM;
	struct src_entry *e = &r->acc->v[r->acc->n++];
	e->pair = (size_t)pi;
	e->packets = packets;
	snprintf(e->addr, sizeof(e->addr), "%s", src);
	return 0;
}

static int by_pair_addr(const void *a, const void *b)
{
	const struct src_entry *x = a, *y = b;

	if (x->pair != y->pair)
		return x->pair < y->pair ? -1 : 1;
	return strcmp(x->addr, y->addr);
}

/* Keeps the SEG_REPORT_TOP sources with the most packets (then incidents). */
static void offer_top(struct seg_report_pair *p, const struct seg_report_source *s)
{
	size_t i = p->n_top;

	while (i > 0 && (s->packets > p->top[i - 1].packets ||
			 (s->packets == p->top[i - 1].packets && s->incidents > p->top[i - 1].incidents)))
		i--;
	if (i >= SEG_REPORT_TOP)
		return;
	size_t n = p->n_top < SEG_REPORT_TOP ? p->n_top : SEG_REPORT_TOP - 1;
	memmove(&p->top[i + 1], &p->top[i], (n - i) * sizeof(p->top[0]));
	p->top[i] = *s;
	if (p->n_top < SEG_REPORT_TOP)
		p->n_top++;
}

static int by_packets(const void *a, const void *b)
{
	const struct seg_report_pair *x = a, *y = b;

	if (x->packets != y->packets)
		return x->packets > y->packets ? -1 : 1;
	if (x->incidents != y->incidents)
		return x->incidents > y->incidents ? -1 : 1;
	int c = strcmp(x->from, y->from);
	return c ? c : (c = strcmp(x->to, y->to)) ? c : strcmp(x->event, y->event);
}

int seg_report_finish_incidents(struct seg_report *r)
{
	struct seg_report_acc *a = r->acc;

	if (a && a->n) {
		qsort(a->v, a->n, sizeof(*a->v), by_pair_addr);
		for (size_t i = 0, j; i < a->n; i = j) {
			struct seg_report_source s = { .incidents = 0 };
			snprintf(s.addr, sizeof(s.addr), "%s", a->v[i].addr);
			for (j = i; j < a->n && by_pair_addr(&a->v[i], &a->v[j]) == 0; j++) {
				s.incidents++;
				s.packets += a->v[j].packets;
			}
			r->pairs[a->v[i].pair].sources++;
			offer_top(&r->pairs[a->v[i].pair], &s);
		}
	}
	if (a)
		free(a->v);
	free(a);
	r->acc = NULL;
	if (r->n_pairs)
		qsort(r->pairs, r->n_pairs, sizeof(*r->pairs), by_packets);
	return 0;
}

static int take_record(const struct seg_spool_rec *rec, void *ctx)
{
	struct seg_report *r = ctx;
	const char *pk = seg_spool_get(rec, "packets");
	uint64_t packets = pk ? strtoull(pk, NULL, 10) : 0;

	return seg_report_add_incident(r, seg_spool_get(rec, "event"), seg_spool_get(rec, "src_zone"),
				       seg_spool_get(rec, "dst_zone"), seg_spool_get(rec, "src"), packets,
				       rec->first_us);
}

static void read_spool(struct seg_report *r, const char *path)
{
	struct seg_spool_filter f = { .since_us = r->since_us, .until_us = r->until_us };
	struct seg_spool_read_stats st = { 0 };

	r->spool = path ? strdup(path) : NULL;
	if (!r->spool) {
		r->spool_err = path ? -ENOMEM : -ENOENT;
		return;
	}
	r->spool_err = seg_spool_read(path, &f, take_record, r, &st);
	r->spool_lines = st.lines;
	r->spool_bad = st.bad;
	int e = seg_report_finish_incidents(r);
	if (!r->spool_err)
		r->spool_err = e;
}

/* ---- the configuration: matrix and conduits -------------------------------- */

static enum seg_report_cell cell_of(const struct seg_config *cfg, size_t a, size_t b, size_t n_open)
{
	if (a == b)
		return SEG_CELL_INTRA;
	if (cfg->zones[a].isolated || cfg->zones[b].isolated)
		return SEG_CELL_ISOLATED;
	if (seg_zone_pair_guarded(cfg, a, b))
		return SEG_CELL_GUARD;
	return n_open ? SEG_CELL_OPEN : SEG_CELL_DENY;
}

static bool conduit_installed(const struct seg_config *cfg, const struct seg_conduit *c)
{
	const struct seg_zone *a = &cfg->zones[c->from], *b = &cfg->zones[c->to];

	/* as compile.c: the gateway has no interfaces, yet its conduits are installed */
	return !c->expired && !a->isolated && !b->isolated && (a->n_ifaces || a->kind == SEG_ZONE_GATEWAY) &&
	       b->n_ifaces &&
	       !seg_zone_pair_guarded(cfg, c->from, c->to);
}

static void fill_hits(struct seg_report *r, struct seg_report_conduit *rc, const struct seg_conduit *c)
{
	rc->has_hits = !rc->installed;    /* not installed: zero is a fact, not a gap */
	for (size_t i = 0; r->counters && i < r->counters->n_conduits; i++)
		if (strcmp(r->counters->conduits[i].name, c->name) == 0) {
			rc->has_hits = true;
			rc->packets = r->counters->conduits[i].packets;
			rc->bytes = r->counters->conduits[i].bytes;
			return;
		}
}

static void fill_conduits(struct seg_report *r)
{
	const struct seg_config *cfg = r->cfg;

	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *c = &cfg->conduits[i];
		struct seg_report_conduit *rc = &r->conduits[i];
		rc->index = i;
		rc->days_left = c->expires_day - r->today;
		rc->expired = c->expired || rc->days_left < 0;
		rc->soon = !rc->expired && rc->days_left <= (int64_t)r->soon_days;
		rc->installed = conduit_installed(cfg, c);
		fill_hits(r, rc, c);
		r->n_expired += rc->expired;
		r->n_soon += rc->soon;
		r->n_installed += rc->installed;
	}
	r->n_conduits = cfg->n_conduits;
}

int seg_report_fill_config(struct seg_report *r)
{
	const struct seg_config *cfg = r->cfg;
	size_t nz = cfg->n_zones;

	free(r->cells);
	free(r->cell_open);
	free(r->conduits);
	r->n_expired = r->n_soon = r->n_installed = 0;
	r->cells = calloc(nz * nz + 1, sizeof(*r->cells));
	r->cell_open = calloc(nz * nz + 1, sizeof(*r->cell_open));
	r->conduits = calloc(cfg->n_conduits + 1, sizeof(*r->conduits));
	if (!r->cells || !r->cell_open || !r->conduits)
		return -ENOMEM;
	fill_conduits(r);
	for (size_t i = 0; i < cfg->n_conduits; i++)
		if (r->conduits[i].installed)
			r->cell_open[cfg->conduits[i].from * nz + cfg->conduits[i].to]++;
	for (size_t a = 0; a < nz; a++)
		for (size_t b = 0; b < nz; b++)
			r->cells[a * nz + b] = cell_of(cfg, a, b, r->cell_open[a * nz + b]);
	return 0;
}

/* ---- the kernel ---------------------------------------------------------------- */

static void attach_drop_counters(struct seg_report *r)
{
	for (size_t i = 0; r->counters && i < r->counters->n_drops; i++) {
		const struct seg_drop_count *d = &r->counters->drops[i];
		const char *ev = seg_event_info(seg_event_of_nflog(d->event))->name;
		long pi = find_pair(r, ev, d->from, d->to);
		/* M and D share flow-denied: the pair's count adds up */
		if (pi < 0 && d->packets == 0)
			continue;
		if (pi < 0 && (pi = add_pair(r, ev, d->from, d->to)) < 0)
			return;
		r->pairs[pi].has_kernel = true;
		r->pairs[pi].kernel_packets += d->packets;
	}
}

static void read_kernel(struct seg_report *r)
{
	struct seg_zonemap map = { 0 };
	struct seg_plan *plan = NULL;
	int e = seg_zonemap_build(r->cfg, &map);

	if (e == 0)
		e = seg_plan_compile(r->cfg, &map, &plan);
	if (e < 0) {
		r->verify_err = r->counters_err = e;
		seg_zonemap_free(&map);
		return;
	}
	r->verify_err = seg_nft_verify(plan, &r->diff);
	r->counters_err = seg_nft_counters(plan, &r->counters);
	seg_plan_free(plan);
	seg_zonemap_free(&map);
}

/* ---- state_dir ------------------------------------------------------------------- */

static void read_state(struct seg_report *r)
{
	const char *dir = r->cfg->settings.state_dir;
	struct seg_revision *all = NULL;
	size_t n = 0;

	if (!dir) {
		r->rev_err = r->iso_err = -ENOENT;
		return;
	}
	r->rev_err = seg_rev_list(dir, &all, &n);
	r->revs_total = n;
	r->revs = calloc(n + 1, sizeof(*r->revs));
	if (!r->revs) {
		r->rev_err = -ENOMEM;
		seg_rev_list_free(all, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t t = all[i].time * 1000000;
		if (t >= r->since_us && t <= r->until_us) {
			r->revs[r->n_revs++] = all[i];        /* moves its approvals */
			memset(&all[i], 0, sizeof(all[i]));
		}
	}
	seg_rev_list_free(all, n);
}

static void apply_isolation(struct seg_report *r)
{
	for (size_t i = 0; i < r->iso.n; i++) {
		int z = seg_zone_find(r->cfg, r->iso.v[i].zone);
		if (z >= 0)
			r->cfg->zones[z].isolated = true;
	}
}

/* ---- the whole report ---------------------------------------------------------------- */

static int load_config(struct seg_report *r, const char *path)
{
	seg_diags_free(&r->diags);
	if (!(r->config_file = strdup(path)))
		return -ENOMEM;
	if (seg_sha256_file(path, r->sha256) < 0)
		r->sha256[0] = '\0';
	r->load_err = seg_config_load(path, r->today, &r->cfg, &r->diags);
	return 0;
}

int seg_report_collect(const struct seg_report_opts *o, struct seg_report **ret)
{
	struct seg_report *r;
	int64_t until = o->until_us ? o->until_us : o->now_us;
	int64_t since = o->since_us ? o->since_us : until - SEG_REPORT_DEFAULT_SPAN_US;
	int e = seg_report_new(since, until, &r);

	if (e < 0)
		return e;
	r->generated_us = o->now_us;
	r->today = o->now_us / DAY_US;      /* expiry days are UTC dates (model.h) */
	r->soon_days = o->soon_days ? o->soon_days : SEG_REPORT_SOON_DAYS;
	r->kernel_skipped = o->no_kernel;
	if ((e = load_config(r, o->config)) < 0 || !r->cfg) {
		read_spool(r, o->spool);
		*ret = r;
		return e;
	}
	r->iso_err = r->cfg->settings.state_dir ? seg_iso_load(r->cfg->settings.state_dir, &r->iso, NULL) : -ENOENT;
	apply_isolation(r);
	if (!o->no_kernel)
		read_kernel(r);
	if ((e = seg_report_fill_config(r)) == 0) {
		read_spool(r, o->spool ? o->spool : r->cfg->settings.spool);
		attach_drop_counters(r);
		read_state(r);
	}
	*ret = r;
	return e;
}

/* ---- the daemon's counters ------------------------------------------------------------- */

static uint64_t kv_u64(const struct seg_kvlist *l, const char *k)
{
	const char *v = seg_kv_get(l, k);

	return v ? strtoull(v, NULL, 10) : 0;
}

void seg_report_add_status(struct seg_report *r, const struct seg_kvlist *st)
{
	struct seg_report_loss *l = &r->loss;
	const char *deg = seg_kv_get(st, "degraded");

	l->available = true;
	l->incidents_emitted = kv_u64(st, "incidents_emitted");
	l->packets_in_incidents = kv_u64(st, "packets_in_incidents");
	l->not_sampled = kv_u64(st, "not_sampled");
	l->seq_gaps = kv_u64(st, "seq_gaps");
	l->undecodable = kv_u64(st, "undecodable");
	l->socket_drops = kv_u64(st, "socket_drops");
	l->journal_sent = kv_u64(st, "journal_sent");
	l->journal_dropped = kv_u64(st, "journal_dropped");
	l->spool_lines = kv_u64(st, "spool_lines");
	l->spool_dropped = kv_u64(st, "spool_dropped");
	snprintf(l->degraded, sizeof(l->degraded), "%s", deg ? deg : "");
}

void seg_report_set_no_daemon(struct seg_report *r, const char *why)
{
	r->loss.available = false;
	snprintf(r->loss.error, sizeof(r->loss.error), "%s", why ? why : "segd did not answer");
}

void seg_report_free(struct seg_report *r)
{
	if (!r)
		return;
	free(r->config_file);
	seg_config_free(r->cfg);
	seg_diags_free(&r->diags);
	free(r->cells);
	free(r->cell_open);
	seg_counters_free(r->counters);
	free(r->conduits);
	free(r->spool);
	free(r->pairs);
	free(r->days);
	if (r->acc)
		free(r->acc->v);
	free(r->acc);
	seg_rev_list_free(r->revs, r->n_revs);
	seg_iso_free(&r->iso);
	free(r);
}
