/* test_config.c - the configuration loader and validator against the catalog
 * in tests/configs: every bad file must fail with the errors its
 * "# expect: LINE: substring" header names; every good file (and every conf/ example)
 * must load, with exactly the warnings its "# expect-warning:" header names.
 * Each file is its own test (tcase_add_loop_test over a table built when the
 * suite is created), so a failure names the file.
 *
 * The date is pinned to 2026-11-26 so that expiry cases do not rot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <valgrind/valgrind.h>
#include "addr.h"
#include "config.h"
#include "plan.h"
#include "zonemap.h"
#include "links.h"
#include "suites.h"

#define TODAY_TEXT "2026-11-26"
#define MAX_FILES  1024
#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

static char *bad_files[MAX_FILES], *good_files[MAX_FILES];
static int n_bad, n_good;

static int64_t today(void)
{
	int64_t day = 0;
	const char *why;

	ck_assert_int_eq(seg_date_parse(TODAY_TEXT, &day, &why), 0);
	return day;
}

/* ---- the catalog: file lists and expectation headers ---- */

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends the .conf files of DIR, sorted, to list; returns how many it found. */
static int collect(const char *dir, char **list, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int start = *n;

	if (!d)
		return 0;
	while ((e = readdir(d)) && *n < MAX_FILES) {
		size_t len = strlen(e->d_name);
		if (len > 5 && strcmp(e->d_name + len - 5, ".conf") == 0 &&
		    asprintf(&list[*n], "%s/%s", dir, e->d_name) > 0)
			(*n)++;
	}
	closedir(d);
	qsort(list + start, (size_t)(*n - start), sizeof(*list), by_name);
	return *n - start;
}

struct expect {
	int line;
	char text[256];
};

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Reads the leading "# TAG: LINE: text" lines of a file (after a BOM; CRLF
 * tolerated). Returns their count. */
static int read_expects(const char *path, const char *tag, struct expect *v, int max)
{
	size_t len, taglen = strlen(tag);
	char *buf = read_all(path, &len);
	const char *p = buf, *end = buf + len;
	int n = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && n < max && strncmp(p, tag, taglen) == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char *colon;
		if (l > 0 && p[l - 1] == '\r')
			l--;
		v[n].line = (int)strtol(p + taglen, &colon, 10);
		ck_assert_msg(colon[0] == ':' && colon[1] == ' ', "%s: malformed '%s' line", path, tag);
		size_t tl = l - (size_t)(colon + 2 - p);
		ck_assert_msg(tl > 0 && tl < sizeof(v[n].text), "%s: expectation too long or empty", path);
		memcpy(v[n].text, colon + 2, tl);
		v[n].text[tl] = '\0';
		n++;
		p = nl ? nl + 1 : end;
	}
	free(buf);
	return n;
}

/* All diagnostics as one string, for failure messages. */
static char *dump(const struct seg_diags *d)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	ck_assert_ptr_nonnull(f);
	seg_diags_print(d, f);
	fclose(f);
	return s;
}

static bool has_diag(const struct seg_diags *d, enum seg_severity sev, int line, const char *text)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].sev == sev && d->v[i].line == line && strstr(d->v[i].msg, text))
			return true;
	return false;
}

/* Errors and warnings are one line and say what to do after " — ". */
static void assert_well_formed(const char *path, const struct seg_diags *d, bool allow_line0_error)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct seg_diag *x = &d->v[i];
		if (x->sev == SEG_SEV_NOTE)
			continue;
		ck_assert_msg(strstr(x->msg, " — "), "%s:%d: '%s' does not say what to do (no ' — ')", path,
			      x->line, x->msg);
		ck_assert_msg(!strchr(x->msg, '\n'), "%s:%d: '%s' is more than one line", path, x->line, x->msg);
		if (x->sev == SEG_SEV_ERROR && !allow_line0_error)
			ck_assert_msg(x->line > 0, "%s: error without a line number: '%s'", path, x->msg);
	}
}

/* ---- (a) every bad file fails with the errors it names ---- */

START_TEST(test_bad_file)
{
	const char *path = bad_files[_i];
	struct expect exp[32];
	int n = read_expects(path, "# expect: ", exp, N(exp));
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	bool line0 = false;

	ck_assert_msg(n > 0, "%s: no '# expect: LINE: text' header", path);
	int r = seg_config_load(path, today(), &cfg, &d);
	if (r == 0) {      /* valid as a model: the ruleset's size is judged when it is compiled */
		struct seg_zonemap map = { 0 };
		struct seg_plan *plan = NULL;
		r = seg_zonemap_build(cfg, &map);
		if (r == 0)
			r = seg_plan_build(cfg, &map, &d, &plan);
		seg_plan_free(plan);
		seg_zonemap_free(&map);
		seg_config_free(cfg);
		cfg = NULL;
	}
	char *all = dump(&d);
	ck_assert_msg(r == -EINVAL, "%s: load returned %d, expected -EINVAL; diagnostics:\n%s", path, r, all);
	ck_assert_msg(cfg == NULL, "%s: a model was returned for an invalid file", path);
	ck_assert_msg(d.n_errors > 0 && !d.oom, "%s: no errors counted", path);
	for (int i = 0; i < n; i++) {
		ck_assert_msg(has_diag(&d, SEG_SEV_ERROR, exp[i].line, exp[i].text),
			      "%s: expected an error on line %d with '%s'; got:\n%s", path, exp[i].line,
			      exp[i].text, all);
		line0 |= exp[i].line == 0;
	}
	assert_well_formed(path, &d, line0);
	free(all);
	seg_diags_free(&d);
}
END_TEST

/* ---- (b) every good file and every shipped example loads ---- */

START_TEST(test_good_file)
{
	const char *path = good_files[_i];
	struct expect exp[16];
	int n = read_expects(path, "# expect-warning: ", exp, N(exp));
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	size_t warnings = 0;

	int r = seg_config_load(path, today(), &cfg, &d);
	char *all = dump(&d);
	ck_assert_msg(r == 0, "%s: load returned %d; diagnostics:\n%s", path, r, all);
	ck_assert_msg(cfg != NULL && d.n_errors == 0, "%s: errors:\n%s", path, all);
	ck_assert_msg(cfg->n_zones > 0, "%s: no zones in the model", path);
	for (int i = 0; i < n; i++)
		ck_assert_msg(has_diag(&d, SEG_SEV_WARNING, exp[i].line, exp[i].text),
			      "%s: expected a warning on line %d with '%s'; got:\n%s", path, exp[i].line,
			      exp[i].text, all);
	/* line-0 warnings are about the file itself (its owner and mode), not its text */
	for (size_t i = 0; i < d.n; i++)
		warnings += d.v[i].sev == SEG_SEV_WARNING && d.v[i].line > 0;
	if (strncmp(path, TEST_CONFIGS, strlen(TEST_CONFIGS)) == 0)
		ck_assert_msg(warnings == (size_t)n, "%s: %zu warnings, the header names %d:\n%s", path,
			      warnings, n, all);
	assert_well_formed(path, &d, false);
	free(all);
	seg_diags_free(&d);
	seg_config_free(cfg);
}
END_TEST

/* The same text from memory gives the same model and diagnostics. */
START_TEST(test_good_file_from_string)
{
	const char *path = good_files[_i];
	struct seg_config *a = NULL, *b = NULL;
	struct seg_diags da, db;
	size_t len;
	char *text = read_all(path, &len);

	ck_assert_int_eq(seg_config_load(path, today(), &a, &da), 0);
	ck_assert_int_eq(seg_config_load_string(text, path, today(), &b, &db), 0);
	ck_assert_uint_eq(a->n_zones, b->n_zones);
	ck_assert_uint_eq(a->n_conduits, b->n_conduits);
	ck_assert_uint_eq(da.n_errors, db.n_errors);
	for (size_t i = 0; i < a->n_conduits; i++) {
		ck_assert_str_eq(a->conduits[i].name, b->conduits[i].name);
		ck_assert_int_eq(a->conduits[i].line, b->conduits[i].line);
		ck_assert(a->conduits[i].expired == b->conduits[i].expired);
	}
	free(text);
	seg_diags_free(&da);
	seg_diags_free(&db);
	seg_config_free(a);
	seg_config_free(b);
}
END_TEST

START_TEST(test_catalog_size)
{
	ck_assert_msg(n_bad >= 85, "only %d bad configurations in %s/bad (run from the top of the tree)",
		      n_bad, TEST_CONFIGS);
	ck_assert_msg(n_good >= 30, "only %d good configurations", n_good);
}
END_TEST

/* ---- (c) one model in detail ---- */

static void assert_prefix(const struct seg_prefix *p, const char *text, int line)
{
	char buf[64];

	seg_prefix_format(p, buf, sizeof(buf));
	ck_assert_str_eq(buf, text);
	ck_assert_int_eq(p->line, line);
}

static void assert_service(const struct seg_service *s, enum seg_proto proto, unsigned lo, unsigned hi)
{
	ck_assert_int_eq(s->proto, proto);
	ck_assert_uint_eq(s->port_lo, lo);
	ck_assert_uint_eq(s->port_hi, hi);
}

static struct seg_config *load_detail(struct seg_diags *d)
{
	struct seg_config *cfg = NULL;

	ck_assert_int_eq(seg_config_load(TEST_CONFIGS "/good/detail.conf", today(), &cfg, d), 0);
	return cfg;
}

START_TEST(test_detail_settings_and_zones)
{
	struct seg_diags d;
	struct seg_config *cfg = load_detail(&d);
	const struct seg_settings *s = &cfg->settings;

	ck_assert_str_eq(cfg->file, TEST_CONFIGS "/good/detail.conf");
	ck_assert_int_eq(cfg->version, 1);
	/* given */
	ck_assert_int_eq(s->log_group, 9);
	ck_assert_str_eq(s->spool, "/var/tmp/segd-detail.jsonl");
	ck_assert_int_eq(s->line, 6);
	/* defaults */
	ck_assert_str_eq(s->table, "segd");
	ck_assert_uint_eq(s->incident_window, 60);
	ck_assert_str_eq(s->control_socket, "/run/segd/control.sock");
	ck_assert_str_eq(s->control_group, "segctl");
	ck_assert_str_eq(s->state_dir, "/var/lib/segd");

	ck_assert_uint_eq(cfg->n_zones, 4);
	static const struct { const char *name; enum seg_zone_kind kind; int line; size_t ifs, nets; } z[] = {
		{ "mynumber", SEG_ZONE_MYNUMBER, 12, 1, 2 }, { "lgwan", SEG_ZONE_LGWAN, 15, 2, 2 },
		{ "internet", SEG_ZONE_INTERNET, 19, 1, 1 }, { "cloud", SEG_ZONE_EXTERNAL, 22, 1, 0 },
	};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_str_eq(cfg->zones[i].name, z[i].name);
		ck_assert_int_eq(cfg->zones[i].kind, z[i].kind);
		ck_assert_int_eq(cfg->zones[i].line, z[i].line);
		ck_assert_uint_eq(cfg->zones[i].n_ifaces, z[i].ifs);
		ck_assert_uint_eq(cfg->zones[i].n_nets, z[i].nets);
		ck_assert_int_eq(seg_zone_find(cfg, z[i].name), (int)i);
		ck_assert(cfg->zones[i].catchall4 == (i == 3) && cfg->zones[i].catchall6 == (i == 3));
	}
	ck_assert_int_eq(seg_zone_find(cfg, "dmz"), -1);
	const struct seg_zone *lg = &cfg->zones[1];
	ck_assert_str_eq(lg->ifaces[0], "eth2");
	ck_assert_str_eq(lg->ifaces[1], "eth5");
	assert_prefix(&lg->nets[0], "10.20.0.0/24", 17);
	assert_prefix(&lg->nets[1], "fd00:20::/64", 17);
	ck_assert_int_eq(lg->nets[0].family, AF_INET);
	ck_assert_int_eq(lg->nets[1].family, AF_INET6);
	ck_assert_uint_eq(lg->n_gw_services, 1);
	assert_service(&lg->gw_services[0], SEG_PROTO_TCP, 22, 22);
	ck_assert_int_eq(lg->gw_services[0].line, 18);
	ck_assert_uint_eq(cfg->zones[0].n_gw_services, 0);
	ck_assert_ptr_null(cfg->zones[0].gw_services);
	seg_diags_free(&d);
	seg_config_free(cfg);
}
END_TEST

START_TEST(test_detail_conduits)
{
	struct seg_diags d;
	struct seg_config *cfg = load_detail(&d);
	int64_t t = today();

	ck_assert_uint_eq(cfg->n_conduits, 3);
	const struct seg_conduit *c = &cfg->conduits[0];
	ck_assert_str_eq(c->name, "intermediate-server");
	ck_assert_int_eq(c->kind, SEG_CONDUIT_SPECIFIC);
	ck_assert_uint_eq(c->from, 0);
	ck_assert_uint_eq(c->to, 1);
	ck_assert_uint_eq(c->n_srcs, 1);
	assert_prefix(&c->srcs[0], "10.10.0.5", 30);
	ck_assert_int_eq(c->srcs[0].len, 32);
	assert_prefix(&c->dsts[0], "10.20.0.50", 31);
	ck_assert_uint_eq(c->n_services, 2);
	assert_service(&c->services[0], SEG_PROTO_TCP, 443, 443);
	assert_service(&c->services[1], SEG_PROTO_ICMP, 0, 0);
	ck_assert(c->services[1].typed && c->services[1].icmp_type == 8 && c->services[1].icmp_reply == 0);
	ck_assert_int_eq(c->services[1].line, 32);
	ck_assert_str_eq(c->approval, "R8-DX-014");
	ck_assert_str_eq(c->expires, "2027-03-31");
	ck_assert_int_eq(c->expires_day - t, 125);
	ck_assert(!c->expired);
	ck_assert_ptr_null(c->comment);
	ck_assert_int_eq(c->line, 27);

	c = &cfg->conduits[1];
	ck_assert_str_eq(c->name, "mail");
	ck_assert_int_eq(c->kind, SEG_CONDUIT_SANITIZE);
	ck_assert_uint_eq(c->from, 2);
	ck_assert_uint_eq(c->to, 1);
	ck_assert_uint_eq(c->n_srcs, 0);      /* the whole internet zone */
	ck_assert_ptr_null(c->srcs);
	ck_assert_uint_eq(c->n_dsts, 2);
	assert_prefix(&c->dsts[1], "fd00:20::25", 38);
	ck_assert_int_eq(c->dsts[1].len, 128);
	assert_service(&c->services[1], SEG_PROTO_TCP, 587, 588);
	ck_assert_str_eq(c->comment, "メール無害化");
	ck_assert_int_eq(c->expires_day - t, 5);
	ck_assert(!c->expired);

	c = &cfg->conduits[2];
	ck_assert_str_eq(c->name, "old");
	ck_assert_int_eq(c->kind, SEG_CONDUIT_EGRESS);
	ck_assert_uint_eq(c->to, 3);
	assert_prefix(&c->srcs[0], "10.30.0.0/28", 46);
	ck_assert_uint_eq(c->n_dsts, 1);
	assert_prefix(&c->dsts[0], "203.0.113.0/24", 47);
	assert_service(&c->services[0], SEG_PROTO_TCP, 8080, 8080);
	ck_assert(c->expired);
	ck_assert_int_eq(c->expires_day - t, -299);

	ck_assert_uint_eq(d.n_errors, 0);
	ck_assert_uint_eq(d.n_warnings, 2);
	ck_assert(has_diag(&d, SEG_SEV_WARNING, 35, "in 5 days"));
	ck_assert(has_diag(&d, SEG_SEV_WARNING, 43, "it is not installed"));
	seg_diags_free(&d);
	seg_config_free(cfg);
}
END_TEST

/* Expiry against the pinned day: the day of 'expires' is still valid. */
START_TEST(test_expiry_boundaries)
{
	static const struct { const char *expires; bool expired; bool warned; } t[] = {
		{ "2026-11-25", true, true }, { "2026-11-26", false, true }, { "2026-12-26", false, true },
		{ "2026-12-27", false, false }, { "2028-11-26", false, false },   /* max_validity ahead */
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n"
				   "{ name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [ \"10.20.0.0/24\" ]; },\n"
				   "{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ]; networks = [ \"10.30.0.0/24\" ]; } );\n"
				   "conduits = ( { name = \"c\"; kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
				   "  destinations = [ \"10.30.0.33\" ]; services = [ \"tcp/3389\" ]; approval = \"A-1\";\n"
				   "  expires = \"%s\"; } );\n", t[i].expires) > 0);
		ck_assert_int_eq(seg_config_load_string(text, "expiry.conf", today(), &cfg, &d), 0);
		ck_assert_msg(cfg->conduits[0].expired == t[i].expired, "expires %s: expired=%d", t[i].expires,
			      cfg->conduits[0].expired);
		ck_assert_msg((d.n_warnings == 1) == t[i].warned, "expires %s: %zu warnings", t[i].expires,
			      d.n_warnings);
		if (t[i].warned)
			ck_assert_int_eq(d.v[0].line, 5);
		free(text);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* An unusable 'expires' is one error on its own line, not also "missing". */
/* A list whose entries are all wrong is reported for its entries, never as
 * missing (rules 2 and 3 ask for the key, which is there). */
/* Every diagnostic names the check that said it, so that the report can say
 * which checks ran and passed: one file of the catalog per check, and its
 * errors all carry that check (a wrong stamp fails here). */
START_TEST(test_checks_stamped)
{
	static const struct { const char *file; enum seg_check check; enum seg_severity sev; } t[] = {
		{ "/bad/092-rule1-mynumber-to-internet.conf", SEG_CHECK_RULE1, SEG_SEV_ERROR },
		{ "/bad/154-width-mynumber-all-ports.conf", SEG_CHECK_MYNUMBER, SEG_SEV_ERROR },
		{ "/bad/161-width-sanitize-relay-network.conf", SEG_CHECK_RELAY, SEG_SEV_ERROR },
		{ "/bad/164-width-inbound-whole-internet-any.conf", SEG_CHECK_INTERNET, SEG_SEV_ERROR },
		{ "/bad/167-kind-sanitize-between-lgwan.conf", SEG_CHECK_KINDS, SEG_SEV_ERROR },
		{ "/bad/169-path-mynumber-host-sanitized-mail.conf", SEG_CHECK_PATHS, SEG_SEV_ERROR },
		{ "/bad/171-approval-full-width-space.conf", SEG_CHECK_APPROVAL, SEG_SEV_ERROR },
		{ "/bad/174-expires-2999.conf", SEG_CHECK_APPROVAL, SEG_SEV_ERROR },
		{ "/bad/175-zone-network-multicast.conf", SEG_CHECK_ZONES, SEG_SEV_ERROR },
		{ "/bad/179-ifname-wildcard.conf", SEG_CHECK_ZONES, SEG_SEV_ERROR },
		{ "/bad/032-prefix-length-33.conf", SEG_CHECK_FORM, SEG_SEV_ERROR },
		{ "/good/width-mynumber-tunnel-ssh.conf", SEG_CHECK_TUNNELS, SEG_SEV_WARNING },
		{ "/good/duplicate-conduits.conf", SEG_CHECK_DUPLICATES, SEG_SEV_WARNING },
		{ "/good/no-mynumber-zone.conf", SEG_CHECK_RULE1, SEG_SEV_WARNING },
	};
	for (int i = 0; i < N(t); i++) {
		char path[256];
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		size_t n = 0;
		snprintf(path, sizeof(path), "%s%s", TEST_CONFIGS, t[i].file);
		seg_config_load(path, today(), &cfg, &d);
		for (size_t k = 0; k < d.n; k++) {
			if (d.v[k].sev != t[i].sev)
				continue;
			ck_assert_msg(d.v[k].check == (int)t[i].check, "%s:%d: '%s' is stamped '%s', expected '%s'",
				      t[i].file, d.v[k].line, d.v[k].msg, seg_check_info((enum seg_check)d.v[k].check)->id,
				      seg_check_info(t[i].check)->id);
			n++;
		}
		ck_assert_msg(n > 0, "%s: no %s", t[i].file, seg_severity_name(t[i].sev));
		ck_assert_msg(d.validated, "%s: the model's checks did not run", t[i].file);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
	/* a file libconfig cannot parse never reaches the model's checks: the
	 * report says "not run" for them, never "passed" */
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	seg_config_load(TEST_CONFIGS "/bad/027-syntax-unterminated-string.conf", today(), &cfg, &d);
	ck_assert(!d.validated && d.n_errors > 0);
	seg_diags_free(&d);
}
END_TEST

/* The zones' interfaces against links (links.c), without a kernel: the
 * links are written here as rtnetlink would give them. */
START_TEST(test_links_judged)
{
	static const char conf[] = "version = 1;\nzones = (\n"
		"{ name = \"my\"; kind = \"mynumber\"; interfaces = [ \"eth1\" ]; networks = [ \"10.10.0.0/24\" ]; },\n"
		"{ name = \"lg\"; kind = \"lgwan\"; interfaces = [ \"eth2\", \"eth2.20\" ]; networks = [ \"10.20.0.0/24\" ]; },\n"
		"{ name = \"in\"; kind = \"internet\"; interfaces = [ \"in0\" ]; networks = [ \"10.30.0.0/24\" ]; },\n"
		"{ name = \"cloud\"; kind = \"external\"; interfaces = [ \"trunk.40\" ]; } );\n";
	/* index, name, lower, master, kind */
	static const struct { const char *what; struct seg_link v[8]; size_t n; size_t errors, warnings; } t[] = {
		{ "all there, plain", { { 1, "eth1", 0, 0, "" }, { 2, "eth2", 0, 0, "" }, { 3, "eth2.20", 2, 0, "vlan" },
				       { 4, "in0", 0, 0, "" }, { 5, "trunk", 0, 0, "" }, { 6, "trunk.40", 5, 0, "vlan" } },
		  6, 0, 0 },
		{ "in0 missing", { { 1, "eth1", 0, 0, "" }, { 2, "eth2", 0, 0, "" }, { 3, "eth2.20", 2, 0, "vlan" },
				  { 5, "trunk", 0, 0, "" }, { 6, "trunk.40", 5, 0, "vlan" } }, 5, 0, 1 },
		{ "in0 a macvlan on the My Number port", { { 1, "eth1", 0, 0, "" }, { 2, "eth2", 0, 0, "" },
		  { 3, "eth2.20", 2, 0, "vlan" }, { 4, "in0", 1, 0, "macvlan" }, { 5, "trunk", 0, 0, "" },
		  { 6, "trunk.40", 5, 0, "vlan" } }, 6, 1, 0 },
		{ "eth1 and in0 ports of one bridge", { { 1, "eth1", 0, 7, "" }, { 2, "eth2", 0, 0, "" },
		  { 3, "eth2.20", 2, 0, "vlan" }, { 4, "in0", 0, 7, "" }, { 5, "trunk", 0, 0, "" },
		  { 6, "trunk.40", 5, 0, "vlan" }, { 7, "br0", 0, 0, "bridge" } }, 7, 2, 0 },
		{ "in0 a VLAN on a bond of the My Number port", { { 1, "eth1", 0, 7, "" }, { 2, "eth2", 0, 0, "" },
		  { 3, "eth2.20", 2, 0, "vlan" }, { 4, "in0", 7, 0, "vlan" }, { 5, "trunk", 0, 0, "" },
		  { 6, "trunk.40", 5, 0, "vlan" }, { 7, "bond0", 0, 0, "bond" } }, 7, 1, 0 },
		/* the negative control of the above: VLANs of one unzoned trunk are separate segments */
		{ "in0 and trunk.40 VLANs of one trunk", { { 1, "eth1", 0, 0, "" }, { 2, "eth2", 0, 0, "" },
		  { 3, "eth2.20", 2, 0, "vlan" }, { 4, "in0", 5, 0, "vlan" }, { 5, "trunk", 0, 0, "" },
		  { 6, "trunk.40", 5, 0, "vlan" } }, 6, 0, 0 },
	};
	for (int i = 0; i < N(t); i++) {
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		struct seg_links l = { (struct seg_link *)t[i].v, t[i].n };
		ck_assert_int_eq(seg_config_load_string(conf, "links.conf", today(), &cfg, &d), 0);
		size_t e0 = d.n_errors, w0 = d.n_warnings;
		seg_links_check(cfg, &l, &d);
		char *all = dump(&d);
		ck_assert_msg(d.n_errors - e0 == t[i].errors && d.n_warnings - w0 == t[i].warnings,
			      "%s: %zu errors, %zu warnings; got:\n%s", t[i].what, d.n_errors - e0, d.n_warnings - w0, all);
		for (size_t k = 0; k < d.n; k++)
			ck_assert_msg(d.v[k].sev != SEG_SEV_ERROR || (strstr(d.v[k].msg, "is joined to") &&
				      d.v[k].check == SEG_CHECK_ZONES), "%s", d.v[k].msg);
		free(all);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* An approval that is there but wrong is said once, at its own line. */
START_TEST(test_approval_one_error)
{
	static const struct { const char *line, *error; } t[] = {
		{ "approval = 7;", "'approval' must be a string, not a number" },
		{ "approval = \"\";", "'approval' is empty" },
		{ "comment = \"none\";", "'approval' is missing" },
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n"
				   "{ name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [ \"10.20.0.0/24\" ]; },\n"
				   "{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ]; networks = [ \"10.30.0.0/24\" ]; } );\n"
				   "conduits = ( { name = \"c\"; kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
				   "  destinations = [ \"10.30.0.33\" ]; services = [ \"tcp/3389\" ]; expires = \"2027-12-31\";\n"
				   "  %s } );\n", t[i].line) > 0);
		ck_assert_int_eq(seg_config_load_string(text, "approval.conf", today(), &cfg, &d), -EINVAL);
		char *all = dump(&d);
		int want_line = strstr(t[i].error, "missing") ? 5 : 7;
		ck_assert_msg(has_diag(&d, SEG_SEV_ERROR, want_line, t[i].error), "%s: no '%s' on line %d; got:\n%s",
			      t[i].line, t[i].error, want_line, all);
		ck_assert_msg(d.n_errors == 1, "%s: %zu errors, expected one; got:\n%s", t[i].line, d.n_errors, all);
		free(all);
		free(text);
		seg_diags_free(&d);
	}
}
END_TEST

START_TEST(test_broken_list_not_missing)
{
	static const struct { const char *zones, *conduit, *error; } t[] = {
		{ "{ name = \"my\"; kind = \"mynumber\"; interfaces = [ \"eth1\" ]; networks = [ \"10.10.0.0/24\" ]; },\n",
		  "kind = \"specific\"; from = \"my\"; to = \"lgwan\"; sources = [ \"10.10.0.5\" ];\n"
		  "  destinations = [ \"lgwan\" ];", "destinations 'lgwan': not an address" },
		{ "", "kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
		  "  destinations = [ \"10.30.0.333\" ];", "destinations '10.30.0.333': not an address" },
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n%s"
				   "{ name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [ \"10.20.0.0/24\" ]; },\n"
				   "{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ]; networks = [ \"10.30.0.0/24\" ]; } );\n"
				   "conduits = ( { name = \"c\"; %s\n"
				   "  services = [ \"tcp/443\" ]; approval = \"A-1\"; expires = \"2027-12-31\"; } );\n",
				   t[i].zones, t[i].conduit) > 0);
		ck_assert_int_eq(seg_config_load_string(text, "broken.conf", today(), &cfg, &d), -EINVAL);
		char *all = dump(&d);
		ck_assert_msg(has_diag(&d, SEG_SEV_ERROR, 7, t[i].error) || has_diag(&d, SEG_SEV_ERROR, 6, t[i].error),
			      "no '%s'; got:\n%s", t[i].error, all);
		ck_assert_msg(d.n_errors == 1, "%zu errors, expected only the entry's; got:\n%s", d.n_errors, all);
		free(all);
		free(text);
		seg_diags_free(&d);
	}
}
END_TEST

START_TEST(test_expires_one_error)
{
	static const struct { const char *line; const char *error; } t[] = {
		{ "expires = \"2027-13-01\";", "expires '2027-13-01': no such date" },
		{ "expires = \"2027-02-30\";", "expires '2027-02-30': no such date" },
		{ "expires = \"27-03-31\";", "expires '27-03-31': not a date" },
		{ "expires = \"\";", "expires '': not a date" },
		{ "expires = 20270331;", "'expires' must be a string, not a number" },
		{ "expires = [ \"2027-03-31\" ];", "'expires' must be a string, not an array" },
		{ "comment = \"no date\";", "'expires' is missing" },
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n"
				   "{ name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [ \"10.20.0.0/24\" ]; },\n"
				   "{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ]; networks = [ \"10.30.0.0/24\" ]; } );\n"
				   "conduits = ( { name = \"c\"; kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
				   "  destinations = [ \"10.30.0.33\" ]; services = [ \"tcp/3389\" ]; approval = \"A-1\";\n"
				   "  %s } );\n", t[i].line) > 0);
		ck_assert_int_eq(seg_config_load_string(text, "expires.conf", today(), &cfg, &d), -EINVAL);
		char *all = dump(&d);
		int want_line = strstr(t[i].error, "missing") ? 5 : 7;
		ck_assert_msg(has_diag(&d, SEG_SEV_ERROR, want_line, t[i].error), "%s: no '%s' on line %d; got:\n%s",
			      t[i].line, t[i].error, want_line, all);
		ck_assert_msg(d.n_errors == 1 && d.n == 1, "%s: %zu diagnostics, expected one; got:\n%s", t[i].line,
			      d.n, all);
		free(all);
		free(text);
		seg_diags_free(&d);
	}
}
END_TEST

/* settings.table: the name rule, no nft keyword (segctl rules prints it
 * unquoted), no table of another program (segd replaces its table). */
START_TEST(test_table_names)
{
	static const struct { const char *table; const char *error; } t[] = {
		{ "segd", NULL }, { "a", NULL }, { "seg-gw_1", NULL }, { "ip-x", NULL }, { "counter_a", NULL },
		{ "segd-segmentation-enforcement", NULL }, { "filter2", NULL }, { "z", NULL },
		{ "Segd", "is not allowed: 1-31 characters" }, { "seg d", "is not allowed" },
		{ "seg.d", "is not allowed" }, { "-segd", "is not allowed" }, { "_segd", "is not allowed" },
		{ "9", "is not allowed" }, { "", "is not allowed" }, { "segd\\x", "is not allowed" },
		{ "accept", "is an nft keyword" }, { "xt", "is an nft keyword" }, { "table", "is an nft keyword" },
		{ "inet", "is an nft keyword" }, { "ip6", "is an nft keyword" }, { "gc-interval", "is an nft keyword" },
		{ "rt0", "is an nft keyword" }, { "vmap", "is an nft keyword" }, { "meta", "is an nft keyword" },
		{ "filter", "it must have a table of its own" }, { "nat", "of another program" },
		{ "mangle", "of another program" }, { "raw", "of another program" }, { "security", "of another program" },
		{ "firewalld", "of another program" }, { "docker", "of another program" },
		{ "libvirt", "of another program" }, { "ufw", "of another program" },
		{ "segd-segmentation-enforcement-t", NULL },
		{ "segd-segmentation-enforcement-ta", "is longer than 31 characters" },
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "version = 1;\nsettings = {\n  table = \"%s\";\n};\n"
				   "zones = ( { name = \"cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; } );\n",
				   t[i].table) > 0);
		int r = seg_config_load_string(text, "table.conf", today(), &cfg, &d);
		char *all = dump(&d);
		if (!t[i].error) {
			ck_assert_msg(r == 0, "table '%s' refused:\n%s", t[i].table, all);
			ck_assert_str_eq(cfg->settings.table, t[i].table);
		} else {
			ck_assert_msg(r == -EINVAL && has_diag(&d, SEG_SEV_ERROR, 3, t[i].error) && d.n_errors == 1,
				      "table '%s': want one error '%s' on line 3; got:\n%s", t[i].table, t[i].error, all);
			assert_well_formed("table.conf", &d, false);
		}
		free(all);
		free(text);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* Each entry of a multi-line array has the line it is written on, whatever
 * follows it: libconfig alone gives a string the line of the next token. */
START_TEST(test_entry_lines)
{
	static const char *const text[] = {
		"version = 1;",                                                            /* 1 */
		"zones = (",
		"  { name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ];",
		"    networks = [ /* first ] , \"x\" */",
		"      \"10.20.0.0/24\" ,   # a comment with ] and , and \"10.99.0.0/24\"",   /* 5 */
		"      \"10.21.\" \"0.0/24\"",                                              /* 6 */
		"      ,",
		"      \"fd00:20::/64\"",                                                   /* 8 */
		"",
		"    ]; },",
		"  { name = \"cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; }",
		");",
		"conduits = ( { name = \"c\"; kind = \"screen\"; from = \"lgwan\"; to = \"cloud\";",
		"  sources = [ \"10.20.0.5\", \"10.21.0.7\",",                            /* 14 */
		"    \"fd00:20::5\" ];",                                                    /* 15 */
		"  destinations = [",
		"    \"203.0.113.10\",",                                                   /* 17 */
		"    \"2001:db8::10\"",                                                    /* 18 */
		"  ];",
		"  services = [ \"tcp/3389\" ]; approval = \"A-1\"; expires = \"2027-12-31\"; } );",
	};
	static const struct { const char *eol; } variants[] = { { "\n" }, { "\r\n" } };
	for (int v = 0; v < N(variants); v++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		for (int i = 0; i < N(text); i++)
			fprintf(f, "%s%s", text[i], variants[v].eol);
		fclose(f);
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		int r = seg_config_load_string(buf, "lines.conf", today(), &cfg, &d);
		char *all = dump(&d);
		ck_assert_msg(r == 0, "variant %d:\n%s", v, all);
		const struct seg_zone *z = &cfg->zones[0];
		ck_assert_uint_eq(z->n_nets, 3);
		assert_prefix(&z->nets[0], "10.20.0.0/24", 5);
		assert_prefix(&z->nets[1], "10.21.0.0/24", 6);
		assert_prefix(&z->nets[2], "fd00:20::/64", 8);
		const struct seg_conduit *c = &cfg->conduits[0];
		assert_prefix(&c->srcs[0], "10.20.0.5", 14);
		assert_prefix(&c->srcs[1], "10.21.0.7", 14);
		assert_prefix(&c->srcs[2], "fd00:20::5", 15);
		assert_prefix(&c->dsts[0], "203.0.113.10", 17);
		assert_prefix(&c->dsts[1], "2001:db8::10", 18);
		free(all);
		free(buf);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* ---- overlap checks against comparing every pair ---- */

static uint32_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* A random IPv4 prefix inside 10.0.0.0/base, of length base..32, as text. */
static void random_prefix(char *buf, size_t len, struct seg_prefix *p, unsigned base)
{
	unsigned plen = base + rnd() % (33 - base);
	uint32_t a = (10u << 24) | (rnd() & ((1u << (32 - base)) - 1));
	const char *why;

	if (plen < 32)
		a &= ~((1u << (32 - plen)) - 1);
	snprintf(buf, len, "%u.%u.%u.%u/%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255, plen);
	ck_assert_int_eq(seg_prefix_parse(buf, p, &why), 0);
}

static size_t count_diags(const struct seg_diags *d, int line, const char *text)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += d->v[i].sev == SEG_SEV_ERROR && d->v[i].line == line && strstr(d->v[i].msg, text);
	return n;
}

/* One conduit's sources: an entry is reported once when it overlaps any
 * entry listed before it, exactly as comparing every pair says. */
START_TEST(test_endpoint_overlaps_pairwise)
{
	enum { N_SRC = 400, HEAD = 8 };
	struct seg_prefix *v = calloc(N_SRC, sizeof(*v));
	char *buf = NULL, pfx[64];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	rnd_state = 1000u + (uint32_t)_i;
	fprintf(f, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ];"
		" networks = [ \"8.0.0.0/6\" ]; },\n{ name = \"cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; } );\n"
		"conduits = ( { name = \"c\"; kind = \"egress\"; from = \"internet\"; to = \"cloud\";\n"
		"services = [ \"tcp/1\" ]; approval = \"A\"; expires = \"2027-12-31\"; destinations = [ \"203.0.113.1\" ];\nsources = [\n");
	for (int i = 0; i < N_SRC; i++) {         /* entry i on line HEAD + i */
		random_prefix(pfx, sizeof(pfx), &v[i], 20 + (unsigned)_i * 4);
		fprintf(f, "\"%s\"%s\n", pfx, i + 1 < N_SRC ? "," : "");
	}
	fprintf(f, "]; } );\n");
	fclose(f);
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	seg_config_load_string(buf, "pairs.conf", today(), &cfg, &d);
	size_t want_total = 0;
	for (int i = 0; i < N_SRC; i++) {
		bool want = false;
		for (int j = 0; j < i && !want; j++)
			want = seg_prefix_overlaps(&v[i], &v[j]);
		want_total += want;
		ck_assert_msg(count_diags(&d, HEAD + i, "is already covered by an earlier entry") == want,
			      "seed %d, line %d: want %d", _i, HEAD + i, want);
	}
	ck_assert_uint_eq(d.n_errors, want_total);
	ck_assert_uint_gt(want_total, 0);
	ck_assert_uint_lt(want_total, N_SRC);
	free(buf);
	free(v);
	seg_diags_free(&d);
	seg_config_free(cfg);
}
END_TEST

/* Zone networks: every overlapping pair is one error on the later network,
 * naming the earlier one and its zone (at most 16 named per network). */
START_TEST(test_zone_network_overlaps_pairwise)
{
	enum { ZONES = 6, NETS = 40, HEAD = 3 };
	struct seg_prefix v[ZONES * NETS];
	char text[ZONES * NETS][64];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	rnd_state = 2000u + (uint32_t)_i;
	fprintf(f, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n");
	for (int z = 0, line = HEAD; z < ZONES; z++) {
		fprintf(f, "{ name = \"z%d\"; kind = \"lgwan\"; interfaces = [ \"eth%d\" ]; networks = [\n", z, z);
		line++;
		for (int k = 0; k < NETS; k++, line++) {
			random_prefix(text[z * NETS + k], sizeof(text[0]), &v[z * NETS + k], 19 + (unsigned)_i * 3);
			v[z * NETS + k].line = line;
			fprintf(f, "\"%s\"%s\n", text[z * NETS + k], k + 1 < NETS ? "," : "");
		}
		fprintf(f, "]; }%s\n", z + 1 < ZONES ? "," : "");
		line++;
	}
	fprintf(f, ");\n");
	fclose(f);
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	seg_config_load_string(buf, "zones.conf", today(), &cfg, &d);
	size_t want_total = 0;
	for (int i = 0; i < ZONES * NETS; i++) {
		size_t want = 0;
		for (int j = 0; j < i; j++) {
			if (!seg_prefix_overlaps(&v[i], &v[j]))
				continue;
			char msg[256], a[64], b[64];
			seg_prefix_format(&v[i], a, sizeof(a));
			seg_prefix_format(&v[j], b, sizeof(b));
			if (i / NETS == j / NETS)
				snprintf(msg, sizeof(msg), "zone 'z%d': network '%s' overlaps '%s' of the same zone — ",
					 i / NETS, a, b);
			else
				snprintf(msg, sizeof(msg), "zone 'z%d': network '%s' overlaps '%s' of zone 'z%d' — ",
					 i / NETS, a, b, j / NETS);
			if (++want <= 16)
				ck_assert_msg(count_diags(&d, v[i].line, msg) >= 1, "seed %d: no '%s' on line %d",
					      _i, msg, v[i].line);
		}
		size_t got = count_diags(&d, v[i].line, "overlaps");
		ck_assert_msg(got == (want < 16 ? want : 16), "seed %d line %d: %zu overlap errors, want %zu", _i,
			      v[i].line, got, want);
		want_total += want < 16 ? want : 16;
	}
	ck_assert_uint_eq(d.n_errors, want_total);
	ck_assert_uint_gt(want_total, 0);
	free(buf);
	seg_diags_free(&d);
	seg_config_free(cfg);
}
END_TEST

/* Under ASan, libconfig 1.5 alone takes 20 s for 200,000 array entries: it
 * grows an array by 16 entries a realloc, and ASan's realloc always copies. */
#ifdef __SANITIZE_ADDRESS__
#define MANY_SOURCES 50000u
#else
#define MANY_SOURCES 200000u
#endif

/* One conduit with 200,000 sources (one a line) and zones of 1,024 networks;
 * 100,000 conduits of one source each: both load (the pairwise checks once
 * took 184 s and 2.1 s; make bench watches the time, tests the results). */
START_TEST(test_many_endpoints)
{
	for (int kind = 0; kind < 2; kind++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		fprintf(f, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ]; networks = [\n");
		for (unsigned i = 0; i < 1024; i++)
			fprintf(f, "\"10.%u.%u.0/18\"%s\n", i / 4, i % 4 * 64, i < 1023 ? "," : "");
		fprintf(f, "]; },\n{ name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [\n");
		for (unsigned i = 0; i < 1024; i++)
			fprintf(f, "\"172.%u.%u.0/24\"%s\n", 16 + i / 256, i % 256, i < 1023 ? "," : "");
		fprintf(f, "]; },\n{ name = \"cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; } );\nconduits = (\n");
		if (kind == 0) {
			fprintf(f, "{ name = \"wide\"; kind = \"egress\"; from = \"internet\"; to = \"cloud\"; sources = [\n");
			for (unsigned i = 1; i <= MANY_SOURCES; i++)   /* last octet 1-254: never a /18's network or broadcast */
				fprintf(f, "\"10.%u.%u.%u\"%s\n", i / 254 >> 8 & 255, i / 254 & 255, i % 254 + 1,
					i < MANY_SOURCES ? "," : "");
			fprintf(f, "]; destinations = [ \"203.0.113.10\" ]; services = [ \"tcp/8080\" ];"
				" approval = \"A\"; expires = \"2027-12-31\"; } );\n");
		} else {
			for (unsigned i = 1; i <= 100000; i++)
				fprintf(f, "{ name = \"c%u\"; kind = \"egress\"; from = \"internet\"; to = \"cloud\";"
					" sources = [ \"10.%u.%u.%u\" ]; destinations = [ \"203.%u.%u.%u\" ];"
					" services = [ \"tcp/%u\" ]; approval = \"A\"; expires = \"2027-12-31\"; }%s\n",
					i, i / 254 >> 8 & 255, i / 254 & 255, i % 254 + 1, i >> 16 & 255, i >> 8 & 255, i & 255,
					i % 60000 + 1, i < 100000 ? "," : "");
			fprintf(f, ");\n");
		}
		fclose(f);
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		int r = seg_config_load_string(buf, "many.conf", today(), &cfg, &d);
		ck_assert_msg(r == 0, "%s", d.n ? d.v[0].msg : "");
		ck_assert_uint_eq(kind ? cfg->n_conduits : cfg->conduits[0].n_srcs, kind ? 100000 : MANY_SOURCES);
		free(buf);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* ---- inputs made at test time ---- */

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/segd-test-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

static char *tmpfile_with(const char *name, const char *text, size_t len, mode_t mode)
{
	char *path;
	ck_assert(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert(write(fd, text, len) == (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
	return path;
}


static const char base_text[] =
	"version = 1;\n"
	"zones = (\n"
	"  { name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ];\n"
	"    networks = [ \"10.30.0.0/16\" ]; },\n"
	"  { name = \"cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; }\n"
	");\n";

/* A 10 MiB file: comments, then 10 MiB of conduits; both load in bounded time
 * (the name check was quadratic once: 13 s for 56,000 conduits). */
START_TEST(test_ten_mib)
{
	const size_t target = 10u << 20;
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	char *text = malloc(target + 4096), *path;
	size_t len = 0, n = 0;

	ck_assert_ptr_nonnull(text);
	make_tmpdir();
	len += (size_t)sprintf(text, "%s", base_text);
	while (len < target)
		len += (size_t)sprintf(text + len, "# %070zu\n", n++);
	path = tmpfile_with("comments.conf", text, len, 0644);
	ck_assert_int_eq(seg_config_load(path, today(), &cfg, &d), 0);
	seg_diags_free(&d);
	seg_config_free(cfg);
	free(path);

	len = (size_t)sprintf(text, "%sconduits = (\n", base_text);
	for (n = 0; len < target; n++)
		len += (size_t)sprintf(text + len, "%s{ name = \"c%zu\"; kind = \"egress\"; from = \"internet\"; to = \"cloud\";"
				       " destinations = [ \"203.0.%zu.%zu\" ]; services = [ \"tcp/%zu\" ];"
				       " approval = \"R8-%zu\"; expires = \"2027-03-31\"; }\n", n ? "," : "",
				       n, n / 250 % 250, n % 250 + 1, n % 60000 + 1, n);
	len += (size_t)sprintf(text + len, ");\n");
	path = tmpfile_with("conduits.conf", text, len, 0644);
	ck_assert_int_eq(seg_config_load(path, today(), &cfg, &d), 0);
	ck_assert_uint_eq(cfg->n_conduits, n);
	seg_diags_free(&d);
	seg_config_free(cfg);
	free(path);

	/* 10 MiB of printable garbage: one syntax error with a line, quickly */
	for (size_t i = 0; i < target; i++)
		text[i] = (char)(i % 97 == 96 ? '\n' : 33 + (i * 7919) % 90);
	path = tmpfile_with("garbage.conf", text, target, 0644);
	ck_assert_int_eq(seg_config_load(path, today(), &cfg, &d), -EINVAL);
	ck_assert_uint_ge(d.n_errors, 1);
	ck_assert_int_gt(d.v[0].line, 0);
	seg_diags_free(&d);
	free(path);
	free(text);
	remove_tmpdir();
}
END_TEST

/* Larger than the loader's 64 MiB limit: refused before reading (a sparse file). */
START_TEST(test_too_large)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	char *path;

	make_tmpdir();
	path = tmpfile_with("huge.conf", "", 0, 0644);
	ck_assert_int_eq(truncate(path, (off_t)65 << 20), 0);
	ck_assert_int_eq(seg_config_load(path, today(), &cfg, &d), -EFBIG);
	ck_assert(has_diag(&d, SEG_SEV_ERROR, 0, "larger than 64 MiB"));
	ck_assert_ptr_null(cfg);
	seg_diags_free(&d);
	free(path);
	remove_tmpdir();
}
END_TEST

START_TEST(test_unreadable)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;

	ck_assert_int_eq(seg_config_load(TEST_CONFIGS "/no/such.conf", today(), &cfg, &d), -ENOENT);
	ck_assert(has_diag(&d, SEG_SEV_ERROR, 0, "cannot read the file"));
	seg_diags_free(&d);
	/* a runtime error (exit 2), not an invalid configuration (-EINVAL, exit 1) */
	ck_assert_int_eq(seg_config_load(TEST_CONFIGS, today(), &cfg, &d), -EISDIR);
	ck_assert(has_diag(&d, SEG_SEV_ERROR, 0, "not a regular file"));
	ck_assert_ptr_null(cfg);
	seg_diags_free(&d);
	ck_assert_int_eq(seg_config_load("/dev/null", today(), &cfg, &d), -ENOTSUP);
	ck_assert(has_diag(&d, SEG_SEV_ERROR, 0, "not a regular file"));
	ck_assert_ptr_null(cfg);
	seg_diags_free(&d);
}
END_TEST

/* Whoever can write the file can open the segmentation: the loader warns. */
START_TEST(test_writable_by_others)
{
	static const struct { mode_t mode; uid_t uid; bool warn; } t[] = {
		{ 0644, 0, false }, { 0600, 0, false }, { 0666, 0, true }, { 0646, 0, true },
		{ 0644, 1234, true },
	};
	size_t len;
	char *text = read_all(TEST_CONFIGS "/good/base.conf", &len);

	make_tmpdir();
	for (int i = 0; i < N(t); i++) {
		char *path = tmpfile_with("mode.conf", text, len, t[i].mode);
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		if (geteuid() != 0 && (t[i].uid == 0 || !t[i].warn)) {
			free(path);
			continue; /* only root can make root-owned files; a non-root owner always warns */
		}
		ck_assert_int_eq(chown(path, t[i].uid, 0), 0);
		ck_assert_int_eq(seg_config_load(path, today(), &cfg, &d), 0);
		ck_assert_msg(has_diag(&d, SEG_SEV_WARNING, 0, "the file is writable by users other than root") ==
			      t[i].warn, "mode %04o uid %u: warning %s", t[i].mode, t[i].uid,
			      t[i].warn ? "missing" : "unexpected");
		/* segd (user segd, group segctl) must still be able to read it */
		ck_assert(!t[i].warn || has_diag(&d, SEG_SEV_WARNING, 0, "chown root:root and chmod 0644 (or 0640 "
						 "root:segctl)"));
		ck_assert(!has_diag(&d, SEG_SEV_WARNING, 0, "the directory"));
		ck_assert_uint_eq(d.n_errors, 0);
		seg_diags_free(&d);
		seg_config_free(cfg);
		unlink(path);
		free(path);
	}
	free(text);
	remove_tmpdir();
}
END_TEST

/* Whoever can write a directory above the file can replace the file. The
 * temporary directory is in /tmp (sticky, root's): only its own mode and
 * owner vary. */
START_TEST(test_dir_writable_by_others)
{
	static const struct { mode_t mode; uid_t uid; gid_t gid; bool warn; } t[] = {
		{ 0700, 0, 0, false }, { 0755, 0, 0, false }, { 0775, 0, 0, false }, { 01777, 0, 0, false },
		{ 0777, 0, 0, true }, { 0757, 0, 0, true }, { 0775, 0, 1234, true }, { 0755, 1234, 0, true },
		{ 01777, 1234, 0, true },
	};
	size_t len;
	char *text = read_all(TEST_CONFIGS "/good/base.conf", &len);

	make_tmpdir();
	char *path = tmpfile_with("dir.conf", text, len, 0644);
	for (int i = 0; i < N(t); i++) {
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		if (geteuid() != 0 && !t[i].warn)
			continue; /* a directory of a non-root user always warns */
		ck_assert_int_eq(chmod(tmpdir, t[i].mode), 0);
		if (geteuid() == 0)
			ck_assert_int_eq(chown(tmpdir, t[i].uid, t[i].gid), 0);
		ck_assert_int_eq(seg_config_load(path, today(), &cfg, &d), 0);
		char *all = dump(&d);
		ck_assert_msg(has_diag(&d, SEG_SEV_WARNING, 0, "the directory '") == t[i].warn,
			      "directory mode %04o uid %u gid %u: warning %s:\n%s", t[i].mode, t[i].uid, t[i].gid,
			      t[i].warn ? "missing" : "unexpected", all);
		ck_assert(!t[i].warn || has_diag(&d, SEG_SEV_WARNING, 0, tmpdir));
		ck_assert(!has_diag(&d, SEG_SEV_WARNING, 0, "the file is"));
		free(all);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
	ck_assert_int_eq(chmod(tmpdir, 0700), 0);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(tmpdir, 0, 0), 0);

	/* a symbolic link: the directory of its target counts too */
	char *sub, *target, *link;
	ck_assert(asprintf(&sub, "%s/sub", tmpdir) > 0 && asprintf(&target, "%s/sub/t.conf", tmpdir) > 0 &&
		  asprintf(&link, "%s/link.conf", tmpdir) > 0);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	ck_assert_int_eq(rename(path, target), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	ck_assert_int_eq(seg_config_load(link, today(), &cfg, &d), 0);
	ck_assert_msg(has_diag(&d, SEG_SEV_WARNING, 0, sub), "no warning about %s", sub);
	ck_assert_uint_eq(d.n_warnings, 1);
	seg_diags_free(&d);
	seg_config_free(cfg);
	unlink(target);
	rmdir(sub);
	free(sub);
	free(target);
	free(link);
	free(path);
	free(text);
	remove_tmpdir();
}
END_TEST

/* Nesting at the limit is libconfig's to judge; one level more is refused first. */
START_TEST(test_nesting_limit)
{
	static const struct { int depth; bool refused; } t[] = { { 15, false }, { 16, false }, { 17, true },
								   { 100, true }, { 100000, true } };
	for (int i = 0; i < N(t); i++) {
		size_t n = (size_t)t[i].depth;
		char *text = malloc(2 * n + 64);
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert_ptr_nonnull(text);
		/* the list 'zones' is the first level */
		size_t len = (size_t)sprintf(text, "version = 1;\nzones = ");
		memset(text + len, '(', n);
		memset(text + len + n, ')', n);
		strcpy(text + len + 2 * n, ";\n");
		ck_assert_int_eq(seg_config_load_string(text, "deep.conf", today(), &cfg, &d), -EINVAL);
		ck_assert_msg(has_diag(&d, SEG_SEV_ERROR, 2, "nesting deeper than") == t[i].refused,
			      "depth %d: refusal %s", t[i].depth, t[i].refused ? "missing" : "unexpected");
		free(text);
		seg_diags_free(&d);
	}
}
END_TEST

/* Integer literals near libconfig's 32-bit limit. */
START_TEST(test_integer_limits)
{
	static const struct { const char *value; int line; const char *error; } t[] = {
		{ "86400", 0, NULL },
		{ "2147483647", 1, "'incident_window' = 2147483647 is out of range" },
		{ "2147483648", 1, "is too large" },
		{ "4294967296", 1, "is too large" },
		{ "4294967318", 1, "is too large" },
		{ "0x7fffffff", 1, "is out of range" },
		{ "0x80000000", 1, "is too large" },
		{ "0xffffffff", 1, "is too large" },
		{ "0x100000016", 1, "is too large" },
		{ "99999999999999999999999", 1, "is too large" },
		{ "-1", 1, "'incident_window' = -1 is out of range" },
		{ "-4294967295", 1, "is too large" },
		{ "4294967318L", 1, "'incident_window' = 4294967318 is out of range" },
		{ "300L", 0, NULL },
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "settings = { incident_window = %s; };\nversion = 1;\n"
				   "zones = ( { name = \"cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; } );\n",
				   t[i].value) > 0);
		int r = seg_config_load_string(text, "int.conf", today(), &cfg, &d);
		if (!t[i].error) {
			ck_assert_msg(r == 0, "incident_window = %s refused", t[i].value);
		} else {
			ck_assert_msg(r == -EINVAL && has_diag(&d, SEG_SEV_ERROR, t[i].line, t[i].error),
				      "incident_window = %s: no error '%s' on line %d", t[i].value, t[i].error, t[i].line);
		}
		free(text);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* Strings must be UTF-8 (they reach diagnostics, JSON and the journal). */
START_TEST(test_utf8_strings)
{
	static const struct { const char *bytes; bool ok; } t[] = {
		{ "plain", true }, { "中間サーバー", true }, { "\xc2\xa9", true }, { "\xf0\x9f\x94\x92", true },
		{ "\xef\xbf\xbf", true }, { "\xf4\x8f\xbf\xbf", true },
		{ "\x92\x86\x8a\xd4", false },          /* 中間 in Shift_JIS */
		{ "\xc3", false }, { "\xc0\xaf", false }, { "\xc1\xbf", false }, { "\xe0\x80\xaf", false },
		{ "\xed\xa0\x80", false }, { "\xf0\x80\x80\xaf", false }, { "\xf4\x90\x80\x80", false },
		{ "\xf5\x80\x80\x80", false }, { "\xff", false }, { "a\x80", false }, { "\xe4\xb8", false },
	};
	for (int i = 0; i < N(t); i++) {
		char *text;
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert(asprintf(&text, "version = 1;\nzones = ( { name = \"mn0\"; kind = \"mynumber\"; interfaces = [ \"eth9\" ]; networks = [ \"192.0.2.0/24\" ]; },\n"
				   "{ name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [ \"10.20.0.0/24\" ]; },\n"
				   "{ name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth3\" ]; networks = [ \"10.30.0.0/24\" ]; } );\n"
				   "conduits = ( { name = \"c\"; kind = \"screen\"; from = \"lgwan\"; to = \"internet\";\n"
				   "  destinations = [ \"10.30.0.33\" ]; services = [ \"tcp/3389\" ]; approval = \"A-1\";\n"
				   "  expires = \"2027-03-31\"; comment = \"%s\"; } );\n", t[i].bytes) > 0);
		int r = seg_config_load_string(text, "utf8.conf", today(), &cfg, &d);
		ck_assert_msg((r == 0) == t[i].ok, "string %d: load returned %d", i, r);
		if (!t[i].ok)
			ck_assert(has_diag(&d, SEG_SEV_ERROR, 7, "'comment' is not valid UTF-8"));
		else
			ck_assert_str_eq(cfg->conduits[0].comment, t[i].bytes);
		free(text);
		seg_diags_free(&d);
		seg_config_free(cfg);
	}
}
END_TEST

/* Several errors of every stage in one text: all are reported, in one run. */
START_TEST(test_all_errors_reported)
{
	static const char text[] =
		"version = 3;\n"                                                             /* 1 */
		"colour = 1;\n"                                                              /* 2 */
		"zones = (\n"
		"  { name = \"lgwan\"; kind = \"lgwan\"; interfaces = [ \"eth2\", \"eth2\" ];\n"   /* 4 */
		"    networks = [ \"10.20.0.0/16\", \"10.20.1.0/24\" ]; },\n"                     /* 5 */
		"  { name = \"internet\"; kind = \"internet\"; interfaces = [ \"eth2\" ];\n"       /* 6 */
		"    networks = [ \"10.20.0.0/24\" ]; },\n"                                     /* 7 */
		"  { name = \"Cloud\"; kind = \"external\"; interfaces = [ \"eth0\" ]; } );\n"     /* 8 */
		"conduits = ( { name = \"c\"; kind = \"specific\"; from = \"lgwan\"; to = \"internet\";\n" /* 9 */
		"  services = [ \"tcp/0\" ]; expires = \"2027-02-30\"; } );\n";              /* 10 */
	static const struct { int line; const char *text; } want[] = {
		{ 1, "version 3 is not supported" }, { 2, "unknown key 'colour'" },
		{ 4, "interface 'eth2' is listed twice" }, { 5, "overlaps '10.20.0.0/16' of the same zone" },
		{ 6, "interface 'eth2' is already in zone 'lgwan'" }, { 7, "overlaps '10.20.0.0/16' of zone 'lgwan'" },
		{ 8, "name 'Cloud' is not allowed" }, { 9, "only \"sanitize\"" }, { 9, "'destinations' is missing" },
		{ 9, "'approval' is missing" }, { 10, "port out of range" }, { 10, "no such date" },
	};
	struct seg_config *cfg = NULL;
	struct seg_diags d;

	ck_assert_int_eq(seg_config_load_string(text, "many.conf", today(), &cfg, &d), -EINVAL);
	char *all = dump(&d);
	for (int i = 0; i < N(want); i++)
		ck_assert_msg(has_diag(&d, SEG_SEV_ERROR, want[i].line, want[i].text),
			      "missing: line %d '%s'; got:\n%s", want[i].line, want[i].text, all);
	ck_assert_uint_ge(d.n_errors, (size_t)N(want));
	free(all);
	seg_diags_free(&d);
}
END_TEST

/* The rendered form: "file:line: error: what — what to do", sorted by line. */
START_TEST(test_diag_rendering)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;

	ck_assert_int_eq(seg_config_load_string("version = 1;\nzones = ( { name = \"a\"; kind = \"lgwan\"; "
						"interfaces = [ \"e/1\" ]; } );\nx = 1;\n", "seg.conf", today(), &cfg, &d),
			 -EINVAL);
	char *all = dump(&d);
	ck_assert_msg(strstr(all, "seg.conf:2: error: zone 'a': interface 'e/1' is a name Linux refuses: ") == all,
		      "got:\n%s", all);
	ck_assert_msg(strstr(all, "\nseg.conf:2: error: zone 'a': 'networks' is missing — "), "got:\n%s", all);
	ck_assert_msg(strstr(all, "\nseg.conf:3: error: file: unknown key 'x' — "), "got:\n%s", all);
	free(all);
	seg_diags_free(&d);

	ck_assert_int_eq(seg_config_load_string("", "empty.conf", today(), &cfg, &d), -EINVAL);
	all = dump(&d);
	ck_assert_msg(strstr(all, "empty.conf: error: 'version' is missing — "), "got:\n%s", all);
	ck_assert_msg(strstr(all, "empty.conf: error: 'zones' is missing — "), "got:\n%s", all);
	free(all);
	seg_diags_free(&d);
}
END_TEST

/* ---- (d) freeing ---- */

START_TEST(test_free_null_and_half_built)
{
	seg_config_free(NULL);
	seg_diags_free(NULL);

	struct seg_config *cfg = calloc(1, sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
	cfg->zones = calloc(3, sizeof(*cfg->zones));
	cfg->n_zones = 3;                                /* zone 1 stays empty */
	cfg->zones[0].name = strdup("lgwan");
	cfg->zones[0].ifaces = calloc(2, sizeof(char *));
	cfg->zones[0].ifaces[0] = strdup("eth2");
	cfg->zones[0].n_ifaces = 1;                      /* slot 1 never filled */
	cfg->zones[2].nets = calloc(1, sizeof(struct seg_prefix));
	cfg->conduits = calloc(2, sizeof(*cfg->conduits));
	cfg->n_conduits = 2;
	cfg->conduits[0].name = strdup("half");
	cfg->conduits[0].expires = strdup("2027-03-31");
	cfg->conduits[1].services = calloc(1, sizeof(struct seg_service));
	cfg->settings.table = strdup("segd");
	seg_config_free(cfg);                            /* ASan/valgrind: no leak, no bad free */
}
END_TEST

/* The loader frees what it built when it fails at every stage. */
START_TEST(test_free_after_failure)
{
	static const char *const texts[] = {
		"@include \"/etc/passwd\"\n",
		"version = 1;\nzones = ( { name = \"a\"; kind = \"lgwan\"; interfaces = [ \"e1\" ];",
		"version = 1;\nzones = ( { name = \"a\"; kind = \"lgwan\"; interfaces = [ \"e1\", \"e1\" ];"
		" networks = [ \"10.0.0.0/8\" ]; gateway_services = [ \"any\" ]; } );\n"
		"conduits = ( { name = \"c\"; kind = \"x\"; from = \"a\"; to = \"b\"; sources = [ \"1.1.1.1\" ];"
		" services = [ \"tcp/1\" ]; approval = \"x\"; expires = \"2027-01-01\"; comment = \"c\"; },"
		" { name = \"c\"; kind = \"egress\"; from = \"a\"; to = \"a\"; services = [ ]; } );\n",
		"version = 1;\nsettings = { table = \"t\"; spool = \"/s\"; log_group = \"x\"; };\nzones = 5;\n",
	};
	for (int i = 0; i < N(texts); i++) {
		struct seg_config *cfg = NULL;
		struct seg_diags d;
		ck_assert_int_eq(seg_config_load_string(texts[i], "f.conf", today(), &cfg, &d), -EINVAL);
		ck_assert_ptr_null(cfg);
		seg_diags_free(&d);
	}
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	n_bad = n_good = 0;
	collect(TEST_CONFIGS "/bad", bad_files, &n_bad);
	collect(TEST_CONFIGS "/good", good_files, &n_good);
	collect("conf", good_files, &n_good);

	tc = tcase_create("catalog");
	tcase_add_test(tc, test_catalog_size);
	tcase_add_loop_test(tc, test_bad_file, 0, n_bad);
	tcase_add_loop_test(tc, test_good_file, 0, n_good);
	tcase_add_loop_test(tc, test_good_file_from_string, 0, n_good);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_add_test(tc, test_detail_settings_and_zones);
	tcase_add_test(tc, test_detail_conduits);
	tcase_add_test(tc, test_expiry_boundaries);
	tcase_add_test(tc, test_expires_one_error);
	tcase_add_test(tc, test_broken_list_not_missing);
	tcase_add_test(tc, test_approval_one_error);
	tcase_add_test(tc, test_checks_stamped);
	tcase_add_test(tc, test_links_judged);
	tcase_add_test(tc, test_table_names);
	tcase_add_test(tc, test_entry_lines);
	tcase_add_loop_test(tc, test_endpoint_overlaps_pairwise, 0, 4);
	tcase_add_loop_test(tc, test_zone_network_overlaps_pairwise, 0, 4);
	tcase_add_test(tc, test_all_errors_reported);
	tcase_add_test(tc, test_diag_rendering);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_set_timeout(tc, 120);   /* 10 MiB under ASan */
	/* The same code on big inputs: plain and under ASan, not under valgrind,
	 * where these two alone took 130 s of make check (valgrind looks at the
	 * small inputs of every other case). */
	if (!RUNNING_ON_VALGRIND) {
		tcase_add_test(tc, test_ten_mib);
		tcase_add_test(tc, test_many_endpoints);
	}
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_unreadable);
	tcase_add_test(tc, test_writable_by_others);
	tcase_add_test(tc, test_dir_writable_by_others);
	tcase_add_test(tc, test_nesting_limit);
	tcase_add_test(tc, test_integer_limits);
	tcase_add_test(tc, test_utf8_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_add_test(tc, test_free_null_and_half_built);
	tcase_add_test(tc, test_free_after_failure);
	suite_add_tcase(s, tc);
	return s;
}
