/* call.h - one request being handled, as the core's request files see it. */
#ifndef LB_CALL_H
#define LB_CALL_H

#include <stddef.h>
#include <zmq.h>

#include "../util/clock.h"
#include "access.h"
#include "request.h"

#define MAX_ENVELOPE 8

/* One request being handled (service.h: lb_call). */
struct lb_call {
	lb_client client;
	lb_request req;
	void *sock; /* the socket the request came from, where its reply goes */
	zmq_msg_t *env;
	int nenv;
	lb_now now;
	void *data; /* a binary frame to send after the reply (malloc'd), or NULL */
	size_t datalen;
	const void *in_data; /* the request's binary frame (LB_METHOD_UPLOAD), or NULL */
	size_t in_len;
};

#endif
