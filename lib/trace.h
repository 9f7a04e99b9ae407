/*
 * trace.h - follow live packets through the kernel's rules (nftables
 * tracing) for `segctl trace`.
 *
 * segd's own table is never touched: segd treats any change to it as tamper.
 * Instead seg_trace_start() creates a separate table (inet segd_trace_<pid>)
 * with two base chains, hooked at forward and input one priority before
 * segd's filter chains, each with one rule that matches only the asked flow
 * and sets `meta nftrace 1`. The flag stays on the packet, so the kernel then
 * reports every rule of every later chain it passes through (segd's
 * included) as NFNLGRP_NFTRACE events, which seg_trace_read() decodes.
 *
 * The table carries the owner flag: the kernel deletes it when the socket that
 * created it closes, so even a SIGKILLed segctl leaves no tracing behind.
 * seg_trace_stop() deletes it explicitly as well.
 *
 * This file and the nft_*.c backend include libnftnl/libmnl: tracing
 * is a separate netlink conversation (an own table, a multicast group) with
 * nothing to share with the plan's batch.
 */
#ifndef SEGD_TRACE_H
#define SEGD_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netlink.h>

#define SEG_TRACE_NAME 64             /* table/chain names (kernel: NFT_NAME_MAXLEN) */

/* The flow to trace: original direction only. */
struct seg_trace_spec {
	int family;                    /* AF_INET or AF_INET6 */
	uint8_t src[16], dst[16];
	uint8_t l4proto;
	bool has_port;                 /* tcp/udp: match the destination port; */
	uint16_t dport;                /* icmp/icmpv6: the type (has_port set) */
};

/* NFT_TRACETYPE_* */
enum seg_trace_type { SEG_TRACE_UNSPEC, SEG_TRACE_POLICY, SEG_TRACE_RETURN, SEG_TRACE_RULE };

/* One trace event, decoded. The packet's flow comes from the network and
 * transport headers the kernel copied into the event. */
struct seg_trace_event {
	uint32_t id;                   /* the same for every event of one packet */
	enum seg_trace_type type;
	uint32_t nfproto;              /* NFPROTO_IPV4/IPV6 */
	char table[SEG_TRACE_NAME], chain[SEG_TRACE_NAME];
	bool has_handle;
	uint64_t handle;               /* the rule's handle (RULE events) */
	bool has_verdict;
	int32_t verdict;               /* NF_ACCEPT, NF_DROP, NFT_CONTINUE, NFT_GOTO, NFT_JUMP, NFT_RETURN */
	char target[SEG_TRACE_NAME];   /* NFT_GOTO/NFT_JUMP: the chain */
	bool has_policy;
	uint32_t policy;               /* POLICY events: NF_ACCEPT or NF_DROP */
	uint32_t iif, oif;             /* ifindexes; 0 unknown */
	bool has_flow;
	int family;
	uint8_t src[16], dst[16];
	uint8_t l4proto;
	bool has_ports;
	uint16_t sport, dport;         /* tcp/udp; icmp: dport = type, sport = code */
};

/* Decodes one NFT_MSG_TRACE message. 0, -EINVAL (not a trace / malformed)
 * or -ENOMEM. */
int seg_trace_decode(const struct nlmsghdr *nlh, struct seg_trace_event *ret);

/* Short names: "accept", "drop", "continue", "goto", "jump", "return". */
const char *seg_trace_verdict_name(int32_t verdict);

/* A rule of a table as the kernel holds it: its chain, handle and position
 * (0-based) in that chain. */
struct seg_trace_rule {
	char chain[SEG_TRACE_NAME];
	uint64_t handle;
	size_t pos;
};

/* Lists the rules of table inet <table> in chain order (NFT_MSG_GETRULE
 * dump). *ret malloc'ed. 0, -ENOENT (no such table), -errno. */
int seg_trace_rules(const char *table, struct seg_trace_rule **ret, size_t *ret_n);

struct seg_trace;

/* Creates the tracing table (name in ret->table, see seg_trace_table) and
 * subscribes to trace events. priority: that of the chains to trace (segd's
 * filter chains: 0); the tracing chains sit at priority - 1. 0 or -errno
 * (-EPERM without CAP_NET_ADMIN). */
int seg_trace_start(const struct seg_trace_spec *spec, int priority, struct seg_trace **ret);
const char *seg_trace_table(const struct seg_trace *t);
/* The socket that events arrive on, for poll(). */
int seg_trace_fd(const struct seg_trace *t);

/* Reads what is waiting (non-blocking) and calls cb for each trace event.
 * 0 (also when nothing was there), -ENOBUFS when events were lost (the
 * socket overflowed; reading goes on), -errno. */
typedef void (*seg_trace_cb)(const struct seg_trace_event *ev, void *ctx);
int seg_trace_read(struct seg_trace *t, seg_trace_cb cb, void *ctx);

/* Deletes the tracing table and closes the sockets; NULL-safe. */
void seg_trace_stop(struct seg_trace *t);

#endif
