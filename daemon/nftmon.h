/*
 * nftmon.h - tamper detection: nftables change events (NFNLGRP_NFTABLES) for
 * segd's table that were committed by another process.
 *
 * The kernel ends every transaction with a NEWGEN event carrying the
 * committing process's pid (and, as the message's nlmsg_pid, the netlink
 * port id of the committing socket); events for our table seen since the
 * previous NEWGEN are attributed to it. Our own commits (our pid, or the
 * port id of segd's table connection) are ignored.
 */
#ifndef SEGD_NFTMON_H
#define SEGD_NFTMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct seg_nftmon;

/* what: "rule deleted from chain 'forward'; set 'c4_x' elements deleted";
 * who: "nft (pid 1234)"; lost: the event socket overflowed, changes unknown. */
typedef void (*seg_tamper_fn)(const char *what, const char *who, int lost, void *ctx);

int seg_nftmon_open(const char *table, seg_tamper_fn fn, void *ctx, struct seg_nftmon **ret);
void seg_nftmon_close(struct seg_nftmon *m);
int seg_nftmon_fd(const struct seg_nftmon *m);
/* Reads pending events without blocking. */
int seg_nftmon_dispatch(struct seg_nftmon *m);
/* segd's own netlink connection: its commits (by port id) are not tamper,
 * and it is told which sets other processes' commits touched (and up to
 * which generation the events were read), so that a restore dumps only
 * those (seg_nft_conn_changed). */
struct seg_nft_conn;
void seg_nftmon_own(struct seg_nftmon *m, struct seg_nft_conn *conn);
/* Leaves (on false) or joins again (on true) the event group: segd stops
 * listening during its own commits, for which the kernel would otherwise
 * build one event per element (daemon.c, apply_unheard). 0 or -errno. */
int seg_nftmon_listen(struct seg_nftmon *m, bool on);
/* Every commit up to gen is accounted for without its events (segd's own,
 * made while not listening, and nothing else since): judged. */
void seg_nftmon_accounted(struct seg_nftmon *m, uint32_t gen);
/* The last generation id the kernel announced (0 before any). */
uint32_t seg_nftmon_generation(const struct seg_nftmon *m);

#endif
