/* test_conns.c - unit tests of bridge/core/conns.c: undelivered bytes per connection, made-up
 * numbers.
 */
#include <stdint.h>

#include "../../bridge/core/conns.h"
#include "check.h"

#define MS 1000000LL
#define S 1000000000LL
#define MiB (1024u * 1024u)

/* The index of (sock, fd), or -1. */
static long at(const lb_conns *t, int sock, int fd)
{
	for (size_t i = 0; i < lb_conns_count(t); i++)
		if (lb_conns_sock(t, i) == sock && lb_conns_fd(t, i) == fd)
			return (long)i;
	return -1;
}

/* An endless multipart message: bytes arrive, nothing is delivered; closed once past the
 * allowance, and only once. */
static void test_endless_message_closes_once(void)
{
	lb_conns *t = lb_conns_new();
	uint64_t und = 0;
	int64_t now = 5 * S;
	uint64_t got = 100; /* the handshake */

	CHECK(t != NULL);
	CHECK_EQ_INT(lb_conns_open(t, 0, 9, got, LB_CONN_ALLOWANCE, now), 0);
	CHECK_EQ_UINT(lb_conns_count(t), 1);
	/* 1 MB every 50 ms, never a whole message */
	int closed_at = -1;
	for (int i = 1; i <= 10 && closed_at < 0; i++) {
		now += 50 * MS;
		got += MiB;
		if (lb_conns_check(t, 0, got, now, &und))
			closed_at = i;
	}
	CHECK_EQ_INT(closed_at, 3); /* 3 MiB > 2 MiB, and 150 ms without a delivery */
	CHECK(und > LB_CONN_ALLOWANCE);
	CHECK(und <= 3 * MiB);
	/* once */
	now += 50 * MS;
	CHECK_EQ_INT(lb_conns_check(t, 0, got + MiB, now, &und), 0);
	lb_conns_close(t, 0, 9);
	CHECK_EQ_UINT(lb_conns_count(t), 0);
	lb_conns_destroy(&t);
	CHECK(t == NULL);
	lb_conns_destroy(&t); /* NULL accepted */
}

/* Delivered messages (with their framing) are accounted for: a long upload of 1 MiB chunks is
 * never closed, even when several chunks are in flight while deliveries go on. */
static void test_deliveries_keep_a_connection(void)
{
	lb_conns *t = lb_conns_new();
	uint64_t und = 0, got = 300;
	int64_t now = 0;

	lb_conns_open(t, 1, 4, got, LB_CONN_ALLOWANCE, now);
	for (int i = 0; i < 40; i++) {
		/* a chunk: envelope, body, 1 MiB; wire framing below 64 bytes a frame */
		uint64_t msg = 5 + 80 + MiB;
		got += msg + 3 * 9;
		now += 50 * MS;
		lb_conns_delivered(t, 1, 4, msg, 3, now);
		CHECK_EQ_INT(lb_conns_check(t, 0, got, now, &und), 0);
		CHECK_EQ_UINT(und, 0);
	}
	/* 5 chunks pipelined, undelivered but deliveries recent: kept */
	got += 5 * MiB;
	now += 50 * MS;
	lb_conns_delivered(t, 1, 4, 100, 2, now);
	CHECK_EQ_INT(lb_conns_check(t, 0, got, now, &und), 0);
	CHECK(und > 4 * MiB);
	/* ... then nothing delivered for longer than the stall: closed */
	now += LB_CONN_STALL_NS;
	CHECK_EQ_INT(lb_conns_check(t, 0, got, now, &und), 1);
	lb_conns_destroy(&t);
}

/* Heartbeats (bytes never delivered) are covered by the time allowance, forever; credit is not
 * banked: after a long idle time (or a flood of tiny messages credited more than their size) an
 * endless message is still closed past the allowance. */
static void test_heartbeats_and_no_banking(void)
{
	lb_conns *t = lb_conns_new();
	uint64_t und = 0, got = 64;
	int64_t now = 0;

	lb_conns_open(t, 0, 3, got, LB_CONN_ALLOWANCE, now);
	lb_conns_delivered(t, 0, 3, 9, 1, now); /* a subscription */
	got += 11;
	/* a week of 30-byte pings every second, checked every 50 ms */
	for (int64_t sec = 1; sec <= 7 * 24 * 3600; sec++) {
		got += 30;
		now += S;
		CHECK_EQ_INT(lb_conns_check(t, 0, got, now, &und), 0);
	}
	CHECK(und < 64);
	/* 100 000 tiny complete messages: 3 bytes on the wire, credited 64 more each */
	for (int i = 0; i < 100000; i++)
		lb_conns_delivered(t, 0, 3, 1, 1, now);
	got += 300000;
	now += 50 * MS;
	CHECK_EQ_INT(lb_conns_check(t, 0, got, now, &und), 0);
	CHECK_EQ_UINT(und, 0);
	/* then an endless message: closed past 2 MiB, as if it had just connected */
	int closed = 0;
	uint64_t sent = 0;
	for (int i = 0; i < 100 && !closed; i++) {
		got += 256 * 1024;
		sent += 256 * 1024;
		now += 50 * MS;
		closed = lb_conns_check(t, 0, got, now, &und);
	}
	CHECK(closed);
	CHECK(sent <= LB_CONN_ALLOWANCE + 256 * 1024);
	lb_conns_destroy(&t);
}

/* Connections are told apart by socket and fd; unknown ones are ignored. */
static void test_table(void)
{
	lb_conns *t = lb_conns_new();
	uint64_t und = 0;

	lb_conns_delivered(t, 0, 5, 1000, 1, 0); /* unknown: ignored */
	CHECK_EQ_UINT(lb_conns_count(t), 0);
	for (int fd = 0; fd < 40; fd++)
		CHECK_EQ_INT(lb_conns_open(t, fd % 2, fd, 0,
					   fd % 2 ? LB_CONN_ALLOWANCE : LB_CONN_ALLOWANCE_STREAM,
					   0),
			     0);
	CHECK_EQ_UINT(lb_conns_count(t), 40);
	lb_conns_close(t, 1, 4); /* fd 4 is on socket 0 */
	CHECK_EQ_UINT(lb_conns_count(t), 40);
	lb_conns_close(t, 0, 4);
	CHECK_EQ_UINT(lb_conns_count(t), 39);
	CHECK_EQ_INT(at(t, 0, 4), -1);
	lb_conns_delivered(t, 1, 7, 3 * MiB, 1, 0);
	CHECK_EQ_INT(lb_conns_check(t, (size_t)at(t, 1, 7), 3 * MiB, S, &und), 0);
	CHECK_EQ_UINT(und, 0);
	CHECK_EQ_INT(lb_conns_check(t, (size_t)at(t, 0, 6), 3 * MiB, S, &und), 1);
	/* each its own allowance: 300 KiB closes a stream connection, not a request one */
	CHECK_EQ_INT(lb_conns_check(t, (size_t)at(t, 1, 9), 300 * 1024, S, &und), 0);
	CHECK_EQ_INT(lb_conns_check(t, (size_t)at(t, 0, 8), 300 * 1024, S, &und), 1);
	CHECK_EQ_INT(lb_conns_check(t, (size_t)at(t, 0, 10), 200 * 1024, S, &und), 0);
	lb_conns_destroy(&t);
}

/* Connections each under their allowance still add up: past the budget, the biggest goes. */
static void test_budget_over_all_connections(void)
{
	lb_conns *t = lb_conns_new();
	uint64_t held[4] = {100, 1000, 300, 10};

	CHECK(t != NULL);
	CHECK_EQ_INT(lb_conns_open(t, 0, 5, 0, 1000, 0), 0); /* stream: counts 8 times */
	CHECK_EQ_INT(lb_conns_open(t, 1, 6, 0, 1000, 0), 0);
	CHECK_EQ_INT(lb_conns_open(t, 1, 7, 0, 1000, 0), 0);
	CHECK_EQ_INT(lb_conns_open(t, 0, 8, 0, 1000, 0), 0);
	/* 800 + 1000 + 300 + 80 = 2180 */
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 2180), -1);
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 2000), 1);  /* the request conn holding 1000 */
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 2000), -1); /* 1180 left */
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 500), 0);   /* then the stream one (800) */
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 500), -1);  /* 380 left */
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 100), 2);
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 100), -1); /* 80 */
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 0), 3);
	CHECK_EQ_INT(lb_conns_over_budget(t, held, 0), -1); /* nobody left to close */
	lb_conns_destroy(&t);
}

int main(void)
{
	RUN(test_budget_over_all_connections);
	RUN(test_endless_message_closes_once);
	RUN(test_deliveries_keep_a_connection);
	RUN(test_heartbeats_and_no_banking);
	RUN(test_table);
	return check_summary();
}
