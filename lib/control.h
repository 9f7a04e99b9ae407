/*
 * control.h - the request/response protocol between segctl and segd, shared
 * by both so that neither parses the other's human text.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET at settings.control_socket; one request
 * message, one response message, at most SEG_CTL_MAX_MSG bytes each (a larger
 * or malformed request gets an error response, never a crash or a hang).
 *
 * Message: UTF-8 text, a sequence of "key=value\n" lines. Keys are 1-32 of
 * [a-z0-9_.]; values escape backslash and newline as "\\" and "\n", so a
 * value (a zone name, a reason text) can never start a line of its own. Keys
 * may repeat (lists, in order). A request's first pair is "cmd=<command>"; a
 * response's first pair is "status=ok" or "status=error" (then "error=<text>"
 * and "code=<exit code>").
 *
 * Ownership: a struct seg_kvlist owns copies of its keys and values.
 */
#ifndef SEGD_CONTROL_H
#define SEGD_CONTROL_H

#include <stddef.h>

#define SEG_CTL_MAX_MSG   (256u * 1024)
#define SEG_CTL_MAX_PAIRS 20000
#define SEG_CTL_MAX_KEY   32

struct seg_kv {
	char *key, *value;
};

struct seg_kvlist {
	struct seg_kv *v;
	size_t n, cap;
};

void seg_kv_init(struct seg_kvlist *l);
void seg_kv_free(struct seg_kvlist *l);
/* Appends a pair (copies both). 0, -EINVAL for a bad key, -E2BIG past the
 * pair limit, -ENOMEM. */
int seg_kv_add(struct seg_kvlist *l, const char *key, const char *value);
__attribute__((format(printf, 3, 4)))
int seg_kv_addf(struct seg_kvlist *l, const char *key, const char *fmt, ...);
/* The first value of key, or NULL; seg_kv_next walks repeats from index *i. */
const char *seg_kv_get(const struct seg_kvlist *l, const char *key);
const char *seg_kv_next(const struct seg_kvlist *l, const char *key, size_t *i);

/* Encodes into a new buffer (*ret, *ret_len); -EMSGSIZE past SEG_CTL_MAX_MSG. */
int seg_ctl_encode(const struct seg_kvlist *l, char **ret, size_t *ret_len);
/* Decodes a received message; -EBADMSG on any malformed line (*why says
 * which), -E2BIG past the limits. Fills an initialised list. */
int seg_ctl_decode(const char *buf, size_t len, struct seg_kvlist *out, const char **why);

/* Client side: connect to path, send request, wait up to timeout_ms for the
 * response. -errno (ENOENT/ECONNREFUSED: no daemon; EACCES: no permission). */
int seg_ctl_call(const char *path, const struct seg_kvlist *req, int timeout_ms,
		 struct seg_kvlist *resp);

#endif
