/* addr.c - parsers and printers for the small values of the configuration
 * and the command line: prefixes, services, dates, interface and zone names. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

int seg_addr_parse(const char *s, int *family, uint8_t addr[16], const char **why)
{
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	*why = "not an IPv4 or IPv6 address";
	return -EINVAL;
}

static int parse_plen(const char *s, int max, uint8_t *ret)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1]))
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > max)
		return -EINVAL;
	*ret = (uint8_t)v;
	return 0;
}

static bool host_bits_zero(const uint8_t *a, unsigned len, unsigned bytes)
{
	for (unsigned bit = len; bit < bytes * 8; bit++)
		if (a[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int seg_prefix_parse(const char *s, struct seg_prefix *out, const char **why)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);

	memset(out, 0, sizeof(*out));
	if (alen == 0 || alen >= sizeof(buf)) {
		*why = "not an address or prefix — write e.g. 10.0.0.0/24 or fd00::/64";
		return -EINVAL;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (seg_addr_parse(buf, &out->family, out->addr, why) < 0) {
		*why = "not an address or prefix — write e.g. 10.0.0.0/24 or fd00::/64";
		return -EINVAL;
	}
	int max = out->family == AF_INET ? 32 : 128;
	out->len = (uint8_t)max;
	if (slash && parse_plen(slash + 1, max, &out->len) < 0) {
		*why = out->family == AF_INET ? "prefix length must be 0-32 — write e.g. 10.0.0.0/24" :
			"prefix length must be 0-128 — write e.g. fd00::/64";
		return -EINVAL;
	}
	if (!host_bits_zero(out->addr, out->len, (unsigned)addr_len(out->family))) {
		*why = "address has bits set beyond the prefix length — write the network address, "
		       "e.g. 10.0.0.0/24, or a host without /LEN";
		return -EINVAL;
	}
	return 0;
}

void seg_addr_format(int family, const uint8_t addr[16], char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)len) && len)
		snprintf(buf, len, "?");
}

void seg_prefix_format(const struct seg_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	seg_addr_format(p->family, p->addr, a, sizeof(a));
	if (p->len == (p->family == AF_INET ? 32 : 128))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, p->len);
}

bool seg_prefix_has(const struct seg_prefix *p, int family, const uint8_t addr[16])
{
	if (p->family != family)
		return false;
	unsigned full = p->len / 8, rest = p->len % 8;
	if (memcmp(p->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (p->addr[full] & mask) == (addr[full] & mask);
}

bool seg_prefix_contains(const struct seg_prefix *outer, const struct seg_prefix *inner)
{
	return outer->family == inner->family && outer->len <= inner->len &&
	       seg_prefix_has(outer, inner->family, inner->addr);
}

bool seg_prefix_overlaps(const struct seg_prefix *a, const struct seg_prefix *b)
{
	return seg_prefix_contains(a, b) || seg_prefix_contains(b, a);
}

/* Address blocks that no host of a segment can be (RFC 6890's registries:
 * "this network", loopback, link-local, multicast, reserved and the limited
 * broadcast; IPv6 unspecified, loopback, link-local and multicast). Routers
 * do not forward link-local addresses, so a conduit to one never matches. */
static const struct special_block {
	int family;
	uint8_t len;
	uint8_t addr[16];
	const char *what;
} special_blocks[] = {
	{ AF_INET, 8, { 0 }, "in 0.0.0.0/8 (\"this network\", never a host)" },
	{ AF_INET, 8, { 127 }, "a loopback address" },
	{ AF_INET, 16, { 169, 254 }, "a link-local address (not forwarded)" },
	{ AF_INET, 4, { 224 }, "a multicast address" },
	{ AF_INET, 4, { 240 }, "reserved or the broadcast address (240.0.0.0/4)" },
	{ AF_INET6, 128, { 0 }, "the unspecified address" },
	{ AF_INET6, 128, { [15] = 1 }, "the loopback address" },
	{ AF_INET6, 10, { 0xfe, 0x80 }, "a link-local address (not forwarded)" },
	{ AF_INET6, 8, { 0xff }, "a multicast address" },
};

const char *seg_prefix_special(const struct seg_prefix *p)
{
	for (size_t i = 0; i < sizeof(special_blocks) / sizeof(special_blocks[0]); i++) {
		const struct special_block *b = &special_blocks[i];
		struct seg_prefix q = { .family = b->family, .len = b->len };
		memcpy(q.addr, b->addr, sizeof(q.addr));
		if (seg_prefix_contains(&q, p))
			return b->what;
	}
	return NULL;
}

static const struct seg_prefix link_scope[] = {
	{ .family = AF_INET, .len = 24, .addr = { 224 } },
	{ .family = AF_INET, .len = 32, .addr = { 255, 255, 255, 255 } },
	{ .family = AF_INET6, .len = 10, .addr = { 0xfe, 0x80 } },
	{ .family = AF_INET6, .len = 16, .addr = { 0xff, 0x02 } },
};

const struct seg_prefix *seg_link_scope(size_t *n)
{
	*n = sizeof(link_scope) / sizeof(link_scope[0]);
	return link_scope;
}

bool seg_addr_link_scope(int family, const uint8_t addr[16])
{
	for (size_t i = 0; i < sizeof(link_scope) / sizeof(link_scope[0]); i++)
		if (seg_prefix_has(&link_scope[i], family, addr))
			return true;
	return false;
}

/* ---- MAC addresses ---- */

int seg_mac_parse(const char *s, uint8_t mac[6], const char **why)
{
	unsigned v[6];
	char sep[5], end;

	if (strlen(s) != 17 || sscanf(s, "%2x%c%2x%c%2x%c%2x%c%2x%c%2x%c", &v[0], &sep[0], &v[1], &sep[1], &v[2],
				     &sep[2], &v[3], &sep[3], &v[4], &sep[4], &v[5], &end) != 11) {
		*why = "the MAC address after '@' is not six hex pairs — write e.g. 10.10.0.5@02:00:5e:00:00:05";
		return -EINVAL;
	}
	for (int i = 0; i < 5; i++)
		if (sep[i] != sep[0] || (sep[i] != ':' && sep[i] != '-')) {
			*why = "the MAC address after '@' is not six hex pairs — write e.g. 10.10.0.5@02:00:5e:00:00:05";
			return -EINVAL;
		}
	for (int i = 0; i < 6; i++) {
		if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1])) {
			*why = "the MAC address after '@' is not six hex pairs — write e.g. 10.10.0.5@02:00:5e:00:00:05";
			return -EINVAL;
		}
		mac[i] = (uint8_t)v[i];
	}
	if ((mac[0] & 1) || !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
		*why = "the MAC address after '@' is a multicast or the zero address — a host's own MAC is unicast; "
		       "copy it from 'ip link' on the host";
		return -EINVAL;
	}
	return 0;
}

void seg_mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

/* ---- services ---- */

static int parse_port(const char *s, size_t n, uint16_t *ret)
{
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -ERANGE;
	*ret = (uint16_t)v;
	return 0;
}

static int parse_port_range(const char *s, struct seg_service *out, const char **why)
{
	const char *dash = strchr(s, '-');
	size_t n1 = dash ? (size_t)(dash - s) : strlen(s);
	int r = parse_port(s, n1, &out->port_lo);

	if (r == 0 && dash)
		r = parse_port(dash + 1, strlen(dash + 1), &out->port_hi);
	else
		out->port_hi = out->port_lo;
	if (r == -ERANGE) {
		*why = "port out of range — use a port from 1 to 65535";
		return -EINVAL;
	}
	if (r < 0) {
		*why = "port must be a number 1-65535 or a range LOW-HIGH — write e.g. tcp/443 or tcp/1000-2000";
		return -EINVAL;
	}
	if (out->port_lo > out->port_hi) {
		*why = "port range is reversed — write LOW-HIGH, e.g. tcp/1000-2000";
		return -EINVAL;
	}
	return 0;
}

/* The ICMP queries a conduit may name, with the type of their answer: an
 * error (unreachable, time exceeded) belongs to a connection and is not a
 * service of its own. */
static const struct icmp_query {
	enum seg_proto proto;
	const char *name;
	uint8_t type, reply;
} icmp_queries[] = {
	{ SEG_PROTO_ICMP, "echo-request", 8, 0 },
	{ SEG_PROTO_ICMP, "timestamp-request", 13, 14 },
	{ SEG_PROTO_ICMPV6, "echo-request", 128, 129 },
};

static int parse_icmp_type(const char *name, struct seg_service *out, const char **why)
{
	for (size_t i = 0; i < sizeof(icmp_queries) / sizeof(icmp_queries[0]); i++)
		if (icmp_queries[i].proto == out->proto && strcmp(icmp_queries[i].name, name) == 0) {
			out->typed = true;
			out->icmp_type = icmp_queries[i].type;
			out->icmp_reply = icmp_queries[i].reply;
			return 0;
		}
	*why = out->proto == SEG_PROTO_ICMP ? "unknown ICMP type — name a query: icmp/echo-request or "
		"icmp/timestamp-request (errors come with their connection)" : "unknown ICMPv6 type — name a "
		"query: icmpv6/echo-request (errors come with their connection)";
	return -EINVAL;
}

int seg_service_parse(const char *s, struct seg_service *out, const char **why)
{
	static const struct { const char *name; enum seg_proto proto; bool ports; } tab[] = {
		{ "tcp/", SEG_PROTO_TCP, true }, { "udp/", SEG_PROTO_UDP, true },
		{ "icmp", SEG_PROTO_ICMP, false }, { "icmpv6", SEG_PROTO_ICMPV6, false },
		{ "any", SEG_PROTO_ANY, false }, { "vrrp", SEG_PROTO_VRRP, false },
	};

	memset(out, 0, sizeof(*out));
	if (strncmp(s, "icmp/", 5) == 0 || strncmp(s, "icmpv6/", 7) == 0) {
		out->proto = s[4] == '/' ? SEG_PROTO_ICMP : SEG_PROTO_ICMPV6;
		return parse_icmp_type(strchr(s, '/') + 1, out, why);
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t n = strlen(tab[i].name);
		if (tab[i].ports && strncmp(s, tab[i].name, n) == 0) {
			out->proto = tab[i].proto;
			return parse_port_range(s + n, out, why);
		}
		if (!tab[i].ports && strcmp(s, tab[i].name) == 0) {
			out->proto = tab[i].proto;
			return 0;
		}
	}
	if (strcmp(s, "tcp") == 0 || strcmp(s, "udp") == 0)
		*why = "needs a port — write tcp/PORT or tcp/LOW-HIGH";
	else
		*why = "unknown service — use tcp/PORT, udp/PORT, tcp/LOW-HIGH, icmp/echo-request, "
		       "icmpv6/echo-request, icmp, icmpv6, vrrp or any";
	return -EINVAL;
}

void seg_service_format(const struct seg_service *s, char *buf, size_t len)
{
	for (size_t i = 0; s->typed && i < sizeof(icmp_queries) / sizeof(icmp_queries[0]); i++)
		if (icmp_queries[i].proto == s->proto && icmp_queries[i].type == s->icmp_type) {
			snprintf(buf, len, "%s/%s", seg_proto_name(s->proto), icmp_queries[i].name);
			return;
		}
	if (s->proto != SEG_PROTO_TCP && s->proto != SEG_PROTO_UDP)
		snprintf(buf, len, "%s", seg_proto_name(s->proto));
	else if (s->port_lo == s->port_hi)
		snprintf(buf, len, "%s/%u", seg_proto_name(s->proto), s->port_lo);
	else
		snprintf(buf, len, "%s/%u-%u", seg_proto_name(s->proto), s->port_lo, s->port_hi);
}

int seg_proto_ipproto(enum seg_proto p)
{
	static const int nums[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, -1, 112 };
	return (unsigned)p < SEG_PROTO_COUNT ? nums[p] : -1;
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int seg_date_parse(const char *s, int64_t *ret_day, const char **why)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	unsigned y, m, d;
	int n = 0;

	if (strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    !isdigit((unsigned char)s[5]) || !isdigit((unsigned char)s[8])) {
		*why = "not a date — write YYYY-MM-DD, e.g. 2027-03-31";
		return -EINVAL;
	}
	if (y < 2000 || y > 2999 || m < 1 || m > 12 ||
	    d < 1 || d > mdays[m - 1] + (m == 2 && leap(y))) {
		*why = "no such date — write a real calendar date YYYY-MM-DD, year 2000-2999";
		return -EINVAL;
	}
	*ret_day = days_from_civil(y, m, d);
	return 0;
}

/* No override from the environment: a variable that moved the date would
 * re-install expired conduits without a word. Tests fake the clock itself
 * (libfaketime). */
int64_t seg_day_of(int64_t t)
{
	int64_t local = t + SEG_APPROVAL_UTC_OFFSET;

	return local >= 0 ? local / 86400 : (local - 86399) / 86400;
}

int64_t seg_today(void)
{
	return seg_day_of((int64_t)time(NULL));
}

/* ---- names ---- */

bool seg_ifname_valid(const char *s, const char **why)
{
	size_t n = strlen(s);

	/* the kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or space */
	if (n == 0 || n >= SEG_IFNAMSIZ) {
		*why = "interface names are 1-15 characters long — use the name 'ip link' shows";
		return false;
	}
	if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
		*why = "'.' and '..' are not interface names — use the name 'ip link' shows";
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p == '/' || *p == ':' || isspace(*p) || *p < 0x20 || *p == 0x7f || *p == '"' ||
		    *p == '\\' || *p == '*') {
			*why = "interface names may not contain '/', ':', spaces, quotes, '*' or control "
			       "characters — use the name 'ip link' shows";
			return false;
		}
	return true;
}

bool seg_ifname_plain(const char *s, const char **why)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* Linux takes these bytes, but a no-break space or a zero-width
		 * character makes a name that looks like another one */
		if (*p >= 0x80) {
			*why = "it has a non-ASCII or invisible character (e.g. a no-break space or a zero-width "
			       "space), so it looks like a name it is not — retype the name 'ip link' shows";
			return false;
		}
		/* nft and iptables read a trailing '+' as a wildcard; segd compares names exactly */
		if (*p == '+') {
			*why = "'+' is a wildcard in nft and iptables, but segd matches interface names exactly — "
			       "list each interface by its full name";
			return false;
		}
	}
	return true;
}

void seg_text_escape(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < len; p++) {
		if (*p < 0x20 || *p >= 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
}

#define NAME_RULE "names are 1-31 characters of a-z, 0-9, '-' and '_', starting with a letter — " \
	"rename it, e.g. \"lgwan-2\""

bool seg_name_valid(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n == 0 || n > SEG_MAX_NAME || !(s[0] >= 'a' && s[0] <= 'z')) {
		*why = NAME_RULE;
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || isdigit((unsigned char)s[i]) ||
		      s[i] == '-' || s[i] == '_')) {
			*why = NAME_RULE;
			return false;
		}
	return true;
}

/* ---- free text (approval, comment) ---- */

/* The next code point of s (advanced), or -1 for a byte that starts no
 * valid UTF-8 sequence (then one byte is skipped). */
static long next_code_point(const unsigned char **s)
{
	const unsigned char *p = *s;
	int n = p[0] < 0x80 ? 0 : (p[0] & 0xe0) == 0xc0 ? 1 : (p[0] & 0xf0) == 0xe0 ? 2 : (p[0] & 0xf8) == 0xf0 ? 3 : -1;
	long c = n == 0 ? p[0] : n == 1 ? p[0] & 0x1f : n == 2 ? p[0] & 0x0f : p[0] & 0x07;

	*s = p + 1;
	if (n < 0)
		return -1;
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (p[i] & 0x3f);
	}
	*s = p + n + 1;
	return c;
}

/* Characters that move or hide text on a terminal or in a report: C0 and C1
 * controls (ANSI escapes start with one), DEL, line and paragraph
 * separators, and the bidirectional overrides that make an approval number
 * read backwards. */
static bool is_forging(long c)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 ||
	       (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e || c == 0x200f ||
	       c == 0x061c;
}

/* Unicode white space and the invisible characters that look like nothing. */
static bool is_blank(long c)
{
	return c == ' ' || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200d) || c == 0x202f ||
	       c == 0x205f || c == 0x2060 || c == 0x3000 || c == 0xfeff;
}

int seg_text_check(const char *s, bool need_content, const char **why)
{
	const unsigned char *p = (const unsigned char *)s;
	bool content = false;

	while (*p) {
		long c = next_code_point(&p);
		if (c < 0) {
			*why = "is not valid UTF-8 — save the file as UTF-8";
			return -EINVAL;
		}
		if (is_forging(c)) {
			*why = "contains a control character (a tab, an escape sequence or a direction override), "
			       "which would be printed into terminals and reports — retype it as plain text";
			return -EINVAL;
		}
		content |= !is_blank(c);
	}
	if (need_content && !content) {
		*why = "is blank (only spaces, full-width spaces or invisible characters) — write the reference "
		       "of its approval, e.g. approval = \"R8-DX-014\";";
		return -EINVAL;
	}
	return 0;
}

void seg_put_text(FILE *f, const char *s, enum seg_medium m)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p) {
		const unsigned char *start = p;
		long c = next_code_point(&p);
		if (c < 0 || is_forging(c)) {      /* never reaches the medium as it is */
			fputc('?', f);
			continue;
		}
		if (m == SEG_MEDIUM_HTML && (c == '&' || c == '<' || c == '>' || c == '"' || c == '\'')) {
			fputs(c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;" : "&#39;", f);
			continue;
		}
		fwrite(start, 1, (size_t)(p - start), f);
	}
}
