/* test_nflog.c - the NFLOG decoder on crafted bytes and on records captured
 * from libpcap (tests/nflog/fwd-*.bin, a forward-chain rule logging with the
 * prefix "segd D mynumber internet" to group 7, NFULNL_CFG_F_SEQ on). */
#include <arpa/inet.h>
#include <errno.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include "nflog.h"
#include "suites.h"

/* ---- a record builder -------------------------------------------------- */

struct rb {
	uint8_t b[4096];
	size_t n;
};

static void rb_start(struct rb *r, uint8_t family)
{
	memset(r, 0, sizeof(*r));
	r->b[0] = family;
	r->b[1] = 0;
	r->b[2] = 0;
	r->b[3] = 7;
	r->n = 4;
}

/* An attribute as the kernel writes it: length and type in host order. */
static void rb_attr(struct rb *r, uint16_t type, const void *v, size_t len)
{
	uint16_t l = (uint16_t)(len + 4);

	memcpy(r->b + r->n, &l, 2);
	memcpy(r->b + r->n + 2, &type, 2);
	if (len)
		memcpy(r->b + r->n + 4, v, len);
	r->n += (l + 3u) & ~3u;
}

static void rb_prefix(struct rb *r, const char *p)
{
	rb_attr(r, NFULA_PREFIX, p, strlen(p) + 1);
}

static void rb_u32(struct rb *r, uint16_t type, uint32_t v)
{
	v = htonl(v);
	rb_attr(r, type, &v, 4);
}

static void rb_meta(struct rb *r, const char *prefix, uint32_t seq)
{
	uint8_t hdr[4] = { 0x08, 0x00, 2, 0 };
	uint8_t ts[16] = { 0 };
	uint32_t sec = htonl(1764158400), usec = htonl(250000);   /* 2025-11-26T12:00:00.250Z */

	memcpy(ts + 4, &sec, 4);
	memcpy(ts + 12, &usec, 4);
	rb_attr(r, NFULA_PACKET_HDR, hdr, 4);
	rb_prefix(r, prefix);
	rb_u32(r, NFULA_IFINDEX_INDEV, 3);
	rb_u32(r, NFULA_IFINDEX_OUTDEV, 4);
	rb_attr(r, NFULA_TIMESTAMP, ts, 16);
	rb_u32(r, NFULA_SEQ, seq);
}

/* IPv4 header + l4 bytes. */
static size_t ip4(uint8_t *p, uint8_t proto, uint16_t frag, const uint8_t *l4, size_t l4len)
{
	uint16_t total = htons((uint16_t)(20 + l4len));
	uint16_t f = htons(frag);

	memset(p, 0, 20);
	p[0] = 0x45;
	memcpy(p + 2, &total, 2);
	memcpy(p + 6, &f, 2);
	p[8] = 64;
	p[9] = proto;
	inet_pton(AF_INET, "10.10.0.2", p + 12);
	inet_pton(AF_INET, "10.30.0.2", p + 16);
	memcpy(p + 20, l4, l4len);
	return 20 + l4len;
}

/* IPv6 header with next header nh + rest bytes (extension headers, l4). */
static size_t ip6(uint8_t *p, uint8_t nh, const uint8_t *rest, size_t len)
{
	uint16_t plen = htons((uint16_t)len);

	memset(p, 0, 40);
	p[0] = 0x60;
	memcpy(p + 4, &plen, 2);
	p[6] = nh;
	p[7] = 64;
	inet_pton(AF_INET6, "fd00:10::2", p + 8);
	inet_pton(AF_INET6, "fd00:30::2", p + 24);
	memcpy(p + 40, rest, len);
	return 40 + len;
}

static const uint8_t tcp_hdr[20] = { 0x9c, 0xb0, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02 };
static const uint8_t udp_hdr[8] = { 0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0 };
static const uint8_t icmp_hdr[8] = { 8, 0, 0, 0, 0, 1, 0, 1 };
static const uint8_t icmp6_hdr[8] = { 128, 0, 0, 0, 0, 1, 0, 1 };

static void rb_payload(struct rb *r, const uint8_t *pkt, size_t len)
{
	rb_attr(r, NFULA_PAYLOAD, pkt, len);
}

static void v4_tcp(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip4(pkt, 6, 0, tcp_hdr, sizeof(tcp_hdr)));
}

/* ---- statuses: one crafted record per problem ------------------------- */

static void c_short(struct rb *r) { rb_start(r, 2); r->n = 3; }
static void c_version(struct rb *r) { v4_tcp(r); r->b[1] = 1; }
static void c_trunc_tlv_hdr(struct rb *r) { rb_start(r, 2); rb_prefix(r, "segd D a b"); r->n += 2; }
static void c_trunc_tlv(struct rb *r) { rb_start(r, 2); rb_prefix(r, "segd D a b"); r->n -= 8; }
static void c_tlv_len(struct rb *r)
{
	uint16_t l = 2, t = NFULA_PREFIX;
	rb_start(r, 2);
	memcpy(r->b + 4, &l, 2);
	memcpy(r->b + 6, &t, 2);
	r->n = 12;
}
static void c_attr_size(struct rb *r) { rb_start(r, 2); rb_attr(r, NFULA_SEQ, "\0\0", 2); }
static void c_bad_usec(struct rb *r)
{
	uint8_t ts[16] = { 0 };
	ts[13] = 0x0f; ts[14] = 0x42; ts[15] = 0x40;   /* usec = 1000000 */
	rb_start(r, 2);
	rb_attr(r, NFULA_TIMESTAMP, ts, 16);
}
static void c_dup(struct rb *r) { rb_start(r, 2); rb_u32(r, NFULA_SEQ, 1); rb_u32(r, NFULA_SEQ, 2); }
static void c_no_prefix(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_payload(r, pkt, ip4(pkt, 6, 0, tcp_hdr, 20));
}
static void c_prefix_nonul(struct rb *r) { rb_start(r, 2); rb_attr(r, NFULA_PREFIX, "segd D a b", 10); }
static void c_prefix_empty(struct rb *r) { rb_start(r, 2); rb_attr(r, NFULA_PREFIX, "", 1); }
static void c_prefix_long(struct rb *r)
{
	char p[200];
	memset(p, 'a', sizeof(p) - 1);
	p[sizeof(p) - 1] = 0;
	rb_start(r, 2);
	rb_prefix(r, p);
}
static void c_foreign(struct rb *r) { rb_start(r, 2); rb_prefix(r, "DROP: "); }
static void c_malformed(struct rb *r) { rb_start(r, 2); rb_prefix(r, "segd X a b"); }
static void c_no_payload(struct rb *r) { rb_start(r, 2); rb_meta(r, "segd D a b", 0); }
static void c_empty_payload(struct rb *r) { c_no_payload(r); rb_payload(r, NULL, 0); }
static void c_trunc_ip4(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	ip4(pkt, 6, 0, tcp_hdr, 20);
	rb_payload(r, pkt, 19);
}
static void c_trunc_ip6(struct rb *r)
{
	uint8_t pkt[80];
	rb_start(r, 10);
	rb_meta(r, "segd D a b", 0);
	ip6(pkt, 6, tcp_hdr, 20);
	rb_payload(r, pkt, 39);
}
static void c_ipver(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	ip4(pkt, 6, 0, tcp_hdr, 20);
	pkt[0] = 0x55;
	rb_payload(r, pkt, 40);
}
static void c_family(struct rb *r)
{
	uint8_t pkt[80];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	rb_payload(r, pkt, ip6(pkt, 6, tcp_hdr, 20));
}
static void c_ihl(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	ip4(pkt, 6, 0, tcp_hdr, 20);
	pkt[0] = 0x44;
	rb_payload(r, pkt, 40);
}
static void c_total(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	ip4(pkt, 6, 0, tcp_hdr, 20);
	pkt[2] = 0;
	pkt[3] = 19;
	rb_payload(r, pkt, 40);
}
static void c_ihl_past(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	ip4(pkt, 6, 0, tcp_hdr, 20);
	pkt[0] = 0x4f;   /* 60-byte header of an 80-byte packet, 40 bytes captured */
	pkt[2] = 0;
	pkt[3] = 80;
	rb_payload(r, pkt, 40);
}
static void c_trunc_l4(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D a b", 0);
	rb_payload(r, pkt, ip4(pkt, 6, 0, tcp_hdr, 3));
}
static void c_ext_loop(struct rb *r)
{
	uint8_t ext[8 * 12] = { 0 }, pkt[200];
	for (int i = 0; i < 12; i++)
		ext[i * 8] = IPPROTO_DSTOPTS;   /* a chain longer than the limit */
	rb_start(r, 10);
	rb_meta(r, "segd D a b", 0);
	rb_payload(r, pkt, ip6(pkt, IPPROTO_DSTOPTS, ext, sizeof(ext)));
}
static void c_ext_trunc(struct rb *r)
{
	uint8_t ext[8] = { IPPROTO_TCP, 4 }, pkt[80];   /* claims 40 bytes, has 8 */
	rb_start(r, 10);
	rb_meta(r, "segd D a b", 0);
	rb_payload(r, pkt, ip6(pkt, IPPROTO_HOPOPTS, ext, sizeof(ext)));
}

static const struct {
	const char *name;
	void (*build)(struct rb *r);
	enum seg_nflog_status want;
} status_cases[] = {
	{ "short record", c_short, SEG_NFLOG_SHORT_RECORD },
	{ "version 1", c_version, SEG_NFLOG_BAD_VERSION },
	{ "TLV header cut", c_trunc_tlv_hdr, SEG_NFLOG_TRUNCATED_TLV },
	{ "TLV value cut", c_trunc_tlv, SEG_NFLOG_TRUNCATED_TLV },
	{ "TLV length 2", c_tlv_len, SEG_NFLOG_BAD_TLV_LENGTH },
	{ "seq of 2 bytes", c_attr_size, SEG_NFLOG_BAD_ATTR },
	{ "usec 1000000", c_bad_usec, SEG_NFLOG_BAD_ATTR },
	{ "seq twice", c_dup, SEG_NFLOG_DUPLICATE_ATTR },
	{ "no prefix", c_no_prefix, SEG_NFLOG_NO_PREFIX },
	{ "prefix without NUL", c_prefix_nonul, SEG_NFLOG_BAD_PREFIX },
	{ "empty prefix", c_prefix_empty, SEG_NFLOG_BAD_PREFIX },
	{ "prefix of 199", c_prefix_long, SEG_NFLOG_BAD_PREFIX },
	{ "foreign prefix", c_foreign, SEG_NFLOG_FOREIGN_PREFIX },
	{ "event X", c_malformed, SEG_NFLOG_MALFORMED_PREFIX },
	{ "no payload", c_no_payload, SEG_NFLOG_NO_PAYLOAD },
	{ "empty payload", c_empty_payload, SEG_NFLOG_NO_PAYLOAD },
	{ "IPv4 header cut", c_trunc_ip4, SEG_NFLOG_TRUNCATED_IP },
	{ "IPv6 header cut", c_trunc_ip6, SEG_NFLOG_TRUNCATED_IP },
	{ "IP version 5", c_ipver, SEG_NFLOG_BAD_IP_VERSION },
	{ "family 2, IPv6 inside", c_family, SEG_NFLOG_FAMILY_MISMATCH },
	{ "IHL 4", c_ihl, SEG_NFLOG_BAD_IP_HEADER },
	{ "total length 19", c_total, SEG_NFLOG_BAD_IP_HEADER },
	{ "IHL past capture", c_ihl_past, SEG_NFLOG_TRUNCATED_IP },
	{ "TCP header of 3 bytes", c_trunc_l4, SEG_NFLOG_TRUNCATED_L4 },
	{ "12 destination options", c_ext_loop, SEG_NFLOG_BAD_EXT_HEADER },
	{ "hop-by-hop past the end", c_ext_trunc, SEG_NFLOG_BAD_EXT_HEADER },
};

/* The record in a buffer of exactly its size, so ASan sees any overread. */
static enum seg_nflog_status decode_exact(const uint8_t *b, size_t n, struct seg_nflog_rec *out)
{
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, b, n);
	enum seg_nflog_status st = seg_nflog_decode(copy, n, out);
	free(copy);
	return st;
}

START_TEST(test_status)
{
	struct rb r;
	struct seg_nflog_rec rec;

	status_cases[_i].build(&r);
	enum seg_nflog_status st = decode_exact(r.b, r.n, &rec);
	ck_assert_msg(st == status_cases[_i].want, "%s: got '%s', want '%s'", status_cases[_i].name,
		      seg_nflog_status_name(st), seg_nflog_status_name(status_cases[_i].want));
	if (st == SEG_NFLOG_TRUNCATED_L4)
		ck_assert_int_eq(rec.l4, SEG_L4_TRUNCATED);
	if (st == SEG_NFLOG_BAD_EXT_HEADER)
		ck_assert_int_eq(rec.l4, SEG_L4_UNKNOWN);
}
END_TEST

/* ---- valid records ------------------------------------------------------ */

struct want {
	const char *name;
	int family;
	uint8_t proto;
	enum seg_nflog_l4 l4;
	uint16_t sport, dport;
	uint8_t itype, icode;
	bool fragment;
};

static void b_v4_udp(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip4(pkt, 17, 0, udp_hdr, 8));
}
static void b_v4_icmp(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip4(pkt, 1, 0, icmp_hdr, 8));
}
static void b_v4_gre(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip4(pkt, 47, 0, udp_hdr, 4));
}
static void b_v4_frag_first(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip4(pkt, 17, 0x2000, udp_hdr, 8));
}
static void b_v4_frag_later(struct rb *r)
{
	uint8_t pkt[64];
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip4(pkt, 17, 185, udp_hdr, 8));   /* garbage where ports would be */
}
static void b_v4_padded(struct rb *r)
{
	uint8_t pkt[64] = { 0 };
	rb_start(r, 2);
	rb_meta(r, "segd D mynumber internet", 5);
	ip4(pkt, 6, 0, tcp_hdr, 2);   /* total 22: the rest is link padding */
	rb_payload(r, pkt, 46);
}
static void b_v6_tcp(struct rb *r)
{
	uint8_t pkt[80];
	rb_start(r, 10);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip6(pkt, 6, tcp_hdr, 20));
}
static void b_v6_icmp6(struct rb *r)
{
	uint8_t pkt[80];
	rb_start(r, 10);
	rb_meta(r, "segd G mynumber -", 5);
	rb_payload(r, pkt, ip6(pkt, 58, icmp6_hdr, 8));
}
static void b_v6_ext_udp(struct rb *r)
{
	uint8_t rest[40] = { IPPROTO_ROUTING, 0 }, pkt[100];
	rest[8] = IPPROTO_UDP;   /* routing header, 16 bytes */
	rest[9] = 1;
	memcpy(rest + 24, udp_hdr, 8);
	rb_start(r, 10);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip6(pkt, IPPROTO_HOPOPTS, rest, 32));
}
static void b_v6_frag_first(struct rb *r)
{
	uint8_t rest[16] = { IPPROTO_UDP, 0, 0x00, 0x01 }, pkt[80];
	memcpy(rest + 8, udp_hdr, 8);
	rb_start(r, 10);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip6(pkt, IPPROTO_FRAGMENT, rest, 16));
}
static void b_v6_frag_later(struct rb *r)
{
	uint8_t rest[16] = { IPPROTO_UDP, 0, 0x05, 0xa8 }, pkt[80];
	memcpy(rest + 8, udp_hdr, 8);
	rb_start(r, 10);
	rb_meta(r, "segd D mynumber internet", 5);
	rb_payload(r, pkt, ip6(pkt, IPPROTO_FRAGMENT, rest, 16));
}
static void b_v6_esp(struct rb *r)
{
	uint8_t pkt[80];
	rb_start(r, 10);
	rb_meta(r, "segd S lgwan internet", 5);
	rb_payload(r, pkt, ip6(pkt, IPPROTO_ESP, udp_hdr, 8));
}

static const struct {
	void (*build)(struct rb *r);
	struct want w;
} valid_cases[] = {
	{ v4_tcp, { "v4 tcp", AF_INET, 6, SEG_L4_PORTS, 40112, 443, 0, 0, false } },
	{ b_v4_udp, { "v4 udp", AF_INET, 17, SEG_L4_PORTS, 12345, 53, 0, 0, false } },
	{ b_v4_icmp, { "v4 icmp", AF_INET, 1, SEG_L4_ICMP, 0, 0, 8, 0, false } },
	{ b_v4_gre, { "v4 gre", AF_INET, 47, SEG_L4_NONE, 0, 0, 0, 0, false } },
	{ b_v4_frag_first, { "v4 first fragment", AF_INET, 17, SEG_L4_PORTS, 12345, 53, 0, 0, true } },
	{ b_v4_frag_later, { "v4 later fragment", AF_INET, 17, SEG_L4_FRAGMENT, 0, 0, 0, 0, true } },
	{ b_v4_padded, { "v4 total below capture", AF_INET, 6, SEG_L4_TRUNCATED, 0, 0, 0, 0, false } },
	{ b_v6_tcp, { "v6 tcp", AF_INET6, 6, SEG_L4_PORTS, 40112, 443, 0, 0, false } },
	{ b_v6_icmp6, { "v6 icmpv6", AF_INET6, 58, SEG_L4_ICMP, 0, 0, 128, 0, false } },
	{ b_v6_ext_udp, { "v6 hbh+routing udp", AF_INET6, 17, SEG_L4_PORTS, 12345, 53, 0, 0, false } },
	{ b_v6_frag_first, { "v6 first fragment", AF_INET6, 17, SEG_L4_PORTS, 12345, 53, 0, 0, true } },
	{ b_v6_frag_later, { "v6 later fragment", AF_INET6, 17, SEG_L4_FRAGMENT, 0, 0, 0, 0, true } },
	{ b_v6_esp, { "v6 esp", AF_INET6, 50, SEG_L4_NONE, 0, 0, 0, 0, false } },
};

static void check_want(const struct seg_nflog_rec *rec, const struct want *w)
{
	ck_assert_msg(rec->family == w->family, "%s: family", w->name);
	ck_assert_msg(rec->proto == w->proto, "%s: proto %u", w->name, rec->proto);
	ck_assert_msg(rec->l4 == w->l4, "%s: l4 %d", w->name, rec->l4);
	ck_assert_msg(rec->sport == w->sport && rec->dport == w->dport, "%s: ports %u %u", w->name,
		      rec->sport, rec->dport);
	ck_assert_msg(rec->icmp_type == w->itype && rec->icmp_code == w->icode, "%s: icmp", w->name);
	ck_assert_msg(rec->fragment == w->fragment, "%s: fragment", w->name);
}

START_TEST(test_valid)
{
	struct rb r;
	struct seg_nflog_rec rec;
	const struct want *w = &valid_cases[_i].w;

	valid_cases[_i].build(&r);
	enum seg_nflog_status st = decode_exact(r.b, r.n, &rec);
	ck_assert_msg(st == (w->l4 == SEG_L4_TRUNCATED ? SEG_NFLOG_TRUNCATED_L4 : SEG_NFLOG_OK),
		      "%s: %s", w->name, seg_nflog_status_name(st));
	check_want(&rec, w);
	ck_assert(rec.has_seq && rec.seq == 5);
	ck_assert(rec.has_time && rec.time_us == 1764158400250000LL);
	ck_assert_uint_eq(rec.in_ifindex, 3);
	ck_assert_uint_eq(rec.out_ifindex, 4);
	ck_assert_uint_eq(rec.group, 7);
	ck_assert(rec.has_hdr && rec.hw_protocol == 0x0800 && rec.hook == 2);
	char a[64];
	inet_ntop(rec.family, rec.src, a, sizeof(a));
	ck_assert_str_eq(a, rec.family == AF_INET ? "10.10.0.2" : "fd00:10::2");
}
END_TEST

/* ---- prefixes ------------------------------------------------------------ */

static const struct {
	const char *prefix;
	enum seg_nflog_status want;
	enum seg_nflog_event ev;
	const char *from, *to;
} prefix_cases[] = {
	{ "segd D mynumber internet", SEG_NFLOG_OK, SEG_NFLOG_DENIED, "mynumber", "internet" },
	{ "segd M mynumber cloud", SEG_NFLOG_OK, SEG_NFLOG_GUARD, "mynumber", "cloud" },
	{ "segd U - -", SEG_NFLOG_OK, SEG_NFLOG_UNZONED, "", "" },
	{ "segd S lgwan -", SEG_NFLOG_OK, SEG_NFLOG_SPOOFED, "lgwan", "" },
	{ "segd S lgwan internet", SEG_NFLOG_OK, SEG_NFLOG_SPOOFED, "lgwan", "internet" },
	{ "segd G lgwan -", SEG_NFLOG_OK, SEG_NFLOG_TO_GATEWAY, "lgwan", "" },
	{ "segd D a-1 b_2", SEG_NFLOG_OK, SEG_NFLOG_DENIED, "a-1", "b_2" },
	{ "segd D mynumber", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D mynumber internet x", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D mynumber internet ", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D  mynumber internet", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd DD a b", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd d a b", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D Mynumber b", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D a;rm b", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd D - internet", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd G - -", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd ", SEG_NFLOG_MALFORMED_PREFIX, 0, NULL, NULL },
	{ "segd", SEG_NFLOG_FOREIGN_PREFIX, 0, NULL, NULL },
	{ "IN=eth0 ", SEG_NFLOG_FOREIGN_PREFIX, 0, NULL, NULL },
};

START_TEST(test_prefix)
{
	struct seg_nflog_rec rec;

	memset(&rec, 0, sizeof(rec));
	enum seg_nflog_status st = seg_nflog_parse_prefix(prefix_cases[_i].prefix, &rec);
	ck_assert_msg(st == prefix_cases[_i].want, "'%s': %s", prefix_cases[_i].prefix,
		      seg_nflog_status_name(st));
	if (st != SEG_NFLOG_OK)
		return;
	ck_assert_int_eq(rec.event, prefix_cases[_i].ev);
	ck_assert_str_eq(rec.from, prefix_cases[_i].from);
	ck_assert_str_eq(rec.to, prefix_cases[_i].to);
}
END_TEST

/* ---- records captured from libpcap -------------------------------------- */

static const struct {
	const char *file;
	struct want w;
	uint32_t seq;
} fixtures[] = {
	{ "fwd-v4-tcp-syn.bin", { "v4 tcp syn", AF_INET, 6, SEG_L4_PORTS, 49644, 443, 0, 0, false }, 0 },
	{ "fwd-v6-udp.bin", { "v6 udp", AF_INET6, 17, SEG_L4_PORTS, 0, 53, 0, 0, false }, 1 },
	{ "fwd-v4-sctp.bin", { "v4 sctp", AF_INET, 132, SEG_L4_PORTS, 0, 0, 0, 0, false }, 2 },
	{ "fwd-v4-udp-frag1.bin", { "v4 frag 1", AF_INET, 17, SEG_L4_PORTS, 0, 5000, 0, 0, true }, 3 },
	{ "fwd-v4-udp-frag2.bin", { "v4 frag 2", AF_INET, 17, SEG_L4_FRAGMENT, 0, 0, 0, 0, true }, 4 },
	{ "fwd-v4-udp-frag3.bin", { "v4 frag 3", AF_INET, 17, SEG_L4_FRAGMENT, 0, 0, 0, 0, true }, 5 },
	{ "fwd-v6-udp-frag1.bin", { "v6 frag 1", AF_INET6, 17, SEG_L4_PORTS, 0, 5001, 0, 0, true }, 6 },
	{ "fwd-v6-udp-frag2.bin", { "v6 frag 2", AF_INET6, 17, SEG_L4_FRAGMENT, 0, 0, 0, 0, true }, 7 },
	{ "fwd-v6-udp-frag3.bin", { "v6 frag 3", AF_INET6, 17, SEG_L4_FRAGMENT, 0, 0, 0, 0, true }, 8 },
	{ "fwd-v4-icmp-echo.bin", { "v4 echo", AF_INET, 1, SEG_L4_ICMP, 0, 0, 8, 0, false }, 9 },
	{ "fwd-v6-icmpv6-echo.bin", { "v6 echo", AF_INET6, 58, SEG_L4_ICMP, 0, 0, 128, 0, false }, 10 },
};

static size_t load(const char *file, uint8_t **ret)
{
	char path[256];
	snprintf(path, sizeof(path), "tests/nflog/%s", file);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (run from the top of the tree)", path);
	uint8_t *b = malloc(65536);
	size_t n = fread(b, 1, 65536, f);
	fclose(f);
	*ret = b;
	return n;
}

START_TEST(test_fixture)
{
	uint8_t *b;
	size_t n = load(fixtures[_i].file, &b);
	struct seg_nflog_rec rec;
	struct want w = fixtures[_i].w;

	enum seg_nflog_status st = decode_exact(b, n, &rec);
	ck_assert_msg(st == SEG_NFLOG_OK, "%s: %s", fixtures[_i].file, seg_nflog_status_name(st));
	if (w.sport == 0 && w.l4 == SEG_L4_PORTS && w.proto != 132)
		w.sport = rec.sport;   /* an ephemeral port: any */
	check_want(&rec, &w);
	ck_assert_int_eq(rec.event, SEG_NFLOG_DENIED);
	ck_assert_str_eq(rec.from, "mynumber");
	ck_assert_str_eq(rec.to, "internet");
	ck_assert(rec.has_seq);
	ck_assert_uint_eq(rec.seq, fixtures[_i].seq);
	ck_assert(rec.has_time && rec.in_ifindex && rec.out_ifindex);
	ck_assert_uint_eq(rec.group, 7);
	free(b);
}
END_TEST

/* Every prefix of every captured record, and every single-byte change of
 * its first 160 bytes: never a crash, never an overread (ASan), and a
 * usable status always comes with an address family. */
START_TEST(test_hostile)
{
	uint8_t *b;
	size_t n = load(fixtures[_i].file, &b);
	struct seg_nflog_rec rec;

	for (size_t len = 0; len <= n; len++) {
		enum seg_nflog_status st = decode_exact(b, len, &rec);
		ck_assert(!seg_nflog_usable(st) || rec.family == AF_INET || rec.family == AF_INET6);
	}
	static const uint8_t vals[] = { 0x00, 0x01, 0x03, 0x04, 0x7f, 0x80, 0xff };
	for (size_t i = 0; i < n && i < 160; i++) {
		uint8_t keep = b[i];
		for (size_t v = 0; v < sizeof(vals); v++) {
			b[i] = vals[v];
			enum seg_nflog_status st = decode_exact(b, n, &rec);
			ck_assert(!seg_nflog_usable(st) || rec.family == AF_INET || rec.family == AF_INET6);
			ck_assert((unsigned)st < SEG_NFLOG_STATUS_COUNT);
		}
		b[i] = keep;
	}
	free(b);
}
END_TEST

START_TEST(test_config_msg)
{
	uint8_t buf[128];
	struct seg_nflog_config c = { .qthresh = 1 };
	int n = seg_nflog_build_config(7, &c, 42, buf, sizeof(buf));

	ck_assert_int_eq(n, 16 + 4 + 8 + 8);
	struct nlmsghdr h;
	memcpy(&h, buf, sizeof(h));
	ck_assert_uint_eq(h.nlmsg_len, (unsigned)n);
	ck_assert_uint_eq(h.nlmsg_type, (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG);
	ck_assert_uint_eq(h.nlmsg_seq, 42);
	ck_assert_uint_eq(buf[16 + 2] << 8 | buf[16 + 3], 7);           /* res_id = group */
	uint16_t alen, atype;
	memcpy(&alen, buf + 20, 2);
	memcpy(&atype, buf + 22, 2);
	ck_assert_uint_eq(alen, 6);
	ck_assert_uint_eq(atype, NFULA_CFG_FLAGS);
	ck_assert_uint_eq(buf[24] << 8 | buf[25], NFULNL_CFG_F_SEQ);
	memcpy(&atype, buf + 30, 2);
	ck_assert_uint_eq(atype, NFULA_CFG_QTHRESH);
	ck_assert_uint_eq(buf[35], 1);
	ck_assert_int_eq(seg_nflog_build_config(7, NULL, 1, buf, 20), -ENOBUFS);
	ck_assert_int_eq(seg_nflog_build_config(7, NULL, 1, buf, sizeof(buf)), 28);
}
END_TEST

START_TEST(test_names)
{
	for (int i = 0; i < SEG_NFLOG_STATUS_COUNT; i++)
		ck_assert_msg(seg_nflog_status_name((enum seg_nflog_status)i) != NULL, "status %d", i);
	ck_assert_str_eq(seg_nflog_status_name(SEG_NFLOG_STATUS_COUNT), "unknown");
	for (int i = 0; i < SEG_NFLOG_EVENT_COUNT; i++) {
		enum seg_nflog_event ev;
		ck_assert_int_eq(seg_nflog_event_parse(seg_nflog_event_letter((enum seg_nflog_event)i), &ev), 0);
		ck_assert_int_eq(ev, i);
	}
	ck_assert_str_eq(seg_nflog_proto_name(58), "icmpv6");
	ck_assert_ptr_null(seg_nflog_proto_name(253));
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *nflog_suite(void)
{
	Suite *s = suite_create("nflog");
	TCase *tc = tcase_create("decode");

	tcase_add_loop_test(tc, test_status, 0, N(status_cases));
	tcase_add_loop_test(tc, test_valid, 0, N(valid_cases));
	tcase_add_loop_test(tc, test_prefix, 0, N(prefix_cases));
	tcase_add_loop_test(tc, test_fixture, 0, N(fixtures));
	tcase_add_loop_test(tc, test_hostile, 0, N(fixtures));
	tcase_add_test(tc, test_config_msg);
	tcase_add_test(tc, test_names);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
