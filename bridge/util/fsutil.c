/* fsutil.c - small file-system helpers the stores share. */
#include "fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int lb_mkdirs(const char *dir, mode_t mode)
{
	char path[1024];
	size_t n = strlen(dir);

	if (n >= sizeof path)
		return errno = ENAMETOOLONG, -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(path, mode) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(path, mode) < 0 && errno != EEXIST ? -1 : 0;
}

/* nftw's callback: remove each entry after its children (FTW_DEPTH); the first error kept. */
static _Thread_local int rm_first_errno; /* nftw passes no context */
static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT && !rm_first_errno)
		rm_first_errno = errno;
	return 0;
}

int lb_rmtree(const char *dir)
{
	int rc;

	rm_first_errno = 0;
	rc = nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (rc < 0 && errno == ENOENT)
		return 0;
	if (rc < 0)
		return -1;
	if (rm_first_errno) {
		errno = rm_first_errno;
		return -1;
	}
	return 0;
}
