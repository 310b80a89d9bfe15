/* server.h - the bridge's main loop: publishing, requests, the device registry and hot-plug. */
#ifndef LB_SERVER_H
#define LB_SERVER_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "../util/error.h"
#include "access.h"

#define LB_VERSION "0.1.0"

typedef struct lb_server lb_server;

typedef struct lb_server_opts {
	const char *pub;	 /* stream endpoint (XPUB) */
	const char *rpc;	 /* request endpoint (ROUTER) */
	const char *ws;		 /* WebSocket stream endpoint, or NULL */
	const char *net_pub;	 /* network stream endpoint (XPUB, CURVE), or NULL */
	const char *net_rpc;	 /* network request endpoint (ROUTER, CURVE), or NULL */
	int simulate;		 /* 1 on, 0 off, -1 auto (on when no hardware is found) */
	int heartbeat_ms;	 /* heartbeat period, at most 1000 */
	int pub_hwm;		 /* per-subscriber queue, in messages */
	uint64_t subscriber_max; /* a subscriber's backlog of bulk messages closing it, bytes */
	int request_timeout_ms;	 /* how long a device may take to answer */
	int client_timeout_ms;	 /* a request connection silent this long (no PONG) is dropped */
	lb_policy policy;	 /* who is a teacher, the others' roles ([access]) */
	const json_t *config;	 /* the whole configuration (borrowed) */
	const char *data_dir;	 /* calibrations, recordings (SQLite database and CSV files) */
	int stop_fd; /* readable when the bridge must stop (a signalfd of SIGTERM/SIGINT), or -1 */
} lb_server_opts;

/* Bind the endpoints, start the authenticator and hot-plug watcher, scan for devices.
 * Returns NULL with a message logged when an endpoint cannot be bound. */
lb_server *lb_server_new(const lb_server_opts *opts);

/* Serve until *stop becomes non-zero (set from a signal handler). 0, or negative on failure. */
int lb_server_run(lb_server *s, volatile sig_atomic_t *stop);

/* The endpoint actually bound ("pub", "rpc", "ws", "net_pub", "net_rpc", "http": the web page's
 * URL), e.g. with the port chosen for :0; "" when not bound. */
const char *lb_server_endpoint(const lb_server *s, const char *which);

/* Whether the simulated lab is being served. */
int lb_server_simulated(const lb_server *s);

/* Stop every device, close everything. Accepts NULL; nulls the pointer. */
void lb_server_destroy(lb_server **ps);

/* --- for the core's request files (dispatch.c, methods.c); services use service.h --- */

typedef struct lb_call lb_call;
typedef struct lb_device lb_device;

/* This run's epoch (16 hex digits), when it started (monotonic ns), its options. */
const char *srv_epoch(const lb_server *s);
int64_t srv_start_mono(const lb_server *s);
const lb_server_opts *srv_opts(const lb_server *s);
/* The leases on devices. */
lb_leases *srv_leases(lb_server *s);
/* {topic: last seq} of the streams of devices gone away (borrowed). */
json_t *srv_ended(lb_server *s);
/* The last seq published on bridge/devices/. */
uint64_t srv_devices_seq(const lb_server *s);
/* Scan for devices again at the next turn of the loop. */
void srv_rescan(lb_server *s);
/* The session of the caller's connection (session.hello), or NULL; with create, made when it
 * has none (NULL only when out of memory). */
lb_client *srv_session(lb_server *s, const lb_client *c, int create);
/* The lease as clients see it, or null; a device as clients see it (description + lease). */
json_t *srv_lease_json(lb_server *s, const char *device, int64_t now);
json_t *srv_device_json(lb_server *s, lb_device *d, int64_t now);
/* The devices that are not available (opening, failed to open, configured but absent), as
 * devices.list {all: true} shows them after the live ones: a new array. */
json_t *srv_unavailable_json(lb_server *s, int64_t now);
/* Publish {event, device} on bridge/devices/. */
void srv_publish_device_event(lb_server *s, const char *event, lb_device *d);
/* Route a request to its method, after the checks its declaration asks for (dispatch.c). */
int srv_dispatch(lb_server *s, lb_call *c, json_t **result, lb_error *err);
/* Route an internal request (lb_service.internal: in-process callers only) to its method, with
 * its least role checked; an unknown name: method_not_found (dispatch.c). */
int srv_dispatch_internal(lb_server *s, lb_call *c, json_t **result, lb_error *err);

#endif
