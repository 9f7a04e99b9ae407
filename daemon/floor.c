/* floor.c - keeps the last applied ruleset where the boot floor unit finds it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "floor.h"

/* Renders the plan into fd; 0 or -errno. */
static int write_text(int fd, const struct seg_plan *plan)
{
	FILE *f = fdopen(fd, "w");
	int r;

	if (!f)
		return -errno;
	r = seg_plan_write_nft(plan, f);
	if (fflush(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)     /* closes fd */
		r = -errno;
	return r;
}

/* The rename is durable only once the directory entry is on disk. */
static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int segd_floor_write(const struct seg_plan *plan, const char *dir)
{
	char *tmp = NULL, *path = NULL;
	int r = 0, fd = -1;

	if (!plan || !dir)
		return -EINVAL;
	if (asprintf(&tmp, "%s/.%s.XXXXXX", dir, SEGD_FLOOR_FILE) < 0) {
		tmp = NULL;
		return -ENOMEM;
	}
	if (asprintf(&path, "%s/%s", dir, SEGD_FLOOR_FILE) < 0) {
		path = NULL;
		r = -ENOMEM;
		goto cleanup;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto cleanup;
	}
	/* root reads it at boot; nobody else needs the policy's details */
	if (fchmod(fd, 0640) < 0)
		r = -errno;
	if (r == 0)
		r = write_text(fd, plan);
	else
		close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	else
		r = sync_dir(dir);
cleanup:
	free(tmp);
	free(path);
	return r;
}
