/* nftmon.c - nftables change events through libmnl, for tamper detection. */
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "nftmon.h"
#include "nftnl.h"

#define WHAT_MAX  1024
#define MAX_NOTED 8      /* enough to say what happened; the rest is counted */
#define OBJ_MAX   256    /* NFT_NAME_MAXLEN */
#define TOUCHED_MAX SEG_NFT_DIRTY_MAX

struct change;

struct noted {
	const struct change *c;
	char obj[OBJ_MAX];
	size_t count;
};

struct seg_nftmon {
	struct mnl_socket *nl;
	char *table;
	seg_tamper_fn fn;
	void *ctx;
	struct noted seen[MAX_NOTED]; /* distinct changes to our table in this transaction */
	size_t n_seen, n_changes;
	bool table_deleted;
	char what[WHAT_MAX];
	uint32_t gen;
	uint16_t res;            /* the generation (low 16 bits) the noted events carry */
	uint32_t own_port;       /* segd's table connection; 0: none */
	struct seg_nft_conn *conn;   /* told which sets other processes touched */
	char touched[TOUCHED_MAX][OBJ_MAX];   /* sets whose elements this transaction changed */
	size_t n_touched;
	bool touched_all;        /* more, or the table itself */
	char *buf;
};

struct change {
	int msg;
	bool in_table_delete;    /* implied by deleting the table: not listed then */
	const char *before;      /* "rule added to chain" */
	int obj_attr;            /* attribute naming the object, 0 for none */
	const char *after;       /* "added or changed" */
};

/* Every message type that changes a table, and how to describe it. Attribute 1
 * is the table name in all of them. */
static const struct change changes[] = {
	{ NFT_MSG_NEWTABLE,     false, "table created or its flags changed", 0, "" },
	{ NFT_MSG_DELTABLE,     false, "table deleted", 0, "" },
	{ NFT_MSG_NEWCHAIN,     false, "chain", NFTA_CHAIN_NAME, " added or changed (policy, hook or priority)" },
	{ NFT_MSG_DELCHAIN,     true,  "chain", NFTA_CHAIN_NAME, " deleted" },
	{ NFT_MSG_NEWRULE,      false, "rule added to chain", NFTA_RULE_CHAIN, "" },
	{ NFT_MSG_DELRULE,      true,  "rule deleted from chain", NFTA_RULE_CHAIN, "" },
	{ NFT_MSG_NEWSET,       false, "set", NFTA_SET_NAME, " added or changed" },
	{ NFT_MSG_DELSET,       true,  "set", NFTA_SET_NAME, " deleted" },
	{ NFT_MSG_NEWSETELEM,   false, "element added to set", NFTA_SET_ELEM_LIST_SET, "" },
	{ NFT_MSG_DELSETELEM,   true,  "element deleted from set", NFTA_SET_ELEM_LIST_SET, "" },
	{ NFT_MSG_NEWOBJ,       false, "object", NFTA_OBJ_NAME, " added or changed" },
	{ NFT_MSG_DELOBJ,       true,  "object", NFTA_OBJ_NAME, " deleted" },
	{ NFT_MSG_NEWFLOWTABLE, false, "flowtable added", 0, "" },
	{ NFT_MSG_DELFLOWTABLE, true,  "flowtable deleted", 0, "" },
};

struct attrs {
	const struct nlattr *a[NFTA_GEN_MAX + 8];
};

static int take_attr(const struct nlattr *attr, void *data)
{
	struct attrs *at = data;
	int type = mnl_attr_get_type(attr);

	if (type < (int)(sizeof(at->a) / sizeof(at->a[0])))
		at->a[type] = attr;
	return MNL_CB_OK;
}

static const char *attr_str(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	return mnl_attr_get_str(a);
}

static void forget(struct seg_nftmon *m)
{
	m->n_seen = 0;
	m->n_changes = 0;
	m->table_deleted = false;
	m->n_touched = 0;
	m->touched_all = false;
}

/* Sets (and their elements) this transaction changed: the connection dumps
 * them again instead of trusting what it remembers. */
static void touch(struct seg_nftmon *m, const struct change *c, const char *obj)
{
	bool set = c->msg == NFT_MSG_NEWSET || c->msg == NFT_MSG_DELSET || c->msg == NFT_MSG_NEWSETELEM ||
		   c->msg == NFT_MSG_DELSETELEM;

	if (c->msg == NFT_MSG_NEWTABLE || c->msg == NFT_MSG_DELTABLE || (set && !obj)) {
		m->touched_all = true;
		return;
	}
	for (size_t i = 0; set && i < m->n_touched; i++)
		if (strcmp(m->touched[i], obj) == 0)
			return;
	if (set && m->n_touched == TOUCHED_MAX)
		m->touched_all = true;
	else if (set)
		snprintf(m->touched[m->n_touched++], OBJ_MAX, "%s", obj);
}

/* Events were lost (the socket overflowed): nobody can tell who changed
 * what, so the connection forgets which sets are clean and segd looks. */
static void lost(struct seg_nftmon *m)
{
	forget(m);
	/* unless nobody has committed since the connection's own commit: then
	 * the lost events were its own, or older than what it committed */
	if (!seg_nft_conn_still_ours(m->conn, NULL))
		seg_nft_conn_changed(m->conn, NULL);
	m->fn("nftables events were lost (socket overflow)", "unknown", 1, m->ctx);
}

/* Every event carries the low 16 bits of the generation its commit makes
 * (nfgenmsg.res_id, as its NEWGEN's id). After an overflow, the queue still
 * holds the first events of the commit whose end was dropped; the overflow
 * was answered by a comparison, so they are stale: an event of another
 * generation starts afresh, and a NEWGEN closes only its own generation's
 * events. Without this, segd's own overflowing install was reported as a
 * later tamperer's change ("table created; chain 'forward' added; ..."). */
static void stale_events(struct seg_nftmon *m, uint16_t res)
{
	if (m->n_changes && res != m->res)
		forget(m);
	m->res = res;
}

/* An overflow is flagged on the socket (sk_err) when a message is dropped,
 * but recv reports it only once the queue is empty: a NEWGEN read after a
 * drop would close a transaction whose events are incomplete. */
static bool overflowed(const struct seg_nftmon *m)
{
	int e = 0;
	socklen_t len = sizeof(e);

	return getsockopt(mnl_socket_get_fd(m->nl), SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e == ENOBUFS;
}

/* Repeats of one change (a flushed set: one event per element) are counted,
 * not listed again. */
static void note_change(struct seg_nftmon *m, const struct change *c, const struct attrs *at)
{
	const char *obj = c->obj_attr ? attr_str(at->a[c->obj_attr]) : NULL;

	m->n_changes++;
	touch(m, c, obj);
	if (c->msg == NFT_MSG_DELTABLE)
		m->table_deleted = true;
	for (size_t i = 0; i < m->n_seen; i++)
		if (m->seen[i].c == c && strcmp(m->seen[i].obj, obj ? obj : "") == 0) {
			m->seen[i].count++;
			return;
		}
	if (m->n_seen == MAX_NOTED)
		return;
	struct noted *n = &m->seen[m->n_seen++];
	n->c = c;
	n->count = 1;
	snprintf(n->obj, sizeof(n->obj), "%s", obj ? obj : "");
}

/* "table deleted" first and alone for what deleting the table did to its
 * chains, sets and rules (its event comes last, when the list may be full);
 * otherwise each distinct change, with its count. */
static void describe(struct seg_nftmon *m)
{
	size_t len = 0, listed = 0;

	m->what[0] = '\0';
	if (m->table_deleted)
		len = (size_t)snprintf(m->what, WHAT_MAX, "table deleted (with its chains, sets and rules: "
				       "%zu changes)", m->n_changes);
	for (size_t i = 0; i < m->n_seen && len < WHAT_MAX; i++) {
		const struct noted *n = &m->seen[i];
		if (m->table_deleted && (n->c->in_table_delete || n->c->msg == NFT_MSG_DELTABLE))
			continue;
		listed += n->count;
		len += (size_t)snprintf(m->what + len, WHAT_MAX - len, "%s%s%s%s%s%s", len ? "; " : "",
					n->c->before, n->obj[0] ? " '" : "", n->obj, n->obj[0] ? "'" : "",
					n->c->after);
		if (n->count > 1 && len < WHAT_MAX)
			len += (size_t)snprintf(m->what + len, WHAT_MAX - len, " (%zu times)", n->count);
	}
	if (!m->table_deleted && listed < m->n_changes && len < WHAT_MAX)
		snprintf(m->what + len, WHAT_MAX - len, "; and %zu more changes", m->n_changes - listed);
}

static void end_transaction(struct seg_nftmon *m, const struct attrs *at, uint32_t port)
{
	const struct nlattr *pid = at->a[NFTA_GEN_PROC_PID], *id = at->a[NFTA_GEN_ID];
	const char *name = attr_str(at->a[NFTA_GEN_PROC_NAME]);
	uint32_t who = pid && mnl_attr_validate(pid, MNL_TYPE_U32) == 0 ? ntohl(mnl_attr_get_u32(pid)) : 0;
	char by[96];

	if (id && mnl_attr_validate(id, MNL_TYPE_U32) == 0) {
		m->gen = ntohl(mnl_attr_get_u32(id));
		if (m->n_changes && m->res != (uint16_t)m->gen)
			forget(m);   /* events of an earlier commit whose NEWGEN was lost (stale_events) */
	}
	if (overflowed(m)) {
		lost(m);
		return;
	}
	/* only the connection's own commits are what it remembers */
	bool conns = m->own_port && port == m->own_port;
	for (size_t i = 0; !conns && i < m->n_touched; i++)
		seg_nft_conn_changed(m->conn, m->touched[i]);
	if (!conns && m->touched_all)
		seg_nft_conn_changed(m->conn, NULL);
	seg_nft_conn_seen(m->conn, m->gen);
	bool own = who == (uint32_t)getpid() || conns;
	if (m->n_changes && !own) {
		describe(m);
		snprintf(by, sizeof(by), "%s (pid %u)", name ? name : "unknown process", who);
		m->fn(m->what, by, 0, m->ctx);
	}
	forget(m);
}

static int on_event(const struct nlmsghdr *nlh, void *data)
{
	struct seg_nftmon *m = data;
	struct attrs at = { 0 };
	int type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < MNL_NLMSG_HDRLEN + sizeof(*g))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*g), take_attr, &at);
	if (type == NFT_MSG_NEWGEN) {
		end_transaction(m, &at, nlh->nlmsg_pid);
		return MNL_CB_OK;
	}
	const char *table = attr_str(at.a[1]);
	if (g->nfgen_family != NFPROTO_INET || !table || strcmp(table, m->table) != 0)
		return MNL_CB_OK;
	stale_events(m, ntohs(g->res_id));
	for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		if (changes[i].msg == type)
			note_change(m, &changes[i], &at);
	return MNL_CB_OK;
}

int seg_nftmon_open(const char *table, seg_tamper_fn fn, void *ctx, struct seg_nftmon **ret)
{
	struct seg_nftmon *m = calloc(1, sizeof(*m));
	unsigned grp = NFNLGRP_NFTABLES;
	int r;

	if (!m || !(m->table = strdup(table)) || !(m->buf = malloc(MNL_SOCKET_BUFFER_SIZE))) {
		seg_nftmon_close(m);
		return -ENOMEM;
	}
	m->fn = fn;
	m->ctx = ctx;
	/* big transactions produce one event per element: the helper's 4 MiB
	 * receive buffer makes room (needs CAP_NET_ADMIN) */
	if (!(m->nl = seg_nft_socket(grp, true, 0))) {
		r = -errno;
		seg_nftmon_close(m);
		return r;
	}
	*ret = m;
	return 0;
}

void seg_nftmon_close(struct seg_nftmon *m)
{
	if (!m)
		return;
	if (m->nl)
		mnl_socket_close(m->nl);
	free(m->table);
	free(m->buf);
	free(m);
}

int seg_nftmon_fd(const struct seg_nftmon *m)
{
	return mnl_socket_get_fd(m->nl);
}

int seg_nftmon_dispatch(struct seg_nftmon *m)
{
	for (int round = 0; round < 256; round++) {
		ssize_t n = mnl_socket_recvfrom(m->nl, m->buf, MNL_SOCKET_BUFFER_SIZE);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0 && errno == ENOBUFS) {
			lost(m);
			continue;
		}
		if (n < 0)
			return -errno;
		mnl_cb_run(m->buf, (size_t)n, 0, 0, on_event, m);
	}
	return 0;
}

int seg_nftmon_listen(struct seg_nftmon *m, bool on)
{
	unsigned grp = NFNLGRP_NFTABLES;
	int fd = mnl_socket_get_fd(m->nl);

	if (setsockopt(fd, SOL_NETLINK, on ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, &grp,
		       sizeof(grp)) < 0)
		return -errno;
	return 0;
}

void seg_nftmon_accounted(struct seg_nftmon *m, uint32_t gen)
{
	m->gen = gen;
	seg_nft_conn_seen(m->conn, gen);
}

void seg_nftmon_own(struct seg_nftmon *m, struct seg_nft_conn *conn)
{
	m->conn = conn;
	m->own_port = seg_nft_conn_portid(conn);
}

uint32_t seg_nftmon_generation(const struct seg_nftmon *m)
{
	return m->gen;
}
