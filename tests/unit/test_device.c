/* test_device.c - unit tests of bridge/core/device.c: streams, headers, calibration, losses as
 * gaps. */
#include <jansson.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "../../bridge/core/device.h"
#include "check.h"

static const lb_driver test_driver = {.name = "test"};

/* A device whose messages go to q (no thread: the test plays the device's thread). */
static lb_device *device(lb_upq *q)
{
	lb_device *d = calloc(1, sizeof *d);

	d->driver = &test_driver;
	snprintf(d->spec.id, sizeof d->spec.id, "dev-1");
	snprintf(d->spec.kind, sizeof d->spec.kind, "sensor");
	memcpy(d->epoch, "0123456789abcdef", 17);
	d->upq = q;
	return d;
}

/* The messages queued so far, oldest first. */
static lb_up *take(lb_upq *q)
{
	return lb_upq_take(q);
}

/* A frame as a NUL-terminated string (static buffer). */
static const char *text(const zmq_msg_t *m)
{
	static char buf[1024];

	snprintf(buf, sizeof buf, "%.*s", (int)zmq_msg_size((zmq_msg_t *)m),
		 (const char *)zmq_msg_data((zmq_msg_t *)m));
	return buf;
}

static void free_all(lb_up *m)
{
	for (lb_up *next; m; m = next) {
		next = m->next;
		lb_up_free(m);
	}
}

static void test_streams_are_checked(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	char name[16];

	lb_upq_init(&q, &w);
	d = device(&q);
	CHECK_EQ_INT(lb_device_add_stream(d, "temperature", "temperature", "°C", LB_F32, 10), 0);
	CHECK_STR(d->streams[0].topic, "sensor/dev-1/temperature/");
	CHECK(lb_device_add_stream(d, "bad name", "q", "u", LB_F32, 1) < 0);
	CHECK(lb_device_add_stream(d, "", "q", "u", LB_F32, 1) < 0);
	/* segments joined by '/' (a robot's event/NAME), each non-empty */
	CHECK(lb_device_add_stream(d, "/a", "q", "u", LB_F32, 1) < 0);
	CHECK(lb_device_add_stream(d, "a/", "q", "u", LB_F32, 1) < 0);
	CHECK(lb_device_add_stream(d, "a//b", "q", "u", LB_F32, 1) < 0);
	CHECK(lb_device_add_stream(d, "a/b c", "q", "u", LB_F32, 1) < 0);
	CHECK_EQ_INT(lb_device_add_stream(d, "event/clap", "q", "u", LB_F32, 1), 1);
	CHECK_STR(d->streams[1].topic, "sensor/dev-1/event/clap/");
	for (int i = 2; i < LB_MAX_STREAMS; i++) {
		snprintf(name, sizeof name, "s%d", i);
		CHECK_EQ_INT(lb_device_add_stream(d, name, "q", "u", LB_F32, 1), i);
	}
	CHECK(lb_device_add_stream(d, "one-too-many", "q", "u", LB_F32, 1) < 0);
	CHECK_EQ_INT(d->nstreams, LB_MAX_STREAMS);
	CHECK(lb_stream_set_rate(d, 0, -1) < 0);
	CHECK_EQ_INT(lb_stream_set_rate(d, 0, 20), 0);
	CHECK(strstr(d->streams[0].prefix, "\"rate\":20") != NULL);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

static void test_publish_sends_topic_header_samples(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	float v[3] = {1.0f, 2.0f, 3.0f};
	lb_up *m;
	json_t *h;

	lb_upq_init(&q, &w);
	d = device(&q);
	lb_device_add_stream(d, "v", "voltage", "V", LB_F32, 100);
	CHECK_EQ_INT(lb_stream_publish(d, 0, 5, 1000, v, 3), 0);
	CHECK(lb_stream_publish(d, 1, 5, 1000, v, 3) < 0); /* no such stream */
	CHECK(lb_stream_publish(d, 0, 5, 1000, v, 0) < 0); /* nothing to send */
	m = take(&q);
	CHECK(m != NULL && m->next == NULL);
	if (m) {
		CHECK_EQ_INT(m->meta.type, LB_CHAN_DATA);
		CHECK_EQ_INT(m->meta.seq, 1);
		CHECK(m->meta.last == 3.0);
		CHECK_EQ_INT(m->nframes, 3);
		CHECK_STR(text(&m->frame[0]), "sensor/dev-1/v/");
		h = json_loads(text(&m->frame[1]), 0, NULL);
		CHECK(h != NULL);
		CHECK_EQ_INT(json_integer_value(json_object_get(h, "seq")), 1);
		CHECK_EQ_INT(json_integer_value(json_object_get(h, "count")), 3);
		CHECK_EQ_INT(json_integer_value(json_object_get(h, "t_host")), 1000);
		CHECK_STR(json_string_value(json_object_get(h, "unit")), "V");
		json_decref(h);
		CHECK_EQ_INT(zmq_msg_size(&m->frame[2]), sizeof v);
		CHECK(memcmp(zmq_msg_data(&m->frame[2]), v, sizeof v) == 0);
	}
	free_all(m);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

/* An lb_free_fn counting its calls (hint: the counter). */
static void count_free(void *data, void *hint)
{
	free(data);
	(*(int *)hint)++;
}

static void test_publish_owned_sends_the_buffer_itself(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	uint8_t *buf = malloc(5), copy[5] = {1, 2, 3, 4, 5};
	int freed = 0;
	lb_up *m, *c;
	json_t *h1, *h2;

	lb_upq_init(&q, &w);
	d = device(&q);
	lb_device_add_stream(d, "image", "image", "", LB_U8, 0);
	memcpy(buf, copy, sizeof copy);
	CHECK_EQ_INT(lb_stream_publish(d, 0, 5, 1000, copy, 5), 0);
	CHECK_EQ_INT(lb_stream_publish_owned(d, 0, 5, 1000, buf, 5, count_free, &freed), 0);
	CHECK_EQ_INT(atomic_load(&d->queued), 2);
	CHECK_EQ_INT(lb_stream_backlog(d), atomic_load(&d->queued_bytes));
	CHECK(lb_stream_backlog(d) > 2 * (5 + 150));
	c = take(&q);
	m = c ? c->next : NULL;
	CHECK(m != NULL && m->next == NULL);
	if (m) {
		/* the same frames as a copied publication; the payload is the buffer itself */
		CHECK_EQ_INT(m->nframes, 3);
		CHECK_EQ_INT(m->meta.seq, 2);
		CHECK(m->meta.last == 5.0);
		CHECK_STR(text(&m->frame[0]), "sensor/dev-1/image/");
		h1 = json_loads(text(&c->frame[1]), 0, NULL);
		h2 = json_loads(text(&m->frame[1]), 0, NULL);
		CHECK_EQ_INT(json_integer_value(json_object_get(h2, "seq")), 2);
		json_object_del(h1, "seq");
		json_object_del(h2, "seq");
		CHECK(h1 && h2 && json_equal(h1, h2));
		json_decref(h1);
		json_decref(h2);
		CHECK(zmq_msg_data(&m->frame[2]) == (void *)buf);
		CHECK_EQ_INT(zmq_msg_size(&m->frame[2]), 5);
		CHECK_EQ_INT(freed, 0);
	}
	free_all(c);
	CHECK_EQ_INT(freed, 1); /* freed once, when its message was */
	/* refused or dropped: freed at once, and a drop still takes its seq */
	CHECK(lb_stream_publish_owned(d, 1, 0, 0, malloc(1), 1, count_free, &freed) < 0);
	CHECK_EQ_INT(freed, 2);
	atomic_store(&d->queued, LB_CHAN_HWM);
	atomic_store(&d->queued_bytes, LB_CHAN_HWM_BYTES);
	CHECK_EQ_INT(lb_stream_publish_owned(d, 0, 0, 0, malloc(1), 1, count_free, &freed), 0);
	CHECK_EQ_INT(freed, 3);
	CHECK(take(&q) == NULL);
	atomic_store(&d->queued, 0);
	atomic_store(&d->queued_bytes, 0);
	CHECK_EQ_INT(lb_stream_publish_owned(d, 0, 0, 0, malloc(1), 1, count_free, &freed), 0);
	m = take(&q);
	CHECK(m != NULL && m->meta.seq == 4);
	free_all(m);
	CHECK_EQ_INT(freed, 4);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

static void test_calibration_is_applied_and_announced(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	float v[2] = {1.0f, 2.0f}, out[2];
	lb_up *m;

	lb_upq_init(&q, &w);
	d = device(&q);
	lb_device_add_stream(d, "t", "temperature", "°C", LB_F32, 1);
	lb_device_command(d, "calib", 1,
			  json_pack("{s:s,s:f,s:f}", "stream", "t", "gain", 2.0, "offset", 0.5));
	lb_stream_publish(d, 0, 0, 0, v, 2);
	/* the command's description and reply, then the calibrated samples */
	m = take(&q);
	for (lb_up *x = m; x; x = x->next) {
		if (x->meta.type == LB_CHAN_REPLY)
			CHECK(strstr(text(&x->frame[0]), "\"gain\": 2") ||
			      strstr(text(&x->frame[0]), "\"gain\":2"));
		if (x->meta.type != LB_CHAN_DATA)
			continue;
		CHECK(strstr(text(&x->frame[1]), "\"calib\":{\"gain\":2,\"offset\":0.5}") != NULL);
		memcpy(out, zmq_msg_data(&x->frame[2]), sizeof out);
		CHECK(out[0] == 2.5f && out[1] == 4.5f);
		CHECK(x->meta.last == 4.5);
	}
	CHECK(v[0] == 1.0f); /* the driver's buffer is left alone */
	free_all(m);
	/* a stream that does not exist: an error reply, nothing else */
	lb_device_command(d, "calib", 2,
			  json_pack("{s:s,s:f,s:f}", "stream", "nope", "gain", 1.0, "offset", 0.0));
	m = take(&q);
	CHECK(m && m->meta.type == LB_CHAN_REPLY && m->meta.token == 2 && !m->next);
	if (m)
		CHECK(strstr(text(&m->frame[0]), "no stream 'nope'") != NULL);
	free_all(m);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

/*
 * A main loop that does not keep up: once LB_CHAN_HWM messages and LB_CHAN_HWM_BYTES wait, the
 * device drops, and the gap shows in seq; control messages are never dropped. samples: per
 * message (1: unbatched, ~450 bytes each, so the byte budget holds ~4 700 of them; 1000: 4000-byte
 * payloads, stopped by the message count).
 */
static void losses_are_gaps_in_seq(uint32_t samples)
{
	enum { OFFERED = 3 * (LB_CHAN_HWM_BYTES / 400) };
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	float *v = calloc(samples, sizeof *v);
	lb_up *m;
	int n = 0, disorder = 0;
	uint64_t last = 0, bytes = 0, before_last = 0;

	lb_upq_init(&q, &w);
	d = device(&q);
	lb_device_add_stream(d, "v", "voltage", "V", LB_F32, 1000);
	for (int i = 0; i < OFFERED; i++)
		CHECK_EQ_INT(lb_stream_publish(d, 0, i, i, v, samples), 0);
	lb_device_changed(d); /* a control message: queued even now */
	m = take(&q);
	for (lb_up *x = m; x; x = x->next) {
		if (x->meta.type == LB_CHAN_DATA) {
			n++;
			disorder += x->meta.seq != last + 1;
			last = x->meta.seq;
			before_last = bytes;
			bytes += x->meta.bytes;
			CHECK(x->meta.bytes > (uint64_t)samples * 4 + 150); /* frames + lb_up */
			/* what the main loop does */
			atomic_fetch_sub(&d->queued, 1);
			atomic_fetch_sub(&d->queued_bytes, (size_t)x->meta.bytes);
		} else {
			CHECK_EQ_INT(x->meta.type, LB_CHAN_DESC);
		}
	}
	CHECK_EQ_INT(disorder, 0);
	CHECK_EQ_INT(last, n);
	CHECK(n < OFFERED);
	/* the last one accepted was the first to reach both limits */
	CHECK(n >= LB_CHAN_HWM && bytes >= LB_CHAN_HWM_BYTES);
	CHECK(n == LB_CHAN_HWM || before_last < LB_CHAN_HWM_BYTES);
	/* unbatched, the byte budget holds 40 ms of a 100 kHz stream at least */
	if (samples == 1)
		CHECK(n > 4 * LB_CHAN_HWM);
	else
		CHECK_EQ_INT(n, LB_CHAN_HWM);
	CHECK_EQ_INT(atomic_load(&d->queued_bytes), 0);
	free_all(m);
	/* the main loop has caught up: the next message's seq is past every dropped one */
	lb_stream_publish(d, 0, 0, 0, v, samples);
	m = take(&q);
	CHECK(m != NULL);
	if (m)
		CHECK_EQ_INT(m->meta.seq, OFFERED + 1);
	free_all(m);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
	free(v);
}

static void test_losses_are_gaps_in_seq(void)
{
	losses_are_gaps_in_seq(1);
	losses_are_gaps_in_seq(1000);
}

/* A driver whose description holds a counter (dev->priv points to it). */
static json_t *count_config(lb_device *dev)
{
	return json_pack("{s:i}", "count", *(int *)dev->priv);
}

static const lb_driver counting_driver = {.name = "count", .config_get = count_config};

/* Whether m is a control message of type with text containing needle. */
static int control_is(const lb_up *m, uint32_t type, const char *needle)
{
	return m && m->meta.type == type && m->nframes == 1 &&
	       strstr(text(&m->frame[0]), needle) != NULL;
}

/* The description follows the device: sent when its text changed, at most once a period. */
static void test_description_follows_the_device(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	const int64_t t0 = 5000000000LL, E = LB_DESC_EVERY_NS;
	lb_upq q;
	lb_device *d;
	lb_up *m;
	int n = 1;

	lb_upq_init(&q, &w);
	d = device(&q);
	d->driver = &counting_driver;
	d->priv = &n;
	lb_device_add_stream(d, "v", "voltage", "V", LB_F32, 10);
	CHECK_EQ_INT(lb_device_refresh(d, t0), -1); /* not open: OPENED carries the first one */
	CHECK(take(&q) == NULL);
	lb_device_opened(d);
	m = take(&q);
	CHECK(control_is(m, LB_CHAN_OPENED, "\"count\":1"));
	free_all(m);
	/* unchanged: nothing sent, the next look a period later */
	CHECK(lb_device_refresh(d, t0) == t0 + E);
	CHECK(take(&q) == NULL);
	/* changed, but the period has not passed: not yet */
	n = 2;
	CHECK(lb_device_refresh(d, t0 + E - 1) == t0 + E);
	CHECK(take(&q) == NULL);
	/* the period has passed: the last state, once */
	n = 3;
	CHECK(lb_device_refresh(d, t0 + E) == t0 + 2 * E);
	m = take(&q);
	CHECK(control_is(m, LB_CHAN_DESC, "\"count\":3"));
	CHECK(m && m->next == NULL);
	free_all(m);
	CHECK(lb_device_refresh(d, t0 + 2 * E) == t0 + 3 * E);
	CHECK(take(&q) == NULL); /* the same text is not sent again */
	/* lb_device_changed sends at once, and the next look knows it was sent */
	n = 4;
	lb_device_changed(d);
	m = take(&q);
	CHECK(control_is(m, LB_CHAN_DESC, "\"count\":4"));
	free_all(m);
	CHECK(lb_device_refresh(d, t0 + 3 * E) == t0 + 4 * E);
	CHECK(take(&q) == NULL);
	d->priv = NULL;
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

/* A stream's error: in the description, and an event on the stream's topic, once. */
static void test_stream_errors(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	float v = 1.5f;
	lb_up *m;
	json_t *h;

	lb_upq_init(&q, &w);
	d = device(&q);
	lb_device_add_stream(d, "a", "q", "u", LB_F32, 10);
	lb_device_add_stream(d, "b", "q", "u", LB_U8, 10);
	CHECK_EQ_INT(lb_stream_set_error(d, 1, 77, "illegal_data_address", "refused register 5"),
		     0);
	m = take(&q);
	/* the description first, with the error on stream b only */
	CHECK(control_is(m, LB_CHAN_DESC,
			 "\"name\":\"b\",\"topic\":\"sensor/dev-1/b/\",\"quantity\":\"q\","
			 "\"unit\":\"u\",\"type\":\"u8\",\"rate\":10.0,\"error\":{\"code\":"
			 "\"illegal_data_address\",\"message\":\"refused register 5\"}"));
	if (m) {
		/* stream a (described before b) has no error */
		const char *a = strstr(text(&m->frame[0]), "\"name\":\"a\"");
		const char *err = a ? strstr(a, "\"error\"") : NULL;
		const char *b = a ? strstr(a, "\"name\":\"b\"") : NULL;
		CHECK(a && b && err && err > b);
	}
	/* then the event, as a json message on b's topic */
	CHECK(m && m->next && m->next->meta.type == LB_CHAN_DATA && m->next->nframes == 2);
	if (m && m->next && m->next->nframes == 2) {
		CHECK_STR(text(&m->next->frame[0]), "sensor/dev-1/b/");
		h = json_loads(text(&m->next->frame[1]), 0, NULL);
		CHECK_STR(json_string_value(json_object_get(h, "type")), "json");
		CHECK_EQ_INT(json_integer_value(json_object_get(h, "seq")), 1);
		CHECK_EQ_INT(json_integer_value(json_object_get(h, "t_host")), 77);
		CHECK_STR(json_string_value(json_object_get(json_object_get(h, "data"), "event")),
			  "error");
		CHECK_STR(json_string_value(json_object_get(json_object_get(h, "data"), "code")),
			  "illegal_data_address");
		CHECK_STR(json_string_value(json_object_get(json_object_get(h, "data"), "message")),
			  "refused register 5");
		json_decref(h);
		CHECK_EQ_INT(m->next->meta.seq, 1);
	}
	free_all(m);
	/* the same error again: nothing; another message: said again */
	CHECK_EQ_INT(lb_stream_set_error(d, 1, 78, "illegal_data_address", "refused register 5"),
		     0);
	CHECK(take(&q) == NULL);
	CHECK_EQ_INT(lb_stream_set_error(d, 1, 79, "illegal_data_address", "refused register 6"),
		     0);
	m = take(&q);
	CHECK(control_is(m, LB_CHAN_DESC, "refused register 6"));
	CHECK(m && m->next && m->next->meta.seq == 2);
	free_all(m);
	/* bad arguments change nothing */
	CHECK(lb_stream_set_error(d, 2, 79, "x", "y") < 0);
	CHECK(lb_stream_set_error(d, 1, 79, "x", "\xC3\x28") < 0); /* not UTF-8 */
	CHECK(take(&q) == NULL);
	/* cleared: the description without it, no message on the stream */
	CHECK_EQ_INT(lb_stream_set_error(d, 1, 80, NULL, NULL), 0);
	m = take(&q);
	CHECK(m && m->meta.type == LB_CHAN_DESC && m->next == NULL &&
	      strstr(text(&m->frame[0]), "error") == NULL);
	free_all(m);
	CHECK_EQ_INT(lb_stream_set_error(d, 1, 80, NULL, NULL), 0);
	CHECK(take(&q) == NULL);
	/* stream a was never touched: its seq starts at 1 */
	CHECK_EQ_INT(lb_stream_publish(d, 0, 1, 81, &v, 1), 0);
	m = take(&q);
	CHECK(m && m->meta.seq == 1);
	free_all(m);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

/* Calibrations that would take float32 samples to infinity are refused; non-finite values are
 * named in JSON, never dropped. */
static void test_calib_bounds_and_nonfinite_json(void)
{
	lb_error err = {0};
	json_t *v;

	CHECK_EQ_INT(lb_calib_check(2, 1, -10, 10, &err), 0);
	CHECK_EQ_INT(lb_calib_check(1e9, 1e30, 0, 0, &err), 0);
	CHECK_EQ_INT(lb_calib_check(1e308, 0, 0, 0, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK(strstr(err.message, "out of range") != NULL);
	CHECK_EQ_INT(lb_calib_check(1, -1e31, 0, 0, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_calib_check(0, 1, 0, 0, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_calib_check(NAN, 0, 0, 0, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_calib_check(1, INFINITY, 0, 0, &err), LB_EFAIL);
	/* within the bounds, but the declared range would overflow float32 */
	CHECK_EQ_INT(lb_calib_check(1e9, 0, -1e30, 1e30, &err), LB_EFAIL);
	CHECK(strstr(err.message, "range") != NULL);
	CHECK_EQ_INT(lb_calib_check(1e9, 0, -1e20, 1e20, &err), 0);
	v = lb_json_sample(INFINITY);
	CHECK_STR(json_string_value(v), "Infinity");
	json_decref(v);
	v = lb_json_sample(-INFINITY);
	CHECK_STR(json_string_value(v), "-Infinity");
	json_decref(v);
	v = lb_json_sample(NAN);
	CHECK_STR(json_string_value(v), "NaN");
	json_decref(v);
	v = lb_json_sample(21.5);
	CHECK(json_is_real(v) && json_real_value(v) == 21.5);
	json_decref(v);
}

/* What drivers see of a device (sdk/device.h) is the core's fields, read and written through. */
static void test_driver_accessors(void)
{
	lb_upwake w = {.efd = eventfd(0, EFD_NONBLOCK)};
	lb_upq q;
	lb_device *d;
	int x;

	lb_upq_init(&q, &w);
	d = device(&q);
	CHECK(lb_device_get_spec(d) == &d->spec);
	CHECK_STR(lb_device_id(d), "dev-1");
	CHECK(lb_device_priv(d) == NULL);
	lb_device_set_priv(d, &x);
	CHECK(lb_device_priv(d) == &x && d->priv == &x);
	CHECK(!lb_device_running(d));
	lb_device_set_running(d, true);
	CHECK(lb_device_running(d) && d->running);
	CHECK_EQ_INT(lb_device_nstreams(d), 0);
	CHECK(lb_device_stream_name(d, 0) == NULL);
	lb_device_add_stream(d, "t", "temperature", "°C", LB_F32, 1);
	CHECK_EQ_INT(lb_device_nstreams(d), 1);
	CHECK_STR(lb_device_stream_name(d, 0), "t");
	CHECK_STR(lb_device_stream_unit(d, 0), "°C");
	CHECK(lb_device_stream_name(d, 1) == NULL && lb_device_stream_unit(d, -1) == NULL);
	lb_device_set_priv(d, NULL);
	lb_device_destroy(&d);
	lb_upq_fini(&q);
	close(w.efd);
}

int main(void)
{
	RUN(test_driver_accessors);
	RUN(test_streams_are_checked);
	RUN(test_publish_sends_topic_header_samples);
	RUN(test_publish_owned_sends_the_buffer_itself);
	RUN(test_calibration_is_applied_and_announced);
	RUN(test_losses_are_gaps_in_seq);
	RUN(test_description_follows_the_device);
	RUN(test_stream_errors);
	RUN(test_calib_bounds_and_nonfinite_json);
	return check_summary();
}
