/* ctlsrv.c - accept, authenticate, read one request, answer, close. */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "ctlsrv.h"

#define MAX_CLIENTS     16
#define MAX_DENIED      8   /* refused peers kept open until the next sweep */
#define CLIENT_TIMEOUT  5   /* seconds to send a request */
#define DENIED_TEXT     "permission denied: segctl needs root or membership in the control group"

static const char denied[] = "status=error\nerror=" DENIED_TEXT "\ncode=2\n";

struct client {
	int fd;
	time_t since;
	uint64_t nth;                  /* accept order: seconds are too coarse to find the oldest */
	pid_t pid;                     /* the peer process (SO_PEERCRED at accept) */
};

struct seg_ctlsrv {
	struct seg_loop *loop;
	int fd;
	gid_t gid;
	bool has_gid;
	bool bound;              /* the path is ours to unlink */
	char *path;
	seg_ctl_handler fn;
	void *ctx;
	struct client c[MAX_CLIENTS];
	struct client denied[MAX_DENIED];
	uint64_t accepted;
};

void seg_ctl_ok(struct seg_kvlist *resp)
{
	seg_kv_add(resp, "status", "ok");
}

void seg_ctl_error(struct seg_kvlist *resp, int code, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	seg_kv_free(resp);
	seg_kv_add(resp, "status", "error");
	seg_kv_add(resp, "error", msg ? msg : "out of memory");
	seg_kv_addf(resp, "code", "%d", code);
	free(msg);
}

/* The peer's supplementary groups as the kernel recorded them at connect
 * (SO_PEERGROUPS): what the process really holds, not what /etc/group says. */
static bool peer_in_group(int fd, gid_t want)
{
	socklen_t len = 0;
	gid_t *g = NULL;
	bool found = false;

	/* the first call tells the size (ERANGE, or 0 groups) */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, NULL, &len) < 0 && errno != ERANGE)
		return false;
	if (len == 0 || !(g = malloc(len)))
		return false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0)
		for (size_t i = 0; i < len / sizeof(gid_t); i++)
			found |= g[i] == want;
	free(g);
	return found;
}

static bool peer_allowed(const struct seg_ctlsrv *s, int fd, struct ucred *ret_cred)
{
	socklen_t cl = sizeof(*ret_cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ret_cred, &cl) < 0)
		return false;
	if (ret_cred->uid == 0)
		return true;
	if (!s->has_gid)
		return false;
	return ret_cred->gid == s->gid || peer_in_group(fd, s->gid);
}

static void client_close(struct seg_ctlsrv *s, struct client *c)
{
	seg_loop_del(s->loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

static void reply(int fd, const struct seg_kvlist *resp)
{
	char *msg;
	size_t len;

	if (seg_ctl_encode(resp, &msg, &len) < 0) {
		static const char too_big[] = "status=error\nerror=response too large\ncode=2\n";
		send(fd, too_big, sizeof(too_big) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		return;
	}
	send(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(msg);
}

static void serve(struct seg_ctlsrv *s, int fd, struct seg_kvlist *resp)
{
	struct ucred cred;
	struct seg_kvlist req;
	const char *why = "";
	char *buf = malloc(SEG_CTL_MAX_MSG);

	seg_kv_init(&req);
	ssize_t n = buf ? recv(fd, buf, SEG_CTL_MAX_MSG, MSG_TRUNC | MSG_DONTWAIT) : -1;
	if (!peer_allowed(s, fd, &cred))
		seg_ctl_error(resp, 2, DENIED_TEXT);
	else if (n < 0)
		seg_ctl_error(resp, 2, "cannot read the request: %s", strerror(errno));
	else if ((size_t)n > SEG_CTL_MAX_MSG)
		seg_ctl_error(resp, 2, "request of %zd bytes is larger than %u", n, SEG_CTL_MAX_MSG);
	else if (seg_ctl_decode(buf, (size_t)n, &req, &why) < 0)
		seg_ctl_error(resp, 2, "malformed request: %s", why);
	else if (req.n == 0 || strcmp(req.v[0].key, "cmd") != 0)
		seg_ctl_error(resp, 2, "malformed request: the first line must be cmd=...");
	else
		s->fn(s->ctx, &cred, &req, resp);
	seg_kv_free(&req);
	free(buf);
}

static void answer(struct seg_ctlsrv *s, int fd, uint32_t events)
{
	struct seg_kvlist resp;

	seg_kv_init(&resp);
	if (events & EPOLLIN)
		serve(s, fd, &resp);
	if (resp.n)
		reply(fd, &resp);
	seg_kv_free(&resp);
}

static void on_client(struct seg_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct seg_ctlsrv *s = ctx;
	(void)loop;

	answer(s, fd, events);
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->c[i].fd == fd)
			client_close(s, &s->c[i]);
}

/* An unauthorised peer is answered at once and never holds a client slot;
 * its socket stays open (unread) until the next sweep so that the peer can
 * still send its request and read the refusal instead of EPIPE. */
static void refuse(struct seg_ctlsrv *s, int cfd)
{
	struct client *oldest = &s->denied[0];

	send(cfd, denied, sizeof(denied) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	for (int i = 0; i < MAX_DENIED; i++) {
		if (s->denied[i].fd == -1) {
			oldest = &s->denied[i];
			break;
		}
		if (s->denied[i].since < oldest->since)
			oldest = &s->denied[i];
	}
	if (oldest->fd != -1)
		close(oldest->fd);
	*oldest = (struct client){ cfd, time(NULL), 0, 0 };
}

/* A free slot, or the one to give up. A served client is closed at once, so
 * a full table holds only clients that connected and sent nothing yet: the
 * oldest of the process that holds the most slots gives way. Without that,
 * MAX_CLIENTS idle connections shut every other client out for CLIENT_TIMEOUT
 * seconds, over and over; and a process that floods connections only ever
 * displaces its own. */
static struct client *free_or_victim(struct seg_ctlsrv *s)
{
	struct client *v = NULL;
	int v_held = 0;

	for (int i = 0; i < MAX_CLIENTS; i++) {
		int held = 0;
		if (s->c[i].fd == -1)
			return &s->c[i];
		for (int j = 0; j < MAX_CLIENTS; j++)
			held += s->c[j].pid == s->c[i].pid;
		if (held > v_held || (held == v_held && s->c[i].nth < v->nth)) {
			v = &s->c[i];
			v_held = held;
		}
	}
	return v;
}

static void on_accept(struct seg_loop *loop, int fd, uint32_t events, void *ctx)
{
	struct seg_ctlsrv *s = ctx;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	struct ucred cred;
	(void)events;

	if (cfd < 0)
		return;
	if (!peer_allowed(s, cfd, &cred)) {
		refuse(s, cfd);
		return;
	}
	/* a request already there (segctl sends right after connect) is answered
	 * now, without a slot that a flood of connections could take from it */
	char peek;
	if (recv(cfd, &peek, 1, MSG_PEEK | MSG_DONTWAIT) >= 0) {
		answer(s, cfd, EPOLLIN);
		close(cfd);
		return;
	}
	struct client *slot = free_or_victim(s);
	if (slot->fd != -1) {
		static const char busy[] = "status=error\nerror=too many control clients, try again\ncode=2\n";
		send(slot->fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		client_close(s, slot);
	}
	if (seg_loop_add(loop, cfd, EPOLLIN | EPOLLRDHUP, on_client, s) < 0) {
		close(cfd);
		return;
	}
	*slot = (struct client){ cfd, time(NULL), ++s->accepted, cred.pid };
}

void seg_ctlsrv_sweep(struct seg_ctlsrv *s)
{
	time_t now = time(NULL);

	for (int i = 0; s && i < MAX_CLIENTS; i++)
		if (s->c[i].fd != -1 && now - s->c[i].since > CLIENT_TIMEOUT)
			client_close(s, &s->c[i]);
	for (int i = 0; s && i < MAX_DENIED; i++)
		if (s->denied[i].fd != -1 && now > s->denied[i].since) {
			close(s->denied[i].fd);
			s->denied[i].fd = -1;
		}
}

static int bind_socket(struct seg_ctlsrv *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(s->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, s->path);
	s->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	/* a socket that answers belongs to a live segd (of another table: the
	 * table lock stops one of the same); one that does not is stale */
	int probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	bool live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (probe >= 0)
		close(probe);
	if (live)
		return -EADDRINUSE;
	unlink(s->path);
	mode_t old = umask(0117);
	int r = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	s->bound = r == 0;
	if (r < 0 || listen(s->fd, MAX_CLIENTS) < 0)
		return -errno;
	if (s->has_gid && chown(s->path, 0, s->gid) < 0 && chown(s->path, (uid_t)-1, s->gid) < 0)
		return -errno;
	return chmod(s->path, 0660) < 0 ? -errno : 0;
}

int seg_ctlsrv_open(struct seg_loop *loop, const char *path, const char *group,
		    seg_ctl_handler fn, void *ctx, struct seg_ctlsrv **ret)
{
	struct seg_ctlsrv *s = calloc(1, sizeof(*s));
	struct group *gr = group ? getgrnam(group) : NULL;
	int r;

	if (!s || !(s->path = strdup(path))) {
		free(s);
		return -ENOMEM;
	}
	s->loop = loop;
	s->fn = fn;
	s->ctx = ctx;
	s->fd = -1;
	s->has_gid = gr != NULL;
	s->gid = gr ? gr->gr_gid : 0;
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->c[i].fd = -1;
	for (int i = 0; i < MAX_DENIED; i++)
		s->denied[i].fd = -1;
	if ((r = bind_socket(s)) < 0 || (r = seg_loop_add(loop, s->fd, EPOLLIN, on_accept, s)) < 0) {
		seg_ctlsrv_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

void seg_ctlsrv_close(struct seg_ctlsrv *s)
{
	if (!s)
		return;
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->c[i].fd != -1)
			client_close(s, &s->c[i]);
	for (int i = 0; i < MAX_DENIED; i++)
		if (s->denied[i].fd != -1)
			close(s->denied[i].fd);
	if (s->fd >= 0) {
		seg_loop_del(s->loop, s->fd);
		close(s->fd);
		if (s->bound)
			unlink(s->path);
	}
	free(s->path);
	free(s);
}
