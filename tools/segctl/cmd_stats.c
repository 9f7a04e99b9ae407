/*
 * cmd_stats.c - segctl stats: packets and bytes per zone pair (drops, by
 * event) and per conduit, from the kernel's counters, as segd reads them
 * (cmd=stats; the answer's keys are documented in lib/stats.h).
 *
 * Exit status: 0, or 2 when segd cannot be asked (not running, no
 * permission) or answers an error.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "control.h"
#include "json.h"
#include "segctl.h"
#include "stats.h"

/* Columns of the zone-pair table, in this order. */
static const enum seg_nflog_event columns[] = {
	SEG_NFLOG_DENIED, SEG_NFLOG_GUARD, SEG_NFLOG_ISOLATED, SEG_NFLOG_SPOOFED, SEG_NFLOG_TO_GATEWAY,
	SEG_NFLOG_FROM_GATEWAY, SEG_NFLOG_LINK_SCOPE, SEG_NFLOG_UNZONED,
};
#define N_COLUMNS (sizeof(columns) / sizeof(columns[0]))

static const char *zone_text(const char *z)
{
	return z[0] ? z : "-";
}

/* Drops are sorted by (from, to, event): one row per run of equal zones. */
static size_t print_pair_row(const struct seg_counters *c, size_t i, FILE *f)
{
	const struct seg_drop_count *first = &c->drops[i];
	uint64_t pk[N_COLUMNS] = { 0 }, bytes = 0;

	for (; i < c->n_drops && strcmp(c->drops[i].from, first->from) == 0 &&
	       strcmp(c->drops[i].to, first->to) == 0; i++) {
		for (size_t k = 0; k < N_COLUMNS; k++)
			if (columns[k] == c->drops[i].event)
				pk[k] += c->drops[i].packets;
		bytes += c->drops[i].bytes;
	}
	fprintf(f, "%-20s %-20s", zone_text(first->from), zone_text(first->to));
	for (size_t k = 0; k < N_COLUMNS; k++)
		fprintf(f, " %14" PRIu64, pk[k]);
	fprintf(f, " %14" PRIu64 "\n", bytes);
	return i;
}

static void print_text(const struct seg_counters *c, FILE *f)
{
	fprintf(f, "Dropped packets per zone pair (kernel counters; '-': no zone / the gateway)\n");
	fprintf(f, "%-20s %-20s", "FROM", "TO");
	for (size_t k = 0; k < N_COLUMNS; k++)
		fprintf(f, " %14s", seg_drop_event_name(columns[k]));
	fprintf(f, " %14s\n", "bytes");
	for (size_t i = 0; i < c->n_drops;)
		i = print_pair_row(c, i, f);
	fprintf(f, "\nConduits (packets and bytes matched, both directions)\n");
	fprintf(f, "%-32s %-20s %-20s %14s %16s\n", "NAME", "FROM", "TO", "packets", "bytes");
	for (size_t i = 0; i < c->n_conduits; i++) {
		const struct seg_conduit_count *k = &c->conduits[i];
		fprintf(f, "%-32s %-20s %-20s %14" PRIu64 " %16" PRIu64 "\n", k->name, k->from, k->to, k->packets,
			k->bytes);
	}
	if (c->n_conduits == 0)
		fprintf(f, "(no conduit installed)\n");
	if (c->omitted)
		fprintf(f, "... %zu more conduits (the least busy): %" PRIu64 " packets, %" PRIu64 " bytes\n",
			c->omitted, c->omitted_packets, c->omitted_bytes);
	if (c->unattributed)
		fprintf(f, "%zu kernel elements belong to no conduit of the running configuration: %" PRIu64
			" packets, %" PRIu64 " bytes (segctl status: rules not in sync?)\n",
			c->unattributed, c->unattributed_packets, c->unattributed_bytes);
}

static void json_zone(FILE *f, int *first, const char *key, const char *z)
{
	seg_json_key(f, first, key);
	seg_json_str(f, z[0] ? z : NULL);
}

static void json_counts(FILE *f, int *first, uint64_t packets, uint64_t bytes)
{
	seg_json_key(f, first, "packets");
	fprintf(f, "%" PRIu64, packets);
	seg_json_key(f, first, "bytes");
	fprintf(f, "%" PRIu64, bytes);
}

static void json_total(FILE *f, int *first, const char *key, size_t n, uint64_t packets, uint64_t bytes)
{
	int f2 = 1;

	seg_json_key(f, first, key);
	fputc('{', f);
	seg_json_key(f, &f2, "count");
	fprintf(f, "%zu", n);
	json_counts(f, &f2, packets, bytes);
	fputc('}', f);
}

static void print_json(const struct seg_counters *c, FILE *f)
{
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "drops");
	fputc('[', f);
	for (size_t i = 0; i < c->n_drops; i++) {
		int f2 = 1;
		fputs(i ? ",{" : "{", f);
		seg_json_key(f, &f2, "event");
		seg_json_str(f, seg_drop_event_name(c->drops[i].event));
		json_zone(f, &f2, "from", c->drops[i].from);
		json_zone(f, &f2, "to", c->drops[i].to);
		json_counts(f, &f2, c->drops[i].packets, c->drops[i].bytes);
		fputc('}', f);
	}
	fputs("]", f);
	seg_json_key(f, &first, "conduits");
	fputc('[', f);
	for (size_t i = 0; i < c->n_conduits; i++) {
		int f2 = 1;
		fputs(i ? ",{" : "{", f);
		seg_json_key(f, &f2, "name");
		seg_json_str(f, c->conduits[i].name);
		json_zone(f, &f2, "from", c->conduits[i].from);
		json_zone(f, &f2, "to", c->conduits[i].to);
		json_counts(f, &f2, c->conduits[i].packets, c->conduits[i].bytes);
		fputc('}', f);
	}
	fputs("]", f);
	json_total(f, &first, "conduits_omitted", c->omitted, c->omitted_packets, c->omitted_bytes);
	json_total(f, &first, "unattributed", c->unattributed, c->unattributed_packets, c->unattributed_bytes);
	fputs("}\n", f);
}

int cmd_stats(struct segctl *s, int argc, char **argv)
{
	struct seg_kvlist req, resp;
	struct seg_counters *c = NULL;
	int r;

	(void)argv;
	if (argc != 1)
		return segctl_usage(s, "stats");
	seg_kv_init(&req);
	if (seg_kv_add(&req, "cmd", "stats") < 0) {
		fprintf(stderr, "%s: stats: out of memory\n", s->prog);
		return SEGCTL_ERROR;
	}
	r = segctl_call(s, &req, &resp);
	seg_kv_free(&req);
	if (r == SEGCTL_OK && seg_counters_from_kv(&resp, &c) < 0) {
		fprintf(stderr, "%s: stats: segd's answer is malformed (a segctl of another version?)\n", s->prog);
		r = SEGCTL_ERROR;
	}
	if (r == SEGCTL_OK) {
		if (s->json)
			print_json(c, stdout);
		else
			print_text(c, stdout);
	}
	seg_counters_free(c);
	seg_kv_free(&resp);
	return r;
}
