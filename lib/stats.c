/* stats.c - kernel counters per drop rule and per conduit; counters and
 * verify results as key=value lists (stats.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "stats.h"

static const char *const event_names[SEG_NFLOG_EVENT_COUNT] = {
	[SEG_NFLOG_DENIED] = "flow-denied", [SEG_NFLOG_GUARD] = "model-guard",
	[SEG_NFLOG_UNZONED] = "unzoned", [SEG_NFLOG_SPOOFED] = "spoofed-source",
	[SEG_NFLOG_TO_GATEWAY] = "to-gateway", [SEG_NFLOG_ISOLATED] = "isolated",
	[SEG_NFLOG_FROM_GATEWAY] = "from-gateway", [SEG_NFLOG_LINK_SCOPE] = "link-scope",
};

/* A new event letter must get its name here (a NULL would reach strcmp). */
_Static_assert(SEG_NFLOG_EVENT_COUNT == 8, "name every NFLOG event in event_names");

const char *seg_drop_event_name(enum seg_nflog_event ev)
{
	return (unsigned)ev < SEG_NFLOG_EVENT_COUNT ? event_names[ev] : NULL;
}

int seg_drop_event_parse(const char *name, enum seg_nflog_event *ret)
{
	for (int i = 0; i < SEG_NFLOG_EVENT_COUNT; i++)
		if (event_names[i] && strcmp(name, event_names[i]) == 0) {
			*ret = (enum seg_nflog_event)i;
			return 0;
		}
	return -EINVAL;
}

void seg_counters_free(struct seg_counters *c)
{
	if (!c)
		return;
	free(c->drops);
	free(c->conduits);
	free(c);
}

/* ---- drops, keyed by (from, to, event) ---- */

static int cmp_drop(const void *pa, const void *pb)
{
	const struct seg_drop_count *a = pa, *b = pb;
	int r = strcmp(a->from, b->from);

	if (r == 0)
		r = strcmp(a->to, b->to);
	if (r == 0)
		r = (a->event > b->event) - (a->event < b->event);
	return r;
}

static int push_drop(struct seg_counters *c, const struct seg_drop_count *d)
{
	if (c->n_drops == c->cap_drops) {
		size_t cap = c->cap_drops ? c->cap_drops * 2 : 32;
		struct seg_drop_count *v = reallocarray(c->drops, cap, sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->drops = v;
		c->cap_drops = cap;
	}
	c->drops[c->n_drops++] = *d;
	return 0;
}

/* Adds to the entry of key, or makes one, keeping the array sorted. */
static int add_drop(struct seg_counters *c, const struct seg_drop_count *key)
{
	struct seg_drop_count *hit = c->n_drops ? bsearch(key, c->drops, c->n_drops, sizeof(*key), cmp_drop) : NULL;

	if (hit) {
		hit->packets += key->packets;
		hit->bytes += key->bytes;
		return 0;
	}
	int r = push_drop(c, key);
	if (r == 0)
		qsort(c->drops, c->n_drops, sizeof(*c->drops), cmp_drop);  /* rare: a rule the plan lacks */
	return r;
}

static int drop_of_prefix(const char *prefix, struct seg_drop_count *out)
{
	struct seg_nflog_rec rec;

	memset(&rec, 0, sizeof(rec));
	if (seg_nflog_parse_prefix(prefix, &rec) != SEG_NFLOG_OK)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->event = rec.event;
	memcpy(out->from, rec.from, sizeof(out->from));
	memcpy(out->to, rec.to, sizeof(out->to));
	return 0;
}

int seg_counters_add_drop(struct seg_counters *c, const char *log_prefix, uint64_t packets, uint64_t bytes)
{
	struct seg_drop_count d;

	if (drop_of_prefix(log_prefix, &d) < 0)
		return -EINVAL;
	d.packets = packets;
	d.bytes = bytes;
	return add_drop(c, &d);
}

/* ---- conduits, through the plan's elements ---- */

struct elem_key {
	const uint8_t *key;
	size_t len;
};

static int cmp_elem_key(const void *pk, const void *pe)
{
	const struct elem_key *k = pk;
	const struct seg_plan_elem *e = pe;

	return memcmp(k->key, e->lo, k->len);
}

/* The kernel holds an element under its start (plan elements are sorted by
 * it and no two share one: hash keys are unique, interval boxes disjoint). */
void seg_counters_add_elem(struct seg_counters *c, const struct seg_plan *plan, size_t set,
			   const uint8_t *key, size_t key_len, uint64_t packets, uint64_t bytes)
{
	const struct seg_plan_set *s = set < plan->n_sets ? &plan->sets[set] : NULL;
	const struct seg_plan_elem *e = NULL;

	if (s && s->n_elems && key_len == seg_set_key_len(s)) {
		struct elem_key k = { key, key_len };
		e = bsearch(&k, s->elems, s->n_elems, sizeof(*s->elems), cmp_elem_key);
	}
	if (!e || e->conduit == 0 || e->conduit > c->n_conduits) {
		c->unattributed++;
		c->unattributed_packets += packets;
		c->unattributed_bytes += bytes;
		return;
	}
	c->conduits[e->conduit - 1].packets += packets;
	c->conduits[e->conduit - 1].bytes += bytes;
}

static int name_copy(char *dst, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n > SEG_MAX_NAME)
		return -EINVAL;
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

static int plan_drops(struct seg_counters *c, const struct seg_plan *plan)
{
	int r = 0;

	for (size_t i = 0; i < plan->n_chains && r == 0; i++)
		for (size_t j = 0; j < plan->chains[i].n_rules && r == 0; j++) {
			const struct seg_plan_rule *rule = &plan->chains[i].rules[j];
			struct seg_drop_count d;
			if (rule->action == SEG_A_DROP && drop_of_prefix(rule->log_prefix, &d) == 0)
				r = add_drop(c, &d);
		}
	return r;
}

int seg_counters_new(const struct seg_plan *plan, struct seg_counters **ret)
{
	struct seg_counters *c = calloc(1, sizeof(*c));
	int r = c ? 0 : -ENOMEM;

	if (r == 0 && !(c->conduits = calloc(plan->n_conduits + 1, sizeof(*c->conduits))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < plan->n_conduits; i++) {
		struct seg_conduit_count *k = &c->conduits[c->n_conduits++];
		const struct seg_plan_conduit *pc = &plan->conduits[i];
		if (name_copy(k->name, pc->name) < 0 || name_copy(k->from, pc->from) < 0 || name_copy(k->to, pc->to) < 0)
			r = -EINVAL;
	}
	if (r == 0)
		r = plan_drops(c, plan);
	if (r < 0) {
		seg_counters_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---- from the kernel ---- */

struct reading {
	struct seg_counters *c;
	const struct seg_plan *plan;
	int err;
};

static void on_rule(const char *chain, const char *prefix, uint64_t packets, uint64_t bytes, void *ctx)
{
	struct reading *rd = ctx;
	int r = seg_counters_add_drop(rd->c, prefix, packets, bytes);

	(void)chain;
	if (r == -ENOMEM)               /* a foreign prefix (-EINVAL) is not ours to count */
		rd->err = r;
}

static void on_elem(size_t set, const uint8_t *key, size_t key_len, uint64_t packets, uint64_t bytes, void *ctx)
{
	struct reading *rd = ctx;

	seg_counters_add_elem(rd->c, rd->plan, set, key, key_len, packets, bytes);
}

int seg_nft_counters(const struct seg_plan *plan, struct seg_counters **ret)
{
	static const struct seg_nft_counter_fns fns = { .rule = on_rule, .elem = on_elem };
	struct reading rd = { .plan = plan };
	int r = seg_counters_new(plan, &rd.c);

	if (r == 0)
		r = seg_nft_read_counters(plan, &fns, &rd);
	if (r == 0)
		r = rd.err;
	if (r < 0) {
		seg_counters_free(rd.c);
		return r;
	}
	*ret = rd.c;
	return 0;
}

/* ---- key=value ---- */

static const char *zone_or_dash(const char *z)
{
	return z[0] ? z : "-";
}

static int cmp_busier(const void *pa, const void *pb, void *ctx)
{
	const struct seg_conduit_count *v = ctx;
	size_t a = *(const size_t *)pa, b = *(const size_t *)pb;

	if (v[a].packets != v[b].packets)
		return v[a].packets < v[b].packets ? 1 : -1;
	return (a > b) - (a < b);
}

/* keep[i]: conduit i is listed; the busiest SEG_STATS_MAX_CONDUITS_KV are. */
static bool *pick_conduits(const struct seg_counters *c)
{
	bool *keep = calloc(c->n_conduits + 1, sizeof(*keep));
	size_t *order = calloc(c->n_conduits + 1, sizeof(*order));

	if (keep && order) {
		for (size_t i = 0; i < c->n_conduits; i++)
			order[i] = i;
		if (c->n_conduits > SEG_STATS_MAX_CONDUITS_KV)
			qsort_r(order, c->n_conduits, sizeof(*order), cmp_busier, c->conduits);
		for (size_t i = 0; i < c->n_conduits && i < SEG_STATS_MAX_CONDUITS_KV; i++)
			keep[order[i]] = true;
	} else {
		free(keep);
		keep = NULL;
	}
	free(order);
	return keep;
}

static int conduits_to_kv(const struct seg_counters *c, struct seg_kvlist *out)
{
	bool *keep = pick_conduits(c);
	size_t omitted = c->omitted;
	uint64_t op = c->omitted_packets, ob = c->omitted_bytes;
	int r = keep ? 0 : -ENOMEM;

	for (size_t i = 0; i < c->n_conduits && r == 0; i++) {
		const struct seg_conduit_count *k = &c->conduits[i];
		if (keep[i]) {
			r = seg_kv_addf(out, "conduit", "%s %s %s %" PRIu64 " %" PRIu64, k->name, k->from, k->to,
					k->packets, k->bytes);
			continue;
		}
		omitted++;
		op += k->packets;
		ob += k->bytes;
	}
	if (r == 0 && omitted)
		r = seg_kv_addf(out, "conduits_omitted", "%zu %" PRIu64 " %" PRIu64, omitted, op, ob);
	free(keep);
	return r;
}

int seg_counters_to_kv(const struct seg_counters *c, struct seg_kvlist *out)
{
	int r = 0;

	for (size_t i = 0; i < c->n_drops && r == 0; i++) {
		const struct seg_drop_count *d = &c->drops[i];
		r = seg_kv_addf(out, "drop", "%s %s %s %" PRIu64 " %" PRIu64, seg_drop_event_name(d->event),
				zone_or_dash(d->from), zone_or_dash(d->to), d->packets, d->bytes);
	}
	if (r == 0)
		r = conduits_to_kv(c, out);
	if (r == 0 && c->unattributed)
		r = seg_kv_addf(out, "unattributed", "%zu %" PRIu64 " %" PRIu64, c->unattributed,
				c->unattributed_packets, c->unattributed_bytes);
	return r;
}

/* "<a> <b> <c> <packets> <bytes>": three names (or "-") and two counts. */
static int split_counts(const char *v, char names[3][SEG_MAX_NAME + 1], size_t n_names, uint64_t *packets,
			uint64_t *bytes)
{
	char rest[2][24];
	int used = 0;

	for (size_t i = 0; i < n_names; i++) {
		if (sscanf(v, " %31[a-z0-9_-]%n", names[i], &used) != 1 || (v[used] != ' '))
			return -EBADMSG;
		v += used;
	}
	if (sscanf(v, " %20[0-9] %20[0-9]%n", rest[0], rest[1], &used) != 2 || v[used] != '\0')
		return -EBADMSG;
	*packets = strtoull(rest[0], NULL, 10);
	*bytes = strtoull(rest[1], NULL, 10);
	return 0;
}

static int drop_from_kv(struct seg_counters *c, const char *v)
{
	char n[3][SEG_MAX_NAME + 1] = { { 0 } };
	struct seg_drop_count d = { 0 };

	if (split_counts(v, n, 3, &d.packets, &d.bytes) < 0 || seg_drop_event_parse(n[0], &d.event) < 0)
		return -EBADMSG;
	memcpy(d.from, strcmp(n[1], "-") ? n[1] : "", strcmp(n[1], "-") ? sizeof(d.from) : 1);
	memcpy(d.to, strcmp(n[2], "-") ? n[2] : "", strcmp(n[2], "-") ? sizeof(d.to) : 1);
	return add_drop(c, &d);
}

static int conduit_from_kv(struct seg_counters *c, const char *v)
{
	char n[3][SEG_MAX_NAME + 1] = { { 0 } };
	struct seg_conduit_count k = { 0 };

	if (split_counts(v, n, 3, &k.packets, &k.bytes) < 0)
		return -EBADMSG;
	memcpy(k.name, n[0], sizeof(k.name));
	memcpy(k.from, n[1], sizeof(k.from));
	memcpy(k.to, n[2], sizeof(k.to));
	struct seg_conduit_count *v2 = reallocarray(c->conduits, c->n_conduits + 1, sizeof(*v2));
	if (!v2)
		return -ENOMEM;
	c->conduits = v2;
	c->conduits[c->n_conduits++] = k;
	return 0;
}

static int totals_from_kv(const char *v, size_t *count, uint64_t *packets, uint64_t *bytes)
{
	char a[24], b[24], n[24];
	int used = 0;

	if (sscanf(v, "%20[0-9] %20[0-9] %20[0-9]%n", n, a, b, &used) != 3 || v[used] != '\0')
		return -EBADMSG;
	*count = (size_t)strtoull(n, NULL, 10);
	*packets = strtoull(a, NULL, 10);
	*bytes = strtoull(b, NULL, 10);
	return 0;
}

static int counters_pair(struct seg_counters *c, const struct seg_kv *kv)
{
	if (strcmp(kv->key, "drop") == 0)
		return drop_from_kv(c, kv->value);
	if (strcmp(kv->key, "conduit") == 0)
		return conduit_from_kv(c, kv->value);
	if (strcmp(kv->key, "conduits_omitted") == 0)
		return totals_from_kv(kv->value, &c->omitted, &c->omitted_packets, &c->omitted_bytes);
	if (strcmp(kv->key, "unattributed") == 0)
		return totals_from_kv(kv->value, &c->unattributed, &c->unattributed_packets, &c->unattributed_bytes);
	return 0;
}

int seg_counters_from_kv(const struct seg_kvlist *l, struct seg_counters **ret)
{
	struct seg_counters *c = calloc(1, sizeof(*c));
	int r = c ? 0 : -ENOMEM;

	for (size_t i = 0; i < l->n && r == 0; i++)
		r = counters_pair(c, &l->v[i]);
	if (r < 0) {
		seg_counters_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* ---- verify's result ---- */

struct diff_counts {
	const char *key;
	size_t off[3];                 /* offsets of missing, extra, changed in struct seg_nft_diff */
};

#define DOFF(f) offsetof(struct seg_nft_diff, f)
static const struct diff_counts diff_keys[] = {
	{ "diff.chains", { DOFF(chains_missing), DOFF(chains_extra), DOFF(chains_changed) } },
	{ "diff.rules", { DOFF(rules_missing), DOFF(rules_extra), DOFF(rules_changed) } },
	{ "diff.sets", { DOFF(sets_missing), DOFF(sets_extra), DOFF(sets_changed) } },
	{ "diff.elements", { DOFF(elems_missing), DOFF(elems_extra), DOFF(elems_changed) } },
};
#undef DOFF

static size_t *count_at(struct seg_nft_diff *d, size_t off)
{
	return (size_t *)((char *)d + off);
}

static size_t count_of(const struct seg_nft_diff *d, size_t off)
{
	return *(const size_t *)((const char *)d + off);
}

int seg_nft_diff_to_kv(const struct seg_nft_diff *d, struct seg_kvlist *out)
{
	int r = seg_kv_add(out, "in_sync", d->in_sync ? "yes" : "no");

	if (r == 0)
		r = seg_kv_add(out, "diff.table", d->table_missing ? "missing" : d->table_changed ? "changed" : "ok");
	for (size_t i = 0; i < sizeof(diff_keys) / sizeof(diff_keys[0]) && r == 0; i++)
		r = seg_kv_addf(out, diff_keys[i].key, "%zu %zu %zu", count_of(d, diff_keys[i].off[0]),
				count_of(d, diff_keys[i].off[1]), count_of(d, diff_keys[i].off[2]));
	for (size_t i = 0; i < d->n_text && i < SEG_NFT_DIFF_TEXTS && r == 0; i++)
		r = seg_kv_add(out, "diff", d->text[i]);
	if (r == 0 && d->n_more)
		r = seg_kv_addf(out, "diff_more", "%zu", d->n_more);
	return r;
}

static int diff_counts_from(const char *v, struct seg_nft_diff *d, const struct diff_counts *k)
{
	char n[3][24];
	int used = 0;

	if (sscanf(v, "%20[0-9] %20[0-9] %20[0-9]%n", n[0], n[1], n[2], &used) != 3 || v[used] != '\0')
		return -EBADMSG;
	for (int i = 0; i < 3; i++)
		*count_at(d, k->off[i]) = (size_t)strtoull(n[i], NULL, 10);
	return 0;
}

static int diff_pair(struct seg_nft_diff *d, const struct seg_kv *kv)
{
	for (size_t i = 0; i < sizeof(diff_keys) / sizeof(diff_keys[0]); i++)
		if (strcmp(kv->key, diff_keys[i].key) == 0)
			return diff_counts_from(kv->value, d, &diff_keys[i]);
	if (strcmp(kv->key, "in_sync") == 0) {
		d->in_sync = strcmp(kv->value, "yes") == 0;
		return d->in_sync || strcmp(kv->value, "no") == 0 ? 0 : -EBADMSG;
	}
	if (strcmp(kv->key, "diff.table") == 0) {
		d->table_missing = strcmp(kv->value, "missing") == 0;
		d->table_changed = strcmp(kv->value, "changed") == 0;
		return d->table_missing || d->table_changed || strcmp(kv->value, "ok") == 0 ? 0 : -EBADMSG;
	}
	if (strcmp(kv->key, "diff") == 0) {
		if (d->n_text < SEG_NFT_DIFF_TEXTS)
			snprintf(d->text[d->n_text++], SEG_NFT_DIFF_TEXT, "%s", kv->value);
		else
			d->n_more++;
		return 0;
	}
	if (strcmp(kv->key, "diff_more") == 0)
		d->n_more += (size_t)strtoull(kv->value, NULL, 10);
	return 0;
}

int seg_nft_diff_from_kv(const struct seg_kvlist *l, struct seg_nft_diff *ret)
{
	struct seg_nft_diff d;
	int r = 0;

	memset(&d, 0, sizeof(d));
	if (!seg_kv_get(l, "in_sync"))
		return -EBADMSG;
	for (size_t i = 0; i < l->n && r == 0; i++)
		r = diff_pair(&d, &l->v[i]);
	if (r == 0)
		*ret = d;
	return r;
}
