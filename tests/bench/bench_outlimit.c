/* bench_outlimit.c - what the subscriber backlog limit (outlimit.c) adds per published message. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../bridge/core/outlimit.c"
#include "../../bridge/core/subs.c"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A kernel that always says the connection keeps up (the matching and counting alone). */
static int keeps_up(void *arg, int fd, lb_out_kind kind, lb_out_progress *p)
{
	static uint64_t written;
	(void)arg, (void)fd, (void)kind;
	written += 1u << 20;
	p->written = written;
	p->unread = 0;
	p->sndbuf = 212992;
	return 0;
}

static volatile uint64_t sink;

/* ns per small message of what handle_chan gained: the comparison of the message's byte count
 * (exact: 0), and what computing its wire size would cost (exact = 1: 3 zmq_msg_size calls). */
static double small_path(int exact)
{
	const long n = 20000000;
	zmq_msg_t f[3];
	size_t sizes[3];
	volatile uint64_t bytes = 300 + 14 + 180 + 40; /* lb_up's meta.bytes */
	double t0;

	zmq_msg_init_data(&f[0], (void *)"sensor/sim-v1/", 14, NULL, NULL);
	zmq_msg_init_size(&f[1], 180);
	zmq_msg_init_size(&f[2], 40);
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		if (!exact) {
			if (bytes + 3 * 9 >= 300 + LB_OUT_BULK)
				sink++;
			continue;
		}
		for (int k = 0; k < 3; k++)
			sizes[k] = zmq_msg_size(&f[k]);
		uint64_t wire = lb_outlimit_wire_size(sizes, 3);
		if (wire >= LB_OUT_BULK)
			sink++;
		sink += wire;
	}
	t0 = now_s() - t0;
	for (int k = 0; k < 3; k++)
		zmq_msg_close(&f[k]);
	return t0 / (double)n * 1e9;
}

/* ns per bulk message: nconn connections holding nprefix prefixes each, `matching` of them
 * subscribed to the topic (their last prefix); matching and counting, a fake kernel. */
static double bulk_path(int nconn, int nprefix, int matching)
{
	const char *topic = "scanner/sane-test_0/image/";
	lb_subs *s = lb_subs_new();
	lb_outlimit *o = lb_outlimit_new(32u << 20, keeps_up, NULL);
	int fds[300];
	long n = 200000 / (nconn > 30 ? 10 : 1);
	unsigned char m[64];
	double t0;

	for (int c = 0; c < nconn; c++) {
		lb_subs_open(s, 100 + c);
		lb_outlimit_open(o, 100 + c, LB_OUT_TCP, 0);
		for (int p = 0; p < nprefix; p++) {
			int len;
			if (p == nprefix - 1 && c < matching)
				len = snprintf((char *)m, sizeof m, "\x01scanner/sane-test_0/");
			else
				len = snprintf((char *)m, sizeof m, "\x01sensor/sim-%d-%d/", c, p);
			lb_subs_apply(s, 100 + c, m, (size_t)len);
		}
	}
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		size_t k = lb_subs_match(s, topic, strlen(topic), fds, 300);
		for (size_t j = 0; j < k; j++)
			sink += (uint64_t)lb_outlimit_queued(o, fds[j], 65536 + 40, (int64_t)i);
	}
	t0 = now_s() - t0;
	lb_outlimit_destroy(&o);
	lb_subs_destroy(&s);
	return t0 / (double)n * 1e9;
}

/* ns per look at a real TCP connection's progress (TCP_INFO + SIOCOUTQ). */
static double kernel_look(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	int lsn = socket(AF_INET, SOCK_STREAM, 0), cli = socket(AF_INET, SOCK_STREAM, 0), srv;
	lb_out_progress p;
	const long n = 200000;
	double t0;

	if (bind(lsn, (struct sockaddr *)&a, sizeof a) < 0 || listen(lsn, 1) < 0 ||
	    getsockname(lsn, (struct sockaddr *)&a, &alen) < 0 ||
	    connect(cli, (struct sockaddr *)&a, sizeof a) < 0 ||
	    (srv = accept(lsn, NULL, NULL)) < 0)
		return -1;
	t0 = now_s();
	for (long i = 0; i < n; i++) {
		lb_outlimit_kernel_probe(NULL, srv, LB_OUT_TCP, &p);
		sink += p.written;
	}
	t0 = now_s() - t0;
	close(srv);
	close(cli);
	close(lsn);
	return t0 / (double)n * 1e9;
}

int main(void)
{
	double look = kernel_look();

	printf("outlimit: per small message: %.2f ns (one comparison; the exact wire size would "
	       "cost %.1f ns)\n",
	       small_path(0), small_path(1));
	printf(
	    "outlimit: per bulk message, match + count, a class (30 connections x 4 prefixes, 10 "
	    "on the image): %.0f ns\n",
	    bulk_path(30, 4, 10));
	printf(
	    "outlimit: per bulk message, worst (256 connections x 16 prefixes = 4096, all on the "
	    "image through their last prefix): %.0f ns\n",
	    bulk_path(256, 16, 256));
	printf("outlimit: per bulk message, 256 x 16 prefixes, none on the image: %.0f ns\n",
	       bulk_path(256, 16, 0));
	printf("outlimit: a look at a TCP connection's progress (TCP_INFO + SIOCOUTQ): %.0f ns, "
	       "once per 4 MiB counted for it (limit / %u), per band %.1f ns\n",
	       look, LB_OUT_STEPS, look / ((32.0 * 1024 * 1024 / LB_OUT_STEPS) / 65576.0));
	return sink == 42 ? 1 : 0;
}
