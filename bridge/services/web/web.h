/* web.h - the web service's HTTP server (bridge/HTTP.md): what web.c and web_http.c share. */
#ifndef LB_WEB_H
#define LB_WEB_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "../../core/access.h"
#include "grants.h"
#include "pairing.h"

typedef struct lb_web lb_web;

/* What the HTTP server needs from the bridge, fixed at start. */
typedef struct lb_web_opts {
	const char *addr; /* "ADDR:PORT" (lb_web_parse_addr; port 0: any) */
	const char *www;  /* the static files' folder */
	void *zctx;	  /* the bridge's ZeroMQ context (inproc endpoints) */
	const char *streams_endpoint;
	const unsigned char *streams_token; /* srv_streams_token: LB_STREAMS_TOKEN bytes */
	int call_timeout_ms;		    /* how long /api/call waits for the bridge's answer */
	lb_pairs *pairs;		    /* borrowed: sessions */
	lb_grants *grants;		    /* borrowed: what streams receive by ownership */
} lb_web_opts;

/*
 * Start the HTTP server in its own threads. NULL on failure (logged: the address is taken or
 * invalid, the folder missing).
 */
lb_web *lb_web_new(const lb_web_opts *opts);

/* The port it listens on (the one chosen when 0 was asked). */
unsigned lb_web_port(const lb_web *w);

/* Stop the server (ends every stream and waits for its threads); accepts NULL and nulls *pw. */
void lb_web_destroy(lb_web **pw);

/*
 * Parse "ADDR:PORT" into sa: ADDR an IPv4 address, localhost (127.0.0.1), an IPv6 address in
 * brackets ("[::1]", "[::]": every IPv6 address only), or "*" or empty for every address of both
 * families (sa: [::], *dual set: IPv4 clients come as v4-mapped addresses). PORT 0..65535 (0: any
 * free one). 0, or -1 when text is not one of those.
 */
int lb_web_parse_addr(const char *text, struct sockaddr_storage *sa, int *dual);

#endif
