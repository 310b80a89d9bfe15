/* subpolicy.h - the stream socket's subscriptions applied by role and ownership (topics.h) on a
 * manual XPUB. */
#ifndef LB_SUBPOLICY_H
#define LB_SUBPOLICY_H

#include <jansson.h>
#include <stddef.h>
#include <zmq.h>

#include "server.h"

/*
 * One (un)subscription m just received on the stream socket sock (ZMQ_XPUB_MANUAL) from the
 * connection on fd (ZMQ_SRCFD; -1 without metadata: the in-process recorder, known by its key
 * (srv_streams_token), or a plain ZWS2.0 WebSocket page, an anonymous observer), counted first:
 * the subscriber is identified (once per connection), its prefix checked (topics.h) and only what
 * it may receive applied to its pipe (zmq_setsockopt right after the receive); a refusal is
 * logged with who and what, and counted (bridge.info). A message of a closed connection, or of
 * an earlier connection that had the same fd (its handshake number X-Conn below the
 * connection's floor), is ignored: its pipe may be gone. 0, or an lb_sub_verdict (why says
 * why, cap bytes) after which the caller closes the connection.
 */
int srv_sub_message(lb_server *s, void *sock, zmq_msg_t *m, int fd, char *why, size_t cap);

/*
 * The connections (up to max fds) whose subscriptions would be granted differently now (a lease,
 * a job, the devices present changed): the caller closes them, they subscribe again.
 */
size_t srv_sub_changed(lb_server *s, int *fds, size_t max);

/* {connections, prefixes, refused, narrowed}, for bridge.info. New reference. */
json_t *srv_sub_stats(lb_server *s);

#endif
