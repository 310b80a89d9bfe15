/* labctl.c - the labbridge command-line client: devices, live streams, snapshot, any request, the
 * print queue. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>
#include <zmq.h>

#define DEFAULT_PUB "tcp://127.0.0.1:5555"
#define DEFAULT_RPC "tcp://127.0.0.1:5556"
#define DEFAULT_TIMEOUT_MS 5000
#define LIVENESS_MS 3000     /* nothing at all, not even a heartbeat, for this long: bridge gone */
#define COUNT_TIMEOUT_S 10.0 /* watch --count N: default --timeout */
#define SUB_HWM 100000	     /* our receive queue, in messages (libzmq's default is 1000) */
#define HEARTBEAT_TOPIC "bridge/heartbeat/"
#define REQUEST_ID 1
#define CHUNK_BYTES (256 * 1024) /* print: upload chunk size */
#define UPLOAD_RETRIES 3	 /* print: resend a chunk this many times when unanswered */
#define JOB_POLL_MS 2000	 /* print: ask for the job's state this often while following */
#define BAR_WIDTH 24		 /* progress bars, in characters */

/* Exit statuses: success, failure (the bridge, the network or an error reply), bad usage. */
enum { ST_OK = 0, ST_FAIL = 1, ST_USAGE = 2 };

/* The commands, as bits so that each option can say where it applies. */
enum {
	C_DEVICES = 1,
	C_WATCH = 2,
	C_SNAPSHOT = 4,
	C_CALL = 8,
	C_INFO = 16,
	C_PRINT = 32,
	C_QUEUE = 64,
	C_JOB = 128,
	C_PRINTER = 256,
	C_ALL = 511
};

/* What the command line asked for. */
struct opts {
	const char *pub, *rpc; /* endpoints */
	long timeout_ms;       /* requests */
	bool json, csv;	       /* output format */
	long count;	       /* watch: samples to print, 0 for no limit */
	double timeout_s;      /* watch: give up after this long without a sample, 0: never */
	bool timeout_set;      /* watch: --timeout was given */
	unsigned given;	       /* the command-specific options given (OPT_* bits) */
	const char *printer;   /* print: --printer */
	const char *name;      /* print: --name */
	bool no_wait;	       /* print: --no-wait */
	bool history;	       /* queue: --history */
	const char *cmd;       /* the command word */
	const char *arg[3];    /* its positional arguments */
	int narg;
};

enum {
	OPT_PUB,
	OPT_RPC,
	OPT_TIMEOUT_MS,
	OPT_JSON,
	OPT_CSV,
	OPT_COUNT,
	OPT_TIMEOUT,
	OPT_PRINTER,
	OPT_NAME,
	OPT_NO_WAIT,
	OPT_HISTORY
};

/* The options: name, whether it takes a value, the commands it applies to. */
static const struct optspec {
	const char *name;
	bool has_value;
	unsigned cmds;
} optspecs[] = {
    [OPT_PUB] = {"--pub", true, C_ALL},
    [OPT_RPC] = {"--rpc", true, C_ALL},
    [OPT_TIMEOUT_MS] = {"--timeout-ms", true, C_ALL},
    [OPT_JSON] = {"--json", false,
		  C_DEVICES | C_WATCH | C_SNAPSHOT | C_CALL | C_INFO | C_QUEUE | C_JOB | C_PRINTER},
    [OPT_CSV] = {"--csv", false, C_WATCH},
    [OPT_COUNT] = {"--count", true, C_WATCH},
    [OPT_TIMEOUT] = {"--timeout", true, C_WATCH},
    [OPT_PRINTER] = {"--printer", true, C_PRINT},
    [OPT_NAME] = {"--name", true, C_PRINT},
    [OPT_NO_WAIT] = {"--no-wait", false, C_PRINT},
    [OPT_HISTORY] = {"--history", false, C_QUEUE},
};

static volatile sig_atomic_t stop_requested;

/* A progress bar is drawn on the current line of stderr (a terminal): a message ends it first. */
static bool bar_shown;

/* SIGINT/SIGTERM during watch or while following a print: stop at the next message or poll wake-up.
 */
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
	    "Print queue (3D printers):\n"
	    "  print FILE [--printer ID] [--name NAME] [--no-wait]\n"
	    "                                upload a G-code file as a print job, then follow it\n"
	    "                                until it is done (progress, ETA, temperatures)\n"
	    "  queue [--history] [--json]    the waiting and printing jobs, or the finished ones\n"
	    "  job show|approve|cancel|retry|delete|pause|resume ID [--json]\n"
	    "  job move ID POSITION          put a waiting job at POSITION (1 = next)\n"
	    "  printer clear ID              the printer's bed is clear: the next job may start\n"
	    "  printer estop [ID]            emergency stop of one printer, or of every printer\n\n"
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
	    "print: the upload shows its progress on stderr, then the job id and state on stdout;\n"
	    "without --no-wait labctl follows the job until it ends (a job waiting for a "
	    "teacher's\n"
	    "approval keeps waiting) and exits 0 when it is done, 1 when it failed, was cancelled\n"
	    "or interrupted. Ctrl-C stops following, not the job (status 1: it has not "
	    "finished).\n\n"
	    "Exit status: 0 success, 1 failure or error reply, 2 bad command line.\n");
}

/* ---------------------------------------------------------------- small helpers */

/* End the progress bar's line on stderr, if one is drawn, before printing something else. */
static void bar_break(void)
{
	if (bar_shown) {
		fputc('\n', stderr);
		bar_shown = false;
	}
}

/* Print a message on stderr, on a line of its own when a progress bar is drawn. */
static void __attribute__((format(printf, 1, 2))) errmsg(const char *fmt, ...)
{
	va_list ap;

	bar_break();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

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
			errmsg("labctl: receiving the reply: %s\n", zmq_strerror(errno));
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
				errmsg("labctl: unreadable reply from the bridge: %s\n", err.text);
				rc = -1;
			}
		} else {
			(*nbin)++;
			*binbytes += size;
		}
		zmq_msg_close(&m);
	}
	if (rc == 0 && !*reply) {
		errmsg("labctl: empty reply from the bridge\n");
		rc = -1;
	}
	if (rc < 0) {
		json_decref(*reply);
		*reply = NULL;
	}
	return rc;
}

/* Send one request (params may be NULL: omitted; it is not stolen), followed by one binary
 * frame of len bytes when data is not NULL, and wait up to timeout_ms for its reply. 0 with
 * *result set (a new reference; JSON null when the method returns nothing); -1 when the bridge
 * cannot be reached or answers something unreadable; -2 when it answers with an error; -3 when
 * it does not answer in time. The first two failures are explained on stderr, an error reply as
 * "error CODE name: message"; a timeout is left to the caller. */
static int rpc_request(void *ctx, const struct opts *o, const char *method, json_t *params,
		       const void *data, size_t len, long timeout_ms, json_t **result)
{
	void *sock = NULL;
	json_t *req = NULL, *reply = NULL;
	char *text = NULL;
	int linger = 0, sndtimeo = (int)timeout_ms, rc = -1;
	int64_t deadline = mono_ms() + timeout_ms;

	*result = NULL;
	sock = zmq_socket(ctx, ZMQ_DEALER);
	if (!sock) {
		errmsg("labctl: cannot create a socket: %s\n", zmq_strerror(errno));
		goto cleanup;
	}
	zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(sock, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
	if (zmq_connect(sock, o->rpc) < 0) {
		errmsg("labctl: cannot connect to '%s': %s\n", o->rpc, zmq_strerror(errno));
		goto cleanup;
	}
	req = json_pack("{s:i,s:s}", "id", REQUEST_ID, "method", method);
	if (!req || (params && json_object_set(req, "params", params) < 0) ||
	    !(text = json_dumps(req, JSON_COMPACT))) {
		errmsg("labctl: cannot build the request (out of memory?)\n");
		goto cleanup;
	}
	if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
	    zmq_send(sock, text, strlen(text), data ? ZMQ_SNDMORE : 0) < 0 ||
	    (data && zmq_send(sock, data, len, 0) < 0)) {
		errmsg("labctl: cannot send to the bridge at %s: %s\n", o->rpc,
		       zmq_strerror(errno));
		goto cleanup;
	}
	for (;;) {
		zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
		int64_t left = deadline - mono_ms();
		size_t nbin, binbytes;
		json_t *id, *error;

		if (left <= 0) {
			rc = -3;
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)left) < 0) {
			if (errno == EINTR && !stop_requested)
				continue;
			if (errno == EINTR)
				goto cleanup; /* Ctrl-C: the caller says what it stopped */
			errmsg("labctl: waiting for the reply: %s\n", zmq_strerror(errno));
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
			errmsg("error %" JSON_INTEGER_FORMAT " %s: %s\n",
			       json_integer_value(json_object_get(error, "code")),
			       jstr(error, "name", "?"), jstr(error, "message", ""));
			rc = -2;
			goto cleanup;
		}
		if (nbin)
			errmsg("labctl: the reply also carries %zu binary frame(s), %zu bytes, "
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

/* Send one request and wait up to --timeout-ms for its reply, as rpc_request (without binary
 * frames); a timeout is explained on stderr too and returns -1. */
static int rpc_call(void *ctx, const struct opts *o, const char *method, json_t *params,
		    json_t **result)
{
	int rc = rpc_request(ctx, o, method, params, NULL, 0, o->timeout_ms, result);

	if (rc == -3) {
		errmsg("labctl: no answer from the bridge at %s within %ld ms — is labbridge "
		       "running?\n",
		       o->rpc, o->timeout_ms);
		rc = -1;
	}
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

/* ---------------------------------------------------------------- print queue */

/* The job states after which nothing more happens to a job. */
static bool final_state(const char *state)
{
	return state && (!strcmp(state, "done") || !strcmp(state, "failed") ||
			 !strcmp(state, "cancelled") || !strcmp(state, "interrupted"));
}

/* Write a number of bytes readably ("812 B", "12.3 KiB", "2.6 MiB") into buf. */
static void fmt_bytes(char *buf, size_t n, double bytes)
{
	if (bytes < 1024)
		snprintf(buf, n, "%.0f B", bytes);
	else if (bytes < 1024 * 1024)
		snprintf(buf, n, "%.1f KiB", bytes / 1024);
	else
		snprintf(buf, n, "%.1f MiB", bytes / (1024 * 1024));
}

/* Write a duration in seconds readably ("45 s", "12 min 03 s", "2 h 05 min") into buf. */
static void fmt_duration(char *buf, size_t n, double secs)
{
	long s = secs > 0 && secs < 1e9 ? (long)(secs + 0.5) : 0;

	if (s >= 3600)
		snprintf(buf, n, "%ld h %02ld min", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, n, "%ld min %02ld s", s / 60, s % 60);
	else
		snprintf(buf, n, "%ld s", s);
}

/* Write a timestamp of the queue (ns since 1970, or JSON null) as local time to the second
 * into buf; "-" when null. */
static void fmt_stamp(char *buf, size_t n, const json_t *ns)
{
	time_t t;
	struct tm tm;

	if (!json_is_integer(ns)) {
		snprintf(buf, n, "-");
		return;
	}
	t = (time_t)(json_integer_value(ns) / 1000000000);
	if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT " ns", json_integer_value(ns));
}

/* Write a progress bar of pct percent, BAR_WIDTH characters between brackets, into buf. */
static void fmt_bar(char *buf, size_t n, double pct)
{
	char bar[BAR_WIDTH + 1];
	int full = (int)(pct < 0 ? 0 : pct > 100 ? BAR_WIDTH : pct * BAR_WIDTH / 100);

	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < full ? '#' : '-';
	bar[BAR_WIDTH] = '\0';
	snprintf(buf, n, "[%s]", bar);
}

/* Parse a job id (a positive integer) for command cmd; 0, or -1 after saying what is wrong. */
static int parse_job_id(const char *s, const char *cmd, long *id)
{
	if (parse_long(s, 1, LONG_MAX, id) == 0)
		return 0;
	fprintf(stderr,
		"labctl: %s wants a job id (a positive integer, see labctl queue), not '%s'\n", cmd,
		s);
	return -1;
}

/* A new request id for one submission, unique across machines and runs:
 * hostname-pid-time-random. NULL when out of memory. */
static char *new_request_id(void)
{
	char host[64] = "host", *id;
	uint32_t rnd = 0;
	FILE *f = fopen("/dev/urandom", "rb");
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (!f || fread(&rnd, sizeof rnd, 1, f) != 1)
		rnd = (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() * 2654435761u;
	if (f)
		fclose(f);
	if (gethostname(host, sizeof host) < 0 || !*host)
		snprintf(host, sizeof host, "host");
	host[sizeof host - 1] = '\0';
	if (asprintf(&id, "%s-%ld-%lld-%08" PRIx32, host, (long)getpid(), (long long)ts.tv_sec,
		     rnd) < 0)
		return NULL;
	return id;
}

/* The upload's progress on stderr: a bar redrawn in place on a terminal, otherwise a line at
 * every 10 % (*step keeps the last one printed). */
static void upload_progress(bool tty, const char *name, long long sent, long long size, int *step)
{
	double pct = size > 0 ? 100.0 * (double)sent / (double)size : 100;
	char bar[BAR_WIDTH + 3], a[32], b[32];

	if (tty) {
		fmt_bar(bar, sizeof bar, pct);
		fmt_bytes(a, sizeof a, (double)sent);
		fmt_bytes(b, sizeof b, (double)size);
		fprintf(stderr, "\r\033[Kuploading %s %s %3.0f%%  %s / %s", name, bar, pct, a, b);
		bar_shown = true;
	} else if ((int)(pct / 10) > *step) {
		*step = (int)(pct / 10);
		fprintf(stderr, "uploading %s: %.0f%%\n", name, pct);
	}
	fflush(stderr);
}

/* Send one chunk of an upload, resending the same bytes up to UPLOAD_RETRIES times when the
 * bridge does not answer in time (a chunk it already has is accepted again without effect).
 * 0 with *result set, or -1 after saying why on stderr. */
static int upload_chunk(void *ctx, const struct opts *o, json_t *params, const void *data,
			size_t len, long timeout_ms, json_t **result)
{
	long long offset = json_integer_value(json_object_get(params, "offset"));
	int rc = -1;

	for (int attempt = 0; attempt <= UPLOAD_RETRIES; attempt++) {
		rc = rpc_request(ctx, o, "print.upload", params, data, len, timeout_ms, result);
		if (rc != -3)
			break;
		if (attempt < UPLOAD_RETRIES)
			errmsg("labctl: no answer to the upload at offset %lld within %ld ms, "
			       "sending it again (%d/%d)\n",
			       offset, timeout_ms, attempt + 1, UPLOAD_RETRIES);
	}
	if (rc == -3)
		errmsg("labctl: no answer from the bridge at %s to the upload at offset %lld — is "
		       "labbridge running?\n",
		       o->rpc, offset);
	return rc < 0 ? -1 : 0;
}

/* Upload a G-code file in CHUNK_BYTES chunks (the last one with the crc32 of the whole file).
 * 0 with *job set to the new job (a new reference), or -1 after saying why on stderr. */
static int upload_file(void *ctx, const struct opts *o, const char *path, const char *name,
		       json_t **job)
{
	FILE *f = NULL;
	unsigned char *buf = NULL;
	char *request_id = NULL;
	json_t *params = NULL, *result = NULL;
	struct stat sb;
	long long offset = 0, size;
	uLong crc = crc32(0L, Z_NULL, 0);
	bool tty = isatty(STDERR_FILENO), final = false;
	int step = -1, rc = -1;

	*job = NULL;
	if (!(f = fopen(path, "rb")) || fstat(fileno(f), &sb) < 0) {
		errmsg("labctl: cannot read '%s': %s\n", path, strerror(errno));
		goto cleanup;
	}
	if (S_ISDIR(sb.st_mode)) {
		errmsg("labctl: '%s' is a directory, not a G-code file\n", path);
		goto cleanup;
	}
	size = S_ISREG(sb.st_mode) ? (long long)sb.st_size : 0;
	if (!(buf = malloc(CHUNK_BYTES)) || !(request_id = new_request_id())) {
		errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	while (!final) {
		size_t n = fread(buf, 1, CHUNK_BYTES, f);
		long timeout_ms = o->timeout_ms;
		int c;

		if (ferror(f)) {
			errmsg("labctl: reading '%s': %s\n", path, strerror(errno));
			goto cleanup;
		}
		/* the last chunk: nothing follows it */
		c = getc(f);
		final = c == EOF;
		if (!final)
			ungetc(c, f);
		crc = crc32(crc, buf, (uInt)n);
		json_decref(params);
		params = json_pack("{s:s,s:s,s:I,s:b}", "request_id", request_id, "name", name,
				   "offset", (json_int_t)offset, "final", final);
		if (params && final)
			json_object_set_new(params, "crc32", json_integer((json_int_t)crc));
		if (params && o->printer)
			json_object_set_new(params, "printer", json_string(o->printer));
		if (!params) {
			errmsg("labctl: out of memory\n");
			goto cleanup;
		}
		/* the bridge reads the whole file on the last chunk: allow ~10 MB/s for that */
		if (final)
			timeout_ms += (long)((offset + (long long)n) / 10000);
		json_decref(result);
		result = NULL;
		if (upload_chunk(ctx, o, params, buf, n, timeout_ms, &result) < 0)
			goto cleanup;
		offset += (long long)n;
		if (size < offset)
			size = offset;
		upload_progress(tty, name, offset, final ? offset : size, &step);
	}
	bar_break();
	if (!json_is_object(result) || !json_is_integer(json_object_get(result, "id"))) {
		errmsg("labctl: the bridge's answer to the upload is not a job\n");
		goto cleanup;
	}
	*job = json_incref(result);
	rc = 0;
cleanup:
	json_decref(result);
	json_decref(params);
	free(request_id);
	free(buf);
	if (f)
		fclose(f);
	return rc;
}

/* A job being followed by labctl print. */
struct follow {
	long long id;
	char state[24];	   /* its last known state, "" at first */
	char printer[128]; /* the printer whose status we subscribed to, "" for none */
	bool tty;	   /* stderr is a terminal: the progress bar is redrawn in place */
	int step;	   /* no terminal: the last 10 % step printed */
	json_t *job;	   /* the last job object */
	json_t *status;	   /* the last printer status about this job, or NULL */
};

/* Show a job's progress on stderr: from the last status message about it (with the job's line,
 * ETA and the temperatures), else from the job object's progress. */
static void follow_progress(struct follow *fw)
{
	const json_t *status = fw->status;
	const json_t *sj = json_object_get(status, "job");
	const json_t *prog = json_object_get(fw->job, "progress");
	const json_t *src = json_is_object(sj) ? sj : prog;
	double pct = json_number_value(json_object_get(src, "percent"));
	json_int_t line = json_integer_value(json_object_get(src, "line"));
	json_int_t lines = json_integer_value(json_object_get(src, "lines"));
	char bar[BAR_WIDTH + 3], text[256], eta[32];
	size_t len;

	fmt_bar(bar, sizeof bar, pct);
	len = (size_t)snprintf(text, sizeof text, "%s %5.1f%%  line %" JSON_INTEGER_FORMAT, bar,
			       pct, line);
	if (lines > 0 && len < sizeof text)
		len += (size_t)snprintf(text + len, sizeof text - len, "/%" JSON_INTEGER_FORMAT,
					lines);
	if (json_is_object(sj) && len < sizeof text) {
		double eta_s = json_number_value(json_object_get(sj, "eta_s"));
		const json_t *h = json_object_get(status, "hotend"),
			     *b = json_object_get(status, "bed");

		if (eta_s >= 0)
			fmt_duration(eta, sizeof eta, eta_s);
		len += (size_t)snprintf(text + len, sizeof text - len,
					"  ETA %s  hotend %.0f/%.0f °C  bed %.0f/%.0f °C",
					eta_s >= 0 ? eta : "?",
					json_number_value(json_object_get(h, "actual")),
					json_number_value(json_object_get(h, "target")),
					json_number_value(json_object_get(b, "actual")),
					json_number_value(json_object_get(b, "target")));
	}
	if (fw->tty) {
		fprintf(stderr, "\r\033[K%s", text);
		bar_shown = true;
	} else if ((int)(pct / 10) > fw->step) {
		fw->step = (int)(pct / 10);
		fprintf(stderr, "job %lld: %s\n", fw->id, text);
	}
	fflush(stderr);
}

/* Say what a job is doing now that its state changed (on stderr: it is progress). */
static void follow_announce(struct follow *fw)
{
	const char *state = fw->state, *printer = jstr(fw->job, "assigned", NULL);
	json_t *pos = json_object_get(fw->job, "position");

	bar_break();
	if (!strcmp(state, "submitted"))
		fprintf(stderr,
			"job %lld is waiting for a teacher's approval (labctl job approve %lld)\n",
			fw->id, fw->id);
	else if (!strcmp(state, "approved") && json_is_integer(pos))
		fprintf(stderr,
			"job %lld is waiting for a printer (position %" JSON_INTEGER_FORMAT
			" in the queue)\n",
			fw->id, json_integer_value(pos));
	else if (!strcmp(state, "approved"))
		fprintf(stderr, "job %lld is waiting for a printer\n", fw->id);
	else if (!strcmp(state, "queued"))
		fprintf(stderr, "job %lld is starting on %s\n", fw->id,
			printer ? printer : "a printer");
	else if (!strcmp(state, "printing"))
		fprintf(stderr, "job %lld is printing on %s\n", fw->id,
			printer ? printer : "a printer");
	else if (!strcmp(state, "paused"))
		fprintf(stderr, "job %lld is paused (labctl job resume %lld)\n", fw->id, fw->id);
	else if (!final_state(state))
		fprintf(stderr, "job %lld: %s\n", fw->id, state);
	fflush(stderr);
}

/* Take a new job object (from print.job or a bridge/queue/ event): note its state, subscribe to
 * its printer's status once it has one, say what changed. 0, or -1 after an error (printed). */
static int follow_job(struct follow *fw, void *sub, json_t *job)
{
	const char *state = jstr(job, "state", "?"), *printer = jstr(job, "assigned", NULL);

	json_decref(fw->job);
	fw->job = json_incref(job);
	if (printer && strcmp(printer, fw->printer)) {
		char topic[160];

		snprintf(topic, sizeof topic, "printer/%s/status/", printer);
		if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic)) < 0) {
			errmsg("labctl: cannot subscribe: %s\n", zmq_strerror(errno));
			return -1;
		}
		snprintf(fw->printer, sizeof fw->printer, "%s", printer);
	}
	if (strcmp(state, fw->state)) {
		snprintf(fw->state, sizeof fw->state, "%s", state);
		follow_announce(fw);
	}
	if (final_state(state)) {
		json_decref(fw->status); /* the job's own final progress, not the last status */
		fw->status = NULL;
	}
	if (!strcmp(state, "printing") || !strcmp(state, "paused") || final_state(state))
		follow_progress(fw);
	return 0;
}

/* Handle one stream message while following: a queue event about our job, or our printer's
 * status. 0 to go on, 1 when the job was deleted, -1 on an error (printed). */
static int follow_message(struct follow *fw, void *sub, zmq_msg_t *frames, int n)
{
	json_t *h = NULL, *data;
	const char *topic = zmq_msg_data(&frames[0]);
	size_t tlen = zmq_msg_size(&frames[0]);
	int rc = 0;

	if (n < 2 || !(h = json_loadb(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), 0, NULL)))
		return 0;
	data = json_object_get(h, "data");
	if (tlen == 13 && !memcmp(topic, "bridge/queue/", 13)) {
		if (json_integer_value(json_object_get(data, "id")) != fw->id)
			goto cleanup;
		if (!strcmp(jstr(data, "event", ""), "deleted")) {
			rc = 1;
			goto cleanup;
		}
		if (json_is_object(json_object_get(data, "job")))
			rc = follow_job(fw, sub, json_object_get(data, "job"));
	} else if (tlen > 16 && !memcmp(topic, "printer/", 8) &&
		   !memcmp(topic + tlen - 8, "/status/", 8)) {
		const json_t *sj = json_object_get(data, "job");

		if (json_integer_value(json_object_get(sj, "id")) == fw->id &&
		    !final_state(fw->state)) {
			json_decref(fw->status);
			fw->status = json_incref(data);
			follow_progress(fw);
		}
	}
cleanup:
	json_decref(h);
	return rc;
}

/* Follow a job until it ends: its state changes and its progress on stderr, its end on stdout
 * ("job 12: done"). ST_OK when it is done; ST_FAIL when it failed, was cancelled, interrupted
 * or deleted, when the bridge goes away or on Ctrl-C (the job goes on). */
static int follow(void *ctx, const struct opts *o, json_t *job)
{
	struct follow fw = {.id = json_integer_value(json_object_get(job, "id")),
			    .tty = isatty(STDERR_FILENO),
			    .step = -1};
	struct sigaction sa;
	void *sub = NULL;
	int linger = 0, hwm = SUB_HWM, st = ST_FAIL;
	int64_t last_any, next_poll;
	json_t *params = NULL;

	sub = zmq_socket(ctx, ZMQ_SUB);
	if (!sub) {
		errmsg("labctl: cannot create a socket: %s\n", zmq_strerror(errno));
		goto cleanup;
	}
	zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
	zmq_setsockopt(sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "bridge/queue/", 13) < 0 ||
	    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, HEARTBEAT_TOPIC, strlen(HEARTBEAT_TOPIC)) < 0) {
		errmsg("labctl: cannot subscribe: %s\n", zmq_strerror(errno));
		goto cleanup;
	}
	if (zmq_connect(sub, o->pub) < 0) {
		errmsg("labctl: cannot connect to '%s': %s\n", o->pub, zmq_strerror(errno));
		goto cleanup;
	}
	if (!(params = json_pack("{s:I}", "id", (json_int_t)fw.id))) {
		errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (follow_job(&fw, sub, job) < 0)
		goto cleanup;
	/* events may have gone by before the subscription took: ask at once, then now and then */
	last_any = mono_ms();
	next_poll = last_any + 200;
	while (!stop_requested && !final_state(fw.state)) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		int64_t now = mono_ms(), wait = last_any + LIVENESS_MS - now;
		int got = 0, rc = 0;

		if (now >= next_poll) {
			json_t *j = NULL;

			rc = rpc_call(ctx, o, "print.job", params, &j);
			if (rc == 0)
				rc = follow_job(&fw, sub, j);
			json_decref(j);
			if (rc < 0) {
				if (stop_requested)
					break;
				goto cleanup;
			}
			last_any = now = mono_ms();
			next_poll = now + JOB_POLL_MS;
			continue;
		}
		if (wait <= 0) {
			bar_break();
			fprintf(
			    stderr,
			    "labctl: no heartbeat from the bridge at %s for %d s — is labbridge "
			    "running?\n",
			    o->pub, LIVENESS_MS / 1000);
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)(next_poll - now < wait ? next_poll - now : wait)) <
		    0) {
			if (errno == EINTR)
				continue;
			errmsg("labctl: waiting for messages: %s\n", zmq_strerror(errno));
			goto cleanup;
		}
		while (!stop_requested && rc == 0 && !final_state(fw.state)) {
			zmq_msg_t frames[3];
			int n;

			got = recv_message(sub, frames, &n);
			if (got <= 0)
				break;
			rc = follow_message(&fw, sub, frames, n);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&frames[i]);
			last_any = mono_ms();
		}
		if (got < 0 || rc < 0)
			goto cleanup;
		if (rc == 1) {
			bar_break();
			errmsg("labctl: job %lld was deleted\n", fw.id);
			goto cleanup;
		}
	}
	bar_break();
	if (!final_state(fw.state)) {
		errmsg("labctl: stopped following job %lld; it goes on (labctl job show %lld, "
		       "labctl job cancel %lld)\n",
		       fw.id, fw.id, fw.id);
		goto cleanup;
	}
	if (!strcmp(fw.state, "done")) {
		const json_t *t0 = json_object_get(fw.job, "started"),
			     *t1 = json_object_get(fw.job, "finished");
		char took[32];

		if (json_is_integer(t0) && json_is_integer(t1)) {
			fmt_duration(took, sizeof took,
				     (double)(json_integer_value(t1) - json_integer_value(t0)) /
					 1e9);
			printf("job %lld: done in %s\n", fw.id, took);
		} else {
			printf("job %lld: done\n", fw.id);
		}
		st = ST_OK;
	} else {
		const char *error = jstr(fw.job, "error", NULL);

		printf("job %lld: %s\n", fw.id, fw.state);
		errmsg("labctl: job %lld %s%s%s\n", fw.id, fw.state, error ? ": " : "",
		       error ? error : "");
	}
cleanup:
	fflush(stdout);
	fflush(stderr);
	json_decref(params);
	json_decref(fw.job);
	json_decref(fw.status);
	if (sub)
		zmq_close(sub);
	return st;
}

/* The last path component of path (for a job's default name). */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

/* labctl print FILE: upload it as a print job, print the job's id and state, then (unless
 * --no-wait) follow it to its end. A status. */
static int cmd_print(void *ctx, const struct opts *o)
{
	json_t *job = NULL;
	const char *name = o->name ? o->name : base_name(o->arg[0]);
	int st = ST_FAIL;

	if (!*name) {
		fprintf(stderr, "labctl: --name must not be empty\n");
		return ST_USAGE;
	}
	if (upload_file(ctx, o, o->arg[0], name, &job) < 0)
		goto cleanup;
	printf("job %" JSON_INTEGER_FORMAT ": %s%s\n",
	       json_integer_value(json_object_get(job, "id")), jstr(job, "state", "?"),
	       json_is_true(json_object_get(job, "duplicate")) ? " (already submitted)" : "");
	fflush(stdout);
	if (o->no_wait) {
		if (!strcmp(jstr(job, "state", ""), "submitted"))
			fprintf(stderr,
				"job %" JSON_INTEGER_FORMAT
				" is waiting for a teacher's approval (labctl job approve "
				"%" JSON_INTEGER_FORMAT ")\n",
				json_integer_value(json_object_get(job, "id")),
				json_integer_value(json_object_get(job, "id")));
		st = ST_OK;
		goto cleanup;
	}
	st = follow(ctx, o, job);
cleanup:
	json_decref(job);
	return st;
}

/* The PROGRESS column of a job: its percentage once it started, "-" before. */
static void fmt_job_progress(char *buf, size_t n, const json_t *job)
{
	const char *state = jstr(job, "state", "");
	const json_t *pct = json_object_get(json_object_get(job, "progress"), "percent");

	if (json_is_number(pct) &&
	    (!strcmp(state, "printing") || !strcmp(state, "paused") || final_state(state)))
		snprintf(buf, n, "%.0f%%", json_number_value(pct));
	else
		snprintf(buf, n, "-");
}

/* labctl queue [--history]: the jobs as a table, or print.queue's result as JSON. A status. */
static int cmd_queue(void *ctx, const struct opts *o)
{
	static const char *const heading[] = {"ID",	 "STATE",    "NAME",	 "OWNER",
					      "PRINTER", "PROGRESS", "SUBMITTED"};
	struct table t = {.ncols = 7};
	json_t *params = NULL, *list = NULL, *job;
	size_t i;
	int st = ST_FAIL;

	if (o->history && !(params = json_pack("{s:b}", "history", 1)))
		goto oom;
	if (rpc_call(ctx, o, "print.queue", params, &list) < 0)
		goto cleanup;
	if (o->json) {
		st = print_json(list) < 0 ? ST_FAIL : ST_OK;
		goto cleanup;
	}
	if (!json_is_array(list)) {
		fprintf(stderr, "labctl: print.queue did not return a list\n");
		goto cleanup;
	}
	if (json_array_size(list) == 0) {
		printf(o->history ? "no finished jobs\n" : "no jobs waiting or printing\n");
		st = ST_OK;
		goto cleanup;
	}
	if (table_add(&t, heading) < 0)
		goto oom;
	json_array_foreach(list, i, job)
	{
		char id[24], printer[160], progress[16], submitted[40];
		const char *row[7] = {id,
				      jstr(job, "state", "?"),
				      jstr(job, "name", "?"),
				      jstr(job, "owner", "?"),
				      printer,
				      progress,
				      submitted};
		const char *assigned = jstr(job, "assigned", NULL),
			   *target = jstr(job, "printer", NULL);

		snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(job, "id")));
		if (assigned)
			snprintf(printer, sizeof printer, "%s", assigned);
		else if (target)
			snprintf(printer, sizeof printer, "(%s)", target);
		else
			snprintf(printer, sizeof printer, "-");
		fmt_job_progress(progress, sizeof progress, job);
		fmt_stamp(submitted, sizeof submitted, json_object_get(job, "submitted"));
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
	json_decref(list);
	json_decref(params);
	return st;
}

/* Print a job object as "key  value" lines (the fields that are set), readably. */
static void print_job(const json_t *job)
{
	const json_t *prog = json_object_get(job, "progress"), *meta = json_object_get(job, "meta");
	const char *assigned = jstr(job, "assigned", NULL), *target = jstr(job, "printer", NULL);
	const char *error = jstr(job, "error", NULL), *by = jstr(job, "approved_by", NULL);
	const char *slicer = jstr(meta, "slicer", NULL);
	json_t *pos = json_object_get(job, "position");
	char a[96], b[48];

	printf("%-12s %" JSON_INTEGER_FORMAT "\n", "job",
	       json_integer_value(json_object_get(job, "id")));
	printf("%-12s %s\n", "name", jstr(job, "name", "?"));
	printf("%-12s %s\n", "state", jstr(job, "state", "?"));
	if (json_is_integer(pos))
		printf("%-12s %" JSON_INTEGER_FORMAT "\n", "position", json_integer_value(pos));
	printf("%-12s %s (%s)\n", "owner", jstr(job, "owner", "?"), jstr(job, "role", "?"));
	printf("%-12s %s%s%s%s\n", "printer",
	       assigned ? assigned
	       : target ? target
			: "any",
	       assigned && target && strcmp(assigned, target) ? " (asked for " : "",
	       assigned && target && strcmp(assigned, target) ? target : "",
	       assigned && target && strcmp(assigned, target) ? ")" : "");
	fmt_bytes(a, sizeof a, json_number_value(json_object_get(job, "size")));
	printf("%-12s %s, crc32 %08llx\n", "size", a,
	       (unsigned long long)json_integer_value(json_object_get(job, "crc32")));
	fmt_stamp(a, sizeof a, json_object_get(job, "submitted"));
	printf("%-12s %s\n", "submitted", a);
	if (by)
		printf("%-12s %s\n", "approved by", by);
	if (json_is_integer(json_object_get(job, "started"))) {
		fmt_stamp(a, sizeof a, json_object_get(job, "started"));
		printf("%-12s %s\n", "started", a);
	}
	if (json_is_integer(json_object_get(job, "finished"))) {
		fmt_stamp(a, sizeof a, json_object_get(job, "finished"));
		printf("%-12s %s\n", "finished", a);
	}
	printf("%-12s %.1f%% (line %" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT ")\n",
	       "progress", json_number_value(json_object_get(prog, "percent")),
	       json_integer_value(json_object_get(prog, "line")),
	       json_integer_value(json_object_get(prog, "lines")));
	if (error)
		printf("%-12s %s\n", "error", error);
	if (slicer)
		printf("%-12s %s\n", "slicer", slicer);
	if (json_number_value(json_object_get(meta, "time_s")) > 0) {
		fmt_duration(a, sizeof a, json_number_value(json_object_get(meta, "time_s")));
		printf("%-12s %s\n", "estimate", a);
	}
	if (json_number_value(json_object_get(meta, "filament_mm")) > 0) {
		snprintf(b, sizeof b, "%.2f m",
			 json_number_value(json_object_get(meta, "filament_mm")) / 1000);
		if (json_number_value(json_object_get(meta, "filament_g")) > 0)
			snprintf(a, sizeof a, "%s (%.1f g)", b,
				 json_number_value(json_object_get(meta, "filament_g")));
		else
			snprintf(a, sizeof a, "%s", b);
		printf("%-12s %s\n", "filament", a);
	}
	if (json_integer_value(json_object_get(meta, "layer_count")) > 0)
		printf("%-12s %" JSON_INTEGER_FORMAT "\n", "layers",
		       json_integer_value(json_object_get(meta, "layer_count")));
}

/* The actions of labctl job: the word, its method, whether it takes a position. */
static const struct job_action {
	const char *name, *method;
	bool position;
} job_actions[] = {
    {"show", "print.job", false},      {"approve", "print.approve", false},
    {"cancel", "print.cancel", false}, {"retry", "print.retry", false},
    {"delete", "print.delete", false}, {"pause", "print.pause", false},
    {"resume", "print.resume", false}, {"move", "print.move", true},
};

/* labctl job ACTION ID [POSITION]: one request about a job; what it did on stdout (the job for
 * show), or the result as JSON. A status. */
static int cmd_job(void *ctx, const struct opts *o)
{
	const struct job_action *a = NULL;
	json_t *params = NULL, *result = NULL;
	long id, pos = 0;
	int st = ST_USAGE;

	for (size_t k = 0; k < sizeof job_actions / sizeof *job_actions; k++)
		if (!strcmp(o->arg[0], job_actions[k].name))
			a = &job_actions[k];
	if (!a) {
		fprintf(stderr,
			"labctl: job wants show, approve, cancel, retry, delete, pause, resume or "
			"move, not '%s'\n",
			o->arg[0]);
		return ST_USAGE;
	}
	if (o->narg != (a->position ? 3 : 2)) {
		fprintf(stderr, "labctl: usage: labctl job %s ID%s\n", a->name,
			a->position ? " POSITION" : "");
		return ST_USAGE;
	}
	if (parse_job_id(o->arg[1], "job", &id) < 0)
		return ST_USAGE;
	if (a->position && parse_long(o->arg[2], 1, 1000000, &pos) < 0) {
		fprintf(stderr, "labctl: job move wants a position (1 = next), not '%s'\n",
			o->arg[2]);
		return ST_USAGE;
	}
	st = ST_FAIL;
	params = a->position
		     ? json_pack("{s:I,s:I}", "id", (json_int_t)id, "position", (json_int_t)pos)
		     : json_pack("{s:I}", "id", (json_int_t)id);
	if (!params) {
		fprintf(stderr, "labctl: out of memory\n");
		goto cleanup;
	}
	if (rpc_call(ctx, o, a->method, params, &result) < 0)
		goto cleanup;
	st = ST_OK;
	if (o->json) {
		st = print_json(result) < 0 ? ST_FAIL : ST_OK;
	} else if (!strcmp(a->name, "show")) {
		print_job(result);
	} else if (!strcmp(a->name, "delete")) {
		printf("job %ld deleted\n", id);
	} else if (!strcmp(a->name, "pause") || !strcmp(a->name, "resume")) {
		printf("job %ld: %s asked of its printer\n", id, a->name);
	} else if (!strcmp(a->name, "move")) {
		printf("job %ld moved to position %ld\n", id, pos);
	} else {
		const char *state = jstr(result, "state", "?");

		if (!strcmp(a->name, "cancel") && !final_state(state))
			printf("job %ld: cancel asked of its printer (now %s)\n", id, state);
		else
			printf("job %ld: %s\n", id, state);
	}
cleanup:
	json_decref(result);
	json_decref(params);
	return st;
}

/* labctl printer clear ID | estop [ID]: say a printer's bed is clear, or stop one printer or
 * all at once. A status. */
static int cmd_printer(void *ctx, const struct opts *o)
{
	bool clear = !strcmp(o->arg[0], "clear"), estop = !strcmp(o->arg[0], "estop");
	json_t *params = NULL, *result = NULL;
	int st = ST_FAIL;

	if ((!clear && !estop) || (clear && o->narg != 2)) {
		fprintf(stderr,
			"labctl: usage: labctl printer clear ID | labctl printer estop [ID]\n");
		return ST_USAGE;
	}
	if (o->narg == 2 && !(params = json_pack("{s:s}", "printer", o->arg[1]))) {
		fprintf(stderr, "labctl: out of memory\n");
		goto cleanup;
	}
	if (rpc_call(ctx, o, clear ? "printer.clear" : "printer.estop", params, &result) < 0)
		goto cleanup;
	st = ST_OK;
	if (o->json) {
		st = print_json(result) < 0 ? ST_FAIL : ST_OK;
	} else if (clear) {
		printf("%s: bed marked clear, the next job may start\n", o->arg[1]);
	} else if (o->narg == 2) {
		printf("%s: emergency stop sent\n", o->arg[1]);
	} else {
		json_t *stopped = json_object_get(result, "stopped"), *p;
		size_t i;

		if (json_array_size(stopped) == 0) {
			printf("no printer connected: nothing to stop\n");
		} else {
			printf("emergency stop sent to:");
			json_array_foreach(stopped, i, p) printf(" %s", json_string_value(p));
			putchar('\n');
		}
	}
cleanup:
	json_decref(result);
	json_decref(params);
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
    {"print", C_PRINT, 1, 1, cmd_print},
    {"queue", C_QUEUE, 0, 0, cmd_queue},
    {"job", C_JOB, 2, 3, cmd_job},
    {"printer", C_PRINTER, 1, 2, cmd_printer},
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
		case OPT_PRINTER: o->printer = val; break;
		case OPT_NAME: o->name = val; break;
		case OPT_NO_WAIT: o->no_wait = true; break;
		case OPT_HISTORY: o->history = true; break;
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
