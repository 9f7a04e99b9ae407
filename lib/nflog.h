/*
 * nflog.h - decode one DLT_NFLOG record as libpcap delivers it, and the
 * IPv4/IPv6 packet inside, into a flat struct seg_nflog_rec.
 *
 * What libpcap passes (pcap-netfilter-linux.c, checked against records
 * captured in tests/nflog/): the netlink payload after the nlmsghdr, i.e. a
 * 4-byte nfgenmsg (family, version 0, group big-endian) followed by the
 * NFULA_* attributes. Attribute length and type are in host order, values in
 * network order; the length counts the 4-byte attribute header; each
 * attribute is padded to 4 bytes. The kernel sends NFULA_SEQ only when the
 * instance has NFULNL_CFG_F_SEQ, which libpcap never sets: the daemon sends
 * the message built by seg_nflog_build_config() on pcap_fileno() after
 * pcap_activate() (the kernel accepts configuration of a group only from
 * the socket bound to it).
 *
 * Pure: no allocation, no I/O, no globals. The record borrows nothing from
 * the input buffer. Every length comes from the wire and is checked.
 */
#ifndef SEGD_NFLOG_H
#define SEGD_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"

/* The event letter of a segd log prefix "segd <E> <from|-> <to|->". */
enum seg_nflog_event {
	SEG_NFLOG_DENIED,        /* D: no conduit opens this flow */
	SEG_NFLOG_GUARD,         /* M: the model guard (mynumber <-> internet/external) */
	SEG_NFLOG_UNZONED,       /* U: from or to an interface of no zone */
	SEG_NFLOG_SPOOFED,       /* S: source address not of the arrival zone */
	SEG_NFLOG_TO_GATEWAY,    /* G: to the gateway itself */
	SEG_NFLOG_ISOLATED,      /* I: from or to a zone cut off by `segctl isolate` */
	SEG_NFLOG_FROM_GATEWAY,  /* O: sent by the gateway itself, no conduit from it holds it */
	SEG_NFLOG_LINK_SCOPE,    /* L: link-local or link multicast not in the zone's link_services */
	SEG_NFLOG_EVENT_COUNT
};

/* What the record says about the transport header. */
enum seg_nflog_l4 {
	SEG_L4_PORTS,            /* tcp, udp, udplite, sctp, dccp: sport, dport valid */
	SEG_L4_ICMP,             /* icmp, icmpv6: icmp_type, icmp_code valid */
	SEG_L4_NONE,             /* a protocol without ports (gre, esp, ...) */
	SEG_L4_FRAGMENT,         /* a non-first fragment: its ports are in another packet */
	SEG_L4_TRUNCATED,        /* the transport header is not (wholly) in the record */
	SEG_L4_UNKNOWN,          /* the IPv6 extension header chain could not be walked */
};

/* One status per problem. Only SEG_NFLOG_OK and the "usable" statuses
 * (seg_nflog_usable) leave a record whose addresses, zones and protocol are
 * true; any other status means: count it, do not report it as a flow. */
enum seg_nflog_status {
	SEG_NFLOG_OK,
	SEG_NFLOG_SHORT_RECORD,      /* fewer than 4 bytes */
	SEG_NFLOG_BAD_VERSION,       /* nfgenmsg version is not 0 */
	SEG_NFLOG_TRUNCATED_TLV,     /* an attribute runs past the end of the record */
	SEG_NFLOG_BAD_TLV_LENGTH,    /* an attribute length below 4 */
	SEG_NFLOG_BAD_ATTR,          /* a known attribute of the wrong size or value */
	SEG_NFLOG_DUPLICATE_ATTR,    /* a known attribute twice */
	SEG_NFLOG_NO_PREFIX,
	SEG_NFLOG_BAD_PREFIX,        /* not NUL-terminated, empty, or over 127 characters */
	SEG_NFLOG_FOREIGN_PREFIX,    /* another rule's prefix: not segd's record */
	SEG_NFLOG_MALFORMED_PREFIX,  /* starts with "segd " but is not "segd E from to" */
	SEG_NFLOG_NO_PAYLOAD,
	SEG_NFLOG_TRUNCATED_IP,      /* payload shorter than the IP header */
	SEG_NFLOG_BAD_IP_VERSION,    /* neither 4 nor 6 */
	SEG_NFLOG_FAMILY_MISMATCH,   /* nfgenmsg says IPv4, payload is IPv6 or vice versa */
	SEG_NFLOG_BAD_IP_HEADER,     /* IHL < 5, total length < IHL */
	SEG_NFLOG_TRUNCATED_L4,      /* usable: ports/type unknown (l4 = SEG_L4_TRUNCATED) */
	SEG_NFLOG_BAD_EXT_HEADER,    /* usable: IPv6 chain too long/truncated (l4 = SEG_L4_UNKNOWN) */
	SEG_NFLOG_STATUS_COUNT
};

#define SEG_NFLOG_MAX_PREFIX     127   /* the kernel's limit, without NUL */
#define SEG_NFLOG_MAX_EXT_HDRS   10    /* IPv6 extension headers walked at most */

struct seg_nflog_rec {
	/* NFLOG header and attributes */
	uint8_t nf_family;           /* NFPROTO_IPV4 (2), NFPROTO_IPV6 (10), ... */
	uint16_t group;
	bool has_hdr;
	uint16_t hw_protocol;        /* host order */
	uint8_t hook;
	bool has_time;
	int64_t time_us;             /* the packet's timestamp, µs since the epoch */
	uint32_t in_ifindex, out_ifindex;   /* 0: absent */
	bool has_seq;
	uint32_t seq;                /* NFULA_SEQ: per group (instance), from 0 at bind */
	char prefix[SEG_NFLOG_MAX_PREFIX + 1];

	/* the segd prefix */
	enum seg_nflog_event event;
	char from[SEG_MAX_NAME + 1]; /* "" for "-" */
	char to[SEG_MAX_NAME + 1];

	/* the packet */
	int family;                  /* AF_INET, AF_INET6 */
	uint8_t src[16], dst[16];    /* network order; IPv4 in the first 4 bytes */
	uint8_t proto;               /* IPPROTO_*: the upper-layer protocol */
	enum seg_nflog_l4 l4;
	uint16_t sport, dport;       /* SEG_L4_PORTS */
	uint8_t icmp_type, icmp_code;/* SEG_L4_ICMP */
	bool fragment;               /* first or later fragment of a fragmented packet */
	uint32_t ip_len;             /* length the IP header claims (0: jumbogram, BIG TCP) */
	uint32_t cap_len;            /* bytes of the packet in the record */
};

/* Decodes rec[0..len). Always fills *out as far as it got (zeroed first).
 * Returns the first problem found, SEG_NFLOG_OK if none. */
enum seg_nflog_status seg_nflog_decode(const uint8_t *rec, size_t len, struct seg_nflog_rec *out);

/* True when the record describes a real flow despite the status. */
bool seg_nflog_usable(enum seg_nflog_status st);
/* "truncated TLV", ... for counters and logs; "unknown" out of range. */
const char *seg_nflog_status_name(enum seg_nflog_status st);
/* The prefix letter ('D', ...) and back. */
char seg_nflog_event_letter(enum seg_nflog_event ev);
int seg_nflog_event_parse(char letter, enum seg_nflog_event *ret_ev);
/* "tcp", "udp", "icmpv6", ... or NULL for protocols without a name here. */
const char *seg_nflog_proto_name(uint8_t proto);

/* Parses "segd E from to" into out->event/from/to (only these). */
enum seg_nflog_status seg_nflog_parse_prefix(const char *prefix, struct seg_nflog_rec *out);

/* The NFULNL_MSG_CONFIG message that makes the kernel number the records of
 * 'group' (NFULA_CFG_FLAGS = NFULNL_CFG_F_SEQ), optionally with a queue
 * threshold and flush timeout (0 = leave the kernel's default). Written to
 * buf as a whole netlink message (no NLM_F_ACK: an error still comes back as
 * NLMSG_ERROR, which libpcap skips). Returns its length or -ENOBUFS. */
struct seg_nflog_config {
	uint32_t qthresh;            /* records batched before a flush; 0: default */
	uint32_t timeout_cs;         /* flush timeout in 1/100 s; 0: default */
};
int seg_nflog_build_config(uint16_t group, const struct seg_nflog_config *cfg,
			   uint32_t nl_seq, void *buf, size_t len);

#endif
