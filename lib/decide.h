/*
 * decide.h - the policy as one pure function: what segd's kernel ruleset must
 * do with a packet that opens a flow. `segctl explain` prints it, and the
 * end-to-end tests compare the kernel's behaviour with it.
 *
 * The policy, in order (first match decides):
 *
 *  Forwarded packets (path FORWARD):
 *   1. the arrival interface belongs to no zone, or the exit interface belongs
 *      to no zone                                   -> drop, UNZONED
 *   2. the source address is not in the zone of the arrival interface
 *      (zone membership by seg_zonemap: most specific network wins)
 *                                                   -> drop, SPOOFED_SOURCE
 *   3. arrival and exit zone are the same           -> accept, INTRA_ZONE
 *   3a. either zone is isolated (`segctl isolate`, zone->isolated): cut off
 *      from every other zone, conduits and the guard included
 *                                                   -> drop, ISOLATED
 *   4. the zone pair is forbidden by model rule 1 (mynumber <-> internet or
 *      external, either way): the guard runs before any conduit
 *                                                   -> drop, MODEL_GUARD
 *   5. a non-expired conduit from the arrival zone to the exit zone holds the
 *      source (or names no sources), the destination (or names none: then the
 *      destination must be in the exit zone) and the service (protocol and
 *      destination port; 'any' holds every protocol)
 *                                                   -> accept, CONDUIT
 *   6. otherwise                                    -> drop, DEFAULT_DENY
 *  Replies of an accepted flow pass; that is conntrack's business, not this
 *  function's: it is asked about the packet that opens a flow.
 *
 *  Packets to the gateway itself (path INPUT):
 *   1. the arrival interface is the gateway's own: loopback or one of
 *      settings.management_interfaces               -> accept, LOCAL_INTERFACE
 *   2. the arrival interface belongs to no zone     -> drop, UNZONED
 *   3. ICMPv6 neighbour discovery and multicast listener discovery (MLD),
 *      the link-local control traffic of IPv6 (SEG_LINK_ICMPV6_TYPES)
 *                                                   -> accept, NEIGHBOR_DISCOVERY
 *      (ARP is not IP and never reaches the inet table)
 *   4. source or destination of link scope (seg_link_scope): the zone's
 *      link_services hold the protocol and the destination or source port
 *                                                   -> accept, LINK_SERVICE
 *      otherwise                                    -> drop, LINK_SCOPE
 *   5. source not in the arrival interface's zone   -> drop, SPOOFED_SOURCE
 *   6. the service is in the zone's gateway_services-> accept, GATEWAY_SERVICE
 *   7. otherwise                                    -> drop, TO_GATEWAY
 *
 *  Packets the gateway itself sends (path OUTPUT; src is one of its addresses):
 *   1. the exit interface is loopback or a management interface
 *                                                   -> accept, LOCAL_INTERFACE
 *   2. neighbour discovery and MLD                  -> accept, NEIGHBOR_DISCOVERY
 *   3. the exit interface belongs to no zone        -> drop, UNZONED
 *   4. a destination of link scope: the exit zone's link_services, as in
 *      INPUT                                        -> LINK_SERVICE / LINK_SCOPE
 *   5. a non-expired conduit from = "gateway" to the exit zone holds the
 *      destination and the service                  -> accept, CONDUIT
 *   6. otherwise                                    -> drop, FROM_GATEWAY
 *  Answers of the gateway's services and its ICMP errors are replies and
 *  related packets: conntrack's business, as in FORWARD.
 *
 * When the flow names no interfaces, the arrival zone is the zone of the source
 * address and the exit zone the zone of the destination address (interfaces
 * are then taken to be consistent, so rule 2 cannot fire); an address in no
 * zone gives NO_ZONE (drop). Named interfaces decide the zones when given.
 */
#ifndef SEGD_DECIDE_H
#define SEGD_DECIDE_H

#include <stdbool.h>
#include <stdint.h>
#include "model.h"
#include "zonemap.h"

/* ICMPv6 types every IPv6 link needs with its router: MLD query/report/done
 * (130-132), router/neighbour solicitation and advertisement (133-136), MLDv2
 * report (143). Sent from link-local or unspecified addresses, so they are
 * accepted before the source must name a zone; without MLD every IPv6 host
 * joining a group would be logged as a spoofed source. One list for decide.c
 * and compile.c, so `segctl explain` and the kernel agree. */
#define SEG_LINK_ICMPV6_TYPES { 130, 131, 132, 133, 134, 135, 136, 143 }

enum seg_path { SEG_PATH_FORWARD, SEG_PATH_INPUT, SEG_PATH_OUTPUT };

struct seg_flow {
	enum seg_path path;
	int family;                  /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint8_t l4proto;             /* IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or any other number */
	uint16_t dport;              /* tcp/udp destination port; icmp/icmpv6: the
					  * ICMP type (neighbour discovery is 133-136);
					  * 0 otherwise */
	uint16_t sport;              /* tcp/udp source port, 0 when unknown: only
					  * link_services look at it */
	const char *iif, *oif;       /* NULL: inferred from the addresses */
	/* An ICMP error (unreachable, time exceeded, too big) from src to dst
	 * about a connection of protocol l4proto that dst opened to src (the
	 * connection is assumed open: the kernel also asks conntrack). It passes
	 * when a conduit from dst's zone to src's zone holds dst -> src for that
	 * protocol, any port: errors come back only from an approved peer.
	 * Path INPUT: an error to the gateway about its own connection to src,
	 * held by a conduit from the gateway. */
	bool icmp_error;
};

enum seg_reason {
	SEG_REASON_INTRA_ZONE,
	SEG_REASON_CONDUIT,
	SEG_REASON_DEFAULT_DENY,
	SEG_REASON_MODEL_GUARD,
	SEG_REASON_SPOOFED_SOURCE,
	SEG_REASON_UNZONED,
	SEG_REASON_NO_ZONE,
	SEG_REASON_TO_GATEWAY,
	SEG_REASON_GATEWAY_SERVICE,
	SEG_REASON_NEIGHBOR_DISCOVERY,
	SEG_REASON_LOCAL_INTERFACE,
	SEG_REASON_ISOLATED,
	SEG_REASON_LINK_SERVICE,
	SEG_REASON_LINK_SCOPE,
	SEG_REASON_FROM_GATEWAY,
	SEG_REASON_COUNT
};

struct seg_verdict {
	bool accept;
	enum seg_reason reason;
	int src_zone, dst_zone;      /* -1 when unknown (or the gateway: path INPUT for dst, OUTPUT for src) */
	int conduit;                 /* index into cfg->conduits for CONDUIT, else -1 */
};

/* An index over a configuration for fast decisions. Borrows cfg, which must
 * outlive it. */
struct seg_policy;

int seg_policy_build(const struct seg_config *cfg, struct seg_policy **ret);
void seg_policy_free(struct seg_policy *p);
const struct seg_zonemap *seg_policy_zonemap(const struct seg_policy *p);

/* Pure: no I/O, no allocation. */
void seg_decide(const struct seg_policy *p, const struct seg_flow *f, struct seg_verdict *v);

/* Stable names for reasons ("intra-zone", "conduit", "default-deny", ...),
 * also the NFLOG event names where the kernel logs the drop. */
const char *seg_reason_name(enum seg_reason r);

/* Why conduit number 'conduit' does not hold f (source, destination, service,
 * with a conduit naming no sources/destinations holding its whole zone), as
 * SEG_MISMATCH_* bits; 0 when it holds it. Ignores the flow's interfaces and
 * zones. Linear in the conduit's size: for `segctl explain` and as the
 * reference the index is tested against. */
enum {
	SEG_MISMATCH_SOURCE      = 1 << 0,
	SEG_MISMATCH_DESTINATION = 1 << 1,
	SEG_MISMATCH_SERVICE     = 1 << 2,
	SEG_MISMATCH_EXPIRED     = 1 << 3,
};
unsigned seg_conduit_mismatch(const struct seg_policy *p, size_t conduit, const struct seg_flow *f);

/* Model rule 1: the pair (from, to) is mynumber <-> internet/external. */
bool seg_zone_pair_guarded(const struct seg_config *cfg, size_t from, size_t to);

#endif
