/* labctl_client.c - labctl's link to the bridge: requests, binary fetches, subscriptions. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zmq.h>

#include "labctl.h"

#define REQUEST_ID 1

/* ---------------------------------------------------------------- requests */

/* Read one reply message from sock (a DEALER): skip the envelope up to the empty delimiter,
 * parse the JSON frame into *reply, count the binary frames after it. 0, or -1 after printing
 * why the reply cannot be read. */
static int recv_reply(void *sock, json_t **reply, size_t *nbin, size_t *binbytes, void **bin,
		      size_t *binlen)
{
	bool delimited = false;
	int more = 1, rc = 0;

	*reply = NULL;
	*nbin = *binbytes = 0;
	while (more) {
		zmq_msg_t m;
		size_t size;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			labctl_errmsg("labctl: receiving the reply: %s\n", zmq_strerror(errno));
			zmq_msg_close(&m);
			return -1;
		}
		more = zmq_msg_more(&m);
		size = zmq_msg_size(&m);
		if (!delimited && !*reply && size == 0) {
			delimited = true;
		} else if (!*reply && rc == 0) {
			json_error_t err;

			*reply = json_loadb(zmq_msg_data(&m), size, 0, &err);
			if (!*reply) {
				labctl_errmsg("labctl: unreadable reply from the bridge: %s\n",
					      err.text);
				rc = -1;
			}
		} else {
			if (bin && *nbin == 0 && (*bin = malloc(size ? size : 1)) != NULL) {
				memcpy(*bin, zmq_msg_data(&m), size);
				*binlen = size;
			}
			(*nbin)++;
			*binbytes += size;
		}
		zmq_msg_close(&m);
	}
	if (rc == 0 && !*reply) {
		labctl_errmsg("labctl: empty reply from the bridge\n");
		rc = -1;
	}
	if (rc < 0) {
		json_decref(*reply);
		*reply = NULL;
	}
	return rc;
}

/* Send one request {id, method, params}, plus a binary frame when data is not NULL, and wait up
 * to timeout_ms for its reply (labctl.h says more). 0 with *result set; -1 unreachable, an
 * unreadable reply or Ctrl-C; -2 an error reply (printed); -3 no reply in time (not printed). */
/* The connection labctl_rpc_keep opened (every request goes through it), or NULL: each request
 * opens its own. */
static void *kept;
static json_int_t kept_id = REQUEST_ID;

/* A DEALER connected to o->rpc (with CURVE: its handshake done), sends timing out after
 * timeout_ms; NULL after saying why (a refused key, no answer within timeout_ms too). */
static void *rpc_connect(void *ctx, const struct labctl_opts *o, long timeout_ms)
{
	void *sock = zmq_socket(ctx, ZMQ_DEALER);
	int linger = 0, sndtimeo = (int)timeout_ms;

	if (!sock) {
		labctl_errmsg("labctl: cannot create a socket: %s\n", zmq_strerror(errno));
		return NULL;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
	/* with CURVE, returns once the handshake succeeded: a refused key is said at once */
	if (labctl_net_connect(ctx, sock, o, o->rpc, timeout_ms, false) < 0) {
		zmq_close(sock);
		return NULL;
	}
	return sock;
}

int labctl_rpc_keep(void *ctx, const struct labctl_opts *o)
{
	if (!kept)
		kept = rpc_connect(ctx, o, o->timeout_ms);
	return kept ? 0 : -1;
}

void labctl_rpc_drop(void)
{
	if (kept)
		zmq_close(kept);
	kept = NULL;
}

/* labctl_rpc_request, keeping the reply's first binary frame in *bin (malloc'd, *binlen bytes)
 * when bin is not NULL. */
static int rpc_request(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		       const void *data, size_t len, long timeout_ms, json_t **result, void **bin,
		       size_t *binlen)
{
	void *sock = NULL;
	json_t *req = NULL, *reply = NULL;
	char *text = NULL;
	int rc = -1;
	int64_t deadline = labctl_mono_ms() + timeout_ms;
	/* on a kept connection each request has its own id: a late reply is told apart */
	json_int_t rid = kept ? ++kept_id : REQUEST_ID;

	*result = NULL;
	sock = kept ? kept : rpc_connect(ctx, o, timeout_ms);
	if (!sock)
		goto cleanup;
	req = json_pack("{s:I,s:s}", "id", rid, "method", method);
	if (!req || (params && json_object_set(req, "params", params) < 0) ||
	    !(text = json_dumps(req, JSON_COMPACT))) {
		labctl_errmsg("labctl: cannot build the request (out of memory?)\n");
		goto cleanup;
	}
	if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, text, strlen(text), data ? ZMQ_SNDMORE : 0) < 0 ||
	    (data && zmq_send(sock, data, len, 0) < 0)) {
		labctl_errmsg("labctl: cannot send to the bridge at %s: %s\n", o->rpc,
			      zmq_strerror(errno));
		goto cleanup;
	}
	for (;;) {
		zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
		int64_t left = deadline - labctl_mono_ms();
		size_t nbin, binbytes;
		json_t *id, *error;

		if (left <= 0) {
			rc = -3;
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)left) < 0) {
			if (errno == EINTR && !labctl_stopping())
				continue;
			if (errno == EINTR)
				goto cleanup; /* Ctrl-C: the caller says what it stopped */
			labctl_errmsg("labctl: waiting for the reply: %s\n", zmq_strerror(errno));
			goto cleanup;
		}
		if (!(item.revents & ZMQ_POLLIN))
			continue;
		if (bin) {
			free(*bin);
			*bin = NULL;
			*binlen = 0;
		}
		if (recv_reply(sock, &reply, &nbin, &binbytes, bin, binlen) < 0)
			goto cleanup;
		id = json_object_get(reply, "id");
		if (!json_is_integer(id) || json_integer_value(id) != rid) {
			json_decref(reply); /* not ours (a stale reply): keep waiting */
			reply = NULL;
			continue;
		}
		error = json_object_get(reply, "error");
		if (error) {
			labctl_errmsg("error %" JSON_INTEGER_FORMAT " %s: %s\n",
				      json_integer_value(json_object_get(error, "code")),
				      labctl_jstr(error, "name", "?"),
				      labctl_jstr(error, "message", ""));
			rc = -2;
			goto cleanup;
		}
		if (nbin && !bin)
			labctl_errmsg(
			    "labctl: the reply also carries %zu binary frame(s), %zu bytes, "
			    "not shown\n",
			    nbin, binbytes);
		*result = json_object_get(reply, "result");
		*result = *result ? json_incref(*result) : json_null();
		rc = 0;
		goto cleanup;
	}
cleanup:
	json_decref(reply);
	json_decref(req);
	free(text);
	if (sock && sock != kept)
		zmq_close(sock);
	return rc;
}

int labctl_rpc_request(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		       const void *data, size_t len, long timeout_ms, json_t **result)
{
	return rpc_request(ctx, o, method, params, data, len, timeout_ms, result, NULL, NULL);
}

int labctl_rpc_fetch(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		     json_t **result, void **bin, size_t *binlen)
{
	int rc;

	*bin = NULL;
	*binlen = 0;
	rc = rpc_request(ctx, o, method, params, NULL, 0, o->timeout_ms, result, bin, binlen);
	if (rc == -3)
		labctl_errmsg("labctl: no reply from the bridge at %s within %ld ms\n", o->rpc,
			      o->timeout_ms);
	if (rc < 0) {
		free(*bin);
		*bin = NULL;
		*binlen = 0;
		return -1;
	}
	return 0;
}

/* Send one request and wait up to --timeout-ms for its reply, as rpc_request (without binary
 * frames); a timeout is explained on stderr too and returns -1. */
int labctl_rpc_call(void *ctx, const struct labctl_opts *o, const char *method, json_t *params,
		    json_t **result)
{
	int rc = labctl_rpc_request(ctx, o, method, params, NULL, 0, o->timeout_ms, result);

	if (rc == -3) {
		labctl_errmsg(
		    "labctl: no answer from the bridge at %s within %ld ms — is labbridge "
		    "running?\n",
		    o->rpc, o->timeout_ms);
		rc = -1;
	}
	return rc;
}

/* Open a SUB socket to o->pub subscribed to topic and the heartbeat. The socket, or
 * NULL after saying why on stderr. */
void *labctl_subscribe(void *ctx, const struct labctl_opts *o, const char *topic)
{
	void *sub = zmq_socket(ctx, ZMQ_SUB);
	int linger = 0, hwm = LABCTL_SUB_HWM;
	size_t tlen = strlen(topic);

	if (!sub) {
		labctl_errmsg("labctl: cannot create a socket: %s\n", zmq_strerror(errno));
		return NULL;
	}
	zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
	/* the heartbeat tells us the bridge is alive and what was sent, even when not printed */
	if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, tlen) < 0 ||
	    (strncmp(LABCTL_HEARTBEAT_TOPIC, topic, tlen) &&
	     zmq_setsockopt(sub, ZMQ_SUBSCRIBE, LABCTL_HEARTBEAT_TOPIC,
			    strlen(LABCTL_HEARTBEAT_TOPIC)) < 0)) {
		labctl_errmsg("labctl: cannot subscribe: %s\n", zmq_strerror(errno));
		goto fail;
	}
	if (!*o->pub) {
		labctl_errmsg("labctl: no stream endpoint is known: give --connect RPC,PUB (or "
			      "--pub EP)\n");
		goto fail;
	}
	if (labctl_net_connect(ctx, sub, o, o->pub, o->timeout_ms, true) < 0)
		goto fail;
	return sub;
fail:
	zmq_close(sub);
	return NULL;
}

/* Receive one whole message from sock without waiting (up to 3 frames kept). 1 when a message
 * was read, 0 when none is waiting, -1 on an error (printed). */
int labctl_recv_message(void *sock, zmq_msg_t frames[3], int *n)
{
	int more = 1;

	*n = 0;
	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, *n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			int e = errno;

			zmq_msg_close(&m);
			if (*n == 0 && (e == EAGAIN || e == EINTR))
				return 0;
			labctl_errmsg("labctl: receiving a stream message: %s\n", zmq_strerror(e));
			return -1;
		}
		more = zmq_msg_more(&m);
		if (*n < 3)
			frames[(*n)++] = m; /* the message moves into frames[] */
		else
			zmq_msg_close(&m);
	}
	return 1;
}
