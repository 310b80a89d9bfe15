/* subs.c - the stream socket's subscriptions counted per connection, to bound their memory. */
#include "subs.h"

#include <stdlib.h>
#include <string.h>

#include "../util/grow.h"

/* One connection: its fd and the prefixes it holds, each stored as a length byte + bytes. */
typedef struct sub_conn {
	int fd;
	int doomed; /* got a verdict: being closed, its later messages are not counted */
	unsigned char **topics;
	size_t n, cap;
} sub_conn;

struct lb_subs {
	sub_conn *conn;
	size_t nconn, capconn;
	size_t total;
};

lb_subs *lb_subs_new(void)
{
	return calloc(1, sizeof(lb_subs));
}

/* Free a connection's prefixes. */
static void conn_clear(sub_conn *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->topics[i]);
	free(c->topics);
	c->topics = NULL;
	c->n = c->cap = 0;
}

void lb_subs_destroy(lb_subs **pt)
{
	if (!pt || !*pt)
		return;
	for (size_t i = 0; i < (*pt)->nconn; i++)
		conn_clear(&(*pt)->conn[i]);
	free((*pt)->conn);
	free(*pt);
	*pt = NULL;
}

/* The connection on fd, or NULL. */
static sub_conn *find(const lb_subs *t, int fd)
{
	for (size_t i = 0; i < t->nconn; i++)
		if (t->conn[i].fd == fd)
			return &t->conn[i];
	return NULL;
}

void lb_subs_close(lb_subs *t, int fd)
{
	sub_conn *c = t ? find(t, fd) : NULL;

	if (!c)
		return;
	t->total -= c->n;
	conn_clear(c);
	*c = t->conn[--t->nconn];
}

int lb_subs_open(lb_subs *t, int fd)
{
	sub_conn *c;

	if (!t || fd < 0)
		return LB_EINVAL;
	/* an fd is reused only after its connection closed: a stale entry is that connection's */
	lb_subs_close(t, fd);
	if (lb_grow(&t->conn, &t->capconn, t->nconn, sizeof *t->conn) < 0)
		return LB_ENOMEM;
	c = &t->conn[t->nconn++];
	memset(c, 0, sizeof *c);
	c->fd = fd;
	return 0;
}

int lb_subs_known(const lb_subs *t, int fd)
{
	return t && find(t, fd) != NULL;
}

/* The index of prefix p (len bytes) among c's, or -1. */
static long topic_index(const sub_conn *c, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->topics[i][0] == len && memcmp(c->topics[i] + 1, p, len) == 0)
			return (long)i;
	return -1;
}

lb_sub_verdict lb_subs_apply(lb_subs *t, int fd, const void *msg, size_t len)
{
	const unsigned char *m = msg;
	sub_conn *c = t ? find(t, fd) : NULL;
	unsigned char *copy;
	long i;

	if (!c || c->doomed)
		return LB_SUB_OK;
	if (len < 1 || (m[0] != 0 && m[0] != 1)) {
		c->doomed = 1;
		return LB_SUB_NOT_A_SUB;
	}
	if (len - 1 > LB_SUB_MAX_LEN) {
		c->doomed = 1;
		return LB_SUB_TOO_LONG;
	}
	i = topic_index(c, m + 1, len - 1);
	if (m[0] == 0) {
		/* unsubscribe: only a prefix it holds counts */
		if (i >= 0) {
			free(c->topics[i]);
			c->topics[i] = c->topics[--c->n];
			t->total--;
		}
		return LB_SUB_OK;
	}
	if (i >= 0)
		return LB_SUB_OK; /* libzmq keeps one entry per connection and prefix */
	if (c->n >= LB_SUB_MAX_PER_CONN) {
		c->doomed = 1;
		return LB_SUB_TOO_MANY;
	}
	if (t->total >= LB_SUB_MAX_TOTAL ||
	    lb_grow(&c->topics, &c->cap, c->n, sizeof *c->topics) < 0 || !(copy = malloc(len))) {
		c->doomed = 1;
		return LB_SUB_FULL;
	}
	copy[0] = (unsigned char)(len - 1);
	memcpy(copy + 1, m + 1, len - 1);
	c->topics[c->n++] = copy;
	t->total++;
	return LB_SUB_OK;
}

size_t lb_subs_count(const lb_subs *t, int fd)
{
	const sub_conn *c = t ? find(t, fd) : NULL;

	return c ? c->n : 0;
}

size_t lb_subs_total(const lb_subs *t)
{
	return t ? t->total : 0;
}

size_t lb_subs_connections(const lb_subs *t)
{
	return t ? t->nconn : 0;
}

size_t lb_subs_match(const lb_subs *t, const void *topic, size_t len, int *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; t && i < t->nconn && n < max; i++) {
		const sub_conn *c = &t->conn[i];
		if (c->doomed)
			continue;
		for (size_t k = 0; k < c->n; k++) {
			const unsigned char *p = c->topics[k];
			if (p[0] <= len && memcmp(p + 1, topic, p[0]) == 0) {
				fds[n++] = c->fd;
				break;
			}
		}
	}
	return n;
}
