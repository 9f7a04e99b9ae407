/*
 * nlfault.c - LD_PRELOAD fault injector of the e2e fault suites. The kernel
 * is real; only what happens around a ruleset transaction (a send of at
 * least SEGD_FAULT_MIN bytes, default 256, on a NETLINK_NETFILTER socket:
 * every transaction, but no request such as GETGEN or a dump's GET, which
 * are under 100 bytes) is changed, at the exact point a test names, so that
 * the outcome does not rest on timing luck.
 *
 *   SEGD_FAULT_ENOBUFS=1   (test-fault-enobufs) the next recv() on the socket
 *       throws away every answer the kernel queued (ACKs and refusals alike)
 *       and returns -1 with errno ENOBUFS, as the kernel does when it had to
 *       drop messages for a full receive buffer. Each injection is logged on
 *       stderr ("enobufs: ...").
 *   SEGD_FAULT_KILL=FILE   (test-fault-killapply) when FILE exists at a
 *       transaction, it is read and removed (one shot, armed by the test
 *       before it signals segd): "before" SIGKILLs the process before the
 *       batch is sent (the kernel must keep the old ruleset), "after" sends
 *       it and SIGKILLs the process as soon as it has read the first answer
 *       (the kernel has committed the new ruleset inside sendmsg; segd never
 *       reports it). Logged on stderr ("nlfault: ...") before the kill.
 *   SEGD_FAULT_AFTER=FILE  (test-fault-unheard) when FILE exists at a
 *       transaction, its first line is read and FILE removed (one shot); once
 *       the batch is sent (the kernel has committed it inside sendmsg), the
 *       line runs as a shell command (another process's commit, e.g. an nft
 *       command, exactly between segd's commit and its next step). Logged on
 *       stderr ("nlfault: ran ...").
 *
 *   cc -shared -fPIC -o nlfault.so nlfault.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum armed_for { FOR_NOTHING, FOR_ENOBUFS, FOR_KILL };
static int armed_fd = -1;
static enum armed_for armed_for;

static int is_netfilter(int fd)
{
	int dom = 0, proto = 0;
	socklen_t l1 = sizeof(dom), l2 = sizeof(proto);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l1) == 0 && dom == AF_NETLINK &&
	       getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l2) == 0 && proto == NETLINK_NETFILTER;
}

/* The one-shot order in SEGD_FAULT_KILL's file: "before", "after" or "" */
static void take_kill_order(char *word, size_t size)
{
	const char *path = getenv("SEGD_FAULT_KILL");
	FILE *f = path ? fopen(path, "r") : NULL;

	word[0] = '\0';
	if (!f)
		return;
	if (!fgets(word, (int)size, f))
		word[0] = '\0';
	fclose(f);
	unlink(path);
	word[strcspn(word, " \t\n")] = '\0';
}

/* SEGD_FAULT_AFTER's command, run once right after the batch was sent */
static void run_after(size_t len)
{
	const char *path = getenv("SEGD_FAULT_AFTER");
	char cmd[1024];
	FILE *f = path ? fopen(path, "r") : NULL;

	if (!f)
		return;
	if (!fgets(cmd, sizeof(cmd), f))
		cmd[0] = '\0';
	fclose(f);
	unlink(path);
	cmd[strcspn(cmd, "\n")] = '\0';
	unsetenv("LD_PRELOAD");
	int rc = system(cmd);
	fprintf(stderr, "nlfault: ran '%s' after a %zu-byte transaction: exit %d\n", cmd, len, rc);
}

static void die_now(const char *when, size_t len)
{
	fprintf(stderr, "nlfault: SIGKILL %s a %zu-byte transaction\n", when, len);
	raise(SIGKILL);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa, socklen_t sl)
{
	static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	const char *min = getenv("SEGD_FAULT_MIN");
	char order[16] = "";
	int transaction;

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))
			dlsym(RTLD_NEXT, "sendto");
	transaction = len >= strtoul(min ? min : "256", NULL, 10) && is_netfilter(fd);
	if (transaction)
		take_kill_order(order, sizeof(order));
	if (!strcmp(order, "before"))
		die_now("before sending", len);
	ssize_t r = real(fd, buf, len, flags, sa, sl);
	if (r >= 0 && transaction)
		run_after(len);
	if (r >= 0 && transaction && (!strcmp(order, "after") || getenv("SEGD_FAULT_ENOBUFS"))) {
		armed_fd = fd;
		armed_for = !strcmp(order, "after") ? FOR_KILL : FOR_ENOBUFS;
	}
	return r;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	static char sink[1 << 16];
	int n = 0;

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	if (fd != armed_fd)
		return real(fd, buf, len, flags);
	armed_fd = -1;
	if (armed_for == FOR_KILL) {
		ssize_t r = real(fd, buf, len, flags);
		if (r > 0)
			die_now("after reading the first answer to", len);
		return r;
	}
	while (real(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		n++;
	fprintf(stderr, "enobufs: %d reply datagram(s) of a transaction thrown away, recv() -> ENOBUFS\n", n);
	errno = ENOBUFS;
	return -1;
}
