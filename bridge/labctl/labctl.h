/* labctl.h - what the parts of labctl share: options, requests, stream messages, output. */
#ifndef LABCTL_H
#define LABCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <zmq.h>

/*
 * The error convention. A command returns the exit status: LABCTL_OK, LABCTL_FAIL (the bridge,
 * the network or an error reply) or LABCTL_USAGE (a bad command line). A helper returns 0 on
 * success and a negative number on failure, after saying why on stderr with labctl_errmsg
 * ("labctl: ..."); its comment says when it leaves that to the caller instead.
 */
enum { LABCTL_OK = 0, LABCTL_FAIL = 1, LABCTL_USAGE = 2 };

/* Nothing at all from the bridge, not even a heartbeat, for this long: it is gone. */
#define LABCTL_LIVENESS_MS 3000
/* Our receive queue for stream messages, in messages (libzmq's default is 1000). */
#define LABCTL_SUB_HWM 100000
/* The bridge's heartbeat: alive, and the last seq sent on each stream. */
#define LABCTL_HEARTBEAT_TOPIC "bridge/heartbeat/"

#define LABCTL_DEVICES_MAX 256 /* --device options */

/* What the command line asked for. */
struct labctl_opts {
	const char *pub, *rpc;	/* endpoints */
	const char *connect;	/* --connect RPC[,PUB] | HOST | auto[:NAME] */
	const char *key;	/* --key FILE: our secret certificate (zcert) */
	const char *server_key; /* --server-key Z85|FILE */
	const char *discover;	/* --discover NAME: a bridge found on the LAN */
	bool curve;		/* connect with CURVE: the three keys below are set */
	char curve_public[41], curve_secret[41], curve_server[41];
	char rpc_buf[512], pub_buf[512]; /* where rpc and pub point when resolved here */
	long timeout_ms;		 /* requests */
	bool json, csv;			 /* output format */
	long count;			 /* watch: samples to print, 0 for no limit */
	double timeout_s;     /* watch: give up after this long without a sample, 0: never */
	bool timeout_set;     /* watch: --timeout was given */
	uint64_t given;	      /* the command-specific options given (OPT_* bits, labctl.c) */
	const char *printer;  /* print: --printer */
	const char *name;     /* print: --name */
	bool no_wait;	      /* print: --no-wait */
	const char *preset;   /* print: --preset (a 3D model's quality preset) */
	const char *scale;    /* print: --scale PCT (teachers) */
	const char *rotate;   /* print: --rotate DEG (teachers) */
	bool history;	      /* queue: --history */
	double for_s;	      /* robot drive: --for SEC */
	const char *device;   /* scan: --device */
	const char *format;   /* scan: --format */
	const char *source;   /* scan: --source adf|flatbed */
	const char *size;     /* scan: --size A3|A4|Letter|WxH */
	const char *mode;     /* scan: --mode color|gray|lineart */
	const char *output;   /* scan: -o FILE */
	long dpi;	      /* scan: --dpi, 0 when not given */
	long steps;	      /* scan: --steps (3D scanners), 0 when not given */
	const char *role;     /* keys: --role */
	const char *prefix;   /* keys qr: --prefix */
	const char *endpoint; /* keys qr: --endpoint (what the codes tell tablets to connect to) */
	const char *user;     /* audit: --user */
	const char *since;    /* audit: --since (1h, 30m, 2d, seconds) */
	const char *url;      /* devices labels: --url (the page tablets open) */
	const char *devices[LABCTL_DEVICES_MAX]; /* devices labels: every --device */
	int ndevices;
	bool none;	    /* room assign: --none (clear) */
	long uses, ttl;	    /* pair new: --uses, --ttl (0 when not given) */
	const char *cmd;    /* the command word */
	const char *arg[4]; /* its positional arguments */
	int narg;
};

/* ---------------------------------------------------------------- the commands */

/* Each runs one command with the ZeroMQ context ctx and returns its exit status (LABCTL_*).
 * labctl_devices.c: */
int labctl_cmd_devices(void *ctx, const struct labctl_opts *o);
/* labctl_labels.c: labctl devices labels */
int labctl_cmd_labels(void *ctx, const struct labctl_opts *o);
int labctl_cmd_snapshot(void *ctx, const struct labctl_opts *o);
int labctl_cmd_call(void *ctx, const struct labctl_opts *o);
int labctl_cmd_info(void *ctx, const struct labctl_opts *o);
int labctl_cmd_watch(void *ctx, const struct labctl_opts *o);
/* labctl_print.c: */
int labctl_cmd_print(void *ctx, const struct labctl_opts *o);
int labctl_cmd_queue(void *ctx, const struct labctl_opts *o);
int labctl_cmd_job(void *ctx, const struct labctl_opts *o);
int labctl_cmd_printer(void *ctx, const struct labctl_opts *o);
/* labctl_scan.c: */
int labctl_cmd_scan(void *ctx, const struct labctl_opts *o);
/* labctl_room.c: */
int labctl_cmd_room(void *ctx, const struct labctl_opts *o);
/* labctl_robot.c: */
int labctl_cmd_robots(void *ctx, const struct labctl_opts *o);
int labctl_cmd_robot(void *ctx, const struct labctl_opts *o);
/* labctl_keys.c: */
int labctl_cmd_keys(void *ctx, const struct labctl_opts *o);
/* labctl_audit.c: */
int labctl_cmd_audit(void *ctx, const struct labctl_opts *o);
/* labctl_discover.c: */
int labctl_cmd_discover(void *ctx, const struct labctl_opts *o);

/* ---------------------------------------------------------------- the network (labctl_net.c) */

/*
 * Decide where and how to connect, into o (rpc, pub, curve and its keys), from, first to last:
 * the command line, the environment (LABBRIDGE_CONNECT, LABBRIDGE_RPC, LABBRIDGE_PUB,
 * LABBRIDGE_KEY, LABBRIDGE_SERVER_KEY, LABBRIDGE_DISCOVER), the client config file
 * ($LABBRIDGE_CLIENT_CONF, else ~/.config/labbridge/client.ini), the key file's own metadata
 * (net_rpc, net_pub, server-key), the local defaults. Discovery (--discover, --connect auto)
 * browses the LAN here. 0, or -1 after saying why on stderr (a key file missing or not a secret
 * key, a malformed server key, a bad endpoint, no bridge found).
 */
int labctl_net_setup(struct labctl_opts *o, const char *default_rpc, const char *default_pub);

/*
 * Set sock's CURVE keys when o->curve, connect it to ep, and when o->curve wait up to
 * timeout_ms for its handshake (a socket monitor): 0 once it succeeded (or at once without
 * CURVE); -1 after saying why (the bridge refused the key, a wrong server key, cannot connect);
 * -3 when the bridge did not answer in time (said too). watch_after: keep watching the
 * connection afterwards (one socket at a time: the stream socket) for labctl_net_explain.
 */
int labctl_net_connect(void *ctx, void *sock, const struct labctl_opts *o, const char *ep,
		       long timeout_ms, bool watch_after);

/* When sock is the watched one and its connection was closed and then refused (a key revoked
 * while in use), say so on stderr; nothing otherwise. For the "no heartbeat" failures. */
void labctl_net_explain(void *sock);

/* Close what labctl_net_connect kept (before zmq_ctx_term, which would wait for it). */
void labctl_net_close(void);

/* One bridge found on the LAN (labctl_discover.c). */
struct labctl_found {
	char name[64], host[256], addrs[256]; /* addrs: space-separated */
	char rpc[256], pub[256], http[256], key[32];
	int port;
};

/*
 * Browse _labbridge._tcp for up to timeout_ms (less once every service seen is resolved and
 * Avahi says it has listed all it knows), resolving each: up to max results into found[], their
 * number in *n. want: stop at the first one of that name (NULL: gather all). 0, or -1 after
 * saying why (no avahi-daemon).
 */
int labctl_browse(const char *want, long timeout_ms, struct labctl_found *found, int max, int *n);

/* The 16-hex-digit fingerprint of a Z85 public key (PROTOCOL.md, Network and keys) into fp; 0,
 * or -1 when key is not one. */
int labctl_fingerprint(const char *key, char fp[17]);

/* labctl_pair.c: */
int labctl_cmd_pair(void *ctx, const struct labctl_opts *o);

/* ---------------------------------------------------------------- messages, signals, parsing */

/* A time in ns since 1970 (a JSON integer) as local "YYYY-MM-DD HH:MM:SS" into buf[n]; "-" when
 * it is not an integer. */
void labctl_fmt_stamp(char *buf, size_t n, const json_t *ns);

/* Print a message on stderr, on a line of its own when a progress bar is drawn. Never fails. */
void __attribute__((format(printf, 1, 2))) labctl_errmsg(const char *fmt, ...);

/* Redraw the progress bar line on stderr (a terminal) with the formatted text; the next message
 * or labctl_bar_break ends that line first. Never fails. */
void __attribute__((format(printf, 1, 2))) labctl_bar_draw(const char *fmt, ...);

/* End the progress bar's line on stderr, if one is drawn, before printing something else. */
void labctl_bar_break(void);

/* From now on SIGINT and SIGTERM only ask to stop (labctl_stopping), without SA_RESTART: a
 * zmq_poll waiting returns with EINTR. For watch and following a print. */
void labctl_catch_stop(void);

/* Whether SIGINT or SIGTERM arrived since labctl_catch_stop. */
bool labctl_stopping(void);

/* Milliseconds of the monotonic clock. */
int64_t labctl_mono_ms(void);

/* Parse a whole decimal integer within [min, max] into *out; 0, or -1 if s is not one (nothing
 * printed: the caller says what it wanted). */
int labctl_parse_long(const char *s, long min, long max, long *out);

/* ---------------------------------------------------------------- output */

/* A JSON object's member key as a string, or dflt when it is missing or not a string. */
const char *labctl_jstr(const json_t *obj, const char *key, const char *dflt);

/* Print v as indented JSON followed by a newline on stdout. 0, or -1 when out of memory. */
int labctl_print_json(const json_t *v);

/* A table of strings printed with aligned columns; row 0 is the heading. Set ncols (at most
 * 16 columns are aligned) and zero the rest: struct labctl_table t = {.ncols = 3}. */
struct labctl_table {
	size_t ncols, nrows, cap;
	char **cell; /* nrows * ncols copies, row by row */
};

/* Append a row of t->ncols strings, copied (NULL shows as "-"). 0, or -1 when out of memory
 * (nothing printed). */
int labctl_table_add(struct labctl_table *t, const char *const *row);

/* Print the table on stdout, each column as wide as its widest cell, two spaces apart (the
 * last column unpadded). */
void labctl_table_print(const struct labctl_table *t);

/* Free the table's cells; t may be used again. */
void labctl_table_free(struct labctl_table *t);

/* ---------------------------------------------------------------- requests and streams */

/* Send one request {id, method, params} to o->rpc (params may be NULL: omitted; it is not
 * stolen), followed by one binary frame of len bytes when data is not NULL, and wait up to
 * timeout_ms for its reply. 0 with *result set (a new reference; JSON null when the method
 * returns nothing); -1 when the bridge cannot be reached or answers something unreadable, or on
 * Ctrl-C; -2 when it answers with an error; -3 when it does not answer in time. The first two
 * failures are explained on stderr, an error reply as "error CODE name: message"; a timeout
 * and Ctrl-C are left to the caller. */
int labctl_rpc_request(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		       const void *data, size_t len, long timeout_ms, json_t **result);

/* From now on, send every request through one connection, kept open until labctl_rpc_drop: a
 * lease (a robot's) lasts as long as the connection that took it. 0, or -1 after saying why. */
int labctl_rpc_keep(void *ctx, const struct labctl_opts *o);
/* Close the kept connection (the bridge ends its leases); requests open their own again. */
void labctl_rpc_drop(void);

/* Send one request (no binary frame) and wait up to --timeout-ms for its reply, keeping the
 * reply's first binary frame (jobs.fetch's bytes) in *bin (malloc'd, *binlen bytes; NULL when it
 * has none). 0 with *result set, or -1 after saying why (an error reply, a timeout). */
int labctl_rpc_fetch(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		     json_t **result, void **bin, size_t *binlen);

/* Send one request and wait up to --timeout-ms for its reply, as labctl_rpc_request (without
 * binary frames); a timeout is explained on stderr too and returns -1. */
int labctl_rpc_call(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		    json_t **result);

/* Open a SUB socket to o->pub subscribed to the topics starting with topic and to the bridge's
 * heartbeat (which tells that the bridge is alive), queueing up to LABCTL_SUB_HWM messages. The
 * socket, or NULL after saying why on stderr. */
void *labctl_subscribe(void *ctx, const struct labctl_opts *o, const char *topic);

/* Receive one whole message from sock without waiting: up to 3 frames into frames[] (more are
 * read and dropped), their number in *n. 1 when a message was read, 0 when none is waiting,
 * -1 on an error (printed). The caller closes frames[0 .. *n - 1]. */
int labctl_recv_message(void *sock, zmq_msg_t frames[3], int *n);

#endif
