/* auth.h - the ZAP authenticator: gives each connection a User-Id and an X-Role property. */
#ifndef LB_AUTH_H
#define LB_AUTH_H

#include "access.h"

#define LB_AUTH_DOMAIN "labbridge"

/* The authenticator's socket and its policy. */
typedef struct lb_auth {
	void *zctx;
	void *sock;	     /* REP, bound to inproc://zeromq.zap.01 */
	lb_role local_role;  /* role of loopback connections (NULL mechanism) */
	lb_role remote_role; /* role of other connections (NULL mechanism) */
} lb_auth;

/*
 * Take the ZAP requests of zctx (binds inproc://zeromq.zap.01): a socket takes part when its
 * ZMQ_ZAP_DOMAIN is set to LB_AUTH_DOMAIN. The main loop polls auth->sock and calls
 * lb_auth_handle when it is readable (libzmq's handshake waits for the answer without blocking
 * anyone: no thread of its own is needed). A new authenticator, or NULL on failure.
 */
lb_auth *lb_auth_new(void *zctx, lb_role local_role, lb_role remote_role);

/* Answer every ZAP request waiting (never blocks). */
void lb_auth_handle(lb_auth *auth);

/* Close the socket (before zmq_ctx_term) and free. Accepts NULL; nulls the pointer. */
void lb_auth_destroy(lb_auth **pauth);

/* The role a connection from address gets under the NULL mechanism (pure). */
lb_role lb_auth_role_for(const lb_auth *auth, const char *address);

#endif
