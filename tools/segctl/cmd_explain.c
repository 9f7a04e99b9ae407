/*
 * cmd_explain.c - segctl explain SRC DST PROTO[/PORT] [--in IFACE] [--out IFACE]
 * [--to-gateway | --from-gateway]: the verdict of seg_decide() for one flow,
 * and why. Without either option a flow to or from one of the gateway's own
 * addresses (settings.gateway_addresses; on the gateway itself also the
 * addresses of its interfaces) is judged as the gateway's, not as forwarded.
 *
 * The verdict comes from lib/decide.c, the same function the end-to-end tests
 * hold the kernel to; this file only parses the flow and renders the answer.
 * Exit status: 0 accepted, 1 denied, 2 usage or runtime error.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "addr.h"
#include "decide.h"
#include "json.h"
#include "segctl.h"

#define LIST_SHOWN 4   /* entries of a conduit's list shown before "(N more)" */

struct explain {
	const char *src, *dst, *proto;
	const char *in, *out;
	bool to_gateway, from_gateway, auto_path;
	struct seg_flow flow;
	struct seg_verdict v;
	const struct seg_config *cfg;
	const struct seg_policy *pol;
};

/* ---- the command line ---- */

static const struct { const char *name; uint8_t num; bool has_port; } protos[] = {
	{ "tcp", IPPROTO_TCP, true }, { "udp", IPPROTO_UDP, true },
	{ "icmp", IPPROTO_ICMP, true }, { "icmpv6", IPPROTO_ICMPV6, true },
	{ "ipv6-icmp", IPPROTO_ICMPV6, true },
};

static int parse_number(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

/* A protocol name or number: tcp, udp, icmp, icmpv6, gre, 47. */
static int parse_proto_name(const char *s, uint8_t *num, bool *has_port)
{
	unsigned long v;

	*has_port = false;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (strcmp(s, protos[i].name) == 0) {
			*num = protos[i].num;
			*has_port = protos[i].has_port;
			return 0;
		}
	if (parse_number(s, 255, &v) == 0) {
		*num = (uint8_t)v;
		*has_port = v == IPPROTO_TCP || v == IPPROTO_UDP || v == IPPROTO_ICMP || v == IPPROTO_ICMPV6;
		return 0;
	}
	const struct protoent *pe = getprotobyname(s);
	if (!pe || pe->p_proto < 0 || pe->p_proto > 255)
		return -EINVAL;
	*num = (uint8_t)pe->p_proto;
	return 0;
}

/* PROTO[/PORT]: tcp and udp need a port; icmp and icmpv6 may give a type.
 * icmp-error/PROTO: an ICMP error about a PROTO connection that DST opened
 * to SRC. */
static int parse_proto(struct segctl *s, const char *arg, struct seg_flow *f)
{
	char name[32];

	if (strncmp(arg, "icmp-error/", 11) == 0) {
		bool has_port;
		f->icmp_error = true;
		if (parse_proto_name(arg + 11, &f->l4proto, &has_port) == 0)
			return 0;
		fprintf(stderr, "%s: explain: '%s': the protocol of the connection the error reports on is unknown "
			"— write e.g. icmp-error/tcp\n", s->prog, arg);
		return -EINVAL;
	}
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
	unsigned long port = 0;
	bool has_port;

	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), arg);
	if (n >= sizeof(name) || parse_proto_name(name, &f->l4proto, &has_port) < 0) {
		fprintf(stderr, "%s: explain: protocol '%s' is unknown — use tcp/PORT, udp/PORT, icmp, icmpv6, "
			"or a protocol name or number such as gre or 47\n", s->prog, name);
		return -EINVAL;
	}
	bool ported = f->l4proto == IPPROTO_TCP || f->l4proto == IPPROTO_UDP;
	if (ported && !slash) {
		fprintf(stderr, "%s: explain: '%s' needs a destination port — e.g. %s/443\n", s->prog, arg, name);
		return -EINVAL;
	}
	if (slash && (!has_port || parse_number(slash + 1, ported ? 65535 : 255, &port) < 0 ||
		      (ported && port == 0))) {
		fprintf(stderr, "%s: explain: '%s': %s\n", s->prog, arg, !has_port ?
			"this protocol has no ports — give the protocol alone" : ported ?
			"port must be 1-65535" : "ICMP type must be 0-255");
		return -EINVAL;
	}
	f->dport = (uint16_t)port;
	return 0;
}

static int take_option(struct segctl *s, int argc, char **argv, int *i, const char **out)
{
	const char *why;

	if (*i + 1 >= argc) {
		fprintf(stderr, "%s: explain: option '%s' needs an interface name\n", s->prog, argv[*i]);
		return -EINVAL;
	}
	*out = argv[++*i];
	if (!seg_ifname_valid(*out, &why)) {
		fprintf(stderr, "%s: explain: interface '%s': %s\n", s->prog, *out, why);
		return -EINVAL;
	}
	return 0;
}

static int parse_args(struct segctl *s, int argc, char **argv, struct explain *e)
{
	const char **pos[] = { &e->src, &e->dst, &e->proto };
	size_t n_pos = 0;

	for (int i = 1; i < argc; i++) {
		int r = 0;
		if (strcmp(argv[i], "--in") == 0)
			r = take_option(s, argc, argv, &i, &e->in);
		else if (strcmp(argv[i], "--out") == 0)
			r = take_option(s, argc, argv, &i, &e->out);
		else if (strcmp(argv[i], "--to-gateway") == 0)
			e->to_gateway = true;
		else if (strcmp(argv[i], "--from-gateway") == 0)
			e->from_gateway = true;
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			r = -EINVAL, fprintf(stderr, "%s: explain: unknown option '%s'\n", s->prog, argv[i]);
		else if (n_pos < 3)
			*pos[n_pos++] = argv[i];
		else
			r = -EINVAL, fprintf(stderr, "%s: explain: too many arguments at '%s'\n", s->prog, argv[i]);
		if (r < 0)
			return r;
	}
	if (e->to_gateway && (e->out || e->from_gateway)) {
		fprintf(stderr, "%s: explain: --to-gateway excludes %s — a packet to the gateway leaves through "
			"no interface\n", s->prog, e->out ? "--out" : "--from-gateway");
		return -EINVAL;
	}
	if (e->from_gateway && e->in) {
		fprintf(stderr, "%s: explain: --in and --from-gateway exclude each other — a packet the gateway "
			"sends arrives through no interface\n", s->prog);
		return -EINVAL;
	}
	return n_pos == 3 ? 0 : -EINVAL;
}

static int build_flow(struct segctl *s, struct explain *e)
{
	struct seg_flow *f = &e->flow;
	const char *why;
	int fam_dst;

	memset(f, 0, sizeof(*f));
	f->path = e->to_gateway ? SEG_PATH_INPUT : e->from_gateway ? SEG_PATH_OUTPUT : SEG_PATH_FORWARD;
	f->iif = e->in;
	f->oif = e->out;
	if (seg_addr_parse(e->src, &f->family, f->src, &why) < 0) {
		fprintf(stderr, "%s: explain: source '%s': %s\n", s->prog, e->src, why);
		return -EINVAL;
	}
	if (seg_addr_parse(e->dst, &fam_dst, f->dst, &why) < 0) {
		fprintf(stderr, "%s: explain: destination '%s': %s\n", s->prog, e->dst, why);
		return -EINVAL;
	}
	if (fam_dst != f->family) {
		fprintf(stderr, "%s: explain: '%s' and '%s' are not of one address family — give two IPv4 "
			"or two IPv6 addresses\n", s->prog, e->src, e->dst);
		return -EINVAL;
	}
	return parse_proto(s, e->proto, f);
}

/* ---- words ---- */

static const char *zone_name(const struct explain *e, int z)
{
	return z >= 0 ? e->cfg->zones[z].name : e->flow.path == SEG_PATH_OUTPUT ? SEG_GATEWAY_NAME : NULL;
}

static void print_flow(FILE *f, const struct explain *e)
{
	const struct seg_flow *fl = &e->flow;
	char src[64], dst[64];

	seg_addr_format(fl->family, fl->src, src, sizeof(src));
	seg_addr_format(fl->family, fl->dst, dst, sizeof(dst));
	fprintf(f, "%s %s -> %s", e->proto, src, dst);
	fputs(fl->path == SEG_PATH_INPUT ? " (to the gateway" : fl->path == SEG_PATH_OUTPUT ? " (from the gateway" :
	      " (forwarded", f);
	if (e->auto_path)
		fputs(", one of its own addresses", f);
	if (fl->iif)
		fprintf(f, ", in '%s'", fl->iif);
	if (fl->oif)
		fprintf(f, ", out '%s'", fl->oif);
	fputc(')', f);
}

/* The zone an address belongs to, in words. */
static const char *addr_owner(const struct explain *e, const uint8_t *addr)
{
	int z = seg_zonemap_lookup(seg_policy_zonemap(e->pol), e->flow.family, addr);

	return z >= 0 ? e->cfg->zones[z].name : "no zone";
}

static void why_unzoned(FILE *f, const struct explain *e)
{
	const char *ifn = e->flow.path == SEG_PATH_INPUT ? e->flow.iif : e->flow.path == SEG_PATH_OUTPUT ? e->flow.oif :
			  e->v.src_zone < 0 ? e->flow.iif : e->flow.oif;

	fprintf(f, "interface '%s' belongs to no zone: segd passes nothing through an interface outside the "
		"zones, forwarded, to the gateway or from it (only loopback and settings.management_interfaces "
		"are the gateway's own) — add it to a zone's interfaces", ifn);
}

static void why_no_zone(FILE *f, const struct explain *e)
{
	bool src = e->v.src_zone < 0;
	char a[64];

	seg_addr_format(e->flow.family, src ? e->flow.src : e->flow.dst, a, sizeof(a));
	fprintf(f, "the %s %s is in no zone's networks and no %s interface was given, so its zone is "
		"unknown: segd denies it", src ? "source" : "destination", a, src ? "--in" : "--out");
}

/* The model's word on a pair that no conduit opened. */
static const char *pair_rule(const struct explain *e)
{
	enum seg_zone_kind a = e->cfg->zones[e->v.src_zone].kind, b = e->cfg->zones[e->v.dst_zone].kind;
	bool outside_a = a == SEG_ZONE_INTERNET || a == SEG_ZONE_EXTERNAL;
	bool outside_b = b == SEG_ZONE_INTERNET || b == SEG_ZONE_EXTERNAL;

	if (a == SEG_ZONE_MYNUMBER || b == SEG_ZONE_MYNUMBER)
		return "model rule 2: only a \"specific\" conduit between single hosts, with named services, "
		       "may open a pair touching a mynumber zone";
	if ((a == SEG_ZONE_LGWAN && outside_b) || (outside_a && b == SEG_ZONE_LGWAN))
		return "model rule 3: only a \"sanitize\" or \"screen\" conduit to named relay or desktop hosts "
		       "may open a pair between lgwan and internet/external";
	return "default deny: only conduits cross between zones";
}

static void why(FILE *f, const struct explain *e)
{
	const struct seg_verdict *v = &e->v;
	const char *sz = zone_name(e, v->src_zone), *dz = zone_name(e, v->dst_zone);
	char a[64];

	seg_addr_format(e->flow.family, e->flow.src, a, sizeof(a));
	switch (v->reason) {
	case SEG_REASON_INTRA_ZONE:
		fprintf(f, "source and destination are both in zone '%s': traffic within a zone is allowed", sz);
		break;
	case SEG_REASON_CONDUIT:
		if (e->flow.icmp_error)   /* the conduit runs the other way: the error goes back */
			fprintf(f, "conduit '%s' from '%s' to '%s' opened the connection this error reports on",
				e->cfg->conduits[v->conduit].name, e->cfg->zones[e->cfg->conduits[v->conduit].from].name,
				e->cfg->zones[e->cfg->conduits[v->conduit].to].name);
		else
			fprintf(f, "conduit '%s' opens it from '%s' to '%s' (replies come back)",
				e->cfg->conduits[v->conduit].name, sz, dz);
		break;
	case SEG_REASON_DEFAULT_DENY:
		fprintf(f, "no conduit from '%s' to '%s' holds this flow (%s)", sz, dz, pair_rule(e));
		break;
	case SEG_REASON_MODEL_GUARD:
		fprintf(f, "model rule 1: no conduit joins a mynumber zone and an internet or external zone, "
			"either way; the guard drops '%s' -> '%s' before any conduit", sz, dz);
		break;
	case SEG_REASON_SPOOFED_SOURCE:
		fprintf(f, "source %s belongs to %s, not to zone '%s' of arrival interface '%s': "
			"anti-spoofing drops it", a, addr_owner(e, e->flow.src), sz, e->flow.iif);
		break;
	case SEG_REASON_UNZONED:
		why_unzoned(f, e);
		break;
	case SEG_REASON_NO_ZONE:
		why_no_zone(f, e);
		break;
	case SEG_REASON_TO_GATEWAY:
		fprintf(f, "zone '%s' does not list this service in gateway_services: the gateway itself "
			"is closed to it", sz);
		break;
	case SEG_REASON_GATEWAY_SERVICE:
		fprintf(f, "zone '%s' lists this service in gateway_services", sz);
		break;
	case SEG_REASON_NEIGHBOR_DISCOVERY:
		fputs("ICMPv6 neighbour discovery (types 133-136) always reaches the gateway", f);
		break;
	case SEG_REASON_ISOLATED:
		fprintf(f, "zone '%s' is isolated (segctl isolate; see segctl status for why): every flow between "
			"it and any other zone is dropped, conduits included, until 'segctl release %s'",
			e->cfg->zones[v->src_zone].isolated ? sz : dz, e->cfg->zones[v->src_zone].isolated ? sz : dz);
		break;
	case SEG_REASON_LOCAL_INTERFACE:
		fprintf(f, "interface '%s' is the gateway's own (loopback or settings.management_interfaces): "
			"segd does not judge it", e->flow.iif ? e->flow.iif : e->flow.oif);
		break;
	case SEG_REASON_LINK_SERVICE:
		fprintf(f, "link scope (link-local or link multicast, never forwarded): zone '%s' lists this "
			"service in link_services", e->flow.path == SEG_PATH_OUTPUT ? dz : sz);
		break;
	case SEG_REASON_LINK_SCOPE:
		fprintf(f, "link scope (link-local or link multicast, never forwarded): zone '%s' does not list "
			"this service in link_services", e->flow.path == SEG_PATH_OUTPUT ? dz : sz);
		break;
	case SEG_REASON_FROM_GATEWAY:
		fprintf(f, "no conduit from = \"gateway\" to '%s' holds it: the gateway itself sends only what "
			"conduits from it name", dz);
		break;
	default:
		fputs("?", f);
	}
}

/* ---- conduits of the pair and why they did not match ---- */

static const char *const mismatch_names[] = { "source", "destination", "service", "expired" };

static void print_prefixes(FILE *f, const struct seg_prefix *v, size_t n, const char *zone)
{
	char a[64];

	if (n == 0) {
		fprintf(f, "all of zone '%s'", zone);
		return;
	}
	for (size_t i = 0; i < n && i < LIST_SHOWN; i++) {
		seg_prefix_format(&v[i], a, sizeof(a));
		fprintf(f, "%s%s", i ? ", " : "", a);
	}
	if (n > LIST_SHOWN)
		fprintf(f, " (%zu more)", n - LIST_SHOWN);
}

static void print_services(FILE *f, const struct seg_service *v, size_t n)
{
	char a[32];

	for (size_t i = 0; i < n && i < LIST_SHOWN; i++) {
		seg_service_format(&v[i], a, sizeof(a));
		fprintf(f, "%s%s", i ? ", " : "", a);
	}
	if (n > LIST_SHOWN)
		fprintf(f, " (%zu more)", n - LIST_SHOWN);
}

static void print_mismatch(FILE *f, const struct explain *e, size_t ci, unsigned m)
{
	const struct seg_conduit *c = &e->cfg->conduits[ci];

	fprintf(f, "  %s (%s:%d):", c->name, e->cfg->file, c->line);
	if (m & SEG_MISMATCH_EXPIRED)
		fprintf(f, " expired on %s, not installed;", c->expires ? c->expires : "?");
	if (m & SEG_MISMATCH_SOURCE) {
		fputs(" source not in [", f);
		print_prefixes(f, c->srcs, c->n_srcs, e->cfg->zones[c->from].name);
		fputs("];", f);
	}
	if (m & SEG_MISMATCH_DESTINATION) {
		fputs(" destination not in [", f);
		print_prefixes(f, c->dsts, c->n_dsts, e->cfg->zones[c->to].name);
		fputs("];", f);
	}
	if (m & SEG_MISMATCH_SERVICE) {
		fputs(" service not in [", f);
		print_services(f, c->services, c->n_services);
		fputs("];", f);
	}
	fputc('\n', f);
}

static bool in_pair(const struct explain *e, size_t ci)
{
	const struct seg_conduit *c = &e->cfg->conduits[ci];

	return (int)c->from == e->v.src_zone && (int)c->to == e->v.dst_zone;
}

static void print_pair_conduits(FILE *f, const struct explain *e)
{
	size_t n = 0;

	for (size_t i = 0; i < e->cfg->n_conduits; i++)
		n += in_pair(e, i);
	if (n == 0) {
		fprintf(f, "conduits: none from '%s' to '%s'\n", zone_name(e, e->v.src_zone),
			zone_name(e, e->v.dst_zone));
		return;
	}
	fprintf(f, "conduits from '%s' to '%s' (%zu), none of which holds it:\n",
		zone_name(e, e->v.src_zone), zone_name(e, e->v.dst_zone), n);
	for (size_t i = 0; i < e->cfg->n_conduits; i++)
		if (in_pair(e, i))
			print_mismatch(f, e, i, seg_conduit_mismatch(e->pol, i, &e->flow));
}

static void print_conduit(FILE *f, const struct explain *e)
{
	const struct seg_conduit *c = &e->cfg->conduits[e->v.conduit];

	fprintf(f, "conduit:  %s\n", c->name);
	fprintf(f, "  kind:     %s\n", seg_conduit_kind_name(c->kind));
	fprintf(f, "  approval: %s\n", c->approval ? c->approval : "-");
	fprintf(f, "  expires:  %s\n", c->expires ? c->expires : "-");
	fprintf(f, "  defined:  %s:%d\n", e->cfg->file, c->line);
	if (c->comment)
		fprintf(f, "  comment:  %s\n", c->comment);
}

/* The MAC binding of the flow's source host, or NULL: the kernel drops
 * frames from it that carry another source MAC, before any conduit. */
static const struct seg_prefix *source_binding(const struct explain *e)
{
	for (size_t i = 0; i < e->cfg->n_conduits; i++) {
		const struct seg_conduit *c = &e->cfg->conduits[i];
		for (int side = 0; side < 2 && !c->expired; side++) {
			const struct seg_prefix *p = side ? c->dsts : c->srcs;
			size_t n = side ? c->n_dsts : c->n_srcs;
			for (size_t j = 0; j < n; j++)
				if (p[j].has_mac && p[j].family == e->flow.family &&
				    memcmp(p[j].addr, e->flow.src, p[j].family == AF_INET ? 4 : 16) == 0 &&
				    (int)(side ? c->to : c->from) == e->v.src_zone)
					return &p[j];
		}
	}
	return NULL;
}

static void print_binding(FILE *f, const struct explain *e)
{
	const struct seg_prefix *b = source_binding(e);
	char a[64], m[24];

	if (!b)
		return;
	seg_prefix_format(b, a, sizeof(a));
	seg_mac_format(b->mac, m, sizeof(m));
	fprintf(f, "binding:  %s is bound to MAC %s (%s:%d): frames from it with another source MAC are dropped "
		"as spoofed before this verdict applies\n", a, m, e->cfg->file, b->line);
}

static void print_zone(FILE *f, const struct explain *e, int z)
{
	if (z >= 0)
		fprintf(f, "%s (%s)", e->cfg->zones[z].name, seg_zone_kind_name(e->cfg->zones[z].kind));
	else
		fputs("-", f);
}

static void print_text(FILE *f, const struct explain *e)
{
	fprintf(f, "verdict:  %s (%s)\n", e->v.accept ? "accept" : "deny", seg_reason_name(e->v.reason));
	fputs("flow:     ", f);
	print_flow(f, e);
	fputs("\nzones:    ", f);
	if (e->flow.path == SEG_PATH_OUTPUT)
		fputs("the gateway", f);
	else
		print_zone(f, e, e->v.src_zone);
	fputs(" -> ", f);
	if (e->flow.path == SEG_PATH_INPUT)
		fputs("the gateway", f);
	else
		print_zone(f, e, e->v.dst_zone);
	fputs("\nreason:   ", f);
	why(f, e);
	fputc('\n', f);
	print_binding(f, e);
	if (e->flow.icmp_error && e->v.reason == SEG_REASON_CONDUIT)
		fprintf(f, "related:  an ICMP error to %s about its connection to %s: it passes because the "
			"conduit below lets %s reach %s by that protocol (the kernel also asks conntrack that the "
			"connection is open)\n", e->dst, e->src, e->dst, e->src);
	else if (e->flow.icmp_error)
		fprintf(f, "related:  an ICMP error passes only back to a connection's originator, from a host "
			"that a conduit lets the originator reach by that protocol\n");
	if (e->v.reason == SEG_REASON_CONDUIT)
		print_conduit(f, e);
	if (e->v.reason == SEG_REASON_DEFAULT_DENY || (e->v.reason == SEG_REASON_FROM_GATEWAY && e->v.src_zone >= 0))
		print_pair_conduits(f, e);
}

/* ---- JSON ---- */

static void json_zone(FILE *f, int *first, const char *key, const struct explain *e, int z)
{
	seg_json_key(f, first, key);
	seg_json_str(f, zone_name(e, z));
}

static void json_text(FILE *f, int *first, const char *key, const struct explain *e,
		      void (*render)(FILE *, const struct explain *))
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (m) {
		render(m, e);
		fclose(m);
	}
	seg_json_key(f, first, key);
	seg_json_str(f, text ? text : "");
	free(text);
}

static void json_conduit(FILE *f, const struct explain *e, size_t ci, unsigned mismatch)
{
	const struct seg_conduit *c = &e->cfg->conduits[ci];
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "name");
	seg_json_str(f, c->name);
	seg_json_key(f, &first, "kind");
	seg_json_str(f, seg_conduit_kind_name(c->kind));
	seg_json_key(f, &first, "approval");
	seg_json_str(f, c->approval);
	seg_json_key(f, &first, "expires");
	seg_json_str(f, c->expires);
	seg_json_key(f, &first, "file");
	seg_json_str(f, e->cfg->file);
	seg_json_key(f, &first, "line");
	fprintf(f, "%d", c->line);
	seg_json_key(f, &first, "comment");
	seg_json_str(f, c->comment);
	if (mismatch) {
		seg_json_key(f, &first, "mismatch");
		fputc('[', f);
		for (unsigned b = 0, n = 0; b < 4; b++)
			if (mismatch & (1u << b)) {
				fputs(n++ ? "," : "", f);
				seg_json_str(f, mismatch_names[b]);
			}
		fputc(']', f);
	}
	fputc('}', f);
}

static void json_pair_conduits(FILE *f, int *first, const struct explain *e)
{
	size_t n = 0;

	seg_json_key(f, first, "conduits");
	fputc('[', f);
	for (size_t i = 0; i < e->cfg->n_conduits; i++)
		if (in_pair(e, i)) {
			fputs(n++ ? "," : "", f);
			json_conduit(f, e, i, seg_conduit_mismatch(e->pol, i, &e->flow));
		}
	fputc(']', f);
}

static void json_flow(FILE *f, int *first, const struct explain *e)
{
	char a[64];

	seg_json_key(f, first, "path");
	seg_json_str(f, e->flow.path == SEG_PATH_INPUT ? "input" : e->flow.path == SEG_PATH_OUTPUT ? "output" : "forward");
	seg_addr_format(e->flow.family, e->flow.src, a, sizeof(a));
	seg_json_key(f, first, "src");
	seg_json_str(f, a);
	seg_addr_format(e->flow.family, e->flow.dst, a, sizeof(a));
	seg_json_key(f, first, "dst");
	seg_json_str(f, a);
	seg_json_key(f, first, "l4proto");
	fprintf(f, "%u", e->flow.l4proto);
	seg_json_key(f, first, "dport");
	fprintf(f, "%u", e->flow.dport);
	seg_json_key(f, first, "in");
	seg_json_str(f, e->flow.iif);
	seg_json_key(f, first, "out");
	seg_json_str(f, e->flow.oif);
}

static void print_json(FILE *f, const struct explain *e)
{
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "verdict");
	seg_json_str(f, e->v.accept ? "accept" : "deny");
	seg_json_key(f, &first, "reason");
	seg_json_str(f, seg_reason_name(e->v.reason));
	json_flow(f, &first, e);
	json_zone(f, &first, "src_zone", e, e->v.src_zone);
	const struct seg_prefix *bound = source_binding(e);
	if (bound) {
		char m[24];
		seg_mac_format(bound->mac, m, sizeof(m));
		seg_json_key(f, &first, "source_mac");
		seg_json_str(f, m);
	}
	json_zone(f, &first, "dst_zone", e, e->v.dst_zone);
	json_text(f, &first, "explanation", e, why);
	if (e->v.reason == SEG_REASON_CONDUIT) {
		seg_json_key(f, &first, "conduit");
		json_conduit(f, e, (size_t)e->v.conduit, 0);
	}
	if (e->v.reason == SEG_REASON_DEFAULT_DENY || (e->v.reason == SEG_REASON_FROM_GATEWAY && e->v.src_zone >= 0))
		json_pair_conduits(f, &first, e);
	fputs("}\n", f);
}

/* ---- the gateway's own addresses ---- */

static bool is_config_iface(const struct seg_config *cfg, const char *name)
{
	for (size_t z = 0; z < cfg->n_zones; z++)
		for (size_t i = 0; i < cfg->zones[z].n_ifaces; i++)
			if (strcmp(cfg->zones[z].ifaces[i], name) == 0)
				return true;
	return false;
}

/* Whether addr is the gateway's: listed in settings.gateway_addresses, or,
 * when this host has one of the configuration's interfaces (explain runs
 * on the gateway), an address of one of its interfaces. */
static bool gateway_addr(const struct seg_config *cfg, int family, const uint8_t *addr)
{
	const struct seg_settings *st = &cfg->settings;
	struct ifaddrs *ifa = NULL;
	bool here = false, mine = false;

	for (size_t i = 0; i < st->n_gateway_addrs; i++)
		if (seg_prefix_has(&st->gateway_addrs[i], family, addr))
			return true;
	if (getifaddrs(&ifa) < 0)
		return false;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
		here |= i->ifa_name && is_config_iface(cfg, i->ifa_name);
	for (struct ifaddrs *i = ifa; i && here && !mine; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != family || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		const void *a = family == AF_INET ? (const void *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr :
				(const void *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
		mine = memcmp(a, addr, family == AF_INET ? 4 : 16) == 0;
	}
	freeifaddrs(ifa);
	return mine;
}

/* A flow to one of the gateway's addresses is input, from one output:
 * `explain 10.30.0.2 10.30.0.1 tcp/22` asks the gateway's own policy. */
static void infer_path(struct explain *e)
{
	if (gateway_addr(e->cfg, e->flow.family, e->flow.dst))
		e->flow.path = SEG_PATH_INPUT;
	else if (gateway_addr(e->cfg, e->flow.family, e->flow.src))
		e->flow.path = SEG_PATH_OUTPUT;
	e->auto_path = e->flow.path != SEG_PATH_FORWARD;
}

int cmd_explain(struct segctl *s, int argc, char **argv)
{
	struct explain e = { 0 };
	struct seg_config *cfg = NULL;
	struct seg_policy *pol = NULL;

	if (parse_args(s, argc, argv, &e) < 0)
		return segctl_usage(s, "explain");
	if (build_flow(s, &e) < 0)
		return SEGCTL_ERROR;
	int r = segctl_load(s, NULL, &cfg);
	if (r != SEGCTL_OK)
		return r == SEGCTL_NOT_OK ? SEGCTL_ERROR : r;
	segctl_isolation(s, cfg, NULL);
	int err = seg_policy_build(cfg, &pol);
	if (err < 0) {
		fprintf(stderr, "%s: explain: %s\n", s->prog, strerror(-err));
		seg_config_free(cfg);
		return SEGCTL_ERROR;
	}
	e.cfg = cfg;
	e.pol = pol;
	if (!e.to_gateway && !e.from_gateway && !e.in && !e.out)
		infer_path(&e);
	seg_decide(pol, &e.flow, &e.v);
	if (s->json)
		print_json(stdout, &e);
	else
		print_text(stdout, &e);
	seg_policy_free(pol);
	seg_config_free(cfg);
	return e.v.accept ? SEGCTL_OK : SEGCTL_NOT_OK;
}
