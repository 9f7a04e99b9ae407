/*
 * stats.h - the kernel's packet counters of segd's table, per drop rule and
 * per conduit (segctl stats), and both these and verify's result as
 * control-protocol key=value lists (control.h).
 *
 * Drop rules are identified by their NFLOG prefix "segd <E> <from|-> <to|->"
 * (two rules with one prefix, the IPv4 and IPv6 spoofing checks, add up).
 * A conduit's count is the sum of the counters of its set elements; the
 * reply direction of its connections is looked up in the same sets, so
 * replies count too. Where conduits overlap, a packet counts for one of them
 * (plan.h, struct seg_plan_conduit).
 *
 * Keys of seg_counters_to_kv (values space-separated; names are
 * [a-z0-9_-], "-" for no zone):
 *   drop=<event> <from|-> <to|-> <packets> <bytes>         one per (event, from, to)
 *   conduit=<name> <from> <to> <packets> <bytes>           one per installed conduit
 *   conduits_omitted=<count> <packets> <bytes>             those left out (message size)
 *   unattributed=<elements> <packets> <bytes>              kernel elements of no plan conduit
 * <event>: flow-denied (D), model-guard (M), unzoned (U), spoofed-source (S),
 * to-gateway (G), isolated (I).
 *
 * Keys of seg_nft_diff_to_kv:
 *   in_sync=yes|no
 *   diff.table=ok|missing|changed
 *   diff.chains=<missing> <extra> <changed>   and diff.rules, diff.sets, diff.elements alike
 *   diff=<text>                               repeated, at most SEG_NFT_DIFF_TEXTS
 *   diff_more=<count>                         differences not described
 *
 * Ownership: struct seg_counters owns its arrays; seg_counters_free accepts NULL.
 */
#ifndef SEGD_STATS_H
#define SEGD_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "control.h"
#include "model.h"
#include "nflog.h"
#include "nftnl.h"
#include "plan.h"

#define SEG_STATS_MAX_CONDUITS_KV 4000   /* conduit= pairs in one message (the busiest first) */

struct seg_drop_count {
	enum seg_nflog_event event;
	char from[SEG_MAX_NAME + 1], to[SEG_MAX_NAME + 1];   /* "" for none */
	uint64_t packets, bytes;
};

struct seg_conduit_count {
	char name[SEG_MAX_NAME + 1], from[SEG_MAX_NAME + 1], to[SEG_MAX_NAME + 1];
	uint64_t packets, bytes;
};

struct seg_counters {
	struct seg_drop_count *drops;      /* sorted by from, to, event */
	size_t n_drops, cap_drops;
	struct seg_conduit_count *conduits; /* plan order */
	size_t n_conduits;
	size_t omitted;                    /* conduits not in the list (from_kv) */
	uint64_t omitted_packets, omitted_bytes;
	size_t unattributed;               /* kernel elements matching no plan element */
	uint64_t unattributed_packets, unattributed_bytes;
};

/* Reads the kernel's counters of table inet <plan->table>. 0, -ENOENT (no
 * such table), -EPERM, or another -errno. *ret owned by the caller. */
int seg_nft_counters(const struct seg_plan *plan, struct seg_counters **ret);
void seg_counters_free(struct seg_counters *c);

/* The steps of seg_nft_counters, exposed for tests: zero counts for every
 * drop rule and conduit of the plan, then the kernel's values added. */
int seg_counters_new(const struct seg_plan *plan, struct seg_counters **ret);
/* -EINVAL for a prefix that is not segd's (ignored), -ENOMEM. */
int seg_counters_add_drop(struct seg_counters *c, const char *log_prefix, uint64_t packets, uint64_t bytes);
void seg_counters_add_elem(struct seg_counters *c, const struct seg_plan *plan, size_t set,
			   const uint8_t *key, size_t key_len, uint64_t packets, uint64_t bytes);

/* "flow-denied", ...; NULL out of range. And back: 0 or -EINVAL. */
const char *seg_drop_event_name(enum seg_nflog_event ev);
int seg_drop_event_parse(const char *name, enum seg_nflog_event *ret);

/* Appends the keys above to out. 0 or -errno (seg_kv_add's). */
int seg_counters_to_kv(const struct seg_counters *c, struct seg_kvlist *out);
/* Reads them back (other keys are ignored). -EBADMSG on a malformed value. */
int seg_counters_from_kv(const struct seg_kvlist *l, struct seg_counters **ret);

int seg_nft_diff_to_kv(const struct seg_nft_diff *d, struct seg_kvlist *out);
int seg_nft_diff_from_kv(const struct seg_kvlist *l, struct seg_nft_diff *ret);

#endif
