/* state.h - the main loop's state (struct lb_server): server.c's own, read by state.c's accessors
 * (unit tests may build one by hand). */
#ifndef LB_STATE_H
#define LB_STATE_H

#include <jansson.h>
#include <stdint.h>
#include <zmq.h>

#include "access.h"
#include "auth.h"
#include "../util/clock.h"
#include "device.h"
#include "host.h"
#include "hotplug.h"
#include "request.h"
#include "server.h"
#include "service.h"
#include "call.h"
#include "conns.h"
#include "outlimit.h"
#include "subs.h"

/* Where every stream message is published in-process too (the recorder subscribes there). */
#define STREAMS_INPROC "inproc://lb-streams"

/* A request waiting for a device thread's answer. */
typedef struct pending {
	uint64_t token;
	void *sock; /* where the reply goes: the local, network or vouched ROUTER */
	lb_device *dev;
	int64_t deadline;
	json_t *id;
	zmq_msg_t env[MAX_ENVELOPE];
	int nenv;
	int64_t audit_id; /* its row in the audit log (audit.h), to complete; 0: none */
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

#define LB_MAX_SERVICES 16

struct lb_server {
	lb_server_opts opts;
	struct lb_mdns *mdns; /* the LAN announcement (mdns.h), or NULL */
	void *zctx, *xpub, *router, *monitor;
	void *vouched; /* SRV_VOUCHED_ENDPOINT: requests whose caller in-process code vouches for */
	void *pub_monitor; /* the stream socket's connections: accepted, disconnected */
	lb_subs *subs;	   /* their subscriptions, counted to bound memory (subs.h) */
	int subs_dirty;	   /* leases, jobs or devices changed: recheck them (subpolicy.h) */
	unsigned char streams_token[LB_STREAMS_TOKEN]; /* the recorder's key (service.h) */
	lb_outlimit *outlimit;	  /* their backlogs of bulk messages (outlimit.h) */
	int *out_fds;		  /* room for the fds subscribed to one message's topic */
	size_t out_cap;		  /* ... how many */
	lb_conn_log conn_log[2];  /* connections closed over a limit: stream, request */
	size_t rpc_conns;	  /* request connections open (ACCEPTED, not yet DISCONNECTED) */
	lb_upwake up;		  /* wakes the main loop: device threads' messages wait */
	lb_up *up_head, *up_tail; /* taken from the hosts' queues, not yet handled */
	lb_auth *auth;
	lb_hotplug *hotplug;
	/* tcp connections of both sockets: bytes received against delivered (conns.h) */
	lb_conns *conns;
	int64_t next_conns;		  /* when to compare them next */
	void *svc_state[LB_MAX_SERVICES]; /* each service's own (lb_service_state) */
	char epoch[17];
	char ep_pub[256], ep_rpc[256], ep_ws[256];
	/* the network's own sockets (CURVE server, net.c), NULL when not configured */
	void *net_xpub, *net_router, *net_monitor, *net_pub_monitor;
	size_t net_rpc_conns; /* their request connections open */
	char ep_net_pub[256], ep_net_rpc[256];
	char ep_http[256];    /* the web page's URL, set by the service serving it (srv_set_http) */
	struct lb_keys *keys; /* the clients' keys (keys.h) */
	char server_key[41];  /* the bridge's public key (Z85), "" until needed */
	struct lb_net_conn *net_conn; /* network connections and their keys (net.c) */
	size_t nnet_conn, capnet_conn;
	unsigned net_keys_gen; /* the key store's generation when last swept */
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

#endif
