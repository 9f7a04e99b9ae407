/* writer.c - two bounded queues, each with its worker thread: one in front
 * of sd_journal_sendv, one in front of the spool (writer.h). Two, because
 * sd_journal_sendv blocks while journald stalls, and the spool must go on
 * meanwhile (and a slow disk must not hold the journal back). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* the contract lists every field of an entry: no CODE_FILE/LINE/FUNC of ours */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>
#include <time.h>
#include "writer.h"

/* libsystemd's sd_journal_sendv returns success when this socket is missing
 * ("fail silently if the journal is not available"): we look ourselves. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

struct item {
	struct seg_journal_entry *je;
	char *line;
	size_t len;
};

struct seg_writer;

struct lane {
	struct seg_writer *w;
	pthread_t thread;
	bool started, busy;
	pthread_cond_t wake;
	struct item *ring;
	size_t cap, head, count;
	uint64_t queued, dropped;    /* dropped: the queue was full */
	void (*process)(struct seg_writer *w, struct item *it);   /* called without the lock */
	void (*tick)(struct seg_writer *w);                       /* once a second when idle */
};

struct seg_writer {
	pthread_mutex_t lock;
	pthread_cond_t idle;
	bool stopping;
	struct lane journal, spool;
	struct seg_spool *sp;
	uint64_t sent, failed, reported;      /* journal entries; losses already reported */
	struct seg_spool_stats spool_stats;   /* copied by the spool worker under the lock */
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

static bool journal_listening(void)
{
	struct stat st;

	return stat(JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- the journal lane ---- */

/* Entries lost (queue full, or journald refused or was gone) are reported
 * once journald takes entries again; a report that does not get through is
 * tried again later, it is not itself a loss. */
static void report_losses(struct seg_writer *w)
{
	pthread_mutex_lock(&w->lock);
	uint64_t lost = w->journal.dropped + w->failed - w->reported;
	pthread_mutex_unlock(&w->lock);
	if (!lost || !journal_listening())
		return;
	int r = sd_journal_send("MESSAGE=%llu journal entries of segd were lost while journald was not "
				"taking entries; the incidents among them are in the spool",
				(unsigned long long)lost, "PRIORITY=3", "SYSLOG_IDENTIFIER=segd",
				"SEGD_EVENT=journal-loss", "SEGD_DROPPED=%llu", (unsigned long long)lost, NULL);
	if (r == 0 && journal_listening()) {
		pthread_mutex_lock(&w->lock);
		w->reported += lost;
		pthread_mutex_unlock(&w->lock);
	}
}

static void journal_process(struct seg_writer *w, struct item *it)
{
	report_losses(w);
	int r = sd_journal_sendv(it->je->iov, (int)it->je->n);
	if (r == 0 && !journal_listening())
		r = -ENOENT;
	pthread_mutex_lock(&w->lock);
	if (r < 0)
		w->failed++;
	else
		w->sent++;
	pthread_mutex_unlock(&w->lock);
}

/* ---- the spool lane ---- */

static void sync_spool(struct seg_writer *w, bool force)
{
	struct seg_spool_stats st;

	if (!w->sp)
		return;
	seg_spool_sync(w->sp, mono_us(), force);
	seg_spool_stats(w->sp, &st);
	pthread_mutex_lock(&w->lock);
	int before = w->spool_stats.error;
	w->spool_stats = st;
	pthread_mutex_unlock(&w->lock);
	if (st.error && st.error != before) {
		char ef[32], df[48];
		const char *f[] = { ef, df, NULL };
		snprintf(ef, sizeof(ef), "SEGD_ERRNO=%d", -st.error);
		snprintf(df, sizeof(df), "SEGD_SPOOL_DROPPED=%llu", (unsigned long long)st.dropped);
		seg_writer_log(w, 2, "spool-error", f, "cannot write the incident spool: %s; incidents still go "
			       "to the journal and wait in memory (up to 1 MiB), enforcement is not affected",
			       strerror(-st.error));
	} else if (!st.error && before) {
		char df[48];
		const char *f[] = { df, NULL };
		snprintf(df, sizeof(df), "SEGD_SPOOL_DROPPED=%llu", (unsigned long long)st.dropped);
		seg_writer_log(w, 4, "spool-ok", f, "the incident spool is writable again (%llu lines were lost "
			       "meanwhile)", (unsigned long long)st.dropped);
	}
}

static void spool_process(struct seg_writer *w, struct item *it)
{
	if (w->sp)
		seg_spool_append(w->sp, it->line, it->len);
	sync_spool(w, false);
}

static void spool_tick(struct seg_writer *w)
{
	sync_spool(w, false);
}

/* ---- the workers ---- */

static bool wait_for_work(struct lane *l)
{
	struct seg_writer *w = l->w;
	struct timespec until;

	while (l->count == 0 && !w->stopping) {
		pthread_cond_broadcast(&w->idle);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (pthread_cond_timedwait(&l->wake, &w->lock, &until) == ETIMEDOUT && l->count == 0) {
			pthread_mutex_unlock(&w->lock);
			l->tick(w);
			pthread_mutex_lock(&w->lock);
		}
	}
	return l->count > 0;
}

static void *worker(void *arg)
{
	struct lane *l = arg;
	struct seg_writer *w = l->w;

	pthread_mutex_lock(&w->lock);
	while (wait_for_work(l)) {
		struct item it = l->ring[l->head];
		l->head = (l->head + 1) % l->cap;
		l->count--;
		l->busy = true;
		pthread_mutex_unlock(&w->lock);
		l->process(w, &it);
		item_free(&it);
		pthread_mutex_lock(&w->lock);
		l->busy = false;
	}
	pthread_cond_broadcast(&w->idle);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static int lane_init(struct seg_writer *w, struct lane *l, size_t cap,
		     void (*process)(struct seg_writer *, struct item *), void (*tick)(struct seg_writer *))
{
	l->w = w;
	l->cap = cap ? cap : 1;
	l->process = process;
	l->tick = tick;
	pthread_cond_init(&l->wake, NULL);
	return (l->ring = calloc(l->cap, sizeof(*l->ring))) ? 0 : -ENOMEM;
}

static void lane_free(struct lane *l)
{
	for (size_t i = 0; l->ring && i < l->count; i++)
		item_free(&l->ring[(l->head + i) % l->cap]);
	free(l->ring);
	pthread_cond_destroy(&l->wake);
}

static void writer_free(struct seg_writer *w)
{
	lane_free(&w->journal);
	lane_free(&w->spool);
	seg_spool_close(w->sp);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->idle);
	free(w);
}

static int start_lane(struct lane *l)
{
	int r = pthread_create(&l->thread, NULL, worker, l);

	l->started = r == 0;
	return -r;
}

int seg_writer_start(const char *spool_path, size_t max_pending, struct seg_writer **ret)
{
	struct seg_writer *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->idle, NULL);
	if ((r = lane_init(w, &w->journal, max_pending, journal_process, report_losses)) < 0 ||
	    (r = lane_init(w, &w->spool, max_pending, spool_process, spool_tick)) < 0 ||
	    (spool_path && (r = seg_spool_new(spool_path, NULL, &w->sp)) < 0) ||
	    (r = start_lane(&w->journal)) < 0 || (r = start_lane(&w->spool)) < 0) {
		seg_writer_stop(w, 0);
		return r;
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

static bool lane_pending(const struct lane *l)
{
	return l->count || l->busy;
}

void seg_writer_stop(struct seg_writer *w, int timeout_ms)
{
	struct timespec until;

	if (!w)
		return;
	deadline(&until, timeout_ms);
	pthread_mutex_lock(&w->lock);
	while ((lane_pending(&w->journal) || lane_pending(&w->spool)) &&
	       pthread_cond_timedwait(&w->idle, &w->lock, &until) != ETIMEDOUT)
		;
	bool stuck = (w->journal.started && lane_pending(&w->journal)) ||
		     (w->spool.started && lane_pending(&w->spool));
	w->stopping = true;
	pthread_cond_broadcast(&w->journal.wake);
	pthread_cond_broadcast(&w->spool.wake);
	pthread_mutex_unlock(&w->lock);
	if (stuck) {
		/* journald (or the disk) does not answer: do not hang segd's exit on
		 * it; w stays allocated for the thread left behind */
		if (w->journal.started)
			pthread_detach(w->journal.thread);
		if (w->spool.started)
			pthread_detach(w->spool.thread);
		return;
	}
	if (w->journal.started)
		pthread_join(w->journal.thread, NULL);
	if (w->spool.started)
		pthread_join(w->spool.thread, NULL);
	if (w->sp)
		seg_spool_sync(w->sp, mono_us(), true);
	writer_free(w);
}

static bool lane_push(struct lane *l, struct item *it)
{
	if (l->count == l->cap) {
		l->dropped++;
		item_free(it);
		return false;
	}
	l->ring[(l->head + l->count) % l->cap] = *it;
	l->count++;
	l->queued++;
	pthread_cond_signal(&l->wake);
	return true;
}

int seg_writer_submit(struct seg_writer *w, struct seg_journal_entry *je, char *line, size_t len)
{
	struct item j = { .je = je }, s = { .line = line, .len = len };
	bool ok = true;

	pthread_mutex_lock(&w->lock);
	if (je)
		ok &= lane_push(&w->journal, &j);
	if (line)
		ok &= lane_push(&w->spool, &s);
	pthread_mutex_unlock(&w->lock);
	return ok ? 0 : -EAGAIN;
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
	*st = (struct seg_writer_stats){
		.queued = w->journal.queued, .sent = w->sent,
		.dropped = w->journal.dropped + w->failed, .failed = w->failed,
		.pending = w->journal.count + (w->journal.busy ? 1 : 0), .spool = w->spool_stats,
	};
	st->spool.dropped += w->spool.dropped;
	pthread_mutex_unlock(&w->lock);
}
