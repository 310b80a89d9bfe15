/* server_private.h - what the main loop (server.c) and the request methods (methods*.c) share. */
#ifndef LB_SERVER_PRIVATE_H
#define LB_SERVER_PRIVATE_H

#include <jansson.h>
#include <stdint.h>
#include <zmq.h>

#include "access.h"
#include "auth.h"
#include "../util/clock.h"
#include "device.h"
#include "host.h"
#include "hotplug.h"
#include "../services/print/printq.h"
#include "../services/room/room.h"
#include "../services/sensing/recorder.h"
#include "request.h"
#include "server.h"
#include "../services/sensing/store.h"
#include "conns.h"
#include "subs.h"

#define MAX_ENVELOPE 8
#define LB_VERSION "0.1.0"

/* A request waiting for a device thread's answer. */
typedef struct pending {
	uint64_t token;
	lb_device *dev;
	int64_t deadline;
	json_t *id;
	zmq_msg_t env[MAX_ENVELOPE];
	int nenv;
} pending;

/* Connections of a socket closed over a limit: when it was last logged, how many since. */
typedef struct lb_conn_log {
	int64_t last;
	unsigned unlogged;
} lb_conn_log;

/* A connection that said session.hello. */
typedef struct session {
	lb_client c;
} session;

/* One request being handled. */
typedef struct call {
	lb_client client;
	lb_request req;
	zmq_msg_t *env;
	int nenv;
	lb_now now;
	void *data; /* a binary frame to send after the reply (malloc'd), or NULL */
	size_t datalen;
	const void *in_data; /* the request's binary frame (print.upload), or NULL */
	size_t in_len;
} call;

struct lb_server {
	lb_server_opts opts;
	void *zctx, *xpub, *router, *monitor;
	void *pub_monitor;	  /* the stream socket's connections: accepted, disconnected */
	lb_subs *subs;		  /* their subscriptions, counted to bound memory (subs.h) */
	lb_conn_log conn_log[2];  /* connections closed over a limit: stream, request */
	size_t rpc_conns;	  /* request connections open (ACCEPTED, not yet DISCONNECTED) */
	lb_upwake up;		  /* wakes the main loop: device threads' messages wait */
	lb_up *up_head, *up_tail; /* taken from the hosts' queues, not yet handled */
	lb_auth *auth;
	lb_hotplug *hotplug;
	/* tcp connections of both sockets: bytes received against delivered (conns.h) */
	lb_conns *conns;
	int64_t next_conns; /* when to compare them next */
	lb_store *store;    /* opened on first use: srv_store() */
	int store_failed;
	lb_recorder *recorder;
	lb_printq *printq;    /* opened on first use */
	json_t *print_busy;   /* {printer id: job id} handed to a printer, not finished */
	json_t *print_tokens; /* {token: job id} of "print" calls awaiting the printer's answer */
	uint64_t queue_seq;
	lb_room room; /* the room-wide stop (services/room) */
	char epoch[17];
	char ep_pub[256], ep_rpc[256], ep_ws[256];
	int64_t start_mono;

	lb_device **dev;
	size_t ndev, capdev;
	struct lb_host **hosts; /* the shared device threads, by name (host.c) */
	size_t nhosts, caphosts;
	json_t *seq_memory; /* {device id: {stream: last seq}}, kept across unplugging */
	json_t *ended;	    /* {topic: last seq} of the streams of devices gone away */
	/* {device id: {message, delay_ns, retry_at, name, kind, driver}}: open failures, retried
	 * later */
	json_t *failed;
	json_t *absent; /* {device id: {id, name, kind, driver, reason, where}}: configured, not
			   found by the last scan */
	json_t *ports;
	int simulate;
	int rescan;
	int ready_reported;

	lb_leases leases;
	session *sess;
	size_t nsess, capsess;
	pending *pend;
	size_t npend, cappend;
	uint64_t next_token;

	uint64_t hb_seq, dev_seq;
	int64_t next_hb, next_scan;
};

/* A request method: 0 with *result set (reply now), LB_EAGAIN (a device thread will answer),
 * or negative with err set. */
typedef int (*method_fn)(lb_server *s, call *c, json_t **result, lb_error *err);

/* server.c */
/* The store, opened on first use (create: make the database if there is none); NULL when the
 * data directory is unusable (logged once) or, without create, when there is no database yet. */
lb_store *srv_store(lb_server *s, int create);
/* The CSV recorder, started on first use; NULL with err set if it cannot start. */
lb_recorder *srv_recorder(lb_server *s, lb_error *err);
lb_device *srv_find_device(lb_server *s, const char *id);
json_t *srv_lease_json(lb_server *s, const char *device, int64_t now);
json_t *srv_device_json(lb_server *s, lb_device *d, int64_t now);
/* The devices that are not available (opening, failed to open, configured but absent), as
 * devices.list {all: true} shows them after the live ones: a new array. */
json_t *srv_unavailable_json(lb_server *s, int64_t now);

/* The device's last description, parsed: a new object ({} if it has none yet). */
json_t *srv_device_desc(const lb_device *d);
void srv_publish_device_event(lb_server *s, const char *event, lb_device *d);
void srv_publish_json(lb_server *s, const char *topic, uint64_t *seq, json_t *data);
void srv_send_reply(lb_server *s, zmq_msg_t *env, int nenv, char *text);
void srv_send_reply_data(lb_server *s, zmq_msg_t *env, int nenv, char *text, const void *data,
			 size_t len);

/* methods.c */
lb_device *srv_param_device(lb_server *s, call *c, lb_error *err);
int srv_forward(lb_server *s, call *c, lb_device *d, const char *cmd, json_t *params,
		lb_error *err);
int srv_dispatch(lb_server *s, call *c, json_t **result, lb_error *err);

/* methods_sensing.c: calibration, synchronised acquisition, recordings */
int m_calib_set(lb_server *s, call *c, json_t **result, lb_error *err);
int m_calib_tare(lb_server *s, call *c, json_t **result, lb_error *err);
int m_calib_clear(lb_server *s, call *c, json_t **result, lb_error *err);
int m_acq_start(lb_server *s, call *c, json_t **result, lb_error *err);
int m_rec_start(lb_server *s, call *c, json_t **result, lb_error *err);
int m_rec_stop(lb_server *s, call *c, json_t **result, lb_error *err);
int m_rec_list(lb_server *s, call *c, json_t **result, lb_error *err);
int m_rec_fetch(lb_server *s, call *c, json_t **result, lb_error *err);

/* printing.c: the print queue's requests and dispatcher */
/* Hand approved jobs to idle printers whose bed is clear. */
void srv_print_dispatch(lb_server *s);
/* A device's answer to a dispatcher's call (token); 1 if it was one, else 0. */
int srv_print_reply(lb_server *s, uint64_t token, const json_t *reply);
/* A device is being removed: a job handed to it that it never reported on is put right. */
void srv_print_device_gone(lb_server *s, lb_device *d);
/* A printer's job event: {job, state?, line, offset, error?}. */
void srv_print_event(lb_server *s, lb_device *d, const json_t *ev);
/* Copy into owner (cap bytes) the identity owning the job device d is running: 1, or 0 when it
 * runs none. */
int srv_job_owner(lb_server *s, lb_device *d, char *owner, size_t cap);
int m_print_upload(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_queue(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_job(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_approve(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_cancel(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_pause(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_resume(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_retry(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_delete(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_move(lb_server *s, call *c, json_t **result, lb_error *err);
int m_print_thumbnail(lb_server *s, call *c, json_t **result, lb_error *err);
int m_printer_clear(lb_server *s, call *c, json_t **result, lb_error *err);
int m_printer_estop(lb_server *s, call *c, json_t **result, lb_error *err);

#endif
