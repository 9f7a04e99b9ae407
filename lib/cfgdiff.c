/* cfgdiff.c - semantic difference of two models, field by field. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "cfgdiff.h"

#define WHOLE_ZONE "(whole zone)"

typedef char *(*render_fn)(const struct seg_config *cfg, const void *obj);

struct field_def {
	const char *name;
	render_fn render;
};

/* ---- rendering values ---- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts and joins n strings (takes ownership of them and of v). */
static char *join_sorted(char **v, size_t n, const char *empty)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f) {
		qsort(v, n, sizeof(*v), cmp_str);
		for (size_t i = 0; i < n; i++)
			if (i == 0 || strcmp(v[i], v[i - 1]) != 0)   /* duplicates are no difference */
				fprintf(f, "%s%s", i ? ", " : "", v[i]);
		if (n == 0)
			fputs(empty, f);
		if (fclose(f) != 0) {
			free(out);
			out = NULL;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return out;
}

static char *str_list(char *const *s, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++)
		if (!(v[i] = strdup(s[i])))
			return free(join_sorted(v, i, "")), NULL;
	return v ? join_sorted(v, n, "") : NULL;
}

static char *prefix_list(const struct seg_prefix *p, size_t n, const char *empty)
{
	char **v = calloc(n + 1, sizeof(*v)), buf[64];

	for (size_t i = 0; v && i < n; i++) {
		seg_prefix_format(&p[i], buf, sizeof(buf));
		if (!(v[i] = strdup(buf)))
			return free(join_sorted(v, i, "")), NULL;
	}
	return v ? join_sorted(v, n, empty) : NULL;
}

static char *service_list(const struct seg_service *s, size_t n)
{
	char **v = calloc(n + 1, sizeof(*v)), buf[32];

	for (size_t i = 0; v && i < n; i++) {
		seg_service_format(&s[i], buf, sizeof(buf));
		if (!(v[i] = strdup(buf)))
			return free(join_sorted(v, i, "")), NULL;
	}
	return v ? join_sorted(v, n, "") : NULL;
}

static char *text(const char *s)
{
	return strdup(s ? s : "");
}

static char *number(unsigned long long x)
{
	char *s = NULL;
	return asprintf(&s, "%llu", x) < 0 ? NULL : s;
}

/* ---- the fields of each kind of thing ---- */

#define SETTING(fld) static char *set_##fld(const struct seg_config *c, const void *o) \
	{ (void)o; return text(c->settings.fld); }
SETTING(table)
SETTING(spool)
SETTING(control_socket)
SETTING(control_group)
SETTING(state_dir)
static char *set_version(const struct seg_config *c, const void *o) { (void)o; return number((unsigned)c->version); }
static char *set_log_group(const struct seg_config *c, const void *o) { (void)o; return number(c->settings.log_group); }
static char *set_window(const struct seg_config *c, const void *o) { (void)o; return number(c->settings.incident_window); }
static char *set_gw_addrs(const struct seg_config *c, const void *o)
{
	(void)o;
	return prefix_list(c->settings.gateway_addrs, c->settings.n_gateway_addrs, "");
}
static char *set_mgmt(const struct seg_config *c, const void *o) { (void)o; return str_list(c->settings.mgmt_ifaces, c->settings.n_mgmt_ifaces); }

static const struct field_def settings_fields[] = {
	{ "version", set_version }, { "table", set_table }, { "log_group", set_log_group },
	{ "incident_window", set_window }, { "spool", set_spool }, { "control_socket", set_control_socket },
	{ "control_group", set_control_group }, { "state_dir", set_state_dir },
	{ "gateway_addresses", set_gw_addrs }, { "management_interfaces", set_mgmt },
};

#define ZONE(o) ((const struct seg_zone *)(o))
static char *zone_kind(const struct seg_config *c, const void *o) { (void)c; return text(seg_zone_kind_name(ZONE(o)->kind)); }
static char *zone_ifaces(const struct seg_config *c, const void *o) { (void)c; return str_list(ZONE(o)->ifaces, ZONE(o)->n_ifaces); }
static char *zone_nets(const struct seg_config *c, const void *o) { (void)c; return prefix_list(ZONE(o)->nets, ZONE(o)->n_nets, ""); }
static char *zone_gw(const struct seg_config *c, const void *o) { (void)c; return service_list(ZONE(o)->gw_services, ZONE(o)->n_gw_services); }
static char *zone_link(const struct seg_config *c, const void *o) { (void)c; return service_list(ZONE(o)->link_services, ZONE(o)->n_link_services); }

static const struct field_def zone_fields[] = {
	{ "kind", zone_kind }, { "interfaces", zone_ifaces }, { "networks", zone_nets },
	{ "gateway_services", zone_gw },
	{ "link_services", zone_link },
};

#define COND(o) ((const struct seg_conduit *)(o))
static char *cond_kind(const struct seg_config *c, const void *o) { (void)c; return text(seg_conduit_kind_name(COND(o)->kind)); }
static char *cond_from(const struct seg_config *c, const void *o) { return text(c->zones[COND(o)->from].name); }
static char *cond_to(const struct seg_config *c, const void *o) { return text(c->zones[COND(o)->to].name); }
static char *cond_srcs(const struct seg_config *c, const void *o)
{
	return prefix_list(COND(o)->srcs, COND(o)->n_srcs,
			   seg_zone_is_gateway(c, COND(o)->from) ? "(the gateway's own addresses)" : WHOLE_ZONE);
}
static char *cond_dsts(const struct seg_config *c, const void *o) { (void)c; return prefix_list(COND(o)->dsts, COND(o)->n_dsts, WHOLE_ZONE); }
static char *cond_svcs(const struct seg_config *c, const void *o) { (void)c; return service_list(COND(o)->services, COND(o)->n_services); }
static char *cond_approval(const struct seg_config *c, const void *o) { (void)c; return text(COND(o)->approval); }
static char *cond_expires(const struct seg_config *c, const void *o) { (void)c; return text(COND(o)->expires); }
static char *cond_comment(const struct seg_config *c, const void *o) { (void)c; return text(COND(o)->comment); }

static const struct field_def conduit_fields[] = {
	{ "kind", cond_kind }, { "from", cond_from }, { "to", cond_to }, { "sources", cond_srcs },
	{ "destinations", cond_dsts }, { "services", cond_svcs }, { "approval", cond_approval },
	{ "expires", cond_expires }, { "comment", cond_comment },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- building the list ---- */

static struct seg_diff_item *new_item(struct seg_cfgdiff *d, enum seg_diff_what w, enum seg_diff_op op,
				      const char *name)
{
	struct seg_diff_item *v = realloc(d->items, (d->n + 1) * sizeof(*v));

	if (!v)
		return NULL;
	d->items = v;
	struct seg_diff_item *it = &v[d->n];
	*it = (struct seg_diff_item){ .what = w, .op = op, .name = strdup(name) };
	if (!it->name)
		return NULL;
	d->n++;
	return it;
}

static int add_field(struct seg_diff_item *it, const char *field, char *old_v, char *new_v)
{
	struct seg_diff_field *v = realloc(it->fields, (it->n_fields + 1) * sizeof(*v));

	if (!v) {
		free(old_v);
		free(new_v);
		return -ENOMEM;
	}
	it->fields = v;
	v[it->n_fields++] = (struct seg_diff_field){ field, old_v, new_v };
	return 0;
}

/* Compares one thing field by field (either side may be NULL: added/removed). */
static int compare(struct seg_cfgdiff *d, enum seg_diff_what w, const char *name,
		   const struct field_def *defs, size_t n_defs,
		   const struct seg_config *ca, const void *oa, const struct seg_config *cb, const void *ob)
{
	struct seg_diff_item *it = NULL;
	enum seg_diff_op op = !oa ? SEG_DIFF_ADDED : !ob ? SEG_DIFF_REMOVED : SEG_DIFF_CHANGED;

	for (size_t i = 0; i < n_defs; i++) {
		char *va = oa ? defs[i].render(ca, oa) : NULL, *vb = ob ? defs[i].render(cb, ob) : NULL;
		if ((oa && !va) || (ob && !vb) || (va && vb && strcmp(va, vb) == 0)) {
			bool oom = (oa && !va) || (ob && !vb);
			free(va);
			free(vb);
			if (oom)
				return -ENOMEM;
			continue;
		}
		if (!it && !(it = new_item(d, w, op, name))) {
			free(va);
			free(vb);
			return -ENOMEM;
		}
		if (add_field(it, defs[i].name, va, vb) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int diff_zones(struct seg_cfgdiff *d, const struct seg_config *a, const struct seg_config *b)
{
	int r = 0;

	/* the gateway is no declared zone: its conduits say what changed */
	for (size_t i = 0; i < seg_zone_count(a) && r == 0; i++)
		if (seg_zone_find(b, a->zones[i].name) < 0)
			r = compare(d, SEG_DIFF_ZONE, a->zones[i].name, zone_fields, N(zone_fields),
				    a, &a->zones[i], b, NULL);
	for (size_t i = 0; i < seg_zone_count(b) && r == 0; i++) {
		int j = seg_zone_find(a, b->zones[i].name);
		r = compare(d, SEG_DIFF_ZONE, b->zones[i].name, zone_fields, N(zone_fields),
			    a, j < 0 ? NULL : &a->zones[j], b, &b->zones[i]);
	}
	return r;
}

static const struct seg_conduit *find_conduit(const struct seg_config *c, const char *name)
{
	for (size_t i = 0; i < c->n_conduits; i++)
		if (strcmp(c->conduits[i].name, name) == 0)
			return &c->conduits[i];
	return NULL;
}

static int diff_conduits(struct seg_cfgdiff *d, const struct seg_config *a, const struct seg_config *b)
{
	int r = 0;

	for (size_t i = 0; i < a->n_conduits && r == 0; i++)
		if (!find_conduit(b, a->conduits[i].name))
			r = compare(d, SEG_DIFF_CONDUIT, a->conduits[i].name, conduit_fields, N(conduit_fields),
				    a, &a->conduits[i], b, NULL);
	for (size_t i = 0; i < b->n_conduits && r == 0; i++)
		r = compare(d, SEG_DIFF_CONDUIT, b->conduits[i].name, conduit_fields, N(conduit_fields),
			    a, find_conduit(a, b->conduits[i].name), b, &b->conduits[i]);
	return r;
}

int seg_cfgdiff_compute(const struct seg_config *a, const struct seg_config *b, struct seg_cfgdiff *ret)
{
	struct seg_cfgdiff d = { 0 };
	int r = compare(&d, SEG_DIFF_SETTINGS, "settings", settings_fields, N(settings_fields), a, a, b, b);

	if (r == 0)
		r = diff_zones(&d, a, b);
	if (r == 0)
		r = diff_conduits(&d, a, b);
	if (r < 0) {
		seg_cfgdiff_free(&d);
		return r;
	}
	*ret = d;
	return 0;
}

void seg_cfgdiff_free(struct seg_cfgdiff *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		for (size_t j = 0; j < d->items[i].n_fields; j++) {
			free(d->items[i].fields[j].old_value);
			free(d->items[i].fields[j].new_value);
		}
		free(d->items[i].fields);
		free(d->items[i].name);
	}
	free(d->items);
	d->items = NULL;
	d->n = 0;
}

const char *seg_diff_what_name(enum seg_diff_what w)
{
	static const char *const names[] = { "settings", "zone", "conduit" };
	return (unsigned)w < N(names) ? names[w] : "?";
}

const char *seg_diff_op_name(enum seg_diff_op op)
{
	static const char *const names[] = { "added", "removed", "changed" };
	return (unsigned)op < N(names) ? names[op] : "?";
}

char *seg_cfgdiff_line(const struct seg_diff_item *it)
{
	char *out = NULL;
	size_t len = 0, shown = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	if (it->what == SEG_DIFF_SETTINGS)
		fputs("settings:", f);
	else
		fprintf(f, "%s '%s'%s%s", seg_diff_what_name(it->what), it->name,
			it->op == SEG_DIFF_CHANGED ? "" : " ", it->op == SEG_DIFF_CHANGED ? ":" :
			seg_diff_op_name(it->op));
	for (size_t i = 0; it->op != SEG_DIFF_REMOVED && i < it->n_fields; i++) {
		const struct seg_diff_field *fd = &it->fields[i];
		if (it->op == SEG_DIFF_ADDED && !fd->new_value[0])
			continue;
		fprintf(f, "%s %s ", shown++ ? ";" : it->op == SEG_DIFF_ADDED ? ":" : "", fd->field);
		if (it->op == SEG_DIFF_CHANGED)
			fprintf(f, "%s -> ", fd->old_value[0] ? fd->old_value : "(none)");
		fputs(fd->new_value[0] ? fd->new_value : "(none)", f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
