/* subs.c - the stream socket's subscriptions counted per connection, to bound their memory. */
#include "subs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/grow.h"

/* What one requested prefix was granted: packed prefixes (length byte + bytes each). */
typedef struct sub_grant {
	unsigned char *p;
	size_t len;
	bool granted, dependent;
} sub_grant;

/* A prefix applied to the connection's pipe, and how many grants hold it. */
typedef struct sub_applied {
	unsigned char *p; /* length byte + bytes */
	unsigned refs;
} sub_applied;

/* One connection: its fd and the prefixes it holds, each stored as a length byte + bytes. */
typedef struct sub_conn {
	int fd;
	int doomed; /* got a verdict: being closed, its later messages are not counted */
	unsigned char **topics;
	sub_grant *gr; /* parallel to topics */
	size_t n, cap, capgr;
	sub_applied *ap;
	size_t nap, capap;
	bool identified;
	lb_role role;
	char user[128];
	uint64_t floor;
} sub_conn;

struct lb_subs {
	sub_conn *conn;
	size_t nconn, capconn;
	size_t total;
	uint64_t refused, narrowed;
};

lb_subs *lb_subs_new(void)
{
	return calloc(1, sizeof(lb_subs));
}

/* Free a connection's prefixes. */
static void conn_clear(sub_conn *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->topics[i]);
		free(c->gr[i].p);
	}
	for (size_t i = 0; i < c->nap; i++)
		free(c->ap[i].p);
	free(c->topics);
	free(c->gr);
	free(c->ap);
	c->topics = NULL;
	c->gr = NULL;
	c->ap = NULL;
	c->n = c->cap = c->capgr = c->nap = c->capap = 0;
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
			free(c->gr[i].p);
			c->topics[i] = c->topics[--c->n];
			c->gr[i] = c->gr[c->n];
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
	    lb_grow(&c->topics, &c->cap, c->n, sizeof *c->topics) < 0 ||
	    lb_grow(&c->gr, &c->capgr, c->n, sizeof *c->gr) < 0 || !(copy = malloc(len))) {
		c->doomed = 1;
		return LB_SUB_FULL;
	}
	copy[0] = (unsigned char)(len - 1);
	memcpy(copy + 1, m + 1, len - 1);
	memset(&c->gr[c->n], 0, sizeof c->gr[c->n]);
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
		/* what libzmq delivers: the prefixes applied once the connection is identified
		 * (lb_subs_grant), else those it asked for */
		for (size_t k = 0; k < (c->identified ? c->nap : c->n); k++) {
			const unsigned char *p = c->identified ? c->ap[k].p : c->topics[k];
			if (p[0] <= len && memcmp(p + 1, topic, p[0]) == 0) {
				fds[n++] = c->fd;
				break;
			}
		}
	}
	return n;
}

int lb_subs_set_identity(lb_subs *t, int fd, lb_role role, const char *user)
{
	sub_conn *c = t ? find(t, fd) : NULL;

	if (!c)
		return LB_EINVAL;
	c->identified = true;
	c->role = role;
	snprintf(c->user, sizeof c->user, "%s", user ? user : "anonymous");
	return 0;
}

bool lb_subs_identity(const lb_subs *t, int fd, lb_role *role, const char **user)
{
	const sub_conn *c = t ? find(t, fd) : NULL;

	if (!c || !c->identified)
		return false;
	*role = c->role;
	*user = c->user;
	return true;
}

void lb_subs_set_floor(lb_subs *t, int fd, uint64_t floor)
{
	sub_conn *c = t ? find(t, fd) : NULL;

	if (c)
		c->floor = floor;
}

bool lb_subs_current(const lb_subs *t, int fd, uint64_t connid)
{
	const sub_conn *c = t ? find(t, fd) : NULL;

	return c && connid >= c->floor;
}

/* The index of applied prefix p (len bytes) of c, or -1. */
static long applied_index(const sub_conn *c, const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < c->nap; i++)
		if (c->ap[i].p[0] == len && memcmp(c->ap[i].p + 1, p, len) == 0)
			return (long)i;
	return -1;
}

/* Whether packed (plen bytes) is well formed: every entry within it. */
static bool packed_ok(const unsigned char *packed, size_t plen)
{
	size_t at = 0;

	while (at < plen) {
		if (at + 1 + packed[at] > plen)
			return false;
		at += 1 + packed[at];
	}
	return true;
}

int lb_subs_grant(lb_subs *t, int fd, const void *prefix, size_t len, const unsigned char *packed,
		  size_t plen, bool dependent, lb_subs_apply_fn *apply, void *arg)
{
	sub_conn *c = t ? find(t, fd) : NULL;
	long i = c ? topic_index(c, prefix, len) : -1;
	size_t fresh = 0, at;
	sub_grant *g;

	if (i < 0 || c->gr[i].granted || !packed_ok(packed, plen))
		return 0;
	/* room first, so that nothing is applied when it cannot be recorded */
	for (at = 0; at < plen; at += 1 + packed[at])
		if (applied_index(c, packed + at + 1, packed[at]) < 0)
			fresh++;
	if (c->nap + fresh > LB_SUB_MAX_GRANTED)
		return LB_SUB_FULL;
	while (c->capap < c->nap + fresh)
		if (lb_grow(&c->ap, &c->capap, c->capap, sizeof *c->ap) < 0)
			return LB_SUB_FULL;
	g = &c->gr[i];
	if (plen && !(g->p = malloc(plen)))
		return LB_SUB_FULL;
	if (plen)
		memcpy(g->p, packed, plen);
	g->len = plen;
	g->granted = true;
	g->dependent = dependent;
	for (at = 0; at < plen; at += 1 + packed[at]) {
		long k = applied_index(c, packed + at + 1, packed[at]);
		unsigned char *copy;
		if (k >= 0) {
			c->ap[k].refs++;
			continue;
		}
		if (!(copy = malloc(1 + (size_t)packed[at])))
			continue; /* not applied, not recorded: the connection misses it */
		memcpy(copy, packed + at, 1 + (size_t)packed[at]);
		c->ap[c->nap].p = copy;
		c->ap[c->nap++].refs = 1;
		if (apply)
			apply(arg, packed + at + 1, packed[at], 1);
	}
	return 0;
}

void lb_subs_ungrant(lb_subs *t, int fd, const void *prefix, size_t len, lb_subs_apply_fn *apply,
		     void *arg)
{
	sub_conn *c = t ? find(t, fd) : NULL;
	long i = c ? topic_index(c, prefix, len) : -1;
	sub_grant *g;

	if (i < 0 || !c->gr[i].granted)
		return;
	g = &c->gr[i];
	for (size_t at = 0; at < g->len; at += 1 + g->p[at]) {
		long k = applied_index(c, g->p + at + 1, g->p[at]);
		if (k < 0 || --c->ap[k].refs > 0)
			continue;
		if (apply)
			apply(arg, c->ap[k].p + 1, c->ap[k].p[0], 0);
		free(c->ap[k].p);
		c->ap[k] = c->ap[--c->nap];
	}
	free(g->p);
	memset(g, 0, sizeof *g);
}

bool lb_subs_granted(const lb_subs *t, int fd, const void *prefix, size_t len)
{
	const sub_conn *c = t ? find(t, fd) : NULL;
	long i = c ? topic_index(c, prefix, len) : -1;

	return i >= 0 && c->gr[i].granted;
}

/* Whether packed lists a (alen bytes) and b (blen) hold the same prefixes (each without
 * duplicates). */
static bool same_set(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	size_t na = 0, nb = 0;

	for (size_t x = 0; x < alen; x += 1 + a[x], na++) {
		bool found = false;
		for (size_t y = 0; y < blen && !found; y += 1 + b[y])
			found = a[x] == b[y] && memcmp(a + x + 1, b + y + 1, a[x]) == 0;
		if (!found)
			return false;
	}
	for (size_t y = 0; y < blen; y += 1 + b[y])
		nb++;
	return na == nb;
}

size_t lb_subs_changed(lb_subs *t, lb_subs_regrant_fn *regrant, void *arg, int *fds, size_t max)
{
	unsigned char *buf = NULL;
	size_t cap = (size_t)LB_SUB_MAX_GRANTED * 256, nfd = 0;

	for (size_t i = 0; t && i < t->nconn && nfd < max; i++) {
		sub_conn *c = &t->conn[i];
		bool stale = false;
		if (c->doomed || !c->identified)
			continue;
		for (size_t k = 0; k < c->n && !stale; k++) {
			size_t n;
			if (!c->gr[k].granted || !c->gr[k].dependent)
				continue;
			if (!buf && !(buf = malloc(cap)))
				return nfd; /* out of memory: checked next time */
			n = regrant(arg, c->role, c->user, c->topics[k] + 1, c->topics[k][0], buf,
				    cap);
			stale = n == (size_t)-1 || !same_set(buf, n, c->gr[k].p, c->gr[k].len);
		}
		if (stale) {
			c->doomed = 1;
			fds[nfd++] = c->fd;
		}
	}
	free(buf);
	return nfd;
}

uint64_t lb_subs_refused(const lb_subs *t)
{
	return t ? t->refused : 0;
}

uint64_t lb_subs_narrowed(const lb_subs *t)
{
	return t ? t->narrowed : 0;
}

void lb_subs_count_verdict(lb_subs *t, int refused)
{
	if (t && refused)
		t->refused++;
	else if (t)
		t->narrowed++;
}
