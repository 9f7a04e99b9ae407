/*
 * spool.h - the incident spool: an append-only file of JSON lines
 * (settings.spool), rotated by size, and its reader (segctl incidents).
 *
 * Writing: whole lines, one write(2) each, on an O_APPEND|O_CLOEXEC file, so
 * that a crash of segd leaves only whole lines (a torn tail from a power
 * loss is closed with a newline on the next open and skipped by readers).
 * Durability: seg_spool_sync() calls fdatasync at most once per
 * sync interval (1 s) when lines were written since the last one; the
 * daemon calls it after each batch of closed incidents and from a timer.
 * Errors (ENOSPC, EACCES, EIO, ...) are returned, never printed: the line
 * stays queued in memory (bounded) and is retried by the next append or
 * sync, so a full disk that frees up loses nothing; past the bound lines
 * are dropped and counted.
 *
 * Blocking file I/O: call the writer from the thread that is allowed to
 * wait (the journal writer), not from the packet loop. Not thread-safe.
 * The reader is independent of the writer and of the daemon.
 */
#ifndef SEGD_SPOOL_H
#define SEGD_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SEG_SPOOL_MAX_BYTES   (16u << 20)   /* rotate past 16 MiB */
#define SEG_SPOOL_KEEP        5             /* incidents.jsonl.1 ... .5 */
#define SEG_SPOOL_MAX_PENDING (1u << 20)    /* unwritten bytes kept in memory */
#define SEG_SPOOL_SYNC_US     1000000       /* fdatasync at most once a second */
#define SEG_SPOOL_MAX_LINE    65536         /* readers skip longer lines */
#define SEG_SPOOL_PATH_MAX    4200          /* path plus ".NN" */

struct seg_spool_opts {
	uint64_t max_bytes;          /* 0: SEG_SPOOL_MAX_BYTES */
	unsigned keep;               /* rotated files kept; 0: SEG_SPOOL_KEEP (max 99) */
	size_t max_pending;          /* 0: SEG_SPOOL_MAX_PENDING */
	int64_t sync_us;             /* 0: SEG_SPOOL_SYNC_US */
};

struct seg_spool_stats {
	uint64_t lines;              /* written */
	uint64_t dropped;            /* lost: pending queue full */
	uint64_t rotations;
	size_t pending_bytes;        /* written nowhere yet */
	int error;                   /* last error (-errno), 0 after a success */
};

struct seg_spool;

/* A writer for path (copied). The file is opened (created, mode 0640) on
 * the first append or sync, and opened again after errors, so a spool that
 * cannot be written yet does not stop the caller. 0, -EINVAL or -ENOMEM. */
int seg_spool_new(const char *path, const struct seg_spool_opts *o, struct seg_spool **ret);
/* Fsyncs what was written and closes; NULL-safe. Pending lines are lost:
 * call seg_spool_sync(sp, force) first to try once more. */
void seg_spool_close(struct seg_spool *sp);
/* Appends one whole line (must end with '\n'). 0 when it is in the file,
 * -errno when it (or an earlier line) could not be written: it is then
 * queued, or dropped if the queue is full (stats). -EINVAL for a bad line. */
int seg_spool_append(struct seg_spool *sp, const char *line, size_t len);
/* Writes queued lines and, if lines were written since the last sync and
 * sync_us has passed since (or force), fdatasyncs. 0 or -errno. */
int seg_spool_sync(struct seg_spool *sp, int64_t mono_us, bool force);
void seg_spool_stats(const struct seg_spool *sp, struct seg_spool_stats *ret);

/* The largest "incident_id" in the tail of the spool (or of path.1 if the
 * spool is empty): 0 and *ret_id, -ENOENT if none, -errno. */
int seg_spool_last_id(const char *path, uint64_t *ret_id);

/* ---- reading ------------------------------------------------------------ */

#define SEG_SPOOL_MAX_KEYS 32

/* One parsed line: a flat JSON object. Strings are unescaped. */
struct seg_spool_rec {
	const char *line;            /* the line as stored, without '\n' */
	size_t len;
	size_t n;
	const char *key[SEG_SPOOL_MAX_KEYS];
	const char *val[SEG_SPOOL_MAX_KEYS];   /* numbers as written; null as NULL */
	int64_t first_us, last_us;   /* parsed "first"/"last"; 0 when missing */
};

/* A value by key, NULL when absent or null. */
const char *seg_spool_get(const struct seg_spool_rec *r, const char *key);

struct seg_spool_filter {
	int64_t since_us, until_us;  /* the incident overlaps [since, until]; 0 = open */
	const char *zone;            /* src_zone or dst_zone; NULL = any */
	const char *event;           /* NULL = any */
};

struct seg_spool_read_stats {
	uint64_t files, lines, matched, bad;   /* bad: unparsable or torn lines */
};

/* Calls cb for each matching record of path's rotated files (oldest first)
 * and path. cb returns 0 to go on, non-zero to stop (returned). -errno on a
 * read error other than a missing file; a missing spool is no record. */
typedef int (*seg_spool_rec_cb)(const struct seg_spool_rec *r, void *ctx);
int seg_spool_read(const char *path, const struct seg_spool_filter *f, seg_spool_rec_cb cb,
		   void *ctx, struct seg_spool_read_stats *ret_stats);

/* Parses one line into r (pointing into scratch, which must hold len+1
 * bytes). 0 or -EINVAL. */
int seg_spool_parse_line(const char *line, size_t len, char *scratch, struct seg_spool_rec *r);

/* "2025-11-26", "2025-11-26T09:30", "2025-11-26T09:30:00Z",
 * "...+09:00" (no zone: local time), or relative to now: "90s", "15m",
 * "1h", "2d", "1w". -> µs since the epoch. 0 or -EINVAL. */
int seg_time_parse(const char *s, int64_t now_us, int64_t *ret_us);

#endif
