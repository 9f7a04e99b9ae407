/* revision.c - the revision store and the isolation state under state_dir. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "addr.h"
#include "revision.h"

#define REV_DIR   "revisions"
#define ISO_FILE  "isolation"
#define FILE_MODE 0640   /* readable by the control group (segctl reads without segd) */

static const char *const state_names[SEG_REV_STATE_COUNT] = {
	[SEG_REV_APPLIED] = "applied", [SEG_REV_PENDING] = "pending",
	[SEG_REV_CONFIRMED] = "confirmed", [SEG_REV_REVERTED] = "reverted",
};

const char *seg_rev_state_name(enum seg_rev_state s)
{
	return (unsigned)s < SEG_REV_STATE_COUNT ? state_names[s] : "?";
}

void seg_rev_clear(struct seg_revision *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_approvals; i++)
		free(r->approvals[i]);
	free(r->approvals);
	r->approvals = NULL;
	r->n_approvals = 0;
}

/* ---- files ---- */

static char *path_join(const char *a, const char *b)
{
	char *p = NULL;
	return asprintf(&p, "%s/%s", a, b) < 0 ? NULL : p;
}

static int fsync_dir_of(const char *path)
{
	char *dir = strdup(path), *slash = dir ? strrchr(dir, '/') : NULL;
	int r = 0;

	if (!dir)
		return -ENOMEM;
	if (slash)
		*slash = '\0';
	int fd = open(slash ? (*dir ? dir : "/") : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	free(dir);
	return r;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int seg_rev_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
	char *tmp = NULL;
	int r = 0;

	if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
		return -ENOMEM;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto cleanup;
	}
	/* fchmod: the daemon's umask (0077) must not hide the state from segctl */
	if ((r = write_all(fd, data, len)) == 0 && (fchmod(fd, (mode_t)mode) < 0 || fsync(fd) < 0))
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir_of(path);
	else
		unlink(tmp);
cleanup:
	free(tmp);
	return r;
}

/* Reads fd to the end into a growing buffer (the file may grow while read). */
static int read_fd(int fd, size_t hint, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = hint + 1 < 4096 ? 4096 : hint + 1;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len + 1 == cap) {
			char *nb = cap > SEG_REV_MAX_CONF ? NULL : realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return cap > SEG_REV_MAX_CONF ? -EFBIG : -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

int seg_rev_read_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	int r;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if ((uint64_t)st.st_size > SEG_REV_MAX_CONF)
		r = -EFBIG;
	else
		r = read_fd(fd, (size_t)st.st_size, ret, ret_len);
	close(fd);
	return r;
}

/* ---- metadata: key=value lines, backslash and newline escaped ---- */

static void put_escaped(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s=", key);
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
	fputc('\n', f);
}

static char *meta_text(const struct seg_revision *m, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fprintf(f, "revision=%" PRIu32 "\nsha256=%s\ntime=%" PRId64 "\nuid=%" PRIu32 "\nsize=%" PRIu64 "\n",
		m->number, m->sha256, m->time, m->uid, m->size);
	put_escaped(f, "how", m->how);
	put_escaped(f, "why", m->why);
	fprintf(f, "source=%" PRIu32 "\nstate=%s\ndeadline=%" PRId64 "\nrevert_to=%" PRIu32
		"\nstate_time=%" PRId64 "\nstate_uid=%" PRIu32 "\n", m->source, seg_rev_state_name(m->state),
		m->deadline, m->revert_to, m->state_time, m->state_uid);
	for (size_t i = 0; i < m->n_approvals; i++)
		put_escaped(f, "approval", m->approvals[i]);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void unescape_inplace(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '\\' && (s[1] == 'n' || s[1] == '\\'))
			*o++ = *++s == 'n' ? '\n' : '\\';
		else
			*o++ = *s;
	}
	*o = '\0';
}

static int push_approval(struct seg_revision *m, const char *v)
{
	char **nv = realloc(m->approvals, (m->n_approvals + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	m->approvals = nv;
	if (!(nv[m->n_approvals] = strdup(v)))
		return -ENOMEM;
	m->n_approvals++;
	return 0;
}

static int parse_u64(const char *v, uint64_t max, uint64_t *out)
{
	char *end;

	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || end == v || *end || x > max || *v == '-')
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_state(const char *v, enum seg_rev_state *out)
{
	for (int i = 0; i < SEG_REV_STATE_COUNT; i++)
		if (strcmp(v, state_names[i]) == 0) {
			*out = (enum seg_rev_state)i;
			return 0;
		}
	return -EINVAL;
}

static int meta_field(struct seg_revision *m, const char *k, const char *v)
{
	uint64_t x = 0;
	int r = 0;

	if (strcmp(k, "sha256") == 0)
		r = strlen(v) == SEG_SHA256_HEX - 1 ? (memcpy(m->sha256, v, SEG_SHA256_HEX), 0) : -EINVAL;
	else if (strcmp(k, "how") == 0)
		snprintf(m->how, sizeof(m->how), "%s", v);
	else if (strcmp(k, "why") == 0)
		snprintf(m->why, sizeof(m->why), "%s", v);
	else if (strcmp(k, "state") == 0)
		r = parse_state(v, &m->state);
	else if (strcmp(k, "approval") == 0)
		r = push_approval(m, v);
	else if ((r = parse_u64(v, INT64_MAX, &x)) == 0) {
		static const char *const k32[] = { "revision", "uid", "source", "revert_to", "state_uid" };
		uint32_t *f32[] = { &m->number, &m->uid, &m->source, &m->revert_to, &m->state_uid };
		static const char *const k64[] = { "time", "deadline", "state_time" };
		int64_t *f64[] = { &m->time, &m->deadline, &m->state_time };
		for (size_t i = 0; i < 5; i++)
			if (strcmp(k, k32[i]) == 0)
				return x > UINT32_MAX ? -EINVAL : (*f32[i] = (uint32_t)x, 0);
		for (size_t i = 0; i < 3; i++)
			if (strcmp(k, k64[i]) == 0)
				return (*f64[i] = (int64_t)x, 0);
		if (strcmp(k, "size") == 0)
			m->size = x;
	}
	return r;   /* unknown keys are ignored: a newer segd may add some */
}

static int meta_parse(char *text, struct seg_revision *m)
{
	char *save = NULL;
	int r = 0;

	memset(m, 0, sizeof(*m));
	for (char *line = strtok_r(text, "\n", &save); line && r == 0; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = '\0';
		unescape_inplace(eq + 1);
		r = meta_field(m, line, eq + 1);
	}
	if (r == 0 && (m->number == 0 || !m->sha256[0]))
		r = -EINVAL;
	if (r < 0)
		seg_rev_clear(m);
	return r;
}

/* ---- the store ---- */

static char *rev_path(const char *state_dir, uint32_t n, const char *ext)
{
	char *p = NULL;
	return asprintf(&p, "%s/" REV_DIR "/%010" PRIu32 ".%s", state_dir, n, ext) < 0 ? NULL : p;
}

char *seg_rev_conf_path(const char *state_dir, uint32_t number)
{
	return rev_path(state_dir, number, "conf");
}

int seg_rev_get(const char *state_dir, uint32_t number, struct seg_revision *ret)
{
	char *path = rev_path(state_dir, number, "meta"), *text = NULL;
	size_t len;
	int r;

	if (!path)
		return -ENOMEM;
	r = seg_rev_read_file(path, &text, &len);
	free(path);
	if (r < 0)
		return r;
	r = len > SEG_REV_MAX_META ? -EINVAL : meta_parse(text, ret);
	free(text);
	if (r == 0 && ret->number != number) {
		seg_rev_clear(ret);
		r = -EINVAL;
	}
	return r;
}

/* "0000000042.meta" -> 42; 0 for anything else. */
static uint32_t meta_number(const char *name)
{
	uint64_t x;
	char digits[16];

	if (strlen(name) != 15 || strcmp(name + 10, ".meta") != 0)
		return 0;
	memcpy(digits, name, 10);
	digits[10] = '\0';
	return parse_u64(digits, UINT32_MAX, &x) == 0 ? (uint32_t)x : 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The numbers of the stored revisions, ascending. */
static int list_numbers(const char *state_dir, uint32_t **ret, size_t *ret_n)
{
	char *dir = path_join(state_dir, REV_DIR);
	DIR *d = dir ? opendir(dir) : NULL;
	uint32_t *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	int r = 0;

	free(dir);
	if (!d)
		return errno == ENOENT ? (*ret = NULL, *ret_n = 0, 0) : -errno;
	while ((e = readdir(d)) && r == 0) {
		uint32_t x = meta_number(e->d_name);
		if (!x)
			continue;
		if (n == cap) {
			uint32_t *nv = realloc(v, (cap = cap ? cap * 2 : 128) * sizeof(*v));
			if (!nv) {
				r = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = x;
	}
	closedir(d);
	if (r < 0) {
		free(v);
		return r;
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_u32);
	*ret = v;
	*ret_n = n;
	return 0;
}

void seg_rev_list_free(struct seg_revision *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		seg_rev_clear(&v[i]);
	free(v);
}

int seg_rev_list(const char *state_dir, struct seg_revision **ret, size_t *ret_n)
{
	uint32_t *nums = NULL;
	size_t n = 0, out = 0;
	int r = list_numbers(state_dir, &nums, &n);

	if (r < 0)
		return r;
	struct seg_revision *v = calloc(n + 1, sizeof(*v));
	if (!v) {
		free(nums);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		r = seg_rev_get(state_dir, nums[i], &v[out]);
		if (r == 0)
			out++;
		else if (r == -ENOMEM)
			break;
		r = 0;   /* a damaged or concurrently pruned revision is skipped */
	}
	free(nums);
	if (r < 0) {
		seg_rev_list_free(v, out);
		return r;
	}
	*ret = v;
	*ret_n = out;
	return 0;
}

static void remove_revision(const char *state_dir, uint32_t n)
{
	char *meta = rev_path(state_dir, n, "meta"), *conf = rev_path(state_dir, n, "conf");

	if (meta)
		unlink(meta);   /* first: without its .meta a revision no longer exists */
	if (conf)
		unlink(conf);
	free(meta);
	free(conf);
}

static int prune(const char *state_dir, unsigned keep)
{
	uint32_t *nums = NULL;
	size_t n = 0;
	int r = list_numbers(state_dir, &nums, &n);

	if (r < 0)
		return r;
	for (size_t i = 0; n > keep && i < n - keep; i++)
		remove_revision(state_dir, nums[i]);
	free(nums);
	return 0;
}

static int write_meta(const char *state_dir, const struct seg_revision *m)
{
	size_t len = 0;
	char *text = meta_text(m, &len), *path = rev_path(state_dir, m->number, "meta");
	int r = text && path ? seg_rev_write_atomic(path, text, len, FILE_MODE) : -ENOMEM;

	free(text);
	free(path);
	return r;
}

static int ensure_dir(const char *state_dir)
{
	char *dir = path_join(state_dir, REV_DIR);
	int r = 0;

	if (!dir)
		return -ENOMEM;
	if (mkdir(state_dir, 0750) < 0 && errno != EEXIST)
		r = -errno;
	else if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		r = -errno;
	free(dir);
	return r;
}

int seg_rev_store(const char *state_dir, const void *data, size_t len,
		  const struct seg_revision *meta, unsigned keep, uint32_t *ret_number)
{
	uint32_t *nums = NULL;
	size_t n = 0;
	int r = ensure_dir(state_dir);

	if (r == 0)
		r = list_numbers(state_dir, &nums, &n);
	if (r < 0)
		return r;
	uint32_t next = n ? nums[n - 1] + 1 : 1;
	free(nums);
	if (next == 0 || keep == 0 || len > SEG_REV_MAX_CONF)
		return -EOVERFLOW;
	struct seg_revision m = *meta;
	m.number = next;
	m.size = len;
	seg_sha256_hex(data, len, m.sha256);
	char *conf = seg_rev_conf_path(state_dir, next);
	r = conf ? seg_rev_write_atomic(conf, data, len, FILE_MODE) : -ENOMEM;
	free(conf);
	if (r == 0)
		r = write_meta(state_dir, &m);
	if (r < 0)
		return r;
	*ret_number = next;
	return prune(state_dir, keep);
}

int seg_rev_update(const char *state_dir, const struct seg_revision *meta)
{
	char *path = rev_path(state_dir, meta->number, "meta");
	int r = path && access(path, F_OK) < 0 ? -errno : 0;

	free(path);
	return path ? (r < 0 ? r : write_meta(state_dir, meta)) : -ENOMEM;
}

/* ---- isolation state: "zone<TAB>uid<TAB>time<TAB>reason" lines ---- */

bool seg_iso_reason_valid(const char *reason, const char **why)
{
	size_t n = strlen(reason);

	if (n == 0 || n > SEG_ISO_MAX_REASON) {
		*why = "a reason of 1 to 256 bytes is required";
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)reason; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			*why = "control characters (tab, newline) are not allowed in a reason";
			return false;
		}
	return true;
}

void seg_iso_free(struct seg_isolations *iso)
{
	if (!iso)
		return;
	for (size_t i = 0; i < iso->n; i++) {
		free(iso->v[i].zone);
		free(iso->v[i].reason);
	}
	free(iso->v);
	iso->v = NULL;
	iso->n = 0;
}

int seg_iso_find(const struct seg_isolations *iso, const char *zone)
{
	for (size_t i = 0; i < iso->n; i++)
		if (strcmp(iso->v[i].zone, zone) == 0)
			return (int)i;
	return -1;
}

int seg_iso_set(struct seg_isolations *iso, const char *zone, const char *reason, uint32_t uid, int64_t t)
{
	int i = seg_iso_find(iso, zone);
	char *z = strdup(zone), *rs = strdup(reason);

	if (!z || !rs || (i < 0 && iso->n >= 4096))
		goto fail;
	if (i < 0) {
		struct seg_isolation *nv = realloc(iso->v, (iso->n + 1) * sizeof(*nv));
		if (!nv)
			goto fail;
		iso->v = nv;
		i = (int)iso->n++;
	} else {
		free(iso->v[i].zone);
		free(iso->v[i].reason);
	}
	iso->v[i] = (struct seg_isolation){ .zone = z, .reason = rs, .uid = uid, .time = t };
	return 0;
fail:
	free(z);
	free(rs);
	return -ENOMEM;
}

int seg_iso_remove(struct seg_isolations *iso, const char *zone)
{
	int i = seg_iso_find(iso, zone);

	if (i < 0)
		return -ENOENT;
	free(iso->v[i].zone);
	free(iso->v[i].reason);
	memmove(&iso->v[i], &iso->v[i + 1], (iso->n - (size_t)i - 1) * sizeof(iso->v[0]));
	iso->n--;
	return 0;
}

static int iso_line(struct seg_isolations *iso, char *line)
{
	char *f[4], *save = NULL;
	const char *why;
	uint64_t uid, t;

	for (int i = 0; i < 4; i++)
		if (!(f[i] = strtok_r(i ? NULL : line, "\t", &save)))
			return -EINVAL;
	if (!seg_name_valid(f[0], &why) || !seg_iso_reason_valid(f[3], &why) ||
	    parse_u64(f[1], UINT32_MAX, &uid) < 0 || parse_u64(f[2], INT64_MAX, &t) < 0)
		return -EINVAL;
	return seg_iso_set(iso, f[0], f[3], (uint32_t)uid, (int64_t)t);
}

int seg_iso_load(const char *state_dir, struct seg_isolations *ret, size_t *ret_bad)
{
	char *path = path_join(state_dir, ISO_FILE), *text = NULL, *save = NULL;
	struct seg_isolations iso = { 0 };
	size_t len, bad = 0;
	int r = path ? seg_rev_read_file(path, &text, &len) : -ENOMEM;

	free(path);
	if (r == -ENOENT)
		r = 0;
	for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l && r >= 0; l = strtok_r(NULL, "\n", &save)) {
		r = iso_line(&iso, l);
		if (r == -EINVAL) {
			bad++;
			r = 0;
		}
	}
	free(text);
	if (r < 0) {
		seg_iso_free(&iso);
		return r;
	}
	*ret = iso;
	if (ret_bad)
		*ret_bad = bad;
	return 0;
}

int seg_iso_save(const char *state_dir, const struct seg_isolations *iso)
{
	char *path = path_join(state_dir, ISO_FILE), *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int r = path && f ? 0 : -ENOMEM;

	for (size_t i = 0; f && i < iso->n; i++)
		fprintf(f, "%s\t%" PRIu32 "\t%" PRId64 "\t%s\n", iso->v[i].zone, iso->v[i].uid,
			iso->v[i].time, iso->v[i].reason);
	if (f && fclose(f) != 0)
		r = -ENOMEM;
	if (r == 0 && mkdir(state_dir, 0750) < 0 && errno != EEXIST)
		r = -errno;
	if (r == 0)
		r = seg_rev_write_atomic(path, buf ? buf : "", len, FILE_MODE);
	free(buf);
	free(path);
	return r;
}
