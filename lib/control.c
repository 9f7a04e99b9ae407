/* control.c - the control protocol's framing, parsing and client call. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "control.h"

void seg_kv_init(struct seg_kvlist *l)
{
	memset(l, 0, sizeof(*l));
}

void seg_kv_free(struct seg_kvlist *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].key);
		free(l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool key_valid(const char *k, size_t n)
{
	if (n == 0 || n > SEG_CTL_MAX_KEY)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_' || k[i] == '.'))
			return false;
	return true;
}

static int kv_push(struct seg_kvlist *l, char *key, char *value)
{
	if (l->n >= SEG_CTL_MAX_PAIRS)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct seg_kv *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = (struct seg_kv){ key, value };
	return 0;
}

int seg_kv_add(struct seg_kvlist *l, const char *key, const char *value)
{
	if (!key_valid(key, strlen(key)))
		return -EINVAL;
	char *k = strdup(key), *v = strdup(value ? value : "");
	int r = k && v ? kv_push(l, k, v) : -ENOMEM;
	if (r < 0) {
		free(k);
		free(v);
	}
	return r;
}

int seg_kv_addf(struct seg_kvlist *l, const char *key, const char *fmt, ...)
{
	char *v = NULL;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&v, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	int r = seg_kv_add(l, key, v);
	free(v);
	return r;
}

const char *seg_kv_next(const struct seg_kvlist *l, const char *key, size_t *i)
{
	for (; *i < l->n; (*i)++)
		if (strcmp(l->v[*i].key, key) == 0)
			return l->v[(*i)++].value;
	return NULL;
}

const char *seg_kv_get(const struct seg_kvlist *l, const char *key)
{
	size_t i = 0;
	return seg_kv_next(l, key, &i);
}

int seg_ctl_encode(const struct seg_kvlist *l, char **ret, size_t *ret_len)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		fprintf(f, "%s=", l->v[i].key);
		for (const char *p = l->v[i].value; *p; p++) {
			if (*p == '\\')
				fputs("\\\\", f);
			else if (*p == '\n')
				fputs("\\n", f);
			else
				fputc(*p, f);
		}
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	if (len > SEG_CTL_MAX_MSG) {
		free(buf);
		return -EMSGSIZE;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Unescapes [p, end) into a new string; NULL on a bad escape or a NUL byte. */
static char *unescape(const char *p, const char *end)
{
	char *out = malloc((size_t)(end - p) + 1), *o = out;

	if (!out)
		return NULL;
	for (; p < end; p++) {
		if (*p == '\0')
			goto bad;
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		if (++p == end || (*p != '\\' && *p != 'n'))
			goto bad;
		*o++ = *p == 'n' ? '\n' : '\\';
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

static int decode_line(const char *p, const char *end, struct seg_kvlist *out, const char **why)
{
	const char *eq = memchr(p, '=', (size_t)(end - p));

	if (!eq || !key_valid(p, (size_t)(eq - p))) {
		*why = "a line is not key=value with a key of [a-z0-9_.]";
		return -EBADMSG;
	}
	char *k = strndup(p, (size_t)(eq - p)), *v = unescape(eq + 1, end);
	if (!k || !v) {
		free(k);
		free(v);
		*why = "a value has a bad escape or a NUL byte";
		return -EBADMSG;
	}
	int r = kv_push(out, k, v);
	if (r < 0) {
		free(k);
		free(v);
		*why = r == -E2BIG ? "too many lines" : "out of memory";
	}
	return r;
}

int seg_ctl_decode(const char *buf, size_t len, struct seg_kvlist *out, const char **why)
{
	const char *p = buf, *end = buf + len;

	if (len > SEG_CTL_MAX_MSG) {
		*why = "message too large";
		return -E2BIG;
	}
	if (len == 0 || buf[len - 1] != '\n') {
		*why = "message is empty or does not end with a newline";
		return -EBADMSG;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int r = decode_line(p, nl, out, why);
		if (r < 0)
			return r;
		p = nl + 1;
	}
	return 0;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static int recv_response(int fd, int timeout_ms, struct seg_kvlist *resp)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	const char *why;
	char *buf;
	int r = poll(&pfd, 1, timeout_ms);

	if (r <= 0)
		return r == 0 ? -ETIMEDOUT : -errno;
	if (!(buf = malloc(SEG_CTL_MAX_MSG)))
		return -ENOMEM;
	ssize_t n = recv(fd, buf, SEG_CTL_MAX_MSG, MSG_TRUNC);
	if (n < 0)
		r = -errno;
	else if ((size_t)n > SEG_CTL_MAX_MSG)
		r = -EMSGSIZE;
	else
		r = seg_ctl_decode(buf, (size_t)n, resp, &why);
	free(buf);
	return r;
}

int seg_ctl_call(const char *path, const struct seg_kvlist *req, int timeout_ms,
		 struct seg_kvlist *resp)
{
	char *msg = NULL;
	size_t len = 0;
	int fd, r;

	if ((r = seg_ctl_encode(req, &msg, &len)) < 0)
		return r;
	if ((fd = connect_to(path)) < 0) {
		free(msg);
		return fd;
	}
	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
		r = -errno;
	else
		r = recv_response(fd, timeout_ms, resp);
	free(msg);
	close(fd);
	return r;
}
