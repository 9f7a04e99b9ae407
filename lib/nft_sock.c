/*
 * nft_sock.c - the netlink backend's one socket helper: open a
 * NETLINK_NETFILTER socket with its buffers and extended ACKs, send a batch
 * and read every answer, ask the ruleset generation and a table's flags.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <libnftnl/common.h>
#include <libnftnl/gen.h>
#include <libnftnl/table.h>
#include "nft_int.h"

/* ---- talking to the kernel ---- */

#define RCVBUF (4 << 20)     /* a big transaction's events, a burst of traces, many ACKs */

static void force_buf(int fd, int force, int plain, size_t size)
{
	int v = size > INT32_MAX / 2 ? INT32_MAX / 2 : (int)size;

	/* FORCE needs CAP_NET_ADMIN and passes rmem_max/wmem_max; the plain one is capped */
	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, plain, &v, sizeof(v));
}

void seg_nft_sock_size(struct mnl_socket *nl, size_t sndbuf)
{
	if (sndbuf > 0)
		force_buf(mnl_socket_get_fd(nl), SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
}

struct mnl_socket *seg_nft_socket(unsigned group, bool nonblock, size_t sndbuf)
{
	return seg_netlink_socket(NETLINK_NETFILTER, group, nonblock, sndbuf);
}

struct mnl_socket *seg_netlink_socket(int bus, unsigned group, bool nonblock, size_t sndbuf)
{
	struct mnl_socket *nl = mnl_socket_open2(bus, SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0));
	int one = 1;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    (group && mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) < 0)) {
		int e = errno;
		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	/* failures here only cost detail (no ext-ack text) or size (EMSGSIZE, reported) */
	(void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	force_buf(mnl_socket_get_fd(nl), SO_RCVBUFFORCE, SO_RCVBUF, RCVBUF);
	seg_nft_sock_size(nl, sndbuf);
	return nl;
}

struct mnl_socket *seg_nft_sock_open(size_t sndbuf)
{
	return seg_nft_socket(0, false, sndbuf);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g = nftnl_gen_alloc();

	if (!g)
		return MNL_CB_ERROR;
	if (nftnl_gen_nlmsg_parse(nlh, g) == 0)
		*(uint32_t *)data = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return MNL_CB_OK;
}

int seg_nft_generation(uint32_t *ret_gen)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE;
	char *buf = malloc(size);
	struct mnl_socket *nl = buf ? seg_nft_sock_open(0) : NULL;
	uint32_t seq = (uint32_t)time(NULL), gen = 0;
	int r = -ENOMEM;

	if (buf && !nl)
		r = -errno;
	if (nl) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, 0, seq);
		r = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
		ssize_t n = r == 0 ? mnl_socket_recvfrom(nl, buf, size) : -1;
		if (r == 0 && n < 0)
			r = -errno;
		if (r == 0 && mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), gen_cb, &gen) < 0)
			r = -errno;
		mnl_socket_close(nl);
	}
	free(buf);
	if (r == 0)
		*ret_gen = gen;
	return r;
}

static int ext_ack_cb(const struct nlattr *a, void *data)
{
	struct seg_nft_replies *rp = data;

	if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
		snprintf(rp->ext, sizeof(rp->ext), "%s", mnl_attr_get_str(a));
	else if (mnl_attr_get_type(a) == NLMSGERR_ATTR_OFFS && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		rp->err_off = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

/* One NLMSG_ERROR: an ACK (error 0) or a refusal; the first refusal is the cause. */
static void take_error(const struct nlmsghdr *nlh, struct seg_nft_replies *rp)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*e))
		return;
	if (e->error == 0) {
		rp->saw_last = rp->saw_last || e->msg.nlmsg_seq == rp->last_seq;
		return;
	}
	rp->n_failed++;
	if (rp->err != 0 && e->msg.nlmsg_seq >= rp->err_seq)
		return;
	rp->err = e->error;
	rp->err_seq = e->msg.nlmsg_seq;
	rp->err_off = 0;
	rp->ext[0] = '\0';
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		size_t off = sizeof(*e);
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (off < mnl_nlmsg_get_payload_len(nlh))
			mnl_attr_parse(nlh, (unsigned)off, ext_ack_cb, rp);
	}
}

/* mnl_nlmsg_ok() compares (int)nlmsg_len with the bytes left: a length past
 * INT_MAX passes as negative and mnl_nlmsg_next() then jumps gigabytes past
 * the buffer (found by fuzz/fuzz_netlink.c). */
bool seg_nft_msg_ok(const struct nlmsghdr *nlh, int rest)
{
	return mnl_nlmsg_ok(nlh, rest) && nlh->nlmsg_len <= (uint32_t)rest;
}

void seg_nft_replies_take(struct seg_nft_replies *rp, const void *buf, size_t len)
{
	int rest = len > INT32_MAX ? INT32_MAX : (int)len;

	for (const struct nlmsghdr *nlh = buf; seg_nft_msg_ok(nlh, rest); nlh = mnl_nlmsg_next(nlh, &rest))
		if (nlh->nlmsg_type == NLMSG_ERROR)
			take_error(nlh, rp);
}

/* The kernel answers while it processes the batch inside sendmsg, so every
 * reply is queued when sendmsg returns: read them all without blocking. */
int seg_nft_read_replies(struct mnl_socket *nl, struct seg_nft_replies *rp)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE;
	char *buf = malloc(size);
	int fd = mnl_socket_get_fd(nl), r = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {          /* answers lost: the generation decides */
			rp->overflow = true;
			continue;
		}
		if (n < 0) {
			r = errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
			break;
		}
		seg_nft_replies_take(rp, buf, (size_t)n);
	}
	free(buf);
	return r;
}

void seg_nft_fill_error(struct seg_nft_error *err, int e, const char *ext)
{
	const char *name = strerrorname_np(-e);

	err->err = e;
	snprintf(err->errname, sizeof(err->errname), "%s", name ? name : "E?");
	snprintf(err->ext, sizeof(err->ext), "%s", ext ? ext : "");
}

int seg_nft_send(struct mnl_socket *nl, struct seg_nft_batch *b, const struct seg_plan *p,
		   struct seg_nft_stats *st, struct seg_nft_error *err)
{
	struct seg_nft_replies rp = { .last_seq = b->seq0 + (uint32_t)b->n_ops - 2 };
	int r = 0;

	seg_nft_sock_size(nl, b->len + 65536);
	if (mnl_socket_sendto(nl, b->buf, b->len) < 0)
		r = -errno;
	else
		r = seg_nft_read_replies(nl, &rp);
	if (r < 0) {
		seg_nft_fill_error(err, r, NULL);
		snprintf(err->what, sizeof(err->what), "send the transaction (%zu bytes, %zu messages)",
			 b->len, b->n_ops);
		return r;
	}
	if (rp.err != 0) {
		seg_nft_fill_error(err, rp.err, rp.ext);
		err->n_failed = rp.n_failed;
		seg_nft_batch_describe(b, p, rp.err_seq, rp.err_off, err);
		return rp.err;
	}
	st->acks_lost = rp.overflow || !rp.saw_last;
	return 0;
}

static int flags_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) == 0)
		*(uint32_t *)data = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
	nftnl_table_free(t);
	return MNL_CB_OK;
}

/* The flags the table has now (0 when it does not exist). */
int seg_nft_table_flags(struct mnl_socket *nl, const char *table, uint32_t *ret)
{
	size_t size = MNL_SOCKET_BUFFER_SIZE;
	char *buf = malloc(size);
	struct nftnl_table *t = nftnl_table_alloc();
	uint32_t seq = (uint32_t)time(NULL) ^ 0x5e6d0000u, flags = 0;
	int r = -ENOMEM;

	if (buf && t) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, seq);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
		nftnl_table_nlmsg_build_payload(nlh, t);
		r = mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ? -errno : 1;
		while (r == 1) {
			ssize_t n = mnl_socket_recvfrom(nl, buf, size);
			r = n < 0 ? -errno : mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), flags_cb, &flags);
			if (r < 0)
				r = errno == ENOENT ? 0 : -errno;
		}
	}
	nftnl_table_free(t);
	free(buf);
	if (r == 0)
		*ret = flags;
	return r;
}

/* Installs plan through nl; the new table gets flags_after. */
