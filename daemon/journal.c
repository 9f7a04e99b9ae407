/* journal.c - a bounded queue and a worker thread in front of sd_journal_sendv. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include "journal.h"

struct entry {
	char **fields;
	size_t n;
};

struct seg_journal {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct entry *ring;
	size_t cap, head, count;
	int stopping, busy;
	uint64_t queued, sent, dropped, failed, reported_drops;
};

static void entry_free(struct entry *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->fields[i]);
	free(e->fields);
	e->fields = NULL;
	e->n = 0;
}

static int send_entry(const struct entry *e)
{
	struct iovec iov[64];
	size_t n = e->n < 64 ? e->n : 64;

	for (size_t i = 0; i < n; i++)
		iov[i] = (struct iovec){ e->fields[i], strlen(e->fields[i]) };
	return sd_journal_sendv(iov, (int)n);
}

/* After a loss, say so once the journal works again. */
static void report_losses(uint64_t dropped)
{
	char msg[256], count[64];

	snprintf(msg, sizeof(msg), "MESSAGE=segd: %llu journal entries were dropped while journald "
		 "was not taking entries (they are in the spool where they were incidents)",
		 (unsigned long long)dropped);
	snprintf(count, sizeof(count), "SEGD_DROPPED=%llu", (unsigned long long)dropped);
	sd_journal_send("%s", msg, "PRIORITY=3", "SYSLOG_IDENTIFIER=segd", "SEGD_EVENT=journal-loss",
			"%s", count, NULL);
}

static void *worker(void *arg)
{
	struct seg_journal *j = arg;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (j->count == 0 && !j->stopping) {
			pthread_cond_broadcast(&j->idle);
			pthread_cond_wait(&j->wake, &j->lock);
		}
		if (j->count == 0)
			break;
		struct entry e = j->ring[j->head];
		j->head = (j->head + 1) % j->cap;
		j->count--;
		uint64_t unreported = j->dropped - j->reported_drops;
		j->reported_drops = j->dropped;
		j->busy = 1;
		pthread_mutex_unlock(&j->lock);

		if (unreported)
			report_losses(unreported);
		int r = send_entry(&e); /* may block: that is why we are a thread */
		entry_free(&e);

		pthread_mutex_lock(&j->lock);
		j->busy = 0;
		if (r < 0)
			j->failed++;
		else
			j->sent++;
	}
	pthread_cond_broadcast(&j->idle);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

int seg_journal_start(size_t max_pending, struct seg_journal **ret)
{
	struct seg_journal *j = calloc(1, sizeof(*j));

	if (!j || !(j->ring = calloc(max_pending ? max_pending : 1, sizeof(*j->ring)))) {
		free(j);
		return -ENOMEM;
	}
	j->cap = max_pending ? max_pending : 1;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->wake, NULL);
	pthread_cond_init(&j->idle, NULL);
	int r = pthread_create(&j->thread, NULL, worker, j);
	if (r != 0) {
		free(j->ring);
		free(j);
		return -r;
	}
	*ret = j;
	return 0;
}

void seg_journal_stop(struct seg_journal *j, int timeout_ms)
{
	struct timespec until;

	if (!j)
		return;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&j->lock);
	while ((j->count || j->busy) &&
	       pthread_cond_timedwait(&j->idle, &j->lock, &until) != ETIMEDOUT)
		;
	int stuck = j->count || j->busy;
	j->stopping = 1;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
	if (stuck) {
		/* journald is not answering: do not hang the shutdown on it */
		pthread_detach(j->thread);
		return;
	}
	pthread_join(j->thread, NULL);
	for (size_t i = 0; i < j->count; i++)
		entry_free(&j->ring[(j->head + i) % j->cap]);
	free(j->ring);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->idle);
	free(j);
}

int seg_journal_submit(struct seg_journal *j, char **fields, size_t n)
{
	struct entry e = { fields, n };
	int r = 0;

	pthread_mutex_lock(&j->lock);
	if (j->count == j->cap) {
		j->dropped++;
		r = -EAGAIN;
	} else {
		j->ring[(j->head + j->count) % j->cap] = e;
		j->count++;
		j->queued++;
		pthread_cond_signal(&j->wake);
	}
	pthread_mutex_unlock(&j->lock);
	if (r < 0)
		entry_free(&e);
	return r;
}

static int push(char ***v, size_t *n, size_t cap, char *s)
{
	if (!s || *n >= cap) {
		free(s);
		return -ENOMEM;
	}
	(*v)[(*n)++] = s;
	return 0;
}

int seg_journal_log(struct seg_journal *j, int priority, const char *event,
		    const char *const *extra, const char *fmt, ...)
{
	size_t cap = 8, n = 0, k = 0;
	char *msg = NULL, *s;
	va_list ap;

	while (extra && extra[k])
		k++;
	cap += k;
	char **v = calloc(cap, sizeof(*v));
	va_start(ap, fmt);
	int len = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (!v || len < 0) {
		free(v);
		return -ENOMEM;
	}
	fprintf(stderr, "segd: %s\n", msg);
	int r = push(&v, &n, cap, asprintf(&s, "MESSAGE=%s", msg) < 0 ? NULL : s);
	r |= push(&v, &n, cap, asprintf(&s, "PRIORITY=%d", priority) < 0 ? NULL : s);
	r |= push(&v, &n, cap, strdup("SYSLOG_IDENTIFIER=segd"));
	if (event)
		r |= push(&v, &n, cap, asprintf(&s, "SEGD_EVENT=%s", event) < 0 ? NULL : s);
	for (size_t i = 0; i < k; i++)
		r |= push(&v, &n, cap, strdup(extra[i]));
	free(msg);
	if (r < 0) {
		struct entry e = { v, n };
		entry_free(&e);
		return -ENOMEM;
	}
	return seg_journal_submit(j, v, n);
}

void seg_journal_get_stats(struct seg_journal *j, struct seg_journal_stats *st)
{
	pthread_mutex_lock(&j->lock);
	*st = (struct seg_journal_stats){ j->queued, j->sent, j->dropped, j->failed, j->count };
	pthread_mutex_unlock(&j->lock);
}
