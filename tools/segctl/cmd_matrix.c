/*
 * cmd_matrix.c - segctl matrix: the zone x zone table (rows from, columns to).
 *
 * A cell is "intra" on the diagonal, "guard" for pairs that model rule 1
 * forbids (the kernel's guard drops them before any conduit), the names of
 * the conduits that open the pair, or "deny". Expired conduits open nothing
 * (they are not installed): the text marks them, the JSON lists them apart.
 * Exit status: 0, or 1 when the configuration is invalid (segctl_load).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "decide.h"
#include "json.h"
#include "segctl.h"

#define CELL_MAX 28   /* longer lists of names become "N conduits" */
#define CELL_BUF 48

enum cell_state { CELL_INTRA, CELL_GUARD, CELL_OPEN, CELL_DENY, CELL_ISOLATED };

static const char *const state_names[] = { "intra", "guard", "open", "deny", "isolated" };

static enum cell_state cell_state(const struct seg_config *cfg, size_t a, size_t b, size_t n_open)
{
	if (a == b)
		return CELL_INTRA;
	if (cfg->zones[a].isolated || cfg->zones[b].isolated)   /* segctl isolate: before the guard */
		return CELL_ISOLATED;
	if (seg_zone_pair_guarded(cfg, a, b))
		return CELL_GUARD;
	return n_open ? CELL_OPEN : CELL_DENY;
}

static bool opens(const struct seg_conduit *c, size_t a, size_t b)
{
	return c->from == a && c->to == b && !c->expired;
}

/* The text of one cell, in a buffer of CELL_BUF bytes. */
static void cell_text(const struct seg_config *cfg, size_t a, size_t b, char *out)
{
	size_t n_open = 0, n_expired = 0, len = 0;

	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *c = &cfg->conduits[i];
		if (c->from != a || c->to != b)
			continue;
		n_expired += c->expired;
		if (!opens(c, a, b))
			continue;
		n_open++;
		len += strlen(c->name) + (n_open > 1);
	}
	enum cell_state st = cell_state(cfg, a, b, n_open);
	if (st != CELL_OPEN) {
		snprintf(out, CELL_BUF, "%s%s", state_names[st], n_expired ? " (expired)" : "");
		return;
	}
	if (len > CELL_MAX) {
		snprintf(out, CELL_BUF, "%zu conduits", n_open);
		return;
	}
	out[0] = '\0';
	for (size_t i = 0; i < cfg->n_conduits; i++)
		if (opens(&cfg->conduits[i], a, b)) {
			if (out[0])
				strcat(out, ",");
			strcat(out, cfg->conduits[i].name);
		}
}

static void print_table(const struct seg_config *cfg, FILE *f)
{
	/* rows: every zone and the gateway (what it sends); columns: the zones
	 * (what reaches the gateway is gateway_services, not a conduit) */
	size_t nz = cfg->n_zones, nc = seg_zone_count(cfg), label = strlen("from \\ to");
	size_t *width = calloc(nz ? nz : 1, sizeof(*width));
	char (*cells)[CELL_BUF] = calloc(nz * nz + 1, sizeof(*cells));

	if (!width || !cells) {
		fputs("segctl: matrix: out of memory\n", stderr);
		goto cleanup;
	}
	for (size_t a = 0; a < nz; a++) {
		label = strlen(cfg->zones[a].name) > label ? strlen(cfg->zones[a].name) : label;
		width[a] = strlen(cfg->zones[a].name);
	}
	for (size_t a = 0; a < nz; a++)
		for (size_t b = 0; b < nc; b++) {
			cell_text(cfg, a, b, cells[a * nz + b]);
			size_t w = strlen(cells[a * nz + b]);
			width[b] = w > width[b] ? w : width[b];
		}
	fprintf(f, "%-*s", (int)label, "from \\ to");
	for (size_t b = 0; b < nc; b++)
		fprintf(f, "  %-*s", b + 1 < nc ? (int)width[b] : 0, cfg->zones[b].name);
	fputc('\n', f);
	for (size_t a = 0; a < nz; a++) {
		fprintf(f, "%-*s", (int)label, cfg->zones[a].name);
		for (size_t b = 0; b < nc; b++)
			fprintf(f, "  %-*s", b + 1 < nc ? (int)width[b] : 0, cells[a * nz + b]);
		fputc('\n', f);
	}
	fputs("\nrows: from, columns: to.  intra: within one zone, allowed.  deny: no conduit opens it.\n"
	      "guard: mynumber <-> internet/external, dropped before any conduit (model rule 1).\n"
	      "isolated: a zone cut off by 'segctl isolate', conduits included, until 'segctl release'.\n"
	      "names: the conduits that open it (new connections from the row's zone; replies return).\n", f);
cleanup:
	free(width);
	free(cells);
}

static void json_names(FILE *f, const struct seg_config *cfg, size_t a, size_t b, bool expired)
{
	size_t n = 0;

	fputc('[', f);
	for (size_t i = 0; i < cfg->n_conduits; i++) {
		const struct seg_conduit *c = &cfg->conduits[i];
		if (c->from == a && c->to == b && c->expired == expired) {
			fputs(n++ ? "," : "", f);
			seg_json_str(f, c->name);
		}
	}
	fputc(']', f);
}

static void json_pair(FILE *f, const struct seg_config *cfg, size_t a, size_t b)
{
	size_t n_open = 0;
	int first = 1;

	for (size_t i = 0; i < cfg->n_conduits; i++)
		n_open += opens(&cfg->conduits[i], a, b);
	fputc('{', f);
	seg_json_key(f, &first, "from");
	seg_json_str(f, cfg->zones[a].name);
	seg_json_key(f, &first, "to");
	seg_json_str(f, cfg->zones[b].name);
	seg_json_key(f, &first, "state");
	seg_json_str(f, state_names[cell_state(cfg, a, b, n_open)]);
	seg_json_key(f, &first, "conduits");
	json_names(f, cfg, a, b, false);
	seg_json_key(f, &first, "expired");
	json_names(f, cfg, a, b, true);
	fputc('}', f);
}

static void print_json(const struct seg_config *cfg, FILE *f)
{
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "file");
	seg_json_str(f, cfg->file);
	seg_json_key(f, &first, "zones");
	fputc('[', f);
	for (size_t a = 0; a < cfg->n_zones; a++) {
		int zf = 1;
		fputs(a ? ",{" : "{", f);
		seg_json_key(f, &zf, "name");
		seg_json_str(f, cfg->zones[a].name);
		seg_json_key(f, &zf, "kind");
		seg_json_str(f, seg_zone_kind_name(cfg->zones[a].kind));
		fputc('}', f);
	}
	fputc(']', f);
	seg_json_key(f, &first, "pairs");
	fputc('[', f);
	for (size_t a = 0; a < cfg->n_zones; a++)
		for (size_t b = 0; b < seg_zone_count(cfg); b++) {
			fputs(a + b ? "," : "", f);
			json_pair(f, cfg, a, b);
		}
	fputs("]}\n", f);
}

int cmd_matrix(struct segctl *s, int argc, char **argv)
{
	struct seg_config *cfg = NULL;

	(void)argv;
	if (argc > 1)
		return segctl_usage(s, "matrix");
	int r = segctl_load(s, NULL, &cfg);
	if (r != SEGCTL_OK)
		return r;
	segctl_isolation(s, cfg, NULL);
	if (s->json)
		print_json(cfg, stdout);
	else
		print_table(cfg, stdout);
	seg_config_free(cfg);
	return SEGCTL_OK;
}
