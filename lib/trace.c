/*
 * trace.c - nftables tracing for one flow: an own owner-flagged table that
 * sets nftrace on the flow's packets, NFNLGRP_NFTRACE events decoded with
 * libnftnl, and a dump of a table's rule handles (see trace.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/trace.h>
#include "nftexpr.h"
#include "nftnl.h"
#include "trace.h"

#define RECV_BUF   (256 * 1024)

struct seg_trace {
	struct mnl_socket *ctl;    /* owns the table: keep open while tracing */
	struct mnl_socket *ev;     /* NFNLGRP_NFTRACE */
	char table[SEG_TRACE_NAME];
	char *buf;
	uint32_t seq;
};

/* ---- decoding -------------------------------------------------------- */

static const struct { int32_t v; const char *name; } verdicts[] = {
	{ NF_ACCEPT, "accept" }, { NF_DROP, "drop" }, { NF_QUEUE, "queue" },
	{ NFT_CONTINUE, "continue" }, { NFT_BREAK, "break" }, { NFT_GOTO, "goto" },
	{ NFT_JUMP, "jump" }, { NFT_RETURN, "return" },
};

const char *seg_trace_verdict_name(int32_t verdict)
{
	for (size_t i = 0; i < sizeof(verdicts) / sizeof(verdicts[0]); i++)
		if (verdicts[i].v == verdict)
			return verdicts[i].name;
	return "?";
}

static void copy_str(const struct nftnl_trace *t, uint16_t attr, char *out)
{
	const char *s = nftnl_trace_is_set(t, attr) ? nftnl_trace_get_str(t, attr) : NULL;

	snprintf(out, SEG_TRACE_NAME, "%s", s ? s : "");
}

/* The flow from the copied headers: the network header gives addresses and
 * protocol (IPv6: the first next-header), the transport header the ports. */
static void decode_flow(const struct nftnl_trace *t, struct seg_trace_event *e)
{
	uint32_t nlen = 0, tlen = 0;
	const uint8_t *n = nftnl_trace_is_set(t, NFTNL_TRACE_NETWORK_HEADER) ?
		nftnl_trace_get_data(t, NFTNL_TRACE_NETWORK_HEADER, &nlen) : NULL;
	const uint8_t *th = nftnl_trace_is_set(t, NFTNL_TRACE_TRANSPORT_HEADER) ?
		nftnl_trace_get_data(t, NFTNL_TRACE_TRANSPORT_HEADER, &tlen) : NULL;

	if (n && nlen >= 20 && n[0] >> 4 == 4) {
		e->family = AF_INET;
		e->l4proto = n[9];
		memcpy(e->src, n + 12, 4);
		memcpy(e->dst, n + 16, 4);
		e->has_flow = true;
	} else if (n && nlen >= 40 && n[0] >> 4 == 6) {
		e->family = AF_INET6;
		e->l4proto = n[6];
		memcpy(e->src, n + 8, 16);
		memcpy(e->dst, n + 24, 16);
		e->has_flow = true;
	}
	if (!e->has_flow || !th)
		return;
	bool icmp = e->l4proto == IPPROTO_ICMP || e->l4proto == IPPROTO_ICMPV6;
	if (icmp && tlen >= 2) {
		e->dport = th[0];
		e->sport = th[1];
		e->has_ports = true;
	} else if (!icmp && tlen >= 4) {
		e->sport = (uint16_t)(th[0] << 8 | th[1]);
		e->dport = (uint16_t)(th[2] << 8 | th[3]);
		e->has_ports = true;
	}
}

static void decode_fields(const struct nftnl_trace *t, struct seg_trace_event *e)
{
	e->id = nftnl_trace_get_u32(t, NFTNL_TRACE_ID);
	e->type = (enum seg_trace_type)nftnl_trace_get_u32(t, NFTNL_TRACE_TYPE);
	if (nftnl_trace_is_set(t, NFTNL_TRACE_NFPROTO))
		e->nfproto = nftnl_trace_get_u32(t, NFTNL_TRACE_NFPROTO);
	copy_str(t, NFTNL_TRACE_TABLE, e->table);
	copy_str(t, NFTNL_TRACE_CHAIN, e->chain);
	copy_str(t, NFTNL_TRACE_JUMP_TARGET, e->target);
	if ((e->has_handle = nftnl_trace_is_set(t, NFTNL_TRACE_RULE_HANDLE)))
		e->handle = nftnl_trace_get_u64(t, NFTNL_TRACE_RULE_HANDLE);
	if ((e->has_verdict = nftnl_trace_is_set(t, NFTNL_TRACE_VERDICT)))
		e->verdict = (int32_t)nftnl_trace_get_u32(t, NFTNL_TRACE_VERDICT);
	if ((e->has_policy = nftnl_trace_is_set(t, NFTNL_TRACE_POLICY)))
		e->policy = nftnl_trace_get_u32(t, NFTNL_TRACE_POLICY);
	if (nftnl_trace_is_set(t, NFTNL_TRACE_IIF))
		e->iif = nftnl_trace_get_u32(t, NFTNL_TRACE_IIF);
	if (nftnl_trace_is_set(t, NFTNL_TRACE_OIF))
		e->oif = nftnl_trace_get_u32(t, NFTNL_TRACE_OIF);
}

int seg_trace_decode(const struct nlmsghdr *nlh, struct seg_trace_event *ret)
{
	struct nftnl_trace *t;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_TRACE)
		return -EINVAL;
	if (!(t = nftnl_trace_alloc()))
		return -ENOMEM;
	if (nftnl_trace_nlmsg_parse(nlh, t) < 0 || !nftnl_trace_is_set(t, NFTNL_TRACE_ID) ||
	    !nftnl_trace_is_set(t, NFTNL_TRACE_TYPE)) {
		nftnl_trace_free(t);
		return -EINVAL;
	}
	memset(ret, 0, sizeof(*ret));
	decode_fields(t, ret);
	decode_flow(t, ret);
	nftnl_trace_free(t);
	return 0;
}

/* ---- the tracing table ---------------------------------------------------- */

/* meta nftrace set 1 */
static int e_set_nftrace(struct nftnl_rule *r)
{
	struct nftnl_expr *imm = nftnl_expr_alloc("immediate"), *meta = nftnl_expr_alloc("meta");
	uint8_t one = 1;

	if (!imm || !meta) {
		nftnl_expr_free(imm);
		nftnl_expr_free(meta);
		return -ENOMEM;
	}
	nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &one, sizeof(one));
	nftnl_rule_add_expr(r, imm);
	nftnl_expr_set_u32(meta, NFTNL_EXPR_META_KEY, NFT_META_NFTRACE);
	nftnl_expr_set_u32(meta, NFTNL_EXPR_META_SREG, NFT_REG_1);
	nftnl_rule_add_expr(r, meta);
	return 0;
}

/* meta nfproto P, ip[6] saddr X, ip[6] daddr Y, meta l4proto L [th dport D |
 * icmp type T], meta nftrace set 1 */
static int build_match(struct nftnl_rule *r, const struct seg_trace_spec *s)
{
	bool v4 = s->family == AF_INET;
	uint8_t nfp = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint32_t alen = v4 ? 4 : 16, soff = v4 ? 12 : 8, doff = v4 ? 16 : 24;
	bool icmp = s->l4proto == IPPROTO_ICMP || s->l4proto == IPPROTO_ICMPV6;
	uint16_t port = htons(s->dport);
	uint8_t type = (uint8_t)s->dport;
	int rc = 0;

	rc = rc ?: seg_nx_meta(r, NFT_META_NFPROTO, NFT_REG_1);
	rc = rc ?: seg_nx_cmp(r, NFT_CMP_EQ, &nfp, 1);
	rc = rc ?: seg_nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, soff, alen, NFT_REG_1);
	rc = rc ?: seg_nx_cmp(r, NFT_CMP_EQ, s->src, alen);
	rc = rc ?: seg_nx_payload(r, NFT_PAYLOAD_NETWORK_HEADER, doff, alen, NFT_REG_1);
	rc = rc ?: seg_nx_cmp(r, NFT_CMP_EQ, s->dst, alen);
	rc = rc ?: seg_nx_meta(r, NFT_META_L4PROTO, NFT_REG_1);
	rc = rc ?: seg_nx_cmp(r, NFT_CMP_EQ, &s->l4proto, 1);
	if (s->has_port && icmp) {
		rc = rc ?: seg_nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
		rc = rc ?: seg_nx_cmp(r, NFT_CMP_EQ, &type, 1);
	} else if (s->has_port) {
		rc = rc ?: seg_nx_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG_1);
		rc = rc ?: seg_nx_cmp(r, NFT_CMP_EQ, &port, 2);
	}
	return rc ?: e_set_nftrace(r);
}

struct batch {
	struct mnl_nlmsg_batch *b;
	uint32_t seq;
};

static int put_table(struct batch *bt, const char *name, uint16_t type, uint32_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();

	if (!t)
		return -ENOMEM;
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	if (type == NFT_MSG_NEWTABLE)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), type, NFPROTO_INET,
						     type == NFT_MSG_NEWTABLE ? NLM_F_CREATE | NLM_F_EXCL : 0,
						     bt->seq++);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

static int put_chain(struct batch *bt, const char *table, const char *name, uint32_t hook, int prio)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (!c)
		return -ENOMEM;
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWCHAIN,
						     NFPROTO_INET, NLM_F_CREATE, bt->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	mnl_nlmsg_batch_next(bt->b);
	return 0;
}

static int put_rule(struct batch *bt, const char *table, const char *chain, const struct seg_trace_spec *s)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	int rc = r ? 0 : -ENOMEM;

	if (rc == 0) {
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
		rc = build_match(r, s);
	}
	if (rc == 0) {
		struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(bt->b), NFT_MSG_NEWRULE,
							     NFPROTO_INET, NLM_F_CREATE | NLM_F_APPEND,
							     bt->seq++);
		nftnl_rule_nlmsg_build_payload(nlh, r);
		mnl_nlmsg_batch_next(bt->b);
	}
	nftnl_rule_free(r);
	return rc;
}

/* Reads the kernel's answers to a batch (it answers inside sendmsg): the
 * first error, or 0 when only ACKs came. */
static int read_acks(struct mnl_socket *nl, char *buf, size_t size)
{
	int fd = mnl_socket_get_fd(nl), err = 0;
	ssize_t n;

	while ((n = recv(fd, buf, size, MSG_DONTWAIT)) > 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		for (int len = (int)n; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			if (nlh->nlmsg_type != NLMSG_ERROR)
				continue;
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			if (e->error && !err)
				err = e->error;
		}
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && !err)
		err = -errno;
	return err;
}

/* One transaction: BEGIN, what fill() adds, END. */
static int transact(struct seg_trace *t, int (*fill)(struct batch *, const void *), const void *arg)
{
	struct batch bt = { .b = mnl_nlmsg_batch_start(t->buf, RECV_BUF / 2), .seq = t->seq };
	int rc;

	if (!bt.b)
		return -ENOMEM;
	nftnl_batch_begin(mnl_nlmsg_batch_current(bt.b), bt.seq++);
	mnl_nlmsg_batch_next(bt.b);
	rc = fill(&bt, arg);
	if (rc == 0) {
		nftnl_batch_end(mnl_nlmsg_batch_current(bt.b), bt.seq++);
		mnl_nlmsg_batch_next(bt.b);
		rc = mnl_socket_sendto(t->ctl, mnl_nlmsg_batch_head(bt.b), mnl_nlmsg_batch_size(bt.b)) < 0 ?
			-errno : 0;
	}
	mnl_nlmsg_batch_stop(bt.b);
	t->seq = bt.seq;
	return rc ?: read_acks(t->ctl, t->buf, RECV_BUF);   /* the batch is sent: reuse */
}

struct create_arg {
	const char *table;
	const struct seg_trace_spec *spec;
	int prio;
	uint32_t flags;
};

static int fill_create(struct batch *bt, const void *arg)
{
	const struct create_arg *a = arg;
	int rc = put_table(bt, a->table, NFT_MSG_NEWTABLE, a->flags);

	rc = rc ?: put_chain(bt, a->table, "forward", NF_INET_FORWARD, a->prio);
	rc = rc ?: put_chain(bt, a->table, "input", NF_INET_LOCAL_IN, a->prio);
	rc = rc ?: put_rule(bt, a->table, "forward", a->spec);
	rc = rc ?: put_rule(bt, a->table, "input", a->spec);
	return rc;
}

static int fill_delete(struct batch *bt, const void *arg)
{
	return put_table(bt, arg, NFT_MSG_DELTABLE, 0);
}

/* A netlink socket, subscribed to group when non-zero. Batches ask for no
 * ACK: the kernel answers errors anyway, inside sendmsg. */
static struct mnl_socket *open_nl(unsigned group)
{
	return seg_nft_socket(group, false, 0);
}

static void free_trace(struct seg_trace *t)
{
	if (!t)
		return;
	if (t->ev)
		mnl_socket_close(t->ev);
	if (t->ctl)
		mnl_socket_close(t->ctl);
	free(t->buf);
	free(t);
}

static int create_table(struct seg_trace *t, const struct seg_trace_spec *spec, int prio)
{
	struct create_arg a = { t->table, spec, prio - 1, NFT_TABLE_F_OWNER };
	int rc = transact(t, fill_create, &a);

	if (rc == -EOPNOTSUPP || rc == -EINVAL) {   /* kernel < 5.12: no owner flag */
		a.flags = 0;
		rc = transact(t, fill_create, &a);
	}
	return rc;
}

int seg_trace_start(const struct seg_trace_spec *spec, int priority, struct seg_trace **ret)
{
	struct seg_trace *t = calloc(1, sizeof(*t));
	int rc = -ENOMEM;

	if (!spec || (spec->family != AF_INET && spec->family != AF_INET6))
		rc = -EINVAL;
	else if (t && (t->buf = malloc(RECV_BUF)))
		rc = 0;
	if (rc < 0)
		goto fail;
	snprintf(t->table, sizeof(t->table), "segd_trace_%ld", (long)getpid());
	t->seq = (uint32_t)time(NULL);
	t->ev = open_nl(NFNLGRP_NFTRACE);
	t->ctl = t->ev ? open_nl(0) : NULL;
	if (!t->ctl) {
		rc = -errno;
		goto fail;
	}
	rc = create_table(t, spec, priority);
	if (rc < 0)
		goto fail;
	*ret = t;
	return 0;
fail:
	free_trace(t);
	return rc;
}

const char *seg_trace_table(const struct seg_trace *t)
{
	return t->table;
}

int seg_trace_fd(const struct seg_trace *t)
{
	return mnl_socket_get_fd(t->ev);
}

int seg_trace_read(struct seg_trace *t, seg_trace_cb cb, void *ctx)
{
	int fd = mnl_socket_get_fd(t->ev), rc = 0;
	ssize_t n;
	struct seg_trace_event ev;

	for (;;) {
		n = recv(fd, t->buf, RECV_BUF, MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS) {
			rc = -ENOBUFS;
			continue;
		}
		if (n <= 0)
			break;
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)t->buf;
		for (int len = (int)n; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (seg_trace_decode(nlh, &ev) == 0)
				cb(&ev, ctx);
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return -errno;
	return rc;
}

void seg_trace_stop(struct seg_trace *t)
{
	if (t && t->ctl)
		(void)transact(t, fill_delete, t->table);
	free_trace(t);
}

/* ---- the rules of a table -------------------------------------------------- */

struct dump {
	struct seg_trace_rule *v;
	size_t n, cap;
	int err;
};

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (!r || nftnl_rule_nlmsg_parse(nlh, r) < 0) {
		nftnl_rule_free(r);
		d->err = -ENOMEM;
		return MNL_CB_ERROR;
	}
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 256;
		struct seg_trace_rule *nv = realloc(d->v, nc * sizeof(*nv));
		if (!nv) {
			nftnl_rule_free(r);
			d->err = -ENOMEM;
			return MNL_CB_ERROR;
		}
		d->v = nv;
		d->cap = nc;
	}
	struct seg_trace_rule *e = &d->v[d->n];
	snprintf(e->chain, sizeof(e->chain), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
	e->handle = nftnl_rule_get_u64(r, NFTNL_RULE_HANDLE);
	e->pos = d->n && strcmp(d->v[d->n - 1].chain, e->chain) == 0 ? d->v[d->n - 1].pos + 1 : 0;
	d->n++;
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int dump_rules(struct mnl_socket *nl, char *buf, const char *table, struct dump *d)
{
	uint32_t seq = (uint32_t)time(NULL), portid = mnl_socket_get_portid(nl);
	struct nftnl_rule *r = nftnl_rule_alloc();
	ssize_t n;
	int rc = MNL_CB_OK;

	if (!r)
		return -ENOMEM;
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_INET,
						     NLM_F_DUMP, seq);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	while (rc > MNL_CB_STOP && (n = mnl_socket_recvfrom(nl, buf, RECV_BUF)) > 0)
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, rule_cb, d);
	if (d->err)
		return d->err;
	return rc < 0 ? -errno : 0;
}

int seg_trace_rules(const char *table, struct seg_trace_rule **ret, size_t *ret_n)
{
	struct dump d = { 0 };
	char *buf = malloc(RECV_BUF);
	struct mnl_socket *nl = buf ? open_nl(0) : NULL;
	int rc = !buf ? -ENOMEM : !nl ? -errno : dump_rules(nl, buf, table, &d);

	if (nl)
		mnl_socket_close(nl);
	free(buf);
	if (rc < 0) {
		free(d.v);
		return rc;
	}
	*ret = d.v;
	*ret_n = d.n;
	return 0;
}
