/* net.h - the network's endpoints: a ROUTER and an XPUB of their own, CURVE only, keys and roles.
 */
#ifndef LB_NET_H
#define LB_NET_H

#include <stdbool.h>
#include <zmq.h>

#include "../util/clock.h"
#include "../util/error.h"
#include "access.h"
#include "server.h"

struct lb_keys;

/* Whether endpoint ep is reachable from this computer only: ipc://, inproc://, or tcp:// and
 * ws:// on a loopback address (127.x, [::1], localhost, lo). */
bool lb_endpoint_loopback(const char *ep);

/*
 * Check the local endpoints (pub, rpc) are loopback ones, then open the network's own when the
 * options name them (net_pub, net_rpc): the bridge's key pair (made on first need, keys.h), the
 * key store (at least one client key, or the bridge does not start), a ROUTER and an XPUB with
 * ZMQ_CURVE_SERVER and the ZAP domain, the local sockets' limits, and monitors. 0 (nothing to do
 * without net_*), or LB_EFAIL with the reason logged (how to make keys, which option to use).
 */
int srv_net_open(lb_server *s);

/* Close the network's sockets and free the store (before zmq_ctx_term). Safe when not opened. */
void srv_net_close(lb_server *s);

/*
 * A request from the network socket: is its key still registered (the store looked at again if its
 * directory changed)? Notes when it was last seen and which connection uses it. 0, or LB_EFAIL
 * with err (forbidden: the key was revoked since the connection was made).
 */
int srv_net_check(lb_server *s, lb_client *c, lb_now now, lb_error *err);

/* Close the network connections that made requests with public key pub (a key just revoked). The
 * number closed. */
int srv_net_drop_key(lb_server *s, const char *pub);

/* A subscription message m from network stream connection fd: remember the key it uses (its
 * User-Id), so that revoking the key closes this connection too. */
void srv_net_note_sub(lb_server *s, zmq_msg_t *m, int fd);

/* When the key store changed (looked at again at most every LB_KEYS_CHECK_NS of now, monotonic
 * ns): close the network connections, requests and streams, whose key is no longer registered (a
 * certificate removed by hand). Cheap when nothing changed: call it every turn of the loop. */
void srv_net_sweep(lb_server *s, int64_t now);

/* The key store, or NULL when the bridge has no data directory (borrowed). */
struct lb_keys *srv_keys(lb_server *s);

/* The bridge's public key (Z85), made on first need; NULL with err set when it cannot be. */
const char *srv_server_key(lb_server *s, lb_error *err);

#endif
