/* firmata.c - Arduino boards running StandardFirmata as sensor boards (glue: scan, open, streams).
 */
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/config.h"
#include "../../bridge/device.h"
#include "../../bridge/driver.h"
#include "../../bridge/emulated.h"
#include "../../bridge/log.h"
#include "../../bridge/request.h"
#include "../../bridge/serial.h"
#include "../../protocols/firmata.h"
#include "emulator.h"

#define HANDSHAKE_NS 4000000000LL /* the bootloader takes up to 2 s after the reset */
#define QUERY_EVERY_NS 400000000LL
#define SILENCE_NS 3000000000LL /* reporting but nothing heard for this long: gone */
#define MAX_CHANNELS 16
#define MAX_PORTS 16 /* digital ports of 8 pins */

typedef struct fm_priv {
	lb_serial *port;
	firmata_parser parser;
	firmata_pin pins[FIRMATA_MAX_PINS];
	int npins;
	char firmware[64];
	int fw_major, fw_minor;
	int stream_of[MAX_CHANNELS]; /* analog channel -> stream index, -1 if none */
	int port_stream[MAX_PORTS];  /* digital port -> stream index (8 pins as bits), -1 if none */
	int resolution[MAX_CHANNELS];
	uint32_t enabled; /* analog channels reported while running */
	int interval_ms;
	double vref;
	int64_t last_rx;
	unsigned long bad_reported;
} fm_priv;

/* Arduino USB vendors: boards the driver probes without being told to. */
static int is_arduino(json_int_t vid)
{
	return vid == 0x2341 || vid == 0x2a03;
}

/* A device id from a USB serial number or a name: "firmata-" + [A-Za-z0-9._-]. */
static void make_id(char *out, size_t cap, const char *tail)
{
	size_t n = (size_t)snprintf(out, cap, "firmata-");

	for (; *tail && n + 1 < cap; tail++)
		out[n++] =
		    (char)((*tail >= 'a' && *tail <= 'z') || (*tail >= 'A' && *tail <= 'Z') ||
				   (*tail >= '0' && *tail <= '9') || *tail == '.' || *tail == '-' ||
				   *tail == '_'
			       ? *tail
			       : '_');
	out[n] = '\0';
}

/* scan: ports of configured [firmata.NAME] sections, and Arduino boards on USB. */
static int fm_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	const char *section;
	json_t *sec, *port;
	size_t i;

	(void)drv;
	json_object_foreach((json_t *)ctx->config, section, sec)
	{
		const char *path, *title;
		char id[64];
		if (strncmp(section, "firmata.", 8) != 0)
			continue;
		make_id(id, sizeof id, section + 8);
		title = lb_config_str(ctx->config, section, "title", "Firmata board");
		/* a missing port is reported (once, with its line) and listed as absent */
		path = lb_scan_port(ctx, section, "port", out, id, title, "sensor");
		if (!path)
			continue;
		lb_spec_list_add(out, id, title, "sensor", false,
				 json_pack("{s:s,s:s}", "path", path, "section", section));
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *serial = json_string_value(json_object_get(port, "serial"));
		const char *path = json_string_value(json_object_get(port, "path"));
		const char *hint = json_string_value(json_object_get(port, "driver"));
		char id[64];
		if (!path || (!is_arduino(json_integer_value(json_object_get(port, "vid"))) &&
			      !(hint && strcmp(hint, "firmata") == 0)))
			continue;
		make_id(id, sizeof id, serial && *serial ? serial : strrchr(path, '/') + 1);
		lb_spec_list_add(out, id,
				 json_is_true(json_object_get(port, "simulated"))
				     ? "Simulated Arduino Uno (StandardFirmata emulator)"
				     : "Arduino board (Firmata)",
				 "sensor", json_is_true(json_object_get(port, "simulated")),
				 json_pack("{s:s}", "path", path));
	}
	return 0;
}

/* Send bytes to the board; LB_EGONE if it is gone. */
static int fm_send(fm_priv *p, const uint8_t *buf, size_t len)
{
	return len ? lb_serial_write(p->port, buf, len, 500) : 0;
}

/* Handle one message from the board (in the handshake or while running). */
static void fm_handle(lb_device *dev, fm_priv *p, const firmata_msg *m, const lb_now *now)
{
	if (m->type == FIRMATA_MSG_ANALOG) {
		int s = m->pin < MAX_CHANNELS ? p->stream_of[m->pin] : -1;
		if (s >= 0 && dev->running) {
			int res = p->resolution[m->pin] ? p->resolution[m->pin] : 10;
			float v = (float)(m->value * p->vref / ((1 << res) - 1));
			lb_stream_publish(dev, s, now->mono, now->real, &v, 1);
		}
	} else if (m->type == FIRMATA_MSG_DIGITAL) {
		/* a digital port: the 8 pins' levels as bits, sent when one of them changes */
		int s = m->pin < MAX_PORTS ? p->port_stream[m->pin] : -1;
		if (s >= 0 && dev->running) {
			uint8_t v = (uint8_t)(m->value & 0xFF);
			lb_stream_publish(dev, s, now->mono, now->real, &v, 1);
		}
	} else if (m->type == FIRMATA_MSG_SYSEX) {
		if (m->command == FIRMATA_REPORT_FIRMWARE) {
			firmata_decode_firmware(m->data, m->len, &p->fw_major, &p->fw_minor,
						p->firmware, sizeof p->firmware);
		} else if (m->command == FIRMATA_CAPABILITY_RESPONSE) {
			int n =
			    firmata_decode_capabilities(m->data, m->len, p->pins, FIRMATA_MAX_PINS);
			p->npins = n > 0 ? n : 0;
		} else if (m->command == FIRMATA_ANALOG_MAPPING_RESPONSE && p->npins) {
			firmata_decode_analog_mapping(m->data, m->len, p->pins, p->npins);
		} else if (m->command == FIRMATA_STRING_DATA) {
			char text[128];
			if (firmata_decode_string(m->data, m->len, text, sizeof text) == 0)
				lb_info("device %s says: %s", dev->spec.id, text);
		}
	}
}

/* Read and handle what the board sent; LB_EGONE if the port is gone. */
static int fm_pump(lb_device *dev, fm_priv *p, const lb_now *now)
{
	uint8_t buf[512];
	ssize_t n;

	while ((n = lb_serial_read(p->port, buf, sizeof buf)) > 0) {
		p->last_rx = now->mono;
		for (ssize_t i = 0; i < n; i++) {
			firmata_msg m;
			if (firmata_feed(&p->parser, buf[i], &m) == 1)
				fm_handle(dev, p, &m, now);
		}
	}
	if (p->parser.errors > p->bad_reported) {
		lb_warn("device %s: %lu malformed byte(s) from the board (noise on the line?)",
			dev->spec.id, p->parser.errors - p->bad_reported);
		p->bad_reported = p->parser.errors;
	}
	return n < 0 ? (int)n : 0;
}

/* Wait (at most until deadline) for cond to hold, pumping input and re-sending query. */
static int fm_await(lb_device *dev, fm_priv *p, int (*cond)(const fm_priv *), const uint8_t *query,
		    size_t qlen, int64_t timeout_ns)
{
	lb_now now = lb_now_read();
	int64_t deadline = now.mono + timeout_ns, next_query = now.mono;

	while (!cond(p)) {
		struct pollfd pf = {lb_serial_fd(p->port), POLLIN, 0};
		if (now.mono >= deadline)
			return LB_EAGAIN;
		if (now.mono >= next_query) {
			if (fm_send(p, query, qlen) == LB_EGONE)
				return LB_EGONE;
			next_query = now.mono + QUERY_EVERY_NS;
		}
		poll(&pf, 1, 50);
		now = lb_now_read();
		if (fm_pump(dev, p, &now) == LB_EGONE)
			return LB_EGONE;
	}
	return 0;
}

static int have_firmware(const fm_priv *p)
{
	return p->firmware[0] != '\0';
}

static int have_capabilities(const fm_priv *p)
{
	return p->npins > 0;
}

static int have_mapping(const fm_priv *p)
{
	for (int i = 0; i < p->npins; i++)
		if (p->pins[i].analog_channel != 127)
			return 1;
	return 0;
}

static int fm_start(lb_device *dev, const lb_now *now, lb_error *err);
static void fm_close(lb_device *dev);

static int fm_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *path = json_string_value(json_object_get(dev->spec.params, "path"));
	fm_priv *p = calloc(1, sizeof *p);
	uint8_t q[8];
	int rc, n_analog;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	dev->priv = p;
	p->interval_ms = 19;
	p->vref = 5.0;
	p->last_rx = now->mono;
	for (int c = 0; c < MAX_CHANNELS; c++)
		p->stream_of[c] = -1;
	for (int k = 0; k < MAX_PORTS; k++)
		p->port_stream[k] = -1;
	p->port = lb_serial_open(path, FIRMATA_BAUD, err);
	if (!p->port)
		goto fail;
	lb_serial_pulse_dtr(p->port); /* a known state: the board restarts its sketch */
	lb_serial_flush_input(p->port);
	rc = fm_await(dev, p, have_firmware, q, firmata_enc_query(q, FIRMATA_REPORT_FIRMWARE),
		      HANDSHAKE_NS);
	if (rc < 0) {
		lb_error_set(
		    err, LB_ERR_DEVICE,
		    "%s: no Firmata answer within %lld s (is StandardFirmata uploaded to the "
		    "board?)",
		    path, HANDSHAKE_NS / 1000000000LL);
		goto fail;
	}
	if (fm_await(dev, p, have_capabilities, q, firmata_enc_query(q, FIRMATA_CAPABILITY_QUERY),
		     2000000000LL) < 0 ||
	    fm_await(dev, p, have_mapping, q, firmata_enc_query(q, FIRMATA_ANALOG_MAPPING_QUERY),
		     2000000000LL) < 0) {
		lb_error_set(err, LB_ERR_DEVICE,
			     "%s: %s %d.%d answered but not the capability/analog mapping queries",
			     path, p->firmware, p->fw_major, p->fw_minor);
		goto fail;
	}
	for (int pin = 0; pin < p->npins; pin++) {
		int c = p->pins[pin].analog_channel;
		char name[8];
		int s;
		if (c >= MAX_CHANNELS || !(p->pins[pin].modes & (1u << FIRMATA_MODE_ANALOG)))
			continue;
		snprintf(name, sizeof name, "a%d", c);
		s = lb_device_add_stream(dev, name, "voltage", "V", LB_F32,
					 1000.0 / p->interval_ms);
		if (s < 0)
			break;
		p->stream_of[c] = s;
		p->resolution[c] = p->pins[pin].resolution[FIRMATA_MODE_ANALOG];
		lb_stream_set_range(dev, s, 0, p->vref,
				    p->vref /
					((1 << (p->resolution[c] ? p->resolution[c] : 10)) - 1));
		p->enabled |= 1u << c;
	}
	n_analog = dev->nstreams;
	for (int pin = 0; pin < p->npins && pin / 8 < MAX_PORTS; pin++) {
		/* a port with a digital input pin streams its pins' levels (bit k: pin 8 * port +
		 * k) */
		char name[16];
		int port = pin / 8, s;
		if (p->port_stream[port] >= 0 || !(p->pins[pin].modes & (1u << FIRMATA_MODE_INPUT)))
			continue;
		snprintf(name, sizeof name, "port%d", port);
		s = lb_device_add_stream(dev, name, "digital", "", LB_U8, 0);
		if (s < 0)
			break;
		p->port_stream[port] = s;
	}
	lb_info("device %s: %s %d.%d on %s, %d pins, %d analog inputs, %d digital ports",
		dev->spec.id, p->firmware, p->fw_major, p->fw_minor, path, p->npins, n_analog,
		dev->nstreams - n_analog);
	/* sensors stream from the start, as the simulated ones do */
	if (fm_start(dev, now, err) < 0)
		goto fail;
	dev->running = true;
	return 0;
fail:
	fm_close(dev); /* close() is only called after a successful open */
	return LB_EFAIL;
}

/* Turn reporting of the enabled analog channels on (or all off). */
static int fm_report(fm_priv *p, int on)
{
	uint8_t b[2 * MAX_CHANNELS + 2 * MAX_PORTS + 8];
	size_t n = 0;

	if (on)
		n += firmata_enc_sampling_interval(b, p->interval_ms);
	for (int c = 0; c < MAX_CHANNELS; c++)
		if (p->stream_of[c] >= 0)
			n += firmata_enc_report_analog(b + n, c, on && (p->enabled & (1u << c)));
	for (int k = 0; k < MAX_PORTS; k++)
		if (p->port_stream[k] >= 0)
			n += firmata_enc_report_digital(b + n, k, on);
	return fm_send(p, b, n);
}

static int fm_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	fm_priv *p = dev->priv;

	p->last_rx = now->mono;
	if (fm_report(p, 1) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	return 0;
}

static int fm_stop(lb_device *dev, lb_error *err)
{
	fm_priv *p = dev->priv;

	if (fm_report(p, 0) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	return 0;
}

static void fm_close(lb_device *dev)
{
	fm_priv *p = dev->priv;

	if (!p)
		return;
	lb_serial_destroy(&p->port);
	free(p);
	dev->priv = NULL;
}

static json_t *fm_config_get(lb_device *dev)
{
	fm_priv *p = dev->priv;
	json_t *ch = json_array();

	for (int c = 0; c < MAX_CHANNELS; c++)
		if (p->stream_of[c] >= 0 && (p->enabled & (1u << c)))
			json_array_append_new(ch, json_integer(c));
	return json_pack("{s:i,s:f,s:o,s:s,s:s}", "interval_ms", p->interval_ms, "vref", p->vref,
			 "channels", ch, "firmware", p->firmware, "port",
			 json_string_value(json_object_get(dev->spec.params, "path")));
}

static json_t *fm_limits_get(lb_device *dev)
{
	(void)dev;
	/* StandardFirmata's MINIMUM_SAMPLING_INTERVAL is 1 ms; the value is 14 bits */
	return json_pack("{s:{s:i,s:i},s:{s:f,s:f}}", "interval_ms", "min", 1, "max", 16383, "vref",
			 "min", 0.1, "max", 30.0);
}

static int fm_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	fm_priv *p = dev->priv;

	if (strcmp(key, "interval_ms") == 0) {
		json_int_t ms = json_integer_value(value);
		if (!json_is_integer(value) || ms < 1 || ms > 16383)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "interval_ms must be an integer from 1 to 16383 (the "
					    "firmware's limits)");
		p->interval_ms = (int)ms;
		for (int c = 0; c < MAX_CHANNELS; c++)
			if (p->stream_of[c] >= 0)
				lb_stream_set_rate(dev, p->stream_of[c], 1000.0 / p->interval_ms);
		if (dev->running && fm_report(p, 1) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
		return 0;
	}
	if (strcmp(key, "vref") == 0) {
		double v = json_number_value(value);
		if (!json_is_number(value) || v < 0.1 || v > 30)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "vref must be a number of volts from 0.1 to 30");
		p->vref = v;
		return 0;
	}
	if (strcmp(key, "channels") == 0) {
		uint32_t mask = 0;
		size_t i;
		json_t *c;
		if (!json_is_array(value))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "channels must be an array of analog channel numbers");
		json_array_foreach(value, i, c)
		{
			json_int_t ch = json_integer_value(c);
			if (!json_is_integer(c) || ch < 0 || ch >= MAX_CHANNELS ||
			    p->stream_of[ch] < 0)
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "the board has no analog channel %s",
						    json_is_integer(c) ? "with that number"
								       : "(not a number)");
			mask |= 1u << ch;
		}
		p->enabled = mask;
		if (dev->running && fm_report(p, 1) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
			    "no setting '%s' (settings: interval_ms, vref, channels)", key);
}

/* Actions: pin_mode {pin, mode}, digital_write {pin, value}. */
static int fm_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	fm_priv *p = dev->priv;
	long long pin = 0, v = 0;
	uint8_t b[4];
	size_t n;

	if (strcmp(action, "pin_mode") != 0 && strcmp(action, "digital_write") != 0)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "unknown action '%s' (actions: pin_mode, digital_write)",
				    action);
	if (lb_param_int(args, "pin", true, 0, p->npins - 1, &pin, err) < 0)
		return LB_EFAIL;
	if (action[0] == 'p') {
		if (lb_param_int(args, "mode", true, 0, 15, &v, err) < 0)
			return LB_EFAIL;
		if (!(p->pins[pin].modes & (1u << v)))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "pin %lld does not support mode %lld (see the board's "
					    "capabilities)",
					    pin, v);
		n = firmata_enc_pin_mode(b, (int)pin, (int)v);
	} else {
		if (lb_param_int(args, "value", true, 0, 1, &v, err) < 0)
			return LB_EFAIL;
		n = firmata_enc_digital_write(b, (int)pin, (int)v);
	}
	if (fm_send(p, b, n) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	*result = json_null();
	return 0;
}

static int fm_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	fm_priv *p = dev->priv;

	if (max < 1)
		return 0;
	items[0].socket = NULL;
	items[0].fd = lb_serial_fd(p->port);
	items[0].events = ZMQ_POLLIN;
	return 1;
}

static int fm_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	fm_priv *p = dev->priv;

	(void)items, (void)nitems;
	if (fm_pump(dev, p, now) == LB_EGONE)
		return LB_EGONE;
	if (dev->running && p->enabled) {
		if (now->mono - p->last_rx > SILENCE_NS) {
			lb_warn("device %s stopped answering (nothing for %lld s)", dev->spec.id,
				SILENCE_NS / 1000000000LL);
			return LB_EGONE;
		}
		*deadline = p->last_rx + SILENCE_NS + 1;
	}
	return 0;
}

/* The simulated lab's board: an emulated Uno (firmata.emulator injects faults). */
static void *fm_emu_create(lb_error *err)
{
	return firmata_emu_new(err);
}

static const char *fm_emu_path(const void *emu)
{
	return firmata_emu_path(emu);
}

static void fm_emu_fault(void *emu, lb_fault fault)
{
	/* the emulator's faults are numbered like lb_fault (ok, silent, garbage) */
	firmata_emu_set_fault(emu, (firmata_emu_fault)fault);
}

static void fm_emu_destroy(void *emu)
{
	firmata_emu *e = emu;
	firmata_emu_destroy(&e);
}

static lb_emulated fm_emulated = {
    .driver = "firmata",
    .description = "Simulated Arduino Uno (StandardFirmata emulator)",
    .serial = "sim-uno-1",
    .vid = 0x2341,
    .pid = 0x0043,
    .create = fm_emu_create,
    .path = fm_emu_path,
    .set_fault = fm_emu_fault,
    .destroy = fm_emu_destroy,
};

/* firmata.emulator {fault: ok|silent|garbage|unplug|plug}: faults of the simulated board. */
LB_EMULATED_HOOKS(fm, fm_emulated)

/* What device.call reaches: the pins, for students holding the device. */
static const lb_action fm_actions[] = {
    {"pin_mode", LB_ROLE_STUDENT, 0},
    {"digital_write", LB_ROLE_STUDENT, 0},
    {NULL, 0, 0},
};

static lb_driver firmata_driver = {
    .name = "firmata",
    .description = "Arduino-based sensor boards running StandardFirmata (57600 baud)",
    .scan = fm_scan,
    .open = fm_open,
    .close = fm_close,
    .start = fm_start,
    .stop = fm_stop,
    .config_get = fm_config_get,
    .limits_get = fm_limits_get,
    .config_set = fm_config_set,
    .call = fm_call,
    .actions = fm_actions,
    .pollitems = fm_pollitems,
    .run = fm_run,
    .simulate = fm_simulate,
    .cleanup = fm_cleanup,
    .bridge_call = fm_bridge_call,
};
LB_REGISTER_DRIVER(firmata_driver);
