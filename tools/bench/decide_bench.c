/*
 * decide_bench.c - how many flows per second seg_decide() answers against a
 * large configuration (the issue asks for >= 1,000,000 decisions/s over
 * 1,000,000 random flows against 10,000 entries).
 *
 * Build and run from the top of the tree (not linked into segctl):
 *
 *   make build/segctl      # builds the library objects under build/o/lib/
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -Ilib -o build/decide_bench tools/bench/decide_bench.c \
 *      $(ls build/o/lib/[a-z]*.o) $(pkg-config --libs libnftnl libmnl libpcap libconfig libsystemd)
 *
 * (only addr config validate diag model zonemap decide json are needed, so
 * linking those objects with $(pkg-config --libs libconfig) is enough).
 *   build/decide_bench [CONDUITS [FLOWS [ROUNDS]]]     # defaults 10000 1000000 5
 *
 * It generates a valid configuration (8 zones of every kind, a catch-all
 * external zone, IPv4 and IPv6) with CONDUITS conduits of mixed shapes: host
 * to host single ports, source prefixes with port ranges, whole-zone sources
 * and destinations, 'any' services. Half the flows are drawn from the
 * conduits (so that they hit), half are random addresses of the zones; every
 * other flow names its arrival and exit interfaces. It
 * prints the configuration's size, the verdict mix and flows/s (best round).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "config.h"
#include "decide.h"

struct zone_def {
	const char *name, *kind, *iface;
	int v4;                       /* 10.<v4>.0.0/16 and fd00:<v4>::/64; 0: catch-all */
};

static const struct zone_def zones[] = {
	{ "myn", "mynumber", "eth1", 10 }, { "lg1", "lgwan", "eth2", 20 }, { "lg2", "lgwan", "eth3", 21 },
	{ "lg3", "lgwan", "eth4", 22 }, { "lg4", "lgwan", "eth5", 23 }, { "inet1", "internet", "eth6", 30 },
	{ "inet2", "internet", "eth7", 31 }, { "cloud", "external", "eth0", 0 },
};
#define N_ZONES (sizeof(zones) / sizeof(zones[0]))

/* A growable string. */
struct buf {
	char *s;
	size_t n, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	for (;;) {
		va_start(ap, fmt);
		int n = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < b->cap - b->n) {
			b->n += (size_t)n;
			return;
		}
		b->cap = b->cap ? 2 * b->cap : 1 << 20;
		if (!(b->s = realloc(b->s, b->cap))) {
			perror("realloc");
			exit(2);
		}
	}
}

static void host(char *out, size_t len, int v4, unsigned h, bool six)
{
	if (six)
		snprintf(out, len, "fd00:%d::%x:%x", v4, h >> 16, h & 0xffff);
	else
		snprintf(out, len, "10.%d.%u.%u", v4, (h >> 8) & 0xff, h & 0xff);
}

static void put_zones(struct buf *b)
{
	put(b, "version = 1;\nsettings = { max_ports = 4096; };\nzones = (\n");
	for (size_t i = 0; i < N_ZONES; i++) {
		const struct zone_def *z = &zones[i];
		put(b, "{ name = \"%s\"; kind = \"%s\"; interfaces = [ \"%s\" ];", z->name, z->kind, z->iface);
		if (z->v4)
			put(b, " networks = [ \"10.%d.0.0/16\", \"fd00:%d::/64\" ];", z->v4, z->v4);
		put(b, " }%s\n", i + 1 < N_ZONES ? "," : "");
	}
	put(b, ");\n");
}

/* One conduit of shape i % 10 (see the header comment); 'n' makes it unique. */
static void put_conduit(struct buf *b, unsigned n, unsigned *seed)
{
	static const int pairs[][3] = {   /* from, to, kind: 0 specific 1 sanitize 2 screen 3 egress */
		{ 1, 2, 0 }, { 2, 3, 0 }, { 3, 4, 0 }, { 4, 1, 0 }, { 1, 3, 0 }, { 0, 3, 0 },   /* My Number to lg3: no relay reaches it */
		{ 5, 1, 1 }, { 1, 5, 2 }, { 6, 2, 1 }, { 5, 7, 3 },
	};
	static const char *const kinds[] = { "specific", "sanitize", "screen", "egress" };
	const int *pr = pairs[n % 10];
	const struct zone_def *f = &zones[pr[0]], *t = &zones[pr[1]];
	bool six = rand_r(seed) % 4 == 0;
	char s[64], d[64];

	host(s, sizeof(s), f->v4, (unsigned)rand_r(seed) % 60000 + 1, six);
	host(d, sizeof(d), t->v4 ? t->v4 : 99, n + 1, six);
	if (!t->v4 && six)
		snprintf(d, sizeof(d), "2001:db8::%x:%x", n >> 16, n & 0xffff);
	else if (!t->v4)
		snprintf(d, sizeof(d), "198.18.%u.%u", (n >> 8) & 0xff, n & 0xff);
	put(b, "{ name = \"c%u\"; kind = \"%s\"; from = \"%s\"; to = \"%s\"; approval = \"B-%u\"; "
	    "expires = \"2027-12-31\";\n", n, kinds[pr[2]], f->name, t->name, n);
	if (n % 10 == 4)                      /* a source prefix and a port range */
		put(b, "  sources = [ \"10.%d.%u.0/24\" ]; destinations = [ \"10.%d.%u.%u\" ]; "
		    "services = [ \"tcp/%u-%u\" ]; },\n", f->v4, n % 200, t->v4, (n >> 8) & 0xff, n & 0xff,
		    1000 + n % 500, 1100 + n % 500);
	else if (n % 10 == 7 || n % 10 == 9)  /* whole source zone */
		put(b, "  destinations = [ \"%s\" ]; services = [ \"tcp/%u\" ]; },\n", d, 3389 + n % 7);
	else if (n % 50 == 1)                 /* whole destination zone, any service */
		put(b, "  sources = [ \"%s\" ]; services = [ \"any\" ]; },\n", s);
	else
		put(b, "  sources = [ \"%s\" ]; destinations = [ \"%s\" ]; services = [ \"%s/%u\", \"tcp/%u\" ]; },\n",
		    s, d, n % 3 ? "tcp" : "udp", 1 + n % 1000, 2000 + n % 1000);
}

static struct seg_config *make_config(unsigned n_conduits)
{
	struct buf b = { 0 };
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	unsigned seed = 1;

	put_zones(&b);
	put(&b, "conduits = (\n");
	for (unsigned i = 0; i < n_conduits; i++)
		put_conduit(&b, i, &seed);
	if (n_conduits)
		b.s[b.n - 2] = ' ';               /* the last conduit's comma */
	put(&b, ");\n");
	int r = seg_config_load_string(b.s, "bench.conf", 20600, &cfg, &d);
	if (r < 0) {
		seg_diags_print(&d, stderr);
		fprintf(stderr, "decide_bench: generated configuration is invalid: %s\n", strerror(-r));
		exit(2);
	}
	seg_diags_free(&d);
	free(b.s);
	return cfg;
}

static void random_in(const struct seg_config *cfg, unsigned *seed, int family, uint8_t *a)
{
	const struct seg_zone *z = &cfg->zones[(size_t)rand_r(seed) % cfg->n_zones];
	uint32_t r = (uint32_t)rand_r(seed);

	memset(a, 0, 16);
	if (z->n_nets == 0) {                 /* the catch-all: anything */
		for (int i = 0; i < 16; i++)
			a[i] = (uint8_t)rand_r(seed);
		return;
	}
	const struct seg_prefix *p = &z->nets[family == AF_INET ? 0 : 1];
	memcpy(a, p->addr, 16);
	size_t w = family == AF_INET ? 4 : 16;
	a[w - 2] = (uint8_t)(r >> 8);
	a[w - 1] = (uint8_t)r;
}

/* A flow that one conduit holds (or nearly: the port may miss). */
static void flow_from_conduit(const struct seg_config *cfg, unsigned *seed, struct seg_flow *f)
{
	const struct seg_conduit *c = &cfg->conduits[(size_t)rand_r(seed) % cfg->n_conduits];
	const struct seg_prefix *s = c->n_srcs ? &c->srcs[0] : NULL, *d = c->n_dsts ? &c->dsts[0] : NULL;
	const struct seg_service *v = &c->services[(size_t)rand_r(seed) % c->n_services];

	f->family = s ? s->family : d ? d->family : AF_INET;
	if (s)
		memcpy(f->src, s->addr, 16);
	else
		random_in(cfg, seed, f->family, f->src);
	if (d)
		memcpy(f->dst, d->addr, 16);
	else
		random_in(cfg, seed, f->family, f->dst);
	f->l4proto = v->proto == SEG_PROTO_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	f->dport = (uint16_t)(v->port_lo + (rand_r(seed) % 4 == 0));
}

/* Every other flow names its interfaces (the zones' first), as the kernel
 * sees them; the rest leave the zones to the addresses. */
static void name_interfaces(const struct seg_config *cfg, struct seg_flow *v, size_t n)
{
	struct seg_policy *p = NULL;

	if (seg_policy_build(cfg, &p) < 0)
		exit(2);
	const struct seg_zonemap *m = seg_policy_zonemap(p);
	for (size_t i = 1; i < n; i += 2) {
		int sz = seg_zonemap_lookup(m, v[i].family, v[i].src);
		int dz = seg_zonemap_lookup(m, v[i].family, v[i].dst);
		v[i].iif = sz >= 0 ? cfg->zones[sz].ifaces[0] : NULL;
		v[i].oif = dz >= 0 ? cfg->zones[dz].ifaces[0] : NULL;
	}
	seg_policy_free(p);
}

static struct seg_flow *make_flows(const struct seg_config *cfg, size_t n)
{
	struct seg_flow *v = calloc(n, sizeof(*v));
	unsigned seed = 2;

	if (!v) {
		perror("calloc");
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		struct seg_flow *f = &v[i];
		f->path = SEG_PATH_FORWARD;
		if (i % 2 == 0 && cfg->n_conduits) {
			flow_from_conduit(cfg, &seed, f);
			continue;
		}
		f->family = rand_r(&seed) % 3 ? AF_INET : AF_INET6;
		random_in(cfg, &seed, f->family, f->src);
		random_in(cfg, &seed, f->family, f->dst);
		f->l4proto = rand_r(&seed) % 2 ? IPPROTO_TCP : IPPROTO_UDP;
		f->dport = (uint16_t)(rand_r(&seed) % 4000);
	}
	name_interfaces(cfg, v, n);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_mix(const size_t *count, size_t n)
{
	for (int r = 0; r < SEG_REASON_COUNT; r++)
		if (count[r])
			printf("  %-20s %6.2f%%\n", seg_reason_name((enum seg_reason)r), 100.0 * (double)count[r] / (double)n);
}

int main(int argc, char **argv)
{
	unsigned n_conduits = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 10000;
	size_t n_flows = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000000;
	int rounds = argc > 3 ? atoi(argv[3]) : 5;
	struct seg_policy *p = NULL;
	size_t count[SEG_REASON_COUNT] = { 0 };
	double best = 0;

	if (n_flows == 0 || rounds < 1) {
		fprintf(stderr, "usage: decide_bench [CONDUITS [FLOWS [ROUNDS]]]\n");
		return 2;
	}
	struct seg_config *cfg = make_config(n_conduits);
	double t0 = now();
	int r = seg_policy_build(cfg, &p);
	if (r < 0) {
		fprintf(stderr, "decide_bench: seg_policy_build: %s\n", strerror(-r));
		return 2;
	}
	printf("%zu zones, %zu conduits; index built in %.3f s\n", cfg->n_zones, cfg->n_conduits, now() - t0);
	struct seg_flow *flows = make_flows(cfg, n_flows);
	for (int k = 0; k < rounds; k++) {
		struct seg_verdict v;
		t0 = now();
		for (size_t i = 0; i < n_flows; i++) {
			seg_decide(p, &flows[i], &v);
			if (k == 0)
				count[v.reason]++;
		}
		double rate = (double)n_flows / (now() - t0);
		best = rate > best ? rate : best;
	}
	printf("%zu flows x %d rounds; verdicts:\n", n_flows, rounds);
	print_mix(count, n_flows);
	printf("decide: %.0f flows/s\n", best);
	free(flows);
	seg_policy_free(p);
	seg_config_free(cfg);
	return 0;
}
