/*
 * enobufs.c - LD_PRELOAD fault injector of tests/e2e/test-fault-enobufs.sh:
 * the kernel is real, only the delivery of its answers to a transaction is
 * made to fail the way an overflowing netlink receive buffer fails. After a
 * send of at least SEGD_FAULT_ENOBUFS bytes on a NETLINK_NETFILTER socket (a
 * ruleset transaction; small requests such as GETGEN pass untouched), the
 * next recv() on that socket throws away every answer the kernel queued
 * (ACKs and refusals alike) and returns -1 with errno ENOBUFS, as the kernel
 * does when it had to drop messages for a full receive buffer.
 *
 *   cc -shared -fPIC -o enobufs.so enobufs.c -ldl
 *   SEGD_FAULT_ENOBUFS=16384 LD_PRELOAD=./enobufs.so segd ...
 *
 * Each injection is logged on stderr ("enobufs: ...") for the test to count.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <linux/netlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static int armed = -1;

static int is_netfilter(int fd)
{
	int dom = 0, proto = 0;
	socklen_t l1 = sizeof(dom), l2 = sizeof(proto);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &l1) == 0 && dom == AF_NETLINK &&
	       getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &l2) == 0 && proto == NETLINK_NETFILTER;
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *sa, socklen_t sl)
{
	static ssize_t (*real)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
	const char *min = getenv("SEGD_FAULT_ENOBUFS");

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t, int, const struct sockaddr *, socklen_t))
			dlsym(RTLD_NEXT, "sendto");
	ssize_t r = real(fd, buf, len, flags, sa, sl);
	if (r >= 0 && min && len >= strtoul(min, NULL, 10) && is_netfilter(fd))
		armed = fd;
	return r;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	static ssize_t (*real)(int, void *, size_t, int);
	static char sink[1 << 16];
	int n = 0;

	if (!real)
		real = (ssize_t (*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	if (fd != armed)
		return real(fd, buf, len, flags);
	armed = -1;
	while (real(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		n++;
	fprintf(stderr, "enobufs: %d reply datagram(s) of a transaction thrown away, recv() -> ENOBUFS\n", n);
	errno = ENOBUFS;
	return -1;
}
