/* test_peer.c - unit tests of bridge/core/peer.c: the Unix user behind ipc and loopback
 * connections. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "../../bridge/core/peer.h"

/* A TCP listener on the loopback of family (AF_INET or AF_INET6), its address in addr; or -1. */
static int tcp_listener(int family, struct sockaddr_storage *addr, socklen_t *len)
{
	int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(addr, 0, sizeof *addr);
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)addr;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*len = sizeof *a;
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)addr;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		*len = sizeof *a;
	}
	if (l < 0 || bind(l, (struct sockaddr *)addr, *len) < 0 || listen(l, 4) < 0 ||
	    getsockname(l, (struct sockaddr *)addr, len) < 0)
		return -1;
	return l;
}

/* Connect to the listener from a child running as uid; the accepted end's peer uid is read. */
static void check_tcp_from(int family, uid_t uid)
{
	struct sockaddr_storage addr;
	socklen_t len;
	int l = tcp_listener(family, &addr, &len), sync[2], s;
	pid_t pid;
	uid_t got = 4242;
	char b = 0;

	if (l < 0) {
		printf("  (no loopback for family %d: skipped)\n", family);
		return;
	}
	CHECK(pipe(sync) == 0);
	pid = fork();
	if (pid == 0) {
		int c;
		if (setuid(uid) < 0)
			_exit(2);
		c = socket(family, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&addr, len) < 0)
			_exit(3);
		/* stay connected until the parent has asked */
		if (read(sync[0], &b, 1) < 0)
			_exit(4);
		_exit(0);
	}
	s = accept(l, NULL, NULL);
	CHECK(s >= 0);
	CHECK(lb_peer_is_local(s));
	CHECK_EQ_INT(lb_peer_uid(s, &got), 0);
	CHECK_EQ_INT(got, uid);
	CHECK(write(sync[1], &b, 1) == 1);
	waitpid(pid, NULL, 0);
	close(s);
	close(l);
	close(sync[0]);
	close(sync[1]);
}

static void test_loopback_tcp(void)
{
	/* as root, the client may be another user: the kernel says who owns its socket */
	check_tcp_from(AF_INET, geteuid());
	if (geteuid() == 0) {
		check_tcp_from(AF_INET, 65534);
		check_tcp_from(AF_INET6, 65534);
	}
}

static void test_unix_socket(void)
{
	int sv[2];
	uid_t got = 4242;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(lb_peer_is_local(sv[0]));
	CHECK_EQ_INT(lb_peer_uid(sv[0], &got), 0);
	CHECK_EQ_INT(got, geteuid());
	close(sv[0]);
	close(sv[1]);
}

static void test_not_a_connection(void)
{
	int fds[2];
	uid_t got = 4242;

	CHECK(pipe(fds) == 0);
	CHECK(!lb_peer_is_local(fds[0]));
	CHECK(lb_peer_uid(fds[0], &got) < 0);
	CHECK(lb_peer_uid(-1, &got) < 0);
	CHECK_EQ_INT(got, 4242);
	close(fds[0]);
	close(fds[1]);
}

int main(void)
{
	RUN(test_unix_socket);
	RUN(test_loopback_tcp);
	RUN(test_not_a_connection);
	return check_summary();
}
