/*
 * journal.h - segd's only path to journald, off the event loop.
 *
 * sd_journal_send blocks when journald stalls (seen after ~10 messages with
 * journald stopped). The event loop therefore only queues entries here; a
 * worker thread sends them. The queue is bounded: when it is full the entry is
 * dropped and counted, and the count is reported in the journal (event
 * "journal-loss") as soon as the journal takes entries again. Incidents also
 * go to the spool, which does not depend on journald.
 */
#ifndef SEGD_JOURNAL_H
#define SEGD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

struct seg_journal;

struct seg_journal_stats {
	uint64_t queued, sent, dropped, failed;
	size_t pending;
};

int seg_journal_start(size_t max_pending, struct seg_journal **ret);
/* Stops the worker, giving it up to timeout_ms to flush; frees j (NULL-safe). */
void seg_journal_stop(struct seg_journal *j, int timeout_ms);

/* Queues one entry of "KEY=value" fields; takes ownership of the strings and
 * of the array (allocated with malloc) whether or not it succeeds. Never
 * blocks. -EAGAIN when the queue is full (counted as dropped). */
int seg_journal_submit(struct seg_journal *j, char **fields, size_t n);

/* Convenience for segd's own messages: MESSAGE, PRIORITY, SEGD_EVENT and
 * SYSLOG_IDENTIFIER=segd, plus extra "KEY=value" strings (copied). Also
 * echoed to stderr, which systemd captures too when the journal is down. */
__attribute__((format(printf, 5, 6)))
int seg_journal_log(struct seg_journal *j, int priority, const char *event,
		    const char *const *extra, const char *fmt, ...);

void seg_journal_get_stats(struct seg_journal *j, struct seg_journal_stats *st);

#endif
