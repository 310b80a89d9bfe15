/* labctl.c - the command-line client of labbridge: devices, watch, snapshot, call, info. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "header.h"

#define HEARTBEAT_SILENCE_MS 3000

typedef struct opts {
	const char *pub, *rpc;
	int timeout_ms;
	int json, csv;
	long count;    /* watch: samples to print, 0 = forever */
	double wait_s; /* watch: give up when no sample arrives for this long (0: never) */
} opts;

static volatile sig_atomic_t interrupted;

/* SIGINT: stop watching cleanly. */
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Print the usage text on f. */
static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: labctl [--pub EP] [--rpc EP] [--timeout-ms N] COMMAND [ARGS]\n"
	    "Talks to labbridge (bridge/PROTOCOL.md).\n\n"
	    "commands:\n"
	    "  devices [--json]                   the devices, their streams and leases\n"
	    "  watch PREFIX [--count N] [--json|--csv] [--timeout S]\n"
	    "                                     live samples of the topics under PREFIX\n"
	    "                                     (sensor/, sensor/sim-temp-1/, ...)\n"
	    "  snapshot [PREFIX] [--json]         the last value of every stream\n"
	    "  call METHOD [JSON-PARAMS]          any request; prints the result as JSON\n"
	    "  info                               bridge.info\n\n"
	    "Endpoints default to $LABBRIDGE_PUB / $LABBRIDGE_RPC, else tcp://127.0.0.1:5555 and\n"
	    "tcp://127.0.0.1:5556. Exit status: 0, 1 on an error (its message on stderr), 2 on bad "
	    "usage.\n");
}

/* Send a request and wait for its reply. Returns the reply's result (new reference), or NULL
 * after printing the error or the timeout on stderr. */
static json_t *request(void *ctx, const opts *o, const char *method, json_t *params)
{
	void *s = zmq_socket(ctx, ZMQ_DEALER);
	json_t *req = json_pack("{s:i,s:s,s:o}", "id", 1, "method", method, "params",
				params ? params : json_object());
	char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_t *reply = NULL, *result = NULL;
	zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
	int zero = 0;

	json_decref(req);
	if (!s || !text)
		goto out;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s, o->rpc) < 0) {
		fprintf(stderr, "labctl: cannot connect to %s: %s\n", o->rpc, zmq_strerror(errno));
		goto out;
	}
	zmq_send(s, "", 0, ZMQ_SNDMORE);
	zmq_send(s, text, strlen(text), 0);
	for (;;) {
		zmq_msg_t m;
		int n = zmq_poll(&it, 1, o->timeout_ms);
		if (n <= 0) {
			fprintf(
			    stderr,
			    "labctl: no answer from the bridge at %s within %d ms - is labbridge "
			    "running?\n",
			    o->rpc, o->timeout_ms);
			goto out;
		}
		zmq_msg_init(&m);
		zmq_msg_recv(&m, s, 0);
		if (zmq_msg_size(&m) > 0 && !reply)
			reply = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
		n = zmq_msg_more(&m);
		zmq_msg_close(&m);
		if (!n)
			break;
	}
	if (!reply) {
		fprintf(stderr, "labctl: the bridge sent a malformed reply\n");
	} else if (json_object_get(reply, "error")) {
		json_t *e = json_object_get(reply, "error");
		fprintf(stderr, "labctl: error %lld %s: %s\n",
			(long long)json_integer_value(json_object_get(e, "code")),
			json_string_value(json_object_get(e, "name")),
			json_string_value(json_object_get(e, "message")));
	} else {
		result = json_incref(json_object_get(reply, "result"));
		if (!result)
			result = json_null();
	}
out:
	free(text);
	json_decref(reply);
	if (s)
		zmq_close(s);
	return result;
}

/* Print a JSON value, indented, on stdout. */
static void print_json(const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));

	if (text)
		puts(text);
	free(text);
}

/* labctl devices: a table, or the JSON list. */
static int cmd_devices(void *ctx, const opts *o)
{
	json_t *devs = request(ctx, o, "devices.list", NULL), *d;
	size_t i;

	if (!devs)
		return 1;
	if (o->json) {
		print_json(devs);
		json_decref(devs);
		return 0;
	}
	printf("%-24s %-8s %-8s %-8s %-4s %s\n", "DEVICE", "KIND", "DRIVER", "STATE", "SIM",
	       "STREAMS");
	json_array_foreach(devs, i, d)
	{
		json_t *streams = json_object_get(d, "streams"), *st;
		json_t *lease = json_object_get(d, "lease");
		size_t k;
		char line[512] = "";
		size_t n = 0;
		json_array_foreach(streams, k, st)
		{
			n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0,
					      "%s%s (%s, %g Hz)", k ? ", " : "",
					      json_string_value(json_object_get(st, "name")),
					      json_string_value(json_object_get(st, "unit")),
					      json_number_value(json_object_get(st, "rate")));
		}
		printf("%-24s %-8s %-8s %-8s %-4s %s%s%s\n",
		       json_string_value(json_object_get(d, "id")),
		       json_string_value(json_object_get(d, "kind")),
		       json_string_value(json_object_get(d, "driver")),
		       json_string_value(json_object_get(d, "state")),
		       json_is_true(json_object_get(d, "simulated")) ? "yes" : "no", line,
		       json_is_object(lease) ? "  [leased by " : "",
		       json_is_object(lease) ? json_string_value(json_object_get(lease, "holder"))
					     : "");
		if (json_is_object(lease))
			putchar(']'), putchar('\n');
	}
	json_decref(devs);
	return 0;
}

/* Format ns since 1970 as local "YYYY-MM-DD HH:MM:SS.uuuuuu". */
static void format_time(char *buf, size_t cap, int64_t ns)
{
	time_t s = (time_t)(ns / 1000000000LL);
	struct tm tm;
	size_t n;

	localtime_r(&s, &tm);
	n = strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%06lld", (long long)((ns % 1000000000LL) / 1000));
}

/* The sample type of a header, or -1 if it has no samples (json events). */
static int sample_type(const json_t *h)
{
	const char *t = json_string_value(json_object_get(h, "type"));

	for (int k = LB_F32; k < LB_JSON; k++)
		if (t && strcmp(t, lb_sample_type_name((lb_sample_type)k)) == 0)
			return k;
	return -1;
}

/* Per-topic sequence tracking, to report gaps. */
typedef struct seen {
	char topic[128];
	uint64_t seq;
} seen;

/* Report a jump in seq on stderr (losses are visible, never silent). */
static void check_gap(seen *tab, int *n, const char *topic, uint64_t seq)
{
	for (int i = 0; i < *n; i++)
		if (strcmp(tab[i].topic, topic) == 0) {
			if (seq > tab[i].seq + 1)
				fprintf(stderr,
					"labctl: gap on %s: expected seq %" PRIu64 ", got %" PRIu64
					" (%" PRIu64 " messages lost)\n",
					topic, tab[i].seq + 1, seq, seq - tab[i].seq - 1);
			tab[i].seq = seq;
			return;
		}
	if (*n < 256) {
		snprintf(tab[*n].topic, sizeof tab[*n].topic, "%s", topic);
		tab[(*n)++].seq = seq;
	}
}

/* labctl watch PREFIX: print samples as lines, CSV or JSON lines. */
static int cmd_watch(void *ctx, const opts *o, const char *prefix)
{
	void *s = zmq_socket(ctx, ZMQ_SUB);
	static seen tab[256];
	int ntab = 0, zero = 0, rc = 1, want_bridge = strncmp(prefix, "bridge/", 7) == 0;
	long printed = 0;
	struct timespec ts;
	double last_any, last_sample, now;

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s, o->pub) < 0) {
		fprintf(stderr, "labctl: cannot connect to %s: %s\n", o->pub, zmq_strerror(errno));
		zmq_close(s);
		return 1;
	}
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, "bridge/heartbeat/", 17); /* to notice a dead bridge */
	if (o->csv)
		printf("time_ns,topic,value,unit\n");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	last_any = last_sample = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	while (!interrupted && (!o->count || printed < o->count)) {
		zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
		zmq_msg_t f[3];
		int nf = 0, more = 1;
		char topic[128];
		json_t *h;
		int type;

		if (zmq_poll(&it, 1, 200) < 0 && errno == EINTR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
		if (!(it.revents & ZMQ_POLLIN)) {
			if (now - last_any > HEARTBEAT_SILENCE_MS / 1000.0) {
				fprintf(stderr,
					"labctl: no heartbeat from the bridge at %s for %d s - is "
					"labbridge running?\n",
					o->pub, HEARTBEAT_SILENCE_MS / 1000);
				goto out;
			}
			if (o->wait_s > 0 && now - last_sample > o->wait_s) {
				fprintf(stderr, "labctl: nothing on %s for %.0f s\n", prefix,
					o->wait_s);
				goto out;
			}
			continue;
		}
		last_any = now;
		for (; more && nf < 3; nf++) {
			zmq_msg_init(&f[nf]);
			zmq_msg_recv(&f[nf], s, 0);
			more = zmq_msg_more(&f[nf]);
		}
		while (more) { /* unexpected extra frames */
			zmq_msg_t x;
			zmq_msg_init(&x);
			zmq_msg_recv(&x, s, 0);
			more = zmq_msg_more(&x);
			zmq_msg_close(&x);
		}
		snprintf(topic, sizeof topic, "%.*s", (int)zmq_msg_size(&f[0]),
			 (const char *)zmq_msg_data(&f[0]));
		h = nf > 1 ? json_loadb(zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), 0, NULL) : NULL;
		if (!h || (strncmp(topic, prefix, strlen(prefix)) != 0))
			goto next; /* the heartbeat we asked for ourselves */
		check_gap(tab, &ntab, topic,
			  (uint64_t)json_integer_value(json_object_get(h, "seq")));
		type = sample_type(h);
		if (type < 0 || nf < 3) {
			/* an event (device change, end of a stream, heartbeat) */
			char *d =
			    json_dumps(json_object_get(h, "data"), JSON_COMPACT | JSON_ENCODE_ANY);
			if (o->json)
				printf("{\"topic\":\"%s\",\"seq\":%lld,\"data\":%s}\n", topic,
				       (long long)json_integer_value(json_object_get(h, "seq")),
				       d ? d : "null");
			else if (!o->csv)
				printf("%s  %s\n", topic, d ? d : "null");
			free(d);
			if (want_bridge)
				printed++;
		} else {
			size_t size = lb_sample_type_size((lb_sample_type)type);
			size_t count = zmq_msg_size(&f[2]) / size;
			int64_t t0 = json_integer_value(json_object_get(h, "t_host"));
			double rate = json_number_value(json_object_get(h, "rate"));
			const char *unit = json_string_value(json_object_get(h, "unit"));
			for (size_t i = 0; i < count && (!o->count || printed < o->count); i++) {
				int64_t t = t0 + (rate > 0 ? (int64_t)((double)i * 1e9 / rate) : 0);
				double v =
				    lb_sample_get((lb_sample_type)type, zmq_msg_data(&f[2]), i);
				char when[64];
				if (o->csv) {
					printf("%" PRId64 ",%s,%.7g%s,%s\n", t, topic, v,
					       fabs(v - rint(v)) < 1e-12 ? ".0" : "",
					       unit ? unit : "");
				} else if (o->json) {
					printf(
					    "{\"topic\":\"%s\",\"t_ns\":%" PRId64 ",\"value\":%.9g,"
					    "\"unit\":\"%s\",\"quantity\":\"%s\",\"seq\":%lld}\n",
					    topic, t, v, unit ? unit : "",
					    json_string_value(json_object_get(h, "quantity")),
					    (long long)json_integer_value(
						json_object_get(h, "seq")));
				} else {
					format_time(when, sizeof when, t);
					printf("%s  %s  %.7g %s\n", when, topic, v,
					       unit ? unit : "");
				}
				printed++;
			}
			last_sample = now;
		}
		fflush(stdout);
	next:
		json_decref(h);
		for (int i = 0; i < nf; i++)
			zmq_msg_close(&f[i]);
	}
	rc = 0;
out:
	zmq_close(s);
	return rc;
}

/* labctl snapshot [PREFIX]: a table topic / seq / value, or the JSON. */
static int cmd_snapshot(void *ctx, const opts *o, const char *prefix)
{
	json_t *snap =
	    request(ctx, o, "snapshot", prefix ? json_pack("{s:s}", "prefix", prefix) : NULL);
	json_t *st;
	size_t i;

	if (!snap)
		return 1;
	if (o->json) {
		print_json(snap);
		json_decref(snap);
		return 0;
	}
	printf("epoch %s\n%-44s %10s  %s\n", json_string_value(json_object_get(snap, "epoch")),
	       "TOPIC", "SEQ", "VALUE");
	json_array_foreach(json_object_get(snap, "streams"), i, st)
	{
		json_t *v = json_object_get(st, "value");
		json_t *h = json_object_get(st, "header");
		char *text =
		    json_is_number(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (json_is_number(v))
			printf("%-44s %10lld  %.7g %s\n",
			       json_string_value(json_object_get(st, "topic")),
			       (long long)json_integer_value(json_object_get(st, "seq")),
			       json_number_value(v),
			       json_string_value(json_object_get(h, "unit"))
				   ? json_string_value(json_object_get(h, "unit"))
				   : "");
		else
			printf("%-44s %10lld  %s\n",
			       json_string_value(json_object_get(st, "topic")),
			       (long long)json_integer_value(json_object_get(st, "seq")),
			       text ? text : "-");
		free(text);
	}
	json_decref(snap);
	return 0;
}

/* labctl call METHOD [PARAMS]: any request. */
static int cmd_call(void *ctx, const opts *o, const char *method, const char *params)
{
	json_t *p = NULL, *r;
	json_error_t jerr;

	if (params) {
		p = json_loads(params, 0, &jerr);
		if (!json_is_object(p)) {
			fprintf(stderr, "labctl: parameters must be a JSON object: %s\n",
				p ? "not an object" : jerr.text);
			json_decref(p);
			return 2;
		}
	}
	r = request(ctx, o, method, p);
	if (!r)
		return 1;
	print_json(r);
	json_decref(r);
	return 0;
}

int main(int argc, char **argv)
{
	opts o = {getenv("LABBRIDGE_PUB"), getenv("LABBRIDGE_RPC"), 5000, 0, 0, 0, 0};
	const char *args[4] = {NULL};
	int nargs = 0, rc = 2, have_timeout = 0;
	void *ctx;

	if (!o.pub || !*o.pub)
		o.pub = "tcp://127.0.0.1:5555";
	if (!o.rpc || !*o.rpc)
		o.rpc = "tcp://127.0.0.1:5556";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--pub") && has_val) {
			o.pub = argv[++i];
		} else if (!strcmp(a, "--rpc") && has_val) {
			o.rpc = argv[++i];
		} else if (!strcmp(a, "--timeout-ms") && has_val) {
			o.timeout_ms = atoi(argv[++i]);
		} else if (!strcmp(a, "--count") && has_val) {
			o.count = atol(argv[++i]);
		} else if (!strcmp(a, "--timeout") && has_val) {
			o.wait_s = atof(argv[++i]);
			have_timeout = 1;
		} else if (!strcmp(a, "--json")) {
			o.json = 1;
		} else if (!strcmp(a, "--csv")) {
			o.csv = 1;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "labctl: unknown option %s\n", a);
			usage(stderr);
			return 2;
		} else if (nargs < 4) {
			args[nargs++] = a;
		}
	}
	if (!nargs || o.timeout_ms <= 0 || o.count < 0 || (o.json && o.csv)) {
		usage(stderr);
		return 2;
	}
	if (o.count && !have_timeout)
		o.wait_s = 10; /* a bounded watch gives up when nothing comes */
	signal(SIGINT, on_sigint);
	ctx = zmq_ctx_new();
	if (!strcmp(args[0], "devices") && nargs == 1)
		rc = cmd_devices(ctx, &o);
	else if (!strcmp(args[0], "watch") && nargs <= 2)
		rc = cmd_watch(ctx, &o, nargs == 2 ? args[1] : "sensor/");
	else if (!strcmp(args[0], "snapshot") && nargs <= 2)
		rc = cmd_snapshot(ctx, &o, nargs == 2 ? args[1] : NULL);
	else if (!strcmp(args[0], "call") && nargs >= 2 && nargs <= 3)
		rc = cmd_call(ctx, &o, args[1], nargs == 3 ? args[2] : NULL);
	else if (!strcmp(args[0], "info") && nargs == 1)
		rc = cmd_call(ctx, &o, "bridge.info", NULL);
	else {
		fprintf(stderr, "labctl: unknown command or wrong arguments: %s\n", args[0]);
		usage(stderr);
	}
	zmq_ctx_term(ctx);
	return rc;
}
