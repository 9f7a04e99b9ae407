/* test_cfgdiff.c - the semantic diff, table-driven: each case edits a base
 * configuration and names the lines `segctl diff` must print, in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "cfgdiff.h"
#include "config.h"
#include "suites.h"

/* %s: extra settings; %s: extra zone; %s: the mail conduit's services;
 * %s: its expires; %s: extra conduit. */
#define BASE \
	"version = 1;\n" \
	"settings = { %s };\n" \
	"zones = (\n" \
	"  { name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ];\n" \
	"    networks = [ \"10.20.0.0/24\", \"fd00:20::/64\" ]; },\n" \
	"  { name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ];\n" \
	"    networks = [ \"10.30.0.0/24\" ]; }%s\n" \
	");\n" \
	"conduits = (\n" \
	"  { name = \"mail\"; kind = \"sanitize\"; from = \"internet\"; to = \"lgwan\";\n" \
	"    destinations = [ \"10.20.0.25\" ]; services = [ %s ];\n" \
	"    approval = \"R8-DX-015\"; expires = \"%s\"; }%s\n" \
	");\n"

struct variant {
	const char *settings, *zone, *services, *expires, *conduit;
};

static const struct variant base = { "", "", "\"tcp/25\"", "2027-03-31", "" };

static const char *const ZONE_DMZ =
	",\n  { name = \"dmz\"; kind = \"lgwan\"; interfaces = [ \"eth5\", \"eth4\" ]; networks = [ \"10.40.0.0/24\" ]; }";
static const char *const CONDUIT_VDI =
	",\n  { name = \"vdi\"; kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
	"    destinations = [ \"10.30.0.33\" ]; services = [ \"tcp/3389\" ]; approval = \"R8-DX-016\";\n"
	"    expires = \"2027-09-30\"; comment = \"画面転送\"; }";

struct diff_case {
	const char *what;
	struct variant a, b;
	const char *lines;      /* expected, one per item, '\n'-separated; "" for none */
};

#define V(set, zone, svc, exp, cond) { set, zone, svc, exp, cond }

static const char *const CONDUIT_GW =
	",\n  { name = \"gw-syslog\"; kind = \"specific\"; from = \"gateway\"; to = \"lgwan\";\n"
	"    destinations = [ \"10.20.0.51\" ]; services = [ \"udp/514\" ]; approval = \"R8-GW-003\";\n"
	"    expires = \"2027-03-31\"; }";

static const struct diff_case cases[] = {
	{ "identical", V("", "", "\"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/25\"", "2027-03-31", ""), "" },
	{ "the issue's example",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/25\", \"tcp/587\"", "2028-03-31", ""),
	  "conduit 'mail': services tcp/25 -> tcp/25, tcp/587; expires 2027-03-31 -> 2028-03-31" },
	{ "reordering a list is no change",
	  V("", "", "\"tcp/587\", \"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/25\", \"tcp/587\"", "2027-03-31", ""), "" },
	{ "a port range",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/20-30\"", "2027-03-31", ""),
	  "conduit 'mail': services tcp/25 -> tcp/20-30" },
	{ "conduit added, with its fields",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/25\"", "2027-03-31", CONDUIT_VDI),
	  "conduit 'vdi' added: kind screen; from lgwan; to internet; sources (whole zone); destinations 10.30.0.33; "
	  "services tcp/3389; approval R8-DX-016; expires 2027-09-30; comment 画面転送" },
	{ "conduit removed",
	  V("", "", "\"tcp/25\"", "2027-03-31", CONDUIT_VDI), V("", "", "\"tcp/25\"", "2027-03-31", ""),
	  "conduit 'vdi' removed" },
	{ "zone added (interfaces sorted)",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""), V("", ZONE_DMZ, "\"tcp/25\"", "2027-03-31", ""),
	  "zone 'dmz' added: kind lgwan; interfaces eth4, eth5; networks 10.40.0.0/24" },
	{ "zone removed",
	  V("", ZONE_DMZ, "\"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/25\"", "2027-03-31", ""), "zone 'dmz' removed" },
	{ "settings changed, and a default made explicit is no change",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""), V("log_group = 9; incident_window = 60;", "", "\"tcp/25\"", "2027-03-31", ""),
	  "settings: log_group 7 -> 9" },
	{ "a conduit from the gateway: no zone 'gateway' appears",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""), V("", "", "\"tcp/25\"", "2027-03-31", CONDUIT_GW),
	  "conduit 'gw-syslog' added: kind specific; from gateway; to lgwan; sources (the gateway's own addresses); "
	  "destinations 10.20.0.51; services udp/514; approval R8-GW-003; expires 2027-03-31" },
	{ "the gateway's settings",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""),
	  V("management_interfaces = [ \"mgmt0\" ]; gateway_addresses = [ \"10.20.0.1\" ];", "", "\"tcp/25\"", "2027-03-31", ""),
	  "settings: gateway_addresses (none) -> 10.20.0.1; management_interfaces (none) -> mgmt0" },
	{ "link services",
	  V("", "", "\"tcp/25\"", "2027-03-31", ""),
	  V("", ",\n  { name = \"dmz\"; kind = \"lgwan\"; interfaces = [ \"eth5\" ]; networks = [ \"10.40.0.0/24\" ]; link_services = [ \"vrrp\" ]; }", "\"tcp/25\"", "2027-03-31", ""),
	  "zone 'dmz' added: kind lgwan; interfaces eth5; networks 10.40.0.0/24; link_services vrrp" },
	{ "settings, zone and conduit in that order",
	  V("", "", "\"tcp/25\"", "2027-03-31", CONDUIT_VDI), V("table = \"segd2\";", ZONE_DMZ, "\"udp/53\"", "2027-03-31", ""),
	  "settings: table segd -> segd2\nzone 'dmz' added: kind lgwan; interfaces eth4, eth5; networks 10.40.0.0/24\n"
	  "conduit 'vdi' removed\nconduit 'mail': services tcp/25 -> udp/53" },
};

static struct seg_config *build(const struct variant *v)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	char *text = NULL;
	int64_t today;
	const char *why;

	ck_assert_int_eq(seg_date_parse("2026-06-01", &today, &why), 0);
	ck_assert_int_ge(asprintf(&text, BASE, v->settings, v->zone, v->services, v->expires, v->conduit), 0);
	int r = seg_config_load_string(text, "diff.conf", today, &cfg, &d);
	if (r < 0)
		seg_diags_print(&d, stderr);
	seg_diags_free(&d);
	free(text);
	ck_assert_int_eq(r, 0);
	return cfg;
}

static char *render(const struct seg_cfgdiff *df)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (size_t i = 0; i < df->n; i++) {
		char *line = seg_cfgdiff_line(&df->items[i]);
		ck_assert_ptr_nonnull(line);
		fprintf(f, "%s%s", i ? "\n" : "", line);
		free(line);
	}
	fclose(f);
	return out;
}

START_TEST(test_case)
{
	const struct diff_case *c = &cases[_i];
	struct seg_config *a = build(&c->a), *b = build(&c->b);
	struct seg_cfgdiff df;

	ck_assert_int_eq(seg_cfgdiff_compute(a, b, &df), 0);
	char *got = render(&df);
	ck_assert_msg(strcmp(got, c->lines) == 0, "%s:\n got: %s\nwant: %s", c->what, got, c->lines);
	free(got);
	seg_cfgdiff_free(&df);
	/* the reverse diff has as many items, with added and removed swapped */
	ck_assert_int_eq(seg_cfgdiff_compute(b, a, &df), 0);
	size_t lines = c->lines[0] != '\0';
	for (const char *p = c->lines; *p; p++)
		lines += *p == '\n';
	ck_assert_uint_eq(df.n, lines);
	seg_cfgdiff_free(&df);
	seg_config_free(a);
	seg_config_free(b);
}
END_TEST

/* Fields carry old and new values for --json: added has no old, removed no new. */
START_TEST(test_fields)
{
	struct variant with = base;
	with.conduit = CONDUIT_VDI;
	struct seg_config *a = build(&base), *b = build(&with);
	struct seg_cfgdiff df;

	ck_assert_int_eq(seg_cfgdiff_compute(a, b, &df), 0);
	ck_assert_uint_eq(df.n, 1);
	ck_assert_int_eq(df.items[0].what, SEG_DIFF_CONDUIT);
	ck_assert_int_eq(df.items[0].op, SEG_DIFF_ADDED);
	ck_assert_str_eq(seg_diff_op_name(df.items[0].op), "added");
	ck_assert_str_eq(seg_diff_what_name(df.items[0].what), "conduit");
	for (size_t i = 0; i < df.items[0].n_fields; i++) {
		ck_assert_ptr_null(df.items[0].fields[i].old_value);
		ck_assert_ptr_nonnull(df.items[0].fields[i].new_value);
	}
	seg_cfgdiff_free(&df);
	ck_assert_int_eq(seg_cfgdiff_compute(b, a, &df), 0);
	ck_assert_int_eq(df.items[0].op, SEG_DIFF_REMOVED);
	ck_assert_ptr_null(df.items[0].fields[0].new_value);
	seg_cfgdiff_free(&df);
	seg_cfgdiff_free(NULL);
	seg_config_free(a);
	seg_config_free(b);
}
END_TEST

Suite *cfgdiff_suite(void)
{
	Suite *s = suite_create("cfgdiff");
	TCase *tc = tcase_create("cfgdiff");

	tcase_add_loop_test(tc, test_case, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(tc, test_fields);
	suite_add_tcase(s, tc);
	return s;
}
