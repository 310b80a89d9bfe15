/* subs.h - the stream socket's subscriptions counted per connection, to bound their memory. */
#ifndef LB_SUBS_H
#define LB_SUBS_H

#include <stddef.h>

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
 * libzmq's XPUB matches; "" matches everything), not being closed. Up to max of their fds go to
 * fds, in no particular order; returns how many. Costs one comparison per prefix held.
 */
size_t lb_subs_match(const lb_subs *t, const void *topic, size_t len, int *fds, size_t max);

#endif
