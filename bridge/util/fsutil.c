/* fsutil.c - small file-system helpers the stores share. */
#include "fsutil.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

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
