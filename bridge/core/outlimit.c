/* outlimit.c - each stream subscriber's backlog in libzmq estimated, to close those that stop
 * reading. */
#include "outlimit.h"

#include <linux/sockios.h> /* SIOCOUTQ */
#include <linux/tcp.h>	   /* struct tcp_info with tcpi_bytes_acked (not in glibc's) */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "../util/error.h"
#include "../util/grow.h"

/* One connection watched. */
typedef struct out_conn {
	int fd;
	lb_out_kind kind;
	int doomed;	  /* over the limit: being closed, no longer counted */
	int blind;	  /* its subscriptions are unknown: counted while backed up */
	int backed;	  /* blind: its send queue was backed up at the last look */
	uint64_t held;	  /* estimated bytes libzmq holds for it */
	uint64_t next;	  /* ask the kernel when held reaches this */
	uint64_t written; /* LB_OUT_TCP: the kernel's count at the last look */
	int64_t since;	  /* when held was last seen at 0 */
	int64_t looked;	  /* when the kernel was last asked */
} out_conn;

/* fds below this are found through an index (1 + their entry), the others by a search */
#define FD_INDEX 1024

struct lb_outlimit {
	uint64_t limit, step;
	lb_outlimit_probe_fn probe;
	void *arg;
	out_conn *conn;
	size_t n, cap;
	uint16_t index[FD_INDEX];
};

int lb_outlimit_kernel_probe(void *arg, int fd, lb_out_kind kind, lb_out_progress *p)
{
	int outq = 0, sndbuf = 0;
	socklen_t len;

	(void)arg;
	memset(p, 0, sizeof *p);
	if (ioctl(fd, SIOCOUTQ, &outq) < 0 || outq < 0)
		return -1;
	if (kind == LB_OUT_TCP) {
		struct tcp_info ti;
		len = sizeof ti;
		memset(&ti, 0, sizeof ti);
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
		    len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked)
			return -1;
		/* acknowledged by the peer, plus in the socket still: all libzmq wrote */
		p->written = ti.tcpi_bytes_acked + (uint64_t)outq;
		p->unread = (uint64_t)outq;
		return 0;
	}
	len = sizeof sndbuf;
	if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0 || sndbuf <= 0)
		return -1;
	p->unread = (uint64_t)outq;
	p->sndbuf = (uint64_t)sndbuf;
	return 0;
}

int lb_outlimit_kind_of(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof a;

	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	if (a.ss_family == AF_INET || a.ss_family == AF_INET6)
		return LB_OUT_TCP;
	if (a.ss_family == AF_UNIX)
		return LB_OUT_UNIX;
	return -1;
}

uint64_t lb_outlimit_wire_size(const size_t *frames, int nframes)
{
	uint64_t n = 0;

	for (int i = 0; i < nframes; i++)
		n += frames[i] + (frames[i] > 255 ? 9 : 2);
	return n;
}

lb_outlimit *lb_outlimit_new(uint64_t limit, lb_outlimit_probe_fn probe, void *arg)
{
	lb_outlimit *t;

	if (!probe)
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->limit = limit;
	t->step = limit / LB_OUT_STEPS ? limit / LB_OUT_STEPS : 1;
	t->probe = probe;
	t->arg = arg;
	return t;
}

void lb_outlimit_destroy(lb_outlimit **pt)
{
	if (!pt || !*pt)
		return;
	free((*pt)->conn);
	free(*pt);
	*pt = NULL;
}

/* The connection on fd, or NULL. */
static out_conn *out_find(const lb_outlimit *t, int fd)
{
	if (fd >= 0 && fd < FD_INDEX)
		return t->index[fd] ? &t->conn[t->index[fd] - 1] : NULL;
	for (size_t i = 0; i < t->n; i++)
		if (t->conn[i].fd == fd)
			return &t->conn[i];
	return NULL;
}

/* Point fd's index entry at entry i (or at none: i = -1). */
static void set_index(lb_outlimit *t, int fd, long i)
{
	if (fd >= 0 && fd < FD_INDEX)
		t->index[fd] = (uint16_t)(i + 1);
}

void lb_outlimit_close(lb_outlimit *t, int fd)
{
	out_conn *c = t ? out_find(t, fd) : NULL;

	if (!c)
		return;
	set_index(t, fd, -1);
	*c = t->conn[--t->n];
	if (c != &t->conn[t->n])
		set_index(t, c->fd, c - t->conn); /* the last one moved into its place */
}

int lb_outlimit_open(lb_outlimit *t, int fd, lb_out_kind kind, int64_t now)
{
	lb_out_progress p;
	out_conn *c;

	if (!t || fd < 0 || (kind != LB_OUT_TCP && kind != LB_OUT_UNIX))
		return LB_EINVAL;
	/* an fd is reused only after its connection closed: a stale entry is that connection's */
	lb_outlimit_close(t, fd);
	if (t->limit == 0 || t->probe(t->arg, fd, kind, &p) < 0)
		return 0;
	if (t->n >= UINT16_MAX || lb_grow(&t->conn, &t->cap, t->n, sizeof *t->conn) < 0)
		return LB_ENOMEM;
	set_index(t, fd, (long)t->n);
	c = &t->conn[t->n++];
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->kind = kind;
	c->written = p.written;
	c->next = t->step;
	c->since = c->looked = now;
	return 0;
}

/* Take off c's backlog what the kernel says it took since the last look. */
static void look(lb_outlimit *t, out_conn *c, int64_t now)
{
	lb_out_progress p;

	c->looked = now;
	if (t->probe(t->arg, c->fd, c->kind, &p) < 0)
		return;
	c->backed = p.unread >= LB_OUT_BACKED;
	if (c->kind == LB_OUT_TCP) {
		uint64_t took = p.written >= c->written ? p.written - c->written : 0;
		c->written = p.written;
		/* never below 0: the small messages' bytes are not banked as credit */
		c->held = c->held > took ? c->held - took : 0;
	} else if (p.unread < p.sndbuf / 8) {
		/* the socket is being emptied: libzmq had nothing more to write */
		c->held = 0;
	}
	if (c->held == 0)
		c->since = now;
}

int lb_outlimit_queued(lb_outlimit *t, int fd, uint64_t bytes, int64_t now)
{
	out_conn *c;

	if (!t || bytes < LB_OUT_BULK || !(c = out_find(t, fd)) || c->doomed)
		return 0;
	if (c->blind) {
		/* only while its send queue is backed up (looking updates held too) */
		if (now - c->looked >= LB_OUT_GATE_NS)
			look(t, c, now);
		if (!c->backed)
			return 0;
	}
	if (c->held == 0)
		c->since = now; /* falling behind from now on */
	c->held += bytes;
	if (c->held < c->next && c->held <= t->limit &&
	    (c->kind == LB_OUT_TCP || now - c->looked < LB_OUT_PAUSE_NS))
		return 0;
	look(t, c, now);
	c->next = c->held + t->step;
	if (c->held <= t->limit)
		return 0;
	c->doomed = 1;
	return 1;
}

void lb_outlimit_set_blind(lb_outlimit *t, int fd)
{
	out_conn *c = t ? out_find(t, fd) : NULL;

	if (c)
		c->blind = 1;
}

size_t lb_outlimit_blind(const lb_outlimit *t, int *fds, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; t && i < t->n && n < max; i++)
		if (t->conn[i].blind && !t->conn[i].doomed)
			fds[n++] = t->conn[i].fd;
	return n;
}

uint64_t lb_outlimit_held(const lb_outlimit *t, int fd)
{
	const out_conn *c = t ? out_find(t, fd) : NULL;

	return c ? c->held : 0;
}

int64_t lb_outlimit_since(const lb_outlimit *t, int fd)
{
	const out_conn *c = t ? out_find(t, fd) : NULL;

	return c ? c->since : 0;
}

size_t lb_outlimit_connections(const lb_outlimit *t)
{
	return t ? t->n : 0;
}
