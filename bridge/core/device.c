/* device.c - a device in its thread: publishes its streams, answers the main loop's commands. */
#include "device.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"

json_t *lb_json_sample(double v)
{
	const char *name = lb_nonfinite_name(v);

	return name ? json_string(name) : json_real(v);
}

int lb_calib_check(double gain, double offset, double min, double max, lb_error *err)
{
	if (!isfinite(gain) || !isfinite(offset))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "calibration gain %g, offset %g: both must be finite numbers",
				    gain, offset);
	if (gain == 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "calibration gain 0 would show the offset whatever the sensor "
				    "measures");
	if (fabs(gain) > LB_CALIB_MAX_GAIN || fabs(offset) > LB_CALIB_MAX_OFFSET)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "calibration gain %g, offset %g: out of range (|gain| <= %g, "
				    "|offset| <= %g, so that samples stay finite in float32)",
				    gain, offset, LB_CALIB_MAX_GAIN, LB_CALIB_MAX_OFFSET);
	if (max > min &&
	    (fabs(gain * min + offset) > FLT_MAX || fabs(gain * max + offset) > FLT_MAX))
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "calibration gain %g, offset %g: the stream's range [%g, %g] would "
		    "overflow float32 (beyond +-%g)",
		    gain, offset, min, max, (double)FLT_MAX);
	return 0;
}

/* Whether a stream has a calibration other than the identity. */
static int calibrated(const lb_stream *s)
{
	return s->gain != 1.0 || s->offset != 0.0;
}

/* Rebuild a stream's constant header part after its metadata changed. */
static int stream_rebuild_prefix(lb_device *dev, lb_stream *s)
{
	char buf[LB_HEADER_MAX];
	int len = lb_header_prefix(buf, sizeof buf, dev->epoch, s->type, s->quantity, s->unit,
				   s->rate, dev->spec.simulated);
	char *p;

	if (len >= 0 && calibrated(s)) {
		int n =
		    snprintf(buf + len, sizeof buf - (size_t)len,
			     ",\"calib\":{\"gain\":%.10g,\"offset\":%.10g}", s->gain, s->offset);
		len = n < 0 || (size_t)n >= sizeof buf - (size_t)len ? -1 : len + n;
	}
	if (len < 0)
		return LB_EINVAL;
	/* kept at its size: a stream table stays small (most prefixes are ~150 bytes) */
	p = realloc(s->prefix, (size_t)len + 1);
	if (!p)
		return LB_ENOMEM;
	memcpy(p, buf, (size_t)len + 1);
	s->prefix = p;
	s->prefix_len = len;
	return 0;
}

/* Whether name is one or more non-empty segments of LB_NAME_CHARS joined by '/' ("acc",
 * "event/button"). */
static bool stream_name_ok(const char *name)
{
	size_t n;

	if (!name || !*name)
		return false;
	for (;;) {
		n = strspn(name, LB_NAME_CHARS);
		if (n == 0)
			return false;
		if (name[n] == '\0')
			return true;
		if (name[n] != '/')
			return false;
		name += n + 1;
	}
}

int lb_device_add_stream(lb_device *dev, const char *name, const char *quantity, const char *unit,
			 lb_sample_type type, double rate)
{
	lb_stream *s = NULL;
	json_t *base;

	if (dev->nstreams >= LB_MAX_STREAMS || !stream_name_ok(name) ||
	    strlen(name) >= sizeof s->name)
		return LB_EINVAL; /* topics promise [A-Za-z0-9._-] segments */
	/* room for the streams it has, not LB_MAX_STREAMS of them: most devices have a few, and an
	 * idle bridge keeps its memory small (streams are declared in open(), before the main loop
	 * reads them) */
	if ((size_t)dev->nstreams == dev->capstreams) {
		size_t cap = dev->capstreams ? dev->capstreams * 2 : 4;
		lb_stream *v = realloc(dev->streams, cap * sizeof *v);
		if (!v)
			return LB_ENOMEM;
		dev->streams = v;
		dev->capstreams = cap;
	}
	s = &dev->streams[dev->nstreams];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->quantity, sizeof s->quantity, "%s", quantity ? quantity : "");
	snprintf(s->unit, sizeof s->unit, "%s", unit ? unit : "");
	snprintf(s->topic, sizeof s->topic, "%s/%s/%s/", dev->spec.kind, dev->spec.id, name);
	s->type = type;
	s->rate = rate;
	base = dev->seq_base ? json_object_get(dev->seq_base, name) : NULL;
	s->seq = json_is_integer(base) ? (uint64_t)json_integer_value(base) : 0;
	s->gain = 1.0;
	base = dev->calib ? json_object_get(dev->calib, name) : NULL;
	if (base && (type == LB_F32 || type == LB_F64)) {
		lb_error err;
		double g = json_number_value(json_object_get(base, "gain"));
		double o = json_number_value(json_object_get(base, "offset"));
		/* one stored before calibrations were bounded is not applied */
		if (lb_calib_check(g, o, 0, 0, &err) == 0) {
			s->gain = g;
			s->offset = o;
		} else {
			lb_warn("device %s stream %s: stored %s: not applied", dev->spec.id, name,
				err.message);
		}
	}
	if (stream_rebuild_prefix(dev, s) < 0)
		return LB_EINVAL;
	return dev->nstreams++;
}

void lb_stream_set_range(lb_device *dev, int stream, double min, double max, double resolution)
{
	if (stream < 0 || stream >= dev->nstreams)
		return;
	dev->streams[stream].min = min;
	dev->streams[stream].max = max;
	dev->streams[stream].resolution = resolution;
}

int lb_stream_set_rate(lb_device *dev, int stream, double rate)
{
	if (stream < 0 || stream >= dev->nstreams || !(rate >= 0))
		return LB_EINVAL;
	dev->streams[stream].rate = rate;
	return stream_rebuild_prefix(dev, &dev->streams[stream]);
}

/* Add a frame holding a copy of data to m; 0 or LB_ENOMEM. */
static int up_frame(lb_up *m, const void *data, size_t len)
{
	zmq_msg_t *f = &m->frame[m->nframes];

	if (zmq_msg_init_size(f, len) < 0)
		return LB_ENOMEM;
	if (len)
		memcpy(zmq_msg_data(f), data, len);
	m->nframes++;
	return 0;
}

/* Send a control message (meta + optional text frame) to the main loop: never dropped. */
static void chan_send_control(lb_device *dev, uint32_t type, uint64_t token, const char *text)
{
	lb_chan_meta meta = {.type = type, .dev = dev, .token = token};
	lb_up *m = lb_up_new(&meta);

	if (!m || (text && up_frame(m, text, strlen(text)) < 0)) {
		lb_err("device %s: out of memory for a message to the main loop", dev->spec.id);
		lb_up_free(m);
		return;
	}
	lb_upq_push(dev->upq, m);
}

/* A data message of stream s with its topic frame, to be completed with the header and payload;
 * NULL if LB_CHAN_HWM messages and LB_CHAN_HWM_BYTES of the device are waiting (the main loop is
 * saturated: the message is dropped and seq shows the gap) or out of memory. */
static lb_up *data_msg(lb_device *dev, int stream, const lb_stream *s, double last)
{
	lb_chan_meta meta = {.type = LB_CHAN_DATA,
			     .stream = (uint32_t)stream,
			     .dev = dev,
			     .seq = s->seq,
			     .last = last};
	lb_up *m;

	if (atomic_load_explicit(&dev->queued, memory_order_relaxed) >= LB_CHAN_HWM &&
	    atomic_load_explicit(&dev->queued_bytes, memory_order_relaxed) >= LB_CHAN_HWM_BYTES)
		return NULL;
	m = lb_upq_alloc(dev->upq, &meta);
	if (m && up_frame(m, s->topic, strlen(s->topic)) < 0) {
		lb_up_free(m);
		return NULL;
	}
	return m;
}

/* Queue a complete data message for the main loop (held: the host thread wakes it once for
 * the burst, lb_upq_flush in host.c). */
static void data_push(lb_device *dev, lb_up *m)
{
	m->meta.bytes = sizeof *m;
	for (int i = 0; i < m->nframes; i++)
		m->meta.bytes += zmq_msg_size(&m->frame[i]);
	atomic_fetch_add_explicit(&dev->queued, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&dev->queued_bytes, (size_t)m->meta.bytes, memory_order_relaxed);
	lb_upq_push_held(dev->upq, m);
}

/* Send topic, header and an optional payload to be published; dropped if LB_CHAN_HWM messages
 * of the device are waiting (data_msg). */
static void chan_send_data(lb_device *dev, int stream, const lb_stream *s, double last,
			   const char *header, size_t hlen, const void *payload, size_t plen)
{
	lb_up *m = data_msg(dev, stream, s, last);

	if (!m)
		return;
	if (up_frame(m, header, hlen) < 0 || (payload && up_frame(m, payload, plen) < 0)) {
		lb_up_free(m);
		return;
	}
	data_push(dev, m);
}

/*
 * A data message of stream s with its topic and header frames for count samples ending with
 * last, its seq the next one (taken even when the message is dropped: the gap shows); the
 * payload frame is the caller's to add. NULL when dropped (data_msg) or out of memory.
 */
static lb_up *data_msg_header(lb_device *dev, int stream, lb_stream *s, int64_t t_dev,
			      int64_t t_host, uint32_t count, double last)
{
	char tail[LB_HEADER_TAIL_MAX];
	size_t hlen, tlen;
	lb_up *m;
	zmq_msg_t *hf;

	s->seq++;
	m = data_msg(dev, stream, s, last);
	if (!m)
		return NULL; /* dropped: seq shows the gap */
	/* the header's frame: the stream's constant prefix and the numbers */
	tlen = lb_header_tail(tail + sizeof tail, s->seq, t_host, t_dev, count);
	hlen = (size_t)s->prefix_len + tlen;
	hf = &m->frame[m->nframes];
	if (zmq_msg_init_size(hf, hlen) < 0) {
		lb_up_free(m);
		return NULL;
	}
	m->nframes++;
	memcpy(zmq_msg_data(hf), s->prefix, (size_t)s->prefix_len);
	memcpy((char *)zmq_msg_data(hf) + s->prefix_len, tail + sizeof tail - tlen, tlen);
	return m;
}

int lb_stream_publish(lb_device *dev, int stream, int64_t t_dev, int64_t t_host,
		      const void *samples, uint32_t count)
{
	lb_stream *s;
	size_t size;
	lb_up *m;

	if (stream < 0 || stream >= dev->nstreams || count == 0)
		return LB_EINVAL;
	s = &dev->streams[stream];
	size = lb_sample_type_size(s->type);
	if (!size)
		return LB_EINVAL;
	if (calibrated(s) && s->type == LB_F32) {
		/* calibration is applied here, once, for every client and recording */
		if (count > dev->scratch_cap) {
			float *b = realloc(dev->scratch, count * sizeof *b);
			if (!b)
				return LB_ENOMEM;
			dev->scratch = b;
			dev->scratch_cap = count;
		}
		for (uint32_t i = 0; i < count; i++)
			dev->scratch[i] =
			    (float)(s->gain * lb_sample_get(LB_F32, samples, i) + s->offset);
		samples = dev->scratch;
	}
	m = data_msg_header(dev, stream, s, t_dev, t_host, count,
			    lb_sample_get(s->type, samples, count - 1));
	if (!m)
		return 0; /* dropped: seq shows the gap */
	if (up_frame(m, samples, (size_t)count * size) < 0) {
		lb_up_free(m);
		return 0;
	}
	data_push(dev, m);
	return 0;
}

int lb_stream_publish_owned(lb_device *dev, int stream, int64_t t_dev, int64_t t_host,
			    void *samples, uint32_t count, lb_free_fn *free_fn, void *hint)
{
	lb_stream *s;
	size_t size;
	lb_up *m;

	if (stream < 0 || stream >= dev->nstreams || count == 0 || !samples ||
	    !(size = lb_sample_type_size(dev->streams[stream].type))) {
		if (free_fn)
			free_fn(samples, hint);
		return LB_EINVAL;
	}
	s = &dev->streams[stream];
	if (calibrated(s) && s->type == LB_F32) {
		/* the samples are ours: calibrated in place */
		for (uint32_t i = 0; i < count; i++) {
			float v = (float)(s->gain * lb_sample_get(LB_F32, samples, i) + s->offset);
			memcpy((char *)samples + (size_t)i * sizeof v, &v, sizeof v);
		}
	}
	m = data_msg_header(dev, stream, s, t_dev, t_host, count,
			    lb_sample_get(s->type, samples, count - 1));
	if (!m) {
		if (free_fn)
			free_fn(samples, hint);
		return 0; /* dropped: seq shows the gap */
	}
	/* the payload frame is the samples themselves: libzmq frees them once sent */
	if (zmq_msg_init_data(&m->frame[m->nframes], samples, (size_t)count * size, free_fn, hint) <
	    0) {
		if (free_fn)
			free_fn(samples, hint);
		lb_up_free(m);
		return 0;
	}
	m->nframes++;
	data_push(dev, m);
	return 0;
}

size_t lb_stream_backlog(const lb_device *dev)
{
	return atomic_load_explicit(&((lb_device *)dev)->queued_bytes, memory_order_relaxed);
}

/* Publish a json message on any stream (events on numeric streams too); 0 or LB_ENOMEM. */
static int publish_json(lb_device *dev, int stream, int64_t t_host, const json_t *data)
{
	lb_stream *s = &dev->streams[stream];
	json_t *h;
	char *text;
	int rc = LB_ENOMEM;

	h = json_pack("{s:i,s:s,s:I,s:I,s:s,s:i,s:O}", "v", LB_PROTOCOL_VERSION, "epoch",
		      dev->epoch, "seq", (json_int_t)(s->seq + 1), "t_host", (json_int_t)t_host,
		      "type", "json", "count", 1, "data", data);
	if (!h)
		return LB_ENOMEM;
	if (dev->spec.simulated)
		json_object_set_new(h, "sim", json_true());
	text = json_dumps(h, JSON_COMPACT);
	if (text) {
		s->seq++;
		chan_send_data(dev, stream, s, 0, text, strlen(text), NULL, 0);
		rc = 0;
	}
	free(text);
	json_decref(h);
	return rc;
}

int lb_stream_publish_json(lb_device *dev, int stream, int64_t t_host, const json_t *data)
{
	if (stream < 0 || stream >= dev->nstreams || dev->streams[stream].type != LB_JSON)
		return LB_EINVAL;
	return publish_json(dev, stream, t_host, data);
}

static void send_desc(lb_device *dev, uint32_t type);

int lb_stream_set_error(lb_device *dev, int stream, int64_t t_host, const char *code,
			const char *message)
{
	lb_stream *s;
	size_t clen, mlen;
	json_t *ev;
	char *e;
	int rc;

	if (stream < 0 || stream >= dev->nstreams)
		return LB_EINVAL;
	s = &dev->streams[stream];
	if (!code) {
		if (s->error) {
			free(s->error);
			s->error = NULL;
			send_desc(dev, LB_CHAN_DESC);
		}
		return 0;
	}
	if (!message)
		message = "";
	clen = strlen(code);
	mlen = strlen(message);
	if (s->error && strcmp(s->error, code) == 0 && strcmp(s->error + clen + 1, message) == 0)
		return 0; /* said already */
	ev = json_pack("{s:s,s:s,s:s}", "event", "error", "code", code, "message", message);
	if (!ev)
		return LB_EINVAL; /* not UTF-8 */
	e = malloc(clen + mlen + 2);
	if (!e) {
		json_decref(ev);
		return LB_ENOMEM;
	}
	memcpy(e, code, clen + 1);
	memcpy(e + clen + 1, message, mlen + 1);
	free(s->error);
	s->error = e;
	/* the description first: a client that sees the event and asks finds the error there */
	send_desc(dev, LB_CHAN_DESC);
	rc = publish_json(dev, stream, t_host, ev);
	json_decref(ev);
	return rc;
}

json_t *lb_device_describe(lb_device *dev)
{
	json_t *d, *streams;

	streams = json_array();
	for (int i = 0; i < dev->nstreams; i++) {
		lb_stream *s = &dev->streams[i];
		json_t *o =
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "name", s->name, "topic", s->topic,
			      "quantity", s->quantity, "unit", s->unit, "type",
			      lb_sample_type_name(s->type), "rate", lb_json_sample(s->rate));
		if (o && calibrated(s))
			json_object_set_new(o, "calib",
					    json_pack("{s:o,s:o}", "gain", lb_json_sample(s->gain),
						      "offset", lb_json_sample(s->offset)));
		if (o && s->max > s->min) {
			json_object_set_new(o, "min", lb_json_sample(s->min));
			json_object_set_new(o, "max", lb_json_sample(s->max));
			json_object_set_new(o, "resolution", lb_json_sample(s->resolution));
		}
		if (o && s->error)
			json_object_set_new(o, "error",
					    json_pack("{s:s,s:s}", "code", s->error, "message",
						      s->error + strlen(s->error) + 1));
		json_array_append_new(streams, o);
	}
	d = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:o}", "id", dev->spec.id, "kind", dev->spec.kind,
		      "driver", dev->driver->name, "name", dev->spec.name, "simulated",
		      dev->spec.simulated, "state", dev->running ? "running" : "ready", "streams",
		      streams);
	if (!d)
		return NULL;
	json_object_set_new(d, "config",
			    dev->driver->config_get ? dev->driver->config_get(dev) : json_object());
	json_object_set_new(d, "limits",
			    dev->driver->limits_get ? dev->driver->limits_get(dev) : json_object());
	if (dev->driver->describe) {
		json_t *k = dev->driver->describe(dev);
		if (k)
			json_object_set_new(d, dev->spec.kind, k);
	}
	return d;
}

/* FNV-1a of a text; never 0 (0 means "nothing sent yet"). */
static uint64_t text_hash(const char *t)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *t; t++)
		h = (h ^ (unsigned char)*t) * 0x100000001b3ULL;
	return h ? h : 1;
}

/* The description as compact JSON text (malloc'd), or NULL when out of memory. */
static char *describe_text(lb_device *dev)
{
	json_t *d = lb_device_describe(dev);
	char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;

	json_decref(d);
	return text;
}

/* Send the description as an OPENED or DESC message; remembered for lb_device_refresh. */
static void send_desc(lb_device *dev, uint32_t type)
{
	char *text = describe_text(dev);

	chan_send_control(dev, type, 0, text ? text : "{}");
	if (text)
		dev->desc_hash = text_hash(text);
	free(text);
}

void lb_device_changed(lb_device *dev)
{
	send_desc(dev, LB_CHAN_DESC);
}

int64_t lb_device_refresh(lb_device *dev, int64_t mono)
{
	char *text;

	if (!dev->desc_hash)
		return -1; /* not open yet: OPENED carries the first one */
	if (mono < dev->desc_next)
		return dev->desc_next;
	dev->desc_next = mono + LB_DESC_EVERY_NS;
	text = describe_text(dev);
	if (text && text_hash(text) != dev->desc_hash) {
		chan_send_control(dev, LB_CHAN_DESC, 0, text);
		dev->desc_hash = text_hash(text);
	}
	free(text);
	return dev->desc_next;
}

void lb_device_event(lb_device *dev, const json_t *event)
{
	char *text = json_dumps(event, JSON_COMPACT);

	if (text)
		chan_send_control(dev, LB_CHAN_EVENT, 0, text);
	free(text);
}

/* Send {"result": result} (stolen) or {"error": {...}} as the reply to token. */
static void send_reply(lb_device *dev, uint64_t token, json_t *result, const lb_error *err)
{
	json_t *r;
	char *text;

	if (err)
		r = json_pack("{s:{s:i,s:s}}", "error", "code", err->code, "message", err->message);
	else
		r = json_pack("{s:o}", "result", result ? result : json_null());
	text = r ? json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	chan_send_control(dev, LB_CHAN_REPLY, token, text ? text : "{\"result\":null}");
	free(text);
	json_decref(r);
}

int lb_device_command(lb_device *dev, const char *name, uint64_t token, json_t *params)
{
	json_t *result = NULL;
	lb_error err = {0};
	const lb_driver *drv = dev->driver;
	int failed = 0, changed = 0, term = 0;

	if (strcmp(name, "term") == 0) {
		term = 1;
		goto done;
	}
	if (strcmp(name, "calib") == 0) {
		const char *sname = json_string_value(json_object_get(params, "stream"));
		int k;
		for (k = 0; k < dev->nstreams && strcmp(dev->streams[k].name, sname ? sname : "");
		     k++)
			;
		if (k == dev->nstreams)
			failed = lb_error_set(&err, LB_ERR_INVALID_PARAMS,
					      "device '%s' has no stream '%s'", dev->spec.id,
					      sname ? sname : "");
		else if (dev->streams[k].type != LB_F32)
			failed = lb_error_set(
			    &err, LB_ERR_NOT_SUPPORTED,
			    "stream '%s' is not a float stream: it cannot be calibrated", sname);
		else if (lb_calib_check(json_number_value(json_object_get(params, "gain")),
					json_number_value(json_object_get(params, "offset")),
					dev->streams[k].min, dev->streams[k].max, &err) < 0)
			failed = LB_EFAIL;
		else {
			dev->streams[k].gain = json_number_value(json_object_get(params, "gain"));
			dev->streams[k].offset =
			    json_number_value(json_object_get(params, "offset"));
			stream_rebuild_prefix(dev, &dev->streams[k]);
			changed = 1;
			result = json_pack("{s:s,s:f,s:f}", "stream", sname, "gain",
					   dev->streams[k].gain, "offset", dev->streams[k].offset);
		}
	} else if (strcmp(name, "start") == 0 &&
		   json_is_integer(json_object_get(params, "at_ns"))) {
		/* a synchronised start: restart at that moment of the common host clock */
		if (dev->running && drv->stop)
			drv->stop(dev, &err);
		dev->running = false;
		dev->start_at = json_integer_value(json_object_get(params, "at_ns"));
		result = json_pack("{s:s,s:I}", "device", dev->spec.id, "at_ns",
				   (json_int_t)dev->start_at);
		changed = 1;
	} else if (strcmp(name, "start") == 0) {
		lb_now now = lb_now_read();
		dev->start_at = 0;
		if (!dev->running) {
			if (!drv->start)
				failed =
				    lb_error_set(&err, LB_ERR_NOT_SUPPORTED, "device cannot start");
			else if (drv->start(dev, &now, &err) < 0)
				failed = 1;
			else
				dev->running = true, changed = 1;
		}
		if (!failed)
			result = lb_device_describe(dev);
	} else if (strcmp(name, "stop") == 0) {
		if (dev->running) {
			if (drv->stop && drv->stop(dev, &err) < 0)
				failed = 1;
			else
				dev->running = false, changed = 1;
		}
		if (!failed)
			result = lb_device_describe(dev);
	} else if (strcmp(name, "get") == 0 || strcmp(name, "set") == 0) {
		const char *key = json_string_value(json_object_get(params, "key"));
		json_t *cfg;

		if (name[0] == 's') {
			if (!drv->config_set)
				failed = lb_error_set(&err, LB_ERR_NOT_SUPPORTED,
						      "device has no settings");
			else if (drv->config_set(dev, key, json_object_get(params, "value"), &err) <
				 0)
				failed = 1;
			else
				changed = 1;
		}
		cfg = drv->config_get ? drv->config_get(dev) : json_object();
		if (!failed && key) {
			result = json_incref(json_object_get(cfg, key));
			if (!result)
				failed = lb_error_set(&err, LB_ERR_INVALID_PARAMS,
						      "device '%s' has no setting '%s'",
						      dev->spec.id, key);
			json_decref(cfg);
		} else if (!failed) {
			result = cfg;
		} else {
			json_decref(cfg);
		}
	} else if (strcmp(name, "event") == 0) {
		/* fire and forget: the client had its answer when the event was queued */
		const char *ev = json_string_value(json_object_get(params, "event"));
		if (drv->event &&
		    drv->event(dev, ev ? ev : "", json_object_get(params, "args"), &err) < 0)
			lb_warn("device %s: event '%s' not taken: %s", dev->spec.id, ev ? ev : "",
				err.message);
		goto done;
	} else if (strcmp(name, "call") == 0) {
		const char *action = json_string_value(json_object_get(params, "action"));
		if (!drv->call)
			failed = lb_error_set(&err, LB_ERR_NOT_SUPPORTED,
					      "device '%s' has no actions", dev->spec.id);
		else if (drv->call(dev, action ? action : "", json_object_get(params, "args"),
				   &result, &err) < 0)
			failed = 1;
		changed = !failed;
	} else {
		failed = lb_error_set(&err, LB_ERR_INTERNAL, "unknown device command '%s'", name);
	}
	if (changed)
		send_desc(dev, LB_CHAN_DESC);
	if (failed) {
		if (!err.code)
			lb_error_set(&err, LB_ERR_DEVICE, "device '%s' failed", dev->spec.id);
		json_decref(result);
		send_reply(dev, token, NULL, &err);
	} else {
		send_reply(dev, token, result, NULL);
	}
done:
	json_decref(params);
	return term;
}

int lb_device_scheduled_start(lb_device *dev, const lb_now *now)
{
	lb_error err = {0};

	if (!dev->start_at || now->real < dev->start_at)
		return 0;
	/* start on the scheduled instant exactly, on both clocks */
	{
		lb_now at = {now->mono - (now->real - dev->start_at), dev->start_at};
		dev->start_at = 0;
		if (dev->driver->start && dev->driver->start(dev, &at, &err) == 0)
			dev->running = true;
		else
			lb_warn("device %s: synchronised start failed: %s", dev->spec.id,
				err.message);
	}
	send_desc(dev, LB_CHAN_DESC);
	return 1;
}

bool lb_device_can_halt(const lb_device *dev)
{
	return dev->driver->halt != NULL;
}

int lb_device_halt_hook(lb_device *dev)
{
	int rc = LB_EGONE;

	if (!lb_device_can_halt(dev))
		return LB_EINVAL;
	/* Dekker-style with sequentially consistent atomics: either this sees the device closing,
	 * or lb_device_halt_disarm sees this user and waits for it */
	atomic_fetch_add(&dev->halt_users, 1);
	if (atomic_load(&dev->halt_open))
		rc = dev->driver->halt(dev) < 0 ? LB_EFAIL : 0;
	atomic_fetch_sub(&dev->halt_users, 1);
	return rc;
}

void lb_device_halt_arm(lb_device *dev)
{
	atomic_store(&dev->halt_open, 1);
}

void lb_device_halt_disarm(lb_device *dev)
{
	atomic_store(&dev->halt_open, 0);
	/* a hook returns at once (driver.h): wait for one that saw the device open */
	while (atomic_load(&dev->halt_users) > 0)
		sched_yield();
}

void lb_device_halted(lb_device *dev)
{
	lb_now now = lb_now_read();
	lb_error err = {0};

	lb_warn("device %s: halted", dev->spec.id);
	dev->start_at = 0; /* a synchronised start scheduled before the halt does not happen */
	if (dev->driver->halted) {
		dev->driver->halted(dev, &now);
	} else if (dev->running) {
		if (dev->driver->stop && dev->driver->stop(dev, &err) < 0)
			lb_warn("device %s: stopping after the halt: %s", dev->spec.id,
				err.message);
		dev->running = false;
	}
	send_desc(dev, LB_CHAN_DESC);
}

void lb_device_report(lb_device *dev, uint32_t type, const char *text)
{
	chan_send_control(dev, type, 0, text);
}

void lb_device_opened(lb_device *dev)
{
	send_desc(dev, LB_CHAN_OPENED);
}

void lb_device_destroy(lb_device **pdev)
{
	lb_device *dev;

	if (!pdev || !*pdev)
		return;
	dev = *pdev;
	for (int i = 0; i < dev->capcache; i++)
		if (dev->cache[i].has_header)
			zmq_msg_close(&dev->cache[i].header);
	free(dev->cache);
	for (int i = 0; i < dev->nstreams; i++) {
		free(dev->streams[i].prefix);
		free(dev->streams[i].error);
	}
	free(dev->streams);
	free(dev->desc);
	json_decref(dev->seq_base);
	json_decref(dev->calib);
	free(dev->scratch);
	json_decref(dev->spec.params);
	free(dev);
	*pdev = NULL;
}

const char *lb_device_state_name(lb_device_state st)
{
	static const char *const names[] = {"opening", "ready", "running", "busy", "closing"};

	return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

const lb_device_spec *lb_device_get_spec(const lb_device *dev)
{
	return &dev->spec;
}

const char *lb_device_id(const lb_device *dev)
{
	return dev->spec.id;
}

void *lb_device_priv(const lb_device *dev)
{
	return dev->priv;
}

void lb_device_set_priv(lb_device *dev, void *priv)
{
	dev->priv = priv;
}

bool lb_device_running(const lb_device *dev)
{
	return dev->running;
}

void lb_device_set_running(lb_device *dev, bool running)
{
	dev->running = running;
}

int lb_device_nstreams(const lb_device *dev)
{
	return dev->nstreams;
}

const char *lb_device_stream_name(const lb_device *dev, int i)
{
	return i >= 0 && i < dev->nstreams ? dev->streams[i].name : NULL;
}

const char *lb_device_stream_unit(const lb_device *dev, int i)
{
	return i >= 0 && i < dev->nstreams ? dev->streams[i].unit : NULL;
}
