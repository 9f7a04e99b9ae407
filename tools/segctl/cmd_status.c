/* cmd_status.c - segctl status and segctl reload: ask the running segd. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "control.h"
#include "segctl.h"

static const char *get(const struct seg_kvlist *l, const char *k)
{
	const char *v = seg_kv_get(l, k);
	return v ? v : "?";
}

static void print_time(const char *label, const char *epoch)
{
	time_t t = (time_t)strtoll(epoch, NULL, 10);
	char buf[64];

	strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %Z", localtime(&t));
	printf("%-22s %s\n", label, buf);
}

/* Revision, a pending confirmation, isolated zones (daemon/admin.c). */
static void print_admin(const struct seg_kvlist *r)
{
	size_t i = 0, j = 0, k = 0;
	const char *z;

	printf("%-22s %s (segctl revisions)\n", "revision", get(r, "revision"));
	if (seg_kv_get(r, "confirm_revision")) {
		long long left = strtoll(get(r, "confirm_deadline"), NULL, 10) - (long long)time(NULL);
		printf("%-22s revision %s awaits 'segctl confirm': reverts to revision %s in %lld s\n",
		       "CONFIRM PENDING", get(r, "confirm_revision"), get(r, "revert_to"), left);
	}
	while ((z = seg_kv_next(r, "isolated", &i))) {
		const char *why = seg_kv_next(r, "isolated_reason", &j), *uid = seg_kv_next(r, "isolated_uid", &k);
		printf("%-22s zone '%s' (by uid %s: %s)\n", "ISOLATED", z, uid ? uid : "?", why ? why : "?");
	}
}

static void print_status(const struct seg_kvlist *r)
{
	const char *deg = get(r, "degraded");
	int in_sync = strcmp(get(r, "generation_applied"), get(r, "generation_kernel")) == 0;

	printf("%-22s %s\n", "state", *deg ? "DEGRADED" : "enforcing");
	if (*deg)
		printf("%-22s %s\n", "degraded because", deg);
	printf("%-22s %s (pid %s)\n", "configuration", get(r, "config"), get(r, "pid"));
	printf("%-22s %s\n", "sha256", get(r, "sha256"));
	if (strcmp(get(r, "config_file_changed"), "yes") == 0)
		printf("%-22s the file on disk (sha256 %s) is not what runs: see 'segctl diff running "
		       "%s', then reload or roll back\n", "", get(r, "config_file_sha256"), get(r, "config"));
	printf("%-22s inet %s: %s zones, %s conduits installed, %s expired, %s set elements\n", "table",
	       get(r, "table"), get(r, "zones"), get(r, "conduits_installed"), get(r, "conduits_expired"),
	       get(r, "elements"));
	printf("%-22s %s\n", "table owner", strcmp(get(r, "table_owner"), "yes") == 0 ?
	       "segd (flags owner, persist): no other process can change the table" :
	       "none: changes by other processes are detected and undone");
	print_time("applied", get(r, "applied"));
	printf("%-22s applied %s, kernel now %s%s; the tamper monitor has judged up to %s\n", "ruleset generation",
	       get(r, "generation_applied"), get(r, "generation_kernel"),
	       in_sync ? "" : " (other tables changed since, or ours was restored)", get(r, "generation_judged"));
	const char *sync = get(r, "in_sync"), *line;
	size_t i = 0;
	printf("%-22s %s\n", "rules in sync", strcmp(sync, "yes") == 0 ? "yes: the live table is the approved one" :
	       strcmp(sync, "no") == 0 ? "NO: the live table differs from the running configuration" : sync);
	while ((line = seg_kv_next(r, "diff", &i)))
		printf("%-22s %s\n", "", line);
	printf("%-22s %s reloads, %s failed; %s tamper events, %s restores\n", "changes", get(r, "reloads"),
	       get(r, "reload_failures"), get(r, "tampers"), get(r, "restores"));
	printf("%-22s %s emitted, %s open; %s packets in incidents, %s not sampled (%s sequence gaps, "
	       "%s undecodable), %s socket drops\n", "incidents", get(r, "incidents_emitted"),
	       get(r, "incidents_open"), get(r, "packets_in_incidents"), get(r, "not_sampled"),
	       get(r, "seq_gaps"), get(r, "undecodable"), get(r, "socket_drops"));
	printf("%-22s %s sent, %s dropped, %s pending\n", "journal", get(r, "journal_sent"),
	       get(r, "journal_dropped"), get(r, "journal_pending"));
	printf("%-22s %s lines, %s dropped%s%s\n", "spool", get(r, "spool_lines"), get(r, "spool_dropped"),
	       *get(r, "spool_error") ? "; error: " : "", get(r, "spool_error"));
	print_admin(r);
}

static int ask(struct segctl *s, const char *cmd, struct seg_kvlist *resp)
{
	struct seg_kvlist req;

	seg_kv_init(&req);
	seg_kv_add(&req, "cmd", cmd);
	int r = segctl_call(s, &req, resp);
	seg_kv_free(&req);
	return r;
}

int cmd_status(struct segctl *s, int argc, char **argv)
{
	struct seg_kvlist resp;
	(void)argv;

	if (argc != 1)
		return segctl_usage(s, "status");
	int r = ask(s, "status", &resp);
	if (r == SEGCTL_OK) {
		if (s->json)
			segctl_print_kv_json(&resp, stdout);
		else
			print_status(&resp);
		if (*get(&resp, "degraded") || strcmp(get(&resp, "in_sync"), "no") == 0)
			r = SEGCTL_NOT_OK;
	}
	seg_kv_free(&resp);
	return r;
}

/* reload [--confirm SECONDS]: segd reverts unless `segctl confirm` follows. */
static int reload_request(struct segctl *s, const char *confirm, struct seg_kvlist *resp)
{
	struct seg_kvlist req;

	seg_kv_init(&req);
	seg_kv_add(&req, "cmd", "reload");
	if (confirm)
		seg_kv_add(&req, "confirm", confirm);
	int r = segctl_call(s, &req, resp);
	seg_kv_free(&req);
	return r;
}

int cmd_reload(struct segctl *s, int argc, char **argv)
{
	struct seg_kvlist resp;
	size_t i = 0;
	const char *line, *confirm = NULL;

	if (argc == 3 && strcmp(argv[1], "--confirm") == 0)
		confirm = argv[2];
	else if (argc == 2 && strncmp(argv[1], "--confirm=", 10) == 0)
		confirm = argv[1] + 10;
	else if (argc != 1)
		return segctl_usage(s, "reload");
	if (confirm && strspn(confirm, "0123456789") != strlen(confirm)) {
		fprintf(stderr, "%s: reload: --confirm takes a number of seconds, not '%s'\n", s->prog, confirm);
		return segctl_usage(s, "reload");
	}
	int r = reload_request(s, confirm, &resp);
	if (s->json) {
		segctl_print_kv_json(&resp, stdout);
	} else {
		while ((line = seg_kv_next(&resp, "line", &i)))
			fprintf(r == SEGCTL_OK ? stdout : stderr, "%s\n", line);
		if (r == SEGCTL_OK)
			printf("reloaded: sha256 %s, revision %s\n", get(&resp, "sha256"), get(&resp, "revision"));
		if (r == SEGCTL_OK && seg_kv_get(&resp, "confirm_revision"))
			printf("run 'segctl confirm' within %s seconds, or segd reverts to revision %s\n",
			       confirm, get(&resp, "revert_to"));
	}
	seg_kv_free(&resp);
	return r;
}
