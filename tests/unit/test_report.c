/* test_report.c - the self-inspection report's collection (lib/report.c):
 * the zone matrix and conduit rows of a configuration (expiry, isolation,
 * guard), incidents per pair with their top sources, the per-day buckets in
 * local time, the whole collection from a spool and a state directory
 * without the kernel, and the section table (every part names its clauses).
 * lib/trace.c's event decoder is tested with crafted NFT_MSG_TRACE messages. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include "config.h"
#include "report.h"
#include "suites.h"
#include "trace.h"

#define DAY_US (86400LL * 1000000)
#define TODAY  20418                 /* 2025-11-26 */
#define T0     (TODAY * DAY_US + 12LL * 3600 * 1000000)   /* 12:00 UTC that day */

static const char conf[] =
	"version = 1;\n"
	"settings = { table = \"segd\"; spool = \"/nonexistent/x.jsonl\"; };\n"
	"zones = (\n"
	" { name = \"my\"; kind = \"mynumber\"; interfaces = [\"a\"]; networks = [\"10.10.0.0/24\"]; },\n"
	" { name = \"lg\"; kind = \"lgwan\"; interfaces = [\"b\"]; networks = [\"10.20.0.0/24\"]; },\n"
	" { name = \"in\"; kind = \"internet\"; interfaces = [\"c\"]; networks = [\"10.30.0.0/24\"]; },\n"
	" { name = \"lg2\"; kind = \"lgwan\"; interfaces = [\"d\"]; networks = [\"10.40.0.0/24\"]; }\n"
	");\n"
	"conduits = (\n"
	" { name = \"mid\"; kind = \"specific\"; from = \"my\"; to = \"lg\"; sources = [\"10.10.0.5\"];\n"
	"   destinations = [\"10.20.0.50\"]; services = [\"tcp/443\"]; approval = \"A-1\"; expires = \"2026-03-31\"; },\n"
	" { name = \"soon\"; kind = \"sanitize\"; from = \"in\"; to = \"lg\"; destinations = [\"10.20.0.25\"];\n"
	"   services = [\"tcp/25\"]; approval = \"A-2\"; expires = \"2025-12-10\"; },\n"
	" { name = \"old\"; kind = \"screen\"; from = \"lg\"; to = \"in\"; destinations = [\"10.30.0.33\"];\n"
	"   services = [\"tcp/3389\"]; approval = \"A-3\"; expires = \"2025-11-01\"; },\n"
	" { name = \"iso\"; kind = \"sanitize\"; from = \"in\"; to = \"lg2\"; destinations = [\"10.40.0.25\"];\n"
	"   services = [\"tcp/25\"]; approval = \"A-4\"; expires = \"2027-01-01\"; }\n"
	");\n";

static struct seg_report *report_of(const char *text, const char *isolate)
{
	struct seg_report *r;
	struct seg_diags d;

	ck_assert_int_eq(seg_report_new(T0 - 7 * DAY_US, T0, &r), 0);
	r->today = TODAY;
	ck_assert_int_eq(seg_config_load_string(text, "t.conf", TODAY, &r->cfg, &d), 0);
	seg_diags_free(&d);
	if (isolate)
		r->cfg->zones[seg_zone_find(r->cfg, isolate)].isolated = true;
	ck_assert_int_eq(seg_report_fill_config(r), 0);
	return r;
}

/* ---- matrix ---- */

static const struct { const char *from, *to; enum seg_report_cell cell; size_t open; } cells[] = {
	{ "my", "my", SEG_CELL_INTRA, 0 },  { "my", "lg", SEG_CELL_OPEN, 1 },
	{ "my", "in", SEG_CELL_GUARD, 0 },  { "in", "my", SEG_CELL_GUARD, 0 },
	{ "in", "lg", SEG_CELL_OPEN, 1 },   { "lg", "in", SEG_CELL_DENY, 0 },   /* its one conduit expired */
	{ "lg", "my", SEG_CELL_DENY, 0 },   { "in", "lg2", SEG_CELL_ISOLATED, 0 },
	{ "lg2", "lg", SEG_CELL_ISOLATED, 0 }, { "lg2", "lg2", SEG_CELL_INTRA, 0 },
};

START_TEST(matrix_cells)
{
	struct seg_report *r = report_of(conf, "lg2");
	size_t nz = r->cfg->n_zones;
	int a = seg_zone_find(r->cfg, cells[_i].from), b = seg_zone_find(r->cfg, cells[_i].to);

	ck_assert_msg(r->cells[a * nz + b] == cells[_i].cell, "%s -> %s: %s, expected %s", cells[_i].from,
		      cells[_i].to, seg_report_cell_name(r->cells[a * nz + b]), seg_report_cell_name(cells[_i].cell));
	ck_assert_uint_eq(r->cell_open[a * nz + b], cells[_i].open);
	seg_report_free(r);
}
END_TEST

/* ---- conduits ---- */

static const struct { const char *name; long days; bool expired, soon, installed; } rows[] = {
	{ "mid", 125, false, false, true },
	{ "soon", 14, false, true, true },
	{ "old", -25, true, false, false },
	{ "iso", 401, false, false, false },      /* its zone lg2 is isolated */
};

START_TEST(conduit_rows)
{
	struct seg_report *r = report_of(conf, "lg2");
	const struct seg_report_conduit *rc = NULL;

	for (size_t i = 0; i < r->n_conduits; i++)
		if (strcmp(r->cfg->conduits[r->conduits[i].index].name, rows[_i].name) == 0)
			rc = &r->conduits[i];
	ck_assert_ptr_nonnull(rc);
	ck_assert_int_eq(rc->days_left, rows[_i].days);
	ck_assert_int_eq(rc->expired, rows[_i].expired);
	ck_assert_int_eq(rc->soon, rows[_i].soon);
	ck_assert_int_eq(rc->installed, rows[_i].installed);
	ck_assert_msg(rc->has_hits == !rc->installed, "no counters read: hits known only where not installed");
	ck_assert_uint_eq(r->n_expired, 1);
	ck_assert_uint_eq(r->n_soon, 1);
	ck_assert_uint_eq(r->n_installed, 2);
	seg_report_free(r);
}
END_TEST

/* ---- incidents ---- */

struct inc { const char *event, *from, *to, *src; uint64_t packets; int day; };

static const struct inc incs[] = {
	{ "flow-denied", "my", "in", "10.10.0.2", 5, 0 },
	{ "flow-denied", "my", "in", "10.10.0.2", 1, -1 },
	{ "flow-denied", "my", "in", "10.10.0.3", 9, -2 },
	{ "flow-denied", "my", "in", "10.10.0.4", 1, 0 },
	{ "flow-denied", "my", "in", "10.10.0.5", 1, 0 },
	{ "flow-denied", "my", "in", "10.10.0.6", 1, 0 },
	{ "flow-denied", "my", "in", "10.10.0.7", 2, 0 },
	{ "to-gateway", "lg", NULL, "10.20.0.2", 3, -6 },
	{ "flow-denied", "my", "in", NULL, 100, -30 },     /* overflow: no source; outside the chart */
	{ "spoofed-source", "in", "lg", "10.99.0.1", 1, -3 },
};

static struct seg_report *with_incidents(void)
{
	struct seg_report *r;

	ck_assert_int_eq(seg_report_new(T0 - 7 * DAY_US, T0, &r), 0);
	for (size_t i = 0; i < sizeof(incs) / sizeof(incs[0]); i++)
		ck_assert_int_eq(seg_report_add_incident(r, incs[i].event, incs[i].from, incs[i].to, incs[i].src,
							 incs[i].packets, T0 + incs[i].day * DAY_US), 0);
	ck_assert_int_eq(seg_report_finish_incidents(r), 0);
	return r;
}

START_TEST(pairs_and_top_sources)
{
	struct seg_report *r = with_incidents();
	const struct seg_report_pair *p = &r->pairs[0];    /* most packets first */

	ck_assert_uint_eq(r->n_pairs, 3);
	ck_assert_uint_eq(r->incidents, 10);
	ck_assert_uint_eq(r->packets, 124);
	ck_assert_str_eq(p->event, "flow-denied");
	ck_assert_str_eq(p->from, "my");
	ck_assert_uint_eq(p->incidents, 8);
	ck_assert_uint_eq(p->packets, 120);
	ck_assert_uint_eq(p->sources, 6);
	ck_assert_uint_eq(p->n_top, SEG_REPORT_TOP);
	ck_assert_str_eq(p->top[0].addr, "10.10.0.3");      /* 9 packets */
	ck_assert_str_eq(p->top[1].addr, "10.10.0.2");      /* 6 packets, 2 incidents */
	ck_assert_uint_eq(p->top[1].incidents, 2);
	ck_assert_uint_eq(p->top[1].packets, 6);
	ck_assert_str_eq(p->top[2].addr, "10.10.0.7");
	for (size_t i = 1; i < p->n_top; i++)
		ck_assert_uint_le(p->top[i].packets, p->top[i - 1].packets);
	ck_assert_str_eq(r->pairs[1].event, "to-gateway");
	ck_assert_str_eq(r->pairs[1].to, "");
	seg_report_free(r);
}
END_TEST

START_TEST(per_day)
{
	struct seg_report *r;

	setenv("TZ", "UTC", 1);
	tzset();
	r = with_incidents();
	ck_assert_uint_eq(r->n_days, 8);                     /* T0 - 7 days .. T0 */
	ck_assert_int_eq(r->days[7].day, TODAY);
	ck_assert_uint_eq(r->days[7].incidents[SEG_REPORT_EV_DENIED], 5);
	ck_assert_uint_eq(r->days[6].incidents[SEG_REPORT_EV_DENIED], 1);
	ck_assert_uint_eq(r->days[4].incidents[SEG_REPORT_EV_SPOOFED], 1);
	ck_assert_uint_eq(r->days[1].incidents[SEG_REPORT_EV_GATEWAY], 1);
	uint64_t sum = 0;
	for (size_t i = 0; i < r->n_days; i++)
		for (int e = 0; e < SEG_REPORT_EV_COUNT; e++)
			sum += r->days[i].incidents[e];
	ck_assert_uint_eq(sum, 9);                           /* the one 30 days back is not charted */
	ck_assert_uint_eq(r->by_event[SEG_REPORT_EV_DENIED], 8);
	seg_report_free(r);
}
END_TEST

static const struct { const char *tz; int64_t us; int64_t day; } days[] = {
	{ "UTC", T0, TODAY },
	{ "Asia/Tokyo", TODAY * DAY_US + 15LL * 3600 * 1000000, TODAY + 1 },   /* 00:00 JST next day */
	{ "Asia/Tokyo", TODAY * DAY_US + 14LL * 3600 * 1000000, TODAY },
	{ "America/New_York", TODAY * DAY_US + 3LL * 3600 * 1000000, TODAY - 1 },
	{ "UTC", 0, 0 },
};

START_TEST(local_day)
{
	setenv("TZ", days[_i].tz, 1);
	tzset();
	ck_assert_int_eq(seg_report_local_day(days[_i].us), days[_i].day);
}
END_TEST

START_TEST(days_bounded)
{
	struct seg_report *r;

	ck_assert_int_eq(seg_report_new(T0 - 1000 * DAY_US, T0, &r), 0);
	ck_assert_uint_eq(r->n_days, SEG_REPORT_MAX_DAYS);
	ck_assert_int_eq(r->days[r->n_days - 1].day, seg_report_local_day(T0));
	seg_report_free(r);
	ck_assert_int_eq(seg_report_new(T0, T0 - 1, &r), -EINVAL);
}
END_TEST

START_TEST(sections_name_clauses)
{
	for (int s = 0; s < SEG_RS_COUNT; s++) {
		const struct seg_report_section_info *i = seg_report_section((enum seg_report_section)s);
		ck_assert_ptr_nonnull(i);
		ck_assert(i->key && i->title && i->title_ja && i->answers && i->clauses && *i->clauses);
	}
	ck_assert_ptr_null(seg_report_section(SEG_RS_COUNT));
	/* every clause of the policy table is answered somewhere */
	static const char *const clauses[] = { "3(1)", "3(2)", "5", "7(3)", "7(6)", "7(7)", "8", "9" };
	for (size_t c = 0; c < sizeof(clauses) / sizeof(clauses[0]); c++) {
		bool found = false;
		for (int s = 0; s < SEG_RS_COUNT && !found; s++)
			found = strstr(seg_report_section((enum seg_report_section)s)->clauses, clauses[c]) != NULL;
		ck_assert_msg(found, "clause %s answered by no section", clauses[c]);
	}
}
END_TEST

/* The whole collection without the kernel: a configuration file, a spool,
 * a state directory with an isolation. */
START_TEST(collect_from_files)
{
	char dir[] = "/tmp/segd-report-XXXXXX", path[256], cmd[300];
	struct seg_report *r = NULL;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/incidents.jsonl", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("{\"event\":\"flow-denied\",\"src_zone\":\"my\",\"dst_zone\":\"in\",\"src\":\"10.10.0.2\","
	      "\"first\":\"2025-11-26T10:00:00Z\",\"last\":\"2025-11-26T10:00:01Z\",\"packets\":4}\n"
	      "torn {\n"
	      "{\"event\":\"flow-denied\",\"src_zone\":\"my\",\"dst_zone\":\"in\",\"src\":\"10.10.0.2\","
	      "\"first\":\"2025-01-01T10:00:00Z\",\"last\":\"2025-01-01T10:00:01Z\",\"packets\":7}\n", f);
	fclose(f);
	struct seg_isolations iso = { 0 };
	ck_assert_int_eq(seg_iso_set(&iso, "lg2", "incident 42", 0, T0 / 1000000 - 60), 0);
	ck_assert_int_eq(seg_iso_save(dir, &iso), 0);
	seg_iso_free(&iso);
	snprintf(path, sizeof(path), "%s/segd.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "%.*s state_dir = \"%s\"; };\n%s", (int)(strstr(conf, " };\n") - conf), conf, dir,
		strstr(conf, "zones"));
	fclose(f);
	struct seg_report_opts o = { .config = path, .now_us = T0, .no_kernel = true };
	snprintf(cmd, sizeof(cmd), "%s/incidents.jsonl", dir);
	o.spool = cmd;
	ck_assert_int_eq(seg_report_collect(&o, &r), 0);
	ck_assert_ptr_nonnull(r->cfg);
	ck_assert_uint_eq(r->incidents, 1);                 /* January is outside the 30 days */
	ck_assert_uint_eq(r->packets, 4);
	ck_assert_uint_eq(r->spool_bad, 1);
	ck_assert_uint_eq(r->iso.n, 1);
	ck_assert(r->cfg->zones[seg_zone_find(r->cfg, "lg2")].isolated);
	ck_assert_int_eq(r->since_us, T0 - SEG_REPORT_DEFAULT_SPAN_US);
	ck_assert_int_eq(strlen(r->sha256), 64);
	seg_report_free(r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- lib/trace.c: decoding NFT_MSG_TRACE ---- */

static struct nlmsghdr *trace_msg(char *buf, uint32_t type, bool v6, int32_t verdict, const char *target)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	uint8_t net[40] = { 0 }, th[4] = { 0x9c, 0x40, 0x01, 0xbb };   /* 40000 -> 443 */

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_TRACE;
	g->nfgen_family = NFPROTO_INET;
	if (v6) {
		net[0] = 0x60, net[6] = 6, net[23] = 2, net[39] = 0x50;   /* ::2 -> ::50 */
	} else {
		net[0] = 0x45, net[9] = 6;
		memcpy(net + 12, "\x0a\x0a\x00\x05\x0a\x14\x00\x32", 8);  /* 10.10.0.5 -> 10.20.0.50 */
	}
	mnl_attr_put_strz(nlh, NFTA_TRACE_TABLE, "segd");
	mnl_attr_put_strz(nlh, NFTA_TRACE_CHAIN, "forward");
	mnl_attr_put_u32(nlh, NFTA_TRACE_TYPE, htonl(type));
	mnl_attr_put_u32(nlh, NFTA_TRACE_ID, htonl(0xabcd));
	mnl_attr_put_u64(nlh, NFTA_TRACE_RULE_HANDLE, htobe64(47));
	mnl_attr_put_u32(nlh, NFTA_TRACE_IIF, htonl(3));
	mnl_attr_put(nlh, NFTA_TRACE_NETWORK_HEADER, v6 ? 40 : 20, net);
	mnl_attr_put(nlh, NFTA_TRACE_TRANSPORT_HEADER, sizeof(th), th);
	struct nlattr *nest = mnl_attr_nest_start(nlh, NFTA_TRACE_VERDICT);
	mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl((uint32_t)verdict));
	if (target)
		mnl_attr_put_strz(nlh, NFTA_VERDICT_CHAIN, target);
	mnl_attr_nest_end(nlh, nest);
	return nlh;
}

START_TEST(trace_decode)
{
	char buf[1024];
	struct seg_trace_event e;
	struct nlmsghdr *nlh = trace_msg(buf, NFT_TRACETYPE_RULE, _i == 1, NFT_GOTO, "p.a.b");

	ck_assert_int_eq(seg_trace_decode(nlh, &e), 0);
	ck_assert_uint_eq(e.id, 0xabcd);
	ck_assert_int_eq(e.type, SEG_TRACE_RULE);
	ck_assert_str_eq(e.table, "segd");
	ck_assert_str_eq(e.chain, "forward");
	ck_assert(e.has_handle && e.handle == 47);
	ck_assert(e.has_verdict && e.verdict == NFT_GOTO);
	ck_assert_str_eq(e.target, "p.a.b");
	ck_assert_uint_eq(e.iif, 3);
	ck_assert(e.has_flow && e.has_ports);
	ck_assert_int_eq(e.family, _i == 1 ? AF_INET6 : AF_INET);
	ck_assert_uint_eq(e.l4proto, 6);
	ck_assert_uint_eq(e.sport, 40000);
	ck_assert_uint_eq(e.dport, 443);
	ck_assert_uint_eq(e.dst[_i == 1 ? 15 : 3], 0x50 - (_i == 1 ? 0 : 0x1e));
	ck_assert_str_eq(seg_trace_verdict_name(e.verdict), "goto");
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;   /* not a trace */
	ck_assert_int_eq(seg_trace_decode(nlh, &e), -EINVAL);
}
END_TEST

Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_loop_test(tc, matrix_cells, 0, sizeof(cells) / sizeof(cells[0]));
	tcase_add_loop_test(tc, conduit_rows, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(tc, pairs_and_top_sources);
	tcase_add_test(tc, per_day);
	tcase_add_loop_test(tc, local_day, 0, sizeof(days) / sizeof(days[0]));
	tcase_add_test(tc, days_bounded);
	tcase_add_test(tc, sections_name_clauses);
	tcase_add_test(tc, collect_from_files);
	tcase_add_loop_test(tc, trace_decode, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
