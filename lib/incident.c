/* incident.c - the bounded aggregation table of denied packets, and the
 * rendering of closed incidents as journal fields and JSON (incident.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "addr.h"
#include "incident.h"
#include "json.h"

#define NIL UINT32_MAX
/* 4096 registers (4 KiB an overflow incident): a standard error of
 * 1.04 / sqrt(4096) = 1.6% on the folded-flows count. 1024 gave 3.25%, and a
 * check of two such estimates against 5% failed by chance about once in 50
 * runs (test-flood); now 5% is over 5 standard errors of the sum. */
#define HLL_BITS 12
#define HLL_M (1u << HLL_BITS)

static const struct seg_event_info event_table[SEG_EVENT_COUNT] = SEG_EVENT_TABLE;

const struct seg_event_info *seg_event_info(enum seg_event ev)
{
	return (unsigned)ev < SEG_EVENT_COUNT ? &event_table[ev] : NULL;
}

enum seg_event seg_event_of_nflog(enum seg_nflog_event ev)
{
	static const enum seg_event map[SEG_NFLOG_EVENT_COUNT] = {
		[SEG_NFLOG_DENIED] = SEG_EVENT_FLOW_DENIED, [SEG_NFLOG_GUARD] = SEG_EVENT_FLOW_DENIED,
		[SEG_NFLOG_UNZONED] = SEG_EVENT_FLOW_DENIED, [SEG_NFLOG_SPOOFED] = SEG_EVENT_SPOOFED_SOURCE,
		[SEG_NFLOG_TO_GATEWAY] = SEG_EVENT_TO_GATEWAY, [SEG_NFLOG_ISOLATED] = SEG_EVENT_FLOW_DENIED,
		[SEG_NFLOG_FROM_GATEWAY] = SEG_EVENT_FLOW_DENIED, [SEG_NFLOG_LINK_SCOPE] = SEG_EVENT_FLOW_DENIED,
	};
	return (unsigned)ev < SEG_NFLOG_EVENT_COUNT ? map[ev] : SEG_EVENT_FLOW_DENIED;
}

int seg_incident_priority(int src_kind, int dst_kind)
{
	if (src_kind == SEG_ZONE_MYNUMBER || dst_kind == SEG_ZONE_MYNUMBER)
		return 2;
	bool src_out = src_kind == SEG_ZONE_INTERNET || src_kind == SEG_ZONE_EXTERNAL;
	bool dst_out = dst_kind == SEG_ZONE_INTERNET || dst_kind == SEG_ZONE_EXTERNAL;
	if ((src_kind == SEG_ZONE_LGWAN && dst_out) || (dst_kind == SEG_ZONE_LGWAN && src_out))
		return 3;
	return 4;
}

uint64_t seg_incident_next_id(uint64_t last_spooled, int64_t real_us)
{
	uint64_t floor = real_us > 0 ? (uint64_t)(real_us / 1000000) * 1000000u : 0;

	return last_spooled + 1 > floor ? last_spooled + 1 : floor;
}

/* What identifies an incident. Zeroed before filling: hashed and compared
 * as bytes. kind: 0 a flow, 1 overflow of a zone pair, 2 catch-all. */
struct key {
	uint8_t kind, cause, family, proto, l4;
	uint8_t pad;
	uint16_t port;               /* dport, or icmp type << 8 | code */
	char from[SEG_MAX_NAME + 1], to[SEG_MAX_NAME + 1];
	uint8_t src[16], dst[16];
};

struct slot {
	struct key key;
	struct seg_incident inc;
	int64_t deadline;
	uint32_t hnext;              /* hash chain */
	uint32_t prev, next;         /* FIFO when open, free list when not */
	uint8_t *hll;                /* overflow slots: HLL_M registers */
};

struct seg_incidents {
	uint32_t window_s, max_open, max_overflow, n_slots;
	uint64_t seed;
	struct slot *slots;          /* [0,max_open) flows, then overflow, then catch-alls */
	uint32_t *buckets, mask;
	uint32_t free_main, free_ovf;
	uint32_t head, tail;         /* FIFO by deadline (open order, monotonic clock) */
	uint8_t *hll_mem;
	uint64_t next_id;
	uint32_t expected_seq;
	bool seq_active;
	struct seg_incident_totals tot;
};

/* ---- hashing ---------------------------------------------------------- */

static uint64_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Keyed with a per-process seed so that senders cannot aim at one bucket. */
static uint64_t hash_key(const struct key *k, uint64_t seed)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = seed ^ 0x9e3779b97f4a7c15ULL;

	for (size_t i = 0; i + 8 <= sizeof(*k); i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = mix64(h ^ w);
	}
	return h;
}

/* ---- HyperLogLog for folded flows ------------------------------------- */

static void hll_add(uint8_t *reg, uint64_t h)
{
	uint32_t idx = (uint32_t)(h >> (64 - HLL_BITS));
	uint64_t rest = h << HLL_BITS | (1ULL << (HLL_BITS - 1));
	uint8_t rank = (uint8_t)(__builtin_clzll(rest) + 1);

	if (rank > reg[idx])
		reg[idx] = rank;
}

/* ln(x) for x >= 1 without libm: x = m * 2^e, ln m by the atanh series. */
static double ln(double x)
{
	int e = 0;

	while (x >= 2.0) {
		x /= 2.0;
		e++;
	}
	double y = (x - 1.0) / (x + 1.0), y2 = y * y, term = y, sum = 0.0;
	for (int k = 1; k < 60; k += 2) {
		sum += term / k;
		term *= y2;
	}
	return 2.0 * sum + e * 0.69314718055994530942;
}

static uint64_t hll_estimate(const uint8_t *reg)
{
	double sum = 0.0, m = HLL_M;
	unsigned zeros = 0;

	for (unsigned i = 0; i < HLL_M; i++) {
		sum += 1.0 / (double)(1ULL << reg[i]);
		zeros += reg[i] == 0;
	}
	double e = 0.7213 / (1.0 + 1.079 / m) * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * ln(m / zeros);     /* linear counting: exact for few flows */
	return (uint64_t)(e + 0.5);
}

/* ---- table ------------------------------------------------------------- */

static int check_opts(const struct seg_incidents_opts *o, uint32_t *open, uint32_t *ovf)
{
	*open = o && o->max_open ? o->max_open : SEG_INCIDENT_MAX_OPEN;
	*ovf = o && o->max_overflow ? o->max_overflow : SEG_INCIDENT_MAX_OVERFLOW;
	if (*open > SEG_INCIDENT_LIMIT || *ovf > SEG_INCIDENT_LIMIT)
		return -EINVAL;
	return 0;
}

static void link_free(struct seg_incidents *t, uint32_t i, uint32_t *list)
{
	t->slots[i].next = *list;
	*list = i;
}

int seg_incidents_new(const struct seg_incidents_opts *o, struct seg_incidents **ret)
{
	struct seg_incidents *t;
	uint32_t open, ovf, nb = 16;

	if (check_opts(o, &open, &ovf) < 0)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->window_s = o && o->window_s ? o->window_s : 60;
	t->max_open = open;
	t->max_overflow = ovf;
	t->n_slots = open + ovf + SEG_NFLOG_EVENT_COUNT;
	t->seed = o ? o->hash_seed : 0;
	t->next_id = o ? o->first_id : 0;
	while (nb < 2 * t->n_slots)
		nb <<= 1;
	t->mask = nb - 1;
	t->slots = calloc(t->n_slots, sizeof(*t->slots));
	t->buckets = malloc(nb * sizeof(*t->buckets));
	t->hll_mem = calloc((size_t)(ovf + SEG_NFLOG_EVENT_COUNT), HLL_M);
	if (!t->slots || !t->buckets || !t->hll_mem) {
		seg_incidents_free(t);
		return -ENOMEM;
	}
	memset(t->buckets, 0xff, nb * sizeof(*t->buckets));
	t->head = t->tail = t->free_main = t->free_ovf = NIL;
	for (uint32_t i = t->n_slots; i-- > 0;) {
		if (i >= open)
			t->slots[i].hll = t->hll_mem + (size_t)(i - open) * HLL_M;
		if (i < open)
			link_free(t, i, &t->free_main);
		else if (i < open + ovf)
			link_free(t, i, &t->free_ovf);
	}
	*ret = t;
	return 0;
}

void seg_incidents_free(struct seg_incidents *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t->buckets);
	free(t->hll_mem);
	free(t);
}

static uint32_t lookup(const struct seg_incidents *t, const struct key *k, uint32_t b)
{
	for (uint32_t i = t->buckets[b]; i != NIL; i = t->slots[i].hnext)
		if (memcmp(&t->slots[i].key, k, sizeof(*k)) == 0)
			return i;
	return NIL;
}

static void unlink_hash(struct seg_incidents *t, uint32_t i)
{
	uint32_t b = (uint32_t)hash_key(&t->slots[i].key, t->seed) & t->mask;

	for (uint32_t *p = &t->buckets[b]; *p != NIL; p = &t->slots[*p].hnext)
		if (*p == i) {
			*p = t->slots[i].hnext;
			return;
		}
}

static void fifo_append(struct seg_incidents *t, uint32_t i)
{
	t->slots[i].prev = t->tail;
	t->slots[i].next = NIL;
	if (t->tail != NIL)
		t->slots[t->tail].next = i;
	else
		t->head = i;
	t->tail = i;
}

static void fifo_remove(struct seg_incidents *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	if (s->prev != NIL)
		t->slots[s->prev].next = s->next;
	else
		t->head = s->next;
	if (s->next != NIL)
		t->slots[s->next].prev = s->prev;
	else
		t->tail = s->prev;
}

/* Takes slot i (already off its free list) into use under key k. */
static struct slot *open_slot(struct seg_incidents *t, uint32_t i, const struct key *k,
			      uint32_t b, int64_t mono_us)
{
	struct slot *s = &t->slots[i];
	uint8_t *hll = s->hll;

	memset(s, 0, sizeof(*s));
	s->key = *k;
	s->hll = hll;
	if (hll)
		memset(hll, 0, HLL_M);
	s->deadline = mono_us + (int64_t)t->window_s * 1000000;
	s->hnext = t->buckets[b];
	t->buckets[b] = i;
	fifo_append(t, i);
	t->tot.open++;
	return s;
}

static void make_flow_key(const struct seg_nflog_rec *r, struct key *k)
{
	memset(k, 0, sizeof(*k));
	k->cause = (uint8_t)r->event;
	k->family = (uint8_t)r->family;
	k->proto = r->proto;
	k->l4 = (uint8_t)r->l4;
	if (r->l4 == SEG_L4_PORTS)
		k->port = r->dport;
	else if (r->l4 == SEG_L4_ICMP)
		k->port = (uint16_t)(r->icmp_type << 8 | r->icmp_code);
	memcpy(k->from, r->from, sizeof(k->from));
	memcpy(k->to, r->to, sizeof(k->to));
	memcpy(k->src, r->src, 16);
	memcpy(k->dst, r->dst, 16);
}

static int zone_kind(const struct seg_config *cfg, const char *name)
{
	int z = cfg && name[0] ? seg_zone_find(cfg, name) : -1;

	return z < 0 ? -1 : (int)cfg->zones[z].kind;
}

static void fill_incident(struct seg_incident *inc, const struct seg_nflog_rec *r,
			  const struct seg_config *cfg, bool flow)
{
	inc->cause = r->event;
	inc->event = seg_event_of_nflog(r->event);
	inc->priority = seg_incident_priority(zone_kind(cfg, r->from), zone_kind(cfg, r->to));
	memcpy(inc->src_zone, r->from, sizeof(inc->src_zone));
	memcpy(inc->dst_zone, r->to, sizeof(inc->dst_zone));
	if (!flow)
		return;
	inc->family = r->family;
	memcpy(inc->src, r->src, 16);
	memcpy(inc->dst, r->dst, 16);
	inc->proto = r->proto;
	inc->l4 = r->l4;
	inc->sport = r->sport;
	inc->dport = r->dport;
	inc->icmp_type = r->icmp_type;
	inc->icmp_code = r->icmp_code;
	inc->in_ifindex = r->in_ifindex;
	inc->out_ifindex = r->out_ifindex;
}

static void count_packet(struct seg_incident *inc, int64_t ts)
{
	if (inc->packets == 0 || ts < inc->first_us)
		inc->first_us = ts;
	if (inc->packets == 0 || ts > inc->last_us)
		inc->last_us = ts;
	inc->packets++;
}

/* Past max_open: the packet goes to the overflow incident of its event and
 * zone pair, or, when those are all taken, to its event's catch-all. */
static struct slot *find_overflow(struct seg_incidents *t, const struct seg_nflog_rec *r,
				  const struct seg_config *cfg, int64_t mono_us)
{
	struct key k = { .kind = 1, .cause = (uint8_t)r->event };
	uint32_t b, i;

	memcpy(k.from, r->from, sizeof(k.from));
	memcpy(k.to, r->to, sizeof(k.to));
	b = (uint32_t)hash_key(&k, t->seed) & t->mask;
	i = lookup(t, &k, b);
	if (i != NIL)
		return &t->slots[i];
	if (t->free_ovf == NIL) {
		memset(&k, 0, sizeof(k));
		k.kind = 2;
		k.cause = (uint8_t)r->event;
		b = (uint32_t)hash_key(&k, t->seed) & t->mask;
		i = lookup(t, &k, b);
		if (i != NIL)
			return &t->slots[i];
		i = t->max_open + t->max_overflow + (uint32_t)r->event;
	} else {
		i = t->free_ovf;
		t->free_ovf = t->slots[i].next;
	}
	struct slot *s = open_slot(t, i, &k, b, mono_us);
	fill_incident(&s->inc, r, cfg, false);
	s->inc.overflow = true;
	if (k.kind == 2)
		s->inc.src_zone[0] = s->inc.dst_zone[0] = '\0';
	return s;
}

static void aggregate(struct seg_incidents *t, const struct seg_nflog_rec *r,
		      const struct seg_config *cfg, int64_t ts, int64_t mono_us)
{
	struct key k;
	uint64_t h;

	make_flow_key(r, &k);
	h = hash_key(&k, t->seed);
	uint32_t b = (uint32_t)h & t->mask, i = lookup(t, &k, b);
	struct slot *s;
	if (i != NIL) {
		s = &t->slots[i];
	} else if (t->free_main != NIL) {
		i = t->free_main;
		t->free_main = t->slots[i].next;
		s = open_slot(t, i, &k, b, mono_us);
		fill_incident(&s->inc, r, cfg, true);
	} else {
		s = find_overflow(t, r, cfg, mono_us);
		hll_add(s->hll, mix64(h));
		int prio = seg_incident_priority(zone_kind(cfg, r->from), zone_kind(cfg, r->to));
		if (prio < s->inc.priority)
			s->inc.priority = prio;   /* a catch-all is as urgent as its worst flow */
		t->tot.folded_packets++;
	}
	count_packet(&s->inc, ts);
	t->tot.packets++;
}

/* Every record the kernel numbered but we never got is a gap. A record that
 * arrives without a number while numbering is on (cut before NFULA_SEQ)
 * still used one: count it where it lands, not again as a gap. */
static void count_seq(struct seg_incidents *t, const struct seg_nflog_rec *r)
{
	if (!r->has_seq) {
		t->tot.unnumbered++;
		if (t->seq_active)
			t->expected_seq++;
		return;
	}
	uint32_t d = r->seq - t->expected_seq;
	if (d < 0x80000000u)
		t->tot.seq_gaps += d;
	else
		t->tot.seq_resets++;
	t->expected_seq = r->seq + 1;
	t->seq_active = true;
}

void seg_incidents_add(struct seg_incidents *t, const struct seg_nflog_rec *rec,
		       enum seg_nflog_status st, const struct seg_config *cfg,
		       int64_t real_us, int64_t mono_us)
{
	t->tot.records++;
	count_seq(t, rec);
	/* A record is used only as the decoder left it: enums in range. */
	bool sane = (unsigned)rec->event < SEG_NFLOG_EVENT_COUNT && (unsigned)rec->l4 <= SEG_L4_UNKNOWN;
	if (seg_nflog_usable(st) && sane)
		aggregate(t, rec, cfg, rec->has_time ? rec->time_us : real_us, mono_us);
	else if (st == SEG_NFLOG_FOREIGN_PREFIX || st == SEG_NFLOG_NO_PREFIX)
		t->tot.foreign++;
	else
		t->tot.undecodable++;
}

void seg_incidents_seq_restart(struct seg_incidents *t)
{
	t->expected_seq = 0;
	t->seq_active = false;
}

static void emit(struct seg_incidents *t, uint32_t i, seg_incident_cb cb, void *ctx)
{
	struct slot *s = &t->slots[i];

	if (s->inc.overflow)
		s->inc.folded = hll_estimate(s->hll);
	s->inc.id = t->next_id++;
	if (cb)
		cb(&s->inc, ctx);
	unlink_hash(t, i);
	fifo_remove(t, i);
	if (i < t->max_open)
		link_free(t, i, &t->free_main);
	else if (i < t->max_open + t->max_overflow)
		link_free(t, i, &t->free_ovf);
	t->tot.open--;
	t->tot.emitted++;
}

size_t seg_incidents_expire(struct seg_incidents *t, int64_t mono_us, seg_incident_cb cb, void *ctx)
{
	size_t n = 0;

	while (t->head != NIL && t->slots[t->head].deadline <= mono_us) {
		emit(t, t->head, cb, ctx);
		n++;
	}
	return n;
}

size_t seg_incidents_flush(struct seg_incidents *t, seg_incident_cb cb, void *ctx)
{
	size_t n = 0;

	while (t->head != NIL) {
		emit(t, t->head, cb, ctx);
		n++;
	}
	return n;
}

bool seg_incidents_next_deadline(const struct seg_incidents *t, int64_t *ret_mono_us)
{
	if (t->head == NIL)
		return false;
	*ret_mono_us = t->slots[t->head].deadline;
	return true;
}

void seg_incidents_totals(const struct seg_incidents *t, struct seg_incident_totals *ret)
{
	*ret = t->tot;
	ret->not_sampled = t->tot.seq_gaps + t->tot.undecodable;
}

/* ---- rendering -------------------------------------------------------- */

#define VAL_MAX 512

struct field {
	const char *key;             /* journal name; JSON: without SEGD_, lower-case */
	bool number;                 /* a JSON number */
	char val[VAL_MAX];
};

struct fields {
	size_t n;
	struct field f[SEG_INCIDENT_MAX_FIELDS];
};

__attribute__((format(printf, 4, 5)))
static void add_field(struct fields *fs, const char *key, bool number, const char *fmt, ...)
{
	va_list ap;

	if (fs->n >= SEG_INCIDENT_MAX_FIELDS)
		return;
	struct field *f = &fs->f[fs->n++];
	f->key = key;
	f->number = number;
	va_start(ap, fmt);
	vsnprintf(f->val, sizeof(f->val), fmt, ap);
	va_end(ap);
}

void seg_time_format(int64_t us, char *buf, size_t len)
{
	time_t s = (time_t)(us / 1000000);
	int ms = (int)(us % 1000000 / 1000);
	struct tm tm;

	if (us < 0 || !gmtime_r(&s, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static const char *proto_text(uint8_t proto, char *buf, size_t len)
{
	const char *n = seg_nflog_proto_name(proto);

	if (n)
		return n;
	snprintf(buf, len, "%u", proto);
	return buf;
}

/* "10.0.0.1:80", "[fd00::1]:80" or the bare address. */
static void endpoint(const struct seg_incident *inc, const uint8_t *addr, uint16_t port,
		     char *buf, size_t len)
{
	char a[64];
	bool ports = inc->l4 == SEG_L4_PORTS;

	seg_addr_format(inc->family, addr, a, sizeof(a));
	if (!ports)
		snprintf(buf, len, "%s", a);
	else if (inc->family == AF_INET6)
		snprintf(buf, len, "[%s]:%u", a, port);
	else
		snprintf(buf, len, "%s:%u", a, port);
}

static const char *const l4_notes[] = {
	[SEG_L4_PORTS] = "", [SEG_L4_ICMP] = "", [SEG_L4_NONE] = "",
	[SEG_L4_FRAGMENT] = " (non-first fragment, ports unknown)",
	[SEG_L4_TRUNCATED] = " (transport header not captured)",
	[SEG_L4_UNKNOWN] = " (IPv6 extension headers not walked)",
};

static void flow_text(const struct seg_incident *inc, char *buf, size_t len)
{
	char p[8], s[80], d[80], icmp[32] = "";

	endpoint(inc, inc->src, inc->sport, s, sizeof(s));
	endpoint(inc, inc->dst, inc->dport, d, sizeof(d));
	if (inc->l4 == SEG_L4_ICMP)
		snprintf(icmp, sizeof(icmp), " type %u code %u", inc->icmp_type, inc->icmp_code);
	snprintf(buf, len, "%s %s → %s%s%s", inc->l4 == SEG_L4_UNKNOWN ? "ipv6" :
		 proto_text(inc->proto, p, sizeof(p)), s, d, icmp, l4_notes[inc->l4]);
}

/* What the MESSAGE says before the zones, per prefix letter. */
static const char *const cause_text[SEG_NFLOG_EVENT_COUNT] = {
	/* the model guard's denials read like the contract's example
	 * ("denied mynumber → internet: ..."); SEGD_REASON tells the rules apart */
	[SEG_NFLOG_DENIED] = "denied", [SEG_NFLOG_GUARD] = "denied",
	[SEG_NFLOG_UNZONED] = "denied (unzoned interface)",
	[SEG_NFLOG_SPOOFED] = "spoofed source", [SEG_NFLOG_TO_GATEWAY] = "to the gateway",
	[SEG_NFLOG_ISOLATED] = "denied (zone isolated)", [SEG_NFLOG_FROM_GATEWAY] = "denied (sent by the gateway)",
	[SEG_NFLOG_LINK_SCOPE] = "denied (link scope)",
};

/* SEGD_REASON: which rule of the ruleset logged it (the prefix letter). */
static const char *const reason_text[SEG_NFLOG_EVENT_COUNT] = {
	[SEG_NFLOG_DENIED] = "no-conduit", [SEG_NFLOG_GUARD] = "model-guard",
	[SEG_NFLOG_UNZONED] = "unzoned-interface", [SEG_NFLOG_SPOOFED] = "spoof-check",
	[SEG_NFLOG_TO_GATEWAY] = "gateway-policy", [SEG_NFLOG_ISOLATED] = "isolated",
	[SEG_NFLOG_FROM_GATEWAY] = "gateway-egress-policy", [SEG_NFLOG_LINK_SCOPE] = "link-scope",
};

static void message_text(const struct seg_incident *inc, char *buf, size_t len)
{
	bool gw = inc->cause == SEG_NFLOG_TO_GATEWAY || inc->cause == SEG_NFLOG_FROM_GATEWAY ||
		  inc->cause == SEG_NFLOG_LINK_SCOPE;   /* the side without a zone is the gateway */
	const char *from = inc->src_zone[0] ? inc->src_zone : inc->overflow ? "*" : gw ? "gateway" : "unzoned";
	const char *to = inc->dst_zone[0] ? inc->dst_zone : inc->overflow ? "*" : gw ? "gateway" : "unzoned";
	char flow[256];

	if (inc->overflow)
		snprintf(flow, sizeof(flow), "%llu more flows folded, incident table full",
			 (unsigned long long)inc->folded);
	else
		flow_text(inc, flow, sizeof(flow));
	snprintf(buf, len, "%s %s → %s: %s (%llu packet%s)", cause_text[inc->cause], from, to, flow,
		 (unsigned long long)inc->packets, inc->packets == 1 ? "" : "s");
}

static void add_iface(struct fields *fs, const char *key, const char *name, uint32_t ifindex)
{
	if (name)
		add_field(fs, key, false, "%s", name);
	else if (ifindex)
		add_field(fs, key, false, "if%u", ifindex);
}

static void add_flow_fields(struct fields *fs, const struct seg_incident *inc)
{
	char a[64], p[8];

	seg_addr_format(inc->family, inc->src, a, sizeof(a));
	add_field(fs, "SEGD_SRC", false, "%s", a);
	seg_addr_format(inc->family, inc->dst, a, sizeof(a));
	add_field(fs, "SEGD_DST", false, "%s", a);
	add_field(fs, "SEGD_PROTO", false, "%s", inc->l4 == SEG_L4_UNKNOWN ? "unknown" :
		  proto_text(inc->proto, p, sizeof(p)));
	if (inc->l4 == SEG_L4_PORTS) {
		add_field(fs, "SEGD_SPORT", true, "%u", inc->sport);
		add_field(fs, "SEGD_DPORT", true, "%u", inc->dport);
	} else if (inc->l4 == SEG_L4_ICMP) {
		add_field(fs, "SEGD_ICMP_TYPE", true, "%u", inc->icmp_type);
		add_field(fs, "SEGD_ICMP_CODE", true, "%u", inc->icmp_code);
	} else if (inc->l4 == SEG_L4_FRAGMENT) {
		add_field(fs, "SEGD_FRAGMENT", true, "1");
	}
}

static void build_fields(const struct seg_incident *inc, const char *in, const char *out,
			 struct fields *fs)
{
	const struct seg_event_info *ev = seg_event_info(inc->event);
	char t[40];

	fs->n = 0;
	message_text(inc, fs->f[0].val, sizeof(fs->f[0].val));
	fs->f[0].key = "MESSAGE";
	fs->f[0].number = false;
	fs->n = 1;
	add_field(fs, "MESSAGE_ID", false, "%s", ev->message_id);
	add_field(fs, "PRIORITY", true, "%d", inc->priority);
	add_field(fs, "SYSLOG_IDENTIFIER", false, "segd");
	add_field(fs, "SEGD_EVENT", false, "%s", ev->name);
	add_field(fs, "SEGD_REASON", false, "%s", reason_text[inc->cause]);
	if (inc->src_zone[0])
		add_field(fs, "SEGD_SRC_ZONE", false, "%s", inc->src_zone);
	if (inc->dst_zone[0])
		add_field(fs, "SEGD_DST_ZONE", false, "%s", inc->dst_zone);
	if (!inc->overflow)
		add_flow_fields(fs, inc);
	add_field(fs, "SEGD_PACKETS", true, "%llu", (unsigned long long)inc->packets);
	seg_time_format(inc->first_us, t, sizeof(t));
	add_field(fs, "SEGD_FIRST", false, "%s", t);
	seg_time_format(inc->last_us, t, sizeof(t));
	add_field(fs, "SEGD_LAST", false, "%s", t);
	if (!inc->overflow) {
		add_iface(fs, "SEGD_IN", in, inc->in_ifindex);
		add_iface(fs, "SEGD_OUT", out, inc->out_ifindex);
	} else {
		add_field(fs, "SEGD_FOLDED", true, "%llu", (unsigned long long)inc->folded);
	}
	add_field(fs, "SEGD_INCIDENT_ID", true, "%llu", (unsigned long long)inc->id);
}

int seg_incident_journal(const struct seg_incident *inc, const char *in_name,
			 const char *out_name, struct seg_journal_entry **ret)
{
	struct fields *fs = malloc(sizeof(*fs));
	size_t total = 0;

	if (!fs)
		return -ENOMEM;
	build_fields(inc, in_name, out_name, fs);
	for (size_t i = 0; i < fs->n; i++)
		total += strlen(fs->f[i].key) + 1 + strlen(fs->f[i].val) + 1;
	struct seg_journal_entry *e = malloc(sizeof(*e) + total);
	if (!e) {
		free(fs);
		return -ENOMEM;
	}
	char *p = e->text;
	for (size_t i = 0; i < fs->n; i++) {
		int w = sprintf(p, "%s=%s", fs->f[i].key, fs->f[i].val);
		e->iov[i].iov_base = p;
		e->iov[i].iov_len = (size_t)w;
		p += w + 1;
	}
	e->n = fs->n;
	free(fs);
	*ret = e;
	return 0;
}

/* "SEGD_SRC_ZONE" -> "src_zone", "MESSAGE_ID" -> "message_id". */
static void json_key_of(const char *key, char *buf, size_t len)
{
	size_t i = 0;

	if (strncmp(key, "SEGD_", 5) == 0)
		key += 5;
	for (; key[i] && i + 1 < len; i++)
		buf[i] = (char)(key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i]);
	buf[i] = '\0';
}

int seg_incident_json(const struct seg_incident *inc, const char *in_name,
		      const char *out_name, char **ret_line, size_t *ret_len)
{
	struct fields *fs = malloc(sizeof(*fs));
	char *buf = NULL, key[32];
	size_t len = 0;
	int first = 1;

	if (!fs)
		return -ENOMEM;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		free(fs);
		return -ENOMEM;
	}
	build_fields(inc, in_name, out_name, fs);
	fputc('{', f);
	for (size_t i = 0; i < fs->n; i++) {
		json_key_of(fs->f[i].key, key, sizeof(key));
		seg_json_key(f, &first, key);
		if (fs->f[i].number)
			fputs(fs->f[i].val, f);
		else
			seg_json_str(f, fs->f[i].val);
	}
	fputs("}\n", f);
	free(fs);
	if (fclose(f) != 0 || !buf) {
		free(buf);
		return -ENOMEM;
	}
	*ret_line = buf;
	*ret_len = len;
	return 0;
}
