/*
 * links.h - the gateway's interfaces as the kernel has them (rtnetlink), and
 * the zones' interfaces compared with them (issue 12, point 7).
 *
 * A zone interface that does not exist is a warning (segd may start before
 * a VLAN is created). One that is stacked on an interface of another zone
 * (a VLAN, macvlan or ipvlan over it, a tunnel over it, a bridge or bond
 * port of it or of the same master) is an error: the packets of one zone
 * would arrive as another's, past the model's guard, without any rule
 * changing. segd checks at start, at each reload and whenever a link
 * appears or changes (RTM_NEWLINK); segctl check where segd runs.
 */
#ifndef SEGD_LINKS_H
#define SEGD_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include "config.h"

struct seg_link {
	int index;
	char name[16];
	int lower;         /* IFLA_LINK in this namespace (vlan, macvlan, ipvlan, tunnel), 0: none */
	int master;        /* IFLA_MASTER (bridge, bond, team, vrf), 0: none */
	char kind[16];     /* IFLA_INFO_KIND ("vlan", "macvlan", "bridge", ...) or "" */
};

struct seg_links {
	struct seg_link *v;
	size_t n;
};

/* Dumps this network namespace's links. 0 or -errno. */
int seg_links_read(struct seg_links *out);
void seg_links_free(struct seg_links *l);

/* Appends to d (check "zones"): a warning per missing zone interface, an
 * error per zone interface stacked on, or bridged with, another zone's. */
void seg_links_check(const struct seg_config *cfg, const struct seg_links *l, struct seg_diags *d);

/* seg_links_read() and seg_links_check() in one: 0, or -errno when the
 * links cannot be read (then nothing is appended). */
int seg_links_check_live(const struct seg_config *cfg, struct seg_diags *d);

/* Whether this is the gateway of cfg: root, and the control socket of the
 * segd that runs cfg exists. segctl check and segd -n compare the
 * interfaces only there (elsewhere every interface would be "missing"). */
bool seg_links_here(const struct seg_config *cfg);

/* When loading compares the zones' interfaces with the live ones: the
 * daemon always (start, reload), segd -n and segctl check only on the
 * gateway (seg_links_here) unless asked. */
enum seg_links_when { SEG_LINKS_NEVER, SEG_LINKS_IF_HERE, SEG_LINKS_ALWAYS };

/* Compares as 'when' says, appending to d; a stacked or bridged interface
 * makes the file invalid here as a model error does: then *cfg is freed and
 * NULL and -EINVAL is returned. Links that cannot be read are a warning. */
int seg_links_judge(struct seg_config **cfg, enum seg_links_when when, struct seg_diags *d);

/* A non-blocking NETLINK_ROUTE socket subscribed to link changes; its fd is
 * readable when a link appears, changes or goes. NULL with errno. */
struct mnl_socket;
struct mnl_socket *seg_links_monitor_open(void);
int seg_links_monitor_fd(struct mnl_socket *nl);
void seg_links_monitor_close(struct mnl_socket *nl);   /* accepts NULL */
/* Reads what is queued; returns how many link messages (0: none), -errno. */
int seg_links_monitor_drain(struct mnl_socket *nl);

#endif
