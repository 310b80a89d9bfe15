/* outlimit.h - each stream subscriber's backlog in libzmq estimated, to close those that stop
 * reading. */
#ifndef LB_OUTLIMIT_H
#define LB_OUTLIMIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * libzmq's XPUB queues every message for each subscriber connection until the kernel takes it,
 * up to ZMQ_SNDHWM messages whatever their size: a client that subscribes to a scanner's image
 * (64 KiB bands) and stops reading holds 10 000 x 64 KiB in the bridge. Like Redis's
 * client-output-buffer-limit, the bridge closes a subscriber whose backlog exceeds a limit.
 *
 * The estimate, per connection: each bulk message (LB_OUT_BULK bytes or more, on the wire)
 * published on a topic the connection subscribes to adds its wire size; what the kernel took
 * from libzmq is taken off, read from the kernel only when the estimate has grown by
 * a step (limit / LB_OUT_STEPS) since the last look, or goes over the limit:
 * - TCP (tcp://, ws://): bytes written into the socket so far (TCP_INFO's tcpi_bytes_acked +
 *   SIOCOUTQ). Exact for the bulk messages; the small ones are not counted but their bytes
 *   written are taken off too, so the estimate never goes below 0 (credit is not banked): it
 *   errs low by the small messages queued since it was last 0 (a stalled client: none written,
 *   the estimate is exact);
 * - unix sockets (ipc://): no counter of bytes written, only of those unread (SIOCOUTQ). libzmq
 *   writes as soon as the kernel lets it (a unix socket is writable again at 1/4 full): a
 *   socket less than 1/8 full means libzmq held nothing more for it when it was last writable,
 *   and the estimate starts again from 0. A reader that empties its socket at the very moment
 *   the bridge looks, before libzmq refilled it, is missed once (it had read 7/8 of a socket).
 *   Looks at publishing times are biased towards a full socket during a burst: the kernel is
 *   also asked at the first bulk message LB_OUT_PAUSE_NS or more after the last look (a reader
 *   that caught up during a pause is seen so).
 *
 * Connections whose subscriptions are unknown ("blind": libzmq 4.3.4's WebSocket engine gives
 * ws:// messages no ZMQ_SRCFD, so subs.c cannot tell their prefixes) are offered every bulk
 * message, and count it only while their kernel send queue is backed up (LB_OUT_BACKED bytes
 * unsent or unacknowledged, looked at every LB_OUT_GATE_NS at most): a client that keeps up, or
 * is not subscribed to the bulk topic and reads its own, is not counted; a stalled one is (also
 * when its socket filled with other topics: it is stalled all the same).
 */
#define LB_OUT_BULK 4096u /* messages smaller than this are not counted (sensor samples) */
#define LB_OUT_STEPS 8u	  /* the kernel is asked every limit / LB_OUT_STEPS bytes counted */
#define LB_OUT_PAUSE_NS 10000000LL  /* ... and, for unix sockets, after a 10 ms pause */
#define LB_OUT_BACKED (256u * 1024) /* a blind connection's send queue counted as backed up */
#define LB_OUT_GATE_NS 1000000LL    /* how often a blind connection's send queue is looked at */

typedef struct lb_outlimit lb_outlimit;

/* How a connection's progress is read. */
typedef enum lb_out_kind {
	LB_OUT_TCP = 0,	 /* tcp:// or ws://: bytes written into the socket, cumulative */
	LB_OUT_UNIX = 1, /* ipc://: bytes unread in the socket and its buffer size */
} lb_out_kind;

/* What the kernel says of a connection (lb_outlimit_probe_fn's answer). */
typedef struct lb_out_progress {
	uint64_t written; /* LB_OUT_TCP: bytes written into the socket since it was opened */
	uint64_t unread;  /* bytes in the socket not yet read (unix) or acknowledged (TCP) */
	uint64_t sndbuf;  /* LB_OUT_UNIX: the socket's buffer size (what makes it full) */
} lb_out_progress;

/* Read connection fd's progress into *p: 0, or -1 when the kernel does not say (the connection
 * is then not counted down, and not closed on that look). */
typedef int (*lb_outlimit_probe_fn)(void *arg, int fd, lb_out_kind kind, lb_out_progress *p);

/* The kernel's answer for fd (getsockopt, ioctl): lb_outlimit_probe_fn for the bridge. */
int lb_outlimit_kernel_probe(void *arg, int fd, lb_out_kind kind, lb_out_progress *p);

/* The kind of socket fd is (LB_OUT_TCP or LB_OUT_UNIX), or -1 (not a socket, inproc). */
int lb_outlimit_kind_of(int fd);

/* Each frame of a message costs its size and its ZMTP header (2 bytes, 9 from 256 bytes). */
uint64_t lb_outlimit_wire_size(const size_t *frames, int nframes);

/* An empty table closing connections over limit bytes (0: none is ever closed); NULL when out of
 * memory. The probe reads a connection's progress (lb_outlimit_kernel_probe; tests give
 * theirs), with arg. */
lb_outlimit *lb_outlimit_new(uint64_t limit, lb_outlimit_probe_fn probe, void *arg);

/* Free the table. Accepts NULL; nulls the pointer. */
void lb_outlimit_destroy(lb_outlimit **pt);

/* A connection was accepted on fd at now (ns), of kind; its progress is read now as a base
 * (a connection whose probe fails is not watched: 0). 0, LB_EINVAL or LB_ENOMEM. */
int lb_outlimit_open(lb_outlimit *t, int fd, lb_out_kind kind, int64_t now);

/* The subscriptions of connection fd are unknown (ws://): it is offered every bulk message
 * (lb_outlimit_blind lists such connections). Unknown fds are ignored. */
void lb_outlimit_set_blind(lb_outlimit *t, int fd);

/* Up to max fds of the blind connections not being closed, in fds; returns how many. */
size_t lb_outlimit_blind(const lb_outlimit *t, int *fds, size_t max);

/* The connection on fd closed: forget it. Unknown fds are ignored. */
void lb_outlimit_close(lb_outlimit *t, int fd);

/*
 * A message of `bytes` wire bytes was queued for connection fd at now (the caller found that fd
 * subscribes to its topic, or fd is blind: then counted only while its send queue is backed
 * up). Messages under LB_OUT_BULK bytes and unknown fds are ignored.
 * Returns 1 when the connection's backlog is over the limit: the caller closes it (1 once; the
 * connection is no longer counted until lb_outlimit_close); 0 otherwise.
 */
int lb_outlimit_queued(lb_outlimit *t, int fd, uint64_t bytes, int64_t now);

/* The estimated backlog of fd (0 if unknown), and since when (ns) it has not been 0 (as far as
 * the looks tell: from the first bulk message counted after a look that found it at 0). */
uint64_t lb_outlimit_held(const lb_outlimit *t, int fd);
int64_t lb_outlimit_since(const lb_outlimit *t, int fd);

/* Connections known. */
size_t lb_outlimit_connections(const lb_outlimit *t);

#endif
