/* daemon_call.c - talking to segd over the control socket (lib/control.h). */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"
#include "config.h"
#include "control.h"
#include "json.h"
#include "segctl.h"

#define DEFAULT_SOCKET "/run/segd/control.sock"
#define CALL_TIMEOUT_MS 30000   /* a reload of 100,000 entries takes about a second */

/* An invalid configuration is what `segctl reload` is often asked to report,
 * and it still names the socket of the segd that runs it: find the setting
 * in the text (outside comments), as libconfig would read a plain string. */
static char *scan_socket(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[1024], *found = NULL;
	regex_t re;
	regmatch_t m[3];

	if (!f)
		return NULL;
	if (regcomp(&re, "(^|[;{[:space:]])control_socket[[:space:]]*[=:][[:space:]]*\"([^\"\\]+)\"",
		    REG_EXTENDED) != 0) {
		fclose(f);
		return NULL;
	}
	while (!found && fgets(line, sizeof(line), f)) {
		if (regexec(&re, line, 3, m, 0) != 0)
			continue;
		char *hash = strchr(line, '#'), *slashes = strstr(line, "//");
		if ((!hash || hash - line > m[0].rm_so) && (!slashes || slashes - line > m[0].rm_so))
			found = strndup(line + m[2].rm_so, (size_t)(m[2].rm_eo - m[2].rm_so));
	}
	regfree(&re);
	fclose(f);
	return found;
}

/* The socket path: --socket, else the configuration's, else the default. The
 * configuration may be invalid (that is what a reload is asked to report), so
 * its diagnostics are not printed here. */
static char *socket_path(struct segctl *s)
{
	const char *file = s->config ? s->config : SEG_DEFAULT_CONFIG;
	struct seg_config *cfg = NULL;
	struct seg_diags d;
	char *path = NULL;

	if (s->socket)
		return strdup(s->socket);
	if (seg_config_load(file, seg_today(), &cfg, &d) == 0)
		path = strdup(cfg->settings.control_socket);
	else
		path = scan_socket(file);
	seg_diags_free(&d);
	seg_config_free(cfg);
	return path ? path : strdup(DEFAULT_SOCKET);
}

int segctl_call(struct segctl *s, struct seg_kvlist *req, struct seg_kvlist *resp)
{
	char *path = socket_path(s);
	int r;

	if (!path)
		return SEGCTL_ERROR;
	seg_kv_init(resp);
	r = seg_ctl_call(path, req, CALL_TIMEOUT_MS, resp);
	if (r == -ENOENT || r == -ECONNREFUSED)
		fprintf(stderr, "%s: segd is not running (no control socket at '%s') — start it "
			"(systemctl start segd) or give --socket PATH\n", s->prog, path);
	else if (r == -EACCES || r == -EPERM)
		fprintf(stderr, "%s: permission denied on '%s' — run as root or as a member of the "
			"control group (settings.control_group)\n", s->prog, path);
	else if (r < 0)
		fprintf(stderr, "%s: talking to segd at '%s' failed: %s\n", s->prog, path, strerror(-r));
	free(path);
	if (r < 0)
		return SEGCTL_ERROR;
	const char *st = seg_kv_get(resp, "status");
	if (st && strcmp(st, "ok") == 0)
		return SEGCTL_OK;
	const char *code = seg_kv_get(resp, "code");
	fprintf(stderr, "%s: %s\n", s->prog, seg_kv_get(resp, "error") ? seg_kv_get(resp, "error") :
		"segd answered without a status");
	return code && strcmp(code, "1") == 0 ? SEGCTL_NOT_OK : SEGCTL_ERROR;
}

static int is_number(const char *v)
{
	if (!*v || strlen(v) > 18)
		return 0;
	for (; *v; v++)
		if (*v < '0' || *v > '9')
			return 0;
	return 1;
}

void segctl_print_kv_json(const struct seg_kvlist *l, FILE *f)
{
	int first = 1;

	fputc('{', f);
	for (size_t i = 0; i < l->n; i++) {
		size_t k = 0, count = 0;
		/* a repeated key becomes an array, at its first place */
		for (size_t j = 0; j < l->n; j++)
			if (strcmp(l->v[j].key, l->v[i].key) == 0 && (count++, j < i))
				k = 1;
		if (k)
			continue;
		seg_json_key(f, &first, l->v[i].key);
		if (count > 1)
			fputc('[', f);
		for (size_t j = i, n = 0; j < l->n; j++) {
			if (strcmp(l->v[j].key, l->v[i].key) != 0)
				continue;
			if (n++)
				fputc(',', f);
			if (is_number(l->v[j].value))
				fputs(l->v[j].value, f);
			else
				seg_json_str(f, l->v[j].value);
		}
		if (count > 1)
			fputc(']', f);
	}
	fputs("}\n", f);
}
