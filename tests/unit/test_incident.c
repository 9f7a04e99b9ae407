/* test_incident.c - aggregation, windows, the bound and its overflow
 * incidents, accounting of sequence gaps, priorities, rendering. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "incident.h"
#include "spool.h"
#include "suites.h"

#define SEC 1000000LL
#define T0 1764158400000000LL        /* 2025-11-26T12:00:00Z */

static struct seg_nflog_rec flow(const char *src, const char *dst, uint8_t proto, uint16_t sport,
				 uint16_t dport)
{
	struct seg_nflog_rec r;

	memset(&r, 0, sizeof(r));
	r.event = SEG_NFLOG_DENIED;
	strcpy(r.from, "mynumber");
	strcpy(r.to, "internet");
	r.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	inet_pton(r.family, src, r.src);
	inet_pton(r.family, dst, r.dst);
	r.proto = proto;
	r.l4 = SEG_L4_PORTS;
	r.sport = sport;
	r.dport = dport;
	r.in_ifindex = 3;
	r.out_ifindex = 4;
	r.has_time = true;
	r.time_us = T0;
	return r;
}

struct sink {
	size_t n;
	struct seg_incident v[64];
	uint64_t packets;
};

static void collect(const struct seg_incident *inc, void *ctx)
{
	struct sink *s = ctx;

	if (s->n < 64)
		s->v[s->n] = *inc;
	s->n++;
	s->packets += inc->packets;
}

static struct seg_incidents *table(uint32_t max_open, uint32_t max_ovf)
{
	struct seg_incidents *t;
	struct seg_incidents_opts o = { .window_s = 60, .max_open = max_open,
					.max_overflow = max_ovf, .hash_seed = 0x1234, .first_id = 1000 };

	ck_assert_int_eq(seg_incidents_new(&o, &t), 0);
	return t;
}

START_TEST(test_aggregate)
{
	struct seg_incidents *t = table(16, 4);
	struct sink s = { 0 };

	for (int i = 0; i < 12; i++) {
		struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 6, (uint16_t)(40112 + i), 443);
		r.time_us = T0 + i * SEC;
		r.seq = (uint32_t)i;
		r.has_seq = true;
		seg_incidents_add(t, &r, SEG_NFLOG_OK, NULL, 0, 5 * SEC + i);
	}
	struct seg_nflog_rec other = flow("10.10.0.2", "10.30.0.2", 6, 40112, 80);
	seg_incidents_add(t, &other, SEG_NFLOG_OK, NULL, 0, 6 * SEC);
	int64_t d;
	ck_assert(seg_incidents_next_deadline(t, &d));
	ck_assert_int_eq(d, 65 * SEC);
	ck_assert_uint_eq(seg_incidents_expire(t, 65 * SEC - 1, collect, &s), 0);
	ck_assert_uint_eq(seg_incidents_expire(t, 65 * SEC, collect, &s), 1);
	ck_assert_uint_eq(s.v[0].packets, 12);
	ck_assert_uint_eq(s.v[0].sport, 40112);   /* of the first packet */
	ck_assert_uint_eq(s.v[0].dport, 443);
	ck_assert_int_eq(s.v[0].first_us, T0);
	ck_assert_int_eq(s.v[0].last_us, T0 + 11 * SEC);
	ck_assert_uint_eq(s.v[0].id, 1000);
	ck_assert_uint_eq(s.v[0].in_ifindex, 3);
	ck_assert_uint_eq(seg_incidents_flush(t, collect, &s), 1);
	ck_assert_uint_eq(s.v[1].id, 1001);
	ck_assert_uint_eq(s.v[1].dport, 80);
	ck_assert(!seg_incidents_next_deadline(t, &d));
	/* The same flow after its window: a new incident. */
	seg_incidents_add(t, &other, SEG_NFLOG_OK, NULL, 0, 100 * SEC);
	ck_assert_uint_eq(seg_incidents_flush(t, collect, &s), 1);
	struct seg_incident_totals tot;
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.packets, 14);
	ck_assert_uint_eq(tot.emitted, 3);
	ck_assert_uint_eq(tot.open, 0);
	seg_incidents_free(t);
}
END_TEST

/* A record without a timestamp takes the wall clock the caller gives. */
START_TEST(test_read_time)
{
	struct seg_incidents *t = table(4, 1);
	struct sink s = { 0 };
	struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 17, 5000, 53);

	r.has_time = false;
	seg_incidents_add(t, &r, SEG_NFLOG_OK, NULL, T0 + 7 * SEC, 0);
	seg_incidents_flush(t, collect, &s);
	ck_assert_int_eq(s.v[0].first_us, T0 + 7 * SEC);
	seg_incidents_free(t);
}
END_TEST

/* Key fields: each variation is a new incident; ports of icmp are not keys. */
START_TEST(test_keys)
{
	struct seg_incidents *t = table(64, 4);
	struct seg_nflog_rec v[8];
	struct seg_incident_totals tot;

	v[0] = flow("10.10.0.2", "10.30.0.2", 6, 1, 443);
	v[1] = v[0]; v[1].dport = 444;
	v[2] = v[0]; v[2].proto = 17;
	v[3] = v[0]; v[3].dst[3] = 3;
	v[4] = v[0]; strcpy(v[4].to, "cloud");
	v[5] = v[0]; v[5].event = SEG_NFLOG_GUARD;
	v[6] = v[0]; v[6].l4 = SEG_L4_FRAGMENT; v[6].dport = 0;
	v[7] = v[0]; v[7].sport = 2;   /* same flow: sport is not a key */
	for (int i = 0; i < 8; i++)
		seg_incidents_add(t, &v[i], SEG_NFLOG_OK, NULL, 0, 0);
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.open, 7);
	ck_assert_uint_eq(tot.packets, 8);
	seg_incidents_free(t);
}
END_TEST

/* Past max_open: one overflow incident per event and zone pair, counting
 * every packet and (about) how many flows; past max_overflow: a catch-all. */
START_TEST(test_overflow)
{
	struct seg_incidents *t = table(4, 1);
	struct sink s = { 0 };
	char a[32];

	for (int i = 0; i < 10; i++) {
		snprintf(a, sizeof(a), "10.10.0.%d", i + 1);
		struct seg_nflog_rec r = flow(a, "10.30.0.2", 6, 1, 443);
		seg_incidents_add(t, &r, SEG_NFLOG_OK, NULL, 0, 0);
		seg_incidents_add(t, &r, SEG_NFLOG_OK, NULL, 0, 0);
	}
	struct seg_nflog_rec g = flow("10.20.0.9", "10.30.0.2", 6, 1, 22);
	g.event = SEG_NFLOG_TO_GATEWAY;
	strcpy(g.from, "lgwan");
	g.to[0] = '\0';
	seg_incidents_add(t, &g, SEG_NFLOG_OK, NULL, 0, 0);
	ck_assert_uint_eq(seg_incidents_flush(t, collect, &s), 6);
	uint64_t sum = 0;
	int ovf = 0;
	for (size_t i = 0; i < s.n; i++) {
		sum += s.v[i].packets;
		if (!s.v[i].overflow)
			continue;
		ovf++;
		if (s.v[i].event == SEG_EVENT_FLOW_DENIED) {
			ck_assert_str_eq(s.v[i].src_zone, "mynumber");
			ck_assert_uint_eq(s.v[i].packets, 12);
			ck_assert_uint_eq(s.v[i].folded, 6);
		} else {
			ck_assert_str_eq(s.v[i].src_zone, "");   /* the catch-all of to-gateway */
			ck_assert_uint_eq(s.v[i].folded, 1);
		}
	}
	ck_assert_int_eq(ovf, 2);
	ck_assert_uint_eq(sum, 21);
	struct seg_incident_totals tot;
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.packets, 21);
	ck_assert_uint_eq(tot.folded_packets, 13);
	seg_incidents_free(t);
}
END_TEST

/* A flood of 200,000 distinct flows within one window: the journal gets at
 * most max_open + max_overflow + events entries, every packet is counted,
 * and the folded-flows estimate is within 5%. */
START_TEST(test_flood)
{
	struct seg_incidents *t = table(4096, 256);
	struct sink s = { 0 };
	const int n = 200000;

	for (int i = 0; i < n; i++) {
		struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 17, 1, (uint16_t)(i % 60000 + 1));
		r.src[2] = (uint8_t)(i / 60000);
		seg_incidents_add(t, &r, SEG_NFLOG_OK, NULL, 0, i);
	}
	ck_assert_uint_eq(seg_incidents_expire(t, 60 * SEC + n, collect, &s), 4097);
	ck_assert_uint_eq(s.packets, (uint64_t)n);
	struct seg_incident_totals tot;
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.folded_packets, (uint64_t)n - 4096);
	seg_incidents_free(t);

	/* the overflow incident's estimate, alone */
	t = table(1, 1);
	for (int i = 0; i < n; i++) {
		struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 17, 1, (uint16_t)(i % 60000 + 1));
		r.src[2] = (uint8_t)(i / 60000);
		seg_incidents_add(t, &r, SEG_NFLOG_OK, NULL, 0, 0);
	}
	struct sink s2 = { 0 };
	seg_incidents_flush(t, collect, &s2);
	ck_assert_uint_eq(s2.n, 2);
	double est = (double)s2.v[1].folded, want = n - 1;
	ck_assert_msg(est > want * 0.95 && est < want * 1.05, "estimate %.0f of %.0f", est, want);
	seg_incidents_free(t);
}
END_TEST

/* packets in incidents + not sampled == what the kernel logged. */
START_TEST(test_accounting)
{
	struct seg_incidents *t = table(8, 2);
	struct seg_incident_totals tot;
	uint32_t kernel = 0;
	unsigned seed = 7;

	for (int i = 0; i < 5000; i++) {
		struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 6, 1, (uint16_t)(i % 50));
		r.has_seq = true;
		r.seq = kernel++;
		unsigned x = rand_r(&seed) % 100;
		if (x < 10)
			continue;                             /* lost on the way */
		enum seg_nflog_status st = x < 13 ? SEG_NFLOG_TRUNCATED_IP : SEG_NFLOG_OK;
		if (x >= 13 && x < 15)
			r.has_seq = false;                    /* cut before NFULA_SEQ */
		seg_incidents_add(t, &r, st, NULL, 0, 0);
	}
	seg_incidents_totals(t, &tot);
	ck_assert_uint_gt(tot.seq_gaps, 0);
	ck_assert_uint_gt(tot.undecodable, 0);
	ck_assert_uint_gt(tot.unnumbered, 0);
	ck_assert_uint_eq(tot.packets + tot.not_sampled, kernel);
	ck_assert_uint_eq(tot.not_sampled, tot.seq_gaps + tot.undecodable);

	/* a foreign record uses a number but is not a denied packet of ours */
	struct seg_nflog_rec f = flow("10.10.0.2", "10.30.0.2", 6, 1, 1);
	f.has_seq = true;
	f.seq = kernel++;
	seg_incidents_add(t, &f, SEG_NFLOG_FOREIGN_PREFIX, NULL, 0, 0);
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.foreign, 1);
	ck_assert_uint_eq(tot.packets + tot.not_sampled + tot.foreign, kernel);

	/* the group is bound again: numbering from 0, no gap */
	seg_incidents_seq_restart(t);
	uint64_t gaps = tot.seq_gaps;
	f.seq = 0;
	seg_incidents_add(t, &f, SEG_NFLOG_OK, NULL, 0, 0);
	/* a jump backwards without a restart: a reset, not 4 billion gaps */
	f.seq = 0;
	seg_incidents_add(t, &f, SEG_NFLOG_OK, NULL, 0, 0);
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.seq_gaps, gaps);
	ck_assert_uint_eq(tot.seq_resets, 1);
	/* the numbering wraps at 2^32 */
	f.seq = UINT32_MAX;
	seg_incidents_seq_restart(t);
	seg_incidents_add(t, &f, SEG_NFLOG_OK, NULL, 0, 0);
	uint64_t before = 0;
	seg_incidents_totals(t, &tot);
	before = tot.seq_gaps;
	f.seq = 1;
	seg_incidents_add(t, &f, SEG_NFLOG_OK, NULL, 0, 0);
	seg_incidents_totals(t, &tot);
	ck_assert_uint_eq(tot.seq_gaps, before + 1);
	seg_incidents_free(t);
}
END_TEST

static const struct { int a, b, want; } prio_cases[] = {
	{ SEG_ZONE_MYNUMBER, SEG_ZONE_INTERNET, 2 }, { SEG_ZONE_LGWAN, SEG_ZONE_MYNUMBER, 2 },
	{ SEG_ZONE_MYNUMBER, -1, 2 }, { -1, SEG_ZONE_MYNUMBER, 2 },
	{ SEG_ZONE_LGWAN, SEG_ZONE_INTERNET, 3 }, { SEG_ZONE_EXTERNAL, SEG_ZONE_LGWAN, 3 },
	{ SEG_ZONE_INTERNET, SEG_ZONE_EXTERNAL, 4 }, { SEG_ZONE_LGWAN, SEG_ZONE_LGWAN, 4 },
	{ SEG_ZONE_LGWAN, -1, 4 }, { -1, -1, 4 },
};

START_TEST(test_priority)
{
	ck_assert_int_eq(seg_incident_priority(prio_cases[_i].a, prio_cases[_i].b), prio_cases[_i].want);
}
END_TEST

/* Zone kinds come from the configuration by name. */
START_TEST(test_priority_cfg)
{
	struct seg_zone zones[3] = {
		{ .name = "mn", .kind = SEG_ZONE_MYNUMBER }, { .name = "lg", .kind = SEG_ZONE_LGWAN },
		{ .name = "net", .kind = SEG_ZONE_INTERNET },
	};
	struct seg_config cfg = { .zones = zones, .n_zones = 3 };
	struct seg_incidents *t = table(8, 2);
	struct sink s = { 0 };
	struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 6, 1, 443);

	strcpy(r.from, "lg");
	strcpy(r.to, "net");
	seg_incidents_add(t, &r, SEG_NFLOG_OK, &cfg, 0, 0);
	strcpy(r.to, "mn");
	seg_incidents_add(t, &r, SEG_NFLOG_OK, &cfg, 0, 1);
	strcpy(r.to, "lg");
	seg_incidents_add(t, &r, SEG_NFLOG_OK, &cfg, 0, 2);
	seg_incidents_flush(t, collect, &s);
	ck_assert_int_eq(s.v[0].priority, 3);
	ck_assert_int_eq(s.v[1].priority, 2);
	ck_assert_int_eq(s.v[2].priority, 4);
	seg_incidents_free(t);
}
END_TEST

static struct seg_incident emitted_one(struct seg_nflog_rec *r, uint64_t packets)
{
	struct seg_incidents *t = table(8, 2);
	struct sink s = { 0 };

	for (uint64_t i = 0; i < packets; i++) {
		r->time_us = T0 + (int64_t)i * 250000;
		seg_incidents_add(t, r, SEG_NFLOG_OK, NULL, 0, 0);
	}
	seg_incidents_flush(t, collect, &s);
	seg_incidents_free(t);
	return s.v[0];
}

static const char *field(const struct seg_journal_entry *e, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; i < e->n; i++) {
		const char *f = e->iov[i].iov_base;
		if (e->iov[i].iov_len > kl && strncmp(f, key, kl) == 0 && f[kl] == '=')
			return f + kl + 1;
	}
	return NULL;
}

START_TEST(test_journal_fields)
{
	struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 6, 40112, 443);
	struct seg_incident inc = emitted_one(&r, 12);
	struct seg_journal_entry *e;

	inc.priority = 2;
	ck_assert_int_eq(seg_incident_journal(&inc, "eth1", "eth3", &e), 0);
	ck_assert_str_eq(field(e, "MESSAGE"),
			 "denied mynumber → internet: tcp 10.10.0.2:40112 → 10.30.0.2:443 (12 packets)");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), "6c4adeefc8ef443f8ce94bb12b9b459e");
	ck_assert_str_eq(field(e, "PRIORITY"), "2");
	ck_assert_str_eq(field(e, "SYSLOG_IDENTIFIER"), "segd");
	ck_assert_str_eq(field(e, "SEGD_EVENT"), "flow-denied");
	ck_assert_str_eq(field(e, "SEGD_SRC_ZONE"), "mynumber");
	ck_assert_str_eq(field(e, "SEGD_DST_ZONE"), "internet");
	ck_assert_str_eq(field(e, "SEGD_SRC"), "10.10.0.2");
	ck_assert_str_eq(field(e, "SEGD_DST"), "10.30.0.2");
	ck_assert_str_eq(field(e, "SEGD_PROTO"), "tcp");
	ck_assert_str_eq(field(e, "SEGD_SPORT"), "40112");
	ck_assert_str_eq(field(e, "SEGD_DPORT"), "443");
	ck_assert_str_eq(field(e, "SEGD_PACKETS"), "12");
	ck_assert_str_eq(field(e, "SEGD_FIRST"), "2025-11-26T12:00:00.000Z");
	ck_assert_str_eq(field(e, "SEGD_LAST"), "2025-11-26T12:00:02.750Z");
	ck_assert_str_eq(field(e, "SEGD_IN"), "eth1");
	ck_assert_str_eq(field(e, "SEGD_OUT"), "eth3");
	ck_assert_str_eq(field(e, "SEGD_INCIDENT_ID"), "1000");
	ck_assert_ptr_null(field(e, "SEGD_FOLDED"));
	for (size_t i = 0; i < e->n; i++)
		ck_assert_uint_eq(strlen(e->iov[i].iov_base), e->iov[i].iov_len);
	free(e);
}
END_TEST

START_TEST(test_journal_kinds)
{
	struct seg_nflog_rec r = flow("fd00:10::2", "fd00:30::2", 17, 5353, 53);
	struct seg_journal_entry *e;
	struct seg_incident inc = emitted_one(&r, 1);

	ck_assert_int_eq(seg_incident_journal(&inc, NULL, NULL, &e), 0);
	ck_assert_str_eq(field(e, "MESSAGE"),
			 "denied mynumber → internet: udp [fd00:10::2]:5353 → [fd00:30::2]:53 (1 packet)");
	ck_assert_str_eq(field(e, "SEGD_IN"), "if3");
	free(e);

	r = flow("10.20.0.5", "10.20.0.1", 1, 0, 0);
	r.l4 = SEG_L4_ICMP;
	r.icmp_type = 8;
	r.event = SEG_NFLOG_TO_GATEWAY;
	strcpy(r.from, "lgwan");
	r.to[0] = '\0';
	r.out_ifindex = 0;
	inc = emitted_one(&r, 2);
	ck_assert_int_eq(seg_incident_journal(&inc, "eth2", NULL, &e), 0);
	ck_assert_str_eq(field(e, "MESSAGE"),
			 "to the gateway lgwan → gateway: icmp 10.20.0.5 → 10.20.0.1 type 8 code 0 (2 packets)");
	ck_assert_str_eq(field(e, "MESSAGE_ID"), "367ccd5ece284adb909c0bbeaa6b04c1");
	ck_assert_str_eq(field(e, "SEGD_EVENT"), "to-gateway");
	ck_assert_str_eq(field(e, "SEGD_ICMP_TYPE"), "8");
	ck_assert_ptr_null(field(e, "SEGD_DST_ZONE"));
	ck_assert_ptr_null(field(e, "SEGD_SPORT"));
	ck_assert_ptr_null(field(e, "SEGD_DPORT"));
	ck_assert_ptr_null(field(e, "SEGD_OUT"));
	free(e);

	r = flow("10.10.0.2", "10.30.0.2", 17, 0, 0);
	r.l4 = SEG_L4_FRAGMENT;
	r.event = SEG_NFLOG_SPOOFED;
	inc = emitted_one(&r, 3);
	ck_assert_int_eq(seg_incident_journal(&inc, NULL, NULL, &e), 0);
	ck_assert_str_eq(field(e, "SEGD_EVENT"), "spoofed-source");
	ck_assert_str_eq(field(e, "SEGD_FRAGMENT"), "1");
	ck_assert_ptr_null(field(e, "SEGD_DPORT"));
	ck_assert_ptr_nonnull(strstr(field(e, "MESSAGE"), "ports unknown"));
	free(e);
}
END_TEST

START_TEST(test_overflow_render)
{
	struct seg_incident inc = { .event = SEG_EVENT_FLOW_DENIED, .cause = SEG_NFLOG_DENIED,
				    .priority = 2, .packets = 5000, .overflow = true, .folded = 1234,
				    .first_us = T0, .last_us = T0 + SEC, .id = 7 };
	struct seg_journal_entry *e;

	strcpy(inc.src_zone, "mynumber");
	strcpy(inc.dst_zone, "internet");
	ck_assert_int_eq(seg_incident_journal(&inc, NULL, NULL, &e), 0);
	ck_assert_str_eq(field(e, "MESSAGE"), "denied mynumber → internet: 1234 more flows folded, "
			 "incident table full (5000 packets)");
	ck_assert_str_eq(field(e, "SEGD_FOLDED"), "1234");
	ck_assert_ptr_null(field(e, "SEGD_SRC"));
	free(e);
}
END_TEST

/* The spool line: journal names without SEGD_, lower-case; numbers as numbers. */
START_TEST(test_json)
{
	struct seg_nflog_rec r = flow("10.10.0.2", "10.30.0.2", 6, 40112, 443);
	struct seg_incident inc = emitted_one(&r, 12);
	struct seg_spool_rec rec;
	char *line, scratch[2048];
	size_t len;

	strcpy(inc.src_zone, "my\"zone");   /* hostile text stays data */
	ck_assert_int_eq(seg_incident_json(&inc, "eth1", "eth3", &line, &len), 0);
	ck_assert_uint_eq(strlen(line), len);
	ck_assert_int_eq(line[len - 1], '\n');
	ck_assert_ptr_null(memchr(line, '\n', len - 1));
	ck_assert_ptr_nonnull(strstr(line, "\"packets\":12,"));
	ck_assert_ptr_nonnull(strstr(line, "\"message_id\":\"6c4adeefc8ef443f8ce94bb12b9b459e\""));
	ck_assert_int_eq(seg_spool_parse_line(line, len - 1, scratch, &rec), 0);
	ck_assert_str_eq(seg_spool_get(&rec, "src_zone"), "my\"zone");
	ck_assert_str_eq(seg_spool_get(&rec, "dport"), "443");
	ck_assert_str_eq(seg_spool_get(&rec, "in"), "eth1");
	ck_assert_str_eq(seg_spool_get(&rec, "incident_id"), "1000");
	ck_assert_str_eq(seg_spool_get(&rec, "syslog_identifier"), "segd");
	ck_assert_int_eq(rec.first_us, T0);
	ck_assert_int_eq(rec.last_us, T0 + 2750000);
	free(line);
}
END_TEST

START_TEST(test_ids)
{
	for (int i = 0; i < SEG_EVENT_COUNT; i++) {
		const struct seg_event_info *a = seg_event_info((enum seg_event)i);
		ck_assert_uint_eq(strlen(a->message_id), 32);
		ck_assert_uint_eq(strspn(a->message_id, "0123456789abcdef"), 32);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(a->message_id, seg_event_info((enum seg_event)j)->message_id);
	}
	ck_assert_ptr_null(seg_event_info(SEG_EVENT_COUNT));
	ck_assert_uint_eq(seg_incident_next_id(0, T0), 1764158400000000ULL);
	ck_assert_uint_eq(seg_incident_next_id(1764158400000123ULL, T0), 1764158400000124ULL);
	ck_assert_uint_eq(seg_incident_next_id(5, 0), 6);
	struct seg_incidents *t;
	struct seg_incidents_opts o = { .max_open = SEG_INCIDENT_LIMIT + 1 };
	ck_assert_int_eq(seg_incidents_new(&o, &t), -EINVAL);
	seg_incidents_free(NULL);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

Suite *incident_suite(void)
{
	Suite *s = suite_create("incident");
	TCase *tc = tcase_create("incident");

	tcase_add_test(tc, test_aggregate);
	tcase_add_test(tc, test_read_time);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_overflow);
	tcase_add_test(tc, test_flood);
	tcase_add_test(tc, test_accounting);
	tcase_add_loop_test(tc, test_priority, 0, N(prio_cases));
	tcase_add_test(tc, test_priority_cfg);
	tcase_add_test(tc, test_journal_fields);
	tcase_add_test(tc, test_journal_kinds);
	tcase_add_test(tc, test_overflow_render);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_ids);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
