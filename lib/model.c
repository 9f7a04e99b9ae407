/* model.c - freeing the model and the name tables shared by every stage. */
#include <stdlib.h>
#include <string.h>
#include "model.h"

static const char *const zone_kinds[] = { "mynumber", "lgwan", "internet", "external", "gateway" };
static const char *const conduit_kinds[] = { "specific", "sanitize", "screen", "egress" };
static const char *const protos[] = { "tcp", "udp", "icmp", "icmpv6", "any", "vrrp" };

const char *seg_zone_kind_name(enum seg_zone_kind k)
{
	return (unsigned)k < SEG_ZONE_KIND_COUNT ? zone_kinds[k] : "?";
}

const char *seg_conduit_kind_name(enum seg_conduit_kind k)
{
	return (unsigned)k < SEG_CONDUIT_KIND_COUNT ? conduit_kinds[k] : "?";
}

const char *seg_proto_name(enum seg_proto p)
{
	return (unsigned)p < SEG_PROTO_COUNT ? protos[p] : "?";
}

int seg_zone_find(const struct seg_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_zones; i++)
		if (cfg->zones[i].name && strcmp(cfg->zones[i].name, name) == 0)
			return (int)i;
	return -1;
}

int seg_gateway_zone(const struct seg_config *cfg)
{
	return cfg->n_zones && cfg->zones[cfg->n_zones - 1].kind == SEG_ZONE_GATEWAY ? (int)cfg->n_zones - 1 : -1;
}

bool seg_zone_is_gateway(const struct seg_config *cfg, size_t z)
{
	return z < cfg->n_zones && cfg->zones[z].kind == SEG_ZONE_GATEWAY;
}

size_t seg_zone_count(const struct seg_config *cfg)
{
	return cfg->n_zones - (seg_gateway_zone(cfg) >= 0);
}

static void zone_free(struct seg_zone *z)
{
	free(z->name);
	for (size_t i = 0; i < z->n_ifaces; i++)
		free(z->ifaces[i]);
	free(z->ifaces);
	free(z->nets);
	free(z->gw_services);
	free(z->link_services);
}

static void conduit_free(struct seg_conduit *c)
{
	free(c->name);
	free(c->srcs);
	free(c->dsts);
	free(c->services);
	free(c->approval);
	free(c->expires);
	free(c->comment);
}

static void settings_free(struct seg_settings *s)
{
	free(s->table);
	free(s->spool);
	free(s->control_socket);
	free(s->control_group);
	free(s->state_dir);
	free(s->gateway_addrs);
	for (size_t i = 0; i < s->n_mgmt_ifaces; i++)
		free(s->mgmt_ifaces[i]);
	free(s->mgmt_ifaces);
}

void seg_config_free(struct seg_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_zones; i++)
		zone_free(&cfg->zones[i]);
	free(cfg->zones);
	for (size_t i = 0; i < cfg->n_conduits; i++)
		conduit_free(&cfg->conduits[i]);
	free(cfg->conduits);
	settings_free(&cfg->settings);
	free(cfg->file);
	free(cfg);
}
