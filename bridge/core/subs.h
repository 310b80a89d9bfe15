/* subs.h - the stream socket's subscriptions counted per connection, to bound their memory. */
#ifndef LB_SUBS_H
#define LB_SUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "access.h"

/*
 * libzmq's XPUB keeps every subscription of every connection in its trie until the connection
 * closes, and cannot refuse one (ZMQ_XPUB_MANUAL still records each in a second trie). The bridge
 * bounds that memory by closing a connection that goes over the limits below: it sees each
 * subscription and unsubscription (ZMQ_XPUB_VERBOSER) with its connection's fd (ZMQ_SRCFD), and
 * keeps here the exact set of prefixes each connection holds (a repeated or unknown
 * unsubscription cannot fool the count). A connection is known from its ACCEPTED monitor event to
 * its DISCONNECTED one.
 */
#define LB_SUB_MAX_LEN 128	/* bytes of a subscription prefix */
#define LB_SUB_MAX_PER_CONN 256 /* prefixes one connection may hold at once */
#define LB_SUB_MAX_TOTAL 4096	/* prefixes all connections together may hold */

typedef struct lb_subs lb_subs;

/* What lb_subs_apply decided. */
typedef enum lb_sub_verdict {
	LB_SUB_OK = 0,	  /* counted (or not ours to count: an unknown connection) */
	LB_SUB_TOO_LONG,  /* a prefix over LB_SUB_MAX_LEN bytes: close the connection */
	LB_SUB_TOO_MANY,  /* over LB_SUB_MAX_PER_CONN: close the connection */
	LB_SUB_FULL,	  /* over LB_SUB_MAX_TOTAL: close the connection */
	LB_SUB_NOT_A_SUB, /* neither 0x01 nor 0x00 first: a stray message, close */
} lb_sub_verdict;

/* An empty table; NULL when out of memory. */
lb_subs *lb_subs_new(void);

/* Free the table. Accepts NULL; nulls the pointer. */
void lb_subs_destroy(lb_subs **pt);

/* A connection was accepted on fd (it starts with no subscription). 0 or LB_ENOMEM. */
int lb_subs_open(lb_subs *t, int fd);

/* The connection on fd closed: forget it and its prefixes. Unknown fds are ignored. */
void lb_subs_close(lb_subs *t, int fd);

/* Whether fd is a connection the table knows (accepted, not yet closed). */
int lb_subs_known(const lb_subs *t, int fd);

/*
 * One message the XPUB received from the connection on fd: 0x01 <prefix> subscribes, 0x00
 * <prefix> unsubscribes. Messages of an unknown fd (the recorder's inproc connection, or a
 * connection already closed) are not counted: LB_SUB_OK. After a verdict other than LB_SUB_OK the
 * caller closes the connection (its prefixes stay counted until lb_subs_close). Out of memory
 * counts as LB_SUB_FULL.
 */
lb_sub_verdict lb_subs_apply(lb_subs *t, int fd, const void *msg, size_t len);

/* Prefixes held by the connection on fd (0 if unknown), and by all connections. */
size_t lb_subs_count(const lb_subs *t, int fd);
size_t lb_subs_total(const lb_subs *t);

/* Connections known. */
size_t lb_subs_connections(const lb_subs *t);

/*
 * The connections that receive a message on topic (len bytes): those holding a prefix of it (as
 * libzmq's XPUB matches; "" matches everything), not being closed; for a connection with an
 * identity, the prefixes granted to it (lb_subs_grant), which are what libzmq delivers. Up to max
 * of their fds go to fds, in no particular order; returns how many. Costs one comparison per prefix
 * held.
 */
size_t lb_subs_match(const lb_subs *t, const void *topic, size_t len, int *fds, size_t max);

/*
 * What each subscription of a connection was granted (topics.h): with ZMQ_XPUB_MANUAL libzmq
 * delivers to a connection only the prefixes the bridge applies to it (ZMQ_SUBSCRIBE right after
 * receiving one of its messages), so the bridge keeps, per requested prefix, the prefixes it
 * applied (none: refused), counted per connection (two requests granted the same prefix apply it
 * once and remove it with the last).
 */
#define LB_SUB_MAX_GRANTED 1024 /* prefixes applied to one connection at once */

/* Called with each prefix to apply (on 1) or remove (on 0) on the connection's pipe. */
typedef void lb_subs_apply_fn(void *arg, const void *prefix, size_t len, int on);

/*
 * The connection's identity, once (from its first subscription): its role and user, the
 * handshake's connection number (X-Conn, auth.h) of its messages. A connection must have been
 * opened; 0, or LB_EINVAL for an unknown fd.
 */
int lb_subs_set_identity(lb_subs *t, int fd, lb_role role, const char *user);

/* Whether the connection has an identity; its role and user (valid until it closes). */
bool lb_subs_identity(const lb_subs *t, int fd, lb_role *role, const char **user);

/*
 * The least handshake number a message of the connection on fd may carry (auth's next number
 * when its ACCEPTED event was read): a smaller one is a message of an earlier connection that had
 * the same fd, still queued in libzmq (see server.c). lb_subs_current says whether connid is the
 * connection's.
 */
void lb_subs_set_floor(lb_subs *t, int fd, uint64_t floor);
bool lb_subs_current(const lb_subs *t, int fd, uint64_t connid);

/*
 * The subscription to prefix (len bytes, held since lb_subs_apply) was granted the prefixes in
 * packed (each: one length byte then its bytes; plen bytes in all; none = refused). apply is
 * called for each granted prefix the connection did not hold yet. dependent: the grant follows
 * ownership or the devices present (lb_subs_changed may find it stale). Granting a prefix already
 * granted does nothing. 0; LB_SUB_FULL (nothing applied: close the connection) over
 * LB_SUB_MAX_GRANTED or out of memory; an unknown fd or prefix: 0, nothing applied.
 */
int lb_subs_grant(lb_subs *t, int fd, const void *prefix, size_t len, const unsigned char *packed,
		  size_t plen, bool dependent, lb_subs_apply_fn *apply, void *arg);

/*
 * The connection on fd unsubscribes from prefix (before lb_subs_apply forgets it): apply(…, 0)
 * for each prefix granted to it that no other of its subscriptions holds. Unknown: nothing.
 */
void lb_subs_ungrant(lb_subs *t, int fd, const void *prefix, size_t len, lb_subs_apply_fn *apply,
		     void *arg);

/* Whether prefix (len bytes) of connection fd has been granted (refused counts as granted). */
bool lb_subs_granted(const lb_subs *t, int fd, const void *prefix, size_t len);

/*
 * Compute what a dependent subscription would be granted now: fill out (cap bytes) packed as for
 * lb_subs_grant and return its length, or (size_t)-1 when it does not fit.
 */
typedef size_t lb_subs_regrant_fn(void *arg, lb_role role, const char *user, const void *prefix,
				  size_t len, unsigned char *out, size_t cap);

/*
 * The connections (up to max of their fds, returned count) with a dependent subscription whose
 * grant differs from what regrant computes now (a lease taken or released, a job ended, a device
 * added or removed): the caller closes them (libzmq cannot take a prefix back from one connection
 * later), they reconnect and subscribe again under the new rules.
 */
size_t lb_subs_changed(lb_subs *t, lb_subs_regrant_fn *regrant, void *arg, int *fds, size_t max);

/* Subscriptions refused or narrowed since the start. */
uint64_t lb_subs_refused(const lb_subs *t);
uint64_t lb_subs_narrowed(const lb_subs *t);
void lb_subs_count_verdict(lb_subs *t, int refused);

#endif
