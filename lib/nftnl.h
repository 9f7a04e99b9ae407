/*
 * nftnl.h - the plan in the kernel, by ONE netlink transaction (libnftnl and
 * libmnl live only in the nft_*.c files behind this header; nft_int.h).
 *
 * An apply reads the kernel's table and sends only the difference: the table
 * and its base chains are created once and stay, set elements and rules are
 * added and deleted, what is kept keeps its counters (nft_apply.c says why
 * and in which order). The kernel holds the old rules or the new ones, never
 * a mix and never none, and a packet that both allow is never dropped for the
 * change. Only the last message asks for an ACK; errors are always answered,
 * with the extended ACK, and each sequence number maps back to the plan
 * element and its configuration line.
 *
 * Library code: nothing is printed; failures come back in struct seg_nft_error.
 */
#ifndef SEGD_NFTNL_H
#define SEGD_NFTNL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "plan.h"

struct seg_nft_error {
	int err;                  /* -errno; 0: no error */
	char errname[24];         /* "EEXIST" */
	char ext[256];            /* the kernel's extended-ACK message, "" when it gave none */
	char what[512];           /* the operation: "set 'c4p.a.b' element 10.0.0.5 . ..." */
	int line;                 /* configuration line of the operation; 0: none */
	size_t n_failed;          /* messages the kernel refused */
};

struct seg_nft_stats {
	size_t batch_bytes;       /* bytes sent in the one sendmsg; 0 when nothing was sent */
	size_t messages;          /* netlink messages in the batch, BEGIN/END included */
	uint32_t gen_before, gen_after;
	bool acks_lost;           /* ENOBUFS while reading replies: settled by the generation */
	bool unchanged;           /* the kernel's table was the plan already: nothing sent */
	bool replaced;            /* the table was deleted and created again (persist changed,
				   * or the kernel refused the difference: delta_refused says why) */
	double commit_ms;         /* the one sendmsg and its answers: the kernel's part */
	unsigned attempts;        /* reads of the table (another commit came between: ERESTART) */
	size_t elems_added, elems_deleted, rules_added, rules_deleted;
	size_t sets_added, sets_deleted, chains_added, chains_deleted;
	size_t sets_read;         /* kernel sets whose elements were dumped (the others remembered) */
	size_t sets_kernel;       /* sets the kernel's table had */
	char delta_refused[800];
};

/* A built batch (exposed for the round-trip tests). */
struct seg_nft_batch;

int seg_nft_batch_build(const struct seg_plan *plan, struct seg_nft_batch **ret);
void seg_nft_batch_free(struct seg_nft_batch *b);
const void *seg_nft_batch_data(const struct seg_nft_batch *b, size_t *ret_len);
size_t seg_nft_batch_messages(const struct seg_nft_batch *b);

/* Describes the operation of message seq (and the byte offset the kernel
 * pointed at, or 0) in err->what / err->line. For tests and for apply. */
void seg_nft_batch_describe(const struct seg_nft_batch *b, const struct seg_plan *plan, uint32_t seq,
			    uint32_t offset, struct seg_nft_error *err);
uint32_t seg_nft_batch_first_seq(const struct seg_nft_batch *b);

/* What the kernel answered to a batch: filled by seg_nft_apply's reader. */
struct seg_nft_replies {
	uint32_t last_seq;        /* in: the one message that asked for an ACK */
	bool saw_last;            /* its ACK arrived */
	bool overflow;            /* ENOBUFS while reading: answers were lost */
	uint32_t err_seq, err_off;   /* the first refused message; the byte offset the kernel named */
	int err;                  /* its -errno; 0: nothing refused */
	char ext[256];            /* its extended-ACK text */
	size_t n_failed;          /* messages refused */
};

/* Takes the NLMSG_ERROR messages (ACKs and refusals, with extended-ACK
 * attributes) of one received datagram buf[0..len) into rp; other messages
 * are skipped. Pure, and every length is checked: the socket reader's
 * parsing, exposed for the fuzzer (fuzz/fuzz_netlink.c) and tests. */
void seg_nft_replies_take(struct seg_nft_replies *rp, const void *buf, size_t len);

/* Makes table inet <plan->table> what the plan says, by difference. 0 when
 * the kernel committed it (or had it already: stats->unchanged); -errno
 * otherwise, with err filled (the previous ruleset is then untouched). */
int seg_nft_apply(const struct seg_plan *plan, struct seg_nft_stats *stats, struct seg_nft_error *err);

/* A netlink socket kept open for a daemon's life. With own, the table is
 * created with NFT_TABLE_F_OWNER|NFT_TABLE_F_PERSIST: while the socket is
 * open no other process can change or delete it, and when the socket closes
 * (exit, SIGKILL) the table stays, without an owner, for the next segd to
 * take over. Never owner without persist: that table vanishes with its
 * socket (fail open). Only ask for own where seg_nft_probe_persist() is 1. */
struct seg_nft_conn;
int seg_nft_conn_open(bool own, struct seg_nft_conn **ret);
void seg_nft_conn_close(struct seg_nft_conn *c);
bool seg_nft_conn_owns(const struct seg_nft_conn *c);
/* Its netlink port id: the NEWGEN event of a commit names the committer's. */
uint32_t seg_nft_conn_portid(const struct seg_nft_conn *c);
/* seg_nft_apply through the connection. prev: the plan the caller believes
 * the kernel holds (the running one; NULL: none). When it is the plan this
 * connection committed last, the sets the two plans hold alike are taken
 * from the connection's memory instead of being rendered and compared
 * again; prev must stay valid for the call. */
int seg_nft_conn_apply(struct seg_nft_conn *c, const struct seg_plan *plan, const struct seg_plan *prev,
		       struct seg_nft_stats *stats, struct seg_nft_error *err);

/* What the tamper monitor saw: another process's commit changed the
 * elements (or the set itself) of set, NULL for "anything, perhaps" (events
 * lost, the table re-created); and it has read every event up to the
 * commit of generation gen. A connection remembers the elements it
 * committed last and dumps again only the sets named here; without this
 * information (no monitor, a generation it has not seen) it dumps all. */
#define SEG_NFT_DIRTY_MAX 64
void seg_nft_conn_changed(struct seg_nft_conn *c, const char *set);
void seg_nft_conn_seen(struct seg_nft_conn *c, uint32_t gen);
/* Whether the ruleset's generation is still the one the connection's last
 * commit made: then no process has committed anything since, and whatever
 * events were lost were its own or older than its read of the table (which
 * the commit answered). ret_gen (may be NULL): the generation now. */
bool seg_nft_conn_still_ours(const struct seg_nft_conn *c, uint32_t *ret_gen);

/* The kernel's ruleset generation (NFT_MSG_GETGEN). */
int seg_nft_generation(uint32_t *ret_gen);

/* Whether the running kernel knows NFT_TABLE_F_PERSIST (owner without the
 * table vanishing with its socket): probed with a batch that is never
 * committed (no END message). 1 yes, 0 no, -errno when it cannot tell. */
int seg_nft_probe_persist(void);

/* The one way segd opens a NETLINK_NETFILTER socket (nft_sock.c), for the
 * backend, tracing (trace.c) and the tamper monitor (daemon/nftmon.c):
 * bound, extended and capped ACKs, a 4 MiB receive buffer, the send buffer
 * raised to sndbuf (0: default); group: a multicast group to join (0: none).
 * NULL with errno. */
struct mnl_socket;
struct mnl_socket *seg_nft_socket(unsigned group, bool nonblock, size_t sndbuf);
/* The same set-up for another netlink bus (NETLINK_ROUTE for links.c). */
struct mnl_socket *seg_netlink_socket(int bus, unsigned group, bool nonblock, size_t sndbuf);

/* ---- reading the table back ---- */

#define SEG_NFT_DIFF_TEXTS 16     /* descriptions kept; the rest are counted in n_more */
#define SEG_NFT_DIFF_TEXT  320

/* How the kernel's table inet <plan->table> differs from what the plan
 * installs. Counters, handles and positions are state, not policy: ignored.
 * Element counts are of kernel elements without interval ends (a range of a
 * one-dimensional interval set is one element). */
struct seg_nft_diff {
	bool in_sync;
	bool table_missing;
	bool table_changed;       /* flags (dormant, owner) */
	size_t chains_missing, chains_extra, chains_changed;   /* changed: hook, type, priority, policy */
	size_t rules_missing, rules_extra, rules_changed;
	size_t sets_missing, sets_extra, sets_changed;         /* changed: key, flags, data, counter */
	size_t elems_missing, elems_extra, elems_changed;      /* changed: same key, other verdict */
	size_t n_text, n_more;
	char text[SEG_NFT_DIFF_TEXTS][SEG_NFT_DIFF_TEXT];     /* "chain 'forward': policy accept, the plan says drop" */
};

/* Dumps table inet <plan->table> (table, chains, sets, elements, rules; the
 * dumps are repeated when another commit moves the ruleset generation
 * meanwhile) and compares it with the plan's batch. 0 with *ret filled (in
 * sync or not), or -errno (EAGAIN: the ruleset kept changing; EPERM). */
int seg_nft_verify(const struct seg_plan *plan, struct seg_nft_diff *ret);

/* The comparison alone: the table as described by the netlink messages in
 * buf (a dump's replies, or another batch) against the plan. For tests. */
int seg_nft_verify_messages(const struct seg_plan *plan, const void *buf, size_t len,
			    struct seg_nft_diff *ret);

/* 1 when table inet <name> exists, 0 when not, -errno. */
int seg_nft_table_exists(const char *name);

/* The kernel's counters of table inet <plan->table>, for lib/stats.c: every
 * rule that has a counter and a log prefix, and every element of the plan's
 * counting sets (set: index into plan->sets; key as the kernel holds it:
 * for interval sets of concatenations the range start). */
struct seg_nft_counter_fns {
	void (*rule)(const char *chain, const char *log_prefix, uint64_t packets, uint64_t bytes, void *ctx);
	void (*elem)(size_t set, const uint8_t *key, size_t key_len, uint64_t packets, uint64_t bytes,
		     void *ctx);
};
/* 0, -ENOENT (no such table), -EAGAIN, or another -errno. */
int seg_nft_read_counters(const struct seg_plan *plan, const struct seg_nft_counter_fns *fns, void *ctx);

#endif
