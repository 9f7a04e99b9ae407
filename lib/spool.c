/* spool.c - the JSONL incident spool: writer with rotation and a bounded
 * retry queue, tail reader for the last id, filtered reader (spool.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "spool.h"

struct seg_spool {
	char *path;
	int fd;                      /* -1: not open (yet, or after an error) */
	uint64_t size;               /* bytes in the current file */
	uint64_t max_bytes;
	unsigned keep;
	size_t max_pending;
	int64_t sync_us, last_sync;
	bool dirty;                  /* written since the last fdatasync */
	char *pending;               /* whole lines not yet written */
	size_t pending_len;
	struct seg_spool_stats st;
};

int seg_spool_new(const char *path, const struct seg_spool_opts *o, struct seg_spool **ret)
{
	if (!path || !*path || (o && o->keep > 99))
		return -EINVAL;
	struct seg_spool *sp = calloc(1, sizeof(*sp));
	if (!sp)
		return -ENOMEM;
	sp->path = strdup(path);
	sp->max_pending = o && o->max_pending ? o->max_pending : SEG_SPOOL_MAX_PENDING;
	sp->pending = malloc(sp->max_pending);
	if (!sp->path || !sp->pending) {
		seg_spool_close(sp);
		return -ENOMEM;
	}
	sp->fd = -1;
	sp->max_bytes = o && o->max_bytes ? o->max_bytes : SEG_SPOOL_MAX_BYTES;
	sp->keep = o && o->keep ? o->keep : SEG_SPOOL_KEEP;
	sp->sync_us = o && o->sync_us ? o->sync_us : SEG_SPOOL_SYNC_US;
	sp->last_sync = INT64_MIN / 2;
	*ret = sp;
	return 0;
}

void seg_spool_close(struct seg_spool *sp)
{
	if (!sp)
		return;
	if (sp->fd >= 0) {
		if (sp->dirty)
			fdatasync(sp->fd);
		close(sp->fd);
	}
	free(sp->pending);
	free(sp->path);
	free(sp);
}

void seg_spool_stats(const struct seg_spool *sp, struct seg_spool_stats *ret)
{
	*ret = sp->st;
	ret->pending_bytes = sp->pending_len;
}

/* One write(2); a short write (disk full midway) is cut back off so that
 * the file holds whole lines only. */
static int write_whole(struct seg_spool *sp, const char *buf, size_t len)
{
	ssize_t w;

	do
		w = write(sp->fd, buf, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return -errno;
	if ((size_t)w != len) {
		if (ftruncate(sp->fd, (off_t)sp->size) < 0)
			return -errno;
		return -ENOSPC;
	}
	sp->size += len;
	sp->dirty = true;
	return 0;
}

/* A power loss can leave a torn last line: end it so the next line stays whole. */
static int close_torn_tail(struct seg_spool *sp)
{
	char c;

	if (sp->size == 0)
		return 0;
	if (pread(sp->fd, &c, 1, (off_t)sp->size - 1) != 1)
		return -EIO;
	return c == '\n' ? 0 : write_whole(sp, "\n", 1);
}

static int open_file(struct seg_spool *sp)
{
	struct stat stt;

	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (sp->fd < 0)
		return -errno;
	if (fstat(sp->fd, &stt) < 0 || !S_ISREG(stt.st_mode)) {
		int r = S_ISREG(stt.st_mode) ? -errno : -EINVAL;
		close(sp->fd);
		sp->fd = -1;
		return r;
	}
	sp->size = (uint64_t)stt.st_size;
	return close_torn_tail(sp);
}

static void fsync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd = copy ? open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

static int rename_numbered(const char *path, unsigned from, unsigned to)
{
	char a[SEG_SPOOL_PATH_MAX], b[SEG_SPOOL_PATH_MAX];

	if (from)
		snprintf(a, sizeof(a), "%s.%u", path, from);
	else
		snprintf(a, sizeof(a), "%s", path);
	snprintf(b, sizeof(b), "%s.%u", path, to);
	if (rename(a, b) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

/* incidents.jsonl -> .1 -> .2 ... -> .keep (the oldest falls off). The
 * rotated file is made durable before its name moves. */
static int rotate(struct seg_spool *sp)
{
	int r = 0;

	if (strlen(sp->path) + 4 >= SEG_SPOOL_PATH_MAX)
		return -ENAMETOOLONG;
	fdatasync(sp->fd);
	close(sp->fd);
	sp->fd = -1;
	sp->dirty = false;
	for (unsigned k = sp->keep; k > 0 && r == 0; k--)
		r = rename_numbered(sp->path, k - 1, k);
	fsync_dir(sp->path);
	sp->st.rotations += r == 0;
	int o = open_file(sp);
	return r < 0 ? r : o;
}

/* Opens, rotates if len more bytes would pass the size limit, writes. */
static int put(struct seg_spool *sp, const char *buf, size_t len)
{
	int r;

	if (sp->fd < 0 && (r = open_file(sp)) < 0)
		return r;
	if (sp->size > 0 && sp->size + len > sp->max_bytes && (r = rotate(sp)) < 0 && sp->fd < 0)
		return r;
	return write_whole(sp, buf, len);
}

static int flush_pending(struct seg_spool *sp)
{
	if (sp->pending_len == 0)
		return 0;
	int r = put(sp, sp->pending, sp->pending_len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sp->pending_len; i++)
		sp->st.lines += sp->pending[i] == '\n';
	sp->pending_len = 0;
	return 0;
}

static int fail(struct seg_spool *sp, int r, const char *line, size_t len)
{
	if (line && sp->pending_len + len <= sp->max_pending) {
		memcpy(sp->pending + sp->pending_len, line, len);
		sp->pending_len += len;
	} else if (line) {
		sp->st.dropped++;
	}
	sp->st.error = r;
	return r;
}

int seg_spool_append(struct seg_spool *sp, const char *line, size_t len)
{
	if (!line || len == 0 || line[len - 1] != '\n' || memchr(line, '\n', len - 1))
		return -EINVAL;
	int r = flush_pending(sp);
	if (r == 0)
		r = put(sp, line, len);
	if (r < 0)
		return fail(sp, r, line, len);
	sp->st.lines++;
	sp->st.error = 0;
	return 0;
}

int seg_spool_sync(struct seg_spool *sp, int64_t mono_us, bool force)
{
	bool had_pending = sp->pending_len > 0;
	int r = flush_pending(sp);

	if (r < 0)
		return fail(sp, r, NULL, 0);
	if (had_pending)
		sp->st.error = 0;    /* the queued lines are in the file: the error is over */
	if (!sp->dirty || sp->fd < 0 || (!force && mono_us - sp->last_sync < sp->sync_us))
		return 0;
	if (fdatasync(sp->fd) < 0)
		return fail(sp, -errno, NULL, 0);
	sp->dirty = false;
	sp->last_sync = mono_us;
	sp->st.error = 0;
	return 0;
}

/* ---- parsing a line: a flat JSON object ---------------------------------- */

struct cursor {
	const char *p, *end;
	char *out, *out_end;         /* unescaped text goes here */
};

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
		c->p++;
}

static bool put_byte(struct cursor *c, unsigned v)
{
	if (c->out >= c->out_end)
		return false;
	*c->out++ = (char)v;
	return true;
}

static bool put_utf8(struct cursor *c, unsigned cp)
{
	if (cp < 0x80)
		return put_byte(c, cp);
	if (cp < 0x800)
		return put_byte(c, 0xc0 | cp >> 6) && put_byte(c, 0x80 | (cp & 0x3f));
	if (cp < 0x10000)
		return put_byte(c, 0xe0 | cp >> 12) && put_byte(c, 0x80 | (cp >> 6 & 0x3f)) &&
		       put_byte(c, 0x80 | (cp & 0x3f));
	return put_byte(c, 0xf0 | cp >> 18) && put_byte(c, 0x80 | (cp >> 12 & 0x3f)) &&
	       put_byte(c, 0x80 | (cp >> 6 & 0x3f)) && put_byte(c, 0x80 | (cp & 0x3f));
}

static bool hex4(struct cursor *c, unsigned *ret)
{
	unsigned v = 0;

	if (c->end - c->p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char h = *c->p++;
		int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 :
			h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
		if (d < 0)
			return false;
		v = v << 4 | (unsigned)d;
	}
	*ret = v;
	return true;
}

static bool unescape(struct cursor *c)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned cp, lo;

	if (c->p >= c->end)
		return false;
	const char *e = strchr(from, *c->p);
	if (e && *c->p) {
		c->p++;
		return put_byte(c, (unsigned char)to[e - from]);
	}
	if (*c->p++ != 'u' || !hex4(c, &cp))
		return false;
	if (cp >= 0xd800 && cp < 0xdc00) {   /* a surrogate pair */
		if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u')
			return false;
		c->p += 2;
		if (!hex4(c, &lo) || lo < 0xdc00 || lo >= 0xe000)
			return false;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return cp != 0 && put_utf8(c, cp);  /* \u0000 would cut the string */
}

static const char *parse_string(struct cursor *c)
{
	char *start = c->out;

	if (c->p >= c->end || *c->p != '"')
		return NULL;
	c->p++;
	while (c->p < c->end && *c->p != '"') {
		unsigned char ch = (unsigned char)*c->p++;
		if (ch < 0x20)
			return NULL;
		if (ch == '\\' ? !unescape(c) : !put_byte(c, ch))
			return NULL;
	}
	if (c->p >= c->end || !put_byte(c, 0))
		return NULL;
	c->p++;
	return start;
}

/* A number, true, false or null, copied as written; null -> "" marker. */
static const char *parse_scalar(struct cursor *c, bool *is_null)
{
	char *start = c->out;
	size_t n = 0;

	while (c->p + n < c->end && strchr("0123456789+-.eEtruefalsn", c->p[n]) && c->p[n])
		n++;
	if (n == 0)
		return NULL;
	*is_null = n == 4 && strncmp(c->p, "null", 4) == 0;
	for (size_t i = 0; i < n; i++)
		if (!put_byte(c, (unsigned char)c->p[i]))
			return NULL;
	c->p += n;
	return put_byte(c, 0) ? start : NULL;
}

static int parse_member(struct cursor *c, struct seg_spool_rec *r)
{
	bool is_null = false;
	const char *k, *v;

	skip_ws(c);
	if (!(k = parse_string(c)))
		return -EINVAL;
	skip_ws(c);
	if (c->p >= c->end || *c->p++ != ':')
		return -EINVAL;
	skip_ws(c);
	v = c->p < c->end && *c->p == '"' ? parse_string(c) : parse_scalar(c, &is_null);
	if (!v || r->n >= SEG_SPOOL_MAX_KEYS)
		return -EINVAL;
	r->key[r->n] = k;
	r->val[r->n++] = is_null ? NULL : v;
	skip_ws(c);
	return 0;
}

int seg_spool_parse_line(const char *line, size_t len, char *scratch, struct seg_spool_rec *r)
{
	struct cursor c = { line, line + len, scratch, scratch + len + 1 };
	const char *t;

	memset(r, 0, sizeof(*r));
	r->line = line;
	r->len = len;
	skip_ws(&c);
	if (c.p >= c.end || *c.p++ != '{')
		return -EINVAL;
	skip_ws(&c);
	if (c.p < c.end && *c.p == '}')
		c.p++;
	else
		for (;;) {
			if (parse_member(&c, r) < 0 || c.p >= c.end)
				return -EINVAL;
			if (*c.p == '}') {
				c.p++;
				break;
			}
			if (*c.p++ != ',')
				return -EINVAL;
		}
	skip_ws(&c);
	if (c.p != c.end)
		return -EINVAL;
	if ((t = seg_spool_get(r, "first")) && seg_time_parse(t, 0, &r->first_us) < 0)
		return -EINVAL;
	if ((t = seg_spool_get(r, "last")) && seg_time_parse(t, 0, &r->last_us) < 0)
		return -EINVAL;
	return 0;
}

const char *seg_spool_get(const struct seg_spool_rec *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->val[i];
	return NULL;
}

/* ---- times ---------------------------------------------------------------- */

static int parse_relative(const char *s, int64_t now_us, int64_t *ret)
{
	static const struct { char unit; int64_t us; } units[] = {
		{ 's', 1000000LL }, { 'm', 60000000LL }, { 'h', 3600000000LL },
		{ 'd', 86400000000LL }, { 'w', 604800000000LL },
	};
	char *end;

	errno = 0;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || end == s || !*end || end[1] || n > 100000000ULL || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (units[i].unit == *end) {
			*ret = now_us - (int64_t)n * units[i].us;
			return 0;
		}
	return -EINVAL;
}

/* "Z", "+09:00", "-0530" or "" (local time). Sets *utc and *offset_s. */
static int parse_zone(const char *s, bool *local, int *offset_s)
{
	int h, m, n = 0;

	*local = false;
	*offset_s = 0;
	if (*s == '\0') {
		*local = true;
		return 0;
	}
	if (strcmp(s, "Z") == 0)
		return 0;
	if ((*s != '+' && *s != '-') ||
	    (sscanf(s + 1, "%2d:%2d%n", &h, &m, &n) != 2 && sscanf(s + 1, "%2d%2d%n", &h, &m, &n) != 2) ||
	    s[1 + n] != '\0' || h > 23 || m > 59)
		return -EINVAL;
	*offset_s = (*s == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return 0;
}

static int parse_absolute(const char *s, int64_t *ret)
{
	struct tm tm = { 0 };
	int n = 0, frac_us = 0, off;
	bool local;

	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
		return -EINVAL;
	s += n;
	if ((*s == 'T' || *s == ' ') && sscanf(s + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &n) == 2 && n == 5) {
		s += 1 + n;
		if (*s == ':' && sscanf(s + 1, "%2d%n", &tm.tm_sec, &n) == 1 && n == 2)
			s += 3;
		if (*s == '.') {
			int digits = 0;
			for (s++; *s >= '0' && *s <= '9'; s++, digits++)
				if (digits < 6)
					frac_us = frac_us * 10 + (*s - '0');
			for (; digits < 6; digits++)
				frac_us *= 10;
		}
	}
	if (parse_zone(s, &local, &off) < 0 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tm.tm_isdst = -1;
	int mday = tm.tm_mday;
	time_t t = local ? mktime(&tm) : timegm(&tm);
	if (t == (time_t)-1 || tm.tm_mday != mday)   /* 2025-02-30 normalised away */
		return -EINVAL;
	*ret = ((int64_t)t - off) * 1000000 + frac_us;
	return 0;
}

int seg_time_parse(const char *s, int64_t now_us, int64_t *ret_us)
{
	if (!s || !*s)
		return -EINVAL;
	if (strlen(s) < 10 || s[4] != '-')
		return parse_relative(s, now_us, ret_us);
	return parse_absolute(s, ret_us);
}

/* ---- reading files -------------------------------------------------------- */

static bool matches(const struct seg_spool_rec *r, const struct seg_spool_filter *f)
{
	const char *v;

	if (!f)
		return true;
	if (f->since_us && r->last_us < f->since_us)
		return false;
	if (f->until_us && r->first_us > f->until_us)
		return false;
	if (f->event && (!(v = seg_spool_get(r, "event")) || strcmp(v, f->event) != 0))
		return false;
	if (f->zone) {
		const char *a = seg_spool_get(r, "src_zone"), *b = seg_spool_get(r, "dst_zone");
		if (!(a && strcmp(a, f->zone) == 0) && !(b && strcmp(b, f->zone) == 0))
			return false;
	}
	return true;
}

struct reader {
	const struct seg_spool_filter *f;
	seg_spool_rec_cb cb;
	void *ctx;
	struct seg_spool_read_stats st;
	char *scratch;
};

static int read_lines(FILE *fp, struct reader *rd)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int r = 0;

	while (r == 0 && (n = getline(&line, &cap, fp)) > 0) {
		struct seg_spool_rec rec;
		size_t len = (size_t)n - (line[n - 1] == '\n');
		rd->st.lines++;
		if (len == 0)
			continue;
		if (len > SEG_SPOOL_MAX_LINE || seg_spool_parse_line(line, len, rd->scratch, &rec) < 0) {
			rd->st.bad++;
			continue;
		}
		if (!matches(&rec, rd->f))
			continue;
		rd->st.matched++;
		r = rd->cb ? rd->cb(&rec, rd->ctx) : 0;
	}
	if (r == 0 && ferror(fp))
		r = -EIO;
	free(line);
	return r;
}

static int read_file(const char *name, struct reader *rd)
{
	FILE *fp = fopen(name, "re");

	if (!fp)
		return errno == ENOENT ? 0 : -errno;
	rd->st.files++;
	int r = read_lines(fp, rd);
	fclose(fp);
	return r;
}

int seg_spool_read(const char *path, const struct seg_spool_filter *f, seg_spool_rec_cb cb,
		   void *ctx, struct seg_spool_read_stats *ret_stats)
{
	struct reader rd = { .f = f, .cb = cb, .ctx = ctx };
	char name[SEG_SPOOL_PATH_MAX];
	struct stat st;
	unsigned last = 0;
	int r = 0;

	if (!path || strlen(path) + 4 >= sizeof(name))
		return -EINVAL;
	rd.scratch = malloc(SEG_SPOOL_MAX_LINE + 1);
	if (!rd.scratch)
		return -ENOMEM;
	for (unsigned k = 1; k <= 99; k++) {
		snprintf(name, sizeof(name), "%s.%u", path, k);
		if (stat(name, &st) < 0)
			break;
		last = k;
	}
	for (unsigned k = last; k >= 1 && r == 0; k--) {
		snprintf(name, sizeof(name), "%s.%u", path, k);
		r = read_file(name, &rd);
	}
	if (r == 0)
		r = read_file(path, &rd);
	free(rd.scratch);
	if (ret_stats)
		*ret_stats = rd.st;
	return r;
}

/* ---- the last id -------------------------------------------------------- */

#define TAIL_BYTES 65536

static int max_id_in_tail(const char *name, uint64_t *ret)
{
	int fd = open(name, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r = -ENOENT;

	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	char *buf = malloc(TAIL_BYTES + 1), *scratch = malloc(TAIL_BYTES + 1);
	if (!buf || !scratch || fstat(fd, &st) < 0) {
		r = !buf || !scratch ? -ENOMEM : -errno;
		goto cleanup;
	}
	off_t from = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
	ssize_t n = pread(fd, buf, TAIL_BYTES, from);
	if (n < 0) {
		r = -errno;
		goto cleanup;
	}
	/* Skip the first, possibly partial, line when we started mid-file. */
	char *p = buf, *end = buf + n;
	if (from > 0)
		p = memchr(buf, '\n', (size_t)n) ? (char *)memchr(buf, '\n', (size_t)n) + 1 : end;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		struct seg_spool_rec rec;
		const char *id;
		if (seg_spool_parse_line(p, len, scratch, &rec) == 0 && (id = seg_spool_get(&rec, "incident_id"))) {
			uint64_t v = strtoull(id, NULL, 10);
			if (r < 0 || v > *ret)
				*ret = v;
			r = 0;
		}
		p += len + 1;
	}
cleanup:
	free(buf);
	free(scratch);
	close(fd);
	return r;
}

int seg_spool_last_id(const char *path, uint64_t *ret_id)
{
	char name[SEG_SPOOL_PATH_MAX];
	uint64_t id = 0;

	if (!path || strlen(path) + 4 >= sizeof(name))
		return -EINVAL;
	int r = max_id_in_tail(path, &id);
	if (r == -ENOENT) {
		snprintf(name, sizeof(name), "%s.1", path);
		r = max_id_in_tail(name, &id);
	}
	if (r == 0)
		*ret_id = id;
	return r;
}
