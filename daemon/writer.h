/*
 * writer.h - the daemon's only path to journald and to the incident spool,
 * off the event loop.
 *
 * sd_journal_send blocks when journald stalls (seen after ~10 messages with
 * journald stopped), and the spool's write and fdatasync can block on a slow
 * disk. The event loop only queues items here. Two worker threads, each
 * behind its own bounded queue: one sends journal entries, one appends spool
 * lines, so that a stalled journald does not stop the spool (nor a slow disk
 * the journal). When a queue is full the item is dropped and counted.
 * Journal entries lost (queue full, journald refusing or its socket gone —
 * sd_journal_sendv reports success then, so the socket is checked) are
 * reported in the journal (event "journal-loss", SEGD_DROPPED) once journald
 * takes entries again. Spool errors (full disk, unwritable) are reported in
 * the journal (events "spool-error", "spool-ok") when they appear and when
 * they clear.
 */
#ifndef SEGD_WRITER_H
#define SEGD_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "incident.h"
#include "spool.h"

struct seg_writer;

struct seg_writer_stats {
	uint64_t queued, sent;       /* journal entries */
	uint64_t dropped;            /* lost: queue full or not taken by journald */
	uint64_t failed;             /* of those, not taken by journald */
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
 * -EAGAIN when a queue was full (the item is counted as dropped). */
int seg_writer_submit(struct seg_writer *w, struct seg_journal_entry *je, char *line, size_t len);

/* segd's own messages: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER=segd, SEGD_EVENT
 * (and its MESSAGE_ID when it is one of the contract's events), plus extra
 * "KEY=value" strings. Echoed to stderr, which the service manager keeps. */
__attribute__((format(printf, 5, 6)))
int seg_writer_log(struct seg_writer *w, int priority, const char *event,
		   const char *const *extra, const char *fmt, ...);

void seg_writer_get_stats(struct seg_writer *w, struct seg_writer_stats *st);

#endif
