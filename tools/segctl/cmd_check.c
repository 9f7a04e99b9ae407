/* cmd_check.c - segctl check [FILE]: validate a configuration. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "addr.h"
#include "config.h"
#include "json.h"
#include "links.h"
#include "plan.h"
#include "zonemap.h"
#include "segctl.h"

/* elements: of the compiled ruleset (cfg valid only) */
static void print_json(const struct seg_diags *d, const struct seg_config *cfg, size_t elements, FILE *f)
{
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "file");
	seg_json_str(f, d->file);
	seg_json_key(f, &first, "valid");
	fputs(cfg ? "true" : "false", f);
	seg_json_key(f, &first, "errors");
	fprintf(f, "%zu", d->n_errors);
	seg_json_key(f, &first, "warnings");
	fprintf(f, "%zu", d->n_warnings);
	if (cfg) {
		seg_json_key(f, &first, "zones");
		fprintf(f, "%zu", seg_zone_count(cfg));
		seg_json_key(f, &first, "conduits");
		fprintf(f, "%zu", cfg->n_conduits);
		seg_json_key(f, &first, "elements");
		fprintf(f, "%zu", elements);
		seg_json_key(f, &first, "max_elements");
		fprintf(f, "%u", cfg->settings.max_elements);
	}
	seg_json_key(f, &first, "diagnostics");
	fputc('[', f);
	for (size_t i = 0; i < d->n; i++) {
		int f2 = 1;
		fputs(i ? ",{" : "{", f);
		seg_json_key(f, &f2, "line");
		fprintf(f, "%d", d->v[i].line);
		seg_json_key(f, &f2, "severity");
		seg_json_str(f, seg_severity_name(d->v[i].sev));
		seg_json_key(f, &f2, "message");
		seg_json_str(f, d->v[i].msg);
		fputc('}', f);
	}
	fputs("]}\n", f);
}

static void print_summary(const struct seg_diags *d, const struct seg_config *cfg, size_t elements, FILE *f)
{
	size_t expired = 0;

	for (size_t i = 0; cfg && i < cfg->n_conduits; i++)
		expired += cfg->conduits[i].expired;
	if (cfg)
		fprintf(f, "%s: ok: %zu zones, %zu conduits (%zu expired, not installed), %zu set elements "
			"(settings.max_elements %u), %zu warning%s\n", d->file, seg_zone_count(cfg), cfg->n_conduits,
			expired, elements, cfg->settings.max_elements, d->n_warnings, d->n_warnings == 1 ? "" : "s");
	else
		fprintf(f, "%s: %zu error%s, %zu warning%s — nothing would be installed; the running rules "
			"stay as they are\n", d->file, d->n_errors, d->n_errors == 1 ? "" : "s",
			d->n_warnings, d->n_warnings == 1 ? "" : "s");
}

/* The set elements the ruleset would hold: compiled, as segd would. */
static int compiled_elements(const struct seg_config *cfg, struct seg_diags *d, size_t *ret)
{
	struct seg_zonemap map = { 0 };
	struct seg_plan *plan = NULL;
	int r = seg_zonemap_build(cfg, &map);

	if (r == 0)
		r = seg_plan_build(cfg, &map, d, &plan);
	if (r == 0)
		*ret = plan->counts.elems;
	seg_plan_free(plan);
	seg_zonemap_free(&map);
	return r;
}

int cmd_check(struct segctl *s, int argc, char **argv)
{
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	const char *path = s->config ? s->config : SEG_DEFAULT_CONFIG;

	enum seg_links_when links = SEG_LINKS_IF_HERE;

	for (; argc > 1 && argv[1][0] == '-' && argv[1][1]; argc--, argv++) {
		if (strcmp(argv[1], "--live") == 0)
			links = SEG_LINKS_ALWAYS;
		else if (strcmp(argv[1], "--offline") == 0)
			links = SEG_LINKS_NEVER;
		else
			return segctl_usage(s, "check");
	}
	if (argc > 2)
		return segctl_usage(s, "check");
	if (argc == 2)
		path = argv[1];
	int r = seg_config_load(path, seg_today(), &cfg, &d);
	if (r == 0)
		r = seg_links_judge(&cfg, links, &d);
	size_t elements = 0;
	if (r == 0 && (r = compiled_elements(cfg, &d, &elements)) == -EINVAL) {
		seg_config_free(cfg);     /* over settings.max_elements: invalid, as the daemon says */
		cfg = NULL;
	}
	if (s->json) {
		print_json(&d, cfg, elements, stdout);
	} else {
		seg_diags_print(&d, stderr);
		print_summary(&d, cfg, elements, r == 0 ? stdout : stderr);
	}
	seg_diags_free(&d);
	seg_config_free(cfg);
	if (r == -EINVAL)
		return SEGCTL_NOT_OK;
	return r < 0 ? SEGCTL_ERROR : SEGCTL_OK;
}
