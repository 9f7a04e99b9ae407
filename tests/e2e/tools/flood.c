/*
 * flood.c - the sender of tests/e2e/test-flood.sh: sends the Ethernet frames
 * of a file round-robin on a packet socket, as fast as it can (sendmmsg,
 * 64 frames a call), until TOTAL frames went out.
 *
 *   flood IFNAME FILE TOTAL
 *
 * FILE: frames one after another, each a 2-byte big-endian length and the
 * frame (incidents.py frames writes it). Prints one line:
 *   sent N frames in S s: P pps; frame 0 sent K times (copies of it included)
 * Run it inside the sending host's network namespace (ip netns exec).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_FRAMES (1u << 20)

struct frames {
	size_t n;
	unsigned char **data;
	size_t *len;
	unsigned char *same_as_0;    /* the frame is a copy of frame 0 (the heavy flow) */
};

static int load(const char *path, struct frames *f)
{
	FILE *in = fopen(path, "rb");
	unsigned char hdr[2];

	if (!in)
		return -errno;
	f->data = calloc(MAX_FRAMES, sizeof(*f->data));
	f->len = calloc(MAX_FRAMES, sizeof(*f->len));
	f->same_as_0 = calloc(MAX_FRAMES, 1);
	if (!f->data || !f->len || !f->same_as_0) {
		fclose(in);
		return -ENOMEM;
	}
	while (f->n < MAX_FRAMES && fread(hdr, 1, 2, in) == 2) {
		size_t l = (size_t)hdr[0] << 8 | hdr[1];
		if (l < 14 || !(f->data[f->n] = malloc(l)) || fread(f->data[f->n], 1, l, in) != l) {
			fclose(in);
			return -EINVAL;
		}
		f->len[f->n] = l;
		f->same_as_0[f->n] = l == f->len[0] && memcmp(f->data[f->n], f->data[0], l) == 0;
		f->n++;
	}
	fclose(in);
	return f->n ? 0 : -EINVAL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct frames f = { 0 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	size_t idx[BATCH];

	if (argc != 4) {
		fprintf(stderr, "usage: flood IFNAME FILE TOTAL\n");
		return 2;
	}
	unsigned long long total = strtoull(argv[3], NULL, 10), sent = 0, first = 0;
	int r = load(argv[2], &f);
	if (r < 0) {
		fprintf(stderr, "flood: %s: %s\n", argv[2], strerror(-r));
		return 2;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				   .sll_ifindex = (int)if_nametoindex(argv[1]) };
	if (fd < 0 || sll.sll_ifindex == 0 || bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "flood: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	size_t next = 0;
	double t0 = now_s();
	while (sent < total) {
		unsigned n = 0;
		for (; n < BATCH && sent + n < total; n++) {
			idx[n] = next;
			iov[n] = (struct iovec){ f.data[next], f.len[next] };
			msgs[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[n], .msg_iovlen = 1 } };
			next = (next + 1) % f.n;
		}
		int k = sendmmsg(fd, msgs, n, 0);
		if (k < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				next = idx[0];     /* resend the whole batch */
				continue;
			}
			perror("flood: sendmmsg");
			return 1;
		}
		for (int i = 0; i < k; i++)
			first += f.same_as_0[idx[i]];
		sent += (unsigned)k;
		next = k < (int)n ? idx[k] : next;
	}
	double dt = now_s() - t0;
	printf("sent %llu frames in %.3f s: %.0f pps; frame 0 sent %llu times\n", sent, dt,
	       dt > 0 ? (double)sent / dt : 0.0, first);
	return 0;
}
