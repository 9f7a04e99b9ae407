/* nflog.c - DLT_NFLOG record and IPv4/IPv6 packet decoder (see nflog.h). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include "addr.h"
#include "nflog.h"

#define NFPROTO_V4 2
#define NFPROTO_V6 10

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) << 32 | get32(p + 4); }

/* Attribute length and type are in host order (libpcap passes them as the
 * kernel wrote them); memcpy because the record need not be aligned. */
static uint16_t get_host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static const char *const status_names[SEG_NFLOG_STATUS_COUNT] = {
	[SEG_NFLOG_OK] = "ok",
	[SEG_NFLOG_SHORT_RECORD] = "record shorter than the NFLOG header",
	[SEG_NFLOG_BAD_VERSION] = "unknown NFLOG version",
	[SEG_NFLOG_TRUNCATED_TLV] = "truncated TLV",
	[SEG_NFLOG_BAD_TLV_LENGTH] = "TLV length below 4",
	[SEG_NFLOG_BAD_ATTR] = "attribute of the wrong size or value",
	[SEG_NFLOG_DUPLICATE_ATTR] = "duplicate attribute",
	[SEG_NFLOG_NO_PREFIX] = "no prefix",
	[SEG_NFLOG_BAD_PREFIX] = "prefix not a string of 1-127 characters",
	[SEG_NFLOG_FOREIGN_PREFIX] = "not a segd prefix",
	[SEG_NFLOG_MALFORMED_PREFIX] = "malformed segd prefix",
	[SEG_NFLOG_NO_PAYLOAD] = "no payload",
	[SEG_NFLOG_TRUNCATED_IP] = "truncated IP header",
	[SEG_NFLOG_BAD_IP_VERSION] = "IP version neither 4 nor 6",
	[SEG_NFLOG_FAMILY_MISMATCH] = "IP version differs from the NFLOG family",
	[SEG_NFLOG_BAD_IP_HEADER] = "malformed IP header",
	[SEG_NFLOG_TRUNCATED_L4] = "truncated transport header",
	[SEG_NFLOG_BAD_EXT_HEADER] = "IPv6 extension headers too many or malformed",
};

const char *seg_nflog_status_name(enum seg_nflog_status st)
{
	if ((unsigned)st >= SEG_NFLOG_STATUS_COUNT)
		return "unknown";
	return status_names[st];
}

bool seg_nflog_usable(enum seg_nflog_status st)
{
	return st == SEG_NFLOG_OK || st == SEG_NFLOG_TRUNCATED_L4 || st == SEG_NFLOG_BAD_EXT_HEADER;
}

static const char event_letters[SEG_NFLOG_EVENT_COUNT] = {
	[SEG_NFLOG_DENIED] = 'D', [SEG_NFLOG_GUARD] = 'M', [SEG_NFLOG_UNZONED] = 'U',
	[SEG_NFLOG_SPOOFED] = 'S', [SEG_NFLOG_TO_GATEWAY] = 'G', [SEG_NFLOG_ISOLATED] = 'I',
	[SEG_NFLOG_FROM_GATEWAY] = 'O', [SEG_NFLOG_LINK_SCOPE] = 'L',
};

char seg_nflog_event_letter(enum seg_nflog_event ev)
{
	return (unsigned)ev < SEG_NFLOG_EVENT_COUNT ? event_letters[ev] : '?';
}

int seg_nflog_event_parse(char letter, enum seg_nflog_event *ret_ev)
{
	for (int i = 0; i < SEG_NFLOG_EVENT_COUNT; i++)
		if (event_letters[i] == letter) {
			*ret_ev = (enum seg_nflog_event)i;
			return 0;
		}
	return -EINVAL;
}

static const struct { uint8_t proto; const char *name; } proto_names[] = {
	{ IPPROTO_TCP, "tcp" }, { IPPROTO_UDP, "udp" }, { IPPROTO_ICMP, "icmp" },
	{ IPPROTO_ICMPV6, "icmpv6" }, { IPPROTO_SCTP, "sctp" }, { IPPROTO_UDPLITE, "udplite" },
	{ IPPROTO_DCCP, "dccp" }, { IPPROTO_GRE, "gre" }, { IPPROTO_ESP, "esp" },
	{ IPPROTO_AH, "ah" }, { IPPROTO_IGMP, "igmp" }, { IPPROTO_IPIP, "ipip" },
	{ IPPROTO_IPV6, "ipv6" }, { 89, "ospf" }, { IPPROTO_NONE, "ipv6-nonxt" },
	{ IPPROTO_PIM, "pim" }, { 112, "vrrp" },
};

const char *seg_nflog_proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]); i++)
		if (proto_names[i].proto == proto)
			return proto_names[i].name;
	return NULL;
}

/* ---- prefix ---------------------------------------------------------- */

/* Takes the next space-separated token of *s into buf (at most cap-1 chars). */
static bool take_token(const char **s, char *buf, size_t cap)
{
	const char *p = *s;
	size_t n = 0;

	while (p[n] && p[n] != ' ')
		n++;
	if (n == 0 || n >= cap)
		return false;
	memcpy(buf, p, n);
	buf[n] = '\0';
	*s = p[n] ? p + n + 1 : p + n;
	return p[n] == '\0' || p[n + 1] != '\0';   /* no trailing single space */
}

/* A zone field: "-" (none) or a valid zone name. */
static bool parse_zone_field(const char *tok, char *out)
{
	const char *why;

	if (strcmp(tok, "-") == 0) {
		out[0] = '\0';
		return true;
	}
	if (!seg_name_valid(tok, &why))
		return false;
	strcpy(out, tok);   /* tok is at most SEG_MAX_NAME chars: take_token bounds it */
	return true;
}

/* Which zone fields each event must carry (design.md, compile.c): a denied
 * flow names both zones; a spoofed source (in the forward chain also its
 * destination zone) and a packet to the gateway name the arrival zone; a
 * packet from the gateway its zone, a link-scope one the zone of its link. */
static bool zones_fit_event(const struct seg_nflog_rec *r)
{
	switch (r->event) {
	case SEG_NFLOG_DENIED:
	case SEG_NFLOG_GUARD:
	case SEG_NFLOG_ISOLATED:
		return r->from[0] && r->to[0];
	case SEG_NFLOG_SPOOFED:
	case SEG_NFLOG_TO_GATEWAY:
		return r->from[0];
	case SEG_NFLOG_FROM_GATEWAY:
		return r->to[0] && !r->from[0];
	case SEG_NFLOG_LINK_SCOPE:
		return !r->from[0] != !r->to[0];
	default:
		return true;
	}
}

enum seg_nflog_status seg_nflog_parse_prefix(const char *prefix, struct seg_nflog_rec *out)
{
	char ev[2], from[SEG_MAX_NAME + 1], to[SEG_MAX_NAME + 1];
	const char *s = prefix;

	if (strncmp(prefix, "segd ", 5) != 0)
		return SEG_NFLOG_FOREIGN_PREFIX;
	s += 5;
	if (!take_token(&s, ev, sizeof(ev)) || seg_nflog_event_parse(ev[0], &out->event) < 0)
		return SEG_NFLOG_MALFORMED_PREFIX;
	if (!take_token(&s, from, sizeof(from)) || !take_token(&s, to, sizeof(to)) || *s)
		return SEG_NFLOG_MALFORMED_PREFIX;
	if (!parse_zone_field(from, out->from) || !parse_zone_field(to, out->to))
		return SEG_NFLOG_MALFORMED_PREFIX;
	return zones_fit_event(out) ? SEG_NFLOG_OK : SEG_NFLOG_MALFORMED_PREFIX;
}

/* ---- attributes -------------------------------------------------------- */

struct tlv_state {
	const uint8_t *payload;
	size_t payload_len;
	uint32_t seen;               /* bit per known attribute type */
	bool has_prefix;
};

static enum seg_nflog_status take_prefix(const uint8_t *v, size_t n, struct seg_nflog_rec *r,
					 struct tlv_state *st)
{
	const void *nul = memchr(v, '\0', n);

	if (!nul)
		return SEG_NFLOG_BAD_PREFIX;
	size_t len = (size_t)((const uint8_t *)nul - v);
	if (len == 0 || len > SEG_NFLOG_MAX_PREFIX)
		return SEG_NFLOG_BAD_PREFIX;
	memcpy(r->prefix, v, len + 1);
	st->has_prefix = true;
	return SEG_NFLOG_OK;
}

/* Exact sizes of the fixed-size attributes we read; 0 = not checked here. */
static const uint8_t attr_size[NFULA_MAX + 1] = {
	[NFULA_PACKET_HDR] = 4, [NFULA_TIMESTAMP] = 16, [NFULA_IFINDEX_INDEV] = 4,
	[NFULA_IFINDEX_OUTDEV] = 4, [NFULA_SEQ] = 4,
};

static enum seg_nflog_status take_attr(uint16_t type, const uint8_t *v, size_t n,
				       struct seg_nflog_rec *r, struct tlv_state *st)
{
	if (type > NFULA_MAX)
		return SEG_NFLOG_OK;             /* newer kernels add attributes: skip */
	if (st->seen & (1u << type))
		return SEG_NFLOG_DUPLICATE_ATTR;
	st->seen |= 1u << type;
	if (attr_size[type] && n != attr_size[type])
		return SEG_NFLOG_BAD_ATTR;
	switch (type) {
	case NFULA_PACKET_HDR:
		r->has_hdr = true;
		r->hw_protocol = get16(v);
		r->hook = v[2];
		break;
	case NFULA_TIMESTAMP: {
		uint64_t sec = get64(v), usec = get64(v + 8);
		if (sec > INT64_MAX / 1000000 - 1 || usec >= 1000000)
			return SEG_NFLOG_BAD_ATTR;
		r->has_time = true;
		r->time_us = (int64_t)sec * 1000000 + (int64_t)usec;
		break;
	}
	case NFULA_IFINDEX_INDEV:  r->in_ifindex = get32(v); break;
	case NFULA_IFINDEX_OUTDEV: r->out_ifindex = get32(v); break;
	case NFULA_SEQ:            r->has_seq = true; r->seq = get32(v); break;
	case NFULA_PREFIX:         return take_prefix(v, n, r, st);
	case NFULA_PAYLOAD:        st->payload = v; st->payload_len = n; break;
	default:                   break;
	}
	return SEG_NFLOG_OK;
}

/* Walks the attributes. A payload attribute cut by the capture length is
 * kept as far as it goes (the IP decoder checks what it needs); any other
 * attribute running past the end is an error. */
static enum seg_nflog_status walk_tlvs(const uint8_t *p, size_t len, struct seg_nflog_rec *r,
				       struct tlv_state *st)
{
	size_t off = 4;

	while (off < len) {
		if (len - off < 4)
			return SEG_NFLOG_TRUNCATED_TLV;
		uint16_t alen = get_host16(p + off);
		uint16_t type = get_host16(p + off + 2) & NLA_TYPE_MASK;
		if (alen < 4)
			return SEG_NFLOG_BAD_TLV_LENGTH;
		size_t vlen = alen - 4u;
		if (vlen > len - off - 4) {
			if (type != NFULA_PAYLOAD)
				return SEG_NFLOG_TRUNCATED_TLV;
			vlen = len - off - 4;
		}
		enum seg_nflog_status s = take_attr(type, p + off + 4, vlen, r, st);
		if (s != SEG_NFLOG_OK)
			return s;
		off += ((size_t)alen + 3) & ~(size_t)3;
	}
	return SEG_NFLOG_OK;
}

/* ---- IP -------------------------------------------------------------- */

/* Ports or ICMP type/code from the first bytes of the transport header. */
static enum seg_nflog_status decode_l4(const uint8_t *l4, size_t n, struct seg_nflog_rec *r)
{
	switch (r->proto) {
	case IPPROTO_TCP: case IPPROTO_UDP: case IPPROTO_UDPLITE:
	case IPPROTO_SCTP: case IPPROTO_DCCP:
		if (n < 4)
			break;
		r->l4 = SEG_L4_PORTS;
		r->sport = get16(l4);
		r->dport = get16(l4 + 2);
		return SEG_NFLOG_OK;
	case IPPROTO_ICMP: case IPPROTO_ICMPV6:
		if (n < 2)
			break;
		r->l4 = SEG_L4_ICMP;
		r->icmp_type = l4[0];
		r->icmp_code = l4[1];
		return SEG_NFLOG_OK;
	default:
		r->l4 = SEG_L4_NONE;
		return SEG_NFLOG_OK;
	}
	r->l4 = SEG_L4_TRUNCATED;
	return SEG_NFLOG_TRUNCATED_L4;
}

static enum seg_nflog_status decode_ipv4(const uint8_t *p, size_t n, struct seg_nflog_rec *r)
{
	if (n < 20)
		return SEG_NFLOG_TRUNCATED_IP;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	uint16_t total = get16(p + 2), frag = get16(p + 6);
	if (ihl < 20 || (total && total < ihl))
		return SEG_NFLOG_BAD_IP_HEADER;
	if (ihl > n)
		return SEG_NFLOG_TRUNCATED_IP;
	r->family = AF_INET;
	memcpy(r->src, p + 12, 4);
	memcpy(r->dst, p + 16, 4);
	r->proto = p[9];
	r->ip_len = total;
	r->fragment = (frag & 0x3fff) != 0;   /* MF or an offset */
	if (frag & 0x1fff) {
		r->l4 = SEG_L4_FRAGMENT;
		return SEG_NFLOG_OK;
	}
	/* Bytes past the total length are link padding, not transport header;
	 * a total length of 0 (BIG TCP GRO packets) leaves only the capture. */
	size_t end = total && total < n ? total : n;
	return decode_l4(p + ihl, end - ihl, r);
}

static bool is_ext_header(uint8_t nh)
{
	static const uint8_t ext[] = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS,
				       IPPROTO_FRAGMENT, IPPROTO_AH, IPPROTO_MH, 139, 140 };

	return memchr(ext, nh, sizeof(ext)) != NULL;
}

/* Length of the extension header at p (n bytes available), 0 if it does not fit. */
static size_t ext_header_len(uint8_t type, const uint8_t *p, size_t n)
{
	size_t len;

	if (n < 8)
		return 0;
	if (type == IPPROTO_FRAGMENT)
		len = 8;
	else if (type == IPPROTO_AH)
		len = ((size_t)p[1] + 2) * 4;
	else
		len = ((size_t)p[1] + 1) * 8;
	return len <= n ? len : 0;
}

static enum seg_nflog_status walk_ipv6_ext(const uint8_t *p, size_t off, size_t end,
					   struct seg_nflog_rec *r)
{
	uint8_t nh = p[6];

	for (int i = 0; is_ext_header(nh); i++) {
		size_t hl = i < SEG_NFLOG_MAX_EXT_HDRS ? ext_header_len(nh, p + off, end - off) : 0;
		if (hl == 0) {
			r->proto = nh;
			r->l4 = SEG_L4_UNKNOWN;
			return SEG_NFLOG_BAD_EXT_HEADER;
		}
		if (nh == IPPROTO_FRAGMENT) {
			r->fragment = true;
			if (get16(p + off + 2) & 0xfff8) {   /* offset != 0 */
				r->proto = p[off];
				r->l4 = SEG_L4_FRAGMENT;
				return SEG_NFLOG_OK;
			}
		}
		nh = p[off];
		off += hl;
	}
	r->proto = nh;
	return decode_l4(p + off, end - off, r);
}

static enum seg_nflog_status decode_ipv6(const uint8_t *p, size_t n, struct seg_nflog_rec *r)
{
	if (n < 40)
		return SEG_NFLOG_TRUNCATED_IP;
	uint16_t plen = get16(p + 4);
	r->family = AF_INET6;
	memcpy(r->src, p + 8, 16);
	memcpy(r->dst, p + 24, 16);
	r->ip_len = plen ? 40u + plen : 0;
	/* plen 0: a jumbogram, whose length is in an option: trust the capture. */
	size_t end = plen && 40u + plen < n ? 40u + plen : n;
	return walk_ipv6_ext(p, 40, end, r);
}

static enum seg_nflog_status decode_ip(const uint8_t *p, size_t n, struct seg_nflog_rec *r)
{
	if (n == 0)
		return SEG_NFLOG_NO_PAYLOAD;
	int v = p[0] >> 4;
	r->cap_len = (uint32_t)n;
	if (v != 4 && v != 6)
		return SEG_NFLOG_BAD_IP_VERSION;
	if ((r->nf_family == NFPROTO_V4 && v != 4) || (r->nf_family == NFPROTO_V6 && v != 6))
		return SEG_NFLOG_FAMILY_MISMATCH;
	return v == 4 ? decode_ipv4(p, n, r) : decode_ipv6(p, n, r);
}

enum seg_nflog_status seg_nflog_decode(const uint8_t *rec, size_t len, struct seg_nflog_rec *out)
{
	struct tlv_state st = { 0 };
	enum seg_nflog_status s;

	memset(out, 0, sizeof(*out));
	if (!rec || len < 4)
		return SEG_NFLOG_SHORT_RECORD;
	out->nf_family = rec[0];
	out->group = get16(rec + 2);
	if (rec[1] != NFNETLINK_V0)
		return SEG_NFLOG_BAD_VERSION;
	s = walk_tlvs(rec, len, out, &st);
	if (s != SEG_NFLOG_OK)
		return s;
	if (!st.has_prefix)
		return SEG_NFLOG_NO_PREFIX;
	s = seg_nflog_parse_prefix(out->prefix, out);
	if (s != SEG_NFLOG_OK)
		return s;
	if (!st.payload)
		return SEG_NFLOG_NO_PAYLOAD;
	return decode_ip(st.payload, st.payload_len, out);
}

/* ---- configuration message -------------------------------------------- */

static size_t put_attr(uint8_t *buf, size_t off, uint16_t type, const void *v, uint16_t vlen)
{
	struct nlattr a = { .nla_len = (uint16_t)(NLA_HDRLEN + vlen), .nla_type = type };

	memcpy(buf + off, &a, sizeof(a));
	memcpy(buf + off + NLA_HDRLEN, v, vlen);
	return off + NLA_ALIGN(a.nla_len);
}

int seg_nflog_build_config(uint16_t group, const struct seg_nflog_config *cfg,
			   uint32_t nl_seq, void *buf, size_t len)
{
	const size_t need = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg)) + 3 * NLA_ALIGN(NLA_HDRLEN + 4);
	uint8_t *b = buf;
	uint16_t flags = htons(NFULNL_CFG_F_SEQ);

	if (!buf || len < need)
		return -ENOBUFS;
	memset(buf, 0, need);
	struct nfgenmsg g = { .nfgen_family = AF_UNSPEC, .version = NFNETLINK_V0, .res_id = htons(group) };
	memcpy(b + NLMSG_HDRLEN, &g, sizeof(g));
	size_t off = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(g));
	off = put_attr(b, off, NFULA_CFG_FLAGS, &flags, sizeof(flags));
	if (cfg && cfg->qthresh) {
		uint32_t v = htonl(cfg->qthresh);
		off = put_attr(b, off, NFULA_CFG_QTHRESH, &v, sizeof(v));
	}
	if (cfg && cfg->timeout_cs) {
		uint32_t v = htonl(cfg->timeout_cs);
		off = put_attr(b, off, NFULA_CFG_TIMEOUT, &v, sizeof(v));
	}
	struct nlmsghdr h = {
		.nlmsg_len = (uint32_t)off,
		.nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG,
		.nlmsg_flags = NLM_F_REQUEST,
		.nlmsg_seq = nl_seq,
	};
	memcpy(b, &h, sizeof(h));
	return (int)off;
}
