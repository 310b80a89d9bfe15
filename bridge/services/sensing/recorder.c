/* recorder.c - recordings of chosen streams to CSV files, in their own thread. */
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../util/clock.h"
#include "../../core/header.h"
#include "../../util/csv.h"
#include "../../util/log.h"
#include "../../util/thread.h"

#define REC_MAX 32
#define REC_FILES 64
#define REC_PIPE "inproc://lb-recorder"

typedef struct rec_file {
	char topic[128];
	int fd;
	int dirty;
} rec_file;

typedef struct recording {
	long long id;
	char dir[400];
	json_t *prefixes;
	lb_csv_opts opts;
	int64_t t0;
	rec_file files[REC_FILES];
	int nfiles;
} recording;

struct lb_recorder {
	void *zctx;
	void *pipe; /* main's end */
	pthread_t thread;
	char endpoint[128];
	unsigned char key[32]; /* before each prefix subscribed (service.h) */
	size_t keylen;
	/* thread only */
	void *sub, *peer;
	recording recs[REC_MAX];
	int nrecs;
};

/* Write a number with 7 significant digits, '.' or ',' as the decimal mark. */
static int put_number(char *buf, size_t cap, double v, int decimal_comma)
{
	const char *name = lb_nonfinite_name(v); /* the same words as in JSON */
	int n = name ? snprintf(buf, cap, "%s", name) : snprintf(buf, cap, "%.7g", v);

	if (n < 0 || (size_t)n >= cap)
		return -1;
	if (decimal_comma)
		for (int i = 0; i < n; i++)
			if (buf[i] == '.')
				buf[i] = ',';
	return n;
}

int lb_csv_row(char *buf, size_t cap, const lb_csv_opts *o, int64_t t_ns, int64_t t0_ns,
	       double value)
{
	int64_t rel = t_ns - t0_ns;
	time_t secs = (time_t)(t_ns / 1000000000LL);
	struct tm tm;
	char rel_s[40], val[40];
	int n;

	if (put_number(val, sizeof val, value, o->decimal_comma) < 0)
		return -1;
	snprintf(rel_s, sizeof rel_s, "%s%lld.%06lld", rel < 0 ? "-" : "",
		 (long long)(rel < 0 ? -rel : rel) / 1000000000LL,
		 ((long long)(rel < 0 ? -rel : rel) % 1000000000LL) / 1000);
	if (o->decimal_comma)
		for (char *p = rel_s; *p; p++)
			if (*p == '.')
				*p = ',';
	gmtime_r(&secs, &tm);
	n = snprintf(buf, cap, "%s%c%04d-%02d-%02dT%02d:%02d:%02d%c%06lldZ%c%s\n", rel_s, o->sep,
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     o->decimal_comma ? ',' : '.', (long long)((t_ns % 1000000000LL) / 1000),
		     o->sep, val);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int lb_csv_header(char *buf, size_t cap, const lb_csv_opts *o, const char *quantity,
		  const char *unit)
{
	char col[160], q[2 * sizeof col + 2];
	int n;

	/* quoted if it holds the separator, a quote or a line break (RFC 4180): fits q whole */
	snprintf(col, sizeof col, "%s (%s)", quantity, unit);
	lb_csv_field(q, sizeof q, col, o->sep);
	n = snprintf(buf, cap, "t (s)%ctime (UTC)%c%s\n", o->sep, o->sep, q);
	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* Whether topic is recorded by r. */
static int wants(const recording *r, const char *topic, size_t len)
{
	size_t i;
	json_t *p;

	json_array_foreach(r->prefixes, i, p)
	{
		size_t pl = json_string_length(p);
		if (pl <= len && memcmp(json_string_value(p), topic, pl) == 0)
			return 1;
	}
	return 0;
}

/* The file of topic in r, created with its header line on first use; NULL on failure. */
static rec_file *file_for(recording *r, const char *topic, const json_t *h)
{
	char path[600], name[128], line[400];
	const char *dev, *stream;
	rec_file *f;
	int n;

	for (int i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i].topic, topic) == 0)
			return &r->files[i];
	if (r->nfiles == REC_FILES)
		return NULL;
	/* kind/device/stream/ -> device_stream.csv */
	dev = strchr(topic, '/');
	stream = dev ? strchr(dev + 1, '/') : NULL;
	if (!dev || !stream)
		return NULL;
	/* a stream of several segments (robot/r1/event/clap/) -> r1_event-clap.csv */
	n = snprintf(name, sizeof name, "%.*s_%.*s", (int)(stream - dev - 1), dev + 1,
		     (int)(strlen(stream + 1) - (stream[strlen(stream) - 1] == '/')), stream + 1);
	for (char *p = strchr(name, '_'); n > 0 && p && *p; p++)
		if (*p == '/')
			*p = '-';
	snprintf(path, sizeof path, "%s/%s.csv", r->dir, name);
	f = &r->files[r->nfiles];
	f->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (f->fd < 0) {
		lb_err("recording %lld: cannot create %s: %s", r->id, path, strerror(errno));
		return NULL;
	}
	snprintf(f->topic, sizeof f->topic, "%s", topic);
	n = lb_csv_header(line, sizeof line, &r->opts,
			  json_string_value(json_object_get(h, "quantity")),
			  json_string_value(json_object_get(h, "unit")));
	if (n > 0 && write(f->fd, line, (size_t)n) != n)
		lb_err("recording %lld: cannot write %s: %s", r->id, path, strerror(errno));
	r->nfiles++;
	return f;
}

/* Append the samples of one stream message to every recording that wants its topic. */
static void record_message(lb_recorder *rc, zmq_msg_t *topic, zmq_msg_t *header, zmq_msg_t *data)
{
	char t[128];
	size_t tl = zmq_msg_size(topic);
	json_t *h;
	lb_sample_type type = LB_F32;
	const char *tname;
	int64_t t_host;
	double rate;
	size_t count, size;

	if (tl >= sizeof t || !data)
		return;
	memcpy(t, zmq_msg_data(topic), tl);
	t[tl] = '\0';
	h = json_loadb(zmq_msg_data(header), zmq_msg_size(header), 0, NULL);
	tname = json_string_value(json_object_get(h, "type"));
	for (int k = LB_F32; k < LB_JSON; k++)
		if (tname && strcmp(tname, lb_sample_type_name((lb_sample_type)k)) == 0)
			type = (lb_sample_type)k;
	t_host = json_integer_value(json_object_get(h, "t_host"));
	rate = json_number_value(json_object_get(h, "rate"));
	count = (size_t)json_integer_value(json_object_get(h, "count"));
	size = lb_sample_type_size(type);
	if (!h || !size || count * size != zmq_msg_size(data))
		goto out;
	for (int i = 0; i < rc->nrecs; i++) {
		recording *r = &rc->recs[i];
		rec_file *f;
		char *buf;
		size_t len = 0, cap = count * 96 + 1;
		if (!wants(r, t, tl) || !(f = file_for(r, t, h)))
			continue;
		buf = malloc(cap);
		if (!buf)
			continue;
		for (size_t k = 0; k < count; k++) {
			int64_t ts = t_host + (rate > 0 ? (int64_t)((double)k * 1e9 / rate) : 0);
			int n;
			if (ts < r->t0)
				continue; /* measured before the recording started */
			n = lb_csv_row(buf + len, cap - len, &r->opts, ts, r->t0,
				       lb_sample_get(type, zmq_msg_data(data), k));
			if (n > 0)
				len += (size_t)n;
		}
		/* one write of whole lines: a crash never leaves half a row */
		if (len && write(f->fd, buf, len) != (ssize_t)len)
			lb_err("recording %lld: write failed: %s", r->id, strerror(errno));
		f->dirty = 1;
		free(buf);
	}
out:
	json_decref(h);
}

/* (Un)subscribe (on 1 or 0) to prefix (len bytes) through the XSUB: 0x01 or 0x00, the key, the
 * prefix (service.h); a prefix too long for the buffer is not subscribed (logged). */
static void subscribe(lb_recorder *rc, int on, const char *prefix, size_t len)
{
	unsigned char m[1 + sizeof rc->key + 512];

	if (len > sizeof m - 1 - rc->keylen) {
		lb_warn("recorder: a prefix of %zu bytes is not recorded", len);
		return;
	}
	m[0] = (unsigned char)(on ? 1 : 0);
	memcpy(m + 1, rc->key, rc->keylen);
	memcpy(m + 1 + rc->keylen, prefix, len);
	zmq_send(rc->sub, m, 1 + rc->keylen + len, 0);
}

/* Close a recording's files and forget it. */
static void close_recording(lb_recorder *rc, int i)
{
	recording *r = &rc->recs[i];
	size_t k;
	json_t *p;

	json_array_foreach(r->prefixes, k, p)
	    subscribe(rc, 0, json_string_value(p), json_string_length(p));
	for (int f = 0; f < r->nfiles; f++) {
		fdatasync(r->files[f].fd);
		close(r->files[f].fd);
	}
	json_decref(r->prefixes);
	rc->recs[i] = rc->recs[--rc->nrecs];
}

/* Handle a command from main: "start" + spec JSON, "stop" + id; "term". Returns 1 on term. */
static int handle_command(lb_recorder *rc)
{
	char cmd[16] = "";
	zmq_msg_t arg;
	int n = zmq_recv(rc->peer, cmd, sizeof cmd - 1, 0), more;
	size_t ms = sizeof more;
	json_t *spec = NULL;
	int rcode = 0;

	if (n < 0)
		return 1;
	cmd[n < (int)sizeof cmd ? n : (int)sizeof cmd - 1] = '\0';
	zmq_getsockopt(rc->peer, ZMQ_RCVMORE, &more, &ms);
	if (more) {
		zmq_msg_init(&arg);
		zmq_msg_recv(&arg, rc->peer, 0);
		spec = json_loadb(zmq_msg_data(&arg), zmq_msg_size(&arg), 0, NULL);
		zmq_msg_close(&arg);
	}
	if (strcmp(cmd, "term") == 0) {
		json_decref(spec);
		return 1;
	}
	if (strcmp(cmd, "start") == 0 && spec && rc->nrecs < REC_MAX) {
		recording *r = &rc->recs[rc->nrecs++];
		const char *sep = json_string_value(json_object_get(spec, "sep"));
		size_t k;
		json_t *p;
		memset(r, 0, sizeof *r);
		r->id = json_integer_value(json_object_get(spec, "id"));
		snprintf(r->dir, sizeof r->dir, "%s",
			 json_string_value(json_object_get(spec, "dir")));
		r->prefixes = json_incref(json_object_get(spec, "streams"));
		r->opts.sep = sep && *sep ? sep[0] : ',';
		r->opts.decimal_comma = json_is_true(json_object_get(spec, "decimal_comma"));
		r->t0 = json_integer_value(json_object_get(spec, "t0"));
		json_array_foreach(r->prefixes, k, p)
		    subscribe(rc, 1, json_string_value(p), json_string_length(p));
	} else if (strcmp(cmd, "stop") == 0) {
		long long id = json_integer_value(json_object_get(spec, "id"));
		rcode = -1;
		for (int i = 0; i < rc->nrecs; i++)
			if (rc->recs[i].id == id) {
				close_recording(rc, i);
				rcode = 0;
				break;
			}
	} else {
		rcode = -1;
	}
	json_decref(spec);
	zmq_send(rc->peer, rcode == 0 ? "ok" : "no", 2, 0); /* acknowledgement */
	return 0;
}

static void *recorder_thread(void *arg)
{
	lb_recorder *rc = arg;
	int64_t next_sync = lb_clock_ns(CLOCK_MONOTONIC) + 1000000000LL;

	for (;;) {
		zmq_pollitem_t items[2] = {{rc->peer, 0, ZMQ_POLLIN, 0},
					   {rc->sub, 0, ZMQ_POLLIN, 0}};
		int64_t now;

		if (zmq_poll(items, 2, 1000) < 0 && zmq_errno() != EINTR)
			break;
		if ((items[0].revents & ZMQ_POLLIN) && handle_command(rc))
			break;
		for (int n = 0; n < 1000 && (items[1].revents & ZMQ_POLLIN); n++) {
			zmq_msg_t parts[3];
			int np = 0, more = 1;
			for (; more && np < 3; np++) {
				zmq_msg_init(&parts[np]);
				if (zmq_msg_recv(&parts[np], rc->sub, np ? 0 : ZMQ_DONTWAIT) < 0) {
					zmq_msg_close(&parts[np]);
					more = -1;
					break;
				}
				more = zmq_msg_more(&parts[np]);
			}
			if (more == -1 && np == 0)
				break;
			if (np >= 2)
				record_message(rc, &parts[0], &parts[1],
					       np == 3 ? &parts[2] : NULL);
			for (int i = 0; i < np; i++)
				zmq_msg_close(&parts[i]);
		}
		now = lb_clock_ns(CLOCK_MONOTONIC);
		if (now >= next_sync) {
			for (int i = 0; i < rc->nrecs; i++)
				for (int f = 0; f < rc->recs[i].nfiles; f++)
					if (rc->recs[i].files[f].dirty) {
						fdatasync(rc->recs[i].files[f].fd);
						rc->recs[i].files[f].dirty = 0;
					}
			next_sync = now + 1000000000LL;
		}
	}
	while (rc->nrecs)
		close_recording(rc, rc->nrecs - 1);
	zmq_close(rc->sub);
	zmq_close(rc->peer);
	return NULL;
}

lb_recorder *lb_recorder_new(void *zctx, const char *endpoint, const unsigned char *key,
			     size_t keylen, lb_error *err)
{
	lb_recorder *rc = calloc(1, sizeof *rc);
	int zero = 0, hwm = 100000;

	if (!rc || keylen > sizeof rc->key) {
		free(rc);
		lb_error_set(err, LB_ERR_INTERNAL, rc ? "recorder key too long" : "out of memory");
		return NULL;
	}
	rc->zctx = zctx;
	memcpy(rc->key, key, keylen);
	rc->keylen = keylen;
	rc->pipe = zmq_socket(zctx, ZMQ_PAIR);
	rc->peer = zmq_socket(zctx, ZMQ_PAIR);
	rc->sub = zmq_socket(zctx, ZMQ_XSUB); /* subscriptions sent with the key (service.h) */
	if (!rc->pipe || !rc->peer || !rc->sub)
		goto fail;
	zmq_setsockopt(rc->pipe, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(rc->peer, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(rc->sub, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(rc->sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
	if (zmq_bind(rc->pipe, REC_PIPE) < 0 || zmq_connect(rc->peer, REC_PIPE) < 0 ||
	    zmq_connect(rc->sub, endpoint) < 0)
		goto fail;
	if (lb_thread_start(&rc->thread, recorder_thread, rc) != 0)
		goto fail;
	return rc;
fail:
	lb_error_set(err, LB_ERR_INTERNAL, "cannot start the recorder: %s",
		     zmq_strerror(zmq_errno()));
	if (rc->sub)
		zmq_close(rc->sub);
	if (rc->peer)
		zmq_close(rc->peer);
	if (rc->pipe)
		zmq_close(rc->pipe);
	free(rc);
	return NULL;
}

/* Send a command with a JSON argument and wait (at most 2 s) for the acknowledgement. */
static int command(lb_recorder *rc, const char *cmd, json_t *arg)
{
	char *text = json_dumps(arg, JSON_COMPACT);
	char ack[4] = "";
	zmq_pollitem_t it = {rc->pipe, 0, ZMQ_POLLIN, 0};
	int rc_ = LB_EFAIL;

	json_decref(arg);
	if (!text)
		return LB_ENOMEM;
	if (zmq_send(rc->pipe, cmd, strlen(cmd), ZMQ_SNDMORE) >= 0 &&
	    zmq_send(rc->pipe, text, strlen(text), 0) >= 0 && zmq_poll(&it, 1, 2000) == 1 &&
	    zmq_recv(rc->pipe, ack, sizeof ack, 0) >= 2 && memcmp(ack, "ok", 2) == 0)
		rc_ = 0;
	free(text);
	return rc_;
}

int lb_recorder_start(lb_recorder *r, long long id, const char *dir, const json_t *prefixes,
		      const lb_csv_opts *o, int64_t t0_real)
{
	char sep[2] = {o->sep, 0};

	return command(r, "start",
		       json_pack("{s:I,s:s,s:O,s:s,s:b,s:I}", "id", (json_int_t)id, "dir", dir,
				 "streams", prefixes, "sep", sep, "decimal_comma", o->decimal_comma,
				 "t0", (json_int_t)t0_real));
}

int lb_recorder_stop(lb_recorder *r, long long id)
{
	return command(r, "stop", json_pack("{s:I}", "id", (json_int_t)id));
}

void lb_recorder_destroy(lb_recorder **pr)
{
	lb_recorder *rc;

	if (!pr || !*pr)
		return;
	rc = *pr;
	zmq_send(rc->pipe, "term", 4, 0);
	pthread_join(rc->thread, NULL);
	zmq_close(rc->pipe);
	free(rc);
	*pr = NULL;
}
