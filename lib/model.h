/*
 * model.h - segd's configuration model: what the zone configuration says,
 * as plain C structures, independent of libconfig and of the kernel.
 *
 * Stages: config.c (libconfig -> model, with diagnostics) -> validate.c (the
 * rules of the three-layer model) -> zonemap.c (address -> zone) ->
 * decide.c (the policy as a pure function) and compile.c (model -> plan ->
 * nft text / netlink batch).
 *
 * Ownership: a struct seg_config owns every string and array below it.
 * seg_config_free() frees the whole tree and accepts NULL and half-built
 * trees. Nothing in the model borrows from libconfig.
 */
#ifndef SEGD_MODEL_H
#define SEGD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on everything a user controls (config file, control socket). */
#define SEG_MAX_ZONES        64
#define SEG_MAX_IFACES       64        /* per zone */
#define SEG_MAX_NETWORKS     1024      /* per zone */
#define SEG_MAX_CONDUITS     100000
#define SEG_MAX_ENTRIES      200000    /* sources/destinations/services per conduit */
#define SEG_MAX_NAME         31        /* zone and conduit names: [a-z0-9_-], fits NFLOG prefix */
#define SEG_MAX_TEXT         256       /* approval, comment */
#define SEG_MAX_PATH         4096
#define SEG_IFNAMSIZ         16        /* IFNAMSIZ incl. NUL */

/* Defaults of settings.max_hosts, max_ports and max_validity. A My Number
 * conduit joins a handful of named systems (an intermediate server, a CS
 * terminal, a backup target): 32 hosts per side leaves room and still stops
 * a /24 written host by host. 16 ports cover an application's ports and a
 * small range (e.g. a screen protocol's 4). 731 days: approvals run by
 * fiscal year, the longest in practice for this and the next one. */
#define SEG_DEFAULT_MAX_HOSTS    32
/* Default of settings.max_elements, the kernel set elements a ruleset may
 * hold: 1.5 times the largest ruleset measured here (100,000 entries made
 * 161,509 elements: 2.5 s to install, 77 MiB peak RSS), so a real policy
 * (hundreds of conduits, a cloud allowlist of thousands of addresses) never
 * meets it, while a list product written by mistake (a /16 host by host,
 * three long lists in one conduit) is an error with the conduits named. */
#define SEG_DEFAULT_MAX_ELEMENTS 250000
#define SEG_MAX_MAX_ELEMENTS     8000000   /* the compiler's own bound (a batch < 2 GiB) */
#define SEG_DEFAULT_MAX_PORTS    16
#define SEG_DEFAULT_MAX_VALIDITY 731

enum seg_zone_kind {
	SEG_ZONE_MYNUMBER,
	SEG_ZONE_LGWAN,
	SEG_ZONE_INTERNET,
	SEG_ZONE_EXTERNAL,
	/* The gateway itself as a party of the model (firewalld's HOST zone,
	 * Shorewall's $FW): never declared, added by the parser after the
	 * declared zones when a conduit is written from "gateway". It has no
	 * interfaces and no networks; its conduits say what the gateway may
	 * send. */
	SEG_ZONE_GATEWAY,
	SEG_ZONE_KIND_COUNT
};

/* The name a conduit writes for the gateway; reserved for zones. */
#define SEG_GATEWAY_NAME "gateway"


enum seg_conduit_kind {
	SEG_CONDUIT_SPECIFIC,      /* 特定通信 */
	SEG_CONDUIT_SANITIZE,      /* 無害化通信 */
	SEG_CONDUIT_SCREEN,        /* 画面転送 */
	SEG_CONDUIT_EGRESS,        /* to the security cloud */
	SEG_CONDUIT_KIND_COUNT
};

/* A service: protocol plus (for tcp/udp) an inclusive destination port range. */
enum seg_proto {
	SEG_PROTO_TCP,
	SEG_PROTO_UDP,
	SEG_PROTO_ICMP,
	SEG_PROTO_ICMPV6,
	SEG_PROTO_ANY,
	SEG_PROTO_VRRP,            /* protocol 112: VRRP (keepalived), link-scoped */
	SEG_PROTO_COUNT
};

struct seg_service {
	enum seg_proto proto;
	uint16_t port_lo, port_hi;   /* 0,0 for icmp/icmpv6/any */
	/* icmp/echo-request, icmpv6/echo-request: one ICMP query type and the
	 * type of its answer (conntrack tells them apart by direction). */
	bool typed;
	uint8_t icmp_type, icmp_reply;
	int line;
};

/* An address prefix. family is AF_INET or AF_INET6; addr in network order,
 * host bits are zero (validation rejects "10.0.0.1/24"). */
struct seg_prefix {
	int family;
	uint8_t len;
	uint8_t addr[16];
	/* A host of a My Number conduit may be bound to its MAC address
	 * ("10.10.0.5@02:00:5e:00:00:05"): frames from it that carry another
	 * source MAC are dropped on arrival as spoofed. */
	bool has_mac;
	uint8_t mac[6];
	int line;
};

struct seg_zone {
	char *name;
	enum seg_zone_kind kind;
	char **ifaces;
	size_t n_ifaces;
	struct seg_prefix *nets;
	size_t n_nets;
	bool catchall4, catchall6;   /* external zone covering all of IPv4 / IPv6 */
	struct seg_service *gw_services;
	size_t n_gw_services;
	/* Link-scoped protocols the gateway exchanges with this zone's links
	 * (VRRP, DHCPv6, ...): accepted from link-local and zone sources, and
	 * sent by the gateway to link-scope destinations (fe80::/10, ff02::/16,
	 * 224.0.0.0/24) on the zone's interfaces. Never forwarded. */
	struct seg_service *link_services;
	size_t n_link_services;
	int line;
	/* Runtime state, not configuration: `segctl isolate` cuts the zone off
	 * from every other zone, conduits included. The daemon sets it before
	 * compiling; decide.c and compile.c honour it. */
	bool isolated;
};

struct seg_conduit {
	char *name;
	enum seg_conduit_kind kind;
	size_t from, to;             /* indexes into seg_config.zones */
	struct seg_prefix *srcs;     /* n_srcs == 0: the whole 'from' zone */
	size_t n_srcs;
	struct seg_prefix *dsts;     /* n_dsts == 0: the whole 'to' zone */
	size_t n_dsts;
	/* The keys were written, even if entries in them could not be read: a
	 * broken list is not "the whole zone" (validation says what is wrong
	 * with the entries, not that the key is missing). */
	bool srcs_given, dsts_given;
	struct seg_service *services;
	size_t n_services;
	char *approval;
	char *expires;               /* "YYYY-MM-DD" as written */
	int64_t expires_day;         /* days since 1970-01-01 (UTC); valid through that day */
	bool expired;                /* set by validation against 'now': not installed */
	char *comment;               /* may be NULL */
	int line;
};

struct seg_settings {
	char *table;
	uint16_t log_group;
	uint32_t incident_window;    /* seconds */
	char *spool;
	char *control_socket;
	char *control_group;
	char *state_dir;
	/* How much a conduit may open (issue 12; segd.conf(5) says why these
	 * defaults): single hosts per side of a conduit that must name hosts,
	 * ports opened by a width-checked conduit, days an approval may run. */
	uint32_t max_hosts;
	uint32_t max_ports;
	uint32_t max_validity;
	uint32_t max_elements;       /* kernel set elements of the whole ruleset */
	/* The 2025 revision of the guideline: screen transfer (画面転送) from
	 * registered LGWAN terminals into My Number desktops, at the body's
	 * discretion. Off by default. */
	bool screen_to_mynumber;
	/* Every My Number host of a conduit must carry its MAC (the guideline
	 * limits My Number's connections by MAC, IP address and port). */
	bool require_mac_for_mynumber;
	/* The gateway's own addresses, for `segctl explain` away from the
	 * gateway (on it, the live interfaces tell them). Host prefixes. */
	struct seg_prefix *gateway_addrs;
	size_t n_gateway_addrs;
	/* Interfaces of no zone through which the gateway is managed: traffic
	 * to and from the gateway through them is left to the host's firewall;
	 * nothing is forwarded through them. Every other unzoned interface is
	 * denied and logged, to the gateway as for forwarding. */
	char **mgmt_ifaces;
	size_t n_mgmt_ifaces;
	int line;
};

struct seg_config {
	char *file;                  /* path as given, used in diagnostics */
	int version;
	struct seg_settings settings;
	struct seg_zone *zones;
	size_t n_zones;
	struct seg_conduit *conduits;
	size_t n_conduits;
};

void seg_config_free(struct seg_config *cfg);

/* Name tables shared by parser, printer and renderers. */
const char *seg_zone_kind_name(enum seg_zone_kind k);
const char *seg_conduit_kind_name(enum seg_conduit_kind k);
const char *seg_proto_name(enum seg_proto p);
int seg_zone_find(const struct seg_config *cfg, const char *name); /* index or -1 */
/* The gateway pseudo-zone's index (always the last zone), or -1. */
int seg_gateway_zone(const struct seg_config *cfg);
bool seg_zone_is_gateway(const struct seg_config *cfg, size_t z);
/* The zones the configuration declares (n_zones without the gateway). */
size_t seg_zone_count(const struct seg_config *cfg);

#endif
