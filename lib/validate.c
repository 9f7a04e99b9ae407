/*
 * validate.c - the rules of the three-layer model on a parsed configuration.
 *
 * Also runs on a tree with form errors, so that one run reports everything:
 * zones or conduits whose name, kind or zone references could not be read are
 * skipped by the rules that need them. Each rule appends diagnostics and goes
 * on; nothing is installed while any error remains. Expired conduits are a warning and are marked, so
 * that the compiler and the decision function leave them out.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "config.h"
#include "validate_int.h"
#include "zonemap.h"

#define SOON_DAYS 30

#define ERR(d, line, ...)  seg_diag((d), SEG_SEV_ERROR, (line), __VA_ARGS__)
#define WARN(d, line, ...) seg_diag((d), SEG_SEV_WARNING, (line), __VA_ARGS__)
#define NOTE(d, line, ...) seg_diag((d), SEG_SEV_NOTE, (line), __VA_ARGS__)

static const struct seg_check_info checks[SEG_CHECK_COUNT] = {
	[SEG_CHECK_FORM] = { "form", "keys, types, values and names as documented; conduit hosts inside their zones; "
		"no duplicate entries", "書式・値・名前、通信路の端点が各領域内にあること", "7(6)" },
	[SEG_CHECK_ZONES] = { "zones", "zone networks unicast, not overlapping, no catch-all but an external zone's; "
		"each interface in one zone, by its plain ASCII name", "領域のネットワークとインターフェース", "7(3)" },
	[SEG_CHECK_RULE1] = { "rule1", "no conduit between a mynumber zone and an internet or external zone; a "
		"mynumber zone exists", "マイナンバー利用事務系と外部との通信の禁止", "7(3)①" },
	[SEG_CHECK_MYNUMBER] = { "mynumber", "conduits touching mynumber: specific, unicast single hosts (at most "
		"max_hosts a side), named services opening at most max_ports ports",
		"特定通信: 単一ホスト・名前付きサービス・ポート数の上限", "7(3)①, 7(6)" },
	[SEG_CHECK_RELAY] = { "relay", "lgwan <-> internet/external only sanitize or screen, to single relay or "
		"desktop hosts with named services", "無害化通信・画面転送: 中継ホストの明示", "7(3)②" },
	[SEG_CHECK_INTERNET] = { "internet", "internet -> external only egress to named destinations; external -> "
		"internet only to named hosts and services", "インターネット接続系: セキュリティクラウド経由", "7(3)③" },
	[SEG_CHECK_KINDS] = { "kinds", "each conduit's kind is one the model allows between its zones' kinds",
		"通信路の種別と領域の組合せ", "7(3)" },
	[SEG_CHECK_PATHS] = { "paths", "no host joined to a mynumber zone is also a party of a conduit to or from "
		"the Internet side", "マイナンバー系の接続先がインターネット側と通信しないこと", "7(3)①②" },
	[SEG_CHECK_APPROVAL] = { "approval", "every conduit has a printable approval and an expiry at most "
		"max_validity days ahead; expired ones are not installed", "承認番号と有効期限", "7(9), 8" },
	[SEG_CHECK_TUNNELS] = { "tunnels", "services that carry tunnels are named (warning)",
		"トンネル通信を運ぶサービスの警告", "7(6)" },
	[SEG_CHECK_DUPLICATES] = { "duplicates", "no two conduits open the same (warning)", "重複した通信路の警告",
		"7(9)" },
	[SEG_CHECK_GATEWAY] = { "gateway", "the gateway sends only what conduits from it name, relays nothing "
		"between mynumber and the Internet side, and offers mynumber zones only named, capped services",
		"ゲートウェイ自身の通信: 中継の禁止", "7(3)①" },
};

const struct seg_check_info *seg_check_info(enum seg_check c)
{
	return (unsigned)c < SEG_CHECK_COUNT ? &checks[c] : NULL;
}

/* A zone whose name could not be read still takes part in the other rules. */
static const char *zname(const struct seg_zone *z)
{
	return z->name ? z->name : "(unnamed)";
}

static bool is_mynumber(const struct seg_zone *z)
{
	return z->kind == SEG_ZONE_MYNUMBER;
}

static bool is_outside(const struct seg_zone *z)
{
	return z->kind == SEG_ZONE_INTERNET || z->kind == SEG_ZONE_EXTERNAL;
}

/* ---- names and interfaces ---- */

struct named {
	const char *name;
	int line;
	size_t index;
};

static int by_name(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	int r = strcmp(x->name, y->name);

	return r ? r : (x->index > y->index) - (x->index < y->index);
}

/* Sorting, not comparing every pair: a file may hold 100,000 conduits. Each
 * later definition of a name is reported against the first one. */
static void report_duplicates(struct named *v, size_t n, const char *type, const char *todo,
			      struct seg_diags *d)
{
	qsort(v, n, sizeof(*v), by_name);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (strcmp(v[i].name, v[first].name) != 0) {
			first = i;
			continue;
		}
		ERR(d, v[i].line, "%s '%s' is defined twice — %s", type, v[i].name, todo);
		NOTE(d, v[first].line, "%s '%s' is first defined here", type, v[first].name);
	}
}

static void check_unique_names(const struct seg_config *cfg, struct seg_diags *d)
{
	d->check = SEG_CHECK_ZONES;
	size_t max = cfg->n_zones > cfg->n_conduits ? cfg->n_zones : cfg->n_conduits;
	struct named *v = calloc(max ? max : 1, sizeof(*v));
	size_t n = 0;

	if (!v) {
		d->oom = 1;
		return;
	}
	for (size_t i = 0; i < cfg->n_zones; i++)
		if (cfg->zones[i].name)
			v[n++] = (struct named){ cfg->zones[i].name, cfg->zones[i].line, i };
	report_duplicates(v, n, "zone", "rename or merge one of them", d);
	n = 0;
	for (size_t i = 0; i < cfg->n_conduits; i++)
		if (cfg->conduits[i].name)
			v[n++] = (struct named){ cfg->conduits[i].name, cfg->conduits[i].line, i };
	report_duplicates(v, n, "conduit", "give each conduit its own name", d);
	free(v);
}

static void check_interfaces(const struct seg_config *cfg, struct seg_diags *d)
{
	d->check = SEG_CHECK_ZONES;
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		for (size_t k = 0; k < z->n_ifaces; k++)
			for (size_t j = 0; j <= i; j++) {
				const struct seg_zone *y = &cfg->zones[j];
				size_t end = j == i ? k : y->n_ifaces;
				for (size_t m = 0; m < end; m++) {
					if (strcmp(z->ifaces[k], y->ifaces[m]) != 0)
						continue;
					if (j == i)
						ERR(d, z->line, "zone '%s': interface '%s' is listed twice — list it once",
						    zname(z), z->ifaces[k]);
					else
						ERR(d, z->line, "zone '%s': interface '%s' is already in zone '%s' — an "
						    "interface belongs to one zone", zname(z), z->ifaces[k], zname(y));
				}
			}
	}
}

/* ---- overlaps among prefixes, in O(n log n) ----
 *
 * Prefixes either nest or are disjoint. Sorted by (family, address, length,
 * order of listing), every prefix comes after the prefixes that contain it,
 * so a sweep with a stack of open prefixes sees, for each prefix, all that
 * contain it (the stack) and, when it is closed, all that it contains. For
 * each prefix the sweep finds the first-listed prefix that overlaps it and is
 * listed before it: what comparing every pair found, a file may hold 200,000
 * sources in one conduit. */

struct item {
	const struct seg_prefix *p;
	size_t order;             /* position in the listing */
};

struct open_item {
	size_t order;
	const struct seg_prefix *p;
	size_t min_outer;         /* first-listed among this one and those containing it */
	size_t min_inner;         /* first-listed among those it contains (so far) */
};

static int by_prefix(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c;

	if (a->p->family != b->p->family)
		return a->p->family < b->p->family ? -1 : 1;
	if ((c = memcmp(a->p->addr, b->p->addr, 16)) != 0)
		return c;
	if (a->p->len != b->p->len)
		return a->p->len < b->p->len ? -1 : 1;
	return (a->order > b->order) - (a->order < b->order);
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Closes the innermost open prefix: what it contains is known now. */
static void close_item(struct open_item *stack, size_t *depth, size_t *first)
{
	struct open_item *top = &stack[--*depth];

	if (top->min_inner < top->order)
		first[top->order] = min_size(first[top->order], top->min_inner);
	if (*depth > 0)
		stack[*depth - 1].min_inner = min_size(stack[*depth - 1].min_inner,
						       min_size(top->min_inner, top->order));
}

/* first[order] = the order of the first-listed earlier prefix that overlaps
 * it, or SIZE_MAX. Sorts v. Returns NULL when out of memory. */
static size_t *find_earlier_overlaps(struct item *v, size_t n)
{
	size_t *first = malloc((n ? n : 1) * sizeof(*first));
	struct open_item *stack = malloc((n ? n : 1) * sizeof(*stack));
	size_t depth = 0;

	if (!first || !stack) {
		free(first);
		free(stack);
		return NULL;
	}
	qsort(v, n, sizeof(*v), by_prefix);
	for (size_t i = 0; i < n; i++)
		first[i] = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		while (depth > 0 && !seg_prefix_contains(stack[depth - 1].p, v[i].p))
			close_item(stack, &depth, first);
		size_t outer = depth > 0 ? stack[depth - 1].min_outer : SIZE_MAX;
		if (outer < v[i].order)
			first[v[i].order] = outer;
		stack[depth++] = (struct open_item){ v[i].order, v[i].p, min_size(outer, v[i].order), SIZE_MAX };
	}
	while (depth > 0)
		close_item(stack, &depth, first);
	free(stack);
	return first;
}

/* ---- networks ---- */

static bool is_catchall_net(const struct seg_zone *z, const struct seg_prefix *p)
{
	return z->kind == SEG_ZONE_EXTERNAL && p->len == 0;
}

static void report_net_overlap(const struct seg_zone *z, const struct seg_prefix *p,
			       const struct seg_zone *y, const struct seg_prefix *q, struct seg_diags *d)
{
	char a[64], b[64];

	seg_prefix_format(p, a, sizeof(a));
	seg_prefix_format(q, b, sizeof(b));
	if (z == y)
		ERR(d, p->line, "zone '%s': network '%s' overlaps '%s' of the same zone — "
		    "remove the smaller one", zname(z), a, b);
	else
		ERR(d, p->line, "zone '%s': network '%s' overlaps '%s' of zone '%s' — zone "
		    "networks must not overlap", zname(z), a, b, zname(y));
}

/* A catch-all external network overlaps everything by design; two of them
 * are check_catchalls()'s business. Within its own zone it overlaps every
 * other network of its family: each pair is reported on the later one. */
static void check_catchall_nets(const struct seg_zone *z, struct seg_diags *d)
{
	for (size_t k = 0; k < z->n_nets; k++) {
		if (!is_catchall_net(z, &z->nets[k]))
			continue;
		for (size_t m = 0; m < z->n_nets; m++)
			if (m != k && z->nets[m].family == z->nets[k].family &&
			    !(m < k && is_catchall_net(z, &z->nets[m])))   /* that pair was reported from m */
				report_net_overlap(z, &z->nets[k > m ? k : m], z, &z->nets[k > m ? m : k], d);
	}
}

struct net_ref {
	size_t zone, net;
};

/* Every network except the catch-alls, in the order of the file. */
static struct item *collect_networks(const struct seg_config *cfg, struct net_ref **ret_refs, size_t *ret_n)
{
	size_t total = 0, n = 0;

	for (size_t i = 0; i < cfg->n_zones; i++)
		total += cfg->zones[i].n_nets;
	struct item *v = malloc((total ? total : 1) * sizeof(*v));
	struct net_ref *refs = malloc((total ? total : 1) * sizeof(*refs));
	if (!v || !refs) {
		free(v);
		free(refs);
		return NULL;
	}
	for (size_t i = 0; i < cfg->n_zones; i++)
		for (size_t k = 0; k < cfg->zones[i].n_nets; k++) {
			if (is_catchall_net(&cfg->zones[i], &cfg->zones[i].nets[k]))
				continue;
			refs[n] = (struct net_ref){ i, k };
			v[n] = (struct item){ &cfg->zones[i].nets[k], n };
			n++;
		}
	*ret_refs = refs;
	*ret_n = n;
	return v;
}

/* Names at most this many earlier networks that one network overlaps. */
#define MAX_OVERLAPS_NAMED 16

struct pair {
	size_t later, earlier;    /* orders */
};

static int by_pair(const void *pa, const void *pb)
{
	const struct pair *a = pa, *b = pb;

	if (a->later != b->later)
		return a->later < b->later ? -1 : 1;
	return (a->earlier > b->earlier) - (a->earlier < b->earlier);
}

/* Past this many overlapping pairs (each of 65,536 networks overlapping
 * thousands of others) the file is beyond repair: stop collecting. */
#define MAX_PAIRS (1u << 20)

static bool push_pair(struct pair **v, size_t *n, size_t *cap, struct pair p)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		struct pair *t = realloc(*v, c * sizeof(*t));
		if (!t)
			return false;
		*v = t;
		*cap = c;
	}
	(*v)[(*n)++] = p;
	return true;
}

/* Keeps the first MAX_OVERLAPS_NAMED earlier ones of each later one. */
static size_t trim_pairs(struct pair *v, size_t n)
{
	size_t out = 0;

	qsort(v, n, sizeof(*v), by_pair);
	for (size_t i = 0, run = 0; i < n; i++) {
		run = i > 0 && v[i].later == v[i - 1].later ? run + 1 : 0;
		if (run < MAX_OVERLAPS_NAMED)
			v[out++] = v[i];
	}
	return out;
}

/* Each overlapping pair once, as (later, earlier) in the order of listing:
 * each prefix with every open prefix that contains it. The work is the
 * number of such pairs (none in a valid file), not n squared. Sorts v. */
static struct pair *find_overlap_pairs(struct item *v, size_t n, size_t *ret_n)
{
	size_t *stack = malloc((n ? n : 1) * sizeof(*stack));
	struct pair *pairs = calloc(1, sizeof(*pairs));
	size_t depth = 0, np = 0, cap = 1;

	if (!stack || !pairs)
		goto fail;
	qsort(v, n, sizeof(*v), by_prefix);
	for (size_t i = 0; i < n; i++) {
		while (depth > 0 && !seg_prefix_contains(v[stack[depth - 1]].p, v[i].p))
			depth--;
		for (size_t k = 0; k < depth && np < MAX_PAIRS; k++) {
			size_t a = v[stack[k]].order, b = v[i].order;
			if (!push_pair(&pairs, &np, &cap, (struct pair){ a > b ? a : b, a > b ? b : a }))
				goto fail;
		}
		stack[depth++] = i;
	}
	free(stack);
	*ret_n = trim_pairs(pairs, np);
	return pairs;
fail:
	free(stack);
	free(pairs);
	return NULL;
}

static void check_zone_networks(const struct seg_config *cfg, struct seg_diags *d)
{
	struct net_ref *refs = NULL;
	struct pair *pairs = NULL;
	size_t n = 0, np = 0;
	struct item *v = collect_networks(cfg, &refs, &n);

	d->check = SEG_CHECK_ZONES;

	if (!v || !(pairs = find_overlap_pairs(v, n, &np))) {
		d->oom = 1;
		goto cleanup;
	}
	for (size_t i = 0; i < cfg->n_zones; i++)
		for (size_t k = 0; k < cfg->zones[i].n_nets; k++) {
			const struct seg_zone *z = &cfg->zones[i];
			const struct seg_prefix *p = &z->nets[k];
			if (p->len == 0 && z->kind != SEG_ZONE_EXTERNAL)
				ERR(d, p->line, "zone '%s': network '%s' is everything — only an external zone "
				    "may be a catch-all; list the zone's own networks",
				    zname(z), p->family == AF_INET ? "0.0.0.0/0" : "::/0");
		}
	for (size_t i = 0; i < np; i++) {
		const struct seg_zone *z = &cfg->zones[refs[pairs[i].later].zone];
		const struct seg_zone *y = &cfg->zones[refs[pairs[i].earlier].zone];
		report_net_overlap(z, &z->nets[refs[pairs[i].later].net], y, &y->nets[refs[pairs[i].earlier].net], d);
	}
	for (size_t i = 0; i < cfg->n_zones; i++)
		check_catchall_nets(&cfg->zones[i], d);
cleanup:
	free(v);
	free(refs);
	free(pairs);
}

static int catchall_line(const struct seg_zone *z, int family)
{
	for (size_t k = 0; k < z->n_nets; k++)
		if (z->nets[k].len == 0 && z->nets[k].family == family)
			return z->nets[k].line;
	return z->line; /* networks omitted: the zone as a whole */
}

/* One zone per family may hold "every address no other zone holds", whether
 * it says so with 0.0.0.0/0 or by omitting 'networks': with two, the zone of
 * an address would be ambiguous. */
static void check_catchalls(const struct seg_config *cfg, struct seg_diags *d)
{
	static const struct { int family; const char *name; } fams[] = {
		{ AF_INET, "IPv4" }, { AF_INET6, "IPv6" },
	};

	d->check = SEG_CHECK_ZONES;
	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		const struct seg_zone *first = NULL;
		for (size_t i = 0; i < cfg->n_zones; i++) {
			const struct seg_zone *z = &cfg->zones[i];
			bool all = fams[f].family == AF_INET ? z->catchall4 : z->catchall6;
			if (z->kind != SEG_ZONE_EXTERNAL || !all)
				continue;
			if (!first) {
				first = z;
				continue;
			}
			ERR(d, catchall_line(z, fams[f].family), "zone '%s' is a catch-all for %s like zone '%s' — "
			    "only one zone may hold all remaining addresses of a family; list this uplink's "
			    "networks explicitly", zname(z), fams[f].name, zname(first));
		}
	}
}

/* Is the host or prefix p inside zone zi, as the kernel will see it? Its
 * first and last address must fall into one range of the zone map (which
 * merges adjacent ranges of a zone, and gives a catch-all zone what no other
 * zone holds). O(log n) per endpoint; a file may list 200,000 of them. */
static bool zone_holds(const struct seg_zonemap *map, size_t zi, const struct seg_prefix *p)
{
	size_t w = p->family == AF_INET ? 4 : 16, lo = 0, hi = map->n;
	uint8_t last[16] = { 0 };

	for (size_t i = 0; i < w; i++) {
		unsigned bits = p->len >= 8 * (i + 1) ? 8 : p->len > 8 * i ? p->len - 8 * i : 0;
		last[i] = (uint8_t)(p->addr[i] | (uint8_t)~(0xff00u >> bits));
	}
	while (lo < hi) {   /* the first range whose end is not before p's first address */
		size_t mid = lo + (hi - lo) / 2;
		const struct seg_range *r = &map->v[mid];
		if (r->family < p->family || (r->family == p->family && memcmp(r->hi, p->addr, 16) < 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == map->n)
		return false;
	const struct seg_range *r = &map->v[lo];
	return r->family == p->family && r->zone == (int)zi && memcmp(r->lo, p->addr, 16) <= 0 &&
	       memcmp(last, r->hi, 16) <= 0;
}

/* ---- conduits ---- */

static void check_endpoints(const struct seg_config *cfg, const struct seg_zonemap *map,
			    const struct seg_conduit *c, const struct seg_prefix *v, size_t n, size_t zone,
			    const char *side, bool hosts_only, struct seg_diags *d)
{
	struct item *items = malloc((n ? n : 1) * sizeof(*items));
	size_t *first = NULL;
	char a[64];

	for (size_t i = 0; items && i < n; i++)
		items[i] = (struct item){ &v[i], i };
	if (!items || !(first = find_earlier_overlaps(items, n)))
		d->oom = 1;
	for (size_t i = 0; i < n; i++) {
		seg_prefix_format(&v[i], a, sizeof(a));
		d->check = SEG_CHECK_FORM;
		if (first && first[i] != SIZE_MAX)
			ERR(d, v[i].line, "conduit '%s': %s '%s' is already covered by an earlier entry — "
			    "remove the duplicate", c->name, side, a);
		if (!zone_holds(map, zone, &v[i]))
			ERR(d, v[i].line, "conduit '%s': %s '%s' is not in zone '%s' — use an address of that "
			    "zone's networks, or correct '%s'", c->name, side, a, cfg->zones[zone].name,
			    zone == c->from ? "from" : "to");
		d->check = SEG_CHECK_MYNUMBER;
		if (hosts_only && !seg_is_host(&v[i]))
			ERR(d, v[i].line, "conduit '%s': %s '%s' is a network — this conduit must name single "
			    "hosts (a /32 or /128 address)", c->name, side, a);
	}
	free(items);
	free(first);
}

static void check_services(const struct seg_conduit *c, bool no_any, struct seg_diags *d)
{
	char a[32], b[32];

	for (size_t i = 0; i < c->n_services; i++) {
		const struct seg_service *s = &c->services[i];
		seg_service_format(s, a, sizeof(a));
		d->check = SEG_CHECK_MYNUMBER;
		if (no_any && s->proto == SEG_PROTO_ANY)
			ERR(d, s->line, "conduit '%s': service 'any' is not allowed here — a conduit touching a "
			    "mynumber zone names its services, e.g. \"tcp/443\"", c->name);
		if (no_any && (s->proto == SEG_PROTO_ICMP || s->proto == SEG_PROTO_ICMPV6) && !s->typed)
			ERR(d, s->line, "conduit '%s': service '%s' opens every %s type (redirects, router "
			    "advertisements, echo payloads that carry tunnels) — a conduit touching a mynumber zone "
			    "names the query: \"%s/echo-request\"", c->name, a,
			    s->proto == SEG_PROTO_ICMP ? "ICMP" : "ICMPv6", seg_proto_name(s->proto));
		d->check = SEG_CHECK_FORM;
		for (size_t j = 0; j < i; j++) {
			const struct seg_service *t = &c->services[j];
			bool any = s->proto == SEG_PROTO_ANY || t->proto == SEG_PROTO_ANY;
			bool types_apart = s->typed && t->typed && s->icmp_type != t->icmp_type;
			if (any || (s->proto == t->proto && s->port_lo <= t->port_hi && t->port_lo <= s->port_hi &&
				    !types_apart)) {
				seg_service_format(t, b, sizeof(b));
				ERR(d, s->line, "conduit '%s': service '%s' overlaps '%s' listed before — list each "
				    "service once", c->name, a, b);
				break;
			}
		}
	}
}

static bool has_family(const struct seg_prefix *v, size_t n, int family)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].family == family)
			return true;
	return false;
}

/* Sources of one family and destinations of only the other never match. */
static void check_families(const struct seg_conduit *c, struct seg_diags *d)
{
	if (!c->n_srcs || !c->n_dsts)
		return;
	bool v4 = has_family(c->srcs, c->n_srcs, AF_INET) && has_family(c->dsts, c->n_dsts, AF_INET);
	bool v6 = has_family(c->srcs, c->n_srcs, AF_INET6) && has_family(c->dsts, c->n_dsts, AF_INET6);
	if (!v4 && !v6)
		ERR(d, c->line, "conduit '%s': its sources and destinations share no address family (IPv4 "
		    "with IPv6) — it could never match; give both sides addresses of one family", c->name);
}

/* A conduit from the gateway: what the gateway itself may send (its DNS,
 * NTP and updates to the security cloud, logs to a management host). It
 * sends from its own addresses, so it names no sources; to the security
 * cloud it is egress, to every other zone specific; width.c judges it by
 * the zone it goes to. */
static void check_gateway_conduit(const struct seg_conduit *c, const struct seg_zone *t, struct seg_diags *d)
{
	enum seg_conduit_kind want = t->kind == SEG_ZONE_EXTERNAL ? SEG_CONDUIT_EGRESS : SEG_CONDUIT_SPECIFIC;

	d->check = SEG_CHECK_GATEWAY;
	if (c->srcs_given)
		ERR(d, c->line, "conduit '%s': a conduit from the gateway names no sources — the gateway sends from "
		    "its own addresses; remove 'sources'", c->name);
	if (!c->dsts_given)
		ERR(d, c->line, "conduit '%s': 'destinations' is missing — a conduit from the gateway names the "
		    "hosts it reaches in zone '%s' (its resolvers, time servers, proxies), never the whole zone",
		    c->name, t->name);
	d->check = SEG_CHECK_KINDS;
	if (c->kind != want)
		ERR(d, c->line, "conduit '%s': a conduit from the gateway to %s zone '%s' is kind \"%s\", not \"%s\" "
		    "— write kind = \"%s\"; (see KINDS in segd.conf(5))", c->name, seg_zone_kind_name(t->kind),
		    t->name, seg_conduit_kind_name(want), seg_conduit_kind_name(c->kind), seg_conduit_kind_name(want));
}

/* The three-layer model's rules 1-3 on one conduit's zone pair and shape. */
static void check_model(const struct seg_config *cfg, const struct seg_conduit *c, struct seg_diags *d)
{
	const struct seg_zone *f = &cfg->zones[c->from], *t = &cfg->zones[c->to];
	const char *kind = seg_conduit_kind_name(c->kind);

	if (f->kind == SEG_ZONE_GATEWAY) {
		check_gateway_conduit(c, t, d);
		return;
	}
	if ((is_mynumber(f) && is_outside(t)) || (is_outside(f) && is_mynumber(t))) {
		d->check = SEG_CHECK_RULE1;
		ERR(d, c->line, "conduit '%s': no conduit may join a mynumber zone and an %s zone ('%s' -> '%s', "
		    "rule 1 of the model) — remove it; My Number systems stay isolated", c->name,
		    seg_zone_kind_name(is_mynumber(f) ? t->kind : f->kind), f->name, t->name);
		return;
	}
	if (is_mynumber(f) || is_mynumber(t)) {
		d->check = SEG_CHECK_MYNUMBER;
		bool screen_in = c->kind == SEG_CONDUIT_SCREEN && f->kind == SEG_ZONE_LGWAN && is_mynumber(t);
		if (screen_in && !cfg->settings.screen_to_mynumber)
			ERR(d, c->line, "conduit '%s': a \"screen\" conduit into mynumber zone '%s' is off — the 2025 "
			    "revision of the guideline leaves screen transfer to My Number desktops to each body: "
			    "enable it with settings.screen_to_mynumber = true; or write kind = \"specific\"",
			    c->name, t->name);
		else if (c->kind != SEG_CONDUIT_SPECIFIC && !screen_in)
			ERR(d, c->line, "conduit '%s': a conduit touching mynumber zone '%s' must be kind "
			    "\"specific\" (特定通信), not \"%s\" (rule 2) — write kind = \"specific\"; with single hosts "
			    "and named services", c->name,
			    is_mynumber(f) ? f->name : t->name, kind);
		if (!c->srcs_given || !c->dsts_given)
			ERR(d, c->line, "conduit '%s': a conduit touching a mynumber zone names single hosts on "
			    "both sides — add %s (rule 2)", c->name,
			    !c->srcs_given && !c->dsts_given ? "'sources' and 'destinations'" :
			    !c->srcs_given ? "'sources'" : "'destinations'");
		return;
	}
	bool lg_out = (f->kind == SEG_ZONE_LGWAN && is_outside(t)) || (is_outside(f) && t->kind == SEG_ZONE_LGWAN);
	d->check = SEG_CHECK_RELAY;
	if (lg_out && c->kind != SEG_CONDUIT_SANITIZE && c->kind != SEG_CONDUIT_SCREEN)
		ERR(d, c->line, "conduit '%s': between lgwan and %s zones only \"sanitize\" (無害化通信) or "
		    "\"screen\" (画面転送) conduits are allowed, not \"%s\" (rule 3) — send it through a "
		    "sanitizing relay or a screen-transfer desktop", c->name,
		    seg_zone_kind_name(f->kind == SEG_ZONE_LGWAN ? t->kind : f->kind), kind);
	if (lg_out && !c->dsts_given)
		ERR(d, c->line, "conduit '%s': between lgwan and %s zones 'destinations' is missing (rule 3) — "
		    "name the relay or desktop hosts it reaches", c->name,
		    seg_zone_kind_name(f->kind == SEG_ZONE_LGWAN ? t->kind : f->kind));
	d->check = SEG_CHECK_KINDS;
	if (c->kind == SEG_CONDUIT_EGRESS && t->kind != SEG_ZONE_EXTERNAL) {
		ERR(d, c->line, "conduit '%s': an \"egress\" conduit leads to an external zone (the security "
		    "cloud), but '%s' is %s — use another kind or correct 'to'", c->name, t->name,
		    seg_zone_kind_name(t->kind));
		return;
	}
	if (lg_out)
		return;
	/* The rest of the table (segd.conf(5), KINDS): internet -> external is
	 * egress, every other pair (two lgwan, two internet or two external
	 * zones, external -> internet) is specific. */
	enum seg_conduit_kind want = f->kind == SEG_ZONE_INTERNET && t->kind == SEG_ZONE_EXTERNAL ?
				     SEG_CONDUIT_EGRESS : SEG_CONDUIT_SPECIFIC;
	if (c->kind != want)
		ERR(d, c->line, "conduit '%s': a \"%s\" conduit from %s zone '%s' to %s zone '%s' has no meaning in "
		    "the model — between these kinds of zone write kind = \"%s\"; (see KINDS in segd.conf(5))",
		    c->name, kind, seg_zone_kind_name(f->kind), f->name, seg_zone_kind_name(t->kind), t->name,
		    seg_conduit_kind_name(want));
}

static void check_approval(const struct seg_config *cfg, const struct seg_conduit *c, int64_t today,
			   struct seg_diags *d, bool *expired)
{
	if (!c->approval)
		ERR(d, c->line, "conduit '%s': 'approval' is missing — every conduit carries the reference of "
		    "its approval, e.g. approval = \"R8-DX-014\"; (rule 4)", c->name);
	if (!c->expires) {
		ERR(d, c->line, "conduit '%s': 'expires' is missing — every conduit has an end date, e.g. "
		    "expires = \"2027-03-31\"; (rule 4)", c->name);
		return;
	}
	if (c->expires_day < 0)
		return; /* present but not a date: the parser said so */
	if (c->expires_day - today > (int64_t)cfg->settings.max_validity)
		ERR(d, c->line, "conduit '%s': expires on %s, %lld days ahead, more than settings.max_validity "
		    "(%u days) — an approval runs for a fiscal year or two; write the date the approval gives "
		    "(rule 4)", c->name, c->expires, (long long)(c->expires_day - today), cfg->settings.max_validity);
	if (c->expires_day < today) {
		seg_diag(d, SEG_SEV_WARNING, c->line, "conduit '%s' expired on %s — it is not installed; renew "
			 "its approval and date, or remove it", c->name, c->expires);
		*expired = true;
	} else if (c->expires_day - today <= SOON_DAYS) {
		seg_diag(d, SEG_SEV_WARNING, c->line, "conduit '%s' expires on %s, in %lld day%s — renew its "
			 "approval in time", c->name, c->expires, (long long)(c->expires_day - today),
			 c->expires_day - today == 1 ? "" : "s");
	}
}

static void check_conduit(const struct seg_config *cfg, const struct seg_zonemap *map,
			  struct seg_conduit *c, int64_t today, struct seg_diags *d)
{
	if (!c->name || c->from >= cfg->n_zones || c->to >= cfg->n_zones)
		return; /* already reported by the parser */
	bool mn = is_mynumber(&cfg->zones[c->from]) || is_mynumber(&cfg->zones[c->to]);

	d->check = SEG_CHECK_FORM;
	if (c->from == c->to) {
		ERR(d, c->line, "conduit '%s': 'from' and 'to' are both '%s' — traffic within a zone is always "
		    "allowed; remove the conduit", c->name, cfg->zones[c->from].name);
		return;
	}
	if (c->kind < SEG_CONDUIT_KIND_COUNT)
		check_model(cfg, c, d);
	check_endpoints(cfg, map, c, c->srcs, c->n_srcs, c->from, "source", mn, d);
	check_endpoints(cfg, map, c, c->dsts, c->n_dsts, c->to, "destination", mn, d);
	check_services(c, mn, d);
	seg_check_width(cfg, c, d);
	d->check = SEG_CHECK_FORM;
	check_families(c, d);
	d->check = SEG_CHECK_APPROVAL;
	check_approval(cfg, c, today, d, &c->expired);
}

static void check_gateway_services(const struct seg_config *cfg, struct seg_diags *d)
{
	d->check = SEG_CHECK_ZONES;
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		for (size_t k = 0; k < z->n_gw_services + z->n_link_services; k++) {
			bool gw = k < z->n_gw_services;
			const struct seg_service *s = gw ? &z->gw_services[k] : &z->link_services[k - z->n_gw_services];
			if (s->proto == SEG_PROTO_ANY)
				ERR(d, s->line, "zone '%s': %s 'any' would open the gateway itself to the zone — name "
				    "the services, e.g. \"%s\"", zname(z), gw ? "gateway service" : "link service",
				    gw ? "tcp/22" : "vrrp");
		}
	}
}

/* ---- zones by what they cover ---- */

/* Addresses a non-external zone may cover before it is a catch-all in
 * disguise (0.0.0.0/1 + 128.0.0.0/1): a city's segment is at most a few /16
 * of private space; more than a /8 is suspicious, a /4 or more is the world. */
#define WIDE_V4_WARN  (1.0 * (1u << 24))
#define WIDE_V4_ERR   (1.0 * (1u << 28))
#define WIDE_V6_WARN  0x1p96     /* a /32: a whole provider allocation */
#define WIDE_V6_ERR   0x1p124    /* a /4 */

static void check_zone_kinds_and_width(const struct seg_config *cfg, struct seg_diags *d)
{
	const struct seg_zone *first_lgwan = NULL;
	bool mynumber = false;
	char a[64];

	d->check = SEG_CHECK_ZONES;

	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		double cover[2] = { 0, 0 };
		mynumber |= z->kind == SEG_ZONE_MYNUMBER;
		if (!first_lgwan && z->kind == SEG_ZONE_LGWAN)
			first_lgwan = z;
		for (size_t k = 0; k < z->n_nets; k++) {
			const struct seg_prefix *p = &z->nets[k];
			const char *why = p->len ? seg_prefix_special(p) : NULL;
			int v6 = p->family == AF_INET6;
			seg_prefix_format(p, a, sizeof(a));
			if (why)
				ERR(d, p->line, "zone '%s': network '%s' is %s — zone networks hold unicast hosts; list "
				    "the segment's own addresses", zname(z), a, why);
			cover[v6] += __builtin_ldexp(1.0, (v6 ? 128 : 32) - p->len);
		}
		if (z->kind == SEG_ZONE_EXTERNAL)
			continue;
		for (int f = 0; f < 2; f++) {
			double warn = f ? WIDE_V6_WARN : WIDE_V4_WARN, err = f ? WIDE_V6_ERR : WIDE_V4_ERR;
			if (cover[f] >= err)
				ERR(d, z->line, "zone '%s': its %s networks cover %.3g addresses, as much as a catch-all — "
				    "only an external zone may hold the rest of the world; list the %s zone's own networks",
				    zname(z), f ? "IPv6" : "IPv4", cover[f], seg_zone_kind_name(z->kind));
			else if (cover[f] > warn)
				WARN(d, z->line, "zone '%s': its %s networks cover %.3g addresses, more than a %s — check "
				     "that they are the segment's own networks and not an uplink's", zname(z),
				     f ? "IPv6" : "IPv4", cover[f], f ? "/32" : "/8");
		}
	}
	d->check = SEG_CHECK_RULE1;
	if (!mynumber && cfg->n_zones > 0)
		WARN(d, (first_lgwan ? first_lgwan : &cfg->zones[0])->line, "no zone is of kind \"mynumber\": "
		     "rule 1 and the kernel's guard of the My Number segment do not apply — if one of these zones "
		     "is the My Number segment, write kind = \"mynumber\";");
}

/* ---- conduits that say the same ---- */

/* An order-independent digest of a conduit's effect: the zone pair, the
 * kind, and the sums of two different hashes of each entry. */
struct digest {
	uint64_t a, b;
	size_t index;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = seed;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return mix(h);
}

static void digest_prefixes(struct digest *g, const struct seg_prefix *v, size_t n, uint64_t side)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t k[18] = { (uint8_t)v[i].family, v[i].len };
		memcpy(k + 2, v[i].addr, 16);
		g->a += hash_bytes(k, sizeof(k), side);
		g->b += hash_bytes(k, sizeof(k), side * 7 + 1);
	}
	g->a += mix(n + side);
}

static struct digest conduit_digest(const struct seg_conduit *c, size_t index)
{
	struct digest g = { mix(c->from * 131 + c->to * 7 + (uint64_t)c->kind), mix(c->from + 1), index };

	digest_prefixes(&g, c->srcs, c->n_srcs, 11);
	digest_prefixes(&g, c->dsts, c->n_dsts, 13);
	for (size_t i = 0; i < c->n_services; i++) {
		uint8_t k[5] = { (uint8_t)c->services[i].proto, (uint8_t)(c->services[i].port_lo >> 8),
				 (uint8_t)c->services[i].port_lo, (uint8_t)(c->services[i].port_hi >> 8),
				 (uint8_t)c->services[i].port_hi };
		g.a += hash_bytes(k, sizeof(k), 17);
		g.b += hash_bytes(k, sizeof(k), 19);
	}
	g.b += mix(c->n_services + 23);
	return g;
}

static int by_digest(const void *pa, const void *pb)
{
	const struct digest *x = pa, *y = pb;

	if (x->a != y->a)
		return x->a < y->a ? -1 : 1;
	if (x->b != y->b)
		return x->b < y->b ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Two conduits that differ only in name, approval or dates: one of them is
 * a leftover (an old approval never removed) — sorted digests, not pairs. */
static void check_duplicate_conduits(const struct seg_config *cfg, struct seg_diags *d)
{
	struct digest *v = calloc(cfg->n_conduits ? cfg->n_conduits : 1, sizeof(*v));
	size_t n = 0;

	if (!v) {
		d->oom = 1;
		return;
	}
	d->check = SEG_CHECK_DUPLICATES;
	for (size_t i = 0; i < cfg->n_conduits; i++)
		if (cfg->conduits[i].name && cfg->conduits[i].from < cfg->n_zones && cfg->conduits[i].to < cfg->n_zones)
			v[n++] = conduit_digest(&cfg->conduits[i], i);
	qsort(v, n, sizeof(*v), by_digest);
	for (size_t i = 1, first = 0; i < n; i++) {
		if (v[i].a != v[first].a || v[i].b != v[first].b) {
			first = i;
			continue;
		}
		const struct seg_conduit *c = &cfg->conduits[v[i].index], *o = &cfg->conduits[v[first].index];
		WARN(d, c->line, "conduit '%s' opens exactly what conduit '%s' opens (same zones, kind, hosts and "
		     "services) — remove the one whose approval is no longer current", c->name, o->name);
		NOTE(d, o->line, "conduit '%s' is defined here", o->name);
	}
	free(v);
}

void seg_config_validate(struct seg_config *cfg, int64_t today, struct seg_diags *d)
{
	d->check = SEG_CHECK_FORM;
	if (cfg->n_zones == 0)
		ERR(d, 0, "no zones are defined — define at least the zones the gateway connects");
	check_unique_names(cfg, d);
	check_interfaces(cfg, d);
	check_zone_networks(cfg, d);
	check_zone_kinds_and_width(cfg, d);
	check_catchalls(cfg, d);
	check_gateway_services(cfg, d);
	struct seg_zonemap map = { 0 };
	if (seg_zonemap_build(cfg, &map) < 0) {
		d->oom = 1;
		return;
	}
	for (size_t i = 0; i < cfg->n_conduits; i++)
		check_conduit(cfg, &map, &cfg->conduits[i], today, d);
	seg_zonemap_free(&map);
	seg_check_paths(cfg, d);
	seg_check_gateway(cfg, d);
	seg_check_macs(cfg, d);
	check_duplicate_conduits(cfg, d);
	d->check = SEG_CHECK_FORM;
	d->validated = 1;
}
