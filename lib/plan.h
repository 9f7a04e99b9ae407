/*
 * plan.h - the compiled ruleset: the one description of what segd installs.
 *
 * compile.c builds a plan from a validated configuration and its zone map;
 *  nft_text.c renders it as `nft -f` text (segctl rules) and nft_batch.c as
 * netlink batch. Both renderers walk the same typed description (sets with
 * their elements, chains with rules made of a few typed conditions and one
 * action), so the printed ruleset and the installed one cannot drift apart.
 *
 * Deterministic: the same configuration gives the same plan, byte for byte
 * (sets and chains in a fixed order, elements sorted). Every element and rule
 * carries the configuration line it comes from and a stable id, so golden
 * tests work and a kernel error can be mapped back to a line of the file.
 *
 * Ownership: a struct seg_plan owns everything below it; seg_plan_free()
 * accepts NULL and half-built plans. The plan borrows nothing from the
 * configuration.
 */
#ifndef SEGD_PLAN_H
#define SEGD_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "model.h"
#include "zonemap.h"

/* Types of a set key component (nft datatype names in nft_text.c). */
enum seg_ktype {
	SEG_KT_IFNAME,        /* 16 bytes, NUL padded */
	SEG_KT_IPV4,          /* 4 bytes, network order */
	SEG_KT_IPV6,          /* 16 bytes */
	SEG_KT_PROTO,         /* 1 byte: inet_proto */
	SEG_KT_PORT,          /* 2 bytes, network order: inet_service */
	SEG_KT_ICMPV6_TYPE,   /* 1 byte */
	SEG_KT_ETHER,         /* 6 bytes: ether_addr */
	SEG_KT_ICMP_TYPE,     /* 1 byte */
	SEG_KT_COUNT
};

/* What a rule loads into a register to look it up. */
enum seg_field {
	SEG_F_IIFNAME, SEG_F_OIFNAME,
	SEG_F_IP_SADDR, SEG_F_IP_DADDR,
	SEG_F_IP6_SADDR, SEG_F_IP6_DADDR,
	SEG_F_L4PROTO,
	SEG_F_TH_SPORT, SEG_F_TH_DPORT,
	SEG_F_ICMPV6_TYPE,
	SEG_F_ETHER_SADDR,    /* implies meta iiftype ether */
	SEG_F_ICMP_TYPE,      /* implies meta l4proto icmp */
	SEG_F_CT_OSADDR, SEG_F_CT_OSADDR6,   /* ct original ip saddr, ip6 saddr */
	SEG_F_CT_PROTO,       /* ct protocol (layer 4) */
	SEG_F_COUNT
};

#define SEG_PLAN_MAX_FIELDS 4
#define SEG_PLAN_KEY_MAX    40    /* ipv6 . ipv6 . proto . port, 4-byte aligned */

/* Verdicts of verdict-map elements. */
enum seg_plan_verdict { SEG_V_NONE, SEG_V_ACCEPT, SEG_V_GOTO };

/*
 * An element is a box: for each key component an inclusive range [lo, hi]
 * (lo == hi for exact values). Components sit at 4-byte aligned offsets as in
 * the kernel's registers (a single-component key is not padded).
 */
struct seg_plan_elem {
	uint8_t lo[SEG_PLAN_KEY_MAX], hi[SEG_PLAN_KEY_MAX];
	enum seg_plan_verdict verdict;   /* maps only */
	uint32_t chain;                  /* SEG_V_GOTO: index into plan->chains */
	int line;                        /* configuration line (0: none) */
	uint32_t id;                     /* stable id: hash of set name and key */
	uint32_t conduit;                /* 1 + index into plan->conduits; 0: none */
};

struct seg_plan_set {
	char *name;
	enum seg_ktype key[SEG_PLAN_MAX_FIELDS];
	size_t n_key;
	bool interval;                   /* elements may be ranges */
	bool vmap;                       /* a verdict map */
	bool counter;                    /* each element counts the packets it matched */
	struct seg_plan_elem *elems;
	size_t n_elems, cap;
	int line;
};

enum seg_cond_kind {
	SEG_C_NFPROTO,        /* meta nfproto ipv4|ipv6 (arg: 4 or 6) */
	SEG_C_CT_REPLY,       /* ct direction reply */
	SEG_C_CT_ORIGINAL,    /* ct direction original */
	SEG_C_CT_RELATED,     /* ct state related */
	SEG_C_CT_ESTABLISHED, /* ct state established */
	SEG_C_LOOKUP,         /* fields [!=] @set */
	SEG_C_VMAP,           /* fields vmap @set (ends the rule) */
};

struct seg_plan_cond {
	enum seg_cond_kind kind;
	int arg;                         /* SEG_C_NFPROTO: 4 or 6 */
	bool invert;                     /* SEG_C_LOOKUP: != */
	uint32_t set;                    /* index into plan->sets */
	enum seg_field f[SEG_PLAN_MAX_FIELDS];
	size_t n_f;
};

enum seg_plan_action {
	SEG_A_NONE,           /* the verdict comes from a verdict map */
	SEG_A_ACCEPT,
	SEG_A_DROP,           /* counter, log prefix .. group .., drop */
	SEG_A_COUNT_ACCEPT,   /* counter accept: a base chain's last word (never its policy) */
	SEG_A_GOTO,           /* goto chains[target] (a chain that ends in its own verdict) */
};

#define SEG_PLAN_MAX_CONDS 3

struct seg_plan_rule {
	struct seg_plan_cond c[SEG_PLAN_MAX_CONDS];
	size_t n_c;
	enum seg_plan_action action;
	char *log_prefix;                /* SEG_A_DROP: "segd <E> <from> <to>" */
	uint32_t target;                 /* SEG_A_GOTO: index into plan->chains */
	int line;
	uint32_t id;
};

enum seg_plan_hook { SEG_HOOK_NONE, SEG_HOOK_FORWARD, SEG_HOOK_INPUT, SEG_HOOK_OUTPUT };

struct seg_plan_chain {
	char *name;
	enum seg_plan_hook hook;         /* NONE: a regular chain */
	bool policy_drop;
	struct seg_plan_rule *rules;
	size_t n_rules, cap;
};

struct seg_plan_counts {
	size_t sets, elems, chains, rules;
	size_t conduits_installed, conduits_expired, conduits_unreachable;
};

/* An installed conduit, named by the elements it put in the counting sets.
 * Where conduits overlap, the shared element belongs to the one with the
 * lowest configuration line (exact tuples) or to the one sorted first
 * (disjoint interval pieces): a packet is counted once, for one conduit. */
struct seg_plan_conduit {
	char *name, *from, *to;
	int line;
};

struct seg_plan {
	char *table;                     /* family inet */
	int table_line;                  /* settings line naming it (0: default) */
	uint16_t log_group;
	char *file;                      /* configuration file, for errors */
	struct seg_plan_set *sets;
	size_t n_sets, cap_sets;
	struct seg_plan_chain *chains;
	size_t n_chains, cap_chains;
	struct seg_plan_conduit *conduits;     /* installed ones, in configuration order */
	size_t n_conduits;
	struct seg_plan_counts counts;
	uint64_t serial;                 /* unique per compiled plan in this process (never
					  * rendered): lets nft_apply.c recognise the plan it
					  * last committed without comparing it */
};

/* Compiles cfg (validated) with its zone map. 0, or -ENOMEM / -E2BIG (the
 * ruleset would hold more than settings.max_elements set elements:
 * seg_plan_size_diag says which conduits expand most). *ret owned by the
 * caller. */
int seg_plan_compile(const struct seg_config *cfg, const struct seg_zonemap *map,
		     struct seg_plan **ret);
/* The error for -E2BIG, at the line of the conduit that expands most, naming
 * the three largest with their entries. 1 when it said so. */
struct seg_diags;
int seg_plan_size_diag(const struct seg_config *cfg, const struct seg_zonemap *map, struct seg_diags *d);
/* seg_plan_compile, with a ruleset over settings.max_elements reported in d
 * and returned as -EINVAL (an invalid configuration, as validation's). */
int seg_plan_build(const struct seg_config *cfg, const struct seg_zonemap *map, struct seg_diags *d,
		   struct seg_plan **ret);
void seg_plan_free(struct seg_plan *plan);

/* Key geometry shared by the renderers. */
size_t seg_ktype_len(enum seg_ktype t);            /* bytes of a component */
size_t seg_set_key_len(const struct seg_plan_set *s); /* bytes incl. padding */
size_t seg_set_key_off(const struct seg_plan_set *s, size_t i);
enum seg_ktype seg_field_ktype(enum seg_field f);

/* nft -f text of the whole plan (segctl rules). Returns 0 or -errno. */
#include <stdio.h>
int seg_plan_write_nft(const struct seg_plan *plan, FILE *f);
/* One element as nft writes it ("10.0.0.1 . 10.20.0.5 . tcp . 443"). */
void seg_plan_format_elem(const struct seg_plan_set *s, const struct seg_plan_elem *e,
			  char *buf, size_t len);
/* One rule without its chain ("ip saddr != @z4.lgwan counter log ..."). */
void seg_plan_format_rule(const struct seg_plan *plan, const struct seg_plan_rule *r,
			  char *buf, size_t len);

#endif
