/*
 * watch.h - denied packets from the kernel: libpcap on "nflog:<group>".
 *
 * Full snaplen (a small one made libpcap silently skip records), a large
 * socket buffer (records are lost above ~200 kpps with the default 208 KiB),
 * non-blocking, dispatched from the event loop. Kernel-side losses on our
 * socket are read exactly from SO_MEMINFO (libpcap's ps_drop is wrong for
 * nflog); gaps in NFLOG sequence numbers are counted by the decoder's user.
 */
#ifndef SEGD_WATCH_H
#define SEGD_WATCH_H

#include <stddef.h>
#include <stdint.h>

struct seg_watch;
typedef void (*seg_record_fn)(const uint8_t *rec, size_t caplen, size_t len, void *ctx);

/* Opens nflog:group. On failure *err holds libpcap's words (static). */
int seg_watch_open(unsigned group, size_t bufsize, seg_record_fn fn, void *ctx,
		   struct seg_watch **ret, char *err, size_t errlen);
void seg_watch_close(struct seg_watch *w);
int seg_watch_fd(const struct seg_watch *w);
/* Reads what is pending without blocking; returns records handled or -errno. */
int seg_watch_dispatch(struct seg_watch *w);
/* Records the kernel dropped on our socket (receive buffer full). */
uint64_t seg_watch_socket_drops(const struct seg_watch *w);

#endif
