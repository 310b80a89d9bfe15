/* conns.h - bytes each TCP connection sent against what libzmq delivered of them, to close the
 * connections that send a multipart message that never ends. */
#ifndef LB_CONNS_H
#define LB_CONNS_H

#include <stddef.h>
#include <stdint.h>

/*
 * libzmq 4.3.4 delivers a multipart message only when its last frame arrives and keeps every
 * earlier frame until then; its high-water marks count whole messages and ZMQ_MAXMSGSIZE bounds a
 * frame, not a message. A peer that sends frames with the MORE flag forever grows the bridge
 * without bound, and no libzmq option stops it. The kernel counts the bytes each TCP connection
 * received (TCP_INFO's tcpi_bytes_received); the bridge counts here what libzmq delivered from it
 * (each message with its connection's fd, ZMQ_SRCFD). A connection whose undelivered bytes go
 * over its allowance while nothing was delivered from it for LB_CONN_STALL_NS is holding an
 * unfinished message (the frames of a connection are delivered in order: while one message is
 * open, nothing after it is delivered): the caller closes it.
 *
 * Framing, handshakes and heartbeats are never delivered: each delivered frame is credited
 * LB_CONN_FRAME_OVERHEAD bytes more than its size (ZMTP, CURVE and WebSocket framing take less),
 * and the time that passes LB_CONN_PER_SECOND bytes a second. Credit never exceeds what the
 * connection received, so that an idle or chatty connection cannot bank it for a later attack.
 */
#define LB_CONN_ALLOWANCE (2u * 1024 * 1024) /* undelivered bytes tolerated (> 1 MiB frame) */
/* On the stream socket (frames of at most 512 bytes, subscriptions only): libzmq's WebSocket
 * engine holds ~9 bytes for each byte of small frames, so a smaller allowance there. */
#define LB_CONN_ALLOWANCE_STREAM (256u * 1024)
#define LB_CONN_FRAME_OVERHEAD 64u  /* bytes credited per delivered frame */
#define LB_CONN_PER_SECOND 64u	    /* bytes credited per second (heartbeats) */
#define LB_CONN_STALL_NS 20000000LL /* nothing delivered for 20 ms */

typedef struct lb_conns lb_conns;

/* An empty table; NULL when out of memory. */
lb_conns *lb_conns_new(void);

/* Free the table. Accepts NULL; nulls the pointer. */
void lb_conns_destroy(lb_conns **pt);

/* Connection fd of socket sock (the caller's tag: 0 stream, 1 request) was accepted at now (ns),
 * having received `received` bytes so far (its handshake); it may hold `allowance` bytes
 * undelivered (LB_CONN_ALLOWANCE, LB_CONN_ALLOWANCE_STREAM). 0 or LB_ENOMEM. */
int lb_conns_open(lb_conns *t, int sock, int fd, uint64_t received, uint64_t allowance,
		  int64_t now);

/* The connection closed: forget it. Unknown ones are ignored. */
void lb_conns_close(lb_conns *t, int sock, int fd);

/* libzmq delivered a message of `frames` frames, `bytes` bytes in all, from connection fd of
 * socket sock at now. Unknown connections (ipc, inproc, closed) are ignored. */
void lb_conns_delivered(lb_conns *t, int sock, int fd, uint64_t bytes, unsigned frames,
			int64_t now);

/* Connections known, and the socket tag and fd of the i-th (i < lb_conns_count). */
size_t lb_conns_count(const lb_conns *t);
int lb_conns_sock(const lb_conns *t, size_t i);
int lb_conns_fd(const lb_conns *t, size_t i);

/*
 * The i-th connection has received `received` bytes in all at now: credit the time passed, and
 * say whether to close it (1, once: later calls for it return 0) or not (0). *undelivered gets
 * the bytes received and not accounted for.
 */
int lb_conns_check(lb_conns *t, size_t i, uint64_t received, int64_t now, uint64_t *undelivered);

/*
 * Many connections can each stay under their allowance and still add up: the held bytes of all
 * of them are bounded too. Each connection's undelivered bytes count LB_CONN_STREAM_WEIGHT times
 * on the stream socket (sock 0: the WebSocket engine's ~9 bytes a byte), once on the request
 * socket; while the sum of the connections not yet closed exceeds LB_CONNS_BUDGET, the one
 * holding most is closed. Legitimate clients hold next to nothing undelivered (their messages
 * are delivered as they arrive).
 */
#define LB_CONN_STREAM_WEIGHT 8u
#define LB_CONNS_BUDGET (24u * 1024 * 1024)

/*
 * Given undelivered[i] for every connection i (as lb_conns_check gave it this round), the index
 * of the connection to close for the budget (marked closed, so that it is not chosen again and no
 * longer counts), or -1 when the rest fits. Call until -1.
 */
long lb_conns_over_budget(lb_conns *t, const uint64_t *undelivered, uint64_t budget);

#endif
