/*
 * report_html.c - the self-inspection report as ONE self-contained HTML
 * page: inline CSS and inline SVG, no script, no outside assets (nothing is
 * fetched when an auditor opens it offline or archives it), printable
 * (@media print: A4, sections kept whole). The zone matrix and the incidents
 * per day are drawn as SVG.
 *
 * Every string from the configuration, the spool or the kernel is escaped
 * (html_text): a conduit comment cannot inject markup.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "addr.h"
#include "incident.h"
#include "report.h"
#include "segctl.h"

/* ---- escaping and small pieces ---- */

static void html_text(FILE *f, const char *s)
{
	seg_put_text(f, s, SEG_MEDIUM_HTML);
}

static void local_time(int64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M %Z", &tm);
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{font-family:'Noto Sans CJK JP','Noto Sans JP',system-ui,-apple-system,'Segoe UI',sans-serif;"
	"margin:0;background:#eef1f5;color:#1d2530;font-size:14px;line-height:1.45}"
	".page{max-width:1120px;margin:0 auto;padding:24px 28px 40px}"
	"header{background:#1f3a5f;color:#fff;padding:22px 28px;border-radius:10px;margin-bottom:18px}"
	"header h1{margin:0 0 4px;font-size:24px;font-weight:700}"
	"header .ja{font-size:15px;opacity:.85}"
	"header table{margin-top:12px;border-collapse:collapse;font-size:13px}"
	"header td{padding:2px 14px 2px 0;vertical-align:top}"
	"header td:first-child{opacity:.7;white-space:nowrap}"
	"code,.mono{font-family:'DejaVu Sans Mono',monospace;font-size:12.5px;word-break:break-all}"
	".cards{display:grid;grid-template-columns:repeat(5,1fr);gap:12px;margin-bottom:18px}"
	".card{background:#fff;border-radius:10px;padding:12px 14px;border-top:5px solid #90a4ae;"
	"box-shadow:0 1px 3px rgba(0,0,0,.08)}"
	".card .k{font-size:12px;color:#5b6775}.card .v{font-size:20px;font-weight:700;margin-top:2px}"
	".card .s{font-size:12px;color:#5b6775}"
	".ok{border-top-color:#2e7d32}.bad{border-top-color:#c62828}.warn{border-top-color:#ef8f00}"
	".na{border-top-color:#90a4ae}"
	"section{background:#fff;border-radius:10px;padding:16px 20px 18px;margin-bottom:16px;"
	"box-shadow:0 1px 3px rgba(0,0,0,.08)}"
	"section h2{margin:0;font-size:17px}section h2 .n{color:#1f3a5f;margin-right:6px}"
	"section h2 .ja{font-weight:400;color:#5b6775;font-size:14px;margin-left:8px}"
	".clauses{margin:6px 0 10px;font-size:12.5px;color:#44505e}"
	".clause{display:inline-block;background:#e3ebf6;color:#1f3a5f;border-radius:4px;padding:0 7px;"
	"margin-right:4px;font-weight:600}"
	"table.t{border-collapse:collapse;width:100%;font-size:13px}"
	"table.t th{text-align:left;background:#f3f5f8;color:#44505e;font-weight:600;padding:6px 8px;"
	"border-bottom:1px solid #d5dbe3}"
	"table.t td{padding:5px 8px;border-bottom:1px solid #eceff3;vertical-align:top}"
	"td.r,th.r{text-align:right}"
	".pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}"
	".p-ok{background:#dff0df;color:#1b5e20}.p-bad{background:#fbe0e0;color:#b71c1c}"
	".p-warn{background:#fff0d6;color:#8a5300}.p-na{background:#eceff1;color:#455a64}"
	".verdict{font-size:16px;font-weight:700;margin:4px 0 8px}"
	".muted{color:#6b7785}ul.d{margin:4px 0 0 18px;padding:0}"
	".legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12.5px;margin-top:8px}"
	".legend span.sw{display:inline-block;width:14px;height:14px;border-radius:3px;margin-right:5px;"
	"vertical-align:-2px;border:1px solid rgba(0,0,0,.15)}"
	"svg text{font-family:'Noto Sans CJK JP','DejaVu Sans',sans-serif}"
	"footer{font-size:12px;color:#6b7785;text-align:center;margin-top:8px}"
	"@media print{body{background:#fff;font-size:11px}.page{max-width:none;padding:0}"
	"header{border-radius:0;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
	"section,.card{box-shadow:none;border:1px solid #d5dbe3;break-inside:avoid}"
	".cards{grid-template-columns:repeat(5,1fr)}"
	"*{-webkit-print-color-adjust:exact;print-color-adjust:exact}@page{size:A4;margin:12mm}}";

static void section_head(FILE *f, enum seg_report_section s)
{
	const struct seg_report_section_info *i = seg_report_section(s);
	char buf[64];
	const char *p = i->clauses;

	fprintf(f, "<section id=\"%s\"><h2><span class=\"n\">%d.</span>", i->key, (int)s + 1);
	html_text(f, i->title);
	fputs("<span class=\"ja\">", f);
	html_text(f, i->title_ja);
	fputs("</span></h2><div class=\"clauses\">Policy clauses / 対応条項: ", f);
	while (*p) {                           /* "7(6), 8, 9" -> one badge each */
		size_t n = strcspn(p, ",");
		snprintf(buf, sizeof(buf), "%.*s", (int)(n < sizeof(buf) ? n : sizeof(buf) - 1), p);
		fputs("<span class=\"clause\">", f);
		html_text(f, buf);
		fputs("</span>", f);
		p += n;
		p += strspn(p, ", ");
	}
	fputs(" — ", f);
	html_text(f, i->answers);
	fputs("</div>\n", f);
}

/* ---- summary ---- */

static void card(FILE *f, const char *cls, const char *k, const char *v, const char *sub)
{
	fprintf(f, "<div class=\"card %s\"><div class=\"k\">", cls);
	html_text(f, k);
	fputs("</div><div class=\"v\">", f);
	html_text(f, v);
	fputs("</div><div class=\"s\">", f);
	html_text(f, sub);
	fputs("</div></div>\n", f);
}

static void sync_state(const struct seg_report *r, const char **cls, const char **v)
{
	if (!r->cfg || r->kernel_skipped || r->verify_err) {
		*cls = "na";
		*v = "not checked";
	} else {
		*cls = r->diff.in_sync ? "ok" : "bad";
		*v = r->diff.in_sync ? "in sync" : "DIFFERS";
	}
}

static void summary(FILE *f, const struct seg_report *r)
{
	char v[64], s[96];
	const char *cls, *sv;

	fputs("<div class=\"cards\">", f);
	sync_state(r, &cls, &sv);
	card(f, cls, "Live ruleset / 稼働ルール", sv, r->cfg ? r->cfg->settings.table : "-");
	snprintf(s, sizeof(s), "%zu errors, %zu warnings", r->diags.n_errors, r->diags.n_warnings);
	card(f, r->cfg ? "ok" : "bad", "Model check / モデル検証", r->cfg ? "valid" : "INVALID", s);
	snprintf(v, sizeof(v), "%zu installed", r->n_installed);
	snprintf(s, sizeof(s), "%zu expired, %zu expiring within %u days", r->n_expired, r->n_soon, r->soon_days);
	card(f, r->n_expired ? "bad" : r->n_soon ? "warn" : "ok", "Conduits / 通信路", v, s);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)r->incidents);
	snprintf(s, sizeof(s), "%llu packets in %zu pair/event groups", (unsigned long long)r->packets, r->n_pairs);
	card(f, r->incidents ? "warn" : "ok", "Incidents / インシデント", v, s);
	if (r->loss.available) {
		uint64_t lost = r->loss.not_sampled + r->loss.journal_dropped + r->loss.spool_dropped;
		snprintf(v, sizeof(v), lost ? "%llu lost" : "none lost", (unsigned long long)lost);
		snprintf(s, sizeof(s), "not sampled %llu, journal %llu, spool %llu (since segd started)",
			 (unsigned long long)r->loss.not_sampled, (unsigned long long)r->loss.journal_dropped,
			 (unsigned long long)r->loss.spool_dropped);
		card(f, lost ? "bad" : "ok", "Records / 記録の欠落", v, s);
	} else {
		card(f, "na", "Records / 記録の欠落", "unknown", "segd did not answer");
	}
	fputs("</div>\n", f);
}

/* ---- 1, 2: sync and model ---- */

static void html_sync(FILE *f, const struct seg_report *r)
{
	const char *cls, *v;

	section_head(f, SEG_RS_SYNC);
	sync_state(r, &cls, &v);
	fprintf(f, "<div class=\"verdict\"><span class=\"pill p-%s\">", cls);
	html_text(f, v);
	fputs("</span> ", f);
	if (r->cfg && r->verify_err && !r->kernel_skipped)
		fprintf(f, "reading the kernel's table failed: %s", strerror(-r->verify_err));
	else if (r->cfg && !r->kernel_skipped) {
		fputs("table <code>inet ", f);
		html_text(f, r->cfg->settings.table);
		fputs(r->diff.in_sync ? "</code> holds exactly the rules compiled from <code>" :
		      "</code> is not what the configuration compiles to: <code>", f);
		html_text(f, r->config_file);
		fputs("</code>", f);
	}
	fputs("</div>", f);
	if (r->cfg && !r->verify_err && !r->kernel_skipped && r->diff.n_text) {
		fputs("<ul class=\"d\">", f);
		for (size_t i = 0; i < r->diff.n_text; i++) {
			fputs("<li>", f);
			html_text(f, r->diff.text[i]);
			fputs("</li>", f);
		}
		if (r->diff.n_more)
			fprintf(f, "<li>%zu more differences</li>", r->diff.n_more);
		fputs("</ul>", f);
	}
	fputs("</section>\n", f);
}

static void html_model(FILE *f, const struct seg_report *r)
{
	section_head(f, SEG_RS_MODEL);
	fprintf(f, "<div class=\"verdict\"><span class=\"pill p-%s\">%s</span> %zu errors, %zu warnings",
		r->cfg ? "ok" : "bad", r->cfg ? "valid" : "INVALID", r->diags.n_errors, r->diags.n_warnings);
	if (r->cfg)
		fprintf(f, " — %zu zones, %zu conduits", seg_zone_count(r->cfg), r->cfg->n_conduits);
	fputs("</div><table class=\"t\" style=\"margin-top:10px\"><tr><th>check</th><th>result</th>"
	      "<th>what it asks / 内容</th><th>clause</th></tr>", f);
	for (int c = 0; c < SEG_CHECK_COUNT; c++) {
		const struct seg_check_info *ci = seg_check_info((enum seg_check)c);
		char state[48];
		seg_report_check_state(r, (enum seg_check)c, state, sizeof(state));
		fprintf(f, "<tr><td>%s</td><td><span class=\"pill p-%s\">", ci->id,
			state[0] == 'F' ? "bad" : state[0] == 'n' ? "na" : "ok");
		html_text(f, state);
		fputs("</span></td><td>", f);
		html_text(f, ci->en);
		fputs("<br>", f);
		html_text(f, ci->ja);
		fputs("</td><td>", f);
		html_text(f, ci->clause);
		fputs("</td></tr>", f);
	}
	fputs("</table>", f);
	if (r->diags.n) {
		fputs("<table class=\"t\" style=\"margin-top:10px\"><tr><th>line</th><th>severity</th>"
		      "<th>message</th></tr>", f);
		for (size_t i = 0; i < r->diags.n; i++) {
			fprintf(f, "<tr><td>%d</td><td>%s</td><td>", r->diags.v[i].line,
				seg_severity_name(r->diags.v[i].sev));
			html_text(f, r->diags.v[i].msg);
			fputs("</td></tr>", f);
		}
		fputs("</table>", f);
	}
	fputs("</section>\n", f);
}

/* ---- 3: the matrix as SVG ---- */

static const struct { const char *fill, *text, *label, *label_ja; } cell_style[SEG_CELL_COUNT] = {
	[SEG_CELL_INTRA]    = { "#dbe4ee", "#34495e", "intra-zone, allowed", "同一領域内" },
	[SEG_CELL_DENY]     = { "#f7dede", "#8e2424", "denied (no conduit)", "遮断" },
	[SEG_CELL_GUARD]    = { "#8e1b1b", "#ffffff", "guarded: model rule 1", "分離 (マイナンバー)" },
	[SEG_CELL_OPEN]     = { "#2e7d32", "#ffffff", "opened by conduits", "例外通信路あり" },
	[SEG_CELL_ISOLATED] = { "#263238", "#ffffff", "isolated (emergency)", "緊急遮断中" },
};

struct grid {
	int cell_w, cell_h, left, top;
};

static void matrix_labels(FILE *f, const struct seg_report *r, const struct grid *g)
{
	size_t nz = r->cfg->n_zones;

	for (size_t i = 0; i < nz; i++) {
		const struct seg_zone *z = &r->cfg->zones[i];
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"13\" font-weight=\"600\">",
			g->left - 10, g->top + (int)i * g->cell_h + g->cell_h / 2);
		html_text(f, z->name);
		fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\" fill=\"#6b7785\">%s"
			"</text>", g->left - 10, g->top + (int)i * g->cell_h + g->cell_h / 2 + 15,
			seg_zone_kind_name(z->kind));
		if (i >= seg_zone_count(r->cfg))   /* the gateway is a row (what it sends), not a column */
			continue;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"600\">",
			g->left + (int)i * g->cell_w + g->cell_w / 2, g->top - 24);
		html_text(f, z->name);
		fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\" fill=\"#6b7785\">"
			"%s</text>", g->left + (int)i * g->cell_w + g->cell_w / 2, g->top - 9,
			seg_zone_kind_name(z->kind));
	}
}

/* The names of the conduits of an open cell, one a line, as many as fit;
 * "+N more" on the last line otherwise. */
static void cell_names(FILE *f, const struct seg_report *r, const struct grid *g, size_t a, size_t b,
		       int x, int y)
{
	size_t lines = (size_t)(g->cell_h - 24) / 13, shown = 0, total = r->cell_open[a * r->cfg->n_zones + b];
	size_t chars = (size_t)g->cell_w / 6;

	for (size_t i = 0; i < r->n_conduits && shown < lines; i++) {
		const struct seg_conduit *c = &r->cfg->conduits[i];
		if (!r->conduits[i].installed || c->from != a || c->to != b)
			continue;
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"#e8f5e9\">",
			x + g->cell_w / 2, y + 32 + (int)shown * 13);
		if (shown + 1 == lines && total > lines)
			fprintf(f, "+%zu more", total - shown);
		else if (strlen(c->name) > chars)
			fprintf(f, "%.*s…", (int)(chars > 1 ? chars - 1 : 1), c->name);  /* [a-z0-9_-]: no escaping */
		else
			html_text(f, c->name);
		fputs("</text>", f);
		shown++;
	}
}

static void matrix_cell(FILE *f, const struct seg_report *r, const struct grid *g, size_t a, size_t b)
{
	size_t nz = r->cfg->n_zones;
	enum seg_report_cell c = r->cells[a * nz + b];
	int x = g->left + (int)b * g->cell_w, y = g->top + (int)a * g->cell_h;
	char text[32];

	if (c == SEG_CELL_OPEN)
		snprintf(text, sizeof(text), "%zu conduit%s", r->cell_open[a * nz + b],
			 r->cell_open[a * nz + b] == 1 ? "" : "s");
	else
		snprintf(text, sizeof(text), "%s", seg_report_cell_name(c));
	fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"4\" fill=\"%s\" stroke=\"#fff\" "
		"stroke-width=\"3\"/>", x, y, g->cell_w, g->cell_h, cell_style[c].fill);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\" "
		"fill=\"%s\">%s</text>", x + g->cell_w / 2, y + (c == SEG_CELL_OPEN ? 18 : g->cell_h / 2 + 4),
		cell_style[c].text, text);
	if (c == SEG_CELL_OPEN)
		cell_names(f, r, g, a, b, x, y);
}

static void html_matrix(FILE *f, const struct seg_report *r)
{
	size_t nz = r->cfg->n_zones, nc = seg_zone_count(r->cfg);
	int cw = nc ? 900 / (int)nc : 100;
	struct grid g = { .cell_w = cw > 170 ? 170 : cw < 44 ? 44 : cw, .cell_h = 64, .left = 140, .top = 70 };
	int w = g.left + (int)nc * g.cell_w + 20, h = g.top + (int)nz * g.cell_h + 10;

	section_head(f, SEG_RS_MATRIX);
	fprintf(f, "<svg role=\"img\" aria-label=\"zone matrix\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" style=\"max-width:100%%;height:auto\">", w, h, w, h);
	fprintf(f, "<text x=\"%d\" y=\"14\" font-size=\"11\" fill=\"#6b7785\">rows: from / 送信元 — columns: "
		"to / 宛先</text>", g.left);
	matrix_labels(f, r, &g);
	for (size_t a = 0; a < nz; a++)
		for (size_t b = 0; b < nc; b++)
			matrix_cell(f, r, &g, a, b);
	fputs("</svg><div class=\"legend\">", f);
	for (int c = 0; c < SEG_CELL_COUNT; c++)
		fprintf(f, "<span><span class=\"sw\" style=\"background:%s\"></span>%s — %s</span>",
			cell_style[c].fill, cell_style[c].label, cell_style[c].label_ja);
	fputs("</div></section>\n", f);
}

/* ---- 4, 5: conduits ---- */

static void conduit_state(const struct seg_report_conduit *rc, const char **cls, const char **text)
{
	*cls = rc->expired ? "p-bad" : rc->soon ? "p-warn" : rc->installed ? "p-ok" : "p-na";
	*text = rc->expired ? "expired — not installed" : rc->soon ? "expires soon" :
		rc->installed ? "installed" : "not installed";
}

static void conduit_row(FILE *f, const struct seg_report *r, const struct seg_report_conduit *rc)
{
	const struct seg_conduit *c = &r->cfg->conduits[rc->index];
	const char *cls, *text;

	conduit_state(rc, &cls, &text);
	fputs("<tr><td><b>", f);
	html_text(f, c->name);
	fputs("</b>", f);
	if (c->comment) {
		fputs("<br><span class=\"muted\">", f);
		html_text(f, c->comment);
		fputs("</span>", f);
	}
	fprintf(f, "</td><td>%s</td><td>", seg_conduit_kind_name(c->kind));
	html_text(f, r->cfg->zones[c->from].name);
	fputs(" → ", f);
	html_text(f, r->cfg->zones[c->to].name);
	fputs("</td><td class=\"mono\">", f);
	html_text(f, c->approval);
	fputs("</td><td>", f);
	html_text(f, c->expires);
	fprintf(f, "</td><td class=\"r\">%lld</td><td class=\"r\">", (long long)rc->days_left);
	if (rc->has_hits)
		fprintf(f, "%llu", (unsigned long long)rc->packets);
	else
		fputs("?", f);
	fprintf(f, "</td><td><span class=\"pill %s\">%s</span></td><td class=\"r\">%d</td></tr>\n", cls, text,
		c->line);
}

static void conduit_table(FILE *f, const struct seg_report *r, bool only_due)
{
	size_t n = 0;

	fputs("<table class=\"t\"><tr><th>conduit / 通信路</th><th>kind</th><th>from → to</th>"
	      "<th>approval / 承認</th><th>expires / 期限</th><th class=\"r\">days left</th>"
	      "<th class=\"r\">hits (packets)</th><th>state</th><th class=\"r\">line</th></tr>\n", f);
	for (size_t i = 0; i < r->n_conduits; i++) {
		if (only_due && !r->conduits[i].expired && !r->conduits[i].soon)
			continue;
		conduit_row(f, r, &r->conduits[i]);
		n++;
	}
	if (!n)
		fputs("<tr><td colspan=\"9\" class=\"muted\">none</td></tr>", f);
	fputs("</table>", f);
}

static void html_conduits(FILE *f, const struct seg_report *r)
{
	section_head(f, SEG_RS_CONDUITS);
	if (r->counters_err && !r->kernel_skipped)
		fprintf(f, "<p class=\"muted\">Hits unknown: the kernel's counters could not be read (%s).</p>",
			strerror(-r->counters_err));
	conduit_table(f, r, false);
	fputs("<p class=\"muted\">Hits: packets counted by the kernel on the conduit's set elements since the "
	      "table was installed (both directions of its connections).</p></section>\n", f);
	section_head(f, SEG_RS_EXPIRY);
	fprintf(f, "<div class=\"verdict\"><span class=\"pill %s\">%zu expired</span> <span class=\"pill %s\">"
		"%zu expiring within %u days</span></div>", r->n_expired ? "p-bad" : "p-ok", r->n_expired,
		r->n_soon ? "p-warn" : "p-ok", r->n_soon, r->soon_days);
	conduit_table(f, r, true);
	fputs("</section>\n", f);
}

/* ---- 6: incidents, with the per-day chart ---- */

static const struct { const char *color, *label; } ev_style[SEG_REPORT_EV_COUNT] = {
	{ "#c62828", "flow-denied / 遮断された通信" }, { "#ef8f00", "spoofed-source / 送信元偽装" },
	{ "#6a1b9a", "to-gateway / ゲートウェイ宛" }, { "#78909c", "other" },
};

static uint64_t day_total(const struct seg_report_day *d)
{
	uint64_t n = 0;

	for (int e = 0; e < SEG_REPORT_EV_COUNT; e++)
		n += d->incidents[e];
	return n;
}

/* A round maximum for the y axis: 1, 2, 5 x 10^k, at least max. */
static uint64_t axis_max(uint64_t max)
{
	uint64_t m = 1;

	for (;;) {
		if (max <= m) return m;
		if (max <= 2 * m) return 2 * m;
		if (max <= 5 * m) return 5 * m;
		m *= 10;
	}
}

struct chart {
	int w, h, left, top, bottom, pw, ph;
	uint64_t ymax;
};

static void chart_axes(FILE *f, const struct chart *c)
{
	for (int i = 0; i <= 4; i++) {
		int y = c->top + c->ph - c->ph * i / 4;
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\"/>", c->left, y, c->left + c->pw,
			y, i ? "#e3e7ec" : "#8a96a3");
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"11\" fill=\"#5b6775\">%llu</text>",
			c->left - 6, y + 4, (unsigned long long)(c->ymax * (uint64_t)i / 4));
	}
	fprintf(f, "<text x=\"12\" y=\"%d\" font-size=\"11\" fill=\"#5b6775\" transform=\"rotate(-90 12 %d)\" "
		"text-anchor=\"middle\">incidents / 件数</text>", c->top + c->ph / 2, c->top + c->ph / 2);
}

static void chart_bar(FILE *f, const struct chart *c, const struct seg_report_day *d, size_t i, size_t n)
{
	double slot = (double)c->pw / (double)n, bw = slot * 0.72;
	double x = c->left + slot * (double)i + (slot - bw) / 2, y = c->top + c->ph;
	size_t every = n <= 16 ? 1 : n <= 40 ? 5 : n <= 120 ? 14 : 30;
	char day[16];

	for (int e = 0; e < SEG_REPORT_EV_COUNT; e++) {
		double hh = (double)c->ph * (double)d->incidents[e] / (double)c->ymax;
		if (d->incidents[e] == 0)
			continue;
		y -= hh;
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>", x, y, bw,
			hh < 1 ? 1 : hh, ev_style[e].color);
	}
	if (day_total(d) && n <= 62)
		fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\" fill=\"#34495e\">"
			"%llu</text>", x + bw / 2, y - 3, (unsigned long long)day_total(d));
	if (i % every == 0 || i + 1 == n) {
		segctl_report_day(d->day, day, sizeof(day));
		fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"#5b6775\">"
			"%s</text>", x + bw / 2, c->top + c->ph + 16, day + 5);
	}
}

static void html_chart(FILE *f, const struct seg_report *r)
{
	struct chart c = { .w = 1040, .h = 240, .left = 56, .top = 16, .bottom = 30 };
	uint64_t max = 0;

	c.pw = c.w - c.left - 10;
	c.ph = c.h - c.top - c.bottom;
	for (size_t i = 0; i < r->n_days; i++)
		max = day_total(&r->days[i]) > max ? day_total(&r->days[i]) : max;
	c.ymax = 4 * axis_max((max + 3) / 4 ? (max + 3) / 4 : 1);   /* four even steps */
	fprintf(f, "<svg role=\"img\" aria-label=\"incidents per day\" "
		"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" style=\"max-width:100%%;height:auto\">", c.w, c.h,
		c.w, c.h);
	chart_axes(f, &c);
	for (size_t i = 0; i < r->n_days; i++)
		chart_bar(f, &c, &r->days[i], i, r->n_days);
	fputs("</svg><div class=\"legend\">", f);
	for (int e = 0; e < SEG_REPORT_EV_COUNT; e++)
		fprintf(f, "<span><span class=\"sw\" style=\"background:%s\"></span>%s</span>", ev_style[e].color,
			ev_style[e].label);
	fputs("</div>", f);
}

static void pair_row(FILE *f, const struct seg_report_pair *p)
{
	fputs("<tr><td>", f);
	html_text(f, p->event);
	fputs("</td><td>", f);
	html_text(f, *p->from ? p->from : "(unzoned)");
	fputs(" → ", f);
	html_text(f, *p->to ? p->to : "gateway");
	fprintf(f, "</td><td class=\"r\">%llu</td><td class=\"r\">%llu</td><td class=\"r\">",
		(unsigned long long)p->incidents, (unsigned long long)p->packets);
	if (p->has_kernel)
		fprintf(f, "%llu", (unsigned long long)p->kernel_packets);
	else
		fputs("–", f);
	fputs("</td><td class=\"mono\">", f);
	for (size_t k = 0; k < p->n_top; k++) {
		fputs(k ? "<br>" : "", f);
		html_text(f, p->top[k].addr);
		fprintf(f, " <span class=\"muted\">(%llu pkts, %llu inc.)</span>", (unsigned long long)p->top[k].packets,
			(unsigned long long)p->top[k].incidents);
	}
	if (p->sources > p->n_top)
		fprintf(f, "<br><span class=\"muted\">%llu sources in all</span>", (unsigned long long)p->sources);
	fputs("</td></tr>\n", f);
}

static void html_incidents(FILE *f, const struct seg_report *r)
{
	section_head(f, SEG_RS_INCIDENTS);
	fprintf(f, "<div class=\"verdict\">%llu incidents, %llu packets</div>", (unsigned long long)r->incidents,
		(unsigned long long)r->packets);
	if (r->spool_err) {
		fputs("<p class=\"muted\">Spool ", f);
		html_text(f, r->spool);
		fprintf(f, ": %s</p>", strerror(-r->spool_err));
	}
	html_chart(f, r);
	fputs("<table class=\"t\" style=\"margin-top:12px\"><tr><th>event / 事象</th><th>from → to</th>"
	      "<th class=\"r\">incidents</th><th class=\"r\">packets</th><th class=\"r\">kernel counter "
	      "(total)</th><th>top sources / 主な送信元</th></tr>\n", f);
	for (size_t i = 0; i < r->n_pairs; i++)
		pair_row(f, &r->pairs[i]);
	if (!r->n_pairs)
		fputs("<tr><td colspan=\"6\" class=\"muted\">no incidents</td></tr>", f);
	fputs("</table><p class=\"muted\">Incidents and packets: from the spool (", f);
	html_text(f, r->spool ? r->spool : "-");
	fprintf(f, ", %llu unreadable lines) within the period. Kernel counter: packets the pair's drop rules "
		"counted since the table was installed.</p></section>\n", (unsigned long long)r->spool_bad);
}

/* ---- 7, 8: loss and changes ---- */

static void kv_row(FILE *f, const char *k, uint64_t v, bool bad_if_nonzero)
{
	fprintf(f, "<tr><td>%s</td><td class=\"r\">%s%llu%s</td></tr>", k, bad_if_nonzero && v ?
		"<span class=\"pill p-bad\">" : "", (unsigned long long)v, bad_if_nonzero && v ? "</span>" : "");
}

static void html_loss(FILE *f, const struct seg_report *r)
{
	const struct seg_report_loss *l = &r->loss;

	section_head(f, SEG_RS_LOSS);
	if (!l->available) {
		fputs("<p><span class=\"pill p-na\">not available</span> ", f);
		html_text(f, l->error);
		fputs("</p></section>\n", f);
		return;
	}
	fputs("<table class=\"t\" style=\"max-width:520px\">", f);
	kv_row(f, "packets in incidents", l->packets_in_incidents, false);
	kv_row(f, "not sampled (sequence gaps + undecodable)", l->not_sampled, true);
	kv_row(f, "socket drops", l->socket_drops, true);
	kv_row(f, "journal entries sent", l->journal_sent, false);
	kv_row(f, "journal entries dropped", l->journal_dropped, true);
	kv_row(f, "spool lines written", l->spool_lines, false);
	kv_row(f, "spool lines dropped", l->spool_dropped, true);
	fputs("</table>", f);
	if (*l->degraded) {
		fputs("<p><span class=\"pill p-bad\">DEGRADED</span> ", f);
		html_text(f, l->degraded);
		fputs("</p>", f);
	}
	fputs("<p class=\"muted\">Counted by segd since it started.</p></section>\n", f);
}

static void html_changes(FILE *f, const struct seg_report *r)
{
	char t[64];

	section_head(f, SEG_RS_CHANGES);
	fprintf(f, "<p>%zu revision%s applied in the period (%zu kept in the state directory).</p>", r->n_revs,
		r->n_revs == 1 ? "" : "s", r->revs_total);
	if (r->n_revs) {
		fputs("<table class=\"t\"><tr><th>#</th><th>applied</th><th>how</th><th>uid</th><th>state</th>"
		      "<th>sha256</th><th>note</th></tr>", f);
		for (size_t i = 0; i < r->n_revs; i++) {
			const struct seg_revision *v = &r->revs[i];
			local_time(v->time * 1000000, t, sizeof(t));
			fprintf(f, "<tr><td>%u</td><td>%s</td><td>", v->number, t);
			html_text(f, v->how);
			fprintf(f, "</td><td>%u</td><td>%s</td><td class=\"mono\">%.16s…</td><td>", v->uid,
				seg_rev_state_name(v->state), v->sha256);
			html_text(f, v->why);
			fputs("</td></tr>", f);
		}
		fputs("</table>", f);
	}
	fprintf(f, "<p>%zu zone%s isolated now (緊急遮断).</p>", r->iso.n, r->iso.n == 1 ? "" : "s");
	for (size_t i = 0; i < r->iso.n; i++) {
		local_time(r->iso.v[i].time * 1000000, t, sizeof(t));
		fputs("<p><span class=\"pill p-bad\">isolated</span> <b>", f);
		html_text(f, r->iso.v[i].zone);
		fprintf(f, "</b> since %s by uid %u: ", t, r->iso.v[i].uid);
		html_text(f, r->iso.v[i].reason);
		fputs("</p>", f);
	}
	fputs("</section>\n", f);
}

/* ---- the page ---- */

static void page_header(FILE *f, const struct seg_report *r)
{
	char a[64], b[64], g[64];

	local_time(r->since_us, a, sizeof(a));
	local_time(r->until_us, b, sizeof(b));
	local_time(r->generated_us, g, sizeof(g));
	fputs("<header><h1>segd self-inspection report</h1><div class=\"ja\">自己点検報告 — 三層分離 "
	      "ネットワーク分離装置</div><table>", f);
	fputs("<tr><td>configuration</td><td><code>", f);
	html_text(f, r->config_file);
	fputs("</code></td></tr><tr><td>sha256</td><td><code>", f);
	html_text(f, *r->sha256 ? r->sha256 : "?");
	fprintf(f, "</code></td></tr><tr><td>period / 対象期間</td><td>%s — %s</td></tr>"
		"<tr><td>generated / 作成</td><td>%s</td></tr></table></header>\n", a, b, g);
}

void segctl_report_html(const struct seg_report *r, FILE *f)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	      "<title>segd self-inspection report / 自己点検報告</title><style>", f);
	fputs(css, f);
	fputs("</style></head><body><div class=\"page\">\n", f);
	page_header(f, r);
	summary(f, r);
	html_sync(f, r);
	html_model(f, r);
	if (r->cfg) {
		html_matrix(f, r);
		html_conduits(f, r);
	}
	html_incidents(f, r);
	html_loss(f, r);
	if (r->cfg)
		html_changes(f, r);
	fputs("<footer>segd — segctl report. Policy clauses: the city's information security basic policy "
	      "(情報セキュリティ基本方針); see docs/report.md.</footer></div></body></html>\n", f);
}
