/* labctl.c - the labbridge command-line client: devices, live streams, snapshot, any request. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zmq.h>

#define DEFAULT_PUB "tcp://127.0.0.1:5555"
#define DEFAULT_RPC "tcp://127.0.0.1:5556"
#define DEFAULT_TIMEOUT_MS 5000
#define LIVENESS_MS 3000     /* nothing at all, not even a heartbeat, for this long: bridge gone */
#define COUNT_TIMEOUT_S 10.0 /* watch --count N: default --timeout */
#define SUB_HWM 100000	     /* our receive queue, in messages (libzmq's default is 1000) */
#define HEARTBEAT_TOPIC "bridge/heartbeat/"
#define REQUEST_ID 1

/* Exit statuses: success, failure (the bridge, the network or an error reply), bad usage. */
enum { ST_OK = 0, ST_FAIL = 1, ST_USAGE = 2 };

/* The commands, as bits so that each option can say where it applies. */
enum { C_DEVICES = 1, C_WATCH = 2, C_SNAPSHOT = 4, C_CALL = 8, C_INFO = 16, C_ALL = 31 };

/* What the command line asked for. */
struct opts {
	const char *pub, *rpc; /* endpoints */
	long timeout_ms;       /* requests */
	bool json, csv;	       /* output format */
	long count;	       /* watch: samples to print, 0 for no limit */
	double timeout_s;      /* watch: give up after this long without a sample, 0: never */
	bool timeout_set;      /* watch: --timeout was given */
	unsigned given;	       /* the command-specific options given (OPT_* bits) */
	const char *cmd;       /* the command word */
	const char *arg[2];    /* its positional arguments */
	int narg;
};

enum { OPT_PUB, OPT_RPC, OPT_TIMEOUT_MS, OPT_JSON, OPT_CSV, OPT_COUNT, OPT_TIMEOUT };

/* The options: name, whether it takes a value, the commands it applies to. */
static const struct optspec {
	const char *name;
	bool has_value;
	unsigned cmds;
} optspecs[] = {
    [OPT_PUB] = {"--pub", true, C_ALL},
    [OPT_RPC] = {"--rpc", true, C_ALL},
    [OPT_TIMEOUT_MS] = {"--timeout-ms", true, C_ALL},
    [OPT_JSON] = {"--json", false, C_DEVICES | C_WATCH | C_SNAPSHOT | C_CALL | C_INFO},
    [OPT_CSV] = {"--csv", false, C_WATCH},
    [OPT_COUNT] = {"--count", true, C_WATCH},
    [OPT_TIMEOUT] = {"--timeout", true, C_WATCH},
};

static volatile sig_atomic_t stop_requested;

/* SIGINT/SIGTERM during watch: stop at the next message or poll wake-up. */
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Print the usage text on f. */
static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: labctl [OPTIONS] COMMAND [ARGS]\n"
	    "The labbridge command-line client (protocol: bridge/PROTOCOL.md).\n\n"
	    "Commands:\n"
	    "  devices [--json]              the devices, their streams (unit, rate) and leases\n"
	    "  watch PATTERN [--count N] [--csv | --json] [--timeout SEC]\n"
	    "                                live samples of the topics starting with PATTERN:\n"
	    "                                sensor/ (every sensor), sensor/sim-temp-1/ (a "
	    "device),\n"
	    "                                sensor/sim-temp-1/temperature/ (a stream), bridge/\n"
	    "  snapshot [PREFIX] [--json]    the last value of every stream (under PREFIX)\n"
	    "  call METHOD [JSON-PARAMS]     any request; prints the result as JSON, e.g.\n"
	    "                                call device.set '{\"device\": \"sim-volt-1\", "
	    "\"key\": \"rate\", \"value\": 5000}'\n"
	    "  info [--json]                 the bridge: version, epoch, uptime, endpoints\n\n"
	    "Options (anywhere on the line):\n"
	    "  --pub EP          stream endpoint (default $LABBRIDGE_PUB, else " DEFAULT_PUB ")\n"
	    "  --rpc EP          request endpoint (default $LABBRIDGE_RPC, else " DEFAULT_RPC ")\n"
	    "  --timeout-ms N    how long to wait for a reply (default 5000)\n"
	    "  -h, --help        this text\n\n"
	    "watch: --count N stops after N samples; --timeout SEC fails when no sample arrives\n"
	    "for SEC seconds (default: never, or 10 s with --count); lost messages (sequence "
	    "gaps)\n"
	    "are reported on stderr; fails when nothing at all, not even the bridge's heartbeat,\n"
	    "arrives for 3 s. --csv: time_ns,topic,value,unit; --json: one object per sample.\n\n"
	    "Exit status: 0 success, 1 failure or error reply, 2 bad command line.\n");
}

/* ---------------------------------------------------------------- small helpers */

/* Milliseconds of the monotonic clock. */
static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse a whole decimal integer within [min, max] into *out; 0, or -1 if s is not one. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a whole positive finite number of seconds into *out; 0, or -1 if s is not one. */
static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e6)
		return -1;
	*out = v;
	return 0;
}

/* Write ns since 1970 as local time "YYYY-MM-DD HH:MM:SS.uuuuuu" into buf (32 bytes or more).
 * Never fails: a time localtime cannot convert is written as a number of ns. */
static void fmt_time(char *buf, size_t n, int64_t ns)
{
	static int64_t cached_s = INT64_MIN;
	static char cached[24];
	int64_t s = ns / 1000000000, frac = ns % 1000000000;

	if (frac < 0) {
		frac += 1000000000;
		s--;
	}
	if (s != cached_s) {
		time_t t = (time_t)s;
		struct tm tm;

		if (!localtime_r(&t, &tm) ||
		    !strftime(cached, sizeof cached, "%Y-%m-%d %H:%M:%S", &tm)) {
			snprintf(buf, n, "%" PRId64 " ns", ns);
			return;
		}
		cached_s = s;
	}
	snprintf(buf, n, "%s.%06d", cached, (int)(frac / 1000));
}

/* Write v in the shortest form that reads back to the same float (single) or double, in the C
 * locale ("21.53", "1e-05"); NaN and infinities as "nan", "inf", "-inf". Returns whether the
 * text is also a valid JSON number. */
static bool fmt_real(char *buf, size_t n, double v, bool single)
{
	if (isnan(v)) {
		snprintf(buf, n, "nan");
		return false;
	}
	if (isinf(v)) {
		snprintf(buf, n, "%s", v > 0 ? "inf" : "-inf");
		return false;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, n, "%.*g", prec, v);
		if (single ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
			break;
	}
	return true;
}

/* Write a rate in Hz readably ("10 Hz", "100 kHz", "irregular" for 0). */
static void fmt_rate(char *buf, size_t n, double rate)
{
	if (!(rate > 0))
		snprintf(buf, n, "irregular");
	else if (rate >= 1e6)
		snprintf(buf, n, "%g MHz", rate / 1e6);
	else if (rate >= 1e3)
		snprintf(buf, n, "%g kHz", rate / 1e3);
	else
		snprintf(buf, n, "%g Hz", rate);
}

/* Width of a UTF-8 string in characters (each code point counts one column). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* A JSON value's string, or dflt when it is not a string. */
static const char *jstr(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : dflt;
}

/* Print v as indented JSON followed by a newline on stdout. 0, or -1 when out of memory. */
static int print_json(const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (!text) {
		fprintf(stderr, "labctl: out of memory\n");
		return -1;
	}
	puts(text);
	free(text);
	return 0;
}

/* Write a JSON value compactly into buf, cut with "..." when longer than n - 1 bytes. */
static void fmt_json_compact(char *buf, size_t n, const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!text) {
		snprintf(buf, n, "?");
		return;
	}
	if (strlen(text) >= n && n > 4)
		snprintf(buf, n, "%.*s...", (int)(n - 4), text);
	else
		snprintf(buf, n, "%s", text);
	free(text);
}

/* Write a string as a JSON string literal (quotes, escapes) into a new buffer; "null" for
 * NULL or text that is not valid UTF-8. NULL only when out of memory. */
static char *json_quote(const char *s, size_t len)
{
	json_t *j = s ? json_stringn(s, len) : NULL;
	char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	if (!text)
		text = strdup("null");
	return text;
}

/* Print s as one CSV field on f: as is, or quoted with doubled quotes when it holds a comma,
 * a quote or a line break. */
static void csv_field(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* ---------------------------------------------------------------- tables */

/* A table of strings printed with aligned columns; row 0 is the heading. */
struct table {
	size_t ncols, nrows, cap;
	char **cell; /* nrows * ncols copies, row by row */
};

/* Append a row of t->ncols strings, copied (NULL shows as "-"). 0, or -1 when out of memory. */
static int table_add(struct table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **cell = realloc(t->cell, cap * t->ncols * sizeof *cell);

		if (!cell)
			return -1;
		t->cell = cell;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char *s = strdup(row[c] ? row[c] : "-");

		if (!s) {
			while (c--)
				free(t->cell[t->nrows * t->ncols + c]);
			return -1;
		}
		t->cell[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
	return 0;
}

/* Print the table on stdout, each column as wide as its widest cell, two spaces apart (the
 * last column unpadded). */
static void table_print(const struct table *t)
{
	size_t width[16] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < 16; c++) {
			size_t w = text_width(t->cell[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cell[r * t->ncols + c];

			fputs(s, stdout);
			if (c + 1 < t->ncols)
				printf("%*s", (int)(width[c < 16 ? c : 15] - text_width(s) + 2),
				       "");
		}
		putchar('\n');
	}
}

/* Free the table's cells. */
static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->nrows = t->cap = 0;
}

/* ---------------------------------------------------------------- requests */

/* Read one reply message from sock (a DEALER): skip the envelope up to the empty delimiter,
 * parse the JSON frame into *reply, count the binary frames after it. 0, or -1 after printing
 * why the reply cannot be read. */
static int recv_reply(void *sock, json_t **reply, size_t *nbin, size_t *binbytes)
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
			fprintf(stderr, "labctl: receiving the reply: %s\n", zmq_strerror(errno));
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
				fprintf(stderr, "labctl: unreadable reply from the bridge: %s\n",
					err.text);
				rc = -1;
			}
		} else {
			(*nbin)++;
			*binbytes += size;
		}
		zmq_msg_close(&m);
	}
	if (rc == 0 && !*reply) {
		fprintf(stderr, "labctl: empty reply from the bridge\n");
		rc = -1;
	}
	if (rc < 0) {
		json_decref(*reply);
		*reply = NULL;
	}
	return rc;
}

/* Send one request (params may be NULL: omitted; it is not stolen) and wait up to
 * --timeout-ms for its reply. 0 with *result set (a new reference; JSON null when the method
 * returns nothing); -1 when the bridge cannot be reached, does not answer in time or answers
 * something unreadable; -2 when it answers with an error. Both failures are explained on
 * stderr, an error reply as "error CODE name: message". */
static int rpc_call(void *ctx, const struct opts *o, const char *method, json_t *params,
		    json_t **result)
{
	void *sock = NULL;
	json_t *req = NULL, *reply = NULL;
	char *text = NULL;
	int linger = 0, sndtimeo = (int)o->timeout_ms, rc = -1;
	int64_t deadline = mono_ms() + o->timeout_ms;

	*result = NULL;
	sock = zmq_socket(ctx, ZMQ_DEALER);
	if (!sock) {
		fprintf(stderr, "labctl: cannot create a socket: %s\n", zmq_strerror(errno));
		goto cleanup;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
	if (zmq_connect(sock, o->rpc) < 0) {
		fprintf(stderr, "labctl: cannot connect to '%s': %s\n", o->rpc,
			zmq_strerror(errno));
		goto cleanup;
	}
	req = json_pack("{s:i,s:s}", "id", REQUEST_ID, "method", method);
	if (!req || (params && json_object_set(req, "params", params) < 0) ||
	    !(text = json_dumps(req, JSON_COMPACT))) {
		fprintf(stderr, "labctl: cannot build the request (out of memory?)\n");
		goto cleanup;
	}
	if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(sock, text, strlen(text), 0) < 0) {
		fprintf(stderr, "labctl: cannot send to the bridge at %s: %s\n", o->rpc,
			zmq_strerror(errno));
		goto cleanup;
	}
	for (;;) {
		zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
		int64_t left = deadline - mono_ms();
		size_t nbin, binbytes;
		json_t *id, *error;

		if (left <= 0) {
			fprintf(
			    stderr,
			    "labctl: no answer from the bridge at %s within %ld ms — is labbridge "
			    "running?\n",
			    o->rpc, o->timeout_ms);
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)left) < 0) {
			fprintf(stderr, "labctl: waiting for the reply: %s\n", zmq_strerror(errno));
			goto cleanup;
		}
		if (!(item.revents & ZMQ_POLLIN))
			continue;
		if (recv_reply(sock, &reply, &nbin, &binbytes) < 0)
			goto cleanup;
		id = json_object_get(reply, "id");
		if (!json_is_integer(id) || json_integer_value(id) != REQUEST_ID) {
			json_decref(reply); /* not ours (a stale reply): keep waiting */
			reply = NULL;
			continue;
		}
		error = json_object_get(reply, "error");
		if (error) {
			fprintf(stderr, "error %" JSON_INTEGER_FORMAT " %s: %s\n",
				json_integer_value(json_object_get(error, "code")),
				jstr(error, "name", "?"), jstr(error, "message", ""));
			rc = -2;
			goto cleanup;
		}
		if (nbin)
			fprintf(stderr,
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
	if (sock)
		zmq_close(sock);
	return rc;
}

/* ---------------------------------------------------------------- devices, snapshot, call, info */

/* Write one stream's description, "temperature (°C, 10 Hz)", into buf. */
static void fmt_stream(char *buf, size_t n, const json_t *st)
{
	char rate[32];
	const char *unit = jstr(st, "unit", "");

	fmt_rate(rate, sizeof rate, json_number_value(json_object_get(st, "rate")));
	snprintf(buf, n, "%s (%s%s%s)", jstr(st, "name", "?"), unit, *unit ? ", " : "", rate);
}

/* labctl devices: the device table, or devices.list's result as JSON. A status. */
static int cmd_devices(void *ctx, const struct opts *o)
{
	static const char *const heading[] = {"ID",	   "KIND",  "DRIVER", "STATE",
					      "SIMULATED", "LEASE", "STREAMS"};
	struct table t = {.ncols = 7};
	json_t *list = NULL, *dev;
	size_t i;
	int st = ST_FAIL;

	if (rpc_call(ctx, o, "devices.list", NULL, &list) < 0)
		goto cleanup;
	if (o->json) {
		st = print_json(list) < 0 ? ST_FAIL : ST_OK;
		goto cleanup;
	}
	if (!json_is_array(list)) {
		fprintf(stderr, "labctl: devices.list did not return a list\n");
		goto cleanup;
	}
	if (json_array_size(list) == 0) {
		printf("no devices\n");
		st = ST_OK;
		goto cleanup;
	}
	if (table_add(&t, heading) < 0)
		goto oom;
	json_array_foreach(list, i, dev)
	{
		json_t *streams = json_object_get(dev, "streams"),
		       *lease = json_object_get(dev, "lease");
		size_t nst = json_array_size(streams);
		char lease_text[256], stream_text[256];
		const char *row[7];

		if (json_is_object(lease)) {
			const char *name = jstr(lease, "name", "");

			snprintf(lease_text, sizeof lease_text, "%s%s%s%s",
				 jstr(lease, "holder", "?"), *name ? " (" : "", name,
				 *name ? ")" : "");
		} else {
			snprintf(lease_text, sizeof lease_text, "-");
		}
		row[0] = jstr(dev, "id", "?");
		row[1] = jstr(dev, "kind", "?");
		row[2] = jstr(dev, "driver", "?");
		row[3] = jstr(dev, "state", "?");
		row[4] = json_is_true(json_object_get(dev, "simulated")) ? "yes" : "no";
		row[5] = lease_text;
		row[6] = "-";
		/* one line per stream, the device's columns on the first one only */
		for (size_t k = 0; k < (nst ? nst : 1); k++) {
			if (nst) {
				fmt_stream(stream_text, sizeof stream_text,
					   json_array_get(streams, k));
				row[6] = stream_text;
			}
			if (table_add(&t, row) < 0)
				goto oom;
			for (int c = 0; c < 6; c++)
				row[c] = "";
		}
	}
	table_print(&t);
	st = ST_OK;
	goto cleanup;
oom:
	fprintf(stderr, "labctl: out of memory\n");
cleanup:
	table_free(&t);
	json_decref(list);
	return st;
}

/* Write a stream's last value and unit into buf: a float stream's value in the shortest form
 * of its type, a json stream's data compactly. */
static void fmt_value(char *buf, size_t n, const json_t *value, const json_t *header)
{
	const char *type = jstr(header, "type", ""), *unit = jstr(header, "unit", "");
	char num[40];

	if (!value || json_is_null(value)) {
		snprintf(buf, n, "-"); /* no sample yet, or a topic without values */
		return;
	}
	if (json_is_integer(value))
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
	else if (json_is_real(value))
		fmt_real(num, sizeof num, json_real_value(value), !strcmp(type, "f32"));
	else {
		fmt_json_compact(buf, n, value);
		return;
	}
	snprintf(buf, n, "%s%s%s", num, *unit ? " " : "", unit);
}

/* labctl snapshot [PREFIX]: topic, seq and last value of every stream, or the result as JSON.
 * A status. */
static int cmd_snapshot(void *ctx, const struct opts *o)
{
	static const char *const heading[] = {"TOPIC", "SEQ", "VALUE"};
	struct table t = {.ncols = 3};
	json_t *params = NULL, *snap = NULL, *streams, *s;
	size_t i;
	int st = ST_FAIL;

	if (o->narg > 0 && !(params = json_pack("{s:s}", "prefix", o->arg[0])))
		goto oom;
	if (rpc_call(ctx, o, "snapshot", params, &snap) < 0)
		goto cleanup;
	if (o->json) {
		st = print_json(snap) < 0 ? ST_FAIL : ST_OK;
		goto cleanup;
	}
	streams = json_object_get(snap, "streams");
	if (!json_is_array(streams)) {
		fprintf(stderr, "labctl: the snapshot has no list of streams\n");
		goto cleanup;
	}
	if (json_array_size(streams) == 0) {
		printf("no streams%s%s\n", o->narg ? " under " : "", o->narg ? o->arg[0] : "");
		st = ST_OK;
		goto cleanup;
	}
	if (table_add(&t, heading) < 0)
		goto oom;
	json_array_foreach(streams, i, s)
	{
		char seq[24], value[160];
		const char *row[3] = {jstr(s, "topic", "?"), seq, value};

		snprintf(seq, sizeof seq, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(s, "seq")));
		fmt_value(value, sizeof value, json_object_get(s, "value"),
			  json_object_get(s, "header"));
		if (table_add(&t, row) < 0)
			goto oom;
	}
	table_print(&t);
	st = ST_OK;
	goto cleanup;
oom:
	fprintf(stderr, "labctl: out of memory\n");
cleanup:
	table_free(&t);
	json_decref(snap);
	json_decref(params);
	return st;
}

/* labctl call METHOD [JSON-PARAMS]: the result as indented JSON on stdout; an error reply on
 * stderr with status 1; params that are not a JSON object: status 2. */
static int cmd_call(void *ctx, const struct opts *o)
{
	json_t *params = NULL, *result = NULL;
	json_error_t err;
	int st = ST_FAIL;

	if (o->narg > 1) {
		params = json_loads(o->arg[1], JSON_DECODE_ANY, &err);
		if (!params) {
			fprintf(stderr,
				"labctl: JSON-PARAMS is not valid JSON: %s (at character %d)\n",
				err.text, err.position);
			st = ST_USAGE;
			goto cleanup;
		}
		if (!json_is_object(params)) {
			fprintf(stderr, "labctl: JSON-PARAMS must be a JSON object, e.g. "
					"'{\"device\": \"sim-temp-1\"}'\n");
			st = ST_USAGE;
			goto cleanup;
		}
	}
	if (rpc_call(ctx, o, o->arg[0], params, &result) < 0)
		goto cleanup;
	st = print_json(result) < 0 ? ST_FAIL : ST_OK;
cleanup:
	json_decref(result);
	json_decref(params);
	return st;
}

/* The label info shows for a key of bridge.info: its name, readable for the two in units. */
static const char *info_label(const char *key)
{
	return !strcmp(key, "uptime_ms") ? "uptime" : !strcmp(key, "t_host") ? "host time" : key;
}

/* labctl info: bridge.info as "key  value" lines (times and durations readable), or JSON. */
static int cmd_info(void *ctx, const struct opts *o)
{
	json_t *info = NULL, *v;
	const char *key;
	size_t width = 0;
	int st = ST_FAIL;

	if (rpc_call(ctx, o, "bridge.info", NULL, &info) < 0)
		goto cleanup;
	if (o->json || !json_is_object(info)) {
		st = print_json(info) < 0 ? ST_FAIL : ST_OK;
		goto cleanup;
	}
	json_object_foreach(info, key, v)
	{
		size_t w = strlen(info_label(key));

		if (w > width)
			width = w;
	}
	json_object_foreach(info, key, v)
	{
		char text[512];

		if (!strcmp(key, "endpoints") && json_is_object(v)) {
			const char *name;
			json_t *ep;

			json_object_foreach(v, name, ep)
			{
				fmt_json_compact(text, sizeof text, ep);
				printf("%-*s  %s\n", (int)width, name,
				       json_is_string(ep) ? json_string_value(ep)
				       : json_is_null(ep) ? "-"
							  : text);
			}
			continue;
		}
		if (!strcmp(key, "uptime_ms") && json_is_integer(v)) {
			json_int_t s = json_integer_value(v) / 1000;

			if (s >= 3600)
				snprintf(text, sizeof text,
					 "%" JSON_INTEGER_FORMAT " h %02d min %02d s", s / 3600,
					 (int)(s / 60 % 60), (int)(s % 60));
			else if (s >= 60)
				snprintf(text, sizeof text, "%d min %02d s", (int)(s / 60),
					 (int)(s % 60));
			else
				snprintf(text, sizeof text, "%.1f s",
					 (double)json_integer_value(v) / 1000);
		} else if (!strcmp(key, "t_host") && json_is_integer(v)) {
			fmt_time(text, sizeof text, (int64_t)json_integer_value(v));
		} else if (json_is_null(v)) {
			snprintf(text, sizeof text, "-");
		} else if (json_is_boolean(v)) {
			snprintf(text, sizeof text, "%s", json_is_true(v) ? "yes" : "no");
		} else if (json_is_string(v)) {
			snprintf(text, sizeof text, "%s", json_string_value(v));
		} else {
			fmt_json_compact(text, sizeof text, v);
		}
		printf("%-*s  %s\n", (int)width, info_label(key), text);
	}
	st = ST_OK;
cleanup:
	json_decref(info);
	return st;
}

/* ---------------------------------------------------------------- watch */

/* The numeric sample types of the protocol. */
enum { T_F32, T_F64, T_I16, T_U16, T_I32, T_U8, T_COUNT };
static const struct {
	const char *name;
	unsigned size;
} sample_types[T_COUNT] = {
    [T_F32] = {"f32", 4}, [T_F64] = {"f64", 8}, [T_I16] = {"i16", 2},
    [T_U16] = {"u16", 2}, [T_I32] = {"i32", 4}, [T_U8] = {"u8", 1},
};

/* The sample type named s, or -1. */
static int sample_type(const char *s)
{
	for (int t = 0; s && t < T_COUNT; t++)
		if (!strcmp(s, sample_types[t].name))
			return t;
	return -1;
}

/* Write the little-endian sample of type t at p into buf: integers exactly, floats in their
 * shortest exact form. Returns whether the text is a valid JSON number (not NaN or inf). */
static bool fmt_sample(char *buf, size_t n, int t, const unsigned char *p)
{
	uint64_t raw = 0;

	for (unsigned i = sample_types[t].size; i--;)
		raw = raw << 8 | p[i];
	switch (t) {
	case T_F32: {
		uint32_t u = (uint32_t)raw;
		float f;

		memcpy(&f, &u, sizeof f);
		return fmt_real(buf, n, f, true);
	}
	case T_F64: {
		double d;

		memcpy(&d, &raw, sizeof d);
		return fmt_real(buf, n, d, false);
	}
	case T_I16: snprintf(buf, n, "%ld", (long)raw - (raw >= 0x8000 ? 0x10000L : 0)); break;
	case T_I32:
		snprintf(buf, n, "%lld", (long long)raw - (raw >= 0x80000000u ? 0x100000000LL : 0));
		break;
	default: snprintf(buf, n, "%llu", (unsigned long long)raw); break;
	}
	return true;
}

/* The last seq seen on a topic. */
struct seqent {
	char *topic;
	json_int_t last;
};

/* A watch in progress. */
struct watch {
	const struct opts *o;
	const char *pattern;
	size_t plen;
	bool count_json; /* json messages count as samples: the pattern is under bridge/ */
	long left;	 /* samples still to print, or -1 for no limit */
	char epoch[40];	 /* the bridge's epoch, "" until the first message */
	struct seqent *seq;
	size_t nseq, capseq;
};

/* Whether topic starts with the watched pattern. */
static bool watch_matches(const struct watch *w, const char *topic)
{
	return !strncmp(topic, w->pattern, w->plen);
}

/* The entry for topic, or NULL. */
static struct seqent *seq_find(struct watch *w, const char *topic)
{
	for (size_t i = 0; i < w->nseq; i++)
		if (!strcmp(w->seq[i].topic, topic))
			return &w->seq[i];
	return NULL;
}

/* Forget every topic's seq (the bridge restarted). */
static void seq_reset(struct watch *w)
{
	for (size_t i = 0; i < w->nseq; i++)
		free(w->seq[i].topic);
	w->nseq = 0;
}

/* Note that seq arrived on topic; when report, print a jump on stderr as a gap. The first
 * message of a topic sets its starting point (we may have joined late). 0, or -1 when out of
 * memory. */
static int seq_note(struct watch *w, const char *topic, json_int_t seq, bool report)
{
	struct seqent *e = seq_find(w, topic);

	if (!e) {
		if (w->nseq == w->capseq) {
			size_t cap = w->capseq ? 2 * w->capseq : 32;
			struct seqent *s = realloc(w->seq, cap * sizeof *s);

			if (!s)
				return -1;
			w->seq = s;
			w->capseq = cap;
		}
		e = &w->seq[w->nseq];
		if (!(e->topic = strdup(topic)))
			return -1;
		w->nseq++;
		e->last = seq;
		return 0;
	}
	if (report && seq > e->last + 1)
		fprintf(stderr,
			"gap on %s: expected seq %" JSON_INTEGER_FORMAT
			", got %" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " messages lost)\n",
			topic, e->last + 1, seq, seq - e->last - 1);
	else if (report && seq <= e->last)
		fprintf(stderr,
			"labctl: seq went back on %s: %" JSON_INTEGER_FORMAT
			" after %" JSON_INTEGER_FORMAT "\n",
			topic, seq, e->last);
	e->last = seq;
	return 0;
}

/* Compare the heartbeat's last seq of each watched topic with ours: a larger one means the
 * last messages before a quiet period were lost, reported as a gap on stderr. */
static void watch_heartbeat(struct watch *w, const json_t *data)
{
	const char *topic;
	json_t *v;

	json_object_foreach(json_object_get(data, "streams"), topic, v)
	{
		struct seqent *e;
		json_int_t sent = json_integer_value(v);

		if (!json_is_integer(v) || !watch_matches(w, topic) || !(e = seq_find(w, topic)))
			continue;
		if (sent > e->last) {
			fprintf(stderr,
				"gap on %s: expected seq %" JSON_INTEGER_FORMAT
				", the heartbeat says %" JSON_INTEGER_FORMAT
				" was sent (%" JSON_INTEGER_FORMAT " messages lost)\n",
				topic, e->last + 1, sent, sent - e->last);
			e->last = sent;
		}
	}
}

/* Print a json message's data as one line in the chosen format. 0, or -1 when out of memory. */
static int print_json_message(const struct watch *w, const char *topic, json_int_t seq,
			      int64_t t_ns, const json_t *data)
{
	char *text = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
	char *qtopic = NULL;
	char when[40];
	int rc = -1;

	if (!text)
		goto cleanup;
	if (w->o->json) {
		if (!(qtopic = json_quote(topic, strlen(topic))))
			goto cleanup;
		printf("{\"topic\":%s,\"t_ns\":%" PRId64 ",\"seq\":%" JSON_INTEGER_FORMAT
		       ",\"data\":%s}\n",
		       qtopic, t_ns, seq, text);
	} else if (w->o->csv) {
		printf("%" PRId64 ",", t_ns);
		csv_field(stdout, topic);
		putchar(',');
		csv_field(stdout, text);
		fputs(",\n", stdout);
	} else {
		fmt_time(when, sizeof when, t_ns);
		printf("%s  %s  %s\n", when, topic, text);
	}
	rc = 0;
cleanup:
	free(qtopic);
	free(text);
	return rc;
}

/* Decode and print the samples of a numeric message, at most w->left of them. 0, 1 when the
 * count is reached, or -1 when out of memory. A malformed message is skipped with a warning. */
static int print_samples(struct watch *w, const char *topic, const json_t *h, int type,
			 const unsigned char *p, size_t len)
{
	json_int_t count = json_integer_value(json_object_get(h, "count"));
	json_int_t seq = json_integer_value(json_object_get(h, "seq"));
	int64_t t_host = (int64_t)json_integer_value(json_object_get(h, "t_host"));
	double rate = json_number_value(json_object_get(h, "rate"));
	const char *unit = jstr(h, "unit", ""), *quantity = jstr(h, "quantity", NULL);
	unsigned size = sample_types[type].size;
	char *qtopic = NULL, *qunit = NULL, *qquantity = NULL;
	int rc = -1;

	if (count < 0 || (uint64_t)count * size != len) {
		fprintf(stderr,
			"labctl: skipping a message on %s: %" JSON_INTEGER_FORMAT
			" %s samples announced, %zu bytes received\n",
			topic, count, sample_types[type].name, len);
		return 0;
	}
	if (w->o->json) {
		qtopic = json_quote(topic, strlen(topic));
		qunit = json_quote(jstr(h, "unit", NULL), strlen(unit));
		qquantity = json_quote(quantity, quantity ? strlen(quantity) : 0);
		if (!qtopic || !qunit || !qquantity)
			goto cleanup;
	}
	for (json_int_t i = 0; i < count; i++) {
		int64_t t_ns = t_host + (rate > 0 ? (int64_t)((double)i * 1e9 / rate + 0.5) : 0);
		char value[48], when[40];
		bool is_number = fmt_sample(value, sizeof value, type, p + (size_t)i * size);

		if (w->left == 0)
			break;
		if (w->o->json) {
			printf("{\"topic\":%s,\"t_ns\":%" PRId64 ",\"value\":%s,\"unit\":%s,"
			       "\"quantity\":%s,\"seq\":%" JSON_INTEGER_FORMAT "}\n",
			       qtopic, t_ns, is_number ? value : "null", qunit, qquantity, seq);
		} else if (w->o->csv) {
			printf("%" PRId64 ",", t_ns);
			csv_field(stdout, topic);
			printf(",%s,", value);
			csv_field(stdout, unit);
			putchar('\n');
		} else {
			fmt_time(when, sizeof when, t_ns);
			printf("%s  %s  %s%s%s\n", when, topic, value, *unit ? " " : "", unit);
		}
		if (w->left > 0)
			w->left--;
	}
	rc = w->left == 0;
cleanup:
	if (rc < 0)
		fprintf(stderr, "labctl: out of memory\n");
	free(qtopic);
	free(qunit);
	free(qquantity);
	return rc;
}

/* Handle one stream message (topic, header, optional samples): check its epoch and seq, then
 * print it if it is one the user asked for. 0 to go on, 1 when --count is reached, -1 on a
 * fatal error (printed). A malformed message is skipped with a warning on stderr. */
static int watch_message(struct watch *w, zmq_msg_t *frames, int nframes)
{
	json_t *h = NULL;
	json_error_t err;
	char *topic = NULL;
	const char *type_name, *epoch;
	bool wanted;
	int type, rc = -1;
	json_int_t seq;

	if (nframes < 2) {
		fprintf(stderr, "labctl: skipping a message of %d frame(s)\n", nframes);
		return 0;
	}
	if (!(topic = strndup(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0])))) {
		fprintf(stderr, "labctl: out of memory\n");
		return -1;
	}
	h = json_loadb(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), 0, &err);
	seq = json_integer_value(json_object_get(h, "seq"));
	type_name = jstr(h, "type", NULL);
	type = sample_type(type_name);
	if (!json_is_object(h) || !json_is_integer(json_object_get(h, "seq")) || !type_name ||
	    (type < 0 && strcmp(type_name, "json"))) {
		fprintf(stderr, "labctl: skipping a malformed message on %s: %s\n", topic,
			h ? "no seq or an unknown type" : err.text);
		rc = 0;
		goto cleanup;
	}
	wanted = watch_matches(w, topic);
	epoch = jstr(h, "epoch", "");
	if (strcmp(epoch, w->epoch)) {
		if (*w->epoch)
			fprintf(stderr,
				"labctl: the bridge restarted (epoch %s, now %s): sequence numbers "
				"start again\n",
				w->epoch, epoch);
		snprintf(w->epoch, sizeof w->epoch, "%s", epoch);
		seq_reset(w);
	}
	if (seq_note(w, topic, seq, wanted) < 0) {
		fprintf(stderr, "labctl: out of memory\n");
		goto cleanup;
	}
	if (!strcmp(topic, HEARTBEAT_TOPIC))
		watch_heartbeat(w, json_object_get(h, "data"));
	if (!wanted) {
		rc = 0;
		goto cleanup;
	}
	if (type < 0) { /* json */
		if (print_json_message(w, topic, seq,
				       (int64_t)json_integer_value(json_object_get(h, "t_host")),
				       json_object_get(h, "data")) < 0) {
			fprintf(stderr, "labctl: out of memory\n");
			goto cleanup;
		}
		if (w->count_json && w->left > 0)
			w->left--;
		rc = w->left == 0;
		goto cleanup;
	}
	if (nframes < 3) {
		fprintf(stderr, "labctl: skipping a %s message on %s without its samples frame\n",
			type_name, topic);
		rc = 0;
		goto cleanup;
	}
	rc = print_samples(w, topic, h, type, zmq_msg_data(&frames[2]), zmq_msg_size(&frames[2]));
cleanup:
	json_decref(h);
	free(topic);
	return rc;
}

/* Receive one whole message from sock without waiting: up to 3 frames into frames[] (more are
 * read and dropped), their number in *n. 1 when a message was read, 0 when none is waiting,
 * -1 on an error (printed). The caller closes frames[0 .. *n - 1]. */
static int recv_message(void *sock, zmq_msg_t frames[3], int *n)
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
			fprintf(stderr, "labctl: receiving a stream message: %s\n",
				zmq_strerror(e));
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

/* labctl watch PATTERN: print the samples of the topics starting with PATTERN until --count
 * is reached (status 0), Ctrl-C (status 0), no sample for --timeout seconds (status 1) or
 * nothing at all from the bridge for 3 s (status 1). */
static int cmd_watch(void *ctx, const struct opts *o)
{
	struct watch w = {.o = o, .pattern = o->arg[0]};
	struct sigaction sa;
	void *sub = NULL;
	int linger = 0, hwm = SUB_HWM, st = ST_FAIL;
	double timeout_s = o->timeout_set ? o->timeout_s : o->count > 0 ? COUNT_TIMEOUT_S : 0;
	int64_t last_any, last_sample;

	w.plen = strlen(w.pattern);
	w.count_json = !strncmp(w.pattern, "bridge/", 7);
	w.left = o->count > 0 ? o->count : -1;
	sub = zmq_socket(ctx, ZMQ_SUB);
	if (!sub) {
		fprintf(stderr, "labctl: cannot create a socket: %s\n", zmq_strerror(errno));
		goto cleanup;
	}
	zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
	/* the heartbeat tells us the bridge is alive and what was sent, even when not printed */
	if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, w.pattern, w.plen) < 0 ||
	    (strncmp(HEARTBEAT_TOPIC, w.pattern, w.plen) &&
	     zmq_setsockopt(sub, ZMQ_SUBSCRIBE, HEARTBEAT_TOPIC, strlen(HEARTBEAT_TOPIC)) < 0)) {
		fprintf(stderr, "labctl: cannot subscribe: %s\n", zmq_strerror(errno));
		goto cleanup;
	}
	if (zmq_connect(sub, o->pub) < 0) {
		fprintf(stderr, "labctl: cannot connect to '%s': %s\n", o->pub,
			zmq_strerror(errno));
		goto cleanup;
	}
	if (w.plen && w.pattern[w.plen - 1] != '/')
		fprintf(
		    stderr,
		    "labctl: note: '%s' does not end with '/': it also matches the longer names "
		    "that start with it (end it with '/' for exactly one kind, device or stream)\n",
		    w.pattern);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (o->csv)
		printf("time_ns,topic,value,unit\n");
	fflush(stdout);

	last_any = last_sample = mono_ms();
	while (!stop_requested) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		int64_t now = mono_ms(), wait = last_any + LIVENESS_MS - now;
		int64_t sample_wait =
		    timeout_s > 0 ? last_sample + (int64_t)(timeout_s * 1000) - now : INT64_MAX;
		int got = 0, rc = 0;

		if (wait <= 0) {
			fprintf(
			    stderr,
			    "labctl: no heartbeat from the bridge at %s for %d s — is labbridge "
			    "running?\n",
			    o->pub, LIVENESS_MS / 1000);
			goto cleanup;
		}
		if (sample_wait <= 0) {
			fprintf(
			    stderr,
			    "labctl: nothing on '%s' for %g s, though the bridge at %s is alive — "
			    "is the device there and running? (labctl devices)\n",
			    w.pattern, timeout_s, o->pub);
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)(sample_wait < wait ? sample_wait : wait)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "labctl: waiting for messages: %s\n", zmq_strerror(errno));
			goto cleanup;
		}
		/* read everything waiting, then flush once */
		while (!stop_requested && rc == 0) {
			zmq_msg_t frames[3];
			long left_before = w.left;
			int n;

			got = recv_message(sub, frames, &n);
			if (got <= 0)
				break;
			rc = watch_message(&w, frames, n);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&frames[i]);
			last_any = mono_ms();
			if (w.left != left_before || (w.left < 0 && rc == 0 && n > 1))
				last_sample = last_any;
		}
		fflush(stdout);
		if (got < 0 || rc < 0)
			goto cleanup;
		if (rc == 1)
			break; /* --count reached */
	}
	st = ST_OK;
cleanup:
	fflush(stdout);
	seq_reset(&w);
	free(w.seq);
	if (sub)
		zmq_close(sub);
	return st;
}

/* ---------------------------------------------------------------- command line */

/* The commands: name, bit, positional arguments (min, max), what runs it. */
static const struct command {
	const char *name;
	unsigned bit;
	int minargs, maxargs;
	int (*run)(void *ctx, const struct opts *o);
} commands[] = {
    {"devices", C_DEVICES, 0, 0, cmd_devices},
    {"watch", C_WATCH, 1, 1, cmd_watch},
    {"snapshot", C_SNAPSHOT, 0, 1, cmd_snapshot},
    {"call", C_CALL, 1, 2, cmd_call},
    {"info", C_INFO, 0, 0, cmd_info},
};

/* Read the command line into *o and find its command in *cmd. 0; 1 when help was asked; -1
 * after printing what is wrong (the caller adds the usage and exits with status 2). */
static int parse_args(int argc, char **argv, struct opts *o, const struct command **cmd)
{
	const char *pos[4];
	int npos = 0;
	bool positional_only = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *eq, *val = NULL;
		size_t nlen;
		int id = -1;

		if (positional_only || a[0] != '-' || a[1] == '\0') {
			if (npos == 4) {
				fprintf(stderr, "labctl: too many arguments ('%s')\n", a);
				return -1;
			}
			pos[npos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			positional_only = true;
			continue;
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return 1;
		eq = strchr(a, '=');
		nlen = eq ? (size_t)(eq - a) : strlen(a);
		for (int k = 0; k < (int)(sizeof optspecs / sizeof *optspecs); k++)
			if (strlen(optspecs[k].name) == nlen && !strncmp(a, optspecs[k].name, nlen))
				id = k;
		if (id < 0) {
			fprintf(stderr, "labctl: unknown option '%.*s'\n", (int)nlen, a);
			return -1;
		}
		if (optspecs[id].has_value) {
			val = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
			if (!val) {
				fprintf(stderr, "labctl: %s needs a value\n", optspecs[id].name);
				return -1;
			}
		} else if (eq) {
			fprintf(stderr, "labctl: %s takes no value\n", optspecs[id].name);
			return -1;
		}
		o->given |= 1u << id;
		switch (id) {
		case OPT_PUB: o->pub = val; break;
		case OPT_RPC: o->rpc = val; break;
		case OPT_JSON: o->json = true; break;
		case OPT_CSV: o->csv = true; break;
		case OPT_TIMEOUT_MS:
			if (parse_long(val, 1, 3600000, &o->timeout_ms) < 0) {
				fprintf(stderr,
					"labctl: --timeout-ms wants milliseconds (1..3600000), "
					"not '%s'\n",
					val);
				return -1;
			}
			break;
		case OPT_COUNT:
			if (parse_long(val, 1, LONG_MAX, &o->count) < 0) {
				fprintf(stderr,
					"labctl: --count wants a positive integer, not '%s'\n",
					val);
				return -1;
			}
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(val, &o->timeout_s) < 0) {
				fprintf(stderr, "labctl: --timeout wants seconds (> 0), not '%s'\n",
					val);
				return -1;
			}
			o->timeout_set = true;
			break;
		}
	}
	if (npos == 0) {
		fprintf(stderr, "labctl: no command given\n");
		return -1;
	}
	o->cmd = pos[0];
	*cmd = NULL;
	for (size_t k = 0; k < sizeof commands / sizeof *commands; k++)
		if (!strcmp(o->cmd, commands[k].name))
			*cmd = &commands[k];
	if (!*cmd) {
		fprintf(stderr, "labctl: unknown command '%s'\n", o->cmd);
		return -1;
	}
	o->narg = npos - 1;
	if (o->narg < (*cmd)->minargs || o->narg > (*cmd)->maxargs) {
		fprintf(stderr, "labctl: wrong number of arguments for '%s'\n", o->cmd);
		return -1;
	}
	for (int k = 0; k < o->narg; k++)
		o->arg[k] = pos[k + 1];
	for (int k = 0; k < (int)(sizeof optspecs / sizeof *optspecs); k++)
		if ((o->given & 1u << k) && !(optspecs[k].cmds & (*cmd)->bit)) {
			fprintf(stderr, "labctl: %s does not apply to '%s'\n", optspecs[k].name,
				o->cmd);
			return -1;
		}
	if (o->json && o->csv) {
		fprintf(stderr, "labctl: choose one of --json and --csv\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *env_pub = getenv("LABBRIDGE_PUB"), *env_rpc = getenv("LABBRIDGE_RPC");
	struct opts o = {
	    .pub = env_pub && *env_pub ? env_pub : DEFAULT_PUB,
	    .rpc = env_rpc && *env_rpc ? env_rpc : DEFAULT_RPC,
	    .timeout_ms = DEFAULT_TIMEOUT_MS,
	};
	const struct command *cmd = NULL;
	void *ctx;
	int st;

	st = parse_args(argc, argv, &o, &cmd);
	if (st != 0) {
		usage(st > 0 ? stdout : stderr);
		return st > 0 ? ST_OK : ST_USAGE;
	}
	ctx = zmq_ctx_new();
	if (!ctx) {
		fprintf(stderr, "labctl: cannot start ZeroMQ: %s\n", zmq_strerror(errno));
		return ST_FAIL;
	}
	st = cmd->run(ctx, &o);
	zmq_ctx_term(ctx);
	return st;
}
