/*
 * nft_text.c - the plan as `nft -f` text (segctl rules).
 *
 * The text starts like segd's batch: create the table, delete it, create it
 * again with everything in it, so that `nft -f` of this text replaces the
 * previous version of the table in one transaction, exactly as segd does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "plan.h"

static const char *const ktype_names[SEG_KT_COUNT] = {
	[SEG_KT_IFNAME] = "ifname", [SEG_KT_IPV4] = "ipv4_addr", [SEG_KT_IPV6] = "ipv6_addr",
	[SEG_KT_PROTO] = "inet_proto", [SEG_KT_PORT] = "inet_service",
	[SEG_KT_ICMPV6_TYPE] = "icmpv6_type", [SEG_KT_ETHER] = "ether_addr",
	[SEG_KT_ICMP_TYPE] = "icmp_type",
};

static const char *const field_names[SEG_F_COUNT] = {
	[SEG_F_IIFNAME] = "iifname", [SEG_F_OIFNAME] = "oifname",
	[SEG_F_IP_SADDR] = "ip saddr", [SEG_F_IP_DADDR] = "ip daddr",
	[SEG_F_IP6_SADDR] = "ip6 saddr", [SEG_F_IP6_DADDR] = "ip6 daddr",
	[SEG_F_L4PROTO] = "meta l4proto",
	[SEG_F_TH_SPORT] = "th sport", [SEG_F_TH_DPORT] = "th dport",
	[SEG_F_ICMPV6_TYPE] = "icmpv6 type", [SEG_F_ETHER_SADDR] = "ether saddr",
	[SEG_F_ICMP_TYPE] = "icmp type",
	[SEG_F_CT_OSADDR] = "ct original ip saddr", [SEG_F_CT_OSADDR6] = "ct original ip6 saddr",
	[SEG_F_CT_PROTO] = "ct protocol",
};

static const char *const hook_names[] = {
	[SEG_HOOK_NONE] = NULL, [SEG_HOOK_FORWARD] = "forward", [SEG_HOOK_INPUT] = "input", [SEG_HOOK_OUTPUT] = "output",
};

/* A bounded string builder: output is cut, never overrun. */
struct sb {
	char *p;
	size_t len, used;
};

__attribute__((format(printf, 2, 3)))
static void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;

	if (b->used >= b->len)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->used += (size_t)n;
}

/* Prefix length when [lo, hi] is exactly one prefix, else -1. */
static int range_prefix(const uint8_t *lo, const uint8_t *hi, size_t w)
{
	int len = -1;

	for (size_t i = 0; i < w * 8; i++) {
		int bl = (lo[i / 8] >> (7 - i % 8)) & 1, bh = (hi[i / 8] >> (7 - i % 8)) & 1;
		if (len < 0 && bl != bh)
			len = (int)i;
		if (len >= 0 && (bl != 0 || bh != 1))
			return -1;
	}
	return len < 0 ? (int)(w * 8) : len;
}

static void fmt_addr(struct sb *b, int af, const uint8_t *lo, const uint8_t *hi)
{
	size_t w = af == AF_INET ? 4 : 16;
	char a[INET6_ADDRSTRLEN], z[INET6_ADDRSTRLEN];
	int plen = range_prefix(lo, hi, w);

	inet_ntop(af, lo, a, sizeof(a));
	if (plen == (int)(w * 8)) {
		sb_add(b, "%s", a);
	} else if (plen >= 0) {
		sb_add(b, "%s/%d", a, plen);
	} else {
		inet_ntop(af, hi, z, sizeof(z));
		sb_add(b, "%s-%s", a, z);
	}
}

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "ipv6-icmp";
	default: return NULL;
	}
}

static void fmt_number(struct sb *b, enum seg_ktype t, unsigned lo, unsigned hi)
{
	const char *n = t == SEG_KT_PROTO && lo == hi ? proto_name((uint8_t)lo) : NULL;

	if (n)
		sb_add(b, "%s", n);
	else if (lo == hi)
		sb_add(b, "%u", lo);
	else
		sb_add(b, "%u-%u", lo, hi);
}

static void fmt_component(struct sb *b, enum seg_ktype t, const uint8_t *lo, const uint8_t *hi)
{
	switch (t) {
	case SEG_KT_IFNAME:
		sb_add(b, "\"%.16s\"", (const char *)lo);
		break;
	case SEG_KT_IPV4:
		fmt_addr(b, AF_INET, lo, hi);
		break;
	case SEG_KT_IPV6:
		fmt_addr(b, AF_INET6, lo, hi);
		break;
	case SEG_KT_PORT:
		fmt_number(b, t, (unsigned)(lo[0] << 8 | lo[1]), (unsigned)(hi[0] << 8 | hi[1]));
		break;
	case SEG_KT_ETHER:   /* exact only: MAC bindings are single hosts */
		sb_add(b, "%02x:%02x:%02x:%02x:%02x:%02x", lo[0], lo[1], lo[2], lo[3], lo[4], lo[5]);
		break;
	default:
		fmt_number(b, t, lo[0], hi[0]);
		break;
	}
}

static void fmt_elem(struct sb *b, const struct seg_plan_set *s, const struct seg_plan_elem *e)
{
	for (size_t i = 0; i < s->n_key; i++) {
		size_t off = seg_set_key_off(s, i);
		if (i > 0)
			sb_add(b, " . ");
		fmt_component(b, s->key[i], e->lo + off, e->hi + off);
	}
}

void seg_plan_format_elem(const struct seg_plan_set *s, const struct seg_plan_elem *e, char *buf, size_t len)
{
	struct sb b = { buf, len, 0 };

	if (len > 0)
		buf[0] = '\0';
	fmt_elem(&b, s, e);
}

static void fmt_fields(struct sb *b, const struct seg_plan_cond *c)
{
	for (size_t i = 0; i < c->n_f; i++)
		sb_add(b, "%s%s", i ? " . " : "", field_names[c->f[i]]);
}

static void fmt_cond(struct sb *b, const struct seg_plan *p, const struct seg_plan_cond *c)
{
	switch (c->kind) {
	case SEG_C_NFPROTO:
		sb_add(b, "meta nfproto %s", c->arg == 6 ? "ipv6" : "ipv4");
		break;
	case SEG_C_CT_REPLY:
		sb_add(b, "ct direction reply");
		break;
	case SEG_C_CT_ORIGINAL:
		sb_add(b, "ct direction original");
		break;
	case SEG_C_CT_RELATED:
		sb_add(b, "ct state related");
		break;
	case SEG_C_CT_ESTABLISHED:
		sb_add(b, "ct state established");
		break;
	case SEG_C_LOOKUP:
		fmt_fields(b, c);
		sb_add(b, " %s@%s", c->invert ? "!= " : "", p->sets[c->set].name);
		break;
	case SEG_C_VMAP:
		fmt_fields(b, c);
		sb_add(b, " vmap @%s", p->sets[c->set].name);
		break;
	}
}

void seg_plan_format_rule(const struct seg_plan *plan, const struct seg_plan_rule *r, char *buf, size_t len)
{
	struct sb b = { buf, len, 0 };

	if (len > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < r->n_c; i++) {
		if (i > 0)
			sb_add(&b, " ");
		fmt_cond(&b, plan, &r->c[i]);
	}
	const char *sep = r->n_c ? " " : "";
	if (r->action == SEG_A_ACCEPT)
		sb_add(&b, "%saccept", sep);
	else if (r->action == SEG_A_COUNT_ACCEPT)
		sb_add(&b, "%scounter accept", sep);
	else if (r->action == SEG_A_GOTO)
		sb_add(&b, "%sgoto %s", sep, plan->chains[r->target].name);
	else if (r->action == SEG_A_DROP)
		sb_add(&b, "%scounter log prefix \"%s\" group %u drop", sep, r->log_prefix,
		       (unsigned)plan->log_group);
}

static void write_set(FILE *f, const struct seg_plan *p, const struct seg_plan_set *s, char *buf, size_t len)
{
	fprintf(f, "\t%s %s {\n\t\ttype ", s->vmap ? "map" : "set", s->name);
	for (size_t i = 0; i < s->n_key; i++)
		fprintf(f, "%s%s", i ? " . " : "", ktype_names[s->key[i]]);
	fprintf(f, "%s\n", s->vmap ? " : verdict" : "");
	if (s->interval)
		fprintf(f, "\t\tflags interval\n");
	if (s->counter)
		fprintf(f, "\t\tcounter\n");
	fprintf(f, "\t\telements = {");
	for (size_t i = 0; i < s->n_elems; i++) {
		const struct seg_plan_elem *e = &s->elems[i];
		seg_plan_format_elem(s, e, buf, len);
		fprintf(f, "%s\n\t\t\t%s", i ? "," : "", buf);
		if (e->verdict == SEG_V_GOTO)
			fprintf(f, " : goto %s", p->chains[e->chain].name);
		else if (e->verdict == SEG_V_ACCEPT)
			fprintf(f, " : accept");
	}
	fprintf(f, "\n\t\t}\n\t}\n\n");
}

static void write_chain(FILE *f, const struct seg_plan *p, const struct seg_plan_chain *c, char *buf, size_t len)
{
	fprintf(f, "\tchain %s {\n", c->name);
	if (c->hook != SEG_HOOK_NONE)
		fprintf(f, "\t\ttype filter hook %s priority filter; policy %s;\n",
			hook_names[c->hook], c->policy_drop ? "drop" : "accept");
	for (size_t i = 0; i < c->n_rules; i++) {
		seg_plan_format_rule(p, &c->rules[i], buf, len);
		fprintf(f, "\t\t%s\n", buf);
	}
	fprintf(f, "\t}\n");
}

int seg_plan_write_nft(const struct seg_plan *plan, FILE *f)
{
	char buf[1024];

	fprintf(f, "# segd ruleset compiled from %s: %zu sets, %zu elements, %zu chains, %zu rules\n",
		plan->file ? plan->file : "(memory)", plan->counts.sets, plan->counts.elems,
		plan->counts.chains, plan->counts.rules);
	fprintf(f, "table inet %s\ndelete table inet %s\n\ntable inet %s {\n", plan->table, plan->table,
		plan->table);
	for (size_t i = 0; i < plan->n_sets; i++)
		write_set(f, plan, &plan->sets[i], buf, sizeof(buf));
	for (size_t i = 0; i < plan->n_chains; i++) {
		if (i > 0)
			fputc('\n', f);
		write_chain(f, plan, &plan->chains[i], buf, sizeof(buf));
	}
	fprintf(f, "}\n");
	return ferror(f) ? -EIO : 0;
}
