/* test_decide.c - the policy of decide.h, reason by reason, IPv4 and IPv6,
 * and the index against the linear definition over random flows. */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "addr.h"
#include "config.h"
#include "decide.h"
#include "suites.h"

#define POLICY_CONF TEST_CONFIGS "/decide/policy.conf"

static struct seg_config *load(const char *path)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	int64_t today;
	const char *why;

	ck_assert_int_eq(seg_date_parse("2026-01-01", &today, &why), 0);
	int r = seg_config_load(path, today, &cfg, &d);
	if (r < 0)
		seg_diags_print(&d, stderr);
	seg_diags_free(&d);
	ck_assert_int_eq(r, 0);
	return cfg;
}

/* Protocol names of the table: "tcp", "udp", "icmp", "icmpv6", or a number. */
static uint8_t proto_number(const char *s)
{
	static const struct { const char *name; uint8_t num; } t[] = {
		{ "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP },
		{ "icmpv6", IPPROTO_ICMPV6 }, { "gre", IPPROTO_GRE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].num;
	return (uint8_t)atoi(s);
}

struct decide_case {
	const char *what;
	enum seg_path path;
	const char *src, *dst, *proto;
	uint16_t dport;                 /* port, or ICMP type */
	const char *iif, *oif;
	bool accept;
	enum seg_reason reason;
	const char *src_zone, *dst_zone; /* NULL: -1 */
	const char *conduit;             /* NULL: -1 */
};

#define FWD SEG_PATH_FORWARD
#define INP SEG_PATH_INPUT
#define OUT SEG_PATH_OUTPUT
#define R(x) SEG_REASON_##x

static const struct decide_case cases[] = {
	/* FORWARD 1: unzoned interfaces */
	{ "unzoned iif", FWD, "10.20.0.5", "10.30.0.5", "tcp", 80, "eth9", "eth3", false, R(UNZONED), NULL, NULL, NULL },
	{ "unzoned oif", FWD, "10.20.0.5", "10.30.0.5", "tcp", 80, "eth2", "mgmt0", false, R(UNZONED), "lg", NULL, NULL },
	{ "unzoned oif v6", FWD, "fd00:20::5", "fd00:30::5", "tcp", 80, "eth2", "mgmt0", false, R(UNZONED), "lg", NULL, NULL },
	{ "unzoned before spoofed", FWD, "10.10.0.5", "10.30.0.5", "tcp", 80, "eth2", "eth9", false, R(UNZONED), "lg", NULL, NULL },
	/* FORWARD 2: spoofed sources */
	{ "spoofed v4", FWD, "10.10.0.5", "10.20.0.50", "tcp", 443, "eth2", "eth1", false, R(SPOOFED_SOURCE), "lg", "myn", NULL },
	{ "spoofed v6", FWD, "fd00:10::5", "fd00:20::50", "tcp", 443, "eth2", "eth1", false, R(SPOOFED_SOURCE), "lg", "myn", NULL },
	{ "spoofed: internal address on the catch-all", FWD, "10.10.0.5", "10.30.0.5", "tcp", 80, "eth0", "eth3", false, R(SPOOFED_SOURCE), "cloud", "inet", NULL },
	{ "spoofed: no zone at all", FWD, "fd99::1", "fd00:20::1", "tcp", 80, "eth3", "eth2", false, R(SPOOFED_SOURCE), "inet", "lg", NULL },
	{ "spoofed: intra-zone does not excuse it", FWD, "10.30.0.5", "10.20.0.6", "tcp", 80, "eth2", "eth4", false, R(SPOOFED_SOURCE), "lg", "lg", NULL },
	/* no interfaces: addresses decide; an address in no zone */
	{ "no zone: v6 source", FWD, "fd99::1", "fd00:20::1", "tcp", 80, NULL, NULL, false, R(NO_ZONE), NULL, "lg", NULL },
	{ "no zone: v6 destination", FWD, "fd00:20::1", "2001:db8::1", "tcp", 80, NULL, NULL, false, R(NO_ZONE), "lg", NULL, NULL },
	{ "no zone: destination with iif", FWD, "fd00:20::1", "2001:db8::1", "tcp", 80, "eth2", NULL, false, R(NO_ZONE), "lg", NULL, NULL },
	{ "v4 catch-all is a zone", FWD, "10.30.0.8", "8.8.8.8", "tcp", 443, NULL, NULL, true, R(CONDUIT), "inet", "cloud", "web" },
	/* FORWARD 3: intra-zone */
	{ "intra v4", FWD, "10.20.0.5", "10.20.0.6", "tcp", 1, NULL, NULL, true, R(INTRA_ZONE), "lg", "lg", NULL },
	{ "intra v6", FWD, "fd00:30::5", "fd00:30::6", "udp", 9, NULL, NULL, true, R(INTRA_ZONE), "inet", "inet", NULL },
	{ "intra: two interfaces of one zone", FWD, "10.20.0.5", "10.20.0.6", "gre", 0, "eth2", "eth4", true, R(INTRA_ZONE), "lg", "lg", NULL },
	{ "intra: the catch-all zone", FWD, "1.1.1.1", "8.8.8.8", "udp", 53, "eth0", "eth0", true, R(INTRA_ZONE), "cloud", "cloud", NULL },
	/* FORWARD 4: model guard, either way, any kind of outside zone */
	{ "guard myn->inet", FWD, "10.10.0.5", "10.30.0.5", "tcp", 443, NULL, NULL, false, R(MODEL_GUARD), "myn", "inet", NULL },
	{ "guard inet->myn", FWD, "10.30.0.5", "10.10.0.5", "tcp", 443, "eth3", "eth1", false, R(MODEL_GUARD), "inet", "myn", NULL },
	{ "guard myn->cloud", FWD, "10.10.0.5", "8.8.8.8", "udp", 53, NULL, NULL, false, R(MODEL_GUARD), "myn", "cloud", NULL },
	{ "guard cloud->myn", FWD, "8.8.8.8", "10.10.0.5", "tcp", 22, "eth0", "eth1", false, R(MODEL_GUARD), "cloud", "myn", NULL },
	{ "guard v6", FWD, "fd00:10::5", "fd00:30::5", "icmpv6", 128, NULL, NULL, false, R(MODEL_GUARD), "myn", "inet", NULL },
	/* FORWARD 5/6: conduits, exact hosts */
	{ "specific v4", FWD, "10.10.0.5", "10.20.0.50", "tcp", 443, "eth1", "eth2", true, R(CONDUIT), "myn", "lg", "intermediate" },
	{ "specific v4 other exit iface", FWD, "10.10.0.5", "10.20.0.50", "tcp", 443, "eth1", "eth4", true, R(CONDUIT), "myn", "lg", "intermediate" },
	{ "specific v4 wrong port", FWD, "10.10.0.5", "10.20.0.50", "tcp", 444, NULL, NULL, false, R(DEFAULT_DENY), "myn", "lg", NULL },
	{ "specific v4 wrong proto", FWD, "10.10.0.5", "10.20.0.50", "udp", 443, NULL, NULL, false, R(DEFAULT_DENY), "myn", "lg", NULL },
	{ "specific v4 wrong source", FWD, "10.10.0.6", "10.20.0.50", "tcp", 443, NULL, NULL, false, R(DEFAULT_DENY), "myn", "lg", NULL },
	{ "specific v4 wrong destination", FWD, "10.10.0.5", "10.20.0.51", "tcp", 443, NULL, NULL, false, R(DEFAULT_DENY), "myn", "lg", NULL },
	{ "specific: not the reverse direction", FWD, "10.20.0.50", "10.10.0.5", "tcp", 443, NULL, NULL, false, R(DEFAULT_DENY), "lg", "myn", NULL },
	{ "specific v6 tcp", FWD, "fd00:10::5", "fd00:20::50", "tcp", 443, NULL, NULL, true, R(CONDUIT), "myn", "lg", "intermediate6" },
	{ "specific v6 udp", FWD, "fd00:10::5", "fd00:20::50", "udp", 53, "eth1", "eth2", true, R(CONDUIT), "myn", "lg", "intermediate6" },
	{ "specific v6 wrong port", FWD, "fd00:10::5", "fd00:20::50", "udp", 54, NULL, NULL, false, R(DEFAULT_DENY), "myn", "lg", NULL },
	/* the first conduit in the file wins, across entry shapes */
	{ "range conduit before exact one", FWD, "10.30.0.25", "10.20.0.25", "tcp", 25, NULL, NULL, true, R(CONDUIT), "inet", "lg", "relay-range" },
	{ "range low end", FWD, "10.30.0.25", "10.20.0.25", "tcp", 20, NULL, NULL, true, R(CONDUIT), "inet", "lg", "relay-range" },
	{ "range below", FWD, "10.30.0.25", "10.20.0.25", "tcp", 19, NULL, NULL, false, R(DEFAULT_DENY), "inet", "lg", NULL },
	{ "exact conduit outside the range", FWD, "10.30.0.25", "10.20.0.25", "tcp", 587, NULL, NULL, true, R(CONDUIT), "inet", "lg", "mail" },
	/* whole-zone sources */
	{ "egress whole source zone", FWD, "10.30.0.77", "203.0.113.10", "tcp", 8080, NULL, NULL, true, R(CONDUIT), "inet", "cloud", "proxy" },
	{ "egress with interfaces", FWD, "10.30.0.77", "203.0.113.10", "tcp", 8080, "eth3", "eth0", true, R(CONDUIT), "inet", "cloud", "proxy" },
	{ "egress other destination", FWD, "10.30.0.77", "203.0.113.11", "tcp", 8080, NULL, NULL, false, R(DEFAULT_DENY), "inet", "cloud", NULL },
	{ "egress v6 (cloud has no v6)", FWD, "fd00:30::77", "2001:db8::1", "tcp", 8080, "eth3", "eth0", false, R(DEFAULT_DENY), "inet", "cloud", NULL },
	/* whole-zone destinations: the destination must be in the exit zone */
	{ "dst prefix in the catch-all", FWD, "10.30.0.8", "9.9.9.9", "tcp", 443, "eth3", "eth0", true, R(CONDUIT), "inet", "cloud", "web" },
	{ "whole dst zone: address of another zone", FWD, "10.30.0.8", "10.20.0.1", "tcp", 443, "eth3", "eth0", false, R(DEFAULT_DENY), "inet", "cloud", NULL },
	{ "whole dst zone: lg2", FWD, "10.20.0.1", "10.21.0.7", "gre", 0, "eth2", "eth5", true, R(CONDUIT), "lg", "lg2", "lg-share" },
	{ "whole dst zone: not in lg2", FWD, "10.20.0.1", "10.30.0.7", "gre", 0, "eth2", "eth5", false, R(DEFAULT_DENY), "lg", "lg2", NULL },
	{ "any holds every protocol", FWD, "10.20.0.127", "10.21.0.200", "udp", 65535, NULL, NULL, true, R(CONDUIT), "lg", "lg2", "lg-share" },
	{ "source prefix: outside", FWD, "10.20.0.128", "10.21.0.7", "tcp", 80, NULL, NULL, false, R(DEFAULT_DENY), "lg", "lg2", NULL },
	{ "source prefix v4 holds no v6", FWD, "fd00:20::1", "fd00:21::1", "tcp", 80, NULL, NULL, false, R(DEFAULT_DENY), "lg", "lg2", NULL },
	/* port ranges, both families */
	{ "range v4 top", FWD, "10.20.0.9", "10.30.0.100", "tcp", 3390, NULL, NULL, true, R(CONDUIT), "lg", "inet", "desktop" },
	{ "range v4 above", FWD, "10.20.0.9", "10.30.0.100", "tcp", 3391, NULL, NULL, false, R(DEFAULT_DENY), "lg", "inet", NULL },
	{ "range v4 udp", FWD, "10.20.0.9", "10.30.0.100", "udp", 3389, NULL, NULL, false, R(DEFAULT_DENY), "lg", "inet", NULL },
	{ "range v6", FWD, "fd00:20::9", "fd00:30::100", "tcp", 3389, "eth4", "eth3", true, R(CONDUIT), "lg", "inet", "desktop" },
	/* expired conduits are ignored */
	{ "expired v4", FWD, "10.21.0.1", "10.20.0.1", "tcp", 80, NULL, NULL, false, R(DEFAULT_DENY), "lg2", "lg", NULL },
	{ "expired v6", FWD, "fd00:21::1", "fd00:20::1", "tcp", 80, NULL, NULL, false, R(DEFAULT_DENY), "lg2", "lg", NULL },
	{ "next conduit of the pair still works", FWD, "fd00:21::1", "fd00:20::53", "udp", 53, "eth5", "eth2", true, R(CONDUIT), "lg2", "lg", "dns6" },
	/* icmp services */
	{ "icmp conduit", FWD, "10.20.0.1", "198.51.100.7", "icmp", 8, NULL, NULL, true, R(CONDUIT), "lg", "cloud", "ping-cloud" },
	{ "icmp conduit, not tcp", FWD, "10.20.0.1", "198.51.100.7", "tcp", 80, NULL, NULL, false, R(DEFAULT_DENY), "lg", "cloud", NULL },
	{ "icmp conduit, other host", FWD, "10.20.0.1", "198.51.101.7", "icmp", 8, NULL, NULL, false, R(DEFAULT_DENY), "lg", "cloud", NULL },

	/* INPUT 1-2: the gateway's own interfaces, unzoned interfaces */
	{ "gw: management iface", INP, "192.168.1.5", "192.168.1.1", "tcp", 22, "mgmt0", NULL, true, R(LOCAL_INTERFACE), NULL, NULL, NULL },
	{ "gw: management iface v6", INP, "fe80::5", "fe80::1", "tcp", 22, "mgmt0", NULL, true, R(LOCAL_INTERFACE), NULL, NULL, NULL },
	{ "gw: loopback", INP, "10.20.0.1", "10.20.0.1", "tcp", 80, "lo", NULL, true, R(LOCAL_INTERFACE), NULL, NULL, NULL },
	{ "gw: unzoned iface", INP, "192.168.1.5", "192.168.1.1", "tcp", 22, "mgmt1", NULL, false, R(UNZONED), NULL, NULL, NULL },
	{ "gw: unzoned iface v6", INP, "fe80::5", "fe80::1", "tcp", 22, "eth9", NULL, false, R(UNZONED), NULL, NULL, NULL },
	{ "gw: unzoned iface, nd", INP, "fe80::5", "ff02::2", "icmpv6", 133, "eth9", NULL, false, R(UNZONED), NULL, NULL, NULL },
	/* INPUT 4: link scope */
	{ "gw: vrrpv3 in a zone with link_services", INP, "fe80::5", "ff02::12", "112", 0, "eth2", NULL, true, R(LINK_SERVICE), "lg", NULL, NULL },
	{ "gw: vrrpv3 in a zone without", INP, "fe80::5", "ff02::12", "112", 0, "eth1", NULL, false, R(LINK_SCOPE), "myn", NULL, NULL },
	{ "gw: vrrpv2 from a zone host", INP, "10.20.0.2", "224.0.0.18", "112", 0, "eth4", NULL, true, R(LINK_SERVICE), "lg", NULL, NULL },
	{ "gw: vrrpv2 in a zone without", INP, "10.10.0.2", "224.0.0.18", "112", 0, "eth1", NULL, false, R(LINK_SCOPE), "myn", NULL, NULL },
	{ "gw: dhcpv6 reply", INP, "fe80::5", "fe80::1", "udp", 546, "eth2", NULL, true, R(LINK_SERVICE), "lg", NULL, NULL },
	{ "gw: dhcpv6 to the server port", INP, "fe80::5", "fe80::1", "udp", 547, "eth2", NULL, false, R(LINK_SCOPE), "lg", NULL, NULL },
	{ "gw: ospfv3 not listed", INP, "fe80::5", "ff02::5", "89", 0, "eth2", NULL, false, R(LINK_SCOPE), "lg", NULL, NULL },
	{ "gw: link-local tcp/22 is not a gateway service", INP, "fe80::5", "fe80::1", "tcp", 22, "eth2", NULL, false, R(LINK_SCOPE), "lg", NULL, NULL },
	{ "gw: link-local without iif", INP, "fe80::5", "fe80::1", "udp", 546, NULL, NULL, false, R(NO_ZONE), NULL, NULL, NULL },
	/* INPUT 2: neighbour discovery */
	{ "gw: nd solicit link-local", INP, "fe80::5", "ff02::1:ff00:1", "icmpv6", 135, "eth2", NULL, true, R(NEIGHBOR_DISCOVERY), "lg", NULL, NULL },
	{ "gw: nd router solicit", INP, "fe80::5", "ff02::2", "icmpv6", 133, "eth1", NULL, true, R(NEIGHBOR_DISCOVERY), "myn", NULL, NULL },
	{ "gw: nd advert without iif", INP, "fe80::5", "fe80::1", "icmpv6", 136, NULL, NULL, true, R(NEIGHBOR_DISCOVERY), NULL, NULL, NULL },
	{ "gw: redirect is not nd", INP, "fe80::5", "fe80::1", "icmpv6", 137, "eth1", NULL, false, R(LINK_SCOPE), "myn", NULL, NULL },
	{ "gw: icmp (v4) type 135 is not nd", INP, "10.10.0.5", "10.10.0.1", "icmp", 135, "eth1", NULL, false, R(TO_GATEWAY), "myn", NULL, NULL },
	/* INPUT 3: spoofed / no zone */
	{ "gw: spoofed", INP, "10.10.0.5", "10.20.0.1", "tcp", 22, "eth2", NULL, false, R(SPOOFED_SOURCE), "lg", NULL, NULL },
	{ "gw: spoofed v6", INP, "fd00:30::5", "fd00:20::1", "tcp", 22, "eth4", NULL, false, R(SPOOFED_SOURCE), "lg", NULL, NULL },
	{ "gw: no zone", INP, "fd99::5", "fd00:20::1", "tcp", 22, NULL, NULL, false, R(NO_ZONE), NULL, NULL, NULL },
	/* INPUT 4/5: gateway services */
	{ "gw: service", INP, "10.20.0.5", "10.20.0.1", "tcp", 22, "eth2", NULL, true, R(GATEWAY_SERVICE), "lg", NULL, NULL },
	{ "gw: service without iif", INP, "fd00:20::5", "fd00:20::1", "tcp", 22, NULL, NULL, true, R(GATEWAY_SERVICE), "lg", NULL, NULL },
	{ "gw: icmpv6 echo as a service", INP, "fd00:20::5", "fd00:20::1", "icmpv6", 128, "eth4", NULL, true, R(GATEWAY_SERVICE), "lg", NULL, NULL },
	{ "gw: icmp echo as a service", INP, "10.20.0.5", "10.20.0.1", "icmp", 8, "eth4", NULL, true, R(GATEWAY_SERVICE), "lg", NULL, NULL },
	{ "gw: other port", INP, "10.20.0.5", "10.20.0.1", "tcp", 80, "eth2", NULL, false, R(TO_GATEWAY), "lg", NULL, NULL },
	{ "gw: udp 22", INP, "10.20.0.5", "10.20.0.1", "udp", 22, "eth2", NULL, false, R(TO_GATEWAY), "lg", NULL, NULL },
	{ "gw: zone without services", INP, "10.10.0.5", "10.10.0.1", "tcp", 22, "eth1", NULL, false, R(TO_GATEWAY), "myn", NULL, NULL },
	{ "gw: zone without services v6", INP, "fd00:30::5", "fd00:30::1", "icmpv6", 128, NULL, NULL, false, R(TO_GATEWAY), "inet", NULL, NULL },
	{ "gw: from the catch-all", INP, "8.8.8.8", "203.0.113.1", "tcp", 22, "eth0", NULL, false, R(TO_GATEWAY), "cloud", NULL, NULL },
	/* OUTPUT: what the gateway sends */
	{ "out: dns by a conduit from the gateway", OUT, "203.0.113.1", "203.0.113.53", "udp", 53, NULL, NULL, true, R(CONDUIT), "gateway", "cloud", "gw-dns" },
	{ "out: dns, oif named", OUT, "203.0.113.1", "203.0.113.53", "tcp", 53, NULL, "eth0", true, R(CONDUIT), "gateway", "cloud", "gw-dns" },
	{ "out: http not in the conduit", OUT, "203.0.113.1", "203.0.113.53", "tcp", 80, NULL, NULL, false, R(FROM_GATEWAY), "gateway", "cloud", NULL },
	{ "out: dns to another host", OUT, "203.0.113.1", "203.0.113.54", "udp", 53, NULL, NULL, false, R(FROM_GATEWAY), "gateway", "cloud", NULL },
	{ "out: syslog v6", OUT, "fd00:21::1", "fd00:21::51", "udp", 514, NULL, NULL, true, R(CONDUIT), "gateway", "lg2", "gw-syslog" },
	{ "out: syslog to a zone without the conduit", OUT, "10.20.0.1", "10.20.0.51", "udp", 514, NULL, NULL, false, R(FROM_GATEWAY), "gateway", "lg", NULL },
	{ "out: to mynumber, nothing declared", OUT, "10.10.0.1", "10.10.0.5", "tcp", 443, NULL, NULL, false, R(FROM_GATEWAY), "gateway", "myn", NULL },
	{ "out: unzoned oif", OUT, "203.0.113.1", "203.0.113.53", "udp", 53, NULL, "eth9", false, R(UNZONED), NULL, NULL, NULL },
	{ "out: management oif", OUT, "192.168.1.1", "192.168.1.5", "tcp", 22, NULL, "mgmt0", true, R(LOCAL_INTERFACE), NULL, NULL, NULL },
	{ "out: nd on any interface", OUT, "fe80::1", "ff02::1", "icmpv6", 136, NULL, "eth9", true, R(NEIGHBOR_DISCOVERY), NULL, NULL, NULL },
	{ "out: vrrpv3 in a zone with link_services", OUT, "fe80::1", "ff02::12", "112", 0, NULL, "eth4", true, R(LINK_SERVICE), NULL, "lg", NULL },
	{ "out: vrrpv3 in a zone without", OUT, "fe80::1", "ff02::12", "112", 0, NULL, "eth3", false, R(LINK_SCOPE), NULL, "inet", NULL },
	{ "out: no zone", OUT, "fd00:20::1", "fd99::5", "udp", 53, NULL, NULL, false, R(NO_ZONE), NULL, NULL, NULL },
};

/* FORWARD 3a: an isolated zone (segctl isolate), either side, after the
 * spoofing check and intra-zone, before the guard and every conduit. */
static const struct iso_case {
	struct decide_case c;
	const char *isolate;
} iso_cases[] = {
	{ { "isolated: its conduit out", FWD, "10.10.0.5", "10.20.0.50", "tcp", 443, "eth1", "eth2", false, R(ISOLATED), "myn", "lg", NULL }, "lg" },
	{ { "isolated: conduit into it", FWD, "10.30.0.25", "10.20.0.25", "tcp", 25, NULL, NULL, false, R(ISOLATED), "inet", "lg", NULL }, "lg" },
	{ { "isolated: before the guard", FWD, "10.10.0.5", "10.30.0.5", "tcp", 443, NULL, NULL, false, R(ISOLATED), "myn", "inet", NULL }, "inet" },
	{ { "isolated: v6 from it", FWD, "fd00:20::9", "fd00:30::100", "tcp", 3389, "eth4", "eth3", false, R(ISOLATED), "lg", "inet", NULL }, "lg" },
	{ { "isolated: intra-zone still passes", FWD, "10.20.0.5", "10.20.0.6", "tcp", 1, "eth2", "eth4", true, R(INTRA_ZONE), "lg", "lg", NULL }, "lg" },
	{ { "isolated: spoofing checked first", FWD, "10.10.0.5", "10.20.0.50", "tcp", 443, "eth2", "eth1", false, R(SPOOFED_SOURCE), "lg", "myn", NULL }, "lg" },
	{ { "isolated: other pairs unchanged", FWD, "10.30.0.77", "203.0.113.10", "tcp", 8080, NULL, NULL, true, R(CONDUIT), "inet", "cloud", "proxy" }, "lg" },
	{ { "isolated: the gateway's services stay", INP, "10.20.0.5", "10.20.0.1", "tcp", 22, "eth2", NULL, true, R(GATEWAY_SERVICE), "lg", NULL, NULL }, "lg" },
};

static void fill_flow(struct seg_flow *f, const struct decide_case *c)
{
	int fam_dst;
	uint8_t dst[16];
	const char *why;

	memset(f, 0, sizeof(*f));
	f->path = c->path;
	ck_assert_int_eq(seg_addr_parse(c->src, &f->family, f->src, &why), 0);
	ck_assert_int_eq(seg_addr_parse(c->dst, &fam_dst, dst, &why), 0);
	ck_assert_int_eq(fam_dst, f->family);
	memcpy(f->dst, dst, 16);
	f->l4proto = proto_number(c->proto);
	f->dport = c->dport;
	f->iif = c->iif;
	f->oif = c->oif;
}

static int zone_index(const struct seg_config *cfg, const char *name)
{
	return name ? seg_zone_find(cfg, name) : -1;
}

static int conduit_index(const struct seg_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->n_conduits; i++)
		if (strcmp(cfg->conduits[i].name, name) == 0)
			return (int)i;
	ck_assert_ptr_null(name);
	return -1;
}

static void check_case(const struct decide_case *c, const char *isolate)
{
	struct seg_config *cfg = load(POLICY_CONF);
	struct seg_policy *p = NULL;
	struct seg_flow f;
	struct seg_verdict v;

	if (isolate)
		cfg->zones[zone_index(cfg, isolate)].isolated = true;
	ck_assert_int_eq(seg_policy_build(cfg, &p), 0);
	fill_flow(&f, c);
	seg_decide(p, &f, &v);
	ck_assert_msg(v.reason == c->reason, "%s: reason %s, want %s", c->what,
		      seg_reason_name(v.reason), seg_reason_name(c->reason));
	ck_assert_msg(v.accept == c->accept, "%s: accept %d", c->what, v.accept);
	ck_assert_msg(v.src_zone == zone_index(cfg, c->src_zone), "%s: src zone %d", c->what, v.src_zone);
	ck_assert_msg(v.dst_zone == zone_index(cfg, c->dst_zone), "%s: dst zone %d", c->what, v.dst_zone);
	ck_assert_msg(v.conduit == conduit_index(cfg, c->conduit), "%s: conduit %d", c->what, v.conduit);
	seg_policy_free(p);
	seg_config_free(cfg);
}

START_TEST(test_case)
{
	check_case(&cases[_i], NULL);
}
END_TEST

START_TEST(test_iso_case)
{
	check_case(&iso_cases[_i].c, iso_cases[_i].isolate);
}
END_TEST

/* Every reason has a case above, and every reason a distinct name. */
START_TEST(test_reasons_covered)
{
	for (int r = 0; r < SEG_REASON_COUNT; r++) {
		bool seen = false;
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			seen |= cases[i].reason == (enum seg_reason)r;
		for (size_t i = 0; i < sizeof(iso_cases) / sizeof(iso_cases[0]); i++)
			seen |= iso_cases[i].c.reason == (enum seg_reason)r;
		ck_assert_msg(seen, "no case for reason %s", seg_reason_name((enum seg_reason)r));
		for (int q = 0; q < r; q++)
			ck_assert_str_ne(seg_reason_name((enum seg_reason)r), seg_reason_name((enum seg_reason)q));
	}
	ck_assert_str_eq(seg_reason_name(SEG_REASON_DEFAULT_DENY), "default-deny");
	ck_assert_str_eq(seg_reason_name(SEG_REASON_COUNT), "?");
}
END_TEST

/* ---- the index against the definition ---- */

/* decide.h rule 5 read literally: the first non-expired conduit of the pair
 * that holds the flow (seg_conduit_mismatch checks a whole-zone destination
 * against the conduit's 'to' zone, which is the exit zone here). */
static int reference_conduit(const struct seg_policy *p, const struct seg_config *cfg,
			     const struct seg_flow *f, int sz, int dz)
{
	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *c = &cfg->conduits[i];
		if ((int)c->from == sz && (int)c->to == dz && seg_conduit_mismatch(p, i, f) == 0)
			return (int)i;
	}
	return -1;
}

/* Addresses near the configured ones, so that random flows hit conduits. */
static void random_addr(unsigned *seed, int family, uint8_t *a)
{
	static const char *const v4[] = { "10.10.0.0", "10.20.0.0", "10.21.0.0", "10.30.0.0",
					  "203.0.113.0", "198.51.100.0", "10.22.0.0" };
	static const char *const v6[] = { "fd00:10::", "fd00:20::", "fd00:21::", "fd00:30::", "fd99::" };
	const char *why;
	int fam;
	const char *base = family == AF_INET ? v4[rand_r(seed) % 7] : v6[rand_r(seed) % 5];

	ck_assert_int_eq(seg_addr_parse(base, &fam, a, &why), 0);
	size_t last = family == AF_INET ? 3 : 15;
	a[last] = (uint8_t)(rand_r(seed) % 4 == 0 ? rand_r(seed) : rand_r(seed) % 128);
}

static void random_flow(unsigned *seed, struct seg_flow *f)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_GRE };
	static const uint16_t ports[] = { 0, 8, 20, 25, 26, 53, 443, 587, 3389, 3390, 3391, 8080 };

	memset(f, 0, sizeof(*f));
	f->family = rand_r(seed) % 2 ? AF_INET : AF_INET6;
	random_addr(seed, f->family, f->src);
	random_addr(seed, f->family, f->dst);
	f->l4proto = protos[rand_r(seed) % 5];
	f->dport = ports[rand_r(seed) % 12];
}

START_TEST(test_index_matches_definition)
{
	struct seg_config *cfg = load(POLICY_CONF);
	struct seg_policy *p = NULL;
	unsigned seed = 7;
	size_t hits = 0;

	ck_assert_int_eq(seg_policy_build(cfg, &p), 0);
	for (int i = 0; i < 100000; i++) {
		struct seg_flow f;
		struct seg_verdict v;
		random_flow(&seed, &f);
		seg_decide(p, &f, &v);
		if (v.reason != SEG_REASON_CONDUIT && v.reason != SEG_REASON_DEFAULT_DENY)
			continue;
		int want = reference_conduit(p, cfg, &f, v.src_zone, v.dst_zone);
		ck_assert_int_eq(v.conduit, want);
		hits += want >= 0;
	}
	ck_assert_uint_gt(hits, 100);   /* the flows did reach conduits */
	seg_policy_free(p);
	seg_config_free(cfg);
}
END_TEST

/* A conduit too large to expand (300 x 300 hosts) is checked linearly; the
 * verdicts must not change. */
static char *big_config(size_t n)
{
	size_t cap = 4096 + n * 64;
	char *t = malloc(cap), *e = t;

	e += sprintf(e, "version = 1;\nzones = (\n"
		     "{ name = \"a\"; kind = \"lgwan\"; interfaces = [ \"a0\" ]; networks = [ \"10.1.0.0/16\" ]; },\n"
		     "{ name = \"b\"; kind = \"lgwan\"; interfaces = [ \"b0\" ]; networks = [ \"10.2.0.0/16\" ]; });\n"
		     "conduits = (\n{ name = \"first\"; kind = \"specific\"; from = \"a\"; to = \"b\";\n"
		     "  sources = [ \"10.1.0.1\" ]; destinations = [ \"10.2.0.1\" ]; services = [ \"tcp/80\" ];\n"
		     "  approval = \"x\"; expires = \"2027-12-31\"; },\n"
		     "{ name = \"big\"; kind = \"specific\"; from = \"a\"; to = \"b\"; approval = \"x\"; expires = \"2027-12-31\";\n"
		     "  services = [ \"tcp/80\", \"tcp/443\" ];\n  sources = [ ");
	for (size_t i = 0; i < n; i++)
		e += sprintf(e, "%s\"10.1.%zu.%zu\"", i ? ", " : "", i / 200, i % 200 + 1);
	e += sprintf(e, " ];\n  destinations = [ ");
	for (size_t i = 0; i < n; i++)
		e += sprintf(e, "%s\"10.2.%zu.%zu\"", i ? ", " : "", i / 200, i % 200 + 1);
	e += sprintf(e, " ]; },\n{ name = \"last\"; kind = \"specific\"; from = \"a\"; to = \"b\";\n"
		     "  services = [ \"any\" ]; approval = \"x\"; expires = \"2027-12-31\"; });\n");
	ck_assert_uint_lt((size_t)(e - t), cap);
	return t;
}

/* ICMP errors back to a connection's originator pass only from a host the
 * originator may reach by that protocol (issue 13, point 1). */
START_TEST(test_icmp_errors)
{
	static const struct { const char *src, *dst; uint8_t proto; bool accept; const char *conduit; } t[] = {
		{ "10.20.0.50", "10.10.0.5", IPPROTO_TCP, true, "intermediate" },    /* the server itself */
		{ "10.20.0.25", "10.10.0.5", IPPROTO_TCP, false, NULL },             /* another LGWAN host */
		{ "10.20.0.50", "10.10.0.5", IPPROTO_UDP, false, NULL },             /* a protocol not opened */
		{ "fd00:20::50", "fd00:10::5", IPPROTO_UDP, true, "intermediate6" }, /* udp/53 there */
		{ "10.20.0.25", "10.30.0.25", IPPROTO_TCP, true, "relay-range" },    /* back to the internet side */
		{ "10.20.0.26", "10.30.0.25", IPPROTO_TCP, false, NULL },
		/* to the gateway, about its own connections (conduits from = "gateway") */
		{ "203.0.113.53", "203.0.113.1", IPPROTO_UDP, true, "gw-dns" },       /* its resolver */
		{ "203.0.113.54", "203.0.113.1", IPPROTO_UDP, false, NULL },          /* another cloud host */
		{ "10.21.0.51", "10.21.0.1", IPPROTO_UDP, true, "gw-syslog" },
		{ "10.21.0.51", "10.21.0.1", IPPROTO_TCP, false, NULL },              /* tcp not opened */
	};
	struct seg_config *cfg = load(POLICY_CONF);
	struct seg_policy *pol = NULL;
	const char *why;

	ck_assert_int_eq(seg_policy_build(cfg, &pol), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct seg_flow f = { .path = i >= 6 ? SEG_PATH_INPUT : SEG_PATH_FORWARD, .l4proto = t[i].proto,
				      .icmp_error = true };
		struct seg_verdict v;
		int fam;
		ck_assert_int_eq(seg_addr_parse(t[i].src, &f.family, f.src, &why), 0);
		ck_assert_int_eq(seg_addr_parse(t[i].dst, &fam, f.dst, &why), 0);
		seg_decide(pol, &f, &v);
		ck_assert_msg(v.accept == t[i].accept, "error %s -> %s proto %u: %s", t[i].src, t[i].dst, t[i].proto,
			      seg_reason_name(v.reason));
		if (t[i].conduit)
			ck_assert_str_eq(cfg->conduits[v.conduit].name, t[i].conduit);
	}
	seg_policy_free(pol);
	seg_config_free(cfg);
}
END_TEST

START_TEST(test_big_conduit)
{
	char *text = big_config(300);
	struct seg_config *cfg = NULL;
	struct seg_policy *p = NULL;
	struct seg_diags d;
	struct seg_flow f = { .path = SEG_PATH_FORWARD, .family = AF_INET, .l4proto = IPPROTO_TCP,
			      .src = { 10, 1, 1, 50 }, .dst = { 10, 2, 0, 7 }, .dport = 443 };
	struct seg_verdict v;

	ck_assert_int_eq(seg_config_load_string(text, "big.conf", 20600, &cfg, &d), 0);
	seg_diags_free(&d);
	ck_assert_int_eq(seg_policy_build(cfg, &p), 0);
	seg_decide(p, &f, &v);
	ck_assert_int_eq(v.conduit, 1);
	f.dport = 80;
	f.src[2] = 0, f.src[3] = 1, f.dst[3] = 1;
	seg_decide(p, &f, &v);
	ck_assert_int_eq(v.conduit, 0);
	f.src[2] = 9;                 /* not a source of 'big': the whole-zone conduit */
	seg_decide(p, &f, &v);
	ck_assert_int_eq(v.conduit, 2);
	f.dst[1] = 3;                 /* not in zone b at all */
	seg_decide(p, &f, &v);
	ck_assert_int_eq(v.reason, SEG_REASON_NO_ZONE);
	seg_policy_free(p);
	seg_config_free(cfg);
	free(text);
}
END_TEST

START_TEST(test_mismatch_bits)
{
	struct seg_config *cfg = load(POLICY_CONF);
	struct seg_policy *p = NULL;
	struct seg_flow f = { .path = SEG_PATH_FORWARD, .family = AF_INET, .l4proto = IPPROTO_UDP,
			      .src = { 10, 10, 0, 6 }, .dst = { 10, 20, 0, 50 }, .dport = 443 };
	int old = conduit_index(cfg, "old");

	ck_assert_int_eq(seg_policy_build(cfg, &p), 0);
	ck_assert_uint_eq(seg_conduit_mismatch(p, 0, &f), SEG_MISMATCH_SOURCE | SEG_MISMATCH_SERVICE);
	f.src[3] = 5, f.l4proto = IPPROTO_TCP;
	ck_assert_uint_eq(seg_conduit_mismatch(p, 0, &f), 0);
	f.dst[3] = 51;
	ck_assert_uint_eq(seg_conduit_mismatch(p, 0, &f), SEG_MISMATCH_DESTINATION);
	f.src[1] = 21, f.dst[3] = 1;   /* 10.21.0.5 -> 10.20.0.1: 'old' would hold it */
	ck_assert_uint_eq(seg_conduit_mismatch(p, (size_t)old, &f), SEG_MISMATCH_EXPIRED);
	ck_assert(seg_zone_pair_guarded(cfg, 0, 3));
	ck_assert(seg_zone_pair_guarded(cfg, 4, 0));
	ck_assert(!seg_zone_pair_guarded(cfg, 1, 3));
	ck_assert(!seg_zone_pair_guarded(cfg, 0, 1));
	seg_policy_free(p);
	seg_policy_free(NULL);
	seg_config_free(cfg);
}
END_TEST

Suite *decide_suite(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("decide");

	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_case, 0, (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_loop_test(tc, test_iso_case, 0, (int)(sizeof(iso_cases) / sizeof(iso_cases[0])));
	tcase_add_test(tc, test_reasons_covered);
	tcase_add_test(tc, test_index_matches_definition);
	tcase_add_test(tc, test_big_conduit);
	tcase_add_test(tc, test_icmp_errors);
	tcase_add_test(tc, test_mismatch_bits);
	suite_add_tcase(s, tc);
	return s;
}
