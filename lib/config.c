/*
 * config.c - libconfig text -> struct seg_config, with a diagnostic for every
 * problem of form (unknown keys, wrong types, bad values, unknown zones).
 * The rules of the model are in validate.c.
 *
 * This is the only file that includes libconfig. Before libconfig sees the
 * text, a scan refuses what libconfig 1.5 would silently get wrong: integer
 * literals that it wraps modulo 2^32, @include (it follows any path), NUL
 * bytes, and nesting deep enough to exhaust its recursive parser.
 */
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "addr.h"
#include "config.h"

#define MAX_FILE_SIZE (64u << 20)
#define MAX_DEPTH     16

struct ctx {
	struct seg_diags *d;
	struct seg_config *cfg;
	const char *text;         /* what libconfig parsed, for the lines of array entries */
	size_t len;
	size_t *marks;            /* offset of line 1 + k * MARK_EVERY, built when first needed */
	size_t n_marks;
};

#define ERR(c, line, ...) seg_diag((c)->d, SEG_SEV_ERROR, (line), __VA_ARGS__)

static int line_of(const config_setting_t *s)
{
	return (int)config_setting_source_line(s);
}

/* ---- what libconfig must not see ---- */

struct scan {
	const char *p, *end;
	int line, depth;
	size_t fatal;     /* errors that libconfig must not see: NUL, @include, depth */
	struct ctx *c;
};

static void scan_number(struct scan *s)
{
	const char *start = s->p;
	unsigned long long v;
	char *e;

	errno = 0;
	v = strtoull(start, &e, 0);
	if (e == start) {
		s->p++;
		return;
	}
	bool is_long = e < s->end && (*e == 'L' || *e == 'l');
	/* a float ("1.5", "1e3") is not an integer literal: leave it to libconfig */
	if (e < s->end && (*e == '.' || *e == 'e' || *e == 'E')) {
		s->p = e + 1;
		return;
	}
	if (!is_long && (errno == ERANGE || v > 0x7fffffffULL))
		ERR(s->c, s->line, "number '%.*s' is too large (libconfig would silently wrap it) — "
		    "use a value below 2147483648", (int)(e - start > 24 ? 24 : e - start), start);
	s->p = e;
}

static void scan_skip_string(struct scan *s)
{
	for (s->p++; s->p < s->end && *s->p != '"'; s->p++) {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		else if (*s->p == '\n')
			s->line++;
	}
	s->p++;
}

static void scan_skip_comment(struct scan *s)
{
	if (*s->p == '#' || s->p[1] == '/') {
		while (s->p < s->end && *s->p != '\n')
			s->p++;
		return;
	}
	for (s->p += 2; s->p + 1 < s->end && !(s->p[0] == '*' && s->p[1] == '/'); s->p++)
		if (*s->p == '\n')
			s->line++;
	s->p += 2;
}

static void scan_nesting(struct scan *s, char ch)
{
	if (ch == '(' || ch == '[' || ch == '{') {
		if (++s->depth == MAX_DEPTH + 1 && ++s->fatal)
			ERR(s->c, s->line, "nesting deeper than %d levels — segd's configuration needs at "
			    "most 3 (groups in a list in a group)", MAX_DEPTH);
	} else if (s->depth > 0) {
		s->depth--;
	}
}

static void scan_line_start(struct scan *s)
{
	const char *q = s->p;

	while (q < s->end && (*q == ' ' || *q == '\t'))
		q++;
	if (s->end - q >= 8 && strncmp(q, "@include", 8) == 0 && ++s->fatal)
		ERR(s->c, s->line, "'@include' is not allowed — put the whole configuration in one "
		    "file, so that what is checked is what is installed");
}

/* Returns the number of errors that forbid handing the text to libconfig;
 * too-large numbers are reported but parsing goes on, to find more errors. */
static size_t scan_text(struct ctx *c, const char *text, size_t len)
{
	struct scan s = { .p = text, .end = text + len, .line = 1, .c = c };
	const char *nul = memchr(text, '\0', len);

	/* libconfig stops reading at a NUL: inside a comment or a string, the
	 * rest of the file would silently vanish */
	if (nul) {
		int line = 1;
		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		ERR(c, line, "NUL byte in the file — this is not a text file; check that the right file "
		    "was given");
		return 1;
	}
	scan_line_start(&s);
	while (s.p < s.end) {
		char ch = *s.p;
		if (ch == '\n') {
			s.line++;
			s.p++;
			scan_line_start(&s);
		} else if (ch == '"') {
			scan_skip_string(&s);
		} else if (ch == '#' || (ch == '/' && s.p + 1 < s.end && (s.p[1] == '/' || s.p[1] == '*'))) {
			scan_skip_comment(&s);
		} else if ((ch >= '0' && ch <= '9') &&
			   (s.p == text || !(((s.p[-1] | 0x20) >= 'a' && (s.p[-1] | 0x20) <= 'z') ||
					     s.p[-1] == '_' || s.p[-1] == '.' || (s.p[-1] >= '0' && s.p[-1] <= '9')))) {
			scan_number(&s);
		} else {
			if (ch == '(' || ch == '[' || ch == '{' || ch == ')' || ch == ']' || ch == '}')
				scan_nesting(&s, ch);
			s.p++;
		}
	}
	return s.fatal;
}

/* ---- the real line of an array entry ----
 *
 * libconfig 1.5 gives a scalar in an array the line of the token after it
 * (the ',' or the closing ']'), so in a multi-line array the last entry
 * points at the ']' line, and an entry followed by a ',' on the next line at
 * that line. A setting's own line is that of its name. So the text is read
 * again from the array's name: the first token of each entry is its line.
 * Every entry's following token must be on the line libconfig reported, or
 * libconfig's lines are kept. */

#define MARK_EVERY 64

struct lex {
	const char *p, *end;
	int line;
};

static void lex_skip(struct lex *x)
{
	while (x->p < x->end) {
		char ch = *x->p;
		if (ch == '\n') {
			x->line++;
			x->p++;
		} else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v') {
			x->p++;
		} else if (ch == '#' || (ch == '/' && x->p + 1 < x->end && x->p[1] == '/')) {
			while (x->p < x->end && *x->p != '\n')
				x->p++;
		} else if (ch == '/' && x->p + 1 < x->end && x->p[1] == '*') {
			for (x->p += 2; x->p < x->end && !(x->p[0] == '*' && x->p + 1 < x->end && x->p[1] == '/'); x->p++)
				x->line += *x->p == '\n';
			x->p = x->p + 2 < x->end ? x->p + 2 : x->end;
		} else {
			return;
		}
	}
}

static bool is_word_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '_' || ch == '-' || ch == '*' || ch == '.' || ch == '+';
}

/* The next token: *start and its length; returns its first character, or 0
 * at the end. A string literal is one token (its escapes skipped). */
static char lex_next(struct lex *x, const char **start, size_t *len, int *line)
{
	lex_skip(x);
	if (x->p >= x->end)
		return 0;
	*start = x->p;
	*line = x->line;
	if (*x->p == '"') {
		for (x->p++; x->p < x->end && *x->p != '"'; x->p++) {
			if (*x->p == '\\' && x->p + 1 < x->end)
				x->p++;
			x->line += *x->p == '\n';
		}
		x->p += x->p < x->end;
	} else if (is_word_char(*x->p)) {
		while (x->p < x->end && is_word_char(*x->p))
			x->p++;
	} else {
		x->p++;
	}
	*len = (size_t)(x->p - *start);
	return **start;
}

/* Positions x at the start of line 'line' (1-based); false past the end. */
static bool seek_line(struct ctx *c, struct lex *x, int line)
{
	if (!c->marks) {
		size_t cap = c->len / MARK_EVERY + 2, lines = 0;
		if (!(c->marks = malloc(cap * sizeof(size_t))))
			return false;
		for (size_t i = 0; i <= c->len && c->n_marks < cap; i++)
			if (i == 0 || c->text[i - 1] == '\n')
				if (lines++ % MARK_EVERY == 0)
					c->marks[c->n_marks++] = i;
	}
	size_t k = (size_t)(line - 1) / MARK_EVERY;
	if (line < 1 || k >= c->n_marks)
		return false;
	*x = (struct lex){ .p = c->text + c->marks[k], .end = c->text + c->len, .line = (int)(k * MARK_EVERY) + 1 };
	while (x->line < line && x->p < x->end)
		x->line += *x->p++ == '\n';
	return x->line == line;
}

static bool is_close(char t)
{
	return t == ']' || t == ')';
}

/* After the opening bracket: the first line of each of the n entries, each
 * checked against libconfig's line: for a string, that of the token that
 * follows it (adjacent strings are one value, so its parser looks ahead); for
 * another scalar, its own. */
static bool match_entries(struct lex *x, const config_setting_t *s, const int *reported, int n, int *lines)
{
	const char *tok;
	size_t len;
	int line;

	for (int i = 0; i < n; i++) {
		char t = lex_next(x, &tok, &len, &line);
		if (t == 0 || t == ',' || is_close(t))
			return false;
		lines[i] = line;
		for (int depth = 0; t && !(depth == 0 && (t == ',' || is_close(t)));) {
			t = lex_next(x, &tok, &len, &line);
			depth += (t == '[' || t == '(' || t == '{') - (depth > 0 && (is_close(t) || t == '}'));
		}
		bool str = config_setting_type(config_setting_get_elem(s, (unsigned)i)) == CONFIG_TYPE_STRING;
		if (t == 0 || (str ? line : lines[i]) != reported[i] || (i < n - 1 && t != ','))
			return false;
	}
	return true;
}

/* Finds "NAME =|: [|(" starting on the array's line and matches its entries. */
static bool find_entry_lines(struct ctx *c, const config_setting_t *s, const int *reported, int n, int *lines)
{
	const char *name = config_setting_name(s), *tok;
	size_t nlen = name ? strlen(name) : 0, len;
	struct lex x;
	int line;

	if (!name || !c->text || !seek_line(c, &x, line_of(s)))
		return false;
	for (char t; (t = lex_next(&x, &tok, &len, &line)) && line == line_of(s);) {
		if (t == '"' || len != nlen || strncmp(tok, name, nlen) != 0)
			continue;
		struct lex at = x;
		t = lex_next(&at, &tok, &len, &line);
		if ((t != '=' && t != ':') || !(t = lex_next(&at, &tok, &len, &line)) || (t != '[' && t != '('))
			continue;
		if (match_entries(&at, s, reported, n, lines))
			return true;
	}
	return false;
}

/* lines[i] = the line of entry i of array s (n entries). */
static void entry_lines(struct ctx *c, const config_setting_t *s, int n, int *lines)
{
	bool one_line = true;

	for (int i = 0; i < n; i++) {
		lines[i] = line_of(config_setting_get_elem(s, (unsigned)i));
		one_line &= lines[i] == line_of(s);
	}
	if (one_line || n == 0)
		return;   /* the name, each entry and the token after it share a line */
	int *found = malloc((size_t)n * sizeof(int));
	if (found && find_entry_lines(c, s, lines, n, found))
		memcpy(lines, found, (size_t)n * sizeof(int));
	free(found);
}

/* ---- typed access with diagnostics ---- */

/* Levenshtein distance, for "did you mean" (short keys only). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), prev[33], cur[33];

	if (la > 32 || lb > 32)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(size_t));
	}
	return prev[lb];
}

static const char *closest(const char *name, const char *const *known)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (; *known; known++) {
		size_t dist = edit_distance(name, *known);
		if (dist < best_d) {
			best_d = dist;
			best = *known;
		}
	}
	return best;
}

static void list_known(char *buf, size_t len, const char *const *known)
{
	size_t off = 0;

	buf[0] = '\0';
	for (; *known && off < len; known++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "", *known);
}

/* Every member of group g must be one of known. */
static void check_keys(struct ctx *c, const config_setting_t *g, const char *what,
		       const char *const *known)
{
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k;

		for (k = 0; known[k] && strcmp(known[k], name) != 0; k++)
			;
		if (known[k])
			continue;
		const char *guess = closest(name, known);
		char all[256];
		list_known(all, sizeof(all), known);
		if (guess)
			ERR(c, line_of(m), "%s: unknown key '%s' — did you mean '%s'?", what, name, guess);
		else
			ERR(c, line_of(m), "%s: unknown key '%s' — known keys are: %s", what, name, all);
	}
}

static const char *type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP: return "a group { ... }";
	case CONFIG_TYPE_INT: case CONFIG_TYPE_INT64: return "a number";
	case CONFIG_TYPE_FLOAT: return "a decimal number";
	case CONFIG_TYPE_STRING: return "a string";
	case CONFIG_TYPE_BOOL: return "a boolean";
	case CONFIG_TYPE_ARRAY: return "an array [ ... ]";
	case CONFIG_TYPE_LIST: return "a list ( ... )";
	default: return "something else";
	}
}

static bool want_type(struct ctx *c, const config_setting_t *s, const char *what,
		      const char *key, int type, const char *example)
{
	int t = config_setting_type(s);

	if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return true;
	ERR(c, line_of(s), "%s: '%s' must be %s, not %s — write e.g. %s = %s;", what, key,
	    type_name(type), type_name(t), key, example);
	return false;
}

/* Strings go into diagnostics, JSON and the journal: they must be UTF-8. A
 * file saved as Shift_JIS or EUC-JP is the usual cause. */
static bool utf8_valid(const unsigned char *p)
{
	while (*p) {
		size_t n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 :
			   (*p & 0xf8) == 0xf0 ? 3 : 4;
		if (n == 4 || (n == 1 && *p < 0xc2) || (n == 3 && *p > 0xf4))
			return false;
		for (size_t i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return false;
		/* overlong 3- and 4-byte forms, UTF-16 surrogates, beyond U+10FFFF */
		if ((n == 2 && ((*p == 0xe0 && p[1] < 0xa0) || (*p == 0xed && p[1] >= 0xa0))) ||
		    (n == 3 && ((*p == 0xf0 && p[1] < 0x90) || (*p == 0xf4 && p[1] >= 0x90))))
			return false;
		p += n + 1;
	}
	return true;
}

/* The string value of s, or NULL (reported on 'line') when it is not UTF-8. */
static const char *get_text_at(struct ctx *c, const config_setting_t *s, int line, const char *what,
			       const char *key)
{
	const char *v = config_setting_get_string(s);

	if (utf8_valid((const unsigned char *)v))
		return v;
	ERR(c, line, "%s: '%s' is not valid UTF-8 — save the file as UTF-8 (convert Shift_JIS or "
	    "EUC-JP text, e.g. with iconv -f SHIFT_JIS -t UTF-8)", what, key);
	return NULL;
}

static const char *get_text(struct ctx *c, const config_setting_t *s, const char *what, const char *key)
{
	return get_text_at(c, s, line_of(s), what, key);
}

/* Copies a string member; *out stays NULL when absent. Returns false on error. */
static bool get_string(struct ctx *c, const config_setting_t *g, const char *what,
		       const char *key, char **out, size_t max)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (!s)
		return true;
	if (!want_type(c, s, what, key, CONFIG_TYPE_STRING, "\"...\""))
		return false;
	const char *v = get_text(c, s, what, key);
	if (!v)
		return false;
	if (strlen(v) > max) {
		ERR(c, line_of(s), "%s: '%s' is longer than %zu characters — shorten it", what, key, max);
		return false;
	}
	*out = strdup(v);
	if (!*out)
		c->d->oom = 1;
	return *out != NULL;
}

static bool get_int(struct ctx *c, const config_setting_t *g, const char *what, const char *key,
		    long long lo, long long hi, long long *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (!s)
		return true;
	if (!want_type(c, s, what, key, CONFIG_TYPE_INT, "7"))
		return false;
	long long v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		ERR(c, line_of(s), "%s: '%s' = %lld is out of range — use a value from %lld to %lld",
		    what, key, v, lo, hi);
		return false;
	}
	*out = v;
	return true;
}

static bool get_bool(struct ctx *c, const config_setting_t *g, const char *what, const char *key, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (!s)
		return true;
	if (!want_type(c, s, what, key, CONFIG_TYPE_BOOL, "true"))
		return false;
	*out = config_setting_get_bool(s) != 0;
	return true;
}

/* Iterates an array or list of strings: fn(c, elem_string, line, ctx) per element.
 * Returns the element count, or -1 when the setting is of the wrong shape. */
typedef void (*string_fn)(struct ctx *c, const char *v, int line, void *arg);

static long for_each_string(struct ctx *c, const config_setting_t *s, const char *what,
			    const char *key, size_t max, string_fn fn, void *arg)
{
	int t = config_setting_type(s);

	if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
		ERR(c, line_of(s), "%s: '%s' must be an array of strings, not %s — write e.g. %s = [ \"...\" ];",
		    what, key, type_name(t), key);
		return -1;
	}
	int n = config_setting_length(s);
	if (n == 0) {
		ERR(c, line_of(s), "%s: '%s' is empty — list at least one entry, or omit '%s' where that is allowed",
		    what, key, key);
		return -1;
	}
	if ((size_t)n > max) {
		ERR(c, line_of(s), "%s: '%s' has %d entries, more than the limit of %zu — split it", what, key, n, max);
		return -1;
	}
	int *lines = malloc((size_t)n * sizeof(int));
	if (!lines) {
		c->d->oom = 1;
		return -1;
	}
	entry_lines(c, s, n, lines);
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			ERR(c, lines[i], "%s: '%s' entry %d must be a string in double quotes, not %s — "
			    "write e.g. %s = [ \"...\" ];", what, key, i + 1, type_name(config_setting_type(e)), key);
			continue;
		}
		const char *v = get_text_at(c, e, lines[i], what, key);
		if (v)
			fn(c, v, lines[i], arg);
	}
	free(lines);
	return n;
}

/* ---- typed arrays ---- */

struct vec {
	void *v;
	size_t n, cap, size;
	const char *what, *key;
};

/* Grows geometrically: one realloc per entry copied 200,000 sources over and
 * over where realloc cannot grow in place (ASan's never does). */
static void *vec_push(struct ctx *c, struct vec *vec)
{
	if (vec->n == vec->cap) {
		size_t cap = vec->cap ? 2 * vec->cap : 4;
		void *p = realloc(vec->v, cap * vec->size);
		if (!p) {
			c->d->oom = 1;
			return NULL;
		}
		vec->v = p;
		vec->cap = cap;
	}
	return (char *)vec->v + vec->n++ * vec->size;
}

static void push_prefix(struct ctx *c, const char *v, int line, void *arg)
{
	struct vec *vec = arg;
	struct seg_prefix p;
	const char *why, *at = strchr(v, '@');
	char addr[128];
	bool endpoint = at && strcmp(vec->key, "networks") != 0 && (size_t)(at - v) < sizeof(addr);

	if (endpoint) {   /* host@MAC */
		memcpy(addr, v, (size_t)(at - v));
		addr[at - v] = '\0';
	}
	if (seg_prefix_parse(endpoint ? addr : v, &p, &why) < 0) {
		ERR(c, line, "%s: %s '%s': %s", vec->what, vec->key, v, why);
		return;
	}
	if (endpoint && seg_mac_parse(at + 1, p.mac, &why) < 0) {
		ERR(c, line, "%s: %s '%s': %s", vec->what, vec->key, v, why);
		return;
	}
	p.has_mac = endpoint;
	p.line = line;
	struct seg_prefix *slot = vec_push(c, vec);
	if (slot)
		*slot = p;
}

static void push_service(struct ctx *c, const char *v, int line, void *arg)
{
	struct vec *vec = arg;
	struct seg_service s;
	const char *why;

	if (seg_service_parse(v, &s, &why) < 0) {
		ERR(c, line, "%s: service '%s': %s", vec->what, v, why);
		return;
	}
	s.line = line;
	struct seg_service *slot = vec_push(c, vec);
	if (slot)
		*slot = s;
}

static void push_ifname(struct ctx *c, const char *v, int line, void *arg)
{
	struct vec *vec = arg;
	const char *why;

	if (!seg_ifname_valid(v, &why)) {
		ERR(c, line, "%s: interface '%s' is a name Linux refuses: %s", vec->what, v, why);
		return;
	}
	if (!seg_ifname_plain(v, &why)) {
		char shown[4 * SEG_IFNAMSIZ + 1];
		seg_text_escape(v, shown, sizeof(shown));
		c->d->check = SEG_CHECK_ZONES;
		ERR(c, line, "%s: interface '%s' is refused: %s", vec->what, shown, why);
		c->d->check = SEG_CHECK_FORM;
		return;
	}
	char **slot = vec_push(c, vec);
	if (slot && !(*slot = strdup(v))) {
		vec->n--;
		c->d->oom = 1;
	}
}

/* Reads an optional list member into a vector; returns whether it was present. */
static bool get_list(struct ctx *c, const config_setting_t *g, const char *what, const char *key,
		     size_t size, size_t max, string_fn fn, void **out, size_t *n_out)
{
	const config_setting_t *s = config_setting_get_member(g, key);
	struct vec vec = { .size = size, .what = what, .key = key };

	if (!s)
		return false;
	for_each_string(c, s, what, key, max, fn, &vec);
	*out = vec.v;
	*n_out = vec.n;
	return true;
}

/* ---- kinds ---- */

static int parse_kind(struct ctx *c, const config_setting_t *g, const char *what,
		      const char *const *names, size_t count, const char *examples)
{
	const config_setting_t *s = config_setting_get_member(g, "kind");

	if (!s) {
		ERR(c, line_of(g), "%s: 'kind' is missing — add kind = \"...\"; (one of %s)", what, examples);
		return -1;
	}
	if (!want_type(c, s, what, "kind", CONFIG_TYPE_STRING, "\"lgwan\""))
		return -1;
	const char *v = get_text(c, s, what, "kind");
	if (!v)
		return -1;
	for (size_t i = 0; i < count; i++)
		if (strcmp(v, names[i]) == 0)
			return (int)i;
	ERR(c, line_of(s), "%s: unknown kind '%s' — use one of %s", what, v, examples);
	return -1;
}

static void describe(char *buf, size_t len, const char *type, const char *name, int index)
{
	if (name)
		snprintf(buf, len, "%s '%s'", type, name);
	else
		snprintf(buf, len, "%s #%d", type, index + 1);
}

static bool get_name(struct ctx *c, const config_setting_t *g, const char *type, int index, char **out)
{
	char what[64];
	const char *why;

	describe(what, sizeof(what), type, NULL, index);
	if (!config_setting_get_member(g, "name")) {
		ERR(c, line_of(g), "%s: 'name' is missing — add name = \"...\";", what);
		return false;
	}
	if (!get_string(c, g, what, "name", out, 256))
		return false;
	if (!seg_name_valid(*out, &why)) {
		ERR(c, line_of(config_setting_get_member(g, "name")), "%s: name '%s' is not allowed: %s",
		    what, *out, why);
		return false;
	}
	return true;
}

/* ---- zones ---- */

static const char *const zone_keys[] = { "name", "kind", "interfaces", "networks", "gateway_services",
	"link_services", NULL };
static const char *const zone_kind_names[] = { "mynumber", "lgwan", "internet", "external" };

static void mark_catchall(struct seg_zone *z)
{
	for (size_t i = 0; i < z->n_nets; i++)
		if (z->nets[i].len == 0) {
			if (z->nets[i].family == AF_INET)
				z->catchall4 = true;
			else
				z->catchall6 = true;
		}
}

static void parse_zone(struct ctx *c, const config_setting_t *g, int index, struct seg_zone *z)
{
	char what[64];
	void *v;
	size_t n;

	z->line = line_of(g);
	get_name(c, g, "zone", index, &z->name);
	describe(what, sizeof(what), "zone", z->name, index);
	check_keys(c, g, what, zone_keys);
	if (z->name && strcmp(z->name, SEG_GATEWAY_NAME) == 0)
		ERR(c, z->line, "%s: the name '%s' is reserved for the gateway itself (conduits from = \"%s\" say "
		    "what it may send) — give the zone another name", what, SEG_GATEWAY_NAME, SEG_GATEWAY_NAME);
	int k = parse_kind(c, g, what, zone_kind_names, SEG_ZONE_GATEWAY,
			   "mynumber, lgwan, internet, external");
	z->kind = k < 0 ? SEG_ZONE_KIND_COUNT : (enum seg_zone_kind)k;
	if (get_list(c, g, what, "interfaces", sizeof(char *), SEG_MAX_IFACES, push_ifname, &v, &n)) {
		z->ifaces = v;
		z->n_ifaces = n;
	} else {
		ERR(c, z->line, "%s: 'interfaces' is missing — list the gateway's interfaces in this zone, "
		    "e.g. interfaces = [ \"eth1\" ];", what);
	}
	if (get_list(c, g, what, "networks", sizeof(struct seg_prefix), SEG_MAX_NETWORKS, push_prefix, &v, &n)) {
		z->nets = v;
		z->n_nets = n;
		mark_catchall(z);
	} else if (z->kind == SEG_ZONE_EXTERNAL) {
		z->catchall4 = z->catchall6 = true;
	} else if (k >= 0) {
		ERR(c, z->line, "%s: 'networks' is missing — only external zones may omit it; list the "
		    "zone's networks, e.g. networks = [ \"10.20.0.0/24\" ];", what);
	}
	if (get_list(c, g, what, "gateway_services", sizeof(struct seg_service), 64, push_service, &v, &n)) {
		z->gw_services = v;
		z->n_gw_services = n;
	}
	if (get_list(c, g, what, "link_services", sizeof(struct seg_service), 64, push_service, &v, &n)) {
		z->link_services = v;
		z->n_link_services = n;
	}
}

/* The gateway as a party: appended once after the declared zones (room for
 * it is allocated with them), named by the first conduit from it. */
static int gateway_zone(struct ctx *c, int line)
{
	int g = seg_gateway_zone(c->cfg);

	if (g >= 0)
		return g;
	struct seg_zone *z = &c->cfg->zones[c->cfg->n_zones];
	memset(z, 0, sizeof(*z));
	z->kind = SEG_ZONE_GATEWAY;
	z->line = line;
	if (!(z->name = strdup(SEG_GATEWAY_NAME))) {
		c->d->oom = 1;
		return -1;
	}
	return (int)c->cfg->n_zones++;
}

/* ---- conduits ---- */

static const char *const conduit_keys[] = { "name", "kind", "from", "to", "sources", "destinations",
	"services", "approval", "expires", "comment", NULL };
static const char *const conduit_kind_names[] = { "specific", "sanitize", "screen", "egress" };

static bool get_zone_ref(struct ctx *c, const config_setting_t *g, const char *what,
			 const char *key, size_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, key);

	if (!s) {
		ERR(c, line_of(g), "%s: '%s' is missing — add %s = \"<zone name>\";", what, key, key);
		return false;
	}
	if (!want_type(c, s, what, key, CONFIG_TYPE_STRING, "\"lgwan\""))
		return false;
	const char *v = get_text(c, s, what, key);
	if (!v)
		return false;
	int z = seg_zone_find(c->cfg, v);
	if (z < 0 && strcmp(v, SEG_GATEWAY_NAME) == 0 && c->cfg->zones) {
		if (strcmp(key, "to") == 0) {
			ERR(c, line_of(s), "%s: to = \"%s\": what reaches the gateway itself is said by the zone's "
			    "gateway_services (and link_services), not by a conduit — list the service there", what,
			    SEG_GATEWAY_NAME);
			return false;
		}
		z = gateway_zone(c, line_of(s));
	}
	if (z < 0) {
		const char *names[SEG_MAX_ZONES + 1];
		size_t n = 0;
		for (size_t i = 0; i < c->cfg->n_zones && n < SEG_MAX_ZONES; i++)
			if (c->cfg->zones[i].name)
				names[n++] = c->cfg->zones[i].name;
		names[n] = NULL;
		const char *guess = closest(v, names);
		if (guess)
			ERR(c, line_of(s), "%s: %s zone '%s' is not defined — did you mean '%s'?", what, key, v, guess);
		else
			ERR(c, line_of(s), "%s: %s zone '%s' is not defined — use the name of a zone in 'zones'",
			    what, key, v);
		return false;
	}
	*out = (size_t)z;
	return true;
}

/* A present but unusable 'expires' (wrong type, not a date) is reported here
 * once; the conduit keeps a non-NULL expires with expires_day -1 so that the
 * model's rule 4 does not also call it missing. */
static void parse_expires(struct ctx *c, const config_setting_t *g, const char *what, struct seg_conduit *cd)
{
	const config_setting_t *s = config_setting_get_member(g, "expires");
	const char *why;

	cd->expires_day = -1;
	if (!s)
		return;
	if (!get_string(c, g, what, "expires", &cd->expires, 64)) {
		if (!cd->expires && !(cd->expires = strdup("")))
			c->d->oom = 1;
		return;
	}
	if (seg_date_parse(cd->expires, &cd->expires_day, &why) < 0) {
		ERR(c, line_of(s), "%s: expires '%s': %s", what, cd->expires, why);
		cd->expires_day = -1;
	}
}

/* Like expires: a key that is present but unreadable becomes "" here, so
 * that validation's "missing" means absent and each problem is said once. */
static void parse_approval(struct ctx *c, const config_setting_t *g, const char *what, struct seg_conduit *cd)
{
	const config_setting_t *s = config_setting_get_member(g, "approval");

	if (!s)
		return;
	if (!get_string(c, g, what, "approval", &cd->approval, SEG_MAX_TEXT)) {
		if (!cd->approval && !(cd->approval = strdup("")))
			c->d->oom = 1;
		return;
	}
	const char *why;
	if (!*cd->approval)
		ERR(c, line_of(s), "%s: 'approval' is empty — write the reference of its approval, e.g. "
		    "approval = \"R8-DX-014\"; (rule 4)", what);
	else if (seg_text_check(cd->approval, true, &why) < 0) {
		c->d->check = SEG_CHECK_APPROVAL;
		ERR(c, line_of(s), "%s: 'approval' %s (rule 4)", what, why);
		c->d->check = SEG_CHECK_FORM;
	}
}

static void parse_conduit(struct ctx *c, const config_setting_t *g, int index, struct seg_conduit *cd)
{
	char what[64];
	void *v;
	size_t n;

	cd->line = line_of(g);
	cd->expires_day = -1;
	get_name(c, g, "conduit", index, &cd->name);
	describe(what, sizeof(what), "conduit", cd->name, index);
	check_keys(c, g, what, conduit_keys);
	int k = parse_kind(c, g, what, conduit_kind_names, SEG_CONDUIT_KIND_COUNT,
			   "specific, sanitize, screen, egress");
	cd->kind = k < 0 ? SEG_CONDUIT_KIND_COUNT : (enum seg_conduit_kind)k;
	bool ok_from = get_zone_ref(c, g, what, "from", &cd->from);
	bool ok_to = get_zone_ref(c, g, what, "to", &cd->to);
	if (!ok_from || !ok_to)
		cd->from = cd->to = (size_t)-1;
	if (get_list(c, g, what, "sources", sizeof(struct seg_prefix), SEG_MAX_ENTRIES, push_prefix, &v, &n)) {
		cd->srcs = v;
		cd->n_srcs = n;
		cd->srcs_given = true;
	}
	if (get_list(c, g, what, "destinations", sizeof(struct seg_prefix), SEG_MAX_ENTRIES, push_prefix, &v, &n)) {
		cd->dsts = v;
		cd->n_dsts = n;
		cd->dsts_given = true;
	}
	if (get_list(c, g, what, "services", sizeof(struct seg_service), SEG_MAX_ENTRIES, push_service, &v, &n)) {
		cd->services = v;
		cd->n_services = n;
	} else {
		ERR(c, cd->line, "%s: 'services' is missing — name what may cross, e.g. services = [ \"tcp/443\" ]; "
		    "(\"any\" must be written out)", what);
	}
	parse_approval(c, g, what, cd);
	parse_expires(c, g, what, cd);
	const char *why;
	if (get_string(c, g, what, "comment", &cd->comment, SEG_MAX_TEXT) && cd->comment &&
	    seg_text_check(cd->comment, false, &why) < 0) {
		c->d->check = SEG_CHECK_APPROVAL;
		ERR(c, line_of(config_setting_get_member(g, "comment")), "%s: 'comment' %s", what, why);
		c->d->check = SEG_CHECK_FORM;
	}
}

/* ---- settings ---- */

static const char *const settings_keys[] = { "table", "log_group", "incident_window", "spool",
	"control_socket", "control_group", "state_dir", "max_hosts", "max_ports", "max_validity", "max_elements", "screen_to_mynumber", "require_mac_for_mynumber",
	"gateway_addresses", "management_interfaces", NULL };

/* Words that nft 1.0.6 (Debian 12) refuses as an unquoted table name in
 * `table inet NAME` (each was tried with nft -c -f): `segctl rules` prints the
 * table unquoted, so these are refused. Sorted for bsearch. */
static const char *const nft_keywords[] = {
	"accept", "add", "ah", "all", "arp", "auto-merge", "bridge", "cgroup", "chain", "comment", "comp",
	"constant", "continue", "counter", "cpu", "create", "ct", "day", "dccp", "define", "delete",
	"describe", "device", "devices", "dnat", "drop", "dst", "dup", "dynamic", "ecn", "element",
	"elements", "esp", "ether", "exists", "expires", "export", "exthdr", "fib", "flags", "flow",
	"flowtable", "flush", "frag", "fwd", "gc-interval", "get", "goto", "handle", "hbh", "hook",
	"hour", "ibriport", "ibrname", "icmp", "icmpv6", "igmp", "iif", "iifgroup", "iifname", "iiftype",
	"import", "include", "index", "inet", "insert", "interval", "ip", "ip6", "ipsec", "jhash", "jump",
	"limit", "list", "log", "map", "mark", "masquerade", "meta", "meter", "mh", "missing", "monitor",
	"netdev", "nftrace", "notrack", "numgen", "obriport", "obrname", "offload", "oif", "oifgroup",
	"oifname", "oiftype", "osf", "pkttype", "policy", "position", "priority", "queue", "quota",
	"random", "redefine", "redirect", "reject", "rename", "replace", "reset", "return", "rt", "rt0",
	"rt2", "rtclassid", "rule", "ruleset", "sctp", "secmark", "set", "size", "skgid", "skuid", "snat",
	"socket", "srh", "symhash", "synproxy", "table", "tcp", "th", "time", "timeout", "tproxy", "type",
	"typeof", "udp", "udplite", "undefine", "update", "vlan", "vmap", "xt",
};

/* Tables that belong to someone else: the host's own firewall (Debian's
 * /etc/nftables.conf is 'table inet filter'), iptables-nft, firewalld,
 * container and VM managers. segd deletes and recreates its table on every
 * apply, so taking one of these would wipe their rules. */
static const char *const foreign_tables[] = {
	"filter", "nat", "mangle", "raw", "security", "firewalld", "docker", "libvirt", "libvirt_network",
	"ufw", "lxd", "incus", "netavark", NULL
};

static int by_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* settings.table: a name nft accepts unquoted, and segd's own. */
static void check_table(struct ctx *c, const config_setting_t *g, const char *t)
{
	int line = line_of(config_setting_get_member(g, "table"));
	const char *why;

	if (!seg_name_valid(t, &why))
		ERR(c, line, "settings: table '%s' is not allowed: 1-31 characters of a-z, 0-9, '-' and '_', "
		    "starting with a letter — write e.g. table = \"segd\";", t);
	else if (bsearch(&t, nft_keywords, sizeof(nft_keywords) / sizeof(nft_keywords[0]),
			 sizeof(nft_keywords[0]), by_str))
		ERR(c, line, "settings: table '%s' is an nft keyword, which nft -f refuses as a table name — "
		    "choose another name, e.g. table = \"segd\";", t);
	else if (in_list(t, foreign_tables))
		ERR(c, line, "settings: table '%s' is the table of another program or of the host's firewall — "
		    "segd replaces its table on every apply, so it must have a table of its own, e.g. "
		    "table = \"segd\";", t);
}

static bool set_default(struct ctx *c, char **slot, const char *v)
{
	if (*slot)
		return true;
	*slot = strdup(v);
	if (!*slot)
		c->d->oom = 1;
	return *slot != NULL;
}

/* A settings count from 1 to hi; *out keeps its default when absent or wrong. */
static void get_u32(struct ctx *c, const config_setting_t *g, const char *key, long long hi, uint32_t *out)
{
	long long v = *out;

	if (get_int(c, g, "settings", key, 1, hi, &v))
		*out = (uint32_t)v;
}

static void parse_settings(struct ctx *c, const config_setting_t *g)
{
	struct seg_settings *s = &c->cfg->settings;
	long long v;

	s->log_group = 7;
	s->incident_window = 60;
	s->max_hosts = SEG_DEFAULT_MAX_HOSTS;
	s->max_ports = SEG_DEFAULT_MAX_PORTS;
	s->max_validity = SEG_DEFAULT_MAX_VALIDITY;
	s->max_elements = SEG_DEFAULT_MAX_ELEMENTS;
	if (g) {
		s->line = line_of(g);
		check_keys(c, g, "settings", settings_keys);
		if (get_string(c, g, "settings", "table", &s->table, SEG_MAX_NAME) && s->table)
			check_table(c, g, s->table);
		v = s->log_group;
		if (get_int(c, g, "settings", "log_group", 0, 65535, &v))
			s->log_group = (uint16_t)v;
		get_u32(c, g, "incident_window", 86400, &s->incident_window);
		get_u32(c, g, "max_hosts", SEG_MAX_ENTRIES, &s->max_hosts);
		get_u32(c, g, "max_ports", 65535, &s->max_ports);
		get_u32(c, g, "max_validity", 3660, &s->max_validity);
		get_u32(c, g, "max_elements", SEG_MAX_MAX_ELEMENTS, &s->max_elements);
		get_bool(c, g, "settings", "screen_to_mynumber", &s->screen_to_mynumber);
		get_bool(c, g, "settings", "require_mac_for_mynumber", &s->require_mac_for_mynumber);
		get_string(c, g, "settings", "spool", &s->spool, SEG_MAX_PATH);
		get_string(c, g, "settings", "control_socket", &s->control_socket, 107);
		get_string(c, g, "settings", "control_group", &s->control_group, SEG_MAX_NAME);
		get_string(c, g, "settings", "state_dir", &s->state_dir, SEG_MAX_PATH);
		void *vec;
		size_t n;
		if (get_list(c, g, "settings", "gateway_addresses", sizeof(struct seg_prefix), 256, push_prefix, &vec,
			     &n)) {
			s->gateway_addrs = vec;
			s->n_gateway_addrs = n;
		}
		if (get_list(c, g, "settings", "management_interfaces", sizeof(char *), SEG_MAX_IFACES, push_ifname,
			     &vec, &n)) {
			s->mgmt_ifaces = vec;
			s->n_mgmt_ifaces = n;
		}
	}
	set_default(c, &s->table, "segd");
	set_default(c, &s->spool, "/var/lib/segd/incidents.jsonl");
	set_default(c, &s->control_socket, "/run/segd/control.sock");
	set_default(c, &s->control_group, "segctl");
	set_default(c, &s->state_dir, "/var/lib/segd");
}

/* ---- top level ---- */

static const char *const top_keys[] = { "version", "settings", "zones", "conduits", NULL };

/* A top-level list of groups: zones = ( { ... }, ... ); Returns its length or -1. */
static int want_group_list(struct ctx *c, const config_setting_t *s, const char *key, size_t max)
{
	int t = config_setting_type(s);

	if (t != CONFIG_TYPE_LIST) {
		ERR(c, line_of(s), "'%s' must be a list of groups, not %s — write %s = ( { ... }, { ... } );",
		    key, type_name(t), key);
		return -1;
	}
	int n = config_setting_length(s);
	if ((size_t)n > max) {
		ERR(c, line_of(s), "'%s' has %d entries, more than the limit of %zu — merge or remove some",
		    key, n, max);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
			ERR(c, line_of(e), "'%s' entry %d must be a group { ... }, not %s — write %s = ( { ... }, "
			    "{ ... } );", key, i + 1, type_name(config_setting_type(e)), key);
			return -1;
		}
	}
	return n;
}

static void parse_zones(struct ctx *c, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "zones");
	int n;

	if (!s) {
		ERR(c, 0, "'zones' is missing — define the zones, e.g. zones = ( { name = \"lgwan\"; "
		    "kind = \"lgwan\"; interfaces = [ \"eth2\" ]; networks = [ \"10.20.0.0/24\" ]; } );");
		return;
	}
	if ((n = want_group_list(c, s, "zones", SEG_MAX_ZONES)) <= 0)
		return;
	c->cfg->zones = calloc((size_t)n + 1, sizeof(struct seg_zone));   /* + the gateway */
	if (!c->cfg->zones) {
		c->d->oom = 1;
		return;
	}
	c->cfg->n_zones = (size_t)n;
	for (int i = 0; i < n; i++)
		parse_zone(c, config_setting_get_elem(s, (unsigned)i), i, &c->cfg->zones[i]);
}

static void parse_conduits(struct ctx *c, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "conduits");
	int n;

	if (!s || (n = want_group_list(c, s, "conduits", SEG_MAX_CONDUITS)) <= 0)
		return; /* no conduits: every cross-zone flow is denied, which is valid */
	c->cfg->conduits = calloc((size_t)n, sizeof(struct seg_conduit));
	if (!c->cfg->conduits) {
		c->d->oom = 1;
		return;
	}
	c->cfg->n_conduits = (size_t)n;
	for (int i = 0; i < n; i++)
		parse_conduit(c, config_setting_get_elem(s, (unsigned)i), i, &c->cfg->conduits[i]);
}

static void parse_version(struct ctx *c, const config_setting_t *root)
{
	const config_setting_t *s = config_setting_get_member(root, "version");

	if (!s) {
		ERR(c, 0, "'version' is missing — add version = 1; at the top of the file");
		return;
	}
	if (!want_type(c, s, "file", "version", CONFIG_TYPE_INT, "1"))
		return;
	c->cfg->version = (int)config_setting_get_int64(s);
	if (c->cfg->version != 1)
		ERR(c, line_of(s), "version %d is not supported — this segd reads version = 1;",
		    c->cfg->version);
}

static void parse_root(struct ctx *c, config_t *lc)
{
	const config_setting_t *root = config_root_setting(lc);
	const config_setting_t *settings = config_setting_get_member(root, "settings");

	check_keys(c, root, "file", top_keys);
	parse_version(c, root);
	if (settings && config_setting_type(settings) != CONFIG_TYPE_GROUP) {
		ERR(c, line_of(settings), "'settings' must be a group, not %s — write settings = { ... };",
		    type_name(config_setting_type(settings)));
		settings = NULL;
	}
	parse_settings(c, settings);
	parse_zones(c, root);
	parse_conduits(c, root);
}

static int load_text(const char *text, size_t len, const char *name, int64_t today,
		     struct seg_config **ret_cfg, struct seg_diags *d)
{
	struct seg_config *cfg = calloc(1, sizeof(*cfg));
	struct ctx c = { .d = d, .cfg = cfg };
	config_t lc;

	if (!cfg || !(cfg->file = strdup(name))) {
		seg_config_free(cfg);
		return -ENOMEM;
	}
	/* A UTF-8 byte order mark is harmless: skip it rather than fail on line 1. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (scan_text(&c, text, len) > 0) {
		seg_config_free(cfg);
		return -EINVAL;
	}
	/* libconfig 1.5 refuses a comment on the last line without its newline */
	char *owned = NULL;
	if (len > 0 && text[len - 1] != '\n') {
		if (!(owned = malloc(len + 2))) {
			seg_config_free(cfg);
			return -ENOMEM;
		}
		memcpy(owned, text, len);
		memcpy(owned + len, "\n", 2);
		text = owned;
	}
	c.text = text;
	c.len = owned ? len + 1 : len;
	config_init(&lc);
	if (!config_read_string(&lc, text)) {
		ERR(&c, config_error_line(&lc), "syntax error: %s — check the line for a missing ';', "
		    "quote or bracket", config_error_text(&lc));
	} else {
		parse_root(&c, &lc);
		/* the model's rules also run on a tree with form errors (they skip
		 * what could not be read), so that one run reports everything */
		seg_config_validate(cfg, today, d);
	}
	config_destroy(&lc);
	free(owned);
	free(c.marks);
	if (d->n_errors > 0 || d->oom) {
		seg_config_free(cfg);
		return d->oom ? -ENOMEM : -EINVAL;
	}
	*ret_cfg = cfg;
	return 0;
}

int seg_config_load_string(const char *text, const char *name, int64_t today,
			   struct seg_config **ret_cfg, struct seg_diags *diags)
{
	seg_diags_init(diags, name);
	return load_text(text, strlen(text), name, today, ret_cfg, diags);
}

/* Owned by someone else than root, or writable by a group other than root's
 * or by everyone. */
static bool writable_by_others(const struct stat *st)
{
	return st->st_uid != 0 || (st->st_mode & S_IWOTH) || ((st->st_mode & S_IWGRP) && st->st_gid != 0);
}

/* Whoever can write a directory on the file's path can rename the file or a
 * directory above it and put their own in its place. In a sticky directory
 * owned by root (/tmp) only root and an entry's owner can do that, and the
 * entries below are checked in turn. */
static bool dir_unsafe(const struct stat *st)
{
	if (st->st_uid == 0 && (st->st_mode & S_ISVTX))
		return false;
	return writable_by_others(st);
}

/* Walks from dir (absolute and resolved, as realpath() gives it) up to "/";
 * returns whether a directory on the way is unsafe, and then leaves dir cut
 * to it and its status in *st. */
static bool find_unsafe_dir(char *dir, struct stat *st)
{
	for (;;) {
		if (stat(dir, st) == 0 && dir_unsafe(st))
			return true;
		char *slash = strrchr(dir, '/');
		if (!slash || strcmp(dir, "/") == 0)
			return false;
		slash[slash == dir] = '\0';   /* "/etc" -> "/" */
	}
}

/* realpath() of the directory that holds path (with "/segd.conf" in "/"). */
static char *resolved_dir(const char *path)
{
	char *copy = strdup(path), *dir = NULL;

	if (!copy)
		return NULL;
	char *slash = strrchr(copy, '/');
	if (slash)
		slash[slash == copy] = '\0';
	dir = realpath(slash ? copy : ".", NULL);
	free(copy);
	return dir;
}

/* The directories holding the path as given and, when it is a symbolic link,
 * those holding its target: each unsafe one nearest to the file, once. */
static void check_dirs(const char *path, struct seg_diags *d)
{
	char *dirs[2] = { resolved_dir(path), NULL }, *target = realpath(path, NULL);
	struct stat st;

	if (target)
		dirs[1] = resolved_dir(target);
	for (int i = 0; i < 2; i++) {
		if (!dirs[i] || !find_unsafe_dir(dirs[i], &st) || (i == 1 && dirs[0] && strcmp(dirs[0], dirs[1]) == 0))
			continue;
		seg_diag(d, SEG_SEV_WARNING, 0, "the directory '%s' is writable by users other than root "
			 "(owner uid %u, group %u, mode %04o), who can replace the file — chown root:root "
			 "and chmod 0755 that directory", dirs[i], (unsigned)st.st_uid, (unsigned)st.st_gid,
			 (unsigned)(st.st_mode & 07777));
	}
	free(dirs[0]);
	free(dirs[1]);
	free(target);
}

static int read_file(const char *path, char **ret, size_t *ret_len, struct seg_diags *d)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL;
	int r = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		seg_diag(d, SEG_SEV_ERROR, 0, "cannot read the file: %s — check the path and permissions",
			 strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_FILE_SIZE) {
		/* a runtime error like a missing file, never -EINVAL (an invalid configuration) */
		r = S_ISREG(st.st_mode) ? -EFBIG : S_ISDIR(st.st_mode) ? -EISDIR : -ENOTSUP;
		seg_diag(d, SEG_SEV_ERROR, 0, S_ISREG(st.st_mode) ?
			 "file is larger than 64 MiB — this cannot be a segd configuration" :
			 "not a regular file — give the path of the configuration file");
		goto cleanup;
	}
	/* Whoever can write the file can open the segmentation: say so. segd
	 * runs as user segd, group segctl, and must be able to read it. */
	if (writable_by_others(&st))
		seg_diag(d, SEG_SEV_WARNING, 0, "the file is writable by users other than root "
			 "(owner uid %u, mode %04o) — chown root:root and chmod 0644 (or 0640 root:segctl)",
			 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	check_dirs(path, d);
	buf = malloc((size_t)st.st_size + 1);
	ssize_t got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	if (got != st.st_size) {
		r = buf ? -EIO : -ENOMEM;
		seg_diag(d, SEG_SEV_ERROR, 0, "cannot read the file: %s", strerror(-r));
		goto cleanup;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = (size_t)got;
	buf = NULL;
cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

int seg_config_load(const char *path, int64_t today, struct seg_config **ret_cfg,
		    struct seg_diags *diags)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	seg_diags_init(diags, path);
	r = read_file(path, &text, &len, diags);
	if (r == -EINVAL)
		r = -EIO; /* from open() or read(): -EINVAL means "the configuration is invalid" */
	if (r == 0)
		r = load_text(text, len, path, today, ret_cfg, diags);
	free(text);
	return r;
}
