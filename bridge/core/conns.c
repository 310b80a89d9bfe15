/* conns.c - bytes each TCP connection sent against what libzmq delivered of them (conns.h). */
#include "conns.h"

#include <stdlib.h>

#include "../util/error.h"
#include "../util/grow.h"

typedef struct conn {
	int sock, fd;
	int doomed;	    /* closed by a verdict: no second one */
	uint64_t allowance; /* undelivered bytes tolerated */
	uint64_t credit;    /* bytes accounted for: delivered, framing, time (<= received) */
	int64_t last;	    /* last delivery (or the accept) */
	int64_t checked;    /* last lb_conns_check (time credited up to there) */
	uint64_t remainder; /* time credit below one byte, in byte-nanoseconds */
} conn;

struct lb_conns {
	conn *v;
	size_t n, cap;
};

lb_conns *lb_conns_new(void)
{
	return calloc(1, sizeof(lb_conns));
}

void lb_conns_destroy(lb_conns **pt)
{
	if (!pt || !*pt)
		return;
	free((*pt)->v);
	free(*pt);
	*pt = NULL;
}

/* The connection, or NULL. */
static conn *find(const lb_conns *t, int sock, int fd)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (t->v[i].fd == fd && t->v[i].sock == sock)
			return &t->v[i];
	return NULL;
}

int lb_conns_open(lb_conns *t, int sock, int fd, uint64_t received, uint64_t allowance, int64_t now)
{
	conn *c = find(t, sock, fd);

	if (!c) {
		if (lb_grow(&t->v, &t->cap, t->n, sizeof *t->v) < 0)
			return LB_ENOMEM;
		c = &t->v[t->n++];
	}
	*c = (conn){.sock = sock,
		    .fd = fd,
		    .allowance = allowance,
		    .credit = received,
		    .last = now,
		    .checked = now};
	return 0;
}

void lb_conns_close(lb_conns *t, int sock, int fd)
{
	conn *c = find(t, sock, fd);

	if (c)
		*c = t->v[--t->n];
}

void lb_conns_delivered(lb_conns *t, int sock, int fd, uint64_t bytes, unsigned frames, int64_t now)
{
	conn *c = find(t, sock, fd);

	if (!c)
		return;
	c->credit += bytes + (uint64_t)frames * LB_CONN_FRAME_OVERHEAD;
	c->last = now;
}

size_t lb_conns_count(const lb_conns *t)
{
	return t ? t->n : 0;
}

int lb_conns_sock(const lb_conns *t, size_t i)
{
	return t->v[i].sock;
}

int lb_conns_fd(const lb_conns *t, size_t i)
{
	return t->v[i].fd;
}

int lb_conns_check(lb_conns *t, size_t i, uint64_t received, int64_t now, uint64_t *undelivered)
{
	conn *c = &t->v[i];

	if (now > c->checked) {
		uint64_t ns = (uint64_t)(now - c->checked) * LB_CONN_PER_SECOND + c->remainder;
		c->credit += ns / 1000000000u;
		c->remainder = ns % 1000000000u;
		c->checked = now;
	}
	if (c->credit > received)
		c->credit = received; /* no credit banked for later */
	*undelivered = received - c->credit;
	if (c->doomed || *undelivered <= c->allowance || now - c->last < LB_CONN_STALL_NS)
		return 0;
	c->doomed = 1;
	return 1;
}

long lb_conns_over_budget(lb_conns *t, const uint64_t *undelivered, uint64_t budget)
{
	uint64_t total = 0, most = 0;
	long worst = -1;

	for (size_t i = 0; i < t->n; i++) {
		uint64_t w;
		if (t->v[i].doomed)
			continue;
		w = undelivered[i] * (t->v[i].sock == 0 ? LB_CONN_STREAM_WEIGHT : 1u);
		total += w;
		if (w > most) {
			most = w;
			worst = (long)i;
		}
	}
	if (total <= budget || worst < 0)
		return -1;
	t->v[worst].doomed = 1;
	return worst;
}
