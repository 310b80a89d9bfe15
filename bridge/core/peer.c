/* peer.c - the Unix user behind a local connection: SO_PEERCRED, or sock_diag for loopback TCP. */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Whether the address is a loopback one (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). */
static bool is_loopback(const struct sockaddr_storage *a)
{
	if (a->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a)->sin_addr.s_addr) >> 24) == 127;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *x = &((const struct sockaddr_in6 *)a)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(x) ||
		       (IN6_IS_ADDR_V4MAPPED(x) && x->s6_addr[12] == 127);
	}
	return false;
}

bool lb_peer_is_local(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof peer;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		return false;
	return peer.ss_family == AF_UNIX || is_loopback(&peer);
}

/* Copy a socket address's IP into a sock_diag id field (network order) and return its port. */
static unsigned short diag_addr(const struct sockaddr_storage *a, __be32 out[4])
{
	memset(out, 0, 4 * sizeof *out);
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)a;
		out[0] = in->sin_addr.s_addr;
		return in->sin_port;
	}
	memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	return ((const struct sockaddr_in6 *)a)->sin6_port;
}

/*
 * Ask the kernel's socket table for the owner of the TCP socket whose local end is `them` and
 * remote end `us` (the other side of our connection). 0 with *uid, or LB_EFAIL with errno.
 */
static int diag_owner(const struct sockaddr_storage *them, const struct sockaddr_storage *us,
		      uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} msg;
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} reply;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct timeval tv = {.tv_sec = 1};
	int nl, rc = LB_EFAIL, saved;
	ssize_t n;

	memset(&msg, 0, sizeof msg);
	msg.nlh.nlmsg_len = sizeof msg;
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST; /* one exact socket, not a dump */
	msg.nlh.nlmsg_seq = 1;
	msg.req.sdiag_family = (unsigned char)them->ss_family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0u;
	msg.req.id.idiag_sport = diag_addr(them, msg.req.id.idiag_src);
	msg.req.id.idiag_dport = diag_addr(us, msg.req.id.idiag_dst);
	msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return LB_EFAIL;
	setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (sendto(nl, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
		goto out;
	n = recv(nl, &reply, sizeof reply, 0);
	if (n < 0)
		goto out;
	for (struct nlmsghdr *h = &reply.nlh; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
		const struct inet_diag_msg *d = NLMSG_DATA(h);
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			errno = e->error ? -e->error : ENOENT;
			goto out;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof *d))
			continue;
		/* the kernel found it by these ports: check it is the one we asked for */
		if (d->id.idiag_sport != msg.req.id.idiag_sport ||
		    d->id.idiag_dport != msg.req.id.idiag_dport)
			continue;
		*uid = (uid_t)d->idiag_uid;
		rc = 0;
		break;
	}
	if (rc < 0 && errno == 0)
		errno = ENOENT;
out:
	saved = errno;
	close(nl);
	errno = saved;
	return rc;
}

/* An IPv4-mapped IPv6 address (a v4 client of a v6 socket) as the IPv4 one the peer has. */
static void unmap_v4(struct sockaddr_storage *a)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)a;
	struct sockaddr_in in = {.sin_family = AF_INET};

	if (a->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return;
	in.sin_port = in6->sin6_port;
	memcpy(&in.sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof *a);
	memcpy(a, &in, sizeof in);
}

int lb_peer_uid(int fd, uid_t *uid)
{
	struct sockaddr_storage them, us;
	socklen_t lt = sizeof them, lu = sizeof us;

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&them, &lt) < 0 ||
	    getsockname(fd, (struct sockaddr *)&us, &lu) < 0)
		return LB_EFAIL;
	if (them.ss_family == AF_UNIX) {
		struct ucred cred;
		socklen_t len = sizeof cred;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			return LB_EFAIL;
		*uid = cred.uid;
		return 0;
	}
	unmap_v4(&them);
	unmap_v4(&us);
	if (!is_loopback(&them) || them.ss_family != us.ss_family)
		return LB_EINVAL;
	errno = 0;
	return diag_owner(&them, &us, uid);
}
