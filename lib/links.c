/*
 * links.c - read the gateway's links (RTM_GETLINK) and judge the zones'
 * interfaces against them (see links.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <libmnl/libmnl.h>
#include "links.h"
#include "nftnl.h"

#define ERR(d, line, ...)  seg_diag((d), SEG_SEV_ERROR, (line), __VA_ARGS__)
#define WARN(d, line, ...) seg_diag((d), SEG_SEV_WARNING, (line), __VA_ARGS__)

/* ---- reading ---- */

struct link_attrs {
	const struct nlattr *name, *link, *master, *netnsid, *linkinfo;
};

static int take_attr(const struct nlattr *a, void *data)
{
	struct link_attrs *t = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME: t->name = a; break;
	case IFLA_LINK: t->link = a; break;
	case IFLA_MASTER: t->master = a; break;
	case IFLA_LINK_NETNSID: t->netnsid = a; break;
	case IFLA_LINKINFO: t->linkinfo = a; break;
	}
	return MNL_CB_OK;
}

static int take_kind(const struct nlattr *a, void *data)
{
	const struct nlattr **kind = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
		*kind = a;
	return MNL_CB_OK;
}

static int take_link(const struct nlmsghdr *nlh, void *data)
{
	struct seg_links *l = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_attrs t = { 0 };
	const struct nlattr *kind = NULL;

	if (nlh->nlmsg_type != RTM_NEWLINK)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifi), take_attr, &t);
	if (!t.name)
		return MNL_CB_OK;
	struct seg_link *v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return MNL_CB_ERROR;
	l->v = v;
	struct seg_link *k = &l->v[l->n++];
	memset(k, 0, sizeof(*k));
	k->index = ifi->ifi_index;
	snprintf(k->name, sizeof(k->name), "%s", mnl_attr_get_str(t.name));
	/* a veth's IFLA_LINK names its peer in another namespace: not a lower device here */
	if (t.link && !t.netnsid && mnl_attr_get_u32(t.link) != (uint32_t)ifi->ifi_index)
		k->lower = (int)mnl_attr_get_u32(t.link);
	if (t.master)
		k->master = (int)mnl_attr_get_u32(t.master);
	if (t.linkinfo)
		mnl_attr_parse_nested(t.linkinfo, take_kind, &kind);
	if (kind)
		snprintf(k->kind, sizeof(k->kind), "%s", mnl_attr_get_str(kind));
	return MNL_CB_OK;
}

int seg_links_read(struct seg_links *out)
{
	struct mnl_socket *nl = seg_netlink_socket(NETLINK_ROUTE, 0, false, 0);
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	uint32_t seq = (uint32_t)time(NULL), port;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (!nl || !buf) {
		r = -errno;
		goto out;
	}
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	port = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);
		if (n < 0) {
			r = -errno;
			break;
		}
		int cb = mnl_cb_run(buf, (size_t)n, seq, port, take_link, out);
		if (cb <= MNL_CB_STOP) {
			r = cb < 0 ? -(errno ? errno : EIO) : 0;
			break;
		}
	}
out:
	if (r < 0)
		seg_links_free(out);
	if (nl)
		mnl_socket_close(nl);
	free(buf);
	return r;
}

void seg_links_free(struct seg_links *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- judging ---- */

static const struct seg_link *by_index(const struct seg_links *l, int index)
{
	for (size_t i = 0; index > 0 && i < l->n; i++)
		if (l->v[i].index == index)
			return &l->v[i];
	return NULL;
}

static const struct seg_link *by_name(const struct seg_links *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return &l->v[i];
	return NULL;
}

/* The zone whose interfaces list this name, or -1. */
static int zone_of_iface(const struct seg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_zones; i++)
		for (size_t k = 0; k < cfg->zones[i].n_ifaces; k++)
			if (strcmp(cfg->zones[i].ifaces[k], name) == 0)
				return (int)i;
	return -1;
}

/* Deep enough for a VLAN on a bond on a bridge port. */
#define MAX_DEPTH 8

struct walk {
	const struct seg_config *cfg;
	const struct seg_links *l;
	int zone;
	bool *seen;               /* by position in l */
	char rel[96];             /* how the foreign interface is joined, for the message */
};

static bool is_foreign(struct walk *w, const struct seg_link *n)
{
	int zn = zone_of_iface(w->cfg, n->name);
	return zn >= 0 && zn != w->zone;
}

/* What a link rests on or is joined with: its lower device, its master, and
 * (for a bridge or bond) its ports. Not the other devices on its lower one:
 * VLANs of one trunk are separate segments. Returns the first interface of
 * another zone reached through links of no zone, or NULL. */
static const struct seg_link *walk_from(struct walk *w, const struct seg_link *node, int depth)
{
	const struct seg_links *l = w->l;

	if (depth >= MAX_DEPTH)
		return NULL;
	w->seen[node - l->v] = true;
	for (size_t i = 0; i < l->n + 2; i++) {
		const struct seg_link *n = i == l->n ? by_index(l, node->lower) : i == l->n + 1 ?
					   by_index(l, node->master) : l->v[i].master == node->index ? &l->v[i] : NULL;
		if (!n || w->seen[n - l->v])
			continue;
		if (is_foreign(w, n)) {
			if (n->index == node->lower)
				snprintf(w->rel, sizeof(w->rel), "'%s' is a %s on '%s'", node->name,
					 node->kind[0] ? node->kind : "link", n->name);
			else if (n->index == node->master)
				snprintf(w->rel, sizeof(w->rel), "'%s' is a port of '%s'", node->name, n->name);
			else
				snprintf(w->rel, sizeof(w->rel), "'%s' is a port of '%s'", n->name, node->name);
			return n;
		}
		if (zone_of_iface(w->cfg, n->name) < 0) {
			const struct seg_link *f = walk_from(w, n, depth + 1);
			if (f)
				return f;
		}
	}
	return NULL;
}

void seg_links_check(const struct seg_config *cfg, const struct seg_links *l, struct seg_diags *d)
{
	int saved = d->check;
	bool *seen = calloc(l->n ? l->n : 1, sizeof(*seen));

	if (!seen) {
		d->oom = 1;
		return;
	}
	d->check = SEG_CHECK_ZONES;
	for (size_t i = 0; i < cfg->n_zones; i++) {
		const struct seg_zone *z = &cfg->zones[i];
		for (size_t k = 0; k < z->n_ifaces; k++) {
			const struct seg_link *a = by_name(l, z->ifaces[k]), *b;
			struct walk w = { cfg, l, (int)i, seen, "" };
			if (!a) {
				WARN(d, z->line, "zone '%s': interface '%s' does not exist on this gateway — check the "
				     "name with 'ip link'; until it exists no packet of the zone arrives", z->name,
				     z->ifaces[k]);
				continue;
			}
			memset(seen, 0, l->n * sizeof(*seen));
			if ((b = walk_from(&w, a, 0))) {
				const char *other = cfg->zones[zone_of_iface(cfg, b->name)].name;
				ERR(d, z->line, "zone '%s': interface '%s' is joined to '%s' of zone '%s' (%s) — the "
				    "packets of one zone would arrive as the other's, past the model; put them into "
				    "one zone or take them apart", z->name, a->name, b->name, other, w.rel);
			}
		}
	}
	free(seen);
	d->check = saved;
}

int seg_links_check_live(const struct seg_config *cfg, struct seg_diags *d)
{
	struct seg_links l;
	int r = seg_links_read(&l);

	if (r < 0)
		return r;
	seg_links_check(cfg, &l, d);
	seg_links_free(&l);
	return 0;
}

bool seg_links_here(const struct seg_config *cfg)
{
	struct stat st;

	return geteuid() == 0 && cfg->settings.control_socket && stat(cfg->settings.control_socket, &st) == 0 &&
	       S_ISSOCK(st.st_mode);
}

int seg_links_judge(struct seg_config **cfg, enum seg_links_when when, struct seg_diags *d)
{
	if (when == SEG_LINKS_NEVER || (when == SEG_LINKS_IF_HERE && !seg_links_here(*cfg)))
		return 0;
	int r = seg_links_check_live(*cfg, d);
	if (r < 0)
		seg_diag(d, SEG_SEV_WARNING, 0, "the gateway's interfaces cannot be read (%s) — they were not "
			 "compared with the zones; check them with 'ip -d link'", strerror(-r));
	if (d->n_errors == 0)
		return 0;
	seg_config_free(*cfg);
	*cfg = NULL;
	return -EINVAL;
}

/* ---- watching ---- */

struct mnl_socket *seg_links_monitor_open(void)
{
	return seg_netlink_socket(NETLINK_ROUTE, RTNLGRP_LINK, true, 0);
}

int seg_links_monitor_fd(struct mnl_socket *nl)
{
	return mnl_socket_get_fd(nl);
}

void seg_links_monitor_close(struct mnl_socket *nl)
{
	if (nl)
		mnl_socket_close(nl);
}

static int count_link(const struct nlmsghdr *nlh, void *data)
{
	int *n = data;

	*n += nlh->nlmsg_type == RTM_NEWLINK || nlh->nlmsg_type == RTM_DELLINK;
	return MNL_CB_OK;
}

int seg_links_monitor_drain(struct mnl_socket *nl)
{
	char buf[16384];
	int n = 0;

	for (;;) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (r < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? n : errno == ENOBUFS ? n + 1 : -errno;
		mnl_cb_run(buf, (size_t)r, 0, 0, count_link, &n);
	}
}
