/*
 * nftnl.h - the plan as ONE netlink transaction (libnftnl/libmnl live only in
 * nftnl.c).
 *
 * The batch is BEGIN, NEWTABLE, DELTABLE, NEWTABLE, chains, sets with their
 * elements, rules, END: the previous version of the table goes and the new one
 * comes in the same commit, so the kernel holds one or the other, never a mix
 * and never none. Only the last message asks for an ACK; errors are always
 * answered, with the extended ACK, and each sequence number maps back to the
 * plan element and its configuration line.
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
	size_t batch_bytes;       /* bytes sent in the one sendmsg */
	size_t messages;          /* netlink messages in the batch, BEGIN/END included */
	uint32_t gen_before, gen_after;
	bool acks_lost;           /* ENOBUFS while reading replies: settled by the generation */
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

/* Builds and commits the plan. 0 when the kernel committed it; -errno
 * otherwise, with err filled (the previous ruleset is then untouched). */
int seg_nft_apply(const struct seg_plan *plan, struct seg_nft_stats *stats, struct seg_nft_error *err);

/* The kernel's ruleset generation (NFT_MSG_GETGEN). */
int seg_nft_generation(uint32_t *ret_gen);

/* Whether the running kernel knows NFT_TABLE_F_PERSIST (owner without the
 * table vanishing with its socket): probed with a batch that is never
 * committed (no END message). 1 yes, 0 no, -errno when it cannot tell. */
int seg_nft_probe_persist(void);

#endif
