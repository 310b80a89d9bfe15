/* fsutil.h - small file-system helpers the stores share. */
#ifndef LB_FSUTIL_H
#define LB_FSUTIL_H

#include <sys/types.h>

/* mkdir -p: dir and every missing parent, each with mode. 0, or -1 with errno set
 * (ENAMETOOLONG for a path of 1024 bytes or more). */
int lb_mkdirs(const char *dir, mode_t mode);

/* rm -r: dir and everything under it, never following symbolic links (a link is removed, not
 * what it points to). 0 (also when dir does not exist), or -1 with errno set from the first
 * failure (the rest is still tried). */
int lb_rmtree(const char *dir);

#endif
