/* writer.c - a bounded queue and a worker thread in front of the spool and
 * sd_journal_sendv. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* the contract lists every field of an entry: no CODE_FILE/LINE/FUNC of ours */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <time.h>
#include "writer.h"

struct item {
	struct seg_journal_entry *je;
	char *line;
	size_t len;
};

struct seg_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake, idle;
	struct item *ring;
	size_t cap, head, count;
	bool stopping, busy;
	struct seg_spool *spool;
	uint64_t queued, sent, dropped, failed, reported_drops;
	struct seg_spool_stats spool_stats;   /* copied by the worker under the lock */
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void item_free(struct item *it)
{
	free(it->je);
	free(it->line);
	*it = (struct item){ 0 };
}

static void report_losses(uint64_t dropped)
{
	sd_journal_send("MESSAGE=segd: %llu journal entries were dropped while journald was not taking "
			"entries; incidents among them are in the spool", (unsigned long long)dropped,
			"PRIORITY=3", "SYSLOG_IDENTIFIER=segd", "SEGD_EVENT=journal-loss",
			"SEGD_DROPPED=%llu", (unsigned long long)dropped, NULL);
}

static void report_spool_change(int before, int after, uint64_t dropped)
{
	if (after)
		sd_journal_send("MESSAGE=segd: cannot write the incident spool: %s; incidents still go to the "
				"journal, enforcement is not affected", strerror(-after), "PRIORITY=2",
				"SYSLOG_IDENTIFIER=segd", "SEGD_EVENT=spool-error", "SEGD_ERRNO=%d", -after,
				"SEGD_SPOOL_DROPPED=%llu", (unsigned long long)dropped, NULL);
	else if (before)
		sd_journal_send("MESSAGE=segd: the incident spool is writable again (%llu lines were lost "
				"meanwhile)", (unsigned long long)dropped, "PRIORITY=4",
				"SYSLOG_IDENTIFIER=segd", "SEGD_EVENT=spool-ok",
				"SEGD_SPOOL_DROPPED=%llu", (unsigned long long)dropped, NULL);
}

/* Runs without the lock: may block on the disk or on journald. */
static int write_item(struct seg_writer *w, struct item *it)
{
	int r = 0;

	if (w->spool && it->line)
		seg_spool_append(w->spool, it->line, it->len);
	if (it->je)
		r = sd_journal_sendv(it->je->iov, (int)it->je->n);
	return r;
}

static void sync_spool(struct seg_writer *w, bool force)
{
	struct seg_spool_stats st;

	if (!w->spool)
		return;
	int before = w->spool_stats.error;
	seg_spool_sync(w->spool, mono_us(), force);
	seg_spool_stats(w->spool, &st);
	if ((before != 0) != (st.error != 0))
		report_spool_change(before, st.error, st.dropped);
	pthread_mutex_lock(&w->lock);
	w->spool_stats = st;
	pthread_mutex_unlock(&w->lock);
}

static bool wait_for_work(struct seg_writer *w)
{
	struct timespec until;

	while (w->count == 0 && !w->stopping) {
		pthread_cond_broadcast(&w->idle);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;  /* wake once a second to sync what is pending */
		if (pthread_cond_timedwait(&w->wake, &w->lock, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&w->lock);
			sync_spool(w, false);
			pthread_mutex_lock(&w->lock);
		}
	}
	return w->count > 0;
}

static void *worker(void *arg)
{
	struct seg_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	while (wait_for_work(w)) {
		struct item it = w->ring[w->head];
		w->head = (w->head + 1) % w->cap;
		w->count--;
		uint64_t unreported = w->dropped - w->reported_drops;
		w->reported_drops = w->dropped;
		w->busy = true;
		pthread_mutex_unlock(&w->lock);

		if (unreported)
			report_losses(unreported);
		int r = write_item(w, &it);
		item_free(&it);
		sync_spool(w, false);

		pthread_mutex_lock(&w->lock);
		w->busy = false;
		if (r < 0)
			w->failed++;
		else
			w->sent++;
	}
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int seg_writer_start(const char *spool_path, size_t max_pending, struct seg_writer **ret)
{
	struct seg_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->cap = max_pending ? max_pending : 1;
	if (!(w->ring = calloc(w->cap, sizeof(*w->ring)))) {
		free(w);
		return -ENOMEM;
	}
	if (spool_path && (r = seg_spool_new(spool_path, NULL, &w->spool)) < 0) {
		free(w->ring);
		free(w);
		return r;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((r = pthread_create(&w->thread, NULL, worker, w)) != 0) {
		seg_spool_close(w->spool);
		free(w->ring);
		free(w);
		return -r;
	}
	*ret = w;
	return 0;
}

static void deadline(struct timespec *t, int ms)
{
	clock_gettime(CLOCK_REALTIME, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

void seg_writer_stop(struct seg_writer *w, int timeout_ms)
{
	struct timespec until;

	if (!w)
		return;
	deadline(&until, timeout_ms);
	pthread_mutex_lock(&w->lock);
	while ((w->count || w->busy) && pthread_cond_timedwait(&w->idle, &w->lock, &until) != ETIMEDOUT)
		;
	bool stuck = w->count || w->busy;
	w->stopping = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	if (stuck) {
		/* journald does not answer: do not hang segd's exit on it */
		pthread_detach(w->thread);
		return;
	}
	pthread_join(w->thread, NULL);
	if (w->spool) {
		seg_spool_sync(w->spool, mono_us(), true);
		seg_spool_close(w->spool);
	}
	free(w->ring);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->wake);
	pthread_cond_destroy(&w->idle);
	free(w);
}

int seg_writer_submit(struct seg_writer *w, struct seg_journal_entry *je, char *line, size_t len)
{
	struct item it = { je, line, len };
	int r = 0;

	pthread_mutex_lock(&w->lock);
	if (w->count == w->cap) {
		w->dropped++;
		r = -EAGAIN;
	} else {
		w->ring[(w->head + w->count) % w->cap] = it;
		w->count++;
		w->queued++;
		pthread_cond_signal(&w->wake);
	}
	pthread_mutex_unlock(&w->lock);
	if (r < 0)
		item_free(&it);
	return r;
}

/* Builds a seg_journal_entry (one allocation) from "KEY=value" strings. */
static struct seg_journal_entry *entry_new(const char *const *f, size_t n)
{
	size_t total = 0;

	if (n > SEG_INCIDENT_MAX_FIELDS)
		n = SEG_INCIDENT_MAX_FIELDS;
	for (size_t i = 0; i < n; i++)
		total += strlen(f[i]) + 1;
	struct seg_journal_entry *e = malloc(sizeof(*e) + total);
	if (!e)
		return NULL;
	char *p = e->text;
	e->n = n;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(f[i]);
		memcpy(p, f[i], l + 1);
		e->iov[i] = (struct iovec){ p, l };
		p += l + 1;
	}
	return e;
}

static const char *message_id_of(const char *event)
{
	for (int ev = 0; ev < SEG_EVENT_COUNT; ev++) {
		const struct seg_event_info *info = seg_event_info((enum seg_event)ev);
		if (info && event && strcmp(info->name, event) == 0)
			return info->message_id;
	}
	return NULL;
}

int seg_writer_log(struct seg_writer *w, int priority, const char *event,
		   const char *const *extra, const char *fmt, ...)
{
	char *msg = NULL, prio[16], ev[80], mid[48];
	const char *f[SEG_INCIDENT_MAX_FIELDS];
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	int len = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	fprintf(stderr, "%s\n", msg);  /* the service manager adds who said it */
	char *m = NULL;
	if (asprintf(&m, "MESSAGE=%s", msg) < 0)
		m = NULL;
	free(msg);
	if (!m)
		return -ENOMEM;
	snprintf(prio, sizeof(prio), "PRIORITY=%d", priority);
	f[n++] = m;
	f[n++] = prio;
	f[n++] = "SYSLOG_IDENTIFIER=segd";
	if (event) {
		snprintf(ev, sizeof(ev), "SEGD_EVENT=%s", event);
		f[n++] = ev;
		const char *id = message_id_of(event);
		if (id) {
			snprintf(mid, sizeof(mid), "MESSAGE_ID=%s", id);
			f[n++] = mid;
		}
	}
	for (size_t i = 0; extra && extra[i] && n < SEG_INCIDENT_MAX_FIELDS; i++)
		f[n++] = extra[i];
	struct seg_journal_entry *e = entry_new(f, n);
	free(m);
	return e ? seg_writer_submit(w, e, NULL, 0) : -ENOMEM;
}

void seg_writer_get_stats(struct seg_writer *w, struct seg_writer_stats *st)
{
	pthread_mutex_lock(&w->lock);
	*st = (struct seg_writer_stats){ w->queued, w->sent, w->dropped, w->failed, w->count, w->spool_stats };
	pthread_mutex_unlock(&w->lock);
}
