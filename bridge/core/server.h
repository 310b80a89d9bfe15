/* server.h - the bridge's main loop: publishing, requests, the device registry and hot-plug. */
#ifndef LB_SERVER_H
#define LB_SERVER_H

#include <jansson.h>
#include <signal.h>

#include "access.h"

typedef struct lb_server lb_server;

typedef struct lb_server_opts {
	const char *pub;	/* stream endpoint (XPUB) */
	const char *rpc;	/* request endpoint (ROUTER) */
	const char *ws;		/* WebSocket stream endpoint, or NULL */
	int simulate;		/* 1 on, 0 off, -1 auto (on when no hardware is found) */
	int heartbeat_ms;	/* heartbeat period, at most 1000 */
	int pub_hwm;		/* per-subscriber queue, in messages */
	int request_timeout_ms; /* how long a device may take to answer */
	lb_policy policy;	/* who is a teacher, the others' roles ([access]) */
	const json_t *config;	/* the whole configuration (borrowed) */
	const char *data_dir;	/* calibrations, recordings (SQLite database and CSV files) */
} lb_server_opts;

/* Bind the endpoints, start the authenticator and hot-plug watcher, scan for devices.
 * Returns NULL with a message logged when an endpoint cannot be bound. */
lb_server *lb_server_new(const lb_server_opts *opts);

/* Serve until *stop becomes non-zero (set from a signal handler). 0, or negative on failure. */
int lb_server_run(lb_server *s, volatile sig_atomic_t *stop);

/* The endpoint actually bound ("pub", "rpc" or "ws"), e.g. with the port chosen for :0. */
const char *lb_server_endpoint(const lb_server *s, const char *which);

/* Whether the simulated lab is being served. */
int lb_server_simulated(const lb_server *s);

/* Stop every device, close everything. Accepts NULL; nulls the pointer. */
void lb_server_destroy(lb_server **ps);

#endif
