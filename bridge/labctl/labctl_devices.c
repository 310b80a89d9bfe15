/* labctl_devices.c - labctl's device commands: devices, snapshot, call, info and watch. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <zmq.h>

#include "labctl.h"
#include "../util/csv.h"
#include "../util/numfmt.h"

#define COUNT_TIMEOUT_S 10.0 /* watch --count N: default --timeout */

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

/* Write v as people read it, with the digits that read back to the same float (single) or
 * double ("20", "21.53", "0.00123"; "1e-7" only beyond 1e-5..1e15); NaN and infinities as
 * "nan", "inf", "-inf". Returns whether the text is also a valid JSON number (numfmt.h). */
static bool fmt_real(char *buf, size_t n, double v, bool single)
{
	return lb_fmt_number(buf, n, v, single);
}

/* Write a rate in Hz readably ("10 Hz", "100 kHz", "irregular" for 0). */
static void fmt_rate(char *buf, size_t n, double rate)
{
	char num[32];
	const char *unit = rate >= 1e6 ? "MHz" : rate >= 1e3 ? "kHz" : "Hz";

	if (!(rate > 0)) {
		snprintf(buf, n, "irregular");
		return;
	}
	lb_fmt_number(num, sizeof num,
		      rate >= 1e6   ? rate / 1e6
		      : rate >= 1e3 ? rate / 1e3
				    : rate,
		      false);
	snprintf(buf, n, "%s %s", num, unit);
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

/* Print s as one CSV field on f (lb_csv_field: quoted when it holds a comma, a quote or a line
 * break); a field too long for the stack is built on the heap, or, out of memory, cut. */
static void csv_field(FILE *f, const char *s)
{
	char small[512], *big = NULL;
	size_t n = lb_csv_field(small, sizeof small, s, ',');

	if (n >= sizeof small && (big = malloc(n + 1)) != NULL)
		lb_csv_field(big, n + 1, s, ',');
	fputs(big ? big : small, f);
	free(big);
}

/* ---------------------------------------------------------------- devices, snapshot, call, info */

/* Write one stream's description, "temperature (°C, 10 Hz)", into buf. */
static void fmt_stream(char *buf, size_t n, const json_t *st)
{
	char rate[48];
	const char *unit = labctl_jstr(st, "unit", "");

	const json_t *error = json_object_get(st, "error");

	fmt_rate(rate, sizeof rate, json_number_value(json_object_get(st, "rate")));
	snprintf(buf, n, "%s (%s%s%s)%s%s", labctl_jstr(st, "name", "?"), unit, *unit ? ", " : "",
		 rate, error ? " ERROR: " : "", error ? labctl_jstr(error, "message", "?") : "");
}

/* Print the second part of labctl devices: the devices of list that are not available
 * (opening, failed to open, configured but absent), with the reason, the retry time and where
 * they are configured; nothing when there are none. 0, or -1 when out of memory. */
static int unavailable_table(const json_t *list)
{
	static const char *const heading[] = {"NOT AVAILABLE", "KIND", "DRIVER", "STATE", "REASON"};
	struct labctl_table t = {.ncols = 5};
	json_t *dev;
	size_t i;
	int rc = -1;

	json_array_foreach(list, i, dev)
	{
		char reason[600];
		const char *row[5], *where = labctl_jstr(dev, "where", "");
		json_t *retry = json_object_get(dev, "retry_ms");
		size_t n;

		if (!json_is_false(json_object_get(dev, "available")))
			continue;
		if (!t.nrows && labctl_table_add(&t, heading) < 0)
			goto cleanup;
		n = (size_t)snprintf(reason, sizeof reason, "%s",
				     labctl_jstr(dev, "reason", "(no reason given)"));
		if (json_is_integer(retry) && n < sizeof reason)
			n += (size_t)snprintf(reason + n, sizeof reason - n, "; retry in %.0f s",
					      ceil((double)json_integer_value(retry) / 1000));
		if (*where && n < sizeof reason)
			snprintf(reason + n, sizeof reason - n, " (%s)", where);
		row[0] = labctl_jstr(dev, "id", "?");
		row[1] = labctl_jstr(dev, "kind", "?");
		row[2] = labctl_jstr(dev, "driver", "?");
		row[3] = labctl_jstr(dev, "state", "?");
		row[4] = reason;
		if (labctl_table_add(&t, row) < 0)
			goto cleanup;
	}
	if (t.nrows) {
		printf("\n");
		labctl_table_print(&t);
	}
	rc = 0;
cleanup:
	labctl_table_free(&t);
	return rc;
}

/* labctl devices: the device table, then those not available (devices.list {all: true}), or
 * the whole list as JSON. A status. */
int labctl_cmd_devices(void *ctx, const struct labctl_opts *o)
{
	static const char *const heading[] = {"ID",	   "KIND",  "DRIVER", "STATE",
					      "SIMULATED", "LEASE", "STREAMS"};
	struct labctl_table t = {.ncols = 7};
	json_t *list = NULL, *dev;
	size_t i;
	int st = LABCTL_FAIL;

	json_t *params;
	size_t live = 0;

	if (o->narg == 1 && strcmp(o->arg[0], "labels") == 0)
		return labctl_cmd_labels(ctx, o);
	if (o->narg > 0 || o->ndevices || o->output || o->url) {
		labctl_errmsg("labctl: usage: labctl devices [--json] | devices labels -o FILE.pdf "
			      "[--url URL] [--device ID]...\n");
		return LABCTL_USAGE;
	}
	params = json_pack("{s:b}", "all", 1);

	if (!params || labctl_rpc_call(ctx, o, "devices.list", params, &list) < 0)
		goto cleanup;
	if (o->json) {
		st = labctl_print_json(list) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto cleanup;
	}
	if (!json_is_array(list)) {
		labctl_errmsg("labctl: devices.list did not return a list\n");
		goto cleanup;
	}
	json_array_foreach(list, i, dev) live += !json_is_false(json_object_get(dev, "available"));
	if (json_array_size(list) == 0) {
		printf("no devices\n");
		st = LABCTL_OK;
		goto cleanup;
	}
	if (!live)
		printf("no devices available\n");
	else if (labctl_table_add(&t, heading) < 0)
		goto oom;
	json_array_foreach(list, i, dev)
	{
		json_t *streams = json_object_get(dev, "streams"),
		       *lease = json_object_get(dev, "lease");
		size_t nst = json_array_size(streams);
		char lease_text[256], stream_text[256];
		const char *row[7];

		if (json_is_false(json_object_get(dev, "available")))
			continue; /* in the second part */
		if (json_is_object(lease)) {
			const char *name = labctl_jstr(lease, "name", "");

			snprintf(lease_text, sizeof lease_text, "%s%s%s%s",
				 labctl_jstr(lease, "holder", "?"), *name ? " (" : "", name,
				 *name ? ")" : "");
		} else {
			snprintf(lease_text, sizeof lease_text, "-");
		}
		row[0] = labctl_jstr(dev, "id", "?");
		row[1] = labctl_jstr(dev, "kind", "?");
		row[2] = labctl_jstr(dev, "driver", "?");
		row[3] = labctl_jstr(dev, "state", "?");
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
			if (labctl_table_add(&t, row) < 0)
				goto oom;
			for (int c = 0; c < 6; c++)
				row[c] = "";
		}
	}
	labctl_table_print(&t);
	if (unavailable_table(list) < 0)
		goto oom;
	st = LABCTL_OK;
	goto cleanup;
oom:
	labctl_errmsg("labctl: out of memory\n");
cleanup:
	labctl_table_free(&t);
	json_decref(list);
	json_decref(params);
	return st;
}

/* Write a stream's last value and unit into buf: a float stream's value in the shortest form
 * of its type, a json stream's data compactly. */
static void fmt_value(char *buf, size_t n, const json_t *value, const json_t *header)
{
	const char *type = labctl_jstr(header, "type", ""), *unit = labctl_jstr(header, "unit", "");
	char num[40];

	if (!value || json_is_null(value)) {
		snprintf(buf, n, "-"); /* no sample yet, or a topic without values */
		return;
	}
	if (json_is_integer(value))
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
	else if (json_is_real(value))
		fmt_real(num, sizeof num, json_real_value(value), !strcmp(type, "f32"));
	else if (json_is_string(value) && strcmp(type, "json") != 0)
		snprintf(num, sizeof num, "%s", json_string_value(value)); /* NaN, Infinity */
	else {
		fmt_json_compact(buf, n, value);
		return;
	}
	snprintf(buf, n, "%s%s%s", num, *unit ? " " : "", unit);
}

/* labctl snapshot [PREFIX]: topic, seq and last value of every stream, or the result as JSON.
 * A status. */
int labctl_cmd_snapshot(void *ctx, const struct labctl_opts *o)
{
	static const char *const heading[] = {"TOPIC", "SEQ", "VALUE"};
	struct labctl_table t = {.ncols = 3};
	json_t *params = NULL, *snap = NULL, *streams, *s;
	size_t i;
	int st = LABCTL_FAIL;

	if (o->narg > 0 && !(params = json_pack("{s:s}", "prefix", o->arg[0])))
		goto oom;
	if (labctl_rpc_call(ctx, o, "snapshot", params, &snap) < 0)
		goto cleanup;
	if (o->json) {
		st = labctl_print_json(snap) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto cleanup;
	}
	streams = json_object_get(snap, "streams");
	if (!json_is_array(streams)) {
		labctl_errmsg("labctl: the snapshot has no list of streams\n");
		goto cleanup;
	}
	if (json_array_size(streams) == 0) {
		printf("no streams%s%s\n", o->narg ? " under " : "", o->narg ? o->arg[0] : "");
		st = LABCTL_OK;
		goto cleanup;
	}
	if (labctl_table_add(&t, heading) < 0)
		goto oom;
	json_array_foreach(streams, i, s)
	{
		char seq[24], value[160];
		const char *row[3] = {labctl_jstr(s, "topic", "?"), seq, value};

		snprintf(seq, sizeof seq, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(s, "seq")));
		fmt_value(value, sizeof value, json_object_get(s, "value"),
			  json_object_get(s, "header"));
		if (labctl_table_add(&t, row) < 0)
			goto oom;
	}
	labctl_table_print(&t);
	st = LABCTL_OK;
	goto cleanup;
oom:
	labctl_errmsg("labctl: out of memory\n");
cleanup:
	labctl_table_free(&t);
	json_decref(snap);
	json_decref(params);
	return st;
}

/* labctl call METHOD [JSON-PARAMS]: the result as indented JSON on stdout; an error reply on
 * stderr with status 1; params that are not a JSON object: status 2. */
int labctl_cmd_call(void *ctx, const struct labctl_opts *o)
{
	json_t *params = NULL, *result = NULL;
	json_error_t err;
	int st = LABCTL_FAIL;

	if (o->narg > 1) {
		params = json_loads(o->arg[1], JSON_DECODE_ANY, &err);
		if (!params) {
			labctl_errmsg(
			    "labctl: JSON-PARAMS is not valid JSON: %s (at character %d)\n",
			    err.text, err.position);
			st = LABCTL_USAGE;
			goto cleanup;
		}
		if (!json_is_object(params)) {
			labctl_errmsg("labctl: JSON-PARAMS must be a JSON object, e.g. "
				      "'{\"device\": \"sim-temp-1\"}'\n");
			st = LABCTL_USAGE;
			goto cleanup;
		}
	}
	if (labctl_rpc_call(ctx, o, o->arg[0], params, &result) < 0)
		goto cleanup;
	st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
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
int labctl_cmd_info(void *ctx, const struct labctl_opts *o)
{
	json_t *info = NULL, *v;
	const char *key;
	size_t width = 0;
	int st = LABCTL_FAIL;

	if (labctl_rpc_call(ctx, o, "bridge.info", NULL, &info) < 0)
		goto cleanup;
	if (o->json || !json_is_object(info)) {
		st = labctl_print_json(info) < 0 ? LABCTL_FAIL : LABCTL_OK;
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
	st = LABCTL_OK;
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
	const struct labctl_opts *o;
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
		labctl_errmsg("labctl: seq went back on %s: %" JSON_INTEGER_FORMAT
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
	const char *unit = labctl_jstr(h, "unit", ""), *quantity = labctl_jstr(h, "quantity", NULL);
	unsigned size = sample_types[type].size;
	char *qtopic = NULL, *qunit = NULL, *qquantity = NULL;
	int rc = -1;

	if (count < 0 || (uint64_t)count * size != len) {
		labctl_errmsg("labctl: skipping a message on %s: %" JSON_INTEGER_FORMAT
			      " %s samples announced, %zu bytes received\n",
			      topic, count, sample_types[type].name, len);
		return 0;
	}
	if (w->o->json) {
		qtopic = json_quote(topic, strlen(topic));
		qunit = json_quote(labctl_jstr(h, "unit", NULL), strlen(unit));
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
		labctl_errmsg("labctl: out of memory\n");
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
		labctl_errmsg("labctl: skipping a message of %d frame(s)\n", nframes);
		return 0;
	}
	if (!(topic = strndup(zmq_msg_data(&frames[0]), zmq_msg_size(&frames[0])))) {
		labctl_errmsg("labctl: out of memory\n");
		return -1;
	}
	h = json_loadb(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), 0, &err);
	seq = json_integer_value(json_object_get(h, "seq"));
	type_name = labctl_jstr(h, "type", NULL);
	type = sample_type(type_name);
	if (!json_is_object(h) || !json_is_integer(json_object_get(h, "seq")) || !type_name ||
	    (type < 0 && strcmp(type_name, "json"))) {
		labctl_errmsg("labctl: skipping a malformed message on %s: %s\n", topic,
			      h ? "no seq or an unknown type" : err.text);
		rc = 0;
		goto cleanup;
	}
	wanted = watch_matches(w, topic);
	epoch = labctl_jstr(h, "epoch", "");
	if (strcmp(epoch, w->epoch)) {
		if (*w->epoch)
			labctl_errmsg(
			    "labctl: the bridge restarted (epoch %s, now %s): sequence numbers "
			    "start again\n",
			    w->epoch, epoch);
		snprintf(w->epoch, sizeof w->epoch, "%s", epoch);
		seq_reset(w);
	}
	if (seq_note(w, topic, seq, wanted) < 0) {
		labctl_errmsg("labctl: out of memory\n");
		goto cleanup;
	}
	if (!strcmp(topic, LABCTL_HEARTBEAT_TOPIC))
		watch_heartbeat(w, json_object_get(h, "data"));
	if (!wanted) {
		rc = 0;
		goto cleanup;
	}
	if (type < 0) { /* json */
		if (print_json_message(w, topic, seq,
				       (int64_t)json_integer_value(json_object_get(h, "t_host")),
				       json_object_get(h, "data")) < 0) {
			labctl_errmsg("labctl: out of memory\n");
			goto cleanup;
		}
		if (w->count_json && w->left > 0)
			w->left--;
		rc = w->left == 0;
		goto cleanup;
	}
	if (nframes < 3) {
		labctl_errmsg("labctl: skipping a %s message on %s without its samples frame\n",
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

/* labctl watch PATTERN: print the samples of the topics starting with PATTERN until --count
 * is reached (status 0), Ctrl-C (status 0), no sample for --timeout seconds (status 1) or
 * nothing at all from the bridge for 3 s (status 1). */
int labctl_cmd_watch(void *ctx, const struct labctl_opts *o)
{
	struct watch w = {.o = o, .pattern = o->arg[0]};
	void *sub = NULL;
	int st = LABCTL_FAIL;
	double timeout_s = o->timeout_set ? o->timeout_s : o->count > 0 ? COUNT_TIMEOUT_S : 0;
	int64_t last_any, last_sample;

	w.plen = strlen(w.pattern);
	w.count_json = !strncmp(w.pattern, "bridge/", 7);
	w.left = o->count > 0 ? o->count : -1;
	if (!(sub = labctl_subscribe(ctx, o, w.pattern)))
		goto cleanup;
	if (w.plen && w.pattern[w.plen - 1] != '/')
		labctl_errmsg(
		    "labctl: note: '%s' does not end with '/': it also matches the longer names "
		    "that start with it (end it with '/' for exactly one kind, device or stream)\n",
		    w.pattern);
	labctl_catch_stop();
	if (o->csv)
		printf("time_ns,topic,value,unit\n");
	fflush(stdout);

	last_any = last_sample = labctl_mono_ms();
	while (!labctl_stopping()) {
		zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
		int64_t now = labctl_mono_ms(), wait = last_any + LABCTL_LIVENESS_MS - now;
		int64_t sample_wait =
		    timeout_s > 0 ? last_sample + (int64_t)(timeout_s * 1000) - now : INT64_MAX;
		int got = 0, rc = 0;

		if (wait <= 0) {
			labctl_net_explain(sub);
			labctl_errmsg(
			    "labctl: no heartbeat from the bridge at %s for %d s — is labbridge "
			    "running?\n",
			    o->pub, LABCTL_LIVENESS_MS / 1000);
			goto cleanup;
		}
		if (sample_wait <= 0) {
			labctl_errmsg(
			    "labctl: nothing on '%s' for %g s, though the bridge at %s is alive — "
			    "is the device there and running? (labctl devices)\n",
			    w.pattern, timeout_s, o->pub);
			goto cleanup;
		}
		if (zmq_poll(&item, 1, (long)(sample_wait < wait ? sample_wait : wait)) < 0) {
			if (errno == EINTR)
				continue;
			labctl_errmsg("labctl: waiting for messages: %s\n", zmq_strerror(errno));
			goto cleanup;
		}
		/* read everything waiting, then flush once */
		while (!labctl_stopping() && rc == 0) {
			zmq_msg_t frames[3];
			long left_before = w.left;
			int n;

			got = labctl_recv_message(sub, frames, &n);
			if (got <= 0)
				break;
			rc = watch_message(&w, frames, n);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&frames[i]);
			last_any = labctl_mono_ms();
			if (w.left != left_before || (w.left < 0 && rc == 0 && n > 1))
				last_sample = last_any;
		}
		fflush(stdout);
		if (got < 0 || rc < 0)
			goto cleanup;
		if (rc == 1)
			break; /* --count reached */
	}
	st = LABCTL_OK;
cleanup:
	fflush(stdout);
	seq_reset(&w);
	free(w.seq);
	if (sub)
		zmq_close(sub);
	return st;
}
