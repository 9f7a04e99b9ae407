/* watch.c - the libpcap nflog handle, non-blocking, for the event loop. */
#include <errno.h>
#include <linux/sock_diag.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "watch.h"

#ifndef SO_MEMINFO
#define SO_MEMINFO 55
#endif

struct seg_watch {
	pcap_t *p;
	seg_record_fn fn;
	void *ctx;
};

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct seg_watch *w = (struct seg_watch *)user;

	w->fn(bytes, h->caplen, h->len, w->ctx);
}

static int activate(pcap_t *p, size_t bufsize, char *err, size_t errlen)
{
	int r;

	if (pcap_set_snaplen(p, 65535) || pcap_set_buffer_size(p, (int)bufsize) ||
	    pcap_set_immediate_mode(p, 1) || pcap_set_timeout(p, 100)) {
		snprintf(err, errlen, "cannot configure the capture handle");
		return -EINVAL;
	}
	r = pcap_activate(p);
	if (r < 0) {
		snprintf(err, errlen, "%s", pcap_geterr(p)[0] ? pcap_geterr(p) : pcap_statustostr(r));
		return r == PCAP_ERROR_PERM_DENIED ? -EPERM : -EBUSY;
	}
	if (pcap_datalink(p) != DLT_NFLOG) {
		snprintf(err, errlen, "link type %d is not NFLOG", pcap_datalink(p));
		return -EPROTO;
	}
	char perr[PCAP_ERRBUF_SIZE];
	if (pcap_setnonblock(p, 1, perr) < 0) {
		snprintf(err, errlen, "%s", perr);
		return -EIO;
	}
	return 0;
}

int seg_watch_open(unsigned group, size_t bufsize, seg_record_fn fn, void *ctx,
		   struct seg_watch **ret, char *err, size_t errlen)
{
	char dev[32], perr[PCAP_ERRBUF_SIZE] = "";
	struct seg_watch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	snprintf(dev, sizeof(dev), "nflog:%u", group);
	w->fn = fn;
	w->ctx = ctx;
	w->p = pcap_create(dev, perr);
	if (!w->p) {
		snprintf(err, errlen, "%s", perr);
		free(w);
		return -ENODEV;
	}
	if ((r = activate(w->p, bufsize, err, errlen)) < 0) {
		seg_watch_close(w);
		return r;
	}
	*ret = w;
	return 0;
}

void seg_watch_close(struct seg_watch *w)
{
	if (!w)
		return;
	if (w->p)
		pcap_close(w->p);
	free(w);
}

int seg_watch_fd(const struct seg_watch *w)
{
	return pcap_get_selectable_fd(w->p);
}

int seg_watch_dispatch(struct seg_watch *w)
{
	int total = 0;

	/* bounded: at most 64 rounds per wake-up, so the loop stays responsive */
	for (int round = 0; round < 64; round++) {
		int n = pcap_dispatch(w->p, -1, on_packet, (u_char *)w);
		if (n < 0)
			return n == PCAP_ERROR_BREAK ? total : -EIO;
		if (n == 0)
			break;
		total += n;
	}
	return total;
}

uint64_t seg_watch_socket_drops(const struct seg_watch *w)
{
	uint32_t mem[SK_MEMINFO_VARS] = { 0 };
	socklen_t len = sizeof(mem);

	if (getsockopt(pcap_get_selectable_fd(w->p), SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
	    len < sizeof(uint32_t) * (SK_MEMINFO_DROPS + 1))
		return 0;
	return mem[SK_MEMINFO_DROPS];
}
