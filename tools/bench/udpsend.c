/*
 * udpsend.c - UDP packet blaster of the benchmarks (tools/bench.sh).
 *
 *   udpsend DST PORT [-t SECONDS | -n PACKETS] [-s PAYLOAD] [-p SPREAD] [-S SEED] [-b SRC]
 *
 * Sends PAYLOAD-byte UDP datagrams (default 18: a 64-byte Ethernet frame with
 * FCS) to DST:PORT as fast as sendmmsg() goes, for SECONDS or until PACKETS
 * were accepted by the kernel. With -p SPREAD the destination port of each
 * datagram is PORT + a seeded pseudo-random offset in [0, SPREAD), so that a
 * flood is many flows (incident aggregation is per flow); -b binds the source
 * address (a host with several). Prints one line:
 * "sent N packets in T s (R pps)". Pin it with taskset; it never sleeps.
 *
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -o build/bench/udpsend tools/bench/udpsend.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

struct opts {
	const char *dst, *src;
	unsigned port, spread, seed, payload;
	double seconds;
	unsigned long long count;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift32: seeded, the same sequence on every run */
static uint32_t next_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .payload = 18, .seed = 1, .seconds = 0, .count = 0 };
	while ((c = getopt(argc, argv, "t:n:s:p:S:b:")) != -1) {
		switch (c) {
		case 't': o->seconds = atof(optarg); break;
		case 'n': o->count = strtoull(optarg, NULL, 10); break;
		case 's': o->payload = (unsigned)atoi(optarg); break;
		case 'p': o->spread = (unsigned)atoi(optarg); break;
		case 'S': o->seed = (unsigned)atoi(optarg) | 1u; break;
		case 'b': o->src = optarg; break;
		default: return -1;
		}
	}
	if (argc - optind != 2 || (o->seconds <= 0 && o->count == 0) || o->payload > 1400)
		return -1;
	o->dst = argv[optind];
	o->port = (unsigned)atoi(argv[optind + 1]);
	return o->port > 0 && o->port + o->spread <= 65536 ? 0 : -1;
}

static int bind_source(int fd, const char *src, int family)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST }, *ai;
	int r;

	if (getaddrinfo(src, "0", &hints, &ai) != 0)
		return -1;
	r = bind(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return r;
}

static int open_socket(const struct opts *o, struct sockaddr_storage *sa, socklen_t *salen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST }, *ai;
	char port[16];

	snprintf(port, sizeof(port), "%u", o->port);
	if (getaddrinfo(o->dst, port, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_DGRAM, 0);
	memcpy(sa, ai->ai_addr, ai->ai_addrlen);
	*salen = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (fd >= 0 && o->src && bind_source(fd, o->src, sa->ss_family) < 0) {
		close(fd);
		return -1;
	}
	if (fd >= 0 && !o->spread && connect(fd, (struct sockaddr *)sa, *salen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void set_port(struct sockaddr_storage *sa, unsigned port)
{
	if (sa->ss_family == AF_INET6)
		((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)port);
}

int main(int argc, char **argv)
{
	struct opts o;
	struct sockaddr_storage sa, names[BATCH];
	socklen_t salen;
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	char payload[1400] = "segd bench";
	unsigned long long sent = 0;
	uint32_t rnd;

	if (parse(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: udpsend DST PORT [-t SECONDS | -n PACKETS] [-s PAYLOAD] [-p SPREAD] [-S SEED] [-b SRC]\n");
		return 2;
	}
	int fd = open_socket(&o, &sa, &salen);
	if (fd < 0) {
		fprintf(stderr, "udpsend: %s port %u: %s\n", o.dst, o.port, strerror(errno));
		return 2;
	}
	rnd = o.seed;
	iov = (struct iovec){ payload, o.payload };
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
		names[i] = sa;
		if (o.spread) {
			msgs[i].msg_hdr.msg_name = &names[i];
			msgs[i].msg_hdr.msg_namelen = salen;
		}
	}
	double t0 = now_s(), t = t0;
	while ((o.count == 0 || sent < o.count) && (o.seconds <= 0 || t - t0 < o.seconds)) {
		unsigned n = BATCH;
		if (o.count && o.count - sent < n)
			n = (unsigned)(o.count - sent);
		for (unsigned i = 0; o.spread && i < n; i++)
			set_port(&names[i], o.port + next_rand(&rnd) % o.spread);
		int r = sendmmsg(fd, msgs, n, 0);
		if (r > 0)
			sent += (unsigned)r;
		else if (errno != ENOBUFS && errno != EAGAIN && errno != ECONNREFUSED && errno != EPERM) {
			fprintf(stderr, "udpsend: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		t = now_s();
	}
	printf("sent %llu packets in %.6f s (%.0f pps)\n", sent, t - t0, (double)sent / (t - t0));
	return 0;
}
