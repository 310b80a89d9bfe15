/* mbot.c - Makeblock mBot (mCore, mBlock firmware) robots over serial (glue: scan, open, robot
 * vocabulary, sensor streams). */
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sdk/params.h"
#include "../../bridge/sdk/robot.h"
#include "../../bridge/sdk/serial.h"
#include "../../bridge/sim/emulated.h"
#include "../../bridge/util/log.h"
#include "../../protocols/mbot.h"
#include "emulator.h"
#include "link.h"

/*
 * Configuration: [mbot.NAME] port = /dev/ttyUSB0 (115200 baud; title = ... optional). An mBot's
 * USB cable is a CH340 (1a86:7523), which many Arduino clones and 3D printers share: the driver
 * never probes such ports by itself, it opens only configured ones (and the simulated lab's
 * emulator, found through its port hint "mbot").
 *
 * Open asks the firmware its version (GET VERSION, again every QUERY_EVERY_MS, for at most
 * HANDSHAKE_MS: the board restarts when the port opens and boots for about a second): no answer,
 * or bytes that are no mCore frame, is LB_ERR_FIRMWARE; a Makeblock firmware of another board
 * (Auriga 09.x, MegaPi 0e.x...) too.
 *
 * Robot vocabulary (sdk/robot.h): move {left, right} -> RUN JOYSTICK (M1 = -left * 255, M2 =
 * right * 255: M1 is the left wheel, mounted mirrored); stop -> JOYSTICK 0 0 and RESET (the
 * mBlock firmware's RESET stops motors and buzzer; the factory firmware's only acknowledges,
 * hence the JOYSTICK); set {"leds": {"all"|"left"|"right": [r, g, b]}, "tone": {"freq": Hz,
 * "ms": ms}} -> RUN RGBLED port 7 slot 2 (index 0 both, 2 left, 1 right: the factory firmware
 * lights 2 to turn left, 1 to turn right) and RUN TONE. No programs: languages [].
 * Sensors, polled with GET while running: ultrasonic (port 3, cm), line (port 2, the firmware's
 * value 0..3: bit 1 the left sensor, bit 0 the right one, a bit 0 over the black line), light
 * (on-board, port 6, 0..1023), button (on-board, 1 pressed; the firmware also reports changes).
 */

#define HANDSHAKE_MS 3000
#define QUERY_EVERY_MS 400
#define ACK_MS 1000	   /* the firmware acknowledges a RUN within a loop pass */
#define SILENCE_MS 2500	   /* requests unanswered this long: the robot does not answer */
#define MAX_SPEED_M_S 0.3  /* 200 rpm TT gear motors, 64 mm wheels, loaded: an estimate */
#define WHEEL_BASE_M 0.115 /* between the wheels' centres, mBot v1 chassis: an estimate */

enum { S_ULTRASONIC, S_LINE, S_LIGHT, S_BUTTON, S_COUNT };

static const struct {
	const char *name, *quantity, *unit;
	lb_sample_type type;
	int device, port, slot, period_ms, timeout_ms;
	double min, max, resolution;
} sensors[S_COUNT] = {
    /* a GET ULTRASONIC blocks the firmware up to 50 ms when no echo comes */
    {"ultrasonic", "distance", "cm", LB_F32, MBOT_DEV_ULTRASONIC, MBOT_PORT_3, -1, 100, 500, 0, 400,
     0.01},
    {"line", "line", "", LB_U8, MBOT_DEV_LINEFOLLOWER, MBOT_PORT_2, -1, 100, 500, 0, 3, 1},
    {"light", "light", "", LB_F32, MBOT_DEV_LIGHT, MBOT_PORT_LIGHT, -1, 200, 500, 0, 1023, 1},
    {"button", "button", "", LB_U8, MBOT_DEV_BUTTON_INNER, MBOT_PORT_ONBOARD, 0, 200, 500, 0, 1, 1},
};

typedef struct mb_priv {
	lb_serial *port;
	char path[256];
	int halt_fd; /* a dup of the port's fd, for the halt hook */
	uint8_t halt_frames[2 * MBOT_REQ_MAX];
	size_t halt_len, halt_n1; /* both frames, the first (JOYSTICK) */
	/* the halt hook's writes: begun is counted BEFORE each write(2), so that whoever reads the
	 * acks of a halt's frames sees the halt begun; failed counts the writes that failed */
	atomic_uint halt_begun, halt_failed;
	unsigned halt_adopted; /* hook writes whose frames the link tracks (device thread) */
	unsigned halt_handled; /* hook writes halted has dealt with (device thread) */
	uint32_t halt_tags[2]; /* the last adopted frames' tags */
	mbot_link link;
	lb_device *dev;
	lb_now now; /* of the run or call under way, for the link's callbacks */
	int stream[S_COUNT];
	int poll_of[S_COUNT];
	char version[32];
	int banner;	     /* a start banner was seen */
	uint32_t wait_tag;   /* the command a call waits for */
	int wait_state;	     /* 0 waiting, 1 answered, 2 lost */
	int need;	     /* bytes of the command waiting for room */
	int64_t tone_end_ms; /* the robot plays a tone until then (it reads nothing) */
	int64_t last_rx_ms;
	int silent;	   /* said "error": it stopped answering */
	int m1, m2;	   /* motor speeds as last acknowledged */
	int led[2][3];	   /* on-board LEDs 1 and 2 as last acknowledged */
	int gone;	   /* the port failed: run says LB_EGONE */
	unsigned long bad; /* replies of the wrong type */
	const char *state; /* as last told to the robot service */
} mb_priv;

/* The link's time: monotonic milliseconds. */
static int64_t ms_of(const lb_now *now)
{
	return now->mono / 1000000;
}

/* Tell the robot service the state, when it changed. */
static void mb_state(mb_priv *p, const char *state, const char *detail)
{
	if (p->state && strcmp(p->state, state) == 0 && !detail)
		return;
	p->state = state;
	lb_robot_state(p->dev, state, detail);
}

/* scan: configured [mbot.NAME] sections, and ports whose hint is "mbot" (the emulator). A CH340
 * alone says nothing: Arduino clones and printers have it too. */
static int mb_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	lb_config_device d = {0};
	json_t *port;
	size_t i;

	(void)drv;
	while (lb_scan_sections(ctx, "mbot", "mbot-", "mBot", &d)) {
		const char *path =
		    lb_scan_port(ctx, d.section, "port", out, d.id, d.title, "robot");
		if (path)
			lb_spec_list_add(out, d.id, d.title, "robot", false,
					 json_pack("{s:s}", "path", path));
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *serial = json_string_value(json_object_get(port, "serial"));
		const char *path = json_string_value(json_object_get(port, "path"));
		const char *hint = json_string_value(json_object_get(port, "driver"));
		char id[64];
		if (!path || !hint || strcmp(hint, "mbot") != 0)
			continue;
		lb_make_id(id, sizeof id, "mbot-",
			   serial && *serial ? serial : strrchr(path, '/') + 1);
		lb_spec_list_add(out, id, "Simulated mBot (mCore emulator)", "robot",
				 json_is_true(json_object_get(port, "simulated")),
				 json_pack("{s:s}", "path", path));
	}
	return 0;
}

/* Publish one sample of sensor s (a number) now. */
static void mb_publish(mb_priv *p, int s, double v)
{
	int64_t t = p->now.real;

	if (p->stream[s] < 0 || !lb_device_running(p->dev))
		return;
	if (sensors[s].type == LB_U8) {
		uint8_t b = (uint8_t)v;
		lb_stream_publish(p->dev, p->stream[s], p->now.mono, t, &b, 1);
	} else {
		float f = (float)v;
		lb_stream_publish(p->dev, p->stream[s], p->now.mono, t, &f, 1);
	}
}

/* The sensor a poll index serves, or -1. */
static int mb_sensor_of_poll(const mb_priv *p, int poll)
{
	for (int s = 0; s < S_COUNT; s++)
		if (p->poll_of[s] == poll && poll >= 0)
			return s;
	return -1;
}

/* A poll's value: checked against what the firmware sends for it, then published. */
static void mb_value(mb_priv *p, int s, const mbot_event *ev)
{
	int want = mbot_expected_type(sensors[s].device), l, r;

	/* the ultrasonic's "no echo" is its timeout in cm, which varies with the library
	 * release: any distance is kept, the description's range says what is usual */
	if (ev->type != want || !isfinite(ev->value) ||
	    (s == S_LINE && mbot_line_decode(ev->value, &l, &r) < 0) ||
	    ev->value < sensors[s].min || (s != S_ULTRASONIC && ev->value > sensors[s].max)) {
		p->bad++;
		return;
	}
	mb_publish(p, s, ev->value);
}

/* Everything the link reports (device thread). */
static void mb_on_event(void *ctx, const mbot_event *ev)
{
	mb_priv *p = ctx;
	int s;

	switch (ev->kind) {
	case MBOT_EV_VALUE:
		if ((s = mb_sensor_of_poll(p, ev->poll)) >= 0)
			mb_value(p, s, ev);
		break;
	case MBOT_EV_BUTTON:
		if (ev->type == MBOT_TYPE_BYTE && (ev->value == 0 || ev->value == 1))
			mb_publish(p, S_BUTTON, ev->value);
		break;
	case MBOT_EV_DONE:
	case MBOT_EV_EMPTY:
		if (ev->device == MBOT_DEV_VERSION && ev->action == MBOT_GET &&
		    ev->kind == MBOT_EV_DONE && ev->type == MBOT_TYPE_STRING && ev->tlen > 0) {
			size_t n =
			    ev->tlen < sizeof p->version - 1 ? ev->tlen : sizeof p->version - 1;
			for (size_t i = 0; i < n; i++)
				p->version[i] =
				    ev->text[i] > 0x20 && ev->text[i] < 0x7f ? ev->text[i] : '?';
			p->version[n] = '\0';
		}
		if (ev->poll < 0 && ev->tag == p->wait_tag && p->wait_state == 0)
			p->wait_state = 1;
		break;
	case MBOT_EV_LOST:
		lb_dbg("device %s: request (action %d, device %d) %s", lb_device_id(p->dev),
		       ev->action, ev->device, ev->timeout ? "timed out" : "lost");
		if (ev->poll < 0 && ev->tag == p->wait_tag && p->wait_state == 0)
			p->wait_state = 2;
		break;
	case MBOT_EV_BANNER:
		p->banner = 1;
		if (lb_device_get_spec(p->dev) && p->stream[0] >= 0) {
			/* the board restarted (reset button, power): its motors are off */
			lb_warn("device %s: the mBot restarted (firmware %.*s)",
				lb_device_id(p->dev), (int)ev->tlen, ev->text);
			p->m1 = p->m2 = 0;
			memset(p->led, 0, sizeof p->led);
			mb_state(p, "idle", "the robot restarted");
		}
		break;
	}
}

static int mb_ack_ms(const mb_priv *p);

/*
 * Track the stop frames the halt hook has begun to write and the link does not track yet, as
 * commands already written, so that their acks are theirs: called before any input read after
 * the write is handled (the acks cannot come before the write, which is counted before it).
 * Never fails (a full table leaves them untracked: their acks are then stray).
 */
static void mb_adopt_halt(mb_priv *p)
{
	unsigned begun = atomic_load(&p->halt_begun);

	while (p->halt_adopted != begun) {
		size_t n1 = p->halt_n1;
		mbot_link_adopt(&p->link, p->halt_frames, n1, ms_of(&p->now), mb_ack_ms(p),
				&p->halt_tags[0]);
		mbot_link_adopt(&p->link, p->halt_frames + n1, p->halt_len - n1, ms_of(&p->now),
				mb_ack_ms(p), &p->halt_tags[1]);
		p->halt_adopted++;
	}
}

/* Read what the robot sent and handle it, then report the requests past their deadline (a
 * reply that was there to read is never late); LB_EGONE when the port is gone. */
static int mb_pump(mb_priv *p)
{
	uint8_t buf[512];
	ssize_t n;

	while ((n = lb_serial_read(p->port, buf, sizeof buf)) > 0) {
		p->last_rx_ms = ms_of(&p->now);
		mb_adopt_halt(p);
		mbot_link_input(&p->link, buf, (size_t)n, ms_of(&p->now), mb_on_event, p);
	}
	mbot_link_expire(&p->link, ms_of(&p->now), mb_on_event, p);
	if (n < 0)
		p->gone = 1;
	return n < 0 ? LB_EGONE : 0;
}

/* Write bytes to the robot; LB_EGONE (remembered) or LB_EAGAIN on failure. */
static int mb_write(mb_priv *p, const uint8_t *buf, size_t n)
{
	int rc = n ? lb_serial_write(p->port, buf, n, 500) : 0;

	if (rc == LB_EGONE)
		p->gone = 1;
	return rc;
}

/* Send the polls due now (none while a tone plays: the robot reads nothing). */
static int mb_polls(mb_priv *p)
{
	uint8_t out[MBOT_LINK_INFLIGHT_MAX + MBOT_REQ_MAX];
	size_t n;

	if (ms_of(&p->now) < p->tone_end_ms)
		return 0;
	n = mbot_link_due(&p->link, ms_of(&p->now), out, sizeof out);
	return mb_write(p, out, n);
}

/* Wait for input until deadline_ms (or done() holds), handling it; 0 or LB_EGONE. */
static int mb_wait(mb_priv *p, int64_t deadline_ms, int (*done)(const mb_priv *))
{
	for (;;) {
		struct pollfd pf = {lb_serial_fd(p->port), POLLIN, 0};
		int64_t left;

		if (done(p))
			return 0;
		left = deadline_ms - ms_of(&p->now);
		if (left <= 0)
			return 0;
		poll(&pf, 1, left < 20 ? (int)left : 20);
		p->now = lb_now_read();
		if (mb_pump(p) < 0 || mb_polls(p) < 0)
			return LB_EGONE;
	}
}

/* Whether the command waited for was answered or lost. */
static int waited(const mb_priv *p)
{
	return p->wait_state != 0;
}

/* Whether the command about to be sent (p->need bytes) fits in the firmware's buffer and the
 * pending table now. */
static int have_room(const mb_priv *p)
{
	return p->link.inflight_bytes + p->need <= MBOT_LINK_INFLIGHT_MAX &&
	       mbot_track_count(&p->link.tracker) < MBOT_MAX_PENDING;
}

/*
 * Send a command frame (its index chosen here) and, when wait, wait for its answer: 0 once
 * answered (or written, without wait), LB_EAGAIN (err: a timeout) when no answer came in time,
 * LB_EGONE when the port failed.
 */
static int mb_command(mb_priv *p, uint8_t *frame, int len, int wait, int timeout_ms, lb_error *err)
{
	int64_t deadline = ms_of(&p->now) + timeout_ms;
	int rc;
	uint32_t tag;

	if (len < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot encode the request: %s",
				    mbot_strerror(len));
	/* the firmware's 64-byte buffer: wait for earlier requests to be answered */
	p->need = len;
	if (!have_room(p) && mb_wait(p, deadline, have_room) < 0)
		goto gone;
	rc = mbot_link_send(&p->link, frame, (size_t)len, ms_of(&p->now), timeout_ms, &tag);
	if (rc < 0)
		return lb_error_set(err, LB_ERR_TIMEOUT,
				    "the mBot is not reading its requests (%s)", mbot_strerror(rc));
	if (mb_write(p, frame, (size_t)len) < 0)
		goto gone;
	if (!wait)
		return 0;
	p->wait_tag = tag;
	p->wait_state = 0;
	if (mb_wait(p, deadline, waited) < 0)
		goto gone;
	if (p->wait_state == 1)
		return 0;
	lb_error_set(err, LB_ERR_TIMEOUT, "the mBot did not acknowledge the request within %d ms",
		     timeout_ms);
	return LB_EAGAIN;
gone:
	lb_error_set(err, LB_ERR_DEVICE, "%s: the mBot is gone (unplugged?)", p->path);
	return LB_EGONE;
}

/* How long an acknowledgement may take now: longer while a tone plays. */
static int mb_ack_ms(const mb_priv *p)
{
	int64_t busy = p->tone_end_ms - ms_of(&p->now);

	return ACK_MS + (busy > 0 ? (int)busy : 0);
}

/* Motors to m1, m2 (raw, M1 mirrored), acknowledged. 0 or negative with err set. */
static int mb_motors(mb_priv *p, int m1, int m2, lb_error *err)
{
	uint8_t f[MBOT_REQ_MAX];
	int rc = mb_command(p, f, mbot_enc_motors(f, sizeof f, 0, m1, m2), 1, mb_ack_ms(p), err);

	if (rc == 0) {
		p->m1 = m1;
		p->m2 = m2;
	}
	return rc;
}

/* Motors off, then RESET (buzzer off too), both acknowledged. 0 or negative with err set. */
static int mb_stop_robot(mb_priv *p, lb_error *err)
{
	uint8_t f[MBOT_REQ_MAX];
	int rc = mb_motors(p, 0, 0, err);

	if (rc == LB_EGONE)
		return rc;
	if (mb_command(p, f, mbot_enc_reset(f, sizeof f, 0), 1, mb_ack_ms(p), err) < 0)
		return LB_EFAIL;
	p->tone_end_ms = 0;
	return rc;
}

static void mb_close(lb_device *dev);

/* Whether the firmware told its version. */
static int have_version(const mb_priv *p)
{
	return p->version[0] != '\0';
}

/* Open the port, check it is an mBot (LB_ERR_FIRMWARE if not), stop it, declare the sensor
 * streams and start polling them. 0, or LB_EFAIL with err set and nothing left open. */
static int mb_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *path =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path"));
	mb_priv *p = calloc(1, sizeof *p);
	int64_t deadline, next_query;
	int n;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->dev = dev;
	p->now = *now;
	p->halt_fd = -1;
	for (int s = 0; s < S_COUNT; s++)
		p->stream[s] = p->poll_of[s] = -1;
	snprintf(p->path, sizeof p->path, "%s", path ? path : "");
	mbot_link_init(&p->link);
	p->port = lb_serial_open(p->path, MBOT_BAUD, err);
	if (!p->port)
		goto fail;
	lb_serial_flush_input(p->port);
	/* is it an mBot? Ask the firmware's version until it answers (it boots after the DTR
	 * reset of the open; over Bluetooth it answers at once) */
	deadline = ms_of(&p->now) + HANDSHAKE_MS;
	next_query = ms_of(&p->now);
	while (!have_version(p) && ms_of(&p->now) < deadline) {
		uint8_t f[MBOT_REQ_MAX];
		int64_t until =
		    next_query + QUERY_EVERY_MS < deadline ? next_query + QUERY_EVERY_MS : deadline;
		int rc = mb_command(p, f, mbot_enc_get(f, sizeof f, 0, MBOT_DEV_VERSION, 0), 0,
				    QUERY_EVERY_MS, err);
		if (rc == LB_EGONE)
			goto fail;
		next_query = until;
		if (mb_wait(p, until, have_version) < 0) {
			lb_error_set(err, LB_ERR_DEVICE, "%s: the port went away", p->path);
			goto fail;
		}
	}
	if (!have_version(p)) {
		if (p->link.parser.garbage || p->link.stray || p->link.replies)
			lb_error_set(err, LB_ERR_FIRMWARE,
				     "%s: the port answers but not as an mBot (mCore firmware): "
				     "flash the mBot firmware with mBlock",
				     p->path);
		else
			lb_error_set(
			    err, LB_ERR_FIRMWARE,
			    "%s: no answer from an mBot within %d s (switched off? another "
			    "board?): if it is an mBot, flash the mBot firmware with mBlock",
			    p->path, HANDSHAKE_MS / 1000);
		goto fail;
	}
	if (strncmp(p->version, "06.", 3) != 0) {
		lb_error_set(err, LB_ERR_FIRMWARE,
			     "%s: a Makeblock firmware %s, not the mBot's (mCore 06.x): flash the "
			     "mBot firmware with mBlock",
			     p->path, p->version);
		goto fail;
	}
	/* the robot still: motors and buzzer off (a Bluetooth link does not restart it) */
	if (mb_stop_robot(p, err) < 0) {
		lb_error_set(err, LB_ERR_FIRMWARE,
			     "%s: firmware %s answered its version but not a RESET: flash the mBot "
			     "firmware with mBlock",
			     p->path, p->version);
		goto fail;
	}
	/* the halt hook's own fd and its stop frames, ready before anyone can call it */
	p->halt_fd = dup(lb_serial_fd(p->port));
	n = mbot_enc_motors(p->halt_frames, sizeof p->halt_frames, 0, 0, 0);
	p->halt_len = p->halt_n1 = (size_t)n;
	p->halt_len += (size_t)mbot_enc_reset(p->halt_frames + n, sizeof p->halt_frames - n, 0);
	for (int s = 0; s < S_COUNT; s++) {
		int k =
		    lb_device_add_stream(dev, sensors[s].name, sensors[s].quantity, sensors[s].unit,
					 sensors[s].type, 1000.0 / sensors[s].period_ms);
		if (k < 0)
			continue;
		p->stream[s] = k;
		lb_stream_set_range(dev, k, sensors[s].min, sensors[s].max, sensors[s].resolution);
		p->poll_of[s] = mbot_link_add_poll(&p->link, sensors[s].device, sensors[s].port,
						   sensors[s].slot, sensors[s].period_ms,
						   sensors[s].timeout_ms);
	}
	lb_info("device %s: mBot firmware %s on %s", lb_device_id(dev), p->version, p->path);
	/* the counters tell how the link does from now on (the queries sent while the board
	 * booted went unanswered) */
	p->link.sent = p->link.replies = p->link.lost = p->link.timeouts = p->link.stray = 0;
	p->link.events = 0;
	p->link.parser.garbage = 0;
	mbot_link_polling(&p->link, 1, ms_of(&p->now));
	p->last_rx_ms = ms_of(&p->now);
	lb_device_set_running(dev, true);
	mb_state(p, "idle", NULL);
	return 0;
fail:
	mb_close(dev); /* close() is only called after a successful open */
	return LB_EFAIL;
}

/* Release the port and the halt hook's fd. Never fails. */
static void mb_close(lb_device *dev)
{
	mb_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (p->halt_fd >= 0)
		close(p->halt_fd);
	lb_serial_destroy(&p->port);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/* Sensor polling on (every sensor asked at once). Never fails. */
static int mb_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	mb_priv *p = lb_device_priv(dev);

	(void)err;
	p->now = *now;
	mbot_link_polling(&p->link, 1, ms_of(now));
	p->last_rx_ms = ms_of(now);
	return 0;
}

/* Sensor polling off (answers still awaited are still taken). Never fails. */
static int mb_stop(lb_device *dev, lb_error *err)
{
	mb_priv *p = lb_device_priv(dev);

	(void)err;
	mbot_link_polling(&p->link, 0, 0);
	return 0;
}

/* The [r, g, b] at key of leds into rgb; 1 if there, 0 if absent, negative with err set. */
static int mb_rgb(const json_t *leds, const char *key, int rgb[3], lb_error *err)
{
	const json_t *v = json_object_get(leds, key);

	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) != 3)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "leds.%s must be [r, g, b], each 0..255", key);
	for (int c = 0; c < 3; c++) {
		const json_t *x = json_array_get(v, (size_t)c);
		if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > 255)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "leds.%s must be [r, g, b], each an integer 0..255",
					    key);
		rgb[c] = (int)json_integer_value(x);
	}
	return 1;
}

/* robot.set: {"leds": {"all"|"left"|"right": [r, g, b]}, "tone": {"freq": Hz, "ms": ms}}. */
static int mb_set(mb_priv *p, const json_t *args, lb_error *err)
{
	static const char *const keys[] = {"leds", "tone", NULL};
	static const char *const led_keys[] = {"all", "left", "right", NULL};
	static const char *const tone_keys[] = {"freq", "ms", NULL};
	static const int led_index[] = {0, 2, 1}; /* all, left, right */
	const json_t *leds = json_object_get(args, "leds"), *tone = json_object_get(args, "tone");
	int rgb[3][3], have[3] = {0};
	long long freq = 0, ms = 0;

	if (!json_is_object(args) || lb_param_only(args, keys, err) < 0)
		return json_is_object(args) ? LB_EFAIL
					    : lb_error_set(err, LB_ERR_INVALID_PARAMS,
							   "robot.set takes {leds, tone}");
	if (!leds && !tone)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "nothing to set: the mBot's outputs are leds and tone");
	if (leds) {
		if (!json_is_object(leds) || lb_param_only(leds, led_keys, err) < 0)
			return json_is_object(leds)
				   ? LB_EFAIL
				   : lb_error_set(err, LB_ERR_INVALID_PARAMS,
						  "leds must be {all|left|right: [r, g, b]}");
		for (int k = 0; k < 3; k++)
			if ((have[k] = mb_rgb(leds, led_keys[k], rgb[k], err)) < 0)
				return LB_EFAIL;
	}
	if (tone && (!json_is_object(tone) || lb_param_only(tone, tone_keys, err) < 0 ||
		     lb_param_int(tone, "freq", true, 0, MBOT_TONE_MAX_HZ, &freq, err) < 0 ||
		     lb_param_int(tone, "ms", true, 0, MBOT_TONE_MAX_MS, &ms, err) < 0))
		return json_is_object(tone) ? LB_EFAIL
					    : lb_error_set(err, LB_ERR_INVALID_PARAMS,
							   "tone must be {freq: Hz, ms: duration}");
	for (int k = 0; k < 3; k++) {
		uint8_t f[MBOT_REQ_MAX];
		int rc;
		if (!have[k])
			continue;
		rc = mb_command(
		    p, f,
		    mbot_enc_led(f, sizeof f, 0, led_index[k], rgb[k][0], rgb[k][1], rgb[k][2]), 1,
		    mb_ack_ms(p), err);
		if (rc < 0)
			return rc;
		for (int i = 0; i < 2; i++)
			if (led_index[k] == 0 || led_index[k] == i + 1)
				memcpy(p->led[i], rgb[k], sizeof p->led[i]);
	}
	if (tone) {
		uint8_t f[MBOT_REQ_MAX];
		/* the ack comes once the tone has played: not awaited, but tracked */
		int rc = mb_command(p, f, mbot_enc_tone(f, sizeof f, 0, (int)freq, (int)ms), 0,
				    mb_ack_ms(p) + (int)ms, err);
		if (rc < 0)
			return rc;
		if (freq > 0)
			p->tone_end_ms = ms_of(&p->now) + ms;
	}
	return 0;
}

/* A wheel speed from args (a fraction -1..1 of the maximum) as a motor speed -255..255. */
static int mb_speed(const json_t *args, const char *key, int *out, lb_error *err)
{
	const json_t *v = json_object_get(args, key);
	double x = json_number_value(v);

	if (!json_is_number(v) || !isfinite(x) || x < -1 || x > 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s must be a number from -1 to 1",
				    key);
	*out = (int)lround(x * MBOT_SPEED_MAX);
	return 0;
}

/* The robot vocabulary (sdk/robot.h). */
static int mb_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	mb_priv *p = lb_device_priv(dev);

	p->now = lb_now_read();
	if (p->gone)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the mBot is gone (unplugged?)",
				    p->path);
	if (strcmp(action, LB_ROBOT_MOVE) == 0) {
		int left, right;
		if (mb_speed(args, "left", &left, err) < 0 ||
		    mb_speed(args, "right", &right, err) < 0)
			return LB_EFAIL;
		/* M1 is the left wheel, mounted mirrored */
		if (mb_motors(p, -left, right, err) < 0)
			return LB_EFAIL; /* err: timeout, or the device gone */
		mb_state(p, left || right ? "running" : "idle", NULL);
	} else if (strcmp(action, LB_ROBOT_STOP) == 0) {
		if (mb_stop_robot(p, err) < 0)
			return LB_EFAIL;
		mb_state(p, "idle", NULL);
	} else if (strcmp(action, LB_ROBOT_SET) == 0) {
		if (mb_set(p, args, err) < 0)
			return LB_EFAIL;
	} else if (strcmp(action, LB_ROBOT_LOAD) == 0 || strcmp(action, LB_ROBOT_RUN) == 0 ||
		   strcmp(action, LB_ROBOT_PROG_STOP) == 0) {
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "the mBot runs no programs sent to it (languages: none): drive "
				    "it with robot.move, robot.stop and robot.set");
	} else {
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "unknown action '%s'", action);
	}
	*result = json_null();
	return 0;
}

/* The port's fd, for input. */
static int mb_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	mb_priv *p = lb_device_priv(dev);

	if (max < 1)
		return 0;
	items[0].socket = NULL;
	items[0].fd = lb_serial_fd(p->port);
	items[0].events = ZMQ_POLLIN;
	return 1;
}

/* Streams say whether the robot answers: an error while it is silent, cleared when it is back. */
static void mb_silence(lb_device *dev, mb_priv *p, int silent)
{
	if (silent == p->silent)
		return;
	p->silent = silent;
	for (int s = 0; s < S_COUNT; s++)
		if (p->stream[s] >= 0)
			lb_stream_set_error(dev, p->stream[s], p->now.real,
					    silent ? "not_answering" : NULL,
					    silent ? "the mBot does not answer" : NULL);
	if (silent) {
		lb_warn("device %s: the mBot stopped answering (nothing for %d ms)",
			lb_device_id(dev), SILENCE_MS);
		mb_state(p, "error", "the mBot does not answer (switched off? out of range?)");
	} else {
		lb_info("device %s: the mBot answers again", lb_device_id(dev));
		mb_state(p, p->m1 || p->m2 ? "running" : "idle", NULL);
	}
}

/* Read and handle what came, send the polls due, watch for silence; *deadline: the next poll
 * or request deadline. 0, or LB_EGONE once the port has failed. */
static int mb_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	mb_priv *p = lb_device_priv(dev);
	int64_t t, quiet_from;

	(void)items, (void)nitems;
	p->now = *now;
	if (p->gone || mb_pump(p) < 0 || mb_polls(p) < 0)
		return LB_EGONE;
	/* silence: requests unanswered, nothing heard for SILENCE_MS (a tone excused) */
	quiet_from = p->last_rx_ms > p->tone_end_ms ? p->last_rx_ms : p->tone_end_ms;
	if (mbot_track_count(&p->link.tracker) > 0 && ms_of(now) - quiet_from > SILENCE_MS)
		mb_silence(dev, p, 1);
	else if (ms_of(now) - p->last_rx_ms <= SILENCE_MS && p->last_rx_ms >= quiet_from)
		mb_silence(dev, p, 0);
	t = mbot_link_deadline(&p->link);
	if (ms_of(now) < p->tone_end_ms && (t < 0 || t > p->tone_end_ms))
		t = p->tone_end_ms; /* polls resume when the tone has played */
	if (mbot_track_count(&p->link.tracker) > 0 && (t < 0 || t > quiet_from + SILENCE_MS + 1))
		t = quiet_from + SILENCE_MS + 1;
	if (t >= 0) {
		if (t <= ms_of(now))
			t = ms_of(now) + 1;
		*deadline = t * 1000000;
	}
	return 0;
}

/*
 * The halt hook (another thread, driver.h): motors off and RESET, written at once to the dup'd
 * fd (a write(2) of 15 bytes; a frame the device thread writes meanwhile goes whole before or
 * after it, tty writes being serialised). The board has room for them even when busy: the
 * driver keeps MBOT_LINK_HALT_RESERVE bytes of its buffer free for them. The write is counted
 * before it is made: the device thread may read the acks before halted runs, and must know
 * they are the halt's (mb_adopt_halt). Never allocates, never locks.
 */
static int mb_halt(lb_device *dev)
{
	mb_priv *p = lb_device_priv(dev);
	ssize_t n;

	atomic_fetch_add(&p->halt_begun, 1);
	n = write(p->halt_fd, p->halt_frames, p->halt_len);
	if (n != (ssize_t)p->halt_len)
		atomic_fetch_add(&p->halt_failed, 1);
	return n == (ssize_t)p->halt_len ? 0 : LB_EGONE;
}

/* After a halt, in the device's thread: the halt's two acks are expected (tracked, if no input
 * has done it yet, without being written again) or, if the hook could not write, the stop is
 * sent now; state "stopped". */
static void mb_halted(lb_device *dev, const lb_now *now)
{
	mb_priv *p = lb_device_priv(dev);
	lb_error err = {0};
	unsigned failed;

	p->now = *now;
	mb_adopt_halt(p);
	failed = atomic_exchange(&p->halt_failed, 0);
	if (p->halt_adopted != p->halt_handled && !failed) {
		p->m1 = p->m2 = 0;
		p->tone_end_ms = 0;
	} else {
		/* the hook did not write (not called, or its write failed: those frames are
		 * forgotten): the stop is sent now */
		if (failed) {
			mbot_link_cancel(&p->link, p->halt_tags[0]);
			mbot_link_cancel(&p->link, p->halt_tags[1]);
		}
		if (mb_stop_robot(p, &err) < 0)
			lb_err("device %s: halted, but the mBot could not be told: %s",
			       lb_device_id(dev), err.message);
	}
	p->halt_handled = p->halt_adopted;
	mb_state(p, "stopped", "halted (room stop)");
}

/* The "robot" object (sdk/robot.h): no languages, LEDs and tone, wheels and their geometry. */
static json_t *mb_describe(lb_device *dev)
{
	(void)dev;
	return json_pack("{s:[],s:[ss],s:b,s:f,s:f,s:[]}", "languages", "outputs", "leds", "tone",
			 "wheels", 1, "max_speed", MAX_SPEED_M_S, "wheel_base", WHEEL_BASE_M,
			 "extras");
}

/* Port, firmware, outputs as last acknowledged, the link's counters; NULL only out of memory. */
static json_t *mb_config_get(lb_device *dev)
{
	mb_priv *p = lb_device_priv(dev);

	return json_pack(
	    "{s:s,s:s,s:[i,i],s:[[i,i,i],[i,i,i]],s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}}", "port",
	    p->path, "firmware", p->version, "motors", p->m1, p->m2, "leds", p->led[0][0],
	    p->led[0][1], p->led[0][2], p->led[1][0], p->led[1][1], p->led[1][2], "link",
	    "requests", (json_int_t)p->link.sent, "replies", (json_int_t)p->link.replies, "lost",
	    (json_int_t)p->link.lost, "timeouts", (json_int_t)p->link.timeouts, "stray",
	    (json_int_t)p->link.stray, "garbage", (json_int_t)p->link.parser.garbage, "events",
	    (json_int_t)p->link.events, "bad_values", (json_int_t)p->bad);
}

/* The simulated lab's mBot (mbot.emulator injects faults, probes and moves its world). */
static void *mb_emu_create(lb_error *err)
{
	return mbot_emu_new(err);
}

/* The emulated mBot's pty. */
static const char *mb_emu_path(const void *emu)
{
	return mbot_emu_path(emu);
}

/* A fault of the emulated mBot. */
static void mb_emu_fault(void *emu, lb_fault fault)
{
	/* the emulator's faults are numbered like lb_fault (ok, silent, garbage) */
	mbot_emu_set_fault(emu, (mbot_emu_fault)fault);
}

/* Stop the emulated mBot. */
static void mb_emu_destroy(void *emu)
{
	mbot_emu *e = emu;
	mbot_emu_destroy(&e);
}

/* What the emulated mBot does and senses, as a new object. */
static json_t *mb_emu_probe(void *emu)
{
	mbot_emu_state st;

	mbot_emu_get_state(emu, &st);
	return json_pack(
	    "{s:i,s:i,s:[[i,i,i],[i,i,i]],s:{s:i,s:i,s:i},s:i,s:i,s:i,s:f,s:i,s:i,s:b,s:b}", "m1",
	    st.m1, "m2", st.m2, "leds", st.led[0][0], st.led[0][1], st.led[0][2], st.led[1][0],
	    st.led[1][1], st.led[1][2], "tone", "freq", st.tone_hz, "ms", st.tone_ms, "count",
	    st.tones, "resets", st.resets, "requests", st.requests, "dropped", st.dropped,
	    "distance_cm", st.distance_cm, "line", st.line, "light", st.light, "button", st.button,
	    "booted", st.booted);
}

static lb_emulated mb_emulated = {
    .driver = "mbot",
    .description = "Simulated mBot (mCore emulator)",
    .serial = "sim-mbot-1",
    .vid = 0x1a86,
    .pid = 0x7523,
    .create = mb_emu_create,
    .path = mb_emu_path,
    .set_fault = mb_emu_fault,
    .destroy = mb_emu_destroy,
    .probe = mb_emu_probe,
};

/* The simulated lab: start the emulated mBot and list its port (hint "mbot"); stop it. */
LB_EMULATED_SIM_HOOKS(mb, mb_emulated)

/*
 * mbot.emulator {fault: ok|silent|garbage|unplug|plug}: faults of the simulated mBot;
 * mbot.emulator {probe: true}: what it does and senses ({m1, m2, leds, tone, ...});
 * mbot.emulator {world: {distance_cm, line, light, button}}: what it senses next.
 */
static int mb_bridge_call(const lb_driver *drv, const char *method, const json_t *params,
			  json_t **result, lb_error *err)
{
	static const char *const keys[] = {"distance_cm", "line", "light", "button", NULL};
	const json_t *world = json_object_get(params, "world"), *d;
	long long line = -1, light = -1;
	bool button = false;

	(void)drv;
	if (strcmp(method, "emulator") != 0 || json_object_size(params) != 1 || !world)
		return lb_emulated_fault(&mb_emulated, method, params, result, err);
	if (!lb_emulated_running(&mb_emulated, err))
		return LB_EFAIL;
	if (!json_is_object(world))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "world must be an object");
	if (lb_param_only(world, keys, err) < 0 ||
	    lb_param_int(world, "line", false, 0, 3, &line, err) < 0 ||
	    lb_param_int(world, "light", false, 0, 1023, &light, err) < 0 ||
	    lb_param_bool(world, "button", &button, err) < 0)
		return LB_EFAIL;
	d = json_object_get(world, "distance_cm");
	if (d && (!json_is_number(d) || json_number_value(d) < 2 || json_number_value(d) > 400))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "distance_cm must be a number from 2 to 400");
	mbot_emu_set_world(mb_emulated.emu, d ? json_number_value(d) : -1, (int)line, (int)light,
			   json_object_get(world, "button") ? (int)button : -1);
	*result = json_null();
	return 0;
}

/* The robot service's actions (sdk/robot.h): clients reach them through robot.*, not here. */
static const lb_action mb_actions[] = {
    {LB_ROBOT_MOVE, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_LOAD, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_RUN, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_PROG_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_SET, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {NULL, 0, 0},
};

static lb_driver mbot_driver = {
    .name = "mbot",
    .description = "Makeblock mBot robots (mCore board, mBlock firmware, 115200 baud)",
    .scan = mb_scan,
    .open = mb_open,
    .close = mb_close,
    .start = mb_start,
    .stop = mb_stop,
    .config_get = mb_config_get,
    .describe = mb_describe,
    .call = mb_call,
    .actions = mb_actions,
    .pollitems = mb_pollitems,
    .run = mb_run,
    .simulate = mb_simulate,
    .cleanup = mb_cleanup,
    .bridge_call = mb_bridge_call,
    .halt = mb_halt,
    .halted = mb_halted,
};
LB_REGISTER_DRIVER(mbot_driver);
