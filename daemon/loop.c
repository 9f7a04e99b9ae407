/* loop.c - epoll dispatch, timerfds and the signalfd. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include "loop.h"

#define MAX_WATCHES 64

struct watch {
	int fd;
	seg_io_fn fn;
	void *ctx;
};

struct seg_loop {
	int epfd;
	struct watch w[MAX_WATCHES];
};

int seg_loop_new(struct seg_loop **ret)
{
	struct seg_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int r = -errno;
		free(l);
		return r;
	}
	for (int i = 0; i < MAX_WATCHES; i++)
		l->w[i].fd = -1;
	*ret = l;
	return 0;
}

void seg_loop_free(struct seg_loop *l)
{
	if (!l)
		return;
	close(l->epfd);
	free(l);
}

int seg_loop_add(struct seg_loop *l, int fd, uint32_t events, seg_io_fn fn, void *ctx)
{
	for (int i = 0; i < MAX_WATCHES; i++) {
		if (l->w[i].fd != -1)
			continue;
		struct epoll_event ev = { .events = events, .data.u32 = (uint32_t)i };
		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
			return -errno;
		l->w[i] = (struct watch){ fd, fn, ctx };
		return 0;
	}
	return -ENOSPC;
}

int seg_loop_del(struct seg_loop *l, int fd)
{
	for (int i = 0; i < MAX_WATCHES; i++)
		if (l->w[i].fd == fd) {
			l->w[i].fd = -1;
			return epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
		}
	return -ENOENT;
}

int seg_loop_run_once(struct seg_loop *l, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(l->epfd, ev, 16, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		struct watch *w = &l->w[ev[i].data.u32];
		/* a callback may have removed a later watch in this batch */
		if (w->fd != -1)
			w->fn(l, w->fd, ev[i].events, w->ctx);
	}
	return n;
}

int seg_timer_set(int fd, uint64_t after_ms, int periodic)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(after_ms / 1000);
	its.it_value.tv_nsec = (long)(after_ms % 1000) * 1000000L;
	if (after_ms == 0)
		its.it_value.tv_nsec = 1; /* 0 would disarm */
	if (periodic)
		its.it_interval = its.it_value;
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

int seg_timer_new(uint64_t interval_ms, int periodic)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	int r = seg_timer_set(fd, interval_ms, periodic);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

uint64_t seg_timer_ack(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

int seg_signalfd_new(const int *sigs, int n)
{
	sigset_t set;

	sigemptyset(&set);
	for (int i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}
