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

int seg_service_parse(const char *s, struct seg_service *out, const char **why)
{
	static const struct { const char *name; enum seg_proto proto; bool ports; } tab[] = {
		{ "tcp/", SEG_PROTO_TCP, true }, { "udp/", SEG_PROTO_UDP, true },
		{ "icmp", SEG_PROTO_ICMP, false }, { "icmpv6", SEG_PROTO_ICMPV6, false },
		{ "any", SEG_PROTO_ANY, false },
	};

	memset(out, 0, sizeof(*out));
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
		*why = "unknown service — use tcp/PORT, udp/PORT, tcp/LOW-HIGH, icmp, icmpv6 or any";
	return -EINVAL;
}

void seg_service_format(const struct seg_service *s, char *buf, size_t len)
{
	if (s->proto != SEG_PROTO_TCP && s->proto != SEG_PROTO_UDP)
		snprintf(buf, len, "%s", seg_proto_name(s->proto));
	else if (s->port_lo == s->port_hi)
		snprintf(buf, len, "%s/%u", seg_proto_name(s->proto), s->port_lo);
	else
		snprintf(buf, len, "%s/%u-%u", seg_proto_name(s->proto), s->port_lo, s->port_hi);
}

int seg_proto_ipproto(enum seg_proto p)
{
	static const int nums[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6, -1 };
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

int64_t seg_today(void)
{
	const char *fake = getenv("SEGD_TODAY"); /* tests pin the date: YYYY-MM-DD */
	int64_t day;
	const char *why;

	if (fake && seg_date_parse(fake, &day, &why) == 0)
		return day;
	return (int64_t)(time(NULL) / 86400);
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
