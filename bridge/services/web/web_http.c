/* web_http.c - the bridge's HTTP server (libmicrohttpd): static files, pairing, calls, SSE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <zmq.h>

#include "../../../protocols/httpapi.h"
#include "../../core/service.h"
#include "../../util/log.h"
#include "../../core/topics.h"
#include "web.h"

#define CONN_LIMIT 96	  /* connections at once */
#define CONN_PER_IP 48	  /* ... from one address (a tablet needs two: page and stream) */
#define CONN_TIMEOUT_S 30 /* an idle connection is closed */
#define CONN_MEMORY 16384 /* per connection, for the request line and headers */
#define STREAMS_MAX 48	  /* SSE streams at once */
#define STREAM_HWM 10000  /* messages waiting for one slow stream before ZeroMQ drops */
#define KEEPALIVE_NS 15000000000LL
/* Events that come within this time go out in one write: fewer wake-ups and system calls per
 * tablet, 20 ms of latency at most (a plot redraws every 16 ms). */
#define BATCH_NS 20000000LL
#define CHECK_NS 1000000000LL /* a stream asks whether its session still lives this often */
#define POLL_MS 250	      /* a stream looks at its session and the stop flag this often */
#define SEQ_TOPICS 256	      /* topics whose last seq a stream remembers (gaps) */

struct lb_web {
	lb_web_opts o;
	struct MHD_Daemon *d;
	int root; /* the www folder (O_PATH) */
	unsigned port;
	atomic_int stopping;
	atomic_int streams;
	atomic_uint_fast64_t next_stream; /* stream ids, for their grants (grants.h) */
};

/* One request in progress: its body so far. */
typedef struct req {
	char *body;
	size_t len, cap, limit;
} req;

/* ---------------------------------------------------------------- responses */

/* The client's address as text. */
static void peer_addr(struct MHD_Connection *c, char *out, size_t cap)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, cap, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
			  (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6 &&
		 IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr))
		/* an IPv4 client of a dual-stack socket: named as IPv4 (logs, rate limits) */
		inet_ntop(AF_INET, &((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[12], out,
			  (socklen_t)cap);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
			  (socklen_t)cap);
}

/* Queue a response with the headers every answer carries; MHD_NO if it could not be made. */
static enum MHD_Result send_response(struct MHD_Connection *c, unsigned status,
				     struct MHD_Response *r, const char *type)
{
	enum MHD_Result rc;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy", "default-src 'self'");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Queue a JSON body (text malloc'd, taken over; NULL: out of memory). */
static enum MHD_Result send_json_text(struct MHD_Connection *c, unsigned status, char *text)
{
	struct MHD_Response *r;

	if (!text)
		return MHD_NO;
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return send_response(c, status, r, "application/json");
}

/* Queue a JSON value (stolen). */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return send_json_text(c, status, text);
}

/* Refuse a request: status and {"error": {code, message}}, logged with the client's address. */
static enum MHD_Result refuse(struct MHD_Connection *c, unsigned status, const char *code,
			      const char *message, const char *url)
{
	char addr[INET6_ADDRSTRLEN];

	peer_addr(c, addr, sizeof addr);
	lb_warn("http: %s %.120s refused (%u %s): %s", addr, url, status, code, message);
	return send_json(c, status,
			 json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

/* The session of the request's token (Authorization: Bearer, or ?token= when query_ok): 0, or
 * refused with 401 (the response is queued: *rc holds its result). */
static int session_of(lb_web *w, struct MHD_Connection *c, const char *url, int query_ok,
		      lb_session_info *out, enum MHD_Result *rc)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	const char *q =
	    query_ok ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token") : NULL;
	char token[LB_HTTPAPI_TOKEN_LEN + 1];
	const char *why = "no session token: pair first";

	if (h ? lb_httpapi_token(h, 1, token) == 0 : q && lb_httpapi_token(q, 0, token) == 0) {
		if (lb_pairs_check(w->o.pairs, token, lb_now_read(), out, &why) == 0)
			return 0;
	} else if (h || q) {
		why = "malformed session token";
	}
	*rc = refuse(c, MHD_HTTP_UNAUTHORIZED, "unauthorized", why, url);
	return -1;
}

/* ---------------------------------------------------------------- static files */

/* Open path under the root, never leaving it (openat2 RESOLVE_BENEATH): an fd or -1. */
static int open_beneath(int root, const char *path)
{
	struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
			       .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
	long fd = syscall(SYS_openat2, root, path, &how, sizeof how);

	if (fd < 0 && errno == ENOSYS) /* kernels before 5.6: no symlink at all */
		fd = openat(root, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	return (int)fd;
}

/* GET or HEAD of a static file. */
static enum MHD_Result serve_file(lb_web *w, struct MHD_Connection *c, const char *url)
{
	char path[LB_HTTPAPI_PATH_MAX + 1];
	struct stat st;
	struct MHD_Response *r;
	int fd;

	if (lb_httpapi_path(url, strlen(url), path, sizeof path) < 0)
		return refuse(c, MHD_HTTP_NOT_FOUND, "not_found", "no such file", url);
	fd = open_beneath(w->root, path);
	if (fd < 0)
		return refuse(c, MHD_HTTP_NOT_FOUND, "not_found", "no such file", url);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return refuse(c, MHD_HTTP_NOT_FOUND, "not_found", "no such file", url);
	}
	r = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!r) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return send_response(c, MHD_HTTP_OK, r, lb_httpapi_mime(path));
}

/* ---------------------------------------------------------------- pairing and calls */

/* POST /api/pair {code} -> a session. */
static enum MHD_Result api_pair(lb_web *w, struct MHD_Connection *c, const char *url, req *q)
{
	char code[LB_HTTPAPI_CODE_LEN + 1], addr[INET6_ADDRSTRLEN];
	unsigned char raw[32];
	char token[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	const char *why;
	lb_session_info s;
	int rc;

	if (lb_httpapi_pair_parse(q->body ? q->body : "", q->len, code, &why) < 0)
		return refuse(c, MHD_HTTP_BAD_REQUEST, "invalid_params", why, url);
	peer_addr(c, addr, sizeof addr);
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(token, sizeof token, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
	rc = lb_pairs_redeem(w->o.pairs, code, addr, token, lb_now_read(), &s, &why);
	if (rc == LB_PAIRS_LIMITED)
		return refuse(c, 429, "rate_limited", why, url);
	if (rc < 0)
		return refuse(c, MHD_HTTP_FORBIDDEN, "forbidden", why, url);
	lb_info("http: %s paired as %s (%s, \"%s\", session %s)", addr, s.user,
		lb_role_name(s.role), s.name, s.session);
	return send_json(c, MHD_HTTP_OK,
			 json_pack("{s:s, s:s, s:s, s:s, s:I, s:i}", "token", token, "role",
				   lb_role_name(s.role), "name", s.name, "user", s.user, "expires",
				   (json_int_t)(s.expires_real / 1000000000), "idle_s", s.idle_s));
}

/* GET /api/session: who the token is. */
static enum MHD_Result api_session(lb_web *w, struct MHD_Connection *c, const char *url)
{
	lb_session_info s;
	enum MHD_Result rc;

	if (session_of(w, c, url, 0, &s, &rc) < 0)
		return rc;
	return send_json(c, MHD_HTTP_OK,
			 json_pack("{s:s, s:s, s:s, s:I, s:i}", "role", lb_role_name(s.role),
				   "name", s.name, "user", s.user, "expires",
				   (json_int_t)(s.expires_real / 1000000000), "idle_s", s.idle_s));
}

/* Send a call to the bridge's vouched socket as session s and wait for the reply: the reply
 * object, or NULL with *status. A binary frame that came back is in the reply's data, in
 * base64, or in *bin (malloc'd) and *binlen when bin is not NULL. */
static json_t *call_bridge_as(lb_web *w, const lb_session_info *s, int internal,
			      lb_httpapi_call *call, unsigned *status, const char **why, void **bin,
			      size_t *binlen)
{
	void *sock = zmq_socket(w->o.zctx, ZMQ_DEALER);
	json_t *who =
	    json_pack("{s:s, s:s, s:s, s:s, s:b}", "user", s->user, "role", lb_role_name(s->role),
		      "name", s->name, "session", s->session, "internal", internal);
	json_t *rq =
	    json_pack("{s:i, s:s, s:O}", "id", 1, "method", call->method, "params", call->params);
	char *who_text = who ? json_dumps(who, JSON_COMPACT) : NULL;
	char *rq_text = rq ? json_dumps(rq, JSON_COMPACT) : NULL;
	json_t *reply = NULL;
	zmq_msg_t parts[3];
	int nparts = 0, zero = 0, more = 1;
	zmq_pollitem_t pi;

	*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	*why = "internal error";
	if (!sock || !who_text || !rq_text)
		goto out;
	zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(sock, SRV_VOUCHED_ENDPOINT) < 0 ||
	    zmq_send(sock, who_text, strlen(who_text), ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, rq_text, strlen(rq_text), call->data ? ZMQ_SNDMORE : 0) < 0 ||
	    (call->data && zmq_send(sock, call->data, call->datalen, 0) < 0))
		goto out;
	pi = (zmq_pollitem_t){sock, 0, ZMQ_POLLIN, 0};
	/* in slices, so that a stopping bridge does not wait for a call's whole timeout */
	for (int waited = 0; waited < w->o.call_timeout_ms && !atomic_load(&w->stopping);
	     waited += POLL_MS)
		if (zmq_poll(&pi, 1, POLL_MS) != 0)
			break;
	if (!(pi.revents & ZMQ_POLLIN)) {
		*status = MHD_HTTP_GATEWAY_TIMEOUT;
		*why = "the bridge did not answer in time";
		goto out;
	}
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sock, 0) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (nparts < 3) {
			zmq_msg_init(&parts[nparts]);
			zmq_msg_move(&parts[nparts++], &m);
		}
		zmq_msg_close(&m);
	}
	/* [identity][reply][data?] */
	if (nparts >= 2)
		reply = json_loadb(zmq_msg_data(&parts[1]), zmq_msg_size(&parts[1]), 0, NULL);
	if (!json_is_object(reply)) {
		json_decref(reply);
		reply = NULL;
		goto out;
	}
	json_object_del(reply, "id");
	if (nparts == 3 && bin) { /* the caller takes the bytes as they are */
		*binlen = zmq_msg_size(&parts[2]);
		*bin = malloc(*binlen ? *binlen : 1);
		if (*bin)
			memcpy(*bin, zmq_msg_data(&parts[2]), *binlen);
	} else if (nparts == 3) {
		size_t n = zmq_msg_size(&parts[2]);
		size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
		char *b64 = malloc(cap);
		if (b64) {
			sodium_bin2base64(b64, cap, zmq_msg_data(&parts[2]), n,
					  sodium_base64_VARIANT_ORIGINAL);
			json_object_set_new(reply, "data", json_string(b64));
			free(b64);
		}
	}
	*status = MHD_HTTP_OK;
out:
	for (int i = 0; i < nparts; i++)
		zmq_msg_close(&parts[i]);
	if (sock)
		zmq_close(sock);
	json_decref(who);
	json_decref(rq);
	free(who_text);
	free(rq_text);
	return reply;
}

/* A client's call (never an internal one: only this file's own requests are) as session s. */
static json_t *call_bridge(lb_web *w, const lb_session_info *s, lb_httpapi_call *call,
			   unsigned *status, const char **why, void **bin, size_t *binlen)
{
	return call_bridge_as(w, s, 0, call, status, why, bin, binlen);
}

/* POST /api/call {method, params, data?} as the token's session. */
static enum MHD_Result api_call(lb_web *w, struct MHD_Connection *c, const char *url, req *q)
{
	lb_session_info s;
	lb_httpapi_call call;
	enum MHD_Result rc;
	const char *code, *why;
	unsigned status;
	json_t *reply;

	if (session_of(w, c, url, 0, &s, &rc) < 0)
		return rc;
	if (lb_httpapi_call_parse(q->body ? q->body : "", q->len, &call, &code, &why) < 0)
		return refuse(c,
			      strcmp(code, "too_large") == 0 ? MHD_HTTP_CONTENT_TOO_LARGE
							     : MHD_HTTP_BAD_REQUEST,
			      code, why, url);
	reply = call_bridge(w, &s, &call, &status, &why, NULL, NULL);
	if (reply && json_object_get(reply, "error"))
		lb_dbg(
		    "http: %s (%s) %s: %s", s.user, s.session, call.method,
		    json_string_value(json_object_get(json_object_get(reply, "error"), "message")));
	lb_httpapi_call_clear(&call);
	if (!reply)
		return refuse(c, status,
			      status == MHD_HTTP_GATEWAY_TIMEOUT ? "timeout" : "internal_error",
			      why, url);
	return send_json(c, status, reply);
}

/* A download in progress: the chunk being sent, where the next one starts. */
typedef struct download {
	lb_web *w;
	lb_session_info s;
	long long job;
	char file[129];
	unsigned char *chunk;
	size_t len, pos;
	uint64_t next, total;
} download;

/* Fetch the chunk of the file at d->next with jobs.fetch as the session: 0, or -1 with the
 * bridge's reply (or NULL) in *reply_out when asked. */
static int fetch_chunk(download *d, json_t **reply_out)
{
	lb_httpapi_call call = {.params =
				    json_pack("{s:I, s:s, s:I}", "id", (json_int_t)d->job, "file",
					      d->file, "offset", (json_int_t)d->next)};
	unsigned status;
	const char *why;
	void *bin = NULL;
	size_t n = 0;
	json_t *reply, *res;

	snprintf(call.method, sizeof call.method, "jobs.fetch");
	reply = call.params ? call_bridge(d->w, &d->s, &call, &status, &why, &bin, &n) : NULL;
	json_decref(call.params);
	res = json_object_get(reply, "result");
	if (!json_is_object(res) || !bin) {
		free(bin);
		if (reply_out)
			*reply_out = reply;
		else
			json_decref(reply);
		return -1;
	}
	free(d->chunk);
	d->chunk = bin;
	d->len = n;
	d->pos = 0;
	d->next += n;
	d->total = (uint64_t)json_integer_value(json_object_get(res, "total"));
	json_decref(reply);
	return 0;
}

/* MHD's content reader of a download: the current chunk, then the next one. */
static ssize_t download_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	download *d = cls;
	size_t k;

	if (d->pos == d->len) {
		if (d->next >= d->total || fetch_chunk(d, NULL) < 0 || d->len == 0)
			return MHD_CONTENT_READER_END_WITH_ERROR; /* the file changed under us */
	}
	k = d->len - d->pos < max ? d->len - d->pos : max;
	memcpy(buf, d->chunk + d->pos, k);
	d->pos += k;
	return (ssize_t)k;
}

/* MHD is done with a download. */
static void download_free(void *cls)
{
	download *d = cls;

	free(d->chunk);
	free(d);
}

/* GET /api/file?job=ID&file=NAME&token=...: a job's result file, read with jobs.fetch as the
 * session (its owner or a teacher), sent as an attachment. */
static enum MHD_Result api_file(lb_web *w, struct MHD_Connection *c, const char *url)
{
	download *d = calloc(1, sizeof *d);
	struct MHD_Response *r;
	enum MHD_Result rc;
	const char *why;
	json_t *reply = NULL, *e;
	char disp[200];

	if (!d)
		return MHD_NO;
	d->w = w;
	if (session_of(w, c, url, 1, &d->s, &rc) < 0)
		goto done;
	if (lb_httpapi_file_query(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "job"),
				  MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "file"),
				  &d->job, d->file, &why) < 0) {
		rc = refuse(c, MHD_HTTP_BAD_REQUEST, "invalid_params", why, url);
		goto done;
	}
	if (fetch_chunk(d, &reply) < 0) {
		e = json_object_get(reply, "error");
		why = json_string_value(json_object_get(e, "message"));
		rc = refuse(c,
			    json_integer_value(json_object_get(e, "code")) == 1002
				? MHD_HTTP_FORBIDDEN
				: (e ? MHD_HTTP_NOT_FOUND : MHD_HTTP_GATEWAY_TIMEOUT),
			    e ? json_string_value(json_object_get(e, "name")) : "timeout",
			    why ? why : "the bridge did not answer", url);
		json_decref(reply);
		goto done;
	}
	r = MHD_create_response_from_callback(d->total, 65536, download_read, d, download_free);
	if (!r)
		goto done_no;
	snprintf(disp, sizeof disp, "attachment; filename=\"job%lld-%s\"", d->job, d->file);
	MHD_add_response_header(r, "Content-Disposition", disp);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return send_response(c, MHD_HTTP_OK, r, lb_httpapi_mime(d->file));
done_no:
	rc = MHD_NO;
done:
	download_free(d);
	return rc;
}

/* ---------------------------------------------------------------- live data */

/* One SSE stream: its SUB socket, the event being sent, the last seq of each topic. */
typedef struct stream {
	lb_web *w;
	uint64_t id;	  /* its grants (grants.h) */
	size_t dependent; /* prefixes granted by ownership: each message is checked */
	void *sub;
	char token[LB_HTTPAPI_TOKEN_LEN + 1];
	char *out; /* an event not yet wholly given to MHD */
	size_t outlen, outpos;
	int64_t last_sent, next_check; /* mono */
	int ended;
	struct {
		char topic[LB_HTTPAPI_TOPIC_MAX * 2];
		uint64_t seq;
	} seen[SEQ_TOPICS];
	size_t nseen;
} stream;

/* The last seq sent on topic (NULL: none), and where to store the next one (NULL: no room). */
static uint64_t *seen_slot(stream *st, const void *topic, size_t len, int *known)
{
	for (size_t i = 0; i < st->nseen; i++)
		if (strlen(st->seen[i].topic) == len &&
		    memcmp(st->seen[i].topic, topic, len) == 0) {
			*known = 1;
			return &st->seen[i].seq;
		}
	*known = 0;
	if (st->nseen == SEQ_TOPICS || len >= sizeof st->seen[0].topic)
		return NULL;
	memcpy(st->seen[st->nseen].topic, topic, len);
	st->seen[st->nseen].topic[len] = '\0';
	return &st->seen[st->nseen++].seq;
}

/* Read one message from the SUB socket into st->out as an event; 1 if one is ready, 0 if none
 * was waiting. */
static int next_event(stream *st)
{
	zmq_msg_t f[3];
	int n = 0, more = 1, got = 0;
	char prefix[256], reason[160];

	if (st->dependent && lb_grants_next_revoked(st->w->o.grants, st->id, prefix, sizeof prefix,
						    reason, sizeof reason)) {
		json_t *j = json_pack("{s:s, s:s}", "topic", prefix, "reason", reason);
		char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (text && asprintf(&st->out, "event: revoked\ndata: %s\n\n", text) > 0) {
			st->outlen = strlen(st->out);
			st->outpos = 0;
		} else {
			st->out = NULL;
		}
		free(text);
		return 1;
	}
	while (more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, st->sub, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		more = zmq_msg_more(&m);
		if (n < 3) {
			zmq_msg_init(&f[n]);
			zmq_msg_move(&f[n++], &m);
		}
		zmq_msg_close(&m);
	}
	/* a restricted topic granted by ownership that ended: dropped from then on */
	if (n >= 2 && st->dependent &&
	    lb_topic_restricted(zmq_msg_data(&f[0]), zmq_msg_size(&f[0])) &&
	    lb_grants_blocked(st->w->o.grants, st->id, zmq_msg_data(&f[0]), zmq_msg_size(&f[0])))
		n = -n;
	if (n >= 2) {
		int known;
		uint64_t seq,
		    *slot = seen_slot(st, zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), &known);
		uint64_t prev = slot ? *slot : 0;
		st->out = lb_httpapi_sse_event(
		    zmq_msg_data(&f[0]), zmq_msg_size(&f[0]), zmq_msg_data(&f[1]),
		    zmq_msg_size(&f[1]), n == 3 ? zmq_msg_data(&f[2]) : NULL,
		    n == 3 ? zmq_msg_size(&f[2]) : 0, known ? &prev : NULL, &seq, &st->outlen);
		if (slot)
			*slot = seq;
		st->outpos = 0;
		got = st->out != NULL;
	}
	if (n < 0) /* dropped: still one message read */
		n = -n;
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
	return got || n > 0;
}

/* Copy what fits of st->out into buf; how many bytes. */
static size_t give(stream *st, char *buf, size_t max)
{
	size_t k = st->outlen - st->outpos < max ? st->outlen - st->outpos : max;

	memcpy(buf, st->out + st->outpos, k);
	st->outpos += k;
	if (st->outpos == st->outlen) {
		free(st->out);
		st->out = NULL;
	}
	return k;
}

/* MHD's content reader of a stream: blocks (this connection's own thread) until events come,
 * fills buf with as many as fit; ends when the session (looked at every second) or the server
 * does, with a last event saying why. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	stream *st = cls;
	size_t n = 0;
	int64_t batch_end = 0; /* when what was gathered must go (0: nothing yet) */

	if (st->ended || atomic_load(&st->w->stopping))
		return MHD_CONTENT_READER_END_OF_STREAM;
	for (;;) {
		lb_now now = lb_now_read();
		zmq_pollitem_t pi = {st->sub, 0, ZMQ_POLLIN, 0};
		int64_t wait_ns = (int64_t)POLL_MS * 1000000;

		if (n == 0 && now.mono >= st->next_check) {
			lb_session_info s;
			const char *why;
			st->next_check = now.mono + CHECK_NS;
			if (lb_pairs_check(st->w->o.pairs, st->token, now, &s, &why) < 0) {
				n = (size_t)snprintf(
				    buf, max, "event: end\ndata: {\"reason\":\"%s\"}\n\n", why);
				st->ended = 1;
				break;
			}
		}
		while (n < max) {
			if (!st->out && !next_event(st))
				break;
			if (st->out)
				n += give(st, buf + n, max - n);
		}
		if (n > 0 && !batch_end) /* gather what comes within BATCH_NS into one write */
			batch_end = now.mono + BATCH_NS;
		if (n == max || (n > 0 && now.mono >= batch_end))
			break;
		if (n > 0) {
			wait_ns = batch_end - now.mono;
		} else {
			if (atomic_load(&st->w->stopping))
				return MHD_CONTENT_READER_END_OF_STREAM;
			if (now.mono - st->last_sent >= KEEPALIVE_NS) {
				n = (size_t)snprintf(buf, max, ": keepalive\n\n");
				break;
			}
		}
		zmq_poll(&pi, 1, (long)(wait_ns / 1000000) + 1);
	}
	if (n > max)
		n = max;
	st->last_sent = lb_clock_ns(CLOCK_MONOTONIC);
	return (ssize_t)n;
}

/* MHD is done with a stream. */
static void stream_free(void *cls)
{
	stream *st = cls;

	if (st->sub)
		zmq_close(st->sub);
	free(st->out);
	if (st->id)
		lb_grants_drop(st->w->o.grants, st->id);
	atomic_fetch_sub(&st->w->streams, 1);
	free(st);
}

/* The prefixes a stream subscribes to, after the topic policy (topics.h). */
typedef struct web_subs {
	char v[64][LB_TOPIC_MAX + 1];
	size_t n;
} web_subs;

/* lb_topic_emit: one prefix a narrowed subscription becomes (the extra ones are dropped). */
static void web_subs_add(void *arg, const char *prefix, size_t len)
{
	web_subs *ws = arg;

	if (ws->n < sizeof ws->v / sizeof ws->v[0] && len <= LB_TOPIC_MAX) {
		memcpy(ws->v[ws->n], prefix, len);
		ws->v[ws->n++][len] = '\0';
	}
}

/*
 * What session s receives of the prefixes asked, as stream id: a teacher everything; any other
 * role what the main loop's topic policy grants it (web.stream_grant, an internal request: the
 * main loop alone knows who holds which device; a restricted topic of a device the session owns
 * is granted, and taken back when that ends, grants.h). 0 with *ws and *dependent filled, or
 * LB_EFAIL with *status and why[cap] set (403 for a refused prefix).
 */
static int web_topics_for(lb_web *w, const lb_session_info *s, uint64_t id,
			  const lb_httpapi_topics *t, web_subs *ws, size_t *dependent,
			  unsigned *status, char *why, size_t cap)
{
	lb_httpapi_call call = {0};
	json_t *reply, *res, *e, *v;
	const char *msg;
	size_t i;

	ws->n = 0;
	*dependent = 0;
	if (s->role >= LB_ROLE_TEACHER) {
		for (i = 0; i < t->n; i++)
			web_subs_add(ws, t->v[i], strlen(t->v[i]));
		return 0;
	}
	snprintf(call.method, sizeof call.method, "web.stream_grant");
	call.params = json_pack("{s:I, s:[]}", "stream", (json_int_t)id, "prefixes");
	for (i = 0; call.params && i < t->n; i++)
		json_array_append_new(json_object_get(call.params, "prefixes"),
				      json_string(t->v[i]));
	reply = call.params ? call_bridge_as(w, s, 1, &call, status, &msg, NULL, NULL) : NULL;
	json_decref(call.params);
	res = json_object_get(reply, "result");
	e = json_object_get(reply, "error");
	if (!json_is_object(res)) {
		if (e && json_integer_value(json_object_get(e, "code")) == 1002)
			*status = MHD_HTTP_FORBIDDEN;
		else if (e)
			*status = MHD_HTTP_INTERNAL_SERVER_ERROR;
		msg = e ? json_string_value(json_object_get(e, "message")) : msg;
		snprintf(why, cap, "%s", msg ? msg : "internal error");
		json_decref(reply);
		return LB_EFAIL;
	}
	json_array_foreach(json_object_get(res, "prefixes"), i, v)
	{
		if (json_is_string(v))
			web_subs_add(ws, json_string_value(v), json_string_length(v));
	}
	*dependent = (size_t)json_integer_value(json_object_get(res, "dependent"));
	json_decref(reply);
	return 0;
}

/* GET /api/stream?topics=...&token=... */
static enum MHD_Result api_stream(lb_web *w, struct MHD_Connection *c, const char *url)
{
	lb_session_info s;
	lb_httpapi_topics t;
	web_subs subs;
	enum MHD_Result rc;
	const char *why;
	stream *st;
	struct MHD_Response *r;
	int hwm = STREAM_HWM, zero = 0;
	char msg[600];
	uint64_t id;
	size_t dependent;
	unsigned status;

	if (session_of(w, c, url, 1, &s, &rc) < 0)
		return rc;
	if (lb_httpapi_topics_parse(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "topics"),
				    &t, &why) < 0)
		return refuse(c, MHD_HTTP_BAD_REQUEST, "invalid_params", why, url);
	if (atomic_fetch_add(&w->streams, 1) >= STREAMS_MAX) {
		atomic_fetch_sub(&w->streams, 1);
		return refuse(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy", "too many live streams",
			      url);
	}
	id = atomic_fetch_add(&w->next_stream, 1) + 1;
	if (web_topics_for(w, &s, id, &t, &subs, &dependent, &status, msg, sizeof msg) < 0) {
		lb_grants_drop(w->o.grants, id); /* an answer that came too late may have some */
		atomic_fetch_sub(&w->streams, 1);
		return refuse(c, status,
			      status == MHD_HTTP_FORBIDDEN	   ? "forbidden"
			      : status == MHD_HTTP_GATEWAY_TIMEOUT ? "timeout"
								   : "internal_error",
			      msg, url);
	}
	st = calloc(1, sizeof *st);
	if (!st) {
		lb_grants_drop(w->o.grants, id);
		atomic_fetch_sub(&w->streams, 1);
		return MHD_NO;
	}
	st->w = w;
	st->id = id;
	st->dependent = dependent;
	lb_httpapi_token(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token"), 0,
			 st->token);
	if (!st->token[0])
		lb_httpapi_token(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization"),
				 1, st->token);
	/* an XSUB whose subscriptions carry the run's key (service.h: srv_streams_token), as the
	 * recorder's: in-process subscribers have no identity of their own, and these prefixes
	 * went through the main loop's topic policy for the session's (web_topics_for) */
	st->sub = zmq_socket(w->o.zctx, ZMQ_XSUB);
	if (!st->sub)
		goto fail;
	zmq_setsockopt(st->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
	zmq_setsockopt(st->sub, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(st->sub, w->o.streams_endpoint) < 0)
		goto fail;
	for (size_t i = 0; i < subs.n; i++) {
		unsigned char m[1 + LB_STREAMS_TOKEN + LB_TOPIC_MAX];
		size_t len = strlen(subs.v[i]);
		m[0] = 1;
		memcpy(m + 1, w->o.streams_token, LB_STREAMS_TOKEN);
		memcpy(m + 1 + LB_STREAMS_TOKEN, subs.v[i], len);
		if (zmq_send(st->sub, m, 1 + LB_STREAMS_TOKEN + len, 0) < 0)
			goto fail;
	}
	st->last_sent = lb_clock_ns(CLOCK_MONOTONIC);
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, st,
					      stream_free);
	if (!r)
		goto fail;
	lb_info("http: %s (%s) streams %zu prefixes from %s", s.user, s.session, t.n, t.v[0]);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return send_response(c, MHD_HTTP_OK, r, "text/event-stream");
fail:
	st->out = NULL;
	stream_free(st);
	return MHD_NO;
}

/* ---------------------------------------------------------------- dispatch */

/* MHD's access handler: collects a POST body (bounded), then routes the request. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	lb_web *w = cls;
	req *q = *con_cls;
	int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
	int get =
	    strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	int api = strncmp(url, "/api/", 5) == 0;

	if (!q) { /* the headers have come */
		const char *cl =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		q = calloc(1, sizeof *q);
		if (!q)
			return MHD_NO;
		q->limit =
		    strcmp(url, "/api/pair") == 0 ? LB_HTTPAPI_PAIR_MAX : LB_HTTPAPI_BODY_MAX;
		if (!post)
			q->limit = 0;
		*con_cls = q;
		if (cl && strtoull(cl, NULL, 10) > q->limit && post)
			return refuse(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
				      "the body is over the size limit", url);
		return MHD_YES;
	}
	if (*upload_size) { /* a piece of the body */
		if (q->len + *upload_size > q->limit) {
			/* a body without Content-Length (chunked) that grew too large: refused now,
			 * and the connection closed, rather than read to its end */
			*upload_size = 0;
			refuse(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
			       "the body is over the size limit", url);
			return MHD_NO;
		} else {
			if (q->len + *upload_size + 1 > q->cap) {
				size_t cap = (q->len + *upload_size + 1) * 2;
				char *b;
				if (cap > q->limit + 1)
					cap = q->limit + 1;
				b = realloc(q->body, cap);
				if (!b)
					return MHD_NO;
				q->body = b;
				q->cap = cap;
			}
			memcpy(q->body + q->len, upload, *upload_size);
			q->len += *upload_size;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (!api) {
		if (!get)
			return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
				      "static files are read with GET", url);
		return serve_file(w, c, url);
	}
	if (strcmp(url, "/api/pair") == 0 && post)
		return api_pair(w, c, url, q);
	if (strcmp(url, "/api/call") == 0 && post)
		return api_call(w, c, url, q);
	if (strcmp(url, "/api/session") == 0 && get)
		return api_session(w, c, url);
	if (strcmp(url, "/api/stream") == 0 && get)
		return api_stream(w, c, url);
	if (strcmp(url, "/api/file") == 0 && get)
		return api_file(w, c, url);
	if (!strcmp(url, "/api/pair") || !strcmp(url, "/api/call") ||
	    !strcmp(url, "/api/session") || !strcmp(url, "/api/stream"))
		return refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
			      "wrong HTTP method for this request", url);
	return refuse(c, MHD_HTTP_NOT_FOUND, "not_found", "no such API request", url);
}

/* A request is over: free its body. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	req *q = *con_cls;

	if (q) {
		free(q->body);
		free(q);
		*con_cls = NULL;
	}
}

/* Keep the URL as it came (no unescaping by MHD): lb_httpapi_path and the query readers decode
 * it themselves, refusing NUL and bad escapes. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s);
}

/* MHD's own error messages, into the bridge's log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof msg, fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	lb_dbg("http: %s", msg);
}

/* ---------------------------------------------------------------- life cycle */

int lb_web_parse_addr(const char *text, struct sockaddr_storage *sa, int *dual)
{
	const char *colon = strrchr(text, ':');
	struct sockaddr_in *v4 = (struct sockaddr_in *)sa;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)sa;
	char host[64];
	char *end;
	size_t n;
	unsigned long port;

	memset(sa, 0, sizeof *sa);
	*dual = 0;
	if (!colon || (size_t)(colon - text) >= sizeof host)
		return -1;
	n = (size_t)(colon - text);
	memcpy(host, text, n);
	host[n] = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (*end || end == colon + 1 || colon[1] < '0' || colon[1] > '9' || port > 65535)
		return -1;
	if (host[0] == '[') { /* an IPv6 literal, in brackets as in URLs */
		if (n < 3 || host[n - 1] != ']')
			return -1;
		host[n - 1] = '\0';
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		return inet_pton(AF_INET6, host + 1, &v6->sin6_addr) == 1 ? 0 : -1;
	}
	if (!*host || !strcmp(host, "*")) { /* every address of both families */
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		v6->sin6_addr = in6addr_any;
		*dual = 1;
		return 0;
	}
	v4->sin_family = AF_INET;
	v4->sin_port = htons((uint16_t)port);
	if (!strcmp(host, "localhost"))
		v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &v4->sin_addr) != 1)
		return -1;
	return 0;
}

/* Start MHD on sa (dual: both families); NULL when it cannot listen there. */
static struct MHD_Daemon *start_mhd(lb_web *w, const struct sockaddr_storage *sa, int dual)
{
	unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
			 MHD_USE_ERROR_LOG | MHD_USE_POLL;

	if (sa->ss_family == AF_INET6)
		flags |= dual ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
	return MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, w, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)sa,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned)CONN_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, w, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, w, MHD_OPTION_END);
}

lb_web *lb_web_new(const lb_web_opts *opts)
{
	lb_web *w = calloc(1, sizeof *w);
	struct sockaddr_storage sa;
	const union MHD_DaemonInfo *info;
	int dual;

	if (!w)
		return NULL;
	w->o = *opts;
	w->root = -1;
	if (lb_web_parse_addr(opts->addr, &sa, &dual) < 0) {
		lb_err("http: '%s' is not ADDR:PORT (IPv4, [IPv6], or * for every address)",
		       opts->addr);
		goto fail;
	}
	w->root = open(opts->www, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (w->root < 0) {
		lb_warn("http: the page's folder %s: %s", opts->www, strerror(errno));
		goto fail;
	}
	w->d = start_mhd(w, &sa, dual);
	if (!w->d && dual) { /* a computer without IPv6: every IPv4 address */
		struct sockaddr_in *v4 = (struct sockaddr_in *)&sa;
		in_port_t port = ((struct sockaddr_in6 *)&sa)->sin6_port;
		memset(&sa, 0, sizeof sa);
		v4->sin_family = AF_INET;
		v4->sin_port = port;
		v4->sin_addr.s_addr = htonl(INADDR_ANY);
		lb_info("http: no IPv6 here: listening on every IPv4 address only");
		w->d = start_mhd(w, &sa, 0);
	}
	if (!w->d) {
		lb_warn("http: cannot listen on %s (in use, or not an address of this computer)",
			opts->addr);
		goto fail;
	}
	info = MHD_get_daemon_info(w->d, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : 0;
	return w;
fail:
	lb_web_destroy(&w);
	return NULL;
}

unsigned lb_web_port(const lb_web *w)
{
	return w->port;
}

void lb_web_destroy(lb_web **pw)
{
	lb_web *w = pw ? *pw : NULL;

	if (!w)
		return;
	atomic_store(&w->stopping, 1);
	if (w->d)
		MHD_stop_daemon(w->d); /* streams see stopping within POLL_MS */
	if (w->root >= 0)
		close(w->root);
	free(w);
	*pw = NULL;
}
