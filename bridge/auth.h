/* auth.h - the ZAP authenticator: gives each connection a User-Id and an X-Role property. */
#ifndef LB_AUTH_H
#define LB_AUTH_H

#include <pthread.h>

#include "access.h"

#define LB_AUTH_DOMAIN "labbridge"

/* The authenticator thread and its policy. */
typedef struct lb_auth {
	void *zctx;
	pthread_t thread;
	void *sock;
	lb_role local_role;  /* role of loopback connections (NULL mechanism) */
	lb_role remote_role; /* role of other connections (NULL mechanism) */
	int started;
} lb_auth;

/*
 * Start answering ZAP requests in zctx (binds inproc://zeromq.zap.01). A socket takes part when
 * its ZMQ_ZAP_DOMAIN is set to LB_AUTH_DOMAIN. Returns a new authenticator, or NULL on failure.
 * It stops when the context is terminated; then call lb_auth_destroy.
 */
lb_auth *lb_auth_new(void *zctx, lb_role local_role, lb_role remote_role);

/* Join the thread (after zmq_ctx_term started) and free. Accepts NULL; nulls the pointer. */
void lb_auth_destroy(lb_auth **pauth);

/* The role a connection from address gets under the NULL mechanism (pure). */
lb_role lb_auth_role_for(const lb_auth *auth, const char *address);

#endif
