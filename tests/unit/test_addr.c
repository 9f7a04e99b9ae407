/* test_addr.c - the value parsers and printers of lib/addr.c, table-driven:
 * prefixes, addresses, services, dates, interface and zone names, prefix
 * relations and formatting round trips. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "suites.h"

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

/* ---- prefixes ---- */

static const struct {
	const char *in;
	int family;           /* 0: must fail */
	int len;
	const char *out;      /* formatted, or a substring of the explanation */
} prefixes[] = {
	{ "10.0.0.0/24", AF_INET, 24, "10.0.0.0/24" },
	{ "10.0.0.5", AF_INET, 32, "10.0.0.5" },
	{ "10.0.0.5/32", AF_INET, 32, "10.0.0.5" },
	{ "0.0.0.0/0", AF_INET, 0, "0.0.0.0/0" },
	{ "192.168.128.0/17", AF_INET, 17, "192.168.128.0/17" },
	{ "255.255.255.255", AF_INET, 32, "255.255.255.255" },
	{ "10.0.0.0/8", AF_INET, 8, "10.0.0.0/8" },
	{ "fd00::/64", AF_INET6, 64, "fd00::/64" },
	{ "fd00::5", AF_INET6, 128, "fd00::5" },
	{ "FD00:0:0::/48", AF_INET6, 48, "fd00::/48" },
	{ "::/0", AF_INET6, 0, "::/0" },
	{ "2001:db8:113::10/128", AF_INET6, 128, "2001:db8:113::10" },
	{ "fd00:20::1:0/112", AF_INET6, 112, "fd00:20::1:0/112" },
	{ "fe80::/10", AF_INET6, 10, "fe80::/10" },
	{ "::ffff:10.0.0.1", AF_INET6, 128, "::ffff:10.0.0.1" },
	{ "10.0.0.1/24", 0, 0, "bits set beyond the prefix length" },
	{ "10.0.0.128/24", 0, 0, "bits set beyond the prefix length" },
	{ "10.0.0.0/33", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/-1", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/024", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/ 24", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/24 ", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/2a", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/24/8", 0, 0, "prefix length must be 0-32" },
	{ "10.0.0.0/99999999999999999999", 0, 0, "prefix length must be 0-32" },
	{ "fd00::/129", 0, 0, "prefix length must be 0-128" },
	{ "fd00::1/64", 0, 0, "bits set beyond the prefix length" },
	{ "fd00::/0", 0, 0, "bits set beyond the prefix length" },
	{ "", 0, 0, "not an address or prefix" },
	{ "/24", 0, 0, "not an address or prefix" },
	{ "10.0.0", 0, 0, "not an address or prefix" },
	{ "10.0.0.0.0/8", 0, 0, "not an address or prefix" },
	{ "010.0.0.0/8", 0, 0, "not an address or prefix" },
	{ "10.0.0.256", 0, 0, "not an address or prefix" },
	{ " 10.0.0.0/8", 0, 0, "not an address or prefix" },
	{ "lgwan", 0, 0, "not an address or prefix" },
	{ "fd00:::1", 0, 0, "not an address or prefix" },
	{ "fd00::g", 0, 0, "not an address or prefix" },
	{ "10.0.0.0-10.0.0.255", 0, 0, "not an address or prefix" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/8",
	  0, 0, "not an address or prefix" },
};

START_TEST(test_prefix_parse)
{
	struct seg_prefix p;
	const char *why = NULL;
	char buf[64];
	int r = seg_prefix_parse(prefixes[_i].in, &p, &why);

	if (!prefixes[_i].family) {
		ck_assert_msg(r == -EINVAL, "'%s' parsed, but must be refused", prefixes[_i].in);
		ck_assert_ptr_nonnull(why);
		ck_assert_msg(strstr(why, prefixes[_i].out), "'%s': explanation '%s' lacks '%s'",
			      prefixes[_i].in, why, prefixes[_i].out);
		ck_assert_msg(strstr(why, " — "), "'%s': explanation '%s' does not say what to do",
			      prefixes[_i].in, why);
		return;
	}
	ck_assert_msg(r == 0, "'%s' refused: %s", prefixes[_i].in, r ? why : "");
	ck_assert_int_eq(p.family, prefixes[_i].family);
	ck_assert_int_eq(p.len, prefixes[_i].len);
	seg_prefix_format(&p, buf, sizeof(buf));
	ck_assert_str_eq(buf, prefixes[_i].out);

	/* the printed form reads back as the same prefix */
	struct seg_prefix q;
	ck_assert_int_eq(seg_prefix_parse(buf, &q, &why), 0);
	ck_assert_int_eq(q.family, p.family);
	ck_assert_int_eq(q.len, p.len);
	ck_assert_mem_eq(q.addr, p.addr, 16);
}
END_TEST

START_TEST(test_addr_parse)
{
	static const struct { const char *in; int family; } t[] = {
		{ "10.10.0.5", AF_INET }, { "fd00:10::5", AF_INET6 }, { "::", AF_INET6 },
		{ "10.10.0.0/24", 0 }, { "10.10.0", 0 }, { "", 0 }, { "fd00::/64", 0 }, { "host", 0 },
	};
	for (int i = 0; i < N(t); i++) {
		int family = -1;
		uint8_t a[16];
		const char *why = NULL;
		int r = seg_addr_parse(t[i].in, &family, a, &why);
		if (t[i].family) {
			ck_assert_msg(r == 0 && family == t[i].family, "'%s' not parsed as family %d", t[i].in,
				      t[i].family);
			char buf[INET6_ADDRSTRLEN];
			seg_addr_format(family, a, buf, sizeof(buf));
			ck_assert_str_eq(buf, t[i].in);
		} else {
			ck_assert_msg(r == -EINVAL && why, "'%s' must be refused", t[i].in);
		}
	}
}
END_TEST

/* A buffer too small for the text: truncated, terminated, never overrun (ASan). */
START_TEST(test_format_small_buffers)
{
	struct seg_prefix p;
	struct seg_service s;
	const char *why;
	char buf[4];

	ck_assert_int_eq(seg_prefix_parse("2001:db8:113::/48", &p, &why), 0);
	seg_prefix_format(&p, buf, sizeof(buf));
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
	ck_assert_int_eq(seg_service_parse("udp/1000-2000", &s, &why), 0);
	seg_service_format(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, "udp");
	seg_addr_format(AF_INET6, p.addr, buf, sizeof(buf));
	ck_assert_uint_lt(strlen(buf), sizeof(buf));
}
END_TEST

/* ---- prefix relations ---- */

static const struct {
	const char *a, *b;
	bool a_has_b, b_has_a, overlap;
} relations[] = {
	{ "10.0.0.0/8", "10.1.0.0/16", true, false, true },
	{ "10.0.0.0/24", "10.0.1.0/24", false, false, false },
	{ "10.0.0.0/25", "10.0.0.128/25", false, false, false },
	{ "10.0.0.0/31", "10.0.0.1", true, false, true },
	{ "10.0.0.5", "10.0.0.5", true, true, true },
	{ "10.0.0.5", "10.0.0.6", false, false, false },
	{ "0.0.0.0/0", "192.168.1.1", true, false, true },
	{ "0.0.0.0/0", "0.0.0.0/0", true, true, true },
	{ "10.0.0.0/9", "10.127.0.0/16", true, false, true },
	{ "10.0.0.0/9", "10.128.0.0/16", false, false, false },
	{ "::/0", "10.0.0.1", false, false, false },
	{ "0.0.0.0/0", "::1", false, false, false },
	{ "::ffff:10.0.0.0/104", "10.0.0.1", false, false, false },
	{ "fd00::/64", "fd00::1", true, false, true },
	{ "fd00::/64", "fd00:0:0:1::/64", false, false, false },
	{ "fc00::/7", "fdff::/16", true, false, true },
	{ "fc00::/8", "fd00::/8", false, false, false },
	{ "fd00:20::/100", "fd00:20::fff:ffff", true, false, true },
	{ "fd00:20::/100", "fd00:20::1000:0", false, false, false },
};

START_TEST(test_prefix_relations)
{
	struct seg_prefix a, b;
	const char *why;

	ck_assert_int_eq(seg_prefix_parse(relations[_i].a, &a, &why), 0);
	ck_assert_int_eq(seg_prefix_parse(relations[_i].b, &b, &why), 0);
	ck_assert_msg(seg_prefix_contains(&a, &b) == relations[_i].a_has_b, "contains(%s, %s)",
		      relations[_i].a, relations[_i].b);
	ck_assert_msg(seg_prefix_contains(&b, &a) == relations[_i].b_has_a, "contains(%s, %s)",
		      relations[_i].b, relations[_i].a);
	ck_assert_msg(seg_prefix_overlaps(&a, &b) == relations[_i].overlap, "overlaps(%s, %s)",
		      relations[_i].a, relations[_i].b);
	ck_assert(seg_prefix_overlaps(&b, &a) == relations[_i].overlap);
	/* a prefix holds its own network address; for hosts, has == contains */
	ck_assert(seg_prefix_has(&a, a.family, a.addr));
	if (b.len == (b.family == AF_INET ? 32 : 128))
		ck_assert(seg_prefix_has(&a, b.family, b.addr) == relations[_i].a_has_b);
}
END_TEST

/* ---- services ---- */

static const struct {
	const char *in;
	int ok;
	enum seg_proto proto;
	unsigned lo, hi;
	const char *out;      /* formatted, or a substring of the explanation */
} services[] = {
	{ "tcp/443", 1, SEG_PROTO_TCP, 443, 443, "tcp/443" },
	{ "udp/53", 1, SEG_PROTO_UDP, 53, 53, "udp/53" },
	{ "tcp/1", 1, SEG_PROTO_TCP, 1, 1, "tcp/1" },
	{ "tcp/65535", 1, SEG_PROTO_TCP, 65535, 65535, "tcp/65535" },
	{ "tcp/1-65535", 1, SEG_PROTO_TCP, 1, 65535, "tcp/1-65535" },
	{ "udp/1000-2000", 1, SEG_PROTO_UDP, 1000, 2000, "udp/1000-2000" },
	{ "tcp/80-80", 1, SEG_PROTO_TCP, 80, 80, "tcp/80" },
	{ "tcp/0443", 1, SEG_PROTO_TCP, 443, 443, "tcp/443" },
	{ "icmp", 1, SEG_PROTO_ICMP, 0, 0, "icmp" },
	{ "icmpv6", 1, SEG_PROTO_ICMPV6, 0, 0, "icmpv6" },
	{ "icmp/echo-request", 1, SEG_PROTO_ICMP, 0, 0, "icmp/echo-request" },
	{ "icmp/timestamp-request", 1, SEG_PROTO_ICMP, 0, 0, "icmp/timestamp-request" },
	{ "icmpv6/echo-request", 1, SEG_PROTO_ICMPV6, 0, 0, "icmpv6/echo-request" },
	{ "any", 1, SEG_PROTO_ANY, 0, 0, "any" },
	{ "tcp/0", 0, 0, 0, 0, "port out of range" },
	{ "udp/65536", 0, 0, 0, 0, "port out of range" },
	{ "tcp/70000", 0, 0, 0, 0, "port out of range" },
	{ "tcp/0-10", 0, 0, 0, 0, "port out of range" },
	{ "tcp/10-99999", 0, 0, 0, 0, "port out of range" },
	{ "tcp/123456", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/2000-1000", 0, 0, 0, 0, "port range is reversed" },
	{ "tcp", 0, 0, 0, 0, "needs a port" },
	{ "udp", 0, 0, 0, 0, "needs a port" },
	{ "tcp/", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/-5", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/5-", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/1-2-3", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/+5", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/ 5", 0, 0, 0, 0, "port must be a number" },
	{ "tcp/https", 0, 0, 0, 0, "port must be a number" },
	{ "TCP/5", 0, 0, 0, 0, "unknown service" },
	{ "icmp/8", 0, 0, 0, 0, "unknown ICMP type" },
	{ "icmp/echo-reply", 0, 0, 0, 0, "unknown ICMP type" },
	{ "icmpv6/timestamp-request", 0, 0, 0, 0, "unknown ICMPv6 type" },
	{ "sctp/5", 0, 0, 0, 0, "unknown service" },
	{ "https", 0, 0, 0, 0, "unknown service" },
	{ "any ", 0, 0, 0, 0, "unknown service" },
	{ "", 0, 0, 0, 0, "unknown service" },
};

START_TEST(test_service_parse)
{
	struct seg_service s;
	const char *why = NULL;
	char buf[32];
	int r = seg_service_parse(services[_i].in, &s, &why);

	if (!services[_i].ok) {
		ck_assert_msg(r == -EINVAL, "'%s' parsed, but must be refused", services[_i].in);
		ck_assert_msg(why && strstr(why, services[_i].out), "'%s': explanation '%s' lacks '%s'",
			      services[_i].in, why ? why : "(none)", services[_i].out);
		ck_assert_msg(strstr(why, " — "), "'%s': '%s' does not say what to do", services[_i].in, why);
		return;
	}
	ck_assert_msg(r == 0, "'%s' refused: %s", services[_i].in, r ? why : "");
	ck_assert_int_eq(s.proto, services[_i].proto);
	ck_assert_uint_eq(s.port_lo, services[_i].lo);
	ck_assert_uint_eq(s.port_hi, services[_i].hi);
	seg_service_format(&s, buf, sizeof(buf));
	ck_assert_str_eq(buf, services[_i].out);
	struct seg_service t;
	ck_assert_int_eq(seg_service_parse(buf, &t, &why), 0);
	ck_assert(t.proto == s.proto && t.port_lo == s.port_lo && t.port_hi == s.port_hi);
	ck_assert(t.typed == s.typed && t.icmp_type == s.icmp_type && t.icmp_reply == s.icmp_reply);
	ck_assert(s.typed == (strchr(services[_i].in, '/') && s.proto >= SEG_PROTO_ICMP));
}
END_TEST

START_TEST(test_proto_numbers)
{
	ck_assert_int_eq(seg_proto_ipproto(SEG_PROTO_TCP), IPPROTO_TCP);
	ck_assert_int_eq(seg_proto_ipproto(SEG_PROTO_UDP), IPPROTO_UDP);
	ck_assert_int_eq(seg_proto_ipproto(SEG_PROTO_ICMP), IPPROTO_ICMP);
	ck_assert_int_eq(seg_proto_ipproto(SEG_PROTO_ICMPV6), IPPROTO_ICMPV6);
	ck_assert_int_eq(seg_proto_ipproto(SEG_PROTO_ANY), -1);
	ck_assert_int_eq(seg_proto_ipproto(SEG_PROTO_COUNT), -1);
	ck_assert_str_eq(seg_proto_name(SEG_PROTO_ICMPV6), "icmpv6");
	ck_assert_str_eq(seg_proto_name(SEG_PROTO_COUNT), "?");
}
END_TEST

/* ---- dates ---- */

static const struct {
	const char *in;
	int64_t day;          /* days since 1970-01-01; -1: must fail */
	const char *why;
} dates[] = {
	{ "2000-01-01", 10957, NULL },
	{ "2026-11-26", 20783, NULL },
	{ "2027-03-31", 20908, NULL },
	{ "2024-02-29", 19782, NULL },      /* leap year */
	{ "2000-02-29", 11016, NULL },      /* divisible by 400: leap */
	{ "2400-02-29", 157113, NULL },
	{ "2999-12-31", 376199, NULL },
	{ "2023-02-29", -1, "no such date" },
	{ "2100-02-29", -1, "no such date" }, /* divisible by 100: common */
	{ "2027-02-30", -1, "no such date" },
	{ "2027-04-31", -1, "no such date" },
	{ "2027-13-01", -1, "no such date" },
	{ "2027-00-10", -1, "no such date" },
	{ "2027-01-00", -1, "no such date" },
	{ "1999-12-31", -1, "no such date" },
	{ "3000-01-01", -1, "no such date" },
	{ "27-03-31", -1, "not a date" },
	{ "2027-3-31", -1, "not a date" },
	{ "2027/03/31", -1, "not a date" },
	{ "2027-03-31x", -1, "not a date" },
	{ "2027-03-3x", -1, "not a date" },
	{ " 2027-3-31", -1, "not a date" },
	{ "2027-+3-31", -1, "not a date" },
	{ "2027-03-+1", -1, "not a date" },
	{ "2027-1-031", -1, "not a date" },
	{ "R9-03-31", -1, "not a date" },
	{ "", -1, "not a date" },
};

START_TEST(test_date_parse)
{
	int64_t day = 12345;
	const char *why = NULL;
	int r = seg_date_parse(dates[_i].in, &day, &why);

	if (dates[_i].day < 0) {
		ck_assert_msg(r == -EINVAL, "'%s' parsed as day %lld, but must be refused", dates[_i].in,
			      (long long)day);
		ck_assert_msg(strstr(why, dates[_i].why), "'%s': '%s' lacks '%s'", dates[_i].in, why, dates[_i].why);
		ck_assert_msg(strstr(why, " — "), "'%s': '%s' does not say what to do", dates[_i].in, why);
		ck_assert_int_eq(day, 12345); /* ret_ untouched on failure */
		return;
	}
	ck_assert_msg(r == 0, "'%s' refused: %s", dates[_i].in, r ? why : "");
	ck_assert_msg(day == dates[_i].day, "'%s' = day %lld, expected %lld", dates[_i].in, (long long)day,
		      (long long)dates[_i].day);
}
END_TEST

START_TEST(test_date_consecutive)
{
	static const char *const pairs[][2] = {
		{ "2027-02-28", "2027-03-01" }, { "2028-02-29", "2028-03-01" }, { "2026-12-31", "2027-01-01" },
		{ "2099-12-31", "2100-01-01" }, { "2100-02-28", "2100-03-01" },
	};
	for (int i = 0; i < N(pairs); i++) {
		int64_t a, b;
		const char *why;
		ck_assert_int_eq(seg_date_parse(pairs[i][0], &a, &why), 0);
		ck_assert_int_eq(seg_date_parse(pairs[i][1], &b, &why), 0);
		ck_assert_msg(b - a == 1, "%s -> %s is %lld days", pairs[i][0], pairs[i][1], (long long)(b - a));
	}
}
END_TEST

/* Text for a medium: nothing that drives a terminal or forges a report. */
START_TEST(test_put_text)
{
	static const char in[] = "A\x1b[2J\xe2\x80\xae" "B<&>\"'\xe6\x97\xa5\xc2\x9b\xff" "C";
	static const struct { enum seg_medium m; const char *want; } t[] = {
		{ SEG_MEDIUM_TERMINAL, "A?[2J?B<&>\"'\xe6\x97\xa5??C" },
		{ SEG_MEDIUM_HTML, "A?[2J?B&lt;&amp;&gt;&quot;&#39;\xe6\x97\xa5??C" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		seg_put_text(f, in, t[i].m);
		fclose(f);
		ck_assert_str_eq(buf, t[i].want);
		free(buf);
	}
}
END_TEST

START_TEST(test_today)
{
	const char *old = getenv("SEGD_TODAY");
	char *saved = old ? strdup(old) : NULL;

	/* the clock decides, never the environment: SEGD_TODAY once moved the
	 * date of the production binaries (issue 12); the negative control is
	 * a date far from the clock */
	setenv("SEGD_TODAY", "2001-01-01", 1);
	setenv("TZ", "UTC", 1);    /* nor the time zone: JST is fixed */
	int64_t now = (int64_t)((time(NULL) + 9 * 3600) / 86400);
	int64_t t = seg_today();
	ck_assert_msg(t == now || t == now + 1, "seg_today() = %lld, clock says %lld", (long long)t, (long long)now);
	ck_assert_int_ne(t, 11323);   /* 2001-01-01 */
	unsetenv("TZ");
	/* an approval of 2027-03-31 ends at midnight JST = 15:00 UTC that day */
	int64_t d31, d01;
	ck_assert_int_eq(seg_date_parse("2027-03-31", &d31, NULL), 0);
	ck_assert_int_eq(seg_date_parse("2027-04-01", &d01, NULL), 0);
	int64_t t1500 = d31 * 86400 + 15 * 3600;   /* 2027-03-31T15:00:00Z */
	ck_assert_int_eq(seg_day_of(t1500 - 1), d31);
	ck_assert_int_eq(seg_day_of(t1500), d01);
	ck_assert_int_eq(seg_day_of(d31 * 86400), d31);        /* 09:00 JST */
	ck_assert_int_eq(seg_day_of(-1), 0);    /* 1969-12-31T23:59:59Z is 08:59:59 JST on 1970-01-01 */
	if (saved)
		setenv("SEGD_TODAY", saved, 1);
	else
		unsetenv("SEGD_TODAY");
	free(saved);
}
END_TEST

/* ---- names ---- */

static const struct {
	const char *in;
	bool ok;
} ifnames[] = {
	{ "eth0", true }, { "a", true }, { "abcdefghijklmno", true }, { "eth0.100", true },
	{ "br-lan", true }, { "gw-ext", true }, { "veth@x", true }, { "...", true }, { "wg0", true },
	{ "", false }, { "abcdefghijklmnop", false }, { ".", false }, { "..", false }, { "eth/0", false },
	{ "eth:0", false }, { "eth 0", false }, { "eth\t0", false }, { "eth\n", false }, { "a\"b", false },
	{ "a\\b", false }, { "eth*", false }, { "eth\x7f", false },
};

START_TEST(test_ifname_valid)
{
	const char *why = NULL;
	bool ok = seg_ifname_valid(ifnames[_i].in, &why);

	ck_assert_msg(ok == ifnames[_i].ok, "interface name '%s' %s", ifnames[_i].in,
		      ok ? "accepted, but Linux or segd refuses it" : "refused, but it is valid");
	if (!ok)
		ck_assert_msg(why && strstr(why, " — "), "'%s': no explanation with what to do", ifnames[_i].in);
}
END_TEST

static const struct {
	const char *in;
	bool ok;
} names[] = {
	{ "a", true }, { "lgwan", true }, { "lgwan-2", true }, { "a_b", true }, { "z9", true },
	{ "accept", true }, { "table", true }, { "abcdefghijklmnopqrstuvwxyz01234", true },
	{ "", false }, { "abcdefghijklmnopqrstuvwxyz012345", false }, { "Lgwan", false }, { "1lgwan", false },
	{ "-lgwan", false }, { "_x", false }, { "lg.wan", false }, { "lg wan", false }, { "lgwan!", false },
	{ "lgwan/2", false }, { "\xef\xbd\x8c\xef\xbd\x87", false }, { "zone\"x", false },
};

START_TEST(test_name_valid)
{
	const char *why = NULL;
	bool ok = seg_name_valid(names[_i].in, &why);

	ck_assert_msg(ok == names[_i].ok, "name '%s' %s", names[_i].in, ok ? "accepted" : "refused");
	if (!ok)
		ck_assert_msg(why && strstr(why, " — "), "'%s': no explanation with what to do", names[_i].in);
}
END_TEST

Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("prefixes");

	tcase_add_loop_test(tc, test_prefix_parse, 0, N(prefixes));
	tcase_add_test(tc, test_addr_parse);
	tcase_add_test(tc, test_format_small_buffers);
	tcase_add_loop_test(tc, test_prefix_relations, 0, N(relations));
	suite_add_tcase(s, tc);

	tc = tcase_create("services");
	tcase_add_loop_test(tc, test_service_parse, 0, N(services));
	tcase_add_test(tc, test_proto_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("dates");
	tcase_add_loop_test(tc, test_date_parse, 0, N(dates));
	tcase_add_test(tc, test_date_consecutive);
	tcase_add_test(tc, test_today);
	tcase_add_test(tc, test_put_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_ifname_valid, 0, N(ifnames));
	tcase_add_loop_test(tc, test_name_valid, 0, N(names));
	suite_add_tcase(s, tc);
	return s;
}
