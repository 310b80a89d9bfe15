/* test_outlimit.c - unit tests of bridge/core/outlimit.c (subscribers' backlogs) and lb_subs_match.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../bridge/core/outlimit.h"
#include "../../bridge/core/subs.h"
#include "../../bridge/util/error.h"
#include "check.h"

#define MB (1024u * 1024u)
#define BAND (64u * 1024u + 40u) /* a scanner band on the wire */

/* A kernel made up by the test: each fd's progress, and how often it was asked. */
typedef struct fake {
	lb_out_progress p[16];
	int fail[16];
	int asked[16];
} fake;

static int fake_probe(void *arg, int fd, lb_out_kind kind, lb_out_progress *p)
{
	fake *f = arg;

	(void)kind;
	fd &= 15; /* fds from 1024 on (not in the index) share the entries */
	f->asked[fd]++;
	if (f->fail[fd])
		return -1;
	*p = f->p[fd];
	return 0;
}

static lb_sub_verdict sub(lb_subs *t, int fd, const char *prefix)
{
	unsigned char m[200];
	size_t n = strlen(prefix);

	m[0] = 1;
	memcpy(m + 1, prefix, n);
	return lb_subs_apply(t, fd, m, n + 1);
}

/* Whether fd is among the n fds. */
static int has(const int *fds, size_t n, int fd)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd)
			return 1;
	return 0;
}

static void test_match_as_xpub(void)
{
	lb_subs *t = lb_subs_new();
	const char *topic = "scanner/sane-test_0/image/";
	int fds[8];
	size_t n;

	for (int fd = 3; fd <= 7; fd++)
		CHECK_EQ_INT(lb_subs_open(t, fd), 0);
	sub(t, 3, "");				     /* everything */
	sub(t, 4, "scanner/");			     /* a prefix */
	sub(t, 4, "scanner/s");			     /* two prefixes that match: listed once */
	sub(t, 5, "sensor/");			     /* another topic */
	sub(t, 6, topic);			     /* the exact topic */
	sub(t, 7, "scanner/sane-test_0/image/more"); /* longer than the topic: no match */
	n = lb_subs_match(t, topic, strlen(topic), fds, 8);
	CHECK_EQ_UINT(n, 3);
	CHECK(has(fds, n, 3) && has(fds, n, 4) && has(fds, n, 6));
	/* at most max */
	CHECK_EQ_UINT(lb_subs_match(t, topic, strlen(topic), fds, 2), 2);
	/* a connection being closed receives nothing more */
	CHECK_EQ_INT(sub(t, 6, "x/y/z/?\x01"), LB_SUB_OK);
	{
		unsigned char bad[2] = {7, 'x'};
		CHECK_EQ_INT(lb_subs_apply(t, 6, bad, 2), LB_SUB_NOT_A_SUB);
	}
	n = lb_subs_match(t, topic, strlen(topic), fds, 8);
	CHECK_EQ_UINT(n, 2);
	CHECK(!has(fds, n, 6));
	n = lb_subs_match(t, "sensor/sim-v1/", 14, fds, 8);
	CHECK_EQ_UINT(n, 2); /* 3 ("") and 5 */
	CHECK(has(fds, n, 3) && has(fds, n, 5));
	lb_subs_close(t, 3);
	CHECK_EQ_UINT(lb_subs_match(t, "sensor/sim-v1/", 14, fds, 8), 1);
	CHECK_EQ_UINT(lb_subs_match(NULL, "a", 1, fds, 8), 0);
	lb_subs_destroy(&t);
}

static void test_stalled_tcp_closed_past_the_limit(void)
{
	fake f = {0};
	lb_outlimit *t = lb_outlimit_new(4 * MB, fake_probe, &f);
	uint64_t sent = 0;
	int closed = 0, i;

	CHECK(t != NULL);
	f.p[5].written = 1000; /* the handshake */
	CHECK_EQ_INT(lb_outlimit_open(t, 5, LB_OUT_TCP, 100), 0);
	CHECK_EQ_UINT(lb_outlimit_connections(t), 1);
	/* the client reads a first band, then nothing more */
	for (i = 0; i < 1000 && !closed; i++) {
		closed = lb_outlimit_queued(t, 5, BAND, 200 + i);
		sent += BAND;
		if (i == 0)
			f.p[5].written = 1000 + BAND;
	}
	CHECK_EQ_INT(closed, 1);
	/* closed as soon as the backlog passed 4 MB: one band over it */
	CHECK(lb_outlimit_held(t, 5) > 4 * MB);
	CHECK(lb_outlimit_held(t, 5) <= 4 * MB + BAND);
	CHECK_EQ_UINT(lb_outlimit_held(t, 5), sent - BAND);
	/* behind since its first band (not since it connected, at 100) */
	CHECK(lb_outlimit_since(t, 5) == 200);
	/* the kernel was asked every half MB (limit / 8) or so, not per band */
	CHECK(f.asked[5] >= 8 && f.asked[5] <= 12);
	/* once: being closed, nothing more is counted */
	CHECK_EQ_INT(lb_outlimit_queued(t, 5, BAND, 5000), 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 5), sent - BAND);
	/* its DISCONNECTED event; the fd reused by a new connection starts from nothing */
	lb_outlimit_close(t, 5);
	CHECK_EQ_UINT(lb_outlimit_connections(t), 0);
	CHECK_EQ_INT(lb_outlimit_open(t, 5, LB_OUT_TCP, 6000), 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 5), 0);
	CHECK_EQ_INT(lb_outlimit_queued(t, 5, BAND, 6001), 0);
	lb_outlimit_destroy(&t);
	CHECK(t == NULL);
	lb_outlimit_destroy(&t);
}

static void test_reader_kept_and_credit_not_banked(void)
{
	fake f = {0};
	lb_outlimit *t = lb_outlimit_new(4 * MB, fake_probe, &f);
	int closed = 0, i;

	CHECK_EQ_INT(lb_outlimit_open(t, 3, LB_OUT_TCP, 0), 0);
	/* a client that keeps up: the kernel took every band, 100 MB of them */
	for (i = 0; i < 1600; i++) {
		closed |= lb_outlimit_queued(t, 3, BAND, i);
		f.p[3].written += BAND;
	}
	CHECK_EQ_INT(closed, 0);
	CHECK(lb_outlimit_held(t, 3) <= 4 * MB);
	/* small messages are not counted, nor is the kernel asked for them */
	int asked = f.asked[3];
	for (i = 0; i < 100000; i++)
		closed |= lb_outlimit_queued(t, 3, LB_OUT_BULK - 1, 2000);
	CHECK_EQ_INT(closed, 0);
	CHECK_EQ_INT(f.asked[3], asked);
	/* ... but the kernel wrote them: 50 MB of small messages read, then the client stalls */
	f.p[3].written += 50 * MB;
	for (i = 0; i < 1000 && !closed; i++)
		closed = lb_outlimit_queued(t, 3, BAND, 3000 + i);
	/* the 50 MB were no credit: closed after 4 MB of bands, as a client stalled from the start,
	 * give or take the bands counted before the first look after the stall (a step, limit / 8)
	 */
	CHECK_EQ_INT(closed, 1);
	CHECK(i <= (int)((4 * MB + 4 * MB / LB_OUT_STEPS) / BAND) + 2);
	CHECK(i >= (int)(4 * MB / BAND));
	/* the backlog was last 0 at the first look after the stall */
	CHECK(lb_outlimit_since(t, 3) >= 3000 && lb_outlimit_since(t, 3) < 3000 + i);
	lb_outlimit_destroy(&t);
}

static void test_unix_socket_fullness(void)
{
	fake f = {0};
	lb_outlimit *t = lb_outlimit_new(4 * MB, fake_probe, &f);
	int closed = 0, i;

	f.p[4].sndbuf = 212992;
	CHECK_EQ_INT(lb_outlimit_open(t, 4, LB_OUT_UNIX, 0), 0);
	/* a reader that empties its socket: the estimate starts again at each look */
	for (i = 0; i < 1600; i++) {
		f.p[4].unread = (i % 3) * 4096;
		closed |= lb_outlimit_queued(t, 4, BAND, i);
	}
	CHECK_EQ_INT(closed, 0);
	/* its socket stays full: closed past the limit */
	f.p[4].unread = 212992;
	for (i = 0; i < 1000 && !closed; i++)
		closed = lb_outlimit_queued(t, 4, BAND, 2000 + i);
	CHECK_EQ_INT(closed, 1);
	CHECK(lb_outlimit_held(t, 4) > 4 * MB);
	/* after a pause the kernel is asked at the first band: a reader that caught up is seen */
	f.p[5].sndbuf = 212992;
	f.p[5].unread = 212992;
	CHECK_EQ_INT(lb_outlimit_open(t, 5, LB_OUT_UNIX, 0), 0);
	for (i = 0; i < 40; i++)
		CHECK_EQ_INT(lb_outlimit_queued(t, 5, BAND, 1000 + i), 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 5), 40 * BAND); /* under a step: not asked */
	int asked = f.asked[5];
	f.p[5].unread = 0;
	CHECK_EQ_INT(lb_outlimit_queued(t, 5, BAND, 1039 + LB_OUT_PAUSE_NS), 0);
	CHECK_EQ_INT(f.asked[5], asked + 1);
	CHECK_EQ_UINT(lb_outlimit_held(t, 5), 0);
	CHECK(lb_outlimit_since(t, 5) == 1039 + LB_OUT_PAUSE_NS);
	/* not within the pause */
	CHECK_EQ_INT(lb_outlimit_queued(t, 5, BAND, 1040 + LB_OUT_PAUSE_NS), 0);
	CHECK_EQ_INT(f.asked[5], asked + 1);
	/* a TCP connection is exact whenever asked: not asked for a pause */
	CHECK_EQ_INT(lb_outlimit_open(t, 7, LB_OUT_TCP, 0), 0);
	CHECK_EQ_INT(lb_outlimit_queued(t, 7, BAND, 1), 0);
	asked = f.asked[7];
	CHECK_EQ_INT(lb_outlimit_queued(t, 7, BAND, 10 * LB_OUT_PAUSE_NS), 0);
	CHECK_EQ_INT(f.asked[7], asked);
	/* a socket 1/8 full or more is not one being emptied */
	f.p[6].sndbuf = 800000;
	f.p[6].unread = 100000;
	CHECK_EQ_INT(lb_outlimit_open(t, 6, LB_OUT_UNIX, 0), 0);
	for (i = 0, closed = 0; i < 1000 && !closed; i++)
		closed = lb_outlimit_queued(t, 6, BAND, i);
	CHECK_EQ_INT(closed, 1);
	lb_outlimit_destroy(&t);
}

static void test_unknown_and_failing(void)
{
	fake f = {0};
	lb_outlimit *t = lb_outlimit_new(1 * MB, fake_probe, &f), *none;
	int closed = 0;

	CHECK(lb_outlimit_new(MB, NULL, NULL) == NULL);
	CHECK_EQ_INT(lb_outlimit_open(t, -1, LB_OUT_TCP, 0), LB_EINVAL);
	CHECK_EQ_INT(lb_outlimit_open(t, 3, (lb_out_kind)9, 0), LB_EINVAL);
	/* an unknown connection (inproc, ws:// before its event) is not counted */
	CHECK_EQ_INT(lb_outlimit_queued(t, 9, 100 * MB, 0), 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 9), 0);
	/* a connection the kernel says nothing of is not watched */
	f.fail[7] = 1;
	CHECK_EQ_INT(lb_outlimit_open(t, 7, LB_OUT_TCP, 0), 0);
	CHECK_EQ_UINT(lb_outlimit_connections(t), 0);
	/* the kernel stops answering: not closed on a look it could not make */
	f.fail[7] = 0;
	CHECK_EQ_INT(lb_outlimit_open(t, 7, LB_OUT_TCP, 0), 0);
	f.fail[7] = 1;
	for (int i = 0; i < 100; i++)
		closed |= lb_outlimit_queued(t, 7, BAND, i);
	CHECK_EQ_INT(closed, 1); /* ... but what was queued still counts: past the limit */
	/* no limit: nothing watched */
	none = lb_outlimit_new(0, fake_probe, &f);
	CHECK_EQ_INT(lb_outlimit_open(none, 3, LB_OUT_TCP, 0), 0);
	CHECK_EQ_UINT(lb_outlimit_connections(none), 0);
	CHECK_EQ_INT(lb_outlimit_queued(none, 3, 1000 * MB, 0), 0);
	lb_outlimit_destroy(&none);
	lb_outlimit_destroy(&t);
}

/* A blind connection (ws://) counts what it is offered only while its send queue is backed up. */
static void test_blind_counted_while_backed_up(void)
{
	fake f = {0};
	lb_outlimit *t = lb_outlimit_new(4 * MB, fake_probe, &f);
	int fds[4], closed = 0, i;
	int64_t now = 0;

	CHECK_EQ_INT(lb_outlimit_open(t, 3, LB_OUT_TCP, 0), 0);
	CHECK_EQ_INT(lb_outlimit_open(t, 4, LB_OUT_TCP, 0), 0);
	lb_outlimit_set_blind(t, 4);
	lb_outlimit_set_blind(t, 99); /* unknown: ignored */
	CHECK_EQ_UINT(lb_outlimit_blind(t, fds, 4), 1);
	CHECK_EQ_INT(fds[0], 4);
	CHECK_EQ_UINT(lb_outlimit_blind(t, fds, 0), 0);
	/* not subscribed to the bands (or keeping up): its queue stays short, nothing counted */
	for (i = 0; i < 1000; i++, now += 100000)
		closed |= lb_outlimit_queued(t, 4, BAND, now);
	CHECK_EQ_INT(closed, 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 4), 0);
	/* the queue is looked at every LB_OUT_GATE_NS at most: 1000 bands in 100 ms, ~100 looks */
	CHECK(f.asked[4] >= 95 && f.asked[4] <= 105);
	/* stalled: its queue backs up, the bands count and it is closed past the limit */
	f.p[4].unread = LB_OUT_BACKED;
	for (i = 0; i < 1000 && !closed; i++, now += 100000)
		closed = lb_outlimit_queued(t, 4, BAND, now);
	CHECK_EQ_INT(closed, 1);
	CHECK(i <= (int)(4 * MB / BAND) + 2);
	CHECK_EQ_UINT(lb_outlimit_blind(t, fds, 4), 0); /* being closed */
	/* a connection whose prefixes are known is counted whatever its queue */
	for (i = 0, closed = 0; i < 1000 && !closed; i++)
		closed = lb_outlimit_queued(t, 3, BAND, now);
	CHECK_EQ_INT(closed, 1);
	lb_outlimit_destroy(&t);
}

/* Entries move when one closes; fds past the index are searched. */
static void test_many_fds(void)
{
	fake f = {0};
	lb_outlimit *t = lb_outlimit_new(1 * MB, fake_probe, &f);
	const int fds[] = {3, 4, 2048 + 5, 6, 4096 + 7, 1023, 1024 + 9};
	const int n = (int)(sizeof fds / sizeof *fds);

	for (int i = 0; i < n; i++)
		CHECK_EQ_INT(lb_outlimit_open(t, fds[i], LB_OUT_TCP, 0), 0);
	for (int i = 0; i < n; i++)
		lb_outlimit_queued(t, fds[i], LB_OUT_BULK + (uint64_t)i, 1);
	for (int i = 0; i < n; i++)
		CHECK_EQ_UINT(lb_outlimit_held(t, fds[i]), LB_OUT_BULK + (uint64_t)i);
	lb_outlimit_close(t, 3);	/* the last entry moves into the first */
	lb_outlimit_close(t, 2048 + 5); /* one past the index */
	lb_outlimit_close(t, 77);	/* unknown */
	CHECK_EQ_UINT(lb_outlimit_connections(t), (size_t)n - 2);
	CHECK_EQ_UINT(lb_outlimit_held(t, 3), 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 2048 + 5), 0);
	for (int i = 0; i < n; i++)
		if (fds[i] != 3 && fds[i] != 2048 + 5)
			CHECK_EQ_UINT(lb_outlimit_held(t, fds[i]), LB_OUT_BULK + (uint64_t)i);
	/* the moved one is still counted and closed as its own */
	int closed = 0;
	for (int i = 0; i < 100 && !closed; i++)
		closed = lb_outlimit_queued(t, 1024 + 9, BAND, 2 + i);
	CHECK_EQ_INT(closed, 1);
	CHECK_EQ_UINT(lb_outlimit_held(t, 4), LB_OUT_BULK + 1);
	lb_outlimit_close(t, 1024 + 9);
	lb_outlimit_close(t, 1023);
	CHECK_EQ_INT(lb_outlimit_open(t, 1023, LB_OUT_TCP, 0), 0);
	CHECK_EQ_UINT(lb_outlimit_held(t, 1023), 0);
	CHECK_EQ_UINT(lb_outlimit_connections(t), (size_t)n - 3);
	lb_outlimit_destroy(&t);
}

static void test_wire_size(void)
{
	size_t frames[3] = {26, 40, 65536};

	/* 2-byte headers under 256 bytes, 9-byte ones from there */
	CHECK_EQ_UINT(lb_outlimit_wire_size(frames, 3), 26 + 2 + 40 + 2 + 65536 + 9);
	frames[0] = 255, frames[1] = 256;
	CHECK_EQ_UINT(lb_outlimit_wire_size(frames, 2), 255 + 2 + 256 + 9);
	CHECK_EQ_UINT(lb_outlimit_wire_size(frames, 0), 0);
}

/* The real kernel: bytes written into a TCP connection nobody reads, and a unix socket's. */
static void test_kernel_probe(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	int lsn = socket(AF_INET, SOCK_STREAM, 0), cli = socket(AF_INET, SOCK_STREAM, 0), srv;
	int pair[2];
	char buf[50000];
	lb_out_progress p0, p1;

	memset(buf, 'b', sizeof buf);
	CHECK(lsn >= 0 && cli >= 0);
	CHECK_EQ_INT(bind(lsn, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ_INT(listen(lsn, 1), 0);
	CHECK_EQ_INT(getsockname(lsn, (struct sockaddr *)&a, &alen), 0);
	CHECK_EQ_INT(connect(cli, (struct sockaddr *)&a, sizeof a), 0);
	srv = accept(lsn, NULL, NULL);
	CHECK(srv >= 0);
	CHECK_EQ_INT(lb_outlimit_kind_of(srv), LB_OUT_TCP);
	CHECK_EQ_INT(lb_outlimit_kernel_probe(NULL, srv, LB_OUT_TCP, &p0), 0);
	CHECK_EQ_INT(write(srv, buf, sizeof buf), (int)sizeof buf);
	CHECK_EQ_INT(lb_outlimit_kernel_probe(NULL, srv, LB_OUT_TCP, &p1), 0);
	/* acknowledged or not yet, every byte written counts */
	CHECK_EQ_UINT(p1.written - p0.written, sizeof buf);
	close(srv);
	close(cli);
	close(lsn);

	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
	CHECK_EQ_INT(lb_outlimit_kind_of(pair[0]), LB_OUT_UNIX);
	CHECK_EQ_INT(lb_outlimit_kernel_probe(NULL, pair[0], LB_OUT_UNIX, &p0), 0);
	CHECK_EQ_UINT(p0.unread, 0);
	CHECK(p0.sndbuf > 0);
	CHECK_EQ_INT(write(pair[0], buf, sizeof buf), (int)sizeof buf);
	CHECK_EQ_INT(lb_outlimit_kernel_probe(NULL, pair[0], LB_OUT_UNIX, &p1), 0);
	CHECK(p1.unread >= sizeof buf); /* unread, with the kernel's own overhead */
	CHECK(read(pair[1], buf, sizeof buf) > 0);
	close(pair[0]);
	close(pair[1]);
	CHECK_EQ_INT(lb_outlimit_kind_of(0 /* not a socket */), -1);
}

int main(void)
{
	RUN(test_match_as_xpub);
	RUN(test_stalled_tcp_closed_past_the_limit);
	RUN(test_reader_kept_and_credit_not_banked);
	RUN(test_unix_socket_fullness);
	RUN(test_unknown_and_failing);
	RUN(test_blind_counted_while_backed_up);
	RUN(test_many_fds);
	RUN(test_wire_size);
	RUN(test_kernel_probe);
	return check_summary();
}
