/*
 * loop.h - segd's one event loop: epoll over file descriptors, each with a
 * callback. Signals arrive through a signalfd and timers through timerfds, so
 * that nothing ever runs in a signal handler and nothing blocks the loop.
 */
#ifndef SEGD_LOOP_H
#define SEGD_LOOP_H

#include <stdint.h>

struct seg_loop;
typedef void (*seg_io_fn)(struct seg_loop *l, int fd, uint32_t events, void *ctx);

int seg_loop_new(struct seg_loop **ret);
void seg_loop_free(struct seg_loop *l);        /* does not close the fds */
int seg_loop_add(struct seg_loop *l, int fd, uint32_t events, seg_io_fn fn, void *ctx);
int seg_loop_del(struct seg_loop *l, int fd);
/* Waits up to timeout_ms (-1: forever) and dispatches; -errno on failure. */
int seg_loop_run_once(struct seg_loop *l, int timeout_ms);

/* A periodic monotonic timer fd (first expiry after interval_ms); read 8 bytes
 * to acknowledge. A one-shot when periodic is 0. */
int seg_timer_new(uint64_t interval_ms, int periodic);
int seg_timer_set(int fd, uint64_t after_ms, int periodic);
/* Drains a timerfd; returns the number of expirations. */
uint64_t seg_timer_ack(int fd);
/* Blocks sigs and returns a signalfd for them. */
int seg_signalfd_new(const int *sigs, int n);

#endif
