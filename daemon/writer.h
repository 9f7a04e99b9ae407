/*
 * writer.h - the daemon's only path to journald and to the incident spool,
 * off the event loop.
 *
 * sd_journal_send blocks when journald stalls (seen after ~10 messages with
 * journald stopped), and the spool's write and fdatasync can block on a slow
 * disk. The event loop only queues items here; one worker thread appends the
 * spool line (first: the spool does not depend on journald) and then sends
 * the journal entry. The queue is bounded: when full, the item is dropped and
 * counted, and the count is reported in the journal (event "journal-loss")
 * once entries flow again. Spool errors (full disk, unwritable) are reported
 * in the journal when they appear and when they clear.
 */
#ifndef SEGD_WRITER_H
#define SEGD_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "incident.h"
#include "spool.h"

struct seg_writer;

struct seg_writer_stats {
	uint64_t queued, sent, dropped, failed;   /* journal entries */
	size_t pending;
	struct seg_spool_stats spool;
};

/* spool_path may be NULL (no spool). */
int seg_writer_start(const char *spool_path, size_t max_pending, struct seg_writer **ret);
/* Gives the worker up to timeout_ms to drain, syncs the spool, frees w
 * (NULL-safe). A worker stuck in journald is left behind, not waited for. */
void seg_writer_stop(struct seg_writer *w, int timeout_ms);

/* Queues a journal entry and/or a spool line; takes ownership of both
 * (malloc'ed; either may be NULL) whether or not it succeeds. Never blocks.
 * -EAGAIN when the queue is full (counted as dropped). */
int seg_writer_submit(struct seg_writer *w, struct seg_journal_entry *je, char *line, size_t len);

/* segd's own messages: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=segd, SEGD_EVENT
 * (and its MESSAGE_ID when it is one of the contract's events), plus extra
 * "KEY=value" strings. Echoed to stderr, which the service manager keeps. */
__attribute__((format(printf, 5, 6)))
int seg_writer_log(struct seg_writer *w, int priority, const char *event,
		   const char *const *extra, const char *fmt, ...);

void seg_writer_get_stats(struct seg_writer *w, struct seg_writer_stats *st);

#endif
