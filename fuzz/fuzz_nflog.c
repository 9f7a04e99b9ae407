/*
 * fuzz_nflog.c - the NFLOG decoder and the incident table behind it.
 *
 * The input is one or more records as libpcap delivers them, separated by
 * the 6 bytes "\xffSEGD\xff" (a single record, like the captures in tests/nflog/, is a
 * valid input). Every record is decoded and counted into a small table (8
 * open incidents, 4 overflow ones, so that overflow is reached), at
 * advancing times; closed incidents are rendered as journal fields and JSON.
 * Property: the accounting identity of incident.h holds after every record
 * (records = packets + undecodable + foreign, not_sampled = seq_gaps +
 * undecodable).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "fuzz.h"
#include "incident.h"
#include "nflog.h"

#define SEP     "\xffSEGD\xff"
#define SEP_LEN 6

/* Zone names of the kinds, for the incidents' priorities. Loaded once. */
static const char fixture_conf[] =
	"version = 1;\n"
	"zones = (\n"
	" { name = \"mynumber\"; kind = \"mynumber\"; interfaces = [\"m0\"]; networks = [\"10.1.0.0/16\", \"fd00:1::/64\"]; },\n"
	" { name = \"lgwan\"; kind = \"lgwan\"; interfaces = [\"l0\"]; networks = [\"10.2.0.0/16\", \"fd00:2::/64\"]; },\n"
	" { name = \"internet\"; kind = \"internet\"; interfaces = [\"i0\"]; networks = [\"10.3.0.0/16\", \"fd00:3::/64\"]; },\n"
	" { name = \"external\"; kind = \"external\"; interfaces = [\"e0\"]; networks = [\"0.0.0.0/0\", \"::/0\"]; }\n"
	");\n";

static const struct seg_config *fixture(void)
{
	static struct seg_config *cfg;
	static bool tried;

	if (!tried) {
		struct seg_diags d;
		tried = true;
		if (seg_config_load_string(fixture_conf, "fixture.conf", 20000, &cfg, &d) < 0)
			cfg = NULL;
		seg_diags_free(&d);
	}
	return cfg;
}

static void render(const struct seg_incident *inc, void *ctx)
{
	struct seg_journal_entry *e = NULL;
	char *line = NULL;
	size_t len;

	(void)ctx;
	if (seg_incident_journal(inc, inc->in_ifindex ? "eth0" : NULL, NULL, &e) == 0)
		free(e);
	if (seg_incident_json(inc, NULL, "eth1", &line, &len) == 0)
		free(line);
}

static bool totals_hold(const struct seg_incidents *t)
{
	struct seg_incident_totals s;

	seg_incidents_totals(t, &s);
	return s.records == s.packets + s.undecodable + s.foreign &&
	       s.not_sampled == s.seq_gaps + s.undecodable && s.folded_packets <= s.packets;
}

/* Decodes and counts one record; false when the accounting broke. */
static bool feed(struct seg_incidents *t, const uint8_t *rec, size_t len, int64_t now)
{
	struct seg_nflog_rec r;
	enum seg_nflog_status st = seg_nflog_decode(rec, len, &r);

	(void)seg_nflog_status_name(st);
	if (st == SEG_NFLOG_OK || seg_nflog_usable(st))
		(void)seg_nflog_proto_name(r.proto);
	seg_incidents_add(t, &r, st, fixture(), 1764158400000000 + now, now);
	seg_incidents_expire(t, now, render, NULL);
	return totals_hold(t);
}

int seg_fuzz_nflog(const uint8_t *data, size_t size)
{
	struct seg_incidents_opts o = { .window_s = 2, .max_open = 8, .max_overflow = 4, .hash_seed = 42,
					.first_id = 1 };
	struct seg_incidents *t = NULL;
	const uint8_t *p = data, *end = data + size;
	int64_t now = 1000000;
	bool ok = true;

	if (seg_incidents_new(&o, &t) < 0)
		return 0;
	while (ok) {
		const uint8_t *sep = memmem(p, (size_t)(end - p), SEP, SEP_LEN);
		const uint8_t *stop = sep ? sep : end;
		ok = feed(t, p, (size_t)(stop - p), now);
		now += 700000;          /* 0.7 s: a few records share a window */
		if (!sep)
			break;
		p = sep + SEP_LEN;
	}
	seg_incidents_flush(t, render, NULL);
	ok = ok && totals_hold(t);
	seg_incidents_free(t);
	return ok ? 0 : -1;
}

#ifdef SEG_FUZZ_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (seg_fuzz_nflog(data, size) < 0)
		abort();
	return 0;
}
#endif
