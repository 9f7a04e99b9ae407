/*
 * cmd_trace.c - segctl trace SRC DST PROTO[/PORT] [--seconds N] [--count N]
 * [--json]: follows live packets of one flow through the kernel's rules and
 * prints, for each packet, the chains and rules it went through in segd's
 * table and the verdict, with the conduit or rule that decided it.
 *
 * lib/trace.c adds its own table (inet segd_trace_<pid>, owner flag) that
 * sets nftrace on the flow's packets; segd's table is never touched. Kernel
 * rules are mapped back to the plan by position: segctl compiles the same
 * configuration, and the plan's chains hold their rules in the kernel's
 * order; the rule dump gives each handle's position. Which conduit let a
 * packet through (the kernel only says which set rule) comes from
 * seg_decide() on the packet's own header, and is checked against the
 * kernel's verdict.
 *
 * Exit status: 0 (also when no packet came), 2 usage or runtime error.
 */
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include "addr.h"
#include "decide.h"
#include "json.h"
#include "plan.h"
#include "revision.h"
#include "segctl.h"
#include "trace.h"

#define MAX_STEPS   24      /* events of one packet kept (segd's path is 2-3) */
#define MAX_OPEN    64      /* packets in flight at once */
#define SEGD_PRIO   0       /* segd's filter chains (nft_batch.c) */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct step {
	struct seg_trace_event ev;
};

struct packet {
	bool used;
	uint32_t id;
	int64_t first_us;
	struct seg_trace_event flow;         /* the first event with headers */
	struct step steps[MAX_STEPS];
	size_t n;
};

struct tracer {
	struct segctl *s;
	struct seg_config *cfg;
	struct seg_policy *pol;
	struct seg_plan *plan;
	struct seg_trace_rule *krules;
	size_t n_krules;
	const char *own_table;
	struct packet open[MAX_OPEN];
	unsigned long printed, max_count;
	bool json;
};

/* ---- the command line ---- */

struct args {
	const char *src, *dst, *proto;
	unsigned long seconds, count;
};

static int parse_ulong(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;

	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || errno || v > max || s[0] == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int take_num(struct segctl *s, int argc, char **argv, int *i, unsigned long max, unsigned long *out)
{
	if (*i + 1 >= argc || parse_ulong(argv[*i + 1], max, out) < 0 || *out == 0) {
		fprintf(stderr, "%s: trace: option '%s' needs a number 1-%lu\n", s->prog, argv[*i], max);
		return -EINVAL;
	}
	++*i;
	return 0;
}

static int parse_args(struct segctl *s, int argc, char **argv, struct args *a)
{
	const char **pos[] = { &a->src, &a->dst, &a->proto };
	size_t n_pos = 0;

	a->seconds = 10;
	for (int i = 1; i < argc; i++) {
		int r = 0;
		if (strcmp(argv[i], "--seconds") == 0)
			r = take_num(s, argc, argv, &i, 86400, &a->seconds);
		else if (strcmp(argv[i], "--count") == 0)
			r = take_num(s, argc, argv, &i, 1000000, &a->count);
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			r = -EINVAL, fprintf(stderr, "%s: trace: unknown option '%s'\n", s->prog, argv[i]);
		else if (n_pos < 3)
			*pos[n_pos++] = argv[i];
		else
			r = -EINVAL, fprintf(stderr, "%s: trace: too many arguments at '%s'\n", s->prog, argv[i]);
		if (r < 0)
			return r;
	}
	return n_pos == 3 ? 0 : -EINVAL;
}

/* PROTO[/PORT]: tcp/udp need a port, icmp/icmpv6 may give a type. */
static int parse_proto(struct segctl *s, const char *arg, struct seg_trace_spec *sp)
{
	char name[32];
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);
	unsigned long v;

	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), arg);
	const struct protoent *pe = parse_ulong(name, 255, &v) == 0 ? NULL : getprotobyname(name);
	if (pe)
		v = (unsigned long)pe->p_proto;
	else if (parse_ulong(name, 255, &v) < 0) {
		fprintf(stderr, "%s: trace: protocol '%s' is unknown — use tcp/PORT, udp/PORT, icmp, icmpv6 "
			"or a protocol name or number\n", s->prog, name);
		return -EINVAL;
	}
	sp->l4proto = (uint8_t)v;
	bool ported = v == IPPROTO_TCP || v == IPPROTO_UDP;
	bool typed = v == IPPROTO_ICMP || v == IPPROTO_ICMPV6;
	if (slash && (!(ported || typed) || parse_ulong(slash + 1, ported ? 65535 : 255, &v) < 0 ||
		      (ported && v == 0))) {
		fprintf(stderr, "%s: trace: '%s': %s\n", s->prog, arg, ported ? "port must be 1-65535" :
			typed ? "ICMP type must be 0-255" : "this protocol has no ports — give it alone");
		return -EINVAL;
	}
	sp->has_port = slash != NULL;
	sp->dport = slash ? (uint16_t)v : 0;
	return 0;
}

static int build_spec(struct segctl *s, const struct args *a, struct seg_trace_spec *sp)
{
	const char *why;
	int fam;

	memset(sp, 0, sizeof(*sp));
	if (seg_addr_parse(a->src, &sp->family, sp->src, &why) < 0) {
		fprintf(stderr, "%s: trace: source '%s': %s\n", s->prog, a->src, why);
		return -EINVAL;
	}
	if (seg_addr_parse(a->dst, &fam, sp->dst, &why) < 0) {
		fprintf(stderr, "%s: trace: destination '%s': %s\n", s->prog, a->dst, why);
		return -EINVAL;
	}
	if (fam != sp->family) {
		fprintf(stderr, "%s: trace: '%s' and '%s' are not of one address family\n", s->prog,
			a->src, a->dst);
		return -EINVAL;
	}
	return parse_proto(s, a->proto, sp);
}

/* ---- mapping kernel rules to the plan ---- */

static const struct seg_plan_chain *plan_chain(const struct seg_plan *p, const char *name)
{
	for (size_t i = 0; i < p->n_chains; i++)
		if (strcmp(p->chains[i].name, name) == 0)
			return &p->chains[i];
	return NULL;
}

static size_t kernel_chain_len(const struct tracer *t, const char *chain)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_krules; i++)
		n += strcmp(t->krules[i].chain, chain) == 0;
	return n;
}

/* The plan's rule behind a kernel rule handle; NULL when the kernel's chain
 * does not have the plan's shape (another configuration is installed). */
static const struct seg_plan_rule *plan_rule(const struct tracer *t, const char *chain, uint64_t handle,
					     size_t *ret_pos)
{
	const struct seg_plan_chain *c = plan_chain(t->plan, chain);

	for (size_t i = 0; i < t->n_krules; i++) {
		const struct seg_trace_rule *k = &t->krules[i];
		if (k->handle != handle || strcmp(k->chain, chain) != 0)
			continue;
		*ret_pos = k->pos;
		if (!c || kernel_chain_len(t, chain) != c->n_rules)
			return NULL;
		return &c->rules[k->pos];
	}
	return NULL;
}

/* ---- what decided ---- */

static const struct { char letter; const char *event, *what; } prefixes[] = {
	{ 'D', "flow-denied", "no conduit holds the flow (default deny)" },
	{ 'M', "flow-denied", "model guard: mynumber <-> internet/external (model rule 1)" },
	{ 'U', "flow-denied", "an interface outside every zone" },
	{ 'S', "spoofed-source", "source address not in the arrival interface's zone" },
	{ 'G', "to-gateway", "service not open on the gateway" },
	{ 'I', "flow-denied", "a zone cut off by segctl isolate" },
	{ 'O', "flow-denied", "sent by the gateway itself; no conduit from the gateway holds it" },
	{ 'L', "flow-denied", "link scope (link-local, link multicast) not in the zone's link_services" },
};

static void describe_prefix(const char *prefix, const char **event, const char **what)
{
	*event = "?";
	*what = prefix;
	for (size_t i = 0; prefix && i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(prefix, "segd ", 5) == 0 && prefix[5] == prefixes[i].letter) {
			*event = prefixes[i].event;
			*what = prefixes[i].what;
		}
}

/* seg_decide on the packet itself, with the interfaces it used. */
static void decide_packet(const struct tracer *t, const struct packet *p, bool input, struct seg_verdict *v)
{
	const struct seg_trace_event *e = &p->flow;
	char in[IF_NAMESIZE] = "", out[IF_NAMESIZE] = "";
	struct seg_flow f = { .path = input ? SEG_PATH_INPUT : SEG_PATH_FORWARD, .family = e->family,
			      .l4proto = e->l4proto, .dport = e->has_ports ? e->dport : 0 };

	memcpy(f.src, e->src, 16);
	memcpy(f.dst, e->dst, 16);
	if (e->iif && if_indextoname(e->iif, in))
		f.iif = in;
	if (!input && e->oif && if_indextoname(e->oif, out))
		f.oif = out;
	seg_decide(t->pol, &f, v);
}

/* ---- rendering ---- */

static bool segd_event(const struct tracer *t, const struct seg_trace_event *e)
{
	return strcmp(e->table, t->plan->table) == 0;
}

static bool verdict_final(int32_t v)
{
	return v == NF_ACCEPT || v == NF_DROP;
}

static int32_t step_verdict(const struct seg_trace_event *e)
{
	return e->type == SEG_TRACE_POLICY ? (int32_t)e->policy : e->verdict;
}

static void flow_text(const struct seg_trace_event *e, char *buf, size_t len)
{
	char a[64], b[64];
	struct protoent *pe = getprotobynumber(e->l4proto);
	bool icmp = e->l4proto == IPPROTO_ICMP || e->l4proto == IPPROTO_ICMPV6;

	seg_addr_format(e->family, e->src, a, sizeof(a));
	seg_addr_format(e->family, e->dst, b, sizeof(b));
	if (e->has_ports && !icmp)
		snprintf(buf, len, "%s %s%s%s:%u -> %s%s%s:%u", pe ? pe->p_name : "?",
			 e->family == AF_INET6 ? "[" : "", a, e->family == AF_INET6 ? "]" : "", e->sport,
			 e->family == AF_INET6 ? "[" : "", b, e->family == AF_INET6 ? "]" : "", e->dport);
	else if (e->has_ports)
		snprintf(buf, len, "%s %s -> %s type %u code %u", pe ? pe->p_name : "icmp", a, b, e->dport,
			 e->sport);
	else
		snprintf(buf, len, "proto %u %s -> %s", e->l4proto, a, b);
}

struct decision {
	int32_t verdict;
	const struct seg_trace_event *last;  /* the event that decided */
	const struct seg_plan_rule *rule;
	size_t pos;
	struct seg_verdict policy;           /* seg_decide's answer */
	bool input;
};

static void describe_decision(const struct tracer *t, const struct decision *d, char *buf, size_t len)
{
	const struct seg_config *cfg = t->cfg;
	const char *ev, *what;

	if (d->last->type == SEG_TRACE_POLICY) {
		snprintf(buf, len, "policy %s of chain %s", seg_trace_verdict_name(d->verdict), d->last->chain);
	} else if (d->rule && d->rule->action == SEG_A_DROP) {
		char zones[2][SEG_MAX_NAME + 2] = { "", "" };
		describe_prefix(d->rule->log_prefix, &ev, &what);
		sscanf(d->rule->log_prefix, "segd %*c %32s %32s", zones[0], zones[1]);
		snprintf(buf, len, "rule %zu of %s, log prefix \"%s\": %s %s -> %s, %s", d->pos + 1,
			 d->last->chain, d->rule->log_prefix, ev, zones[0], zones[1], what);
	} else if (d->verdict == NF_ACCEPT && d->policy.accept && d->policy.reason == SEG_REASON_CONDUIT) {
		const struct seg_conduit *c = &cfg->conduits[d->policy.conduit];
		snprintf(buf, len, "conduit '%s' (%s, approval %s, expires %s), %s:%d", c->name,
			 seg_conduit_kind_name(c->kind), c->approval ? c->approval : "-",
			 c->expires ? c->expires : "-", cfg->file, c->line);
	} else if (d->verdict == NF_ACCEPT) {
		snprintf(buf, len, "%s (rule %zu of chain %s)", seg_reason_name(d->policy.reason), d->pos + 1,
			 d->last->chain);
	} else {
		snprintf(buf, len, "rule %zu of chain %s", d->pos + 1, d->last->chain);
	}
}

static void decide_of(const struct tracer *t, const struct packet *p, struct decision *d)
{
	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i < p->n; i++) {
		const struct seg_trace_event *e = &p->steps[i].ev;
		if (!segd_event(t, e))
			continue;
		if (strcmp(e->chain, "input") == 0 || strncmp(e->chain, "in.", 3) == 0)
			d->input = true;
		d->last = e;
		d->verdict = step_verdict(e);
	}
	if (d->last && d->last->has_handle)
		d->rule = plan_rule(t, d->last->chain, d->last->handle, &d->pos);
	decide_packet(t, p, d->input, &d->policy);
}

static void print_step_text(const struct tracer *t, const struct seg_trace_event *e)
{
	char rule[512] = "";
	size_t pos = 0;
	const struct seg_plan_rule *r = e->has_handle ? plan_rule(t, e->chain, e->handle, &pos) : NULL;

	if (e->type == SEG_TRACE_POLICY) {
		printf("  %-24s policy %s\n", e->chain, seg_trace_verdict_name((int32_t)e->policy));
		return;
	}
	if (e->type == SEG_TRACE_RETURN) {
		printf("  %-24s end of chain, back to the base chain\n", e->chain);
		return;
	}
	if (r)
		seg_plan_format_rule(t->plan, r, rule, sizeof(rule));
	printf("  %-24s rule %zu (handle %llu)%s%s", e->chain, pos + 1, (unsigned long long)e->handle,
	       r ? ": " : " (not in the plan: the kernel holds another configuration)", rule);
	if (e->verdict == NFT_GOTO || e->verdict == NFT_JUMP)
		printf(" -> %s %s", seg_trace_verdict_name(e->verdict), e->target);
	if (r && r->line)
		printf("   [line %d]", r->line);
	fputc('\n', stdout);
}

static void print_agreement(const struct tracer *t, const struct decision *d)
{
	bool kernel_accept = d->verdict == NF_ACCEPT;

	if (kernel_accept == d->policy.accept)
		printf("  segctl explain agrees: %s (%s)\n", d->policy.accept ? "accept" : "drop",
		       seg_reason_name(d->policy.reason));
	else
		printf("  WARNING: segctl explain says %s (%s) for this packet — the kernel holds other "
		       "rules than %s describes\n", d->policy.accept ? "accept" : "drop",
		       seg_reason_name(d->policy.reason), t->cfg->file);
}

static void print_text(const struct tracer *t, const struct packet *p, const struct decision *d)
{
	char flow[200], why[768], in[IF_NAMESIZE] = "-", out[IF_NAMESIZE] = "-";

	flow_text(&p->flow, flow, sizeof(flow));
	if (p->flow.iif)
		if_indextoname(p->flow.iif, in);
	if (p->flow.oif)
		if_indextoname(p->flow.oif, out);
	printf("packet %lu  %s  (in %s, out %s)\n", t->printed + 1, flow, in, d->input ? "gateway" : out);
	for (size_t i = 0; i < p->n; i++)
		if (segd_event(t, &p->steps[i].ev))
			print_step_text(t, &p->steps[i].ev);
	describe_decision(t, d, why, sizeof(why));
	printf("  verdict: %s by %s\n", d->verdict == NF_ACCEPT ? "ACCEPT" : "DROP", why);
	print_agreement(t, d);
}

static void json_step(const struct tracer *t, const struct seg_trace_event *e, int *firstp)
{
	size_t pos = 0;
	const struct seg_plan_rule *r = e->has_handle ? plan_rule(t, e->chain, e->handle, &pos) : NULL;
	char rule[512];
	int first = 1;

	fputs(*firstp ? "{" : ",{", stdout);
	*firstp = 0;
	seg_json_key(stdout, &first, "chain");
	seg_json_str(stdout, e->chain);
	seg_json_key(stdout, &first, "type");
	seg_json_str(stdout, e->type == SEG_TRACE_POLICY ? "policy" : e->type == SEG_TRACE_RETURN ?
		     "return" : "rule");
	if (e->has_handle) {
		seg_json_key(stdout, &first, "handle");
		printf("%llu", (unsigned long long)e->handle);
		seg_json_key(stdout, &first, "position");
		printf("%zu", pos + 1);
	}
	if (r) {
		seg_plan_format_rule(t->plan, r, rule, sizeof(rule));
		seg_json_key(stdout, &first, "rule");
		seg_json_str(stdout, rule);
		seg_json_key(stdout, &first, "line");
		printf("%d", r->line);
	}
	seg_json_key(stdout, &first, "verdict");
	seg_json_str(stdout, seg_trace_verdict_name(step_verdict(e)));
	if (e->target[0]) {
		seg_json_key(stdout, &first, "target");
		seg_json_str(stdout, e->target);
	}
	fputc('}', stdout);
}

static void print_json(const struct tracer *t, const struct packet *p, const struct decision *d)
{
	char flow[200], why[768];
	int first = 1, sf = 1;

	flow_text(&p->flow, flow, sizeof(flow));
	describe_decision(t, d, why, sizeof(why));
	fputc('{', stdout);
	seg_json_key(stdout, &first, "flow");
	seg_json_str(stdout, flow);
	seg_json_key(stdout, &first, "path");
	fputc('[', stdout);
	for (size_t i = 0; i < p->n; i++)
		if (segd_event(t, &p->steps[i].ev))
			json_step(t, &p->steps[i].ev, &sf);
	fputc(']', stdout);
	seg_json_key(stdout, &first, "verdict");
	seg_json_str(stdout, d->verdict == NF_ACCEPT ? "accept" : "drop");
	seg_json_key(stdout, &first, "decided_by");
	seg_json_str(stdout, why);
	seg_json_key(stdout, &first, "conduit");
	seg_json_str(stdout, d->verdict == NF_ACCEPT && d->policy.reason == SEG_REASON_CONDUIT ?
		     t->cfg->conduits[d->policy.conduit].name : NULL);
	seg_json_key(stdout, &first, "explain_agrees");
	fputs((d->verdict == NF_ACCEPT) == d->policy.accept ? "true" : "false", stdout);
	fputs("}\n", stdout);
}

static void finish_packet(struct tracer *t, struct packet *p)
{
	struct decision d;

	decide_of(t, p, &d);
	if (d.last && p->flow.has_flow && (!t->max_count || t->printed < t->max_count)) {
		(t->json ? print_json : print_text)(t, p, &d);
		t->printed++;
		fflush(stdout);
	}
	p->used = false;
}

/* ---- collecting events ---- */

static struct packet *packet_of(struct tracer *t, uint32_t id)
{
	struct packet *free_slot = NULL, *oldest = NULL;

	for (size_t i = 0; i < MAX_OPEN; i++) {
		struct packet *p = &t->open[i];
		if (p->used && p->id == id)
			return p;
		if (!p->used && !free_slot)
			free_slot = p;
		if (p->used && (!oldest || p->first_us < oldest->first_us))
			oldest = p;
	}
	if (!free_slot) {                 /* never finished: show what it did */
		finish_packet(t, oldest);
		free_slot = oldest;
	}
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	free_slot->id = id;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	free_slot->first_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	return free_slot;
}

static void on_event(const struct seg_trace_event *e, void *ctx)
{
	struct tracer *t = ctx;
	struct packet *p = packet_of(t, e->id);

	if (!p->flow.has_flow && e->has_flow)
		p->flow = *e;
	if (p->n < MAX_STEPS && strcmp(e->table, t->own_table) != 0)
		p->steps[p->n++].ev = *e;
	if (segd_event(t, e) && (e->type == SEG_TRACE_POLICY ||
				 (e->type == SEG_TRACE_RULE && verdict_final(e->verdict))))
		finish_packet(t, p);
	else if (!segd_event(t, e) && strcmp(e->table, t->own_table) != 0 && e->type == SEG_TRACE_RULE &&
		 e->verdict == NF_DROP)
		finish_packet(t, p);      /* dropped by another table before segd's */
}

/* ---- the command ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_loop(struct tracer *t, struct seg_trace *tr, unsigned long seconds)
{
	int64_t end = now_ms() + (int64_t)seconds * 1000;
	struct pollfd pfd = { .fd = seg_trace_fd(tr), .events = POLLIN };
	bool lost = false;

	while (!stop_flag && now_ms() < end && (!t->max_count || t->printed < t->max_count)) {
		int64_t left = end - now_ms();
		int n = poll(&pfd, 1, left > 200 ? 200 : (int)(left > 0 ? left : 0));
		if (n < 0 && errno != EINTR)
			return -errno;
		int r = n > 0 ? seg_trace_read(tr, on_event, t) : 0;
		if (r == -ENOBUFS && !lost) {
			fprintf(stderr, "%s: trace: the kernel dropped trace events (socket full): some packets "
				"are incomplete\n", t->s->prog);
			lost = true;
		} else if (r < 0 && r != -ENOBUFS) {
			return r;
		}
	}
	for (size_t i = 0; i < MAX_OPEN; i++)
		if (t->open[i].used)
			finish_packet(t, &t->open[i]);
	return 0;
}

/* segctl isolate changes what segd compiles: the plan must match the kernel
 * rule for rule, so the isolated zones (state_dir) are marked first. */
static void mark_isolated(struct seg_config *cfg)
{
	struct seg_isolations iso = { 0 };

	if (!cfg->settings.state_dir || seg_iso_load(cfg->settings.state_dir, &iso, NULL) < 0)
		return;
	for (size_t i = 0; i < iso.n; i++) {
		int z = seg_zone_find(cfg, iso.v[i].zone);
		if (z >= 0)
			cfg->zones[z].isolated = true;
	}
	seg_iso_free(&iso);
}

static int load_plan(struct tracer *t)
{
	int r = segctl_load(t->s, NULL, &t->cfg);

	if (r != SEGCTL_OK)
		return r;
	mark_isolated(t->cfg);
	if (seg_policy_build(t->cfg, &t->pol) < 0 ||
	    seg_plan_compile(t->cfg, seg_policy_zonemap(t->pol), &t->plan) < 0) {
		fprintf(stderr, "%s: trace: cannot compile %s (out of memory?)\n", t->s->prog, t->cfg->file);
		return SEGCTL_ERROR;
	}
	r = seg_trace_rules(t->plan->table, &t->krules, &t->n_krules);
	if (r < 0) {
		fprintf(stderr, "%s: trace: table inet %s: %s — %s\n", t->s->prog, t->plan->table, strerror(-r),
			r == -ENOENT ? "segd's table is not installed here; run segctl in the gateway's "
			"network namespace, where segd runs" : "run as root (CAP_NET_ADMIN)");
		return SEGCTL_ERROR;
	}
	return SEGCTL_OK;
}

static void free_tracer(struct tracer *t)
{
	free(t->krules);
	seg_plan_free(t->plan);
	seg_policy_free(t->pol);
	seg_config_free(t->cfg);
}

static int trace_flow(struct tracer *t, const struct seg_trace_spec *sp, const struct args *a)
{
	struct seg_trace *tr = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	int r = seg_trace_start(sp, SEGD_PRIO, &tr);

	if (r < 0) {
		fprintf(stderr, "%s: trace: cannot add the tracing table: %s — run as root (CAP_NET_ADMIN)\n",
			t->s->prog, strerror(-r));
		return SEGCTL_ERROR;
	}
	t->own_table = seg_trace_table(tr);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "tracing %s %s %s for %lu s (table inet %s added; removed on exit) ...\n",
		a->src, a->dst, a->proto, a->seconds, t->own_table);
	r = run_loop(t, tr, a->seconds);
	seg_trace_stop(tr);
	if (r < 0) {
		fprintf(stderr, "%s: trace: reading trace events: %s\n", t->s->prog, strerror(-r));
		return SEGCTL_ERROR;
	}
	fprintf(stderr, "%lu packet%s traced; tracing table removed\n", t->printed, t->printed == 1 ? "" : "s");
	return SEGCTL_OK;
}

int cmd_trace(struct segctl *s, int argc, char **argv)
{
	struct args a = { 0 };
	struct seg_trace_spec sp;
	struct tracer *t;
	int r;

	if (parse_args(s, argc, argv, &a) < 0)
		return segctl_usage(s, "trace");
	if (build_spec(s, &a, &sp) < 0)
		return SEGCTL_ERROR;
	if (!(t = calloc(1, sizeof(*t)))) {
		fprintf(stderr, "%s: trace: out of memory\n", s->prog);
		return SEGCTL_ERROR;
	}
	t->s = s;
	t->json = s->json;
	t->max_count = a.count;
	r = load_plan(t);
	if (r == SEGCTL_OK)
		r = trace_flow(t, &sp, &a);
	free_tracer(t);
	free(t);
	return r;
}
