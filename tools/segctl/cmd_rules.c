/* cmd_rules.c - segctl rules [FILE]: the ruleset segd would install, as `nft -f` text. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "config.h"
#include "json.h"
#include "plan.h"
#include "diag.h"
#include "segctl.h"
#include "zonemap.h"

static void print_json(const struct seg_plan *p, FILE *f)
{
	int first = 1;

	fputc('{', f);
	seg_json_key(f, &first, "table");
	seg_json_str(f, p->table);
	seg_json_key(f, &first, "sets");
	fputc('[', f);
	for (size_t i = 0; i < p->n_sets; i++) {
		int f2 = 1;
		fputs(i ? ",{" : "{", f);
		seg_json_key(f, &f2, "name");
		seg_json_str(f, p->sets[i].name);
		seg_json_key(f, &f2, "elements");
		fprintf(f, "%zu", p->sets[i].n_elems);
		seg_json_key(f, &f2, "interval");
		fputs(p->sets[i].interval ? "true" : "false", f);
		fputc('}', f);
	}
	fputc(']', f);
	seg_json_key(f, &first, "chains");
	fprintf(f, "%zu", p->counts.chains);
	seg_json_key(f, &first, "rules");
	fprintf(f, "%zu", p->counts.rules);
	seg_json_key(f, &first, "conduits_installed");
	fprintf(f, "%zu", p->counts.conduits_installed);
	seg_json_key(f, &first, "conduits_expired");
	fprintf(f, "%zu", p->counts.conduits_expired);
	fputs("}\n", f);
}

int cmd_rules(struct segctl *s, int argc, char **argv)
{
	struct seg_config *cfg = NULL;
	struct seg_zonemap map = { 0 };
	struct seg_plan *plan = NULL;
	int rc;

	if (argc > 2)
		return segctl_usage(s, argv[0]);
	rc = segctl_load(s, argc == 2 ? argv[1] : NULL, &cfg);
	if (rc != SEGCTL_OK)
		return rc;
	struct seg_diags d;
	seg_diags_init(&d, cfg->file);
	int r = seg_zonemap_build(cfg, &map);
	if (r == 0)
		r = seg_plan_build(cfg, &map, &d, &plan);
	seg_diags_print(&d, stderr);
	seg_diags_free(&d);
	if (r == -EINVAL) {
		rc = SEGCTL_NOT_OK;
	} else if (r < 0) {
		fprintf(stderr, "%s: cannot compile '%s': %s\n", s->prog, cfg->file, strerror(-r));
		rc = SEGCTL_ERROR;
	} else if (s->json) {
		print_json(plan, stdout);
	} else if (seg_plan_write_nft(plan, stdout) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "%s: writing the ruleset: %s\n", s->prog, strerror(errno));
		rc = SEGCTL_ERROR;
	}
	seg_plan_free(plan);
	seg_zonemap_free(&map);
	seg_config_free(cfg);
	return rc;
}
