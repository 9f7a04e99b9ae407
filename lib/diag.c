/* diag.c - collecting diagnostics without printing from library code. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "diag.h"

void seg_diags_init(struct seg_diags *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = strdup(file ? file : "<input>");
	if (!d->file)
		d->oom = 1;
}

void seg_diags_free(struct seg_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].msg);
	free(d->v);
	free(d->file);
	memset(d, 0, sizeof(*d));
}

static int diags_grow(struct seg_diags *d)
{
	if (d->n < d->cap)
		return 0;
	size_t cap = d->cap ? d->cap * 2 : 16;
	struct seg_diag *v = realloc(d->v, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->v = v;
	d->cap = cap;
	return 0;
}

void seg_diag(struct seg_diags *d, enum seg_severity sev, int line, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (sev == SEG_SEV_ERROR)
		d->n_errors++;
	else if (sev == SEG_SEV_WARNING)
		d->n_warnings++;
	va_start(ap, fmt);
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0 || diags_grow(d) < 0) {
		if (r >= 0)
			free(msg);
		d->oom = 1;
		return;
	}
	d->v[d->n++] = (struct seg_diag){ .sev = sev, .line = line, .check = d->check, .msg = msg };
}

const char *seg_severity_name(enum seg_severity sev)
{
	static const char *const names[] = { "error", "warning", "note" };
	return sev <= SEG_SEV_NOTE ? names[sev] : "?";
}

static int by_line(const void *a, const void *b, void *ctx)
{
	const struct seg_diag *v = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;

	if (v[i].line != v[j].line)
		return v[i].line < v[j].line ? -1 : 1;
	return i < j ? -1 : i > j; /* stable: insertion order within a line */
}

/* A message may quote what the file holds (a key, a name, a value): it goes
 * to a terminal, so it cannot carry an escape sequence there. */
static void print_one(const struct seg_diags *d, const struct seg_diag *x, FILE *f)
{
	seg_put_text(f, d->file, SEG_MEDIUM_TERMINAL);
	if (x->line > 0)
		fprintf(f, ":%d", x->line);
	fprintf(f, ": %s: ", seg_severity_name(x->sev));
	seg_put_text(f, x->msg, SEG_MEDIUM_TERMINAL);
	fputc('\n', f);
}

void seg_diags_print(const struct seg_diags *d, FILE *f)
{
	size_t *order = malloc((d->n + 1) * sizeof(*order));

	for (size_t i = 0; order && i < d->n; i++)
		order[i] = i;
	if (order)
		qsort_r(order, d->n, sizeof(*order), by_line, d->v);
	for (size_t i = 0; i < d->n; i++)
		print_one(d, &d->v[order ? order[i] : i], f);
	if (d->oom)
		fprintf(f, "%s: error: out of memory while collecting diagnostics; some are missing\n", d->file);
	free(order);
}
