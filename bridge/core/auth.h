/* auth.h - who is connected: the ZAP authenticator, and the Unix user behind local connections. */
#ifndef LB_AUTH_H
#define LB_AUTH_H

#include <jansson.h>
#include <stdint.h>

#include "access.h"

#define LB_AUTH_DOMAIN "labbridge"

/* What the bridge remembers of one local connection (by fd, checked against its inode). */
typedef struct lb_auth_conn {
	int fd;
	unsigned long ino;
	char user[64];
	lb_role role;
} lb_auth_conn;

/* The authenticator's socket, its policy, and the identities of the local connections. */
typedef struct lb_auth {
	void *zctx;
	void *sock; /* REP, bound to inproc://zeromq.zap.01 */
	lb_policy policy;
	lb_auth_conn *conn;
	size_t nconn, capconn;
	struct lb_keys *keys;	/* the clients' CURVE keys (keys.h, borrowed), or NULL: none */
	int64_t refused_logged; /* when an unknown key was last logged (monotonic ns) */
	unsigned refused;	/* unknown keys refused since */
	/* Every answered handshake gets the property X-Conn: next_conn, counting up (a connection's
	 * number, never reused; subs.h tells an old connection's queued messages from a new one's
	 * on the same fd by it). before_answer (if set) runs before each number is given. */
	uint64_t next_conn;
	void (*before_answer)(void *arg);
	void *before_arg;
} lb_auth;

/*
 * Take the ZAP requests of zctx (binds inproc://zeromq.zap.01): a socket takes part when its
 * ZMQ_ZAP_DOMAIN is set to LB_AUTH_DOMAIN. The main loop polls auth->sock and calls
 * lb_auth_handle when it is readable (libzmq's handshake waits for the answer without blocking
 * anyone: no thread of its own is needed). A new authenticator, or NULL on failure.
 */
lb_auth *lb_auth_new(void *zctx, const lb_policy *policy);

/*
 * Answer every ZAP request waiting (never blocks). A NULL connection from this computer gets the
 * User-Id "local:<address>" and the property X-Local: its Unix user is asked of the kernel on its
 * first request (lb_auth_local); another one gets "remote:<address>" and X-Role remote_role.
 * A CURVE connection (the network sockets, net.h) is looked up by its public key in auth->keys
 * (looked at again if its directory changed, now monotonic ns): a registered key gets User-Id
 * "key:<Z85 public key>", X-Role and X-Name from its certificate; an unknown one status 400 and
 * nothing else (logged, at most every 10 s). Any other mechanism: 400.
 */
void lb_auth_handle(lb_auth *auth, int64_t now);

/*
 * Identify a local connection (fd, from a request's ZMQ_SRCFD): its Unix user from the kernel
 * (peer.h) as "unix:NAME" in user (cap bytes), and its role by the policy. Remembered for the
 * connection (lb_auth_forget when it closes). When the kernel does not say (the connection is
 * already gone), user is "local:unknown" and the role observer: 0 or LB_EFAIL, logged.
 */
int lb_auth_local(lb_auth *auth, int fd, char *user, size_t cap, lb_role *role);

/* Forget what lb_auth_local remembered of a connection that closed. */
void lb_auth_forget(lb_auth *auth, int fd);

/* Close the socket (before zmq_ctx_term) and free. Accepts NULL; nulls the pointer. */
void lb_auth_destroy(lb_auth **pauth);

/* Whether a ZAP peer address is this computer (loopback IP, or "localhost:uid:gid:pid" ipc). */
bool lb_auth_address_local(const char *address);

/*
 * The policy of [access] (see lb_policy): teachers = users and @groups (default: the user running
 * the bridge, and root), local_role (student), remote_role (observer), default_role (deprecated:
 * one role for every local program, logged as a warning). 0, or LB_EINVAL with err naming the
 * file and line of an unknown user or group.
 */
int lb_policy_load(const json_t *cfg, lb_policy *p, lb_error *err);

#endif
