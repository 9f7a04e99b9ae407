/*
 * width.c - the model's rules on what a conduit opens, not on how it is
 * written (validate.c checks the form; both run from seg_config_validate()).
 *
 * A conduit is judged by the regime of its zone pair:
 *   mynumber  a conduit touching a mynumber zone (rule 2, 特定通信): unicast
 *             single hosts on both sides, at most settings.max_hosts each,
 *             named services opening at most settings.max_ports ports;
 *   relay     sanitize or screen between lgwan and internet/external
 *             (rule 3): destinations are single relay or desktop hosts,
 *             named services, capped ports;
 *   egress    internet -> external: to named destinations (the security
 *             cloud's proxies), named services, capped ports;
 *   inbound   external -> internet: to named single hosts, named services.
 * Services that carry tunnels are warned by name where the regime narrows
 * a conduit (mynumber, relay): a tunnel carries anything past the model.
 * Then the paths: a host that is a party of a mynumber conduit may not also
 * be a party of a conduit to or from an internet or external zone (the
 * guideline: My Number's connection targets do not connect to the Internet).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "validate_int.h"

#define ERR(d, line, ...)  seg_diag((d), SEG_SEV_ERROR, (line), __VA_ARGS__)
#define WARN(d, line, ...) seg_diag((d), SEG_SEV_WARNING, (line), __VA_ARGS__)
#define NOTE(d, line, ...) seg_diag((d), SEG_SEV_NOTE, (line), __VA_ARGS__)

/* The widest destination an egress conduit may name: the security cloud's
 * published proxy blocks are small; a /16 is already 65,536 addresses. */
#define EGRESS_MIN_LEN4 16
#define EGRESS_MIN_LEN6 32

enum regime { REG_NONE, REG_MYNUMBER, REG_RELAY, REG_EGRESS, REG_INBOUND };

static enum regime regime_of(const struct seg_config *cfg, const struct seg_conduit *c)
{
	enum seg_zone_kind f = cfg->zones[c->from].kind, t = cfg->zones[c->to].kind;
	bool f_out = f == SEG_ZONE_INTERNET || f == SEG_ZONE_EXTERNAL;
	bool t_out = t == SEG_ZONE_INTERNET || t == SEG_ZONE_EXTERNAL;

	if (f == SEG_ZONE_GATEWAY)   /* what the gateway sends: judged by where it goes */
		return t == SEG_ZONE_MYNUMBER ? REG_MYNUMBER : t_out ? REG_EGRESS : REG_NONE;
	if (f == SEG_ZONE_MYNUMBER || t == SEG_ZONE_MYNUMBER)
		return REG_MYNUMBER;
	if ((f == SEG_ZONE_LGWAN && t_out) || (f_out && t == SEG_ZONE_LGWAN))
		return REG_RELAY;
	if (f == SEG_ZONE_INTERNET && t == SEG_ZONE_EXTERNAL)
		return REG_EGRESS;
	if (f == SEG_ZONE_EXTERNAL && t == SEG_ZONE_INTERNET)
		return REG_INBOUND;
	return REG_NONE;
}

static const enum seg_check regime_check[] = {
	[REG_NONE] = SEG_CHECK_FORM, [REG_MYNUMBER] = SEG_CHECK_MYNUMBER, [REG_RELAY] = SEG_CHECK_RELAY,
	[REG_EGRESS] = SEG_CHECK_INTERNET, [REG_INBOUND] = SEG_CHECK_INTERNET,
};

static const char *const regime_rule[] = {
	[REG_MYNUMBER] = "rule 2", [REG_RELAY] = "rule 3", [REG_EGRESS] = "the Internet side",
	[REG_INBOUND] = "the Internet side",
};

bool seg_is_host(const struct seg_prefix *p)
{
	return p->len == (p->family == AF_INET ? 32 : 128);
}

/* The zone network of zone z that holds host p, or NULL. */
static const struct seg_prefix *holding_net(const struct seg_zone *z, const struct seg_prefix *p)
{
	for (size_t i = 0; i < z->n_nets; i++)
		if (seg_prefix_contains(&z->nets[i], p))
			return &z->nets[i];
	return NULL;
}

/* Why host p of zone z is no unicast host, or NULL: a special block, or the
 * network or broadcast address of the IPv4 zone network that holds it. */
static const char *not_unicast_host(const struct seg_zone *z, const struct seg_prefix *p)
{
	const char *why = seg_prefix_special(p);
	const struct seg_prefix *n;

	if (why || p->family != AF_INET || !(n = holding_net(z, p)) || n->len > 30)
		return why;
	uint32_t a, m, host;
	memcpy(&a, n->addr, 4);
	memcpy(&host, p->addr, 4);
	m = n->len ? htonl(~0u << (32 - n->len)) : 0;
	if (host == a)
		return "the network address of its zone network";
	if (host == (a | ~m))
		return "the broadcast address of its zone network";
	return NULL;
}

/* A MAC binding is for a single host of a My Number conduit, where the
 * gateway sees its frames; settings.require_mac_for_mynumber asks one of
 * every host in a mynumber zone and of every terminal of a screen conduit
 * into one. */
static void check_mac(const struct seg_config *cfg, const struct seg_conduit *c, enum regime reg,
		      const struct seg_prefix *p, size_t zone, const char *side, const char *a, struct seg_diags *d)
{
	bool mn_side = cfg->zones[zone].kind == SEG_ZONE_MYNUMBER ||
		       (c->kind == SEG_CONDUIT_SCREEN && reg == REG_MYNUMBER && zone == c->from);

	if (p->has_mac && (reg != REG_MYNUMBER || !seg_is_host(p)))
		ERR(d, p->line, "conduit '%s': %s '%s' carries a MAC address — a MAC binding is for a single host "
		    "of a conduit touching a mynumber zone; remove the '@...'", c->name, side, a);
	else if (!p->has_mac && reg == REG_MYNUMBER && mn_side && cfg->settings.require_mac_for_mynumber &&
		 seg_is_host(p))
		ERR(d, p->line, "conduit '%s': %s '%s' has no MAC address — settings.require_mac_for_mynumber asks "
		    "the MAC of every My Number host and terminal: write it as \"%s@02:00:5e:00:00:05\" with the "
		    "MAC that 'ip link' shows on the host", c->name, side, a, a);
}

static void check_side(const struct seg_config *cfg, const struct seg_conduit *c, enum regime reg,
		       const struct seg_prefix *v, size_t n, size_t zone, const char *side, bool hosts,
		       struct seg_diags *d)
{
	const struct seg_zone *z = &cfg->zones[zone];
	char a[64];

	for (size_t i = 0; i < n; i++) {
		const char *why = seg_is_host(&v[i]) ? not_unicast_host(z, &v[i]) : seg_prefix_special(&v[i]);
		seg_prefix_format(&v[i], a, sizeof(a));
		check_mac(cfg, c, reg, &v[i], zone, side, a, d);
		if (why)
			ERR(d, v[i].line, "conduit '%s': %s '%s' is %s — name the address of a real host",
			    c->name, side, a, why);
		else if (hosts && !seg_is_host(&v[i]) && reg != REG_MYNUMBER)   /* mynumber: validate.c says so */
			ERR(d, v[i].line, "conduit '%s': %s '%s' is a network — a %s conduit names single %s "
			    "hosts (a /32 or /128 address; %s)", c->name, side, a, seg_conduit_kind_name(c->kind),
			    reg == REG_RELAY ? "relay or desktop" : "server", regime_rule[reg]);
		else if (reg == REG_EGRESS && zone == c->to && v[i].len < (v[i].family == AF_INET ? EGRESS_MIN_LEN4 : EGRESS_MIN_LEN6))
			ERR(d, v[i].line, "conduit '%s': destination '%s' is wider than a /%d — an egress conduit "
			    "names the security cloud's proxies or their small blocks; list them", c->name, a,
			    v[i].family == AF_INET ? EGRESS_MIN_LEN4 : EGRESS_MIN_LEN6);
	}
	if (hosts && n > cfg->settings.max_hosts)
		ERR(d, n ? v[cfg->settings.max_hosts].line : c->line, "conduit '%s': %zu %ss, more than "
		    "settings.max_hosts (%u) — a %s conduit joins a few named hosts; split it by purpose, or "
		    "raise max_hosts with the approver's consent", c->name, n, side, cfg->settings.max_hosts,
		    seg_conduit_kind_name(c->kind));
}

/* Ports that carry tunnels: a conduit narrowed to named hosts and services
 * that opens one of them carries any traffic inside. GRE and ESP are IP
 * protocols that only 'any' opens, and 'any' is refused where this runs. */
static const struct tunnel_port {
	enum seg_proto proto;
	uint16_t port;
	const char *what;
} tunnel_ports[] = {
	{ SEG_PROTO_TCP, 22, "SSH port forwarding" },
	{ SEG_PROTO_UDP, 500, "IKE/IPsec" },
	{ SEG_PROTO_UDP, 4500, "IPsec NAT-T, ESP in UDP" },
	{ SEG_PROTO_UDP, 1194, "OpenVPN" },
	{ SEG_PROTO_TCP, 1194, "OpenVPN" },
	{ SEG_PROTO_UDP, 1701, "L2TP" },
	{ SEG_PROTO_TCP, 1723, "PPTP" },
	{ SEG_PROTO_UDP, 4789, "VXLAN" },
	{ SEG_PROTO_UDP, 6081, "Geneve" },
	{ SEG_PROTO_UDP, 51820, "WireGuard" },
};

/* One warning per service, naming every tunnel port it opens. */
static void warn_tunnels(const char *who, const struct seg_service *s, const char *svc, struct seg_diags *d)
{
	char list[512];
	size_t len = 0;

	list[0] = '\0';
	for (size_t k = 0; k < sizeof(tunnel_ports) / sizeof(tunnel_ports[0]); k++) {
		const struct tunnel_port *t = &tunnel_ports[k];
		if (s->proto != t->proto || t->port < s->port_lo || t->port > s->port_hi)
			continue;
		int w = snprintf(list + len, sizeof(list) - len, "%s%s/%u (%s)", len ? ", " : "",
				 seg_proto_name(t->proto), t->port, t->what);
		if (w > 0 && (size_t)w < sizeof(list) - len)
			len += (size_t)w;
	}
	if (len)
		WARN(d, s->line, "%s: service '%s' opens %s, which carr%s tunnels — a tunnel takes any "
		     "traffic past the model; remove it unless the approval names it", who, svc, list,
		     strchr(list, ',') ? "y" : "ies");
}

/* The ports of screen-transfer protocols: what a screen conduit into a
 * mynumber zone may open (RDP, VNC, Citrix ICA and its session
 * reliability, PCoIP, VMware Blast, Amazon DCV). */
static const struct screen_port {
	uint16_t lo, hi;
	bool udp;
} screen_ports[] = {
	{ 3389, 3389, true }, { 5900, 5903, false }, { 1494, 1494, true }, { 2598, 2598, true },
	{ 4172, 4172, true }, { 22443, 22443, true }, { 8443, 8443, true },
};

static bool is_screen_service(const struct seg_service *s)
{
	for (size_t i = 0; i < sizeof(screen_ports) / sizeof(screen_ports[0]); i++)
		if ((s->proto == SEG_PROTO_TCP || (s->proto == SEG_PROTO_UDP && screen_ports[i].udp)) &&
		    screen_ports[i].lo <= s->port_lo && s->port_hi <= screen_ports[i].hi)
			return true;
	return false;
}

static void check_services(const struct seg_config *cfg, const struct seg_conduit *c, enum regime reg,
			   struct seg_diags *d)
{
	bool screen_in = reg == REG_MYNUMBER && c->kind == SEG_CONDUIT_SCREEN;
	uint64_t ports = 0;
	char a[32], who[SEG_MAX_NAME + 16];

	snprintf(who, sizeof(who), "conduit '%s'", c->name);
	for (size_t i = 0; i < c->n_services; i++) {
		const struct seg_service *s = &c->services[i];
		seg_service_format(s, a, sizeof(a));
		if (s->proto == SEG_PROTO_ANY && reg != REG_MYNUMBER)   /* mynumber: validate.c says so */
			ERR(d, s->line, "conduit '%s': service 'any' is not allowed in %s %s conduit (%s) — name its "
			    "services, e.g. \"tcp/443\"", c->name, c->kind == SEG_CONDUIT_EGRESS ? "an" : "a",
			    seg_conduit_kind_name(c->kind), regime_rule[reg]);
		if (s->proto == SEG_PROTO_TCP || s->proto == SEG_PROTO_UDP)
			ports += (uint64_t)s->port_hi - s->port_lo + 1;
		if (screen_in && !is_screen_service(s))
			ERR(d, s->line, "conduit '%s': service '%s' is not a screen-transfer protocol — a screen "
			    "conduit into a mynumber zone opens only RDP (tcp/udp 3389), VNC (tcp/5900-5903), ICA "
			    "(1494, 2598), PCoIP (4172), Blast (22443) or DCV (8443)", c->name, a);
		if (reg <= REG_RELAY) {
			d->check = SEG_CHECK_TUNNELS;
			warn_tunnels(who, s, a, d);
			d->check = regime_check[reg];
		}
	}
	if (ports > cfg->settings.max_ports)
		ERR(d, c->services[0].line, "conduit '%s': its services open %llu ports, more than settings.max_ports (%u) — "
		    "a %s conduit names single ports or narrow ranges (%s); list the ports the application uses",
		    c->name, (unsigned long long)ports, cfg->settings.max_ports, seg_conduit_kind_name(c->kind),
		    regime_rule[reg]);
}

void seg_check_width(const struct seg_config *cfg, const struct seg_conduit *c, struct seg_diags *d)
{
	enum regime reg = regime_of(cfg, c);

	d->check = regime_check[reg];
	/* addresses no host can have are wrong in every conduit */
	check_side(cfg, c, reg, c->srcs, c->n_srcs, c->from, "source", reg == REG_MYNUMBER, d);
	check_side(cfg, c, reg, c->dsts, c->n_dsts, c->to, "destination", reg != REG_NONE && reg != REG_EGRESS, d);
	if (reg == REG_NONE)
		return;
	if ((reg == REG_EGRESS || reg == REG_INBOUND) && !c->dsts_given)
		ERR(d, c->line, "conduit '%s': 'destinations' is missing — %s conduit from %s to %s zone names "
		    "its destinations (%s), never the whole zone", c->name,
		    reg == REG_EGRESS ? "an egress" : "a", seg_zone_kind_name(cfg->zones[c->from].kind),
		    seg_zone_kind_name(cfg->zones[c->to].kind),
		    reg == REG_EGRESS ? "the security cloud's proxies" : "the servers it publishes");
	check_services(cfg, c, reg, d);
}

/* ---- paths through a host ---- */

/* A host (or prefix) of one side of one conduit. */
struct party {
	const struct seg_prefix *p;
	size_t conduit;
	size_t zone;
};

static int by_party(const void *pa, const void *pb)
{
	const struct party *a = pa, *b = pb;

	if (a->p->family != b->p->family)
		return a->p->family < b->p->family ? -1 : 1;
	int r = memcmp(a->p->addr, b->p->addr, 16);
	return r ? r : (a->conduit > b->conduit) - (a->conduit < b->conduit);
}

static bool is_outside_kind(enum seg_zone_kind k)
{
	return k == SEG_ZONE_INTERNET || k == SEG_ZONE_EXTERNAL;
}

/* The non-mynumber hosts of every conduit touching a mynumber zone, sorted. */
static struct party *mynumber_parties(const struct seg_config *cfg, size_t *ret_n)
{
	size_t n = 0, cap = 0;
	struct party *v = NULL;

	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *c = &cfg->conduits[i];
		if (!c->name || c->from >= cfg->n_zones || c->to >= cfg->n_zones || c->expired)
			continue;
		bool mf = cfg->zones[c->from].kind == SEG_ZONE_MYNUMBER, mt = cfg->zones[c->to].kind == SEG_ZONE_MYNUMBER;
		if (mf == mt)
			continue;   /* none, or between two mynumber zones */
		const struct seg_prefix *side = mf ? c->dsts : c->srcs;
		size_t ns = mf ? c->n_dsts : c->n_srcs, zone = mf ? c->to : c->from;
		if (n + ns > cap) {
			size_t nc = (n + ns) * 2;
			struct party *t = realloc(v, nc * sizeof(*t));
			if (!t) {
				free(v);
				return NULL;
			}
			v = t;
			cap = nc;
		}
		for (size_t k = 0; k < ns; k++)
			v[n++] = (struct party){ &side[k], i, zone };
	}
	if (n)
		qsort(v, n, sizeof(*v), by_party);
	*ret_n = n;
	return v ? v : calloc(1, sizeof(*v));
}

static void report_path(const struct seg_config *cfg, const struct party *h, const struct seg_conduit *o,
			struct seg_diags *d)
{
	const struct seg_conduit *m = &cfg->conduits[h->conduit];
	char a[64];

	seg_prefix_format(h->p, a, sizeof(a));
	ERR(d, o->line, "conduit '%s' reaches host %s, which conduit '%s' joins to a mynumber zone: a path from "
	    "My Number to the %s segment through one host — My Number's connection targets must not "
	    "connect outside; move one of the services to another host", o->name, a, m->name,
	    seg_zone_kind_name(cfg->zones[cfg->zones[o->from].kind == SEG_ZONE_LGWAN ? o->to : o->from].kind));
	NOTE(d, m->line, "conduit '%s' joins host %s to a mynumber zone here", m->name, a);
}

/* The first party within [p] (binary search on the sorted parties). */
static size_t first_within(const struct party *v, size_t n, const struct seg_prefix *p)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid].p->family < p->family ||
		    (v[mid].p->family == p->family && memcmp(v[mid].p->addr, p->addr, 16) < 0))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* At most this many paths are named per outside conduit. */
#define MAX_PATHS_NAMED 4

void seg_check_paths(const struct seg_config *cfg, struct seg_diags *d)
{
	size_t n = 0;
	struct party *v = mynumber_parties(cfg, &n);

	if (!v) {
		d->oom = 1;
		return;
	}
	d->check = SEG_CHECK_PATHS;
	for (size_t i = 0; n && i < cfg->n_conduits; i++) {
		const struct seg_conduit *o = &cfg->conduits[i];
		if (!o->name || o->from >= cfg->n_zones || o->to >= cfg->n_zones || o->expired)
			continue;
		enum seg_zone_kind fk = cfg->zones[o->from].kind, tk = cfg->zones[o->to].kind;
		bool lf = fk == SEG_ZONE_LGWAN && is_outside_kind(tk), lt = tk == SEG_ZONE_LGWAN && is_outside_kind(fk);
		if (!lf && !lt)
			continue;
		size_t zone = lf ? o->from : o->to, named = 0;
		const struct seg_prefix *side = lf ? o->srcs : o->dsts;
		size_t ns = lf ? o->n_srcs : o->n_dsts;
		if (ns == 0) {   /* the whole lgwan zone: every party in it */
			for (size_t k = 0; k < n && named < MAX_PATHS_NAMED; k++)
				if (v[k].zone == zone) {
					report_path(cfg, &v[k], o, d);
					named++;
				}
			continue;
		}
		for (size_t s = 0; s < ns && named < MAX_PATHS_NAMED; s++)
			for (size_t k = first_within(v, n, &side[s]);
			     k < n && seg_prefix_contains(&side[s], v[k].p) && named < MAX_PATHS_NAMED; k++) {
				report_path(cfg, &v[k], o, d);
				named++;
			}
	}
	free(v);
}

/* ---- one MAC per host ---- */

static int by_addr_mac(const void *pa, const void *pb)
{
	const struct seg_prefix *a = *(const struct seg_prefix *const *)pa, *b = *(const struct seg_prefix *const *)pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	int r = memcmp(a->addr, b->addr, 16);
	return r ? r : a->line - b->line;
}

void seg_check_macs(const struct seg_config *cfg, struct seg_diags *d)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < cfg->n_conduits; i++) {
		for (size_t j = 0; j < cfg->conduits[i].n_srcs; j++)
			n += cfg->conduits[i].srcs[j].has_mac;
		for (size_t j = 0; j < cfg->conduits[i].n_dsts; j++)
			n += cfg->conduits[i].dsts[j].has_mac;
	}
	if (n < 2)
		return;
	const struct seg_prefix **v = malloc(n * sizeof(*v));
	if (!v) {
		d->oom = 1;
		return;
	}
	for (size_t i = 0; i < cfg->n_conduits; i++) {
		for (size_t j = 0; j < cfg->conduits[i].n_srcs; j++)
			if (cfg->conduits[i].srcs[j].has_mac)
				v[k++] = &cfg->conduits[i].srcs[j];
		for (size_t j = 0; j < cfg->conduits[i].n_dsts; j++)
			if (cfg->conduits[i].dsts[j].has_mac)
				v[k++] = &cfg->conduits[i].dsts[j];
	}
	qsort(v, n, sizeof(*v), by_addr_mac);
	d->check = SEG_CHECK_MYNUMBER;
	for (size_t i = 1; i < n; i++) {
		if (v[i]->family != v[i - 1]->family || memcmp(v[i]->addr, v[i - 1]->addr, 16) != 0 ||
		    memcmp(v[i]->mac, v[i - 1]->mac, 6) == 0)
			continue;
		char a[64], m1[24], m2[24];
		seg_prefix_format(v[i], a, sizeof(a));
		seg_mac_format(v[i]->mac, m1, sizeof(m1));
		seg_mac_format(v[i - 1]->mac, m2, sizeof(m2));
		ERR(d, v[i]->line, "host %s is bound to MAC %s here and to %s on line %d — a host has one MAC; "
		    "write the same one everywhere", a, m1, m2, v[i - 1]->line);
	}
	free(v);
}

/* ---- the gateway as a party ---- */

static bool any_conduit_from_gateway_to(const struct seg_config *cfg, bool outside, const struct seg_conduit **ret)
{
	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *c = &cfg->conduits[i];
		if (!c->name || c->from >= cfg->n_zones || c->to >= cfg->n_zones || c->expired ||
		    !seg_zone_is_gateway(cfg, c->from))
			continue;
		enum seg_zone_kind t = cfg->zones[c->to].kind;
		if (outside ? is_outside_kind(t) : t == SEG_ZONE_MYNUMBER) {
			*ret = c;
			return true;
		}
	}
	return false;
}

/* A zone whose hosts may open connections to the gateway. */
static bool offers_services(const struct seg_zone *z)
{
	return z->n_gw_services > 0 || z->n_link_services > 0;
}

/* Model rule 1 through the gateway: a resolver, proxy or relay on it that
 * takes connections from one side and opens them to the other carries My
 * Number data past the model. So the gateway may not both accept
 * connections from a mynumber zone and open connections to an internet or
 * external one, nor the other way round. */
static void check_relay(const struct seg_config *cfg, struct seg_diags *d)
{
	const struct seg_conduit *c;

	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		if (!offers_services(z))
			continue;
		bool mn = z->kind == SEG_ZONE_MYNUMBER;
		if (!(mn || is_outside_kind(z->kind)) || !any_conduit_from_gateway_to(cfg, mn, &c))
			continue;
		int line = z->n_gw_services ? z->gw_services[0].line : z->link_services[0].line;
		ERR(d, c->line, "conduit '%s' lets the gateway open connections to %s zone '%s', while %s zone '%s' "
		    "may connect to the gateway (its gateway_services or link_services): a service on the gateway "
		    "could relay between My Number and the Internet side (rule 1) — remove the conduit or the zone's "
		    "services (manage the gateway through settings.management_interfaces)", c->name,
		    seg_zone_kind_name(cfg->zones[c->to].kind), cfg->zones[c->to].name, seg_zone_kind_name(z->kind),
		    z->name);
		NOTE(d, line, "zone '%s' opens the gateway here", z->name);
	}
}

/* What a mynumber zone may reach on the gateway, by the width rules of a
 * mynumber conduit: named services (no bare icmp), at most max_ports ports,
 * tunnels warned. 'any' is refused in every zone (validate.c). */
static void check_zone_services(const struct seg_config *cfg, const struct seg_zone *z, const struct seg_service *v,
				size_t n, const char *key, struct seg_diags *d)
{
	uint64_t ports = 0;
	char a[32], who[SEG_MAX_NAME + 48];

	snprintf(who, sizeof(who), "zone '%s': %s", z->name, key);
	for (size_t i = 0; i < n; i++) {
		seg_service_format(&v[i], a, sizeof(a));
		if ((v[i].proto == SEG_PROTO_ICMP || v[i].proto == SEG_PROTO_ICMPV6) && !v[i].typed)
			ERR(d, v[i].line, "%s '%s' opens every %s type of the gateway to a mynumber zone — name the "
			    "query: \"%s/echo-request\"", who, a, v[i].proto == SEG_PROTO_ICMP ? "ICMP" : "ICMPv6",
			    seg_proto_name(v[i].proto));
		if (v[i].proto == SEG_PROTO_TCP || v[i].proto == SEG_PROTO_UDP)
			ports += (uint64_t)v[i].port_hi - v[i].port_lo + 1;
		d->check = SEG_CHECK_TUNNELS;
		warn_tunnels(who, &v[i], a, d);
		d->check = SEG_CHECK_GATEWAY;
	}
	if (ports > cfg->settings.max_ports)
		ERR(d, v[0].line, "%s open %llu ports of the gateway to a mynumber zone, more than "
		    "settings.max_ports (%u) — list the ports the gateway's services use", who,
		    (unsigned long long)ports, cfg->settings.max_ports);
}

static void check_gateway_settings(const struct seg_config *cfg, struct seg_diags *d)
{
	const struct seg_settings *s = &cfg->settings;
	char a[64];

	for (size_t i = 0; i < s->n_gateway_addrs; i++) {
		const struct seg_prefix *p = &s->gateway_addrs[i];
		seg_prefix_format(p, a, sizeof(a));
		if (!seg_is_host(p) || p->has_mac)
			ERR(d, p->line, "settings: gateway_addresses '%s' is not a single address — list the "
			    "gateway's own addresses, e.g. \"10.20.0.1\"", a);
	}
	for (size_t i = 0; i < s->n_mgmt_ifaces; i++)
		for (size_t z = 0; z < cfg->n_zones; z++)
			for (size_t k = 0; k < cfg->zones[z].n_ifaces; k++)
				if (strcmp(cfg->zones[z].ifaces[k], s->mgmt_ifaces[i]) == 0)
					ERR(d, s->line, "settings: management interface '%s' is also an interface of zone "
					    "'%s' — a management interface belongs to no zone; remove it from one list",
					    s->mgmt_ifaces[i], cfg->zones[z].name);
}

void seg_check_gateway(const struct seg_config *cfg, struct seg_diags *d)
{
	d->check = SEG_CHECK_GATEWAY;
	check_gateway_settings(cfg, d);
	check_relay(cfg, d);
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		if (z->kind != SEG_ZONE_MYNUMBER || !z->name)
			continue;
		if (z->n_gw_services)
			check_zone_services(cfg, z, z->gw_services, z->n_gw_services, "gateway_services", d);
		if (z->n_link_services)
			check_zone_services(cfg, z, z->link_services, z->n_link_services, "link_services", d);
	}
	d->check = SEG_CHECK_FORM;
}
