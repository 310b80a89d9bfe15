/* peer.h - who is at the other end of a local connection: the Unix user, as the kernel says. */
#ifndef LB_PEER_H
#define LB_PEER_H

#include <stdbool.h>
#include <sys/types.h>

#include "../util/error.h"

/*
 * The Unix user owning the other end of the connected socket fd, as the kernel knows it (a client
 * cannot choose it): SO_PEERCRED for a Unix-domain (ipc://) connection; for TCP over the loopback
 * (127.0.0.0/8, ::1, ::ffff:127.x) the owner of the peer's socket, found by its address and port
 * in the kernel's socket table (sock_diag netlink, as ss(8) does). 0 with *uid set; LB_EINVAL for
 * a connection from another computer (nobody to ask); LB_EFAIL when the kernel does not say
 * (closed meanwhile, no netlink), with errno kept.
 */
int lb_peer_uid(int fd, uid_t *uid);

/* Whether fd is a connection from this computer (Unix-domain, or TCP from a loopback address). */
bool lb_peer_is_local(int fd);

#endif
