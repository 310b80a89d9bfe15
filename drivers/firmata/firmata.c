/* firmata.c - Arduino boards running StandardFirmata as sensor boards and robots (glue: scan,
 * open, streams, robot actions).
 *
 * Config: [firmata.NAME] port, inputs, pullup, interval_ms; a robot: robot = servo-wheels |
 * pwm-wheels, left / right = servo:PIN [reversed] | pwm:PIN,dir:PIN [reversed], outputs =
 * NAME:PIN, ..., max_speed_m_s, wheel_base_m (robotmap.h); [firmata] emulator_version.
 */
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/util/config.h"
#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sim/emulated.h"
#include "../../bridge/util/log.h"
#include "../../bridge/sdk/params.h"
#include "../../bridge/sdk/robot.h"
#include "../../bridge/sdk/sampleclock.h"
#include "../../bridge/sdk/serial.h"
#include "../../protocols/firmata.h"
#include "emulator.h"
#include "robotmap.h"

#define HANDSHAKE_NS 4000000000LL /* the bootloader takes up to 2 s after the reset */
#define QUERY_EVERY_NS 400000000LL
#define SILENCE_NS 3000000000LL /* reporting but nothing heard for this long: gone */
#define MAX_CHANNELS 16
#define MAX_PORTS 16		/* digital ports of 8 pins */
#define BYTE_NS 173611LL	/* one byte at 57600 baud, 8N1 */
#define LINE_SHARE 0.9		/* analog reports may fill this much of the line */
#define MEASURE_NS 5000000000LL /* the delivered rate is measured over this window */
#define RATE_TOLERANCE 0.1	/* announced rate kept while delivery is within 10% of it */
#define QUIET_NS 200000000LL	/* 2.3: no port message this long after reporting began: 0 */
#define STATE_NS 1000000000LL	/* a pin state query's answer */
#define HALT_MAX (2 * 7 + 3 * MAX_PORTS) /* the halt's bytes: wheels still, outputs low */

typedef struct fm_priv {
	lb_serial *port;
	firmata_parser parser;
	firmata_pin pins[FIRMATA_MAX_PINS];
	int npins;
	char firmware[64];
	int fw_major, fw_minor;
	int proto_major, proto_minor; /* PROTOCOL_VERSION reply (0.0 until it came) */
	firmata_features feat;	      /* what that version can do */
	int stream_of[MAX_CHANNELS];  /* analog channel -> stream index, -1 if none */
	int resolution[MAX_CHANNELS];
	lb_sclock clock[MAX_CHANNELS];	  /* each channel's sample times */
	int remaining[MAX_CHANNELS];	  /* samples of the channel still to come in this read */
	int pin_stream[FIRMATA_MAX_PINS]; /* digital pin -> stream "D<pin>", -1 if none */
	uint8_t mode[FIRMATA_MAX_PINS];	  /* each pin's mode as this driver set it */
	uint8_t level[FIRMATA_MAX_PINS];  /* output pins: the level written */
	int published[FIRMATA_MAX_PINS];  /* input pins: the last level published, -1 none */
	int64_t quiet[MAX_PORTS]; /* 2.3: reporting began (mono ns; -1: at the next run; 0: no) */
	uint32_t enabled;	  /* analog channels reported while running */
	int interval_ms;	  /* the sampling interval asked of the firmware */
	double rate;		  /* the analog rate announced (Hz): asked, or measured */
	int64_t measure_start;	  /* delivered-rate window (mono ns), 0: not started */
	unsigned long measured[MAX_CHANNELS];
	double vref;
	int64_t last_rx;
	unsigned long bad_reported;
	atomic_int halted; /* set by the halt hook: no sample published until the next start */
	/* a robot ([firmata.NAME] robot = ...; wheels FM_WHEELS_NONE: a sensor board) */
	fm_robot_map robot;
	double speed[2];		 /* the wheels' speeds last set (left, right), -1..1 */
	int wheel_value[2];		 /* what their pins were written (angle or duty) */
	int pwm_max;			 /* the PWM wheels' full duty (from the PWM resolution) */
	int robot_pin[FIRMATA_MAX_PINS]; /* 1: a pin of the mapping (not a stream, not writable) */
	char robot_state[16];		 /* the state last told (lb_robot_state), "" none */
	/* a pin state query's answer */
	int state_pin, state_mode, state_got;
	long state_value;
	/* the halt hook's bytes (seqlock: odd while open() or a mode change rewrites them) and
	 * the port's fd dup'd for it */
	int halt_fd;
	atomic_uint halt_seq;
	atomic_int halt_len;
	_Atomic uint8_t halt_bytes[HALT_MAX];
} fm_priv;

#define MODE_NONE 0x7F /* a pin the firmware does not drive (no capability) */

static const char *const mode_names[] = {"input", "output", "analog", "pwm", "servo"};

/* A mode's name for messages. */
static const char *mode_name(int mode)
{
	if (mode == FIRMATA_MODE_PULLUP)
		return "pullup";
	return mode >= 0 && mode < 5 ? mode_names[mode] : "other";
}

/* Arduino USB vendors: boards the driver probes without being told to. */
static int is_arduino(json_int_t vid)
{
	return vid == 0x2341 || vid == 0x2a03;
}

/* The robot keys of a [firmata.NAME] section, in fm_robot_conf's order. */
static const char *const robot_keys[] = {"robot",	  "left",	  "right", "outputs",
					 "max_speed_m_s", "wheel_base_m", NULL};

/* The simulated lab's Firmata robot: the mapping a teacher's config would give its board. */
static const fm_robot_conf sim_robot_conf = {"servo-wheels",	 "servo:9", "servo:10 reversed",
					     "led:13, buzzer:8", "0.2",	    "0.12"};

/* The robot keys of an object holding them (a config section, a spec's params). */
static fm_robot_conf fm_robot_conf_of(const json_t *o)
{
	const char *v[6];

	for (int k = 0; k < 6; k++)
		v[k] = json_string_value(json_object_get(o, robot_keys[k]));
	return (fm_robot_conf){v[0], v[1], v[2], v[3], v[4], v[5]};
}

/* The simulated robot board's USB serial number (its id: firmata-sim-robot-1). */
#define SIM_ROBOT_SERIAL "sim-robot-1"

/* scan: ports of configured [firmata.NAME] sections, and Arduino boards on USB. */
static int fm_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	lb_config_device d = {0};
	json_t *port;
	size_t i;

	(void)drv;
	while (lb_scan_sections(ctx, "firmata", "firmata-", "Firmata board", &d)) {
		/* the section's pin and rate settings travel with the device to open() */
		static const char *const keys[] = {"inputs", "pullup", "interval_ms", NULL};
		fm_robot_conf rc = fm_robot_conf_of(d.options);
		fm_robot_map map;
		const char *bad = NULL, *path, *kind;
		char why[200], where[160], reason[400];
		json_t *params, *wheres;
		/* a mapping that cannot be right whatever the board: absent, with the key's line */
		if (fm_robot_parse(&rc, &map, &bad, why, sizeof why) < 0) {
			lb_config_where(ctx->config, d.section, bad, where, sizeof where);
			snprintf(reason, sizeof reason, "%s: %s", where, why);
			lb_spec_list_absent(out, d.id, d.title, "robot", ctx->config, d.section,
					    reason);
			continue;
		}
		kind = map.wheels != FM_WHEELS_NONE ? "robot" : "sensor";
		/* a missing port is reported (once, with its line) and listed as absent */
		path = lb_scan_port(ctx, d.section, "port", out, d.id, d.title, kind);
		if (!path)
			continue;
		params = json_pack("{s:s,s:s}", "path", path, "section", d.section);
		for (int k = 0; params && keys[k]; k++) {
			const char *v = lb_config_str(ctx->config, d.section, keys[k], NULL);
			if (v)
				json_object_set_new(params, keys[k], json_string(v));
		}
		/* the mapping, and where each key is written (open() checks it against the
		 * board's pins) */
		wheres = json_object();
		for (int k = 0; params && robot_keys[k]; k++) {
			const char *v = lb_config_str(ctx->config, d.section, robot_keys[k], NULL);
			if (!v)
				continue;
			json_object_set_new(params, robot_keys[k], json_string(v));
			lb_config_where(ctx->config, d.section, robot_keys[k], where, sizeof where);
			json_object_set_new(wheres, robot_keys[k], json_string(where));
		}
		if (params)
			json_object_set_new(params, "where", wheres);
		else
			json_decref(wheres);
		lb_spec_list_add(out, d.id, d.title, kind, false, params);
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
		lb_make_id(id, sizeof id, "firmata-",
			   serial && *serial ? serial : strrchr(path, '/') + 1);
		if (json_is_true(json_object_get(port, "simulated")) && serial &&
		    strcmp(serial, SIM_ROBOT_SERIAL) == 0) {
			/* the simulated lab's robot: sim_robot_conf's mapping */
			lb_spec_list_add(out, id,
					 "Simulated Firmata robot (Arduino Uno, two "
					 "continuous-rotation servos)",
					 "robot", true,
					 json_pack("{s:s,s:b}", "path", path, "sim_robot", 1));
			continue;
		}
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

/* The protocol version the board's features follow: PROTOCOL_VERSION, else its firmware's. */
static void fm_version(const fm_priv *p, int *major, int *minor)
{
	*major = p->proto_major ? p->proto_major : p->fw_major;
	*minor = p->proto_major ? p->proto_minor : p->fw_minor;
}

/* The number of analog channels reported while running. */
static int fm_nenabled(const fm_priv *p)
{
	int n = 0;

	for (int c = 0; c < MAX_CHANNELS; c++)
		n += p->stream_of[c] >= 0 && (p->enabled & (1u << c));
	return n;
}

/*
 * The shortest interval the board can deliver with n analog channels reported: its firmware's
 * MINIMUM_SAMPLING_INTERVAL (10 ms up to 2.4, 1 ms from 2.5), and what the 57600-baud line
 * carries (3 bytes per channel per interval, in LINE_SHARE of the line).
 */
static int fm_min_interval(const fm_priv *p, int n)
{
	int line = (int)ceil(n * 3 * BYTE_NS / 1e6 / LINE_SHARE);

	return line > p->feat.min_interval_ms ? line : p->feat.min_interval_ms;
}

/* Why interval ms is refused with n channels, in err; 0 if the board can deliver it. */
static int fm_check_interval(const fm_priv *p, long long ms, int n, lb_error *err)
{
	int major, minor, min = fm_min_interval(p, n);

	fm_version(p, &major, &minor);
	if (ms > 16383)
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "interval_ms is at most 16383 (14 bits in the Firmata message)");
	if (ms >= min)
		return 0;
	if (min == p->feat.min_interval_ms)
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "interval_ms must be at least %d: %s %d.%d samples every %d ms at the fastest "
		    "(its MINIMUM_SAMPLING_INTERVAL)",
		    min, p->firmware, major, minor, min);
	return lb_error_set(err, LB_ERR_INVALID_PARAMS,
			    "interval_ms must be at least %d: %d analog input(s) every %lld ms "
			    "would need more than the 57600-baud line carries",
			    min, n, ms);
}

/* Announce rate (Hz) on every analog stream and time their samples by it. */
static void fm_announce(lb_device *dev, fm_priv *p, double rate)
{
	p->rate = rate;
	for (int c = 0; c < MAX_CHANNELS; c++)
		if (p->stream_of[c] >= 0) {
			lb_stream_set_rate(dev, p->stream_of[c], rate);
			lb_sclock_set_period(&p->clock[c], (int64_t)llround(1e9 / rate));
		}
}

/* Start measuring the delivered rate again (after a start or a change of settings). */
static void fm_measure_restart(fm_priv *p)
{
	p->measure_start = 0;
	memset(p->measured, 0, sizeof p->measured);
}

/*
 * Compare the rate delivered over the last window with the one announced: StandardFirmata cannot
 * be asked its interval, and a board or a line may be slower than asked. Beyond RATE_TOLERANCE,
 * the streams announce what arrives (and go back to the asked rate when it arrives again).
 */
static void fm_measure(lb_device *dev, fm_priv *p, int64_t now)
{
	double asked = 1000.0 / p->interval_ms, got, target;
	unsigned long most = 0;

	if (!p->measure_start) {
		/* the first window starts after the reports turned on settled */
		p->measure_start = now;
		memset(p->measured, 0, sizeof p->measured);
		return;
	}
	if (now - p->measure_start < MEASURE_NS)
		return;
	for (int c = 0; c < MAX_CHANNELS; c++)
		if (p->measured[c] > most)
			most = p->measured[c];
	got = most * 1e9 / (double)(now - p->measure_start);
	p->measure_start = now;
	memset(p->measured, 0, sizeof p->measured);
	if (!most)
		return;
	target = fabs(got - asked) > RATE_TOLERANCE * asked ? got : asked;
	if (fabs(target - p->rate) <= RATE_TOLERANCE * p->rate && target != asked)
		return; /* still close to the measured rate announced */
	if (target == p->rate)
		return;
	target = target == asked ? asked : round(target * 10) / 10;
	if (target == asked)
		lb_info("device %s delivers the %.1f samples/s asked again", lb_device_id(dev),
			asked);
	else
		lb_warn("device %s delivers %.1f samples/s per input, not the %.1f asked "
			"(interval_ms %d): announcing %.1f",
			lb_device_id(dev), got, asked, p->interval_ms, target);
	fm_announce(dev, p, target);
	lb_device_changed(dev);
}

/* Publish a digital input's level if it changed (or was never published). */
static void fm_publish_pin(lb_device *dev, fm_priv *p, int pin, int level, int64_t t_mono,
			   const lb_now *now)
{
	uint8_t v = (uint8_t)level;

	if (p->published[pin] == level)
		return;
	p->published[pin] = level;
	lb_stream_publish(dev, p->pin_stream[pin], t_mono, now->real - (now->mono - t_mono), &v, 1);
}

/* Whether mode makes a pin one of the driver's digital inputs. */
static int is_input_mode(int mode)
{
	return mode == FIRMATA_MODE_INPUT || mode == FIRMATA_MODE_PULLUP;
}

/*
 * Handle one message from the board (in the handshake or while running). arrival: the latest
 * time (mono ns) the message can have been sent, from its place in the read.
 */
static void fm_handle(lb_device *dev, fm_priv *p, const firmata_msg *m, int64_t arrival,
		      const lb_now *now)
{
	bool live = lb_device_running(dev) && !atomic_load(&p->halted);

	if (m->type == FIRMATA_MSG_ANALOG) {
		int c = m->pin, s = c < MAX_CHANNELS ? p->stream_of[c] : -1;
		if (s >= 0 && live) {
			int res = p->resolution[c] ? p->resolution[c] : 10;
			float v = (float)(m->value * p->vref / ((1 << res) - 1));
			/* the k-th last sample of the channel in this read was taken a period
			 * (at least) before the next one */
			int64_t t, latest;
			if (p->remaining[c] > 0)
				p->remaining[c]--;
			latest = now->mono - p->remaining[c] * p->clock[c].period;
			t = lb_sclock_stamp(&p->clock[c], arrival < latest ? arrival : latest);
			p->measured[c]++;
			lb_stream_publish(dev, s, t, now->real - (now->mono - t), &v, 1);
		}
	} else if (m->type == FIRMATA_MSG_DIGITAL) {
		/* a port's input pins as bits (others 0), sent when one of them changes */
		if (m->pin < MAX_PORTS)
			p->quiet[m->pin] = 0;
		for (int k = 0; k < 8 && live; k++) {
			int pin = 8 * m->pin + k;
			if (pin < FIRMATA_MAX_PINS && p->pin_stream[pin] >= 0 &&
			    is_input_mode(p->mode[pin]))
				fm_publish_pin(dev, p, pin, (m->value >> k) & 1, arrival, now);
		}
	} else if (m->type == FIRMATA_MSG_VERSION) {
		p->proto_major = m->major;
		p->proto_minor = m->minor;
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
		} else if (m->command == FIRMATA_PIN_STATE_RESPONSE) {
			int pin, mode;
			long state;
			if (firmata_decode_pin_state(m->data, m->len, &pin, &mode, &state) == 0 &&
			    pin == p->state_pin) {
				p->state_mode = mode;
				p->state_value = state;
				p->state_got = 1;
			}
		} else if (m->command == FIRMATA_STRING_DATA) {
			char text[128];
			if (firmata_decode_string(m->data, m->len, text, sizeof text) == 0)
				lb_info("device %s says: %s", lb_device_id(dev), text);
		}
	}
}

/* Read and handle what the board sent; LB_EGONE if the port is gone. */
static int fm_pump(lb_device *dev, fm_priv *p, const lb_now *now)
{
	uint8_t buf[512];
	ssize_t n;

	while ((n = lb_serial_read(p->port, buf, sizeof buf)) > 0) {
		firmata_parser ahead = p->parser;
		p->last_rx = now->mono;
		/* first pass: how many samples of each channel this read brings */
		memset(p->remaining, 0, sizeof p->remaining);
		for (ssize_t i = 0; i < n; i++) {
			firmata_msg m;
			if (firmata_feed(&ahead, buf[i], &m) == 1 && m.type == FIRMATA_MSG_ANALOG &&
			    m.pin < MAX_CHANNELS)
				p->remaining[m.pin]++;
		}
		for (ssize_t i = 0; i < n; i++) {
			firmata_msg m;
			/* the bytes after this one took their time on the line */
			int64_t arrival = now->mono - (int64_t)(n - 1 - i) * BYTE_NS;
			if (firmata_feed(&p->parser, buf[i], &m) == 1)
				fm_handle(dev, p, &m, arrival, now);
		}
	}
	if (p->parser.errors > p->bad_reported) {
		lb_warn("device %s: %lu malformed byte(s) from the board (noise on the line?)",
			lb_device_id(dev), p->parser.errors - p->bad_reported);
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

static int have_version(const fm_priv *p)
{
	return p->proto_major != 0;
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

/* Whether the firmware has PIN_MODE_PULLUP for pin (else the pull-up is the port bit). */
static int fm_pullup_mode(const fm_priv *p, int pin)
{
	return p->feat.pullup_mode && (p->pins[pin].modes & (1u << FIRMATA_MODE_PULLUP));
}

/* Port k's DIGITAL_MESSAGE value: the outputs' levels (with_outputs: else 0), and a 1 for the
 * pull-up of each input pin that has one but no PULLUP mode. */
static int fm_port_value(const fm_priv *p, int k, int with_outputs)
{
	int v = 0;

	for (int i = 0; i < 8 && 8 * k + i < p->npins; i++) {
		int pin = 8 * k + i;
		if (p->mode[pin] == FIRMATA_MODE_OUTPUT)
			v |= with_outputs ? (p->level[pin] & 1) << i : 0;
		else if (p->mode[pin] == FIRMATA_MODE_PULLUP && !fm_pullup_mode(p, pin))
			v |= 1 << i;
	}
	return v;
}

/*
 * Write port k's outputs with one DIGITAL_MESSAGE (obeyed by every version): output pins carry
 * the level written, input pins with a pull-up and no PULLUP mode carry 1 (their PORT bit).
 */
static int fm_write_port(fm_priv *p, int k)
{
	uint8_t b[4];

	return fm_send(p, b, firmata_enc_digital_port(b, k, fm_port_value(p, k, 1)));
}

/* Whether port k has an output pin. */
static int fm_port_has_output(const fm_priv *p, int k)
{
	for (int i = 0; i < 8 && 8 * k + i < p->npins; i++)
		if (p->mode[8 * k + i] == FIRMATA_MODE_OUTPUT)
			return 1;
	return 0;
}

/*
 * Work out the halt hook's bytes again (device thread; after open and after every change of pin
 * modes): the wheels still (servos at 90, PWM duty 0) and every port with outputs written low,
 * the pull-ups kept. The hook copies them under the sequence number (a seqlock: never a lock).
 */
static void fm_halt_prepare(fm_priv *p)
{
	uint8_t b[HALT_MAX];
	size_t n = 0;

	for (int k = 0; k < 2 && p->robot.wheels != FM_WHEELS_NONE; k++) {
		const fm_wheel *w = k ? &p->robot.right : &p->robot.left;
		n += firmata_enc_analog_out(
		    b + n, w->pin, p->robot.wheels == FM_WHEELS_SERVO ? FM_SERVO_STILL : 0);
	}
	for (int k = 0; k < MAX_PORTS && 8 * k < p->npins; k++)
		if (fm_port_has_output(p, k))
			n += firmata_enc_digital_port(b + n, k, fm_port_value(p, k, 0));
	atomic_fetch_add(&p->halt_seq, 1); /* odd: being written */
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&p->halt_bytes[i], b[i], memory_order_relaxed);
	atomic_store(&p->halt_len, (int)n);
	atomic_fetch_add(&p->halt_seq, 1);
}

/* Copy the halt's bytes into b (HALT_MAX bytes) from any thread: their number (0 if none). */
static int fm_halt_bytes(fm_priv *p, uint8_t *b)
{
	unsigned seq;
	int n = 0;

	for (int tries = 0; tries < 4; tries++) {
		seq = atomic_load(&p->halt_seq);
		if (seq & 1)
			continue; /* being rewritten this very moment */
		n = atomic_load(&p->halt_len);
		for (int i = 0; i < n && i < HALT_MAX; i++)
			b[i] = atomic_load_explicit(&p->halt_bytes[i], memory_order_relaxed);
		if (atomic_load(&p->halt_seq) == seq)
			break;
	}
	return n < HALT_MAX ? n : HALT_MAX;
}

/* Whether port k has a pin this driver reads. */
static int fm_port_has_input(const fm_priv *p, int k)
{
	for (int i = 0; i < 8 && 8 * k + i < p->npins; i++)
		if (p->pin_stream[8 * k + i] >= 0 && is_input_mode(p->mode[8 * k + i]))
			return 1;
	return 0;
}

/* Turn reporting of the enabled analog channels and of the ports with inputs on (or all off). */
static int fm_report(fm_priv *p, int on)
{
	uint8_t b[3 * MAX_CHANNELS + 3 * MAX_PORTS + 8];
	size_t n = 0;

	if (on)
		n += firmata_enc_sampling_interval(b, p->interval_ms);
	for (int c = 0; c < MAX_CHANNELS; c++)
		if (p->stream_of[c] >= 0)
			n += firmata_enc_report_analog(b + n, c, on && (p->enabled & (1u << c)));
	for (int k = 0; k < MAX_PORTS && 8 * k < p->npins; k++) {
		int report = on && fm_port_has_input(p, k);
		n += firmata_enc_report_digital(b + n, k, report);
		p->quiet[k] = report && !p->feat.report_on_enable ? -1 : 0;
	}
	return fm_send(p, b, n);
}

/*
 * Set a digital pin's mode: input, pullup (PIN_MODE_PULLUP where the firmware has it, else INPUT
 * and a 1 in its port bit, the pull-up of 2.3/2.4) or output (low until written); the port is
 * written so that the firmware's levels are the ones tracked here, and its reporting follows.
 */
static int fm_set_pin(lb_device *dev, fm_priv *p, int pin, int mode)
{
	uint8_t b[4];
	int wire =
	    mode == FIRMATA_MODE_PULLUP && !fm_pullup_mode(p, pin) ? FIRMATA_MODE_INPUT : mode;
	int rc;

	if ((rc = fm_send(p, b, firmata_enc_pin_mode(b, pin, wire))) < 0)
		return rc;
	p->mode[pin] = (uint8_t)mode;
	p->level[pin] = 0;
	p->published[pin] = -1;
	if (pin < 8 * MAX_PORTS && (rc = fm_write_port(p, pin / 8)) < 0)
		return rc;
	if (lb_device_running(dev) && pin < 8 * MAX_PORTS) {
		rc = fm_send(p, b,
			     firmata_enc_report_digital(b, pin / 8, fm_port_has_input(p, pin / 8)));
		if (is_input_mode(mode) && !p->feat.report_on_enable)
			p->quiet[pin / 8] = -1;
	}
	fm_halt_prepare(p);
	return rc;
}

/*
 * Set the wheels' speeds (-1..1, the robot's fraction of its maximum): servo angles, or the
 * direction pins' levels then the PWM duties. 0, or negative (LB_EGONE) when the board cannot be
 * written.
 */
static int fm_drive(fm_priv *p, double left, double right)
{
	uint8_t b[16];
	size_t n = 0;
	uint32_t ports = 0;
	int rc;

	for (int k = 0; k < 2; k++) {
		const fm_wheel *w = k ? &p->robot.right : &p->robot.left;
		int v, dir;
		fm_robot_wheel_value(&p->robot, w, k ? right : left, p->pwm_max, &v, &dir);
		if (w->dir >= 0 && p->level[w->dir] != dir) {
			p->level[w->dir] = (uint8_t)dir;
			ports |= 1u << (w->dir / 8);
		}
		n += firmata_enc_analog_out(b + n, w->pin, v);
		p->speed[k] = k ? right : left;
		p->wheel_value[k] = v;
	}
	for (int k = 0; k < MAX_PORTS; k++)
		if ((ports & (1u << k)) && (rc = fm_write_port(p, k)) < 0)
			return rc;
	return fm_send(p, b, n);
}

/* Tell the robot service the robot's state when it changed (a joystick's moves, many a
 * second, say "running" once). */
static void fm_state(lb_device *dev, fm_priv *p, const char *state, const char *detail)
{
	if (strcmp(p->robot_state, state) == 0)
		return;
	snprintf(p->robot_state, sizeof p->robot_state, "%s", state);
	lb_robot_state(dev, state, detail);
}

/* Where a robot key is written ("firmata.conf:12"), for messages. */
static const char *fm_robot_where(const lb_device *dev, const char *key)
{
	const json_t *params = lb_device_get_spec(dev)->params;
	const char *w = json_string_value(json_object_get(json_object_get(params, "where"), key));

	if (json_is_true(json_object_get(params, "sim_robot")))
		return "the simulated lab's robot";
	return w ? w : "config";
}

/*
 * The robot mapping of the device's spec, checked against the board's pins (before streams are
 * declared: the mapping's pins get none). 0 (a sensor board too), or negative with err naming
 * the config line.
 */
static int fm_robot_load(lb_device *dev, fm_priv *p, lb_error *err)
{
	const json_t *params = lb_device_get_spec(dev)->params;
	fm_robot_conf rc = json_is_true(json_object_get(params, "sim_robot"))
			       ? sim_robot_conf
			       : fm_robot_conf_of(params);
	const char *bad = NULL, *section = json_string_value(json_object_get(params, "section"));
	char why[200];

	if (fm_robot_parse(&rc, &p->robot, &bad, why, sizeof why) < 0 ||
	    fm_robot_check(&p->robot, p->pins, p->npins, &bad, why, sizeof why) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: [%s] %s: %s", fm_robot_where(dev, bad),
				    section ? section : "firmata", bad, why);
	for (int k = 0; k < 2 && p->robot.wheels != FM_WHEELS_NONE; k++) {
		const fm_wheel *w = k ? &p->robot.right : &p->robot.left;
		p->robot_pin[w->pin] = 1;
		if (w->dir >= 0)
			p->robot_pin[w->dir] = 1;
	}
	for (int k = 0; k < p->robot.noutputs; k++)
		p->robot_pin[p->robot.outputs[k].pin] = 1;
	return 0;
}

/*
 * Put the mapping's pins in their modes (after the reset): servos attached (SERVO_CONFIG) and
 * still, PWM pins at duty 0, direction pins and outputs low outputs. 0 or negative.
 */
static int fm_robot_setup(fm_priv *p)
{
	uint8_t b[16];
	int rc;

	for (int k = 0; k < 2 && p->robot.wheels != FM_WHEELS_NONE; k++) {
		const fm_wheel *w = k ? &p->robot.right : &p->robot.left;
		size_t n;
		if (p->robot.wheels == FM_WHEELS_SERVO) {
			n = firmata_enc_servo_config(b, w->pin, FM_SERVO_MIN_US, FM_SERVO_MAX_US);
			p->mode[w->pin] = FIRMATA_MODE_SERVO;
		} else {
			int bits = p->pins[w->pin].resolution[FIRMATA_MODE_PWM];
			p->pwm_max = (1 << (bits > 0 && bits <= 14 ? bits : 8)) - 1;
			n = firmata_enc_pin_mode(b, w->pin, FIRMATA_MODE_PWM);
			p->mode[w->pin] = FIRMATA_MODE_PWM;
			if (w->dir >= 0)
				p->mode[w->dir] = FIRMATA_MODE_OUTPUT, p->level[w->dir] = 0;
		}
		if ((rc = fm_send(p, b, n)) < 0)
			return rc;
	}
	for (int k = 0; k < p->robot.noutputs; k++) {
		int pin = p->robot.outputs[k].pin;
		if (p->mode[pin] != FIRMATA_MODE_OUTPUT) {
			if ((rc = fm_send(p, b,
					  firmata_enc_pin_mode(b, pin, FIRMATA_MODE_OUTPUT))) < 0)
				return rc;
			p->mode[pin] = FIRMATA_MODE_OUTPUT;
		}
		p->level[pin] = 0;
	}
	for (int k = 0; k < MAX_PORTS && 8 * k < p->npins; k++)
		if (fm_port_has_output(p, k) && (rc = fm_write_port(p, k)) < 0)
			return rc;
	if (p->robot.wheels != FM_WHEELS_NONE && (rc = fm_drive(p, 0, 0)) < 0)
		return rc;
	fm_halt_prepare(p);
	return 0;
}

/* Whether pin can be one of this driver's digital inputs ("D<pin>" stream). */
static int fm_can_read(const fm_priv *p, int pin)
{
	return pin >= 0 && pin < p->npins && p->pin_stream[pin] >= 0;
}

/* Pins named in a config value (a list string) or a request value (array of names/numbers). */
static int fm_pin_list(const fm_priv *p, const json_t *v, const char *what,
		       uint32_t mask[FIRMATA_MAX_PINS / 32], lb_error *err)
{
	size_t i;
	json_t *item;

	memset(mask, 0, FIRMATA_MAX_PINS / 8);
	if (json_is_string(v)) {
		int rc = firmata_parse_pin_list(json_string_value(v), mask);
		if (rc < 0)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s: '%s' is not a list of pins such as D2, D3", what,
					    json_string_value(v));
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			int pin = -1;
			if (json_is_integer(item) && json_integer_value(item) >= 0 &&
			    json_integer_value(item) < FIRMATA_MAX_PINS)
				pin = (int)json_integer_value(item);
			else if (json_is_string(item))
				pin = firmata_parse_pin(json_string_value(item),
							strlen(json_string_value(item)));
			if (pin < 0)
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "%s: item %zu is not a pin (e.g. \"D2\" or 2)",
						    what, i);
			mask[pin / 32] |= 1u << (pin % 32);
		}
	} else {
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s must be a list of pins, e.g. [\"D2\", \"D3\"]", what);
	}
	for (int pin = 0; pin < FIRMATA_MAX_PINS; pin++)
		if ((mask[pin / 32] & (1u << (pin % 32))) && !fm_can_read(p, pin))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s: D%d is not a digital input of this board (inputs: "
					    "D2..D%d)",
					    what, pin, p->npins > 14 ? 13 : p->npins - 1);
	return 0;
}

/*
 * Make the pins of mask inputs of the given mode (input or pullup); the pins of that mode not
 * in mask become outputs (low). 0, or negative with err set.
 */
static int fm_set_inputs(lb_device *dev, fm_priv *p, int mode,
			 const uint32_t mask[FIRMATA_MAX_PINS / 32], lb_error *err)
{
	for (int pin = 0; pin < p->npins; pin++) {
		int want = (mask[pin / 32] >> (pin % 32)) & 1, rc = 0;
		if (want && p->mode[pin] != mode)
			rc = fm_set_pin(dev, p, pin, mode);
		else if (!want && p->mode[pin] == mode)
			rc = fm_set_pin(dev, p, pin, FIRMATA_MODE_OUTPUT);
		if (rc < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	}
	return 0;
}

/* Names of the pins in mode, as a JSON array ("D2", ...). */
static json_t *fm_pins_in(const fm_priv *p, int mode)
{
	json_t *a = json_array();
	char name[16];

	for (int pin = 0; pin < p->npins; pin++)
		if (p->pin_stream[pin] >= 0 && p->mode[pin] == mode) {
			snprintf(name, sizeof name, "D%d", pin);
			json_array_append_new(a, json_string(name));
		}
	return a;
}

static int fm_start(lb_device *dev, const lb_now *now, lb_error *err);
static void fm_close(lb_device *dev);

/* Apply [firmata.NAME] inputs, pullup and interval_ms (bad values: a warning, not a failure). */
static void fm_apply_config(lb_device *dev, fm_priv *p)
{
	const char *section =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "section"));
	static const char *const keys[] = {"inputs", "pullup"};
	const char *ms =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "interval_ms"));

	for (int k = 0; k < 2; k++) {
		json_t *v = json_object_get(lb_device_get_spec(dev)->params, keys[k]);
		uint32_t mask[FIRMATA_MAX_PINS / 32];
		lb_error err = {0};
		if (!v)
			continue;
		if (fm_pin_list(p, v, keys[k], mask, &err) < 0 ||
		    fm_set_inputs(dev, p, k ? FIRMATA_MODE_PULLUP : FIRMATA_MODE_INPUT, mask,
				  &err) < 0)
			lb_warn("config [%s]: %s", section ? section : "firmata", err.message);
	}
	if (ms) {
		char *end;
		long v = strtol(ms, &end, 10);
		int min = fm_min_interval(p, fm_nenabled(p));
		if (*end || end == ms || v < 1 || v > 16383) {
			lb_warn("config [%s]: interval_ms = %s is not a number of ms from %d to "
				"16383; keeping %d",
				section, ms, min, p->interval_ms);
		} else if (v < min) {
			lb_warn("config [%s]: interval_ms = %ld is below what %s %d.%d delivers "
				"with %d analog input(s); using %d ms",
				section, v, p->firmware, p->fw_major, p->fw_minor, fm_nenabled(p),
				min);
			p->interval_ms = min;
		} else {
			p->interval_ms = (int)v;
		}
	}
}

static int fm_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *path =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path"));
	fm_priv *p = calloc(1, sizeof *p);
	uint8_t q[8];
	int rc, n_analog, major, minor;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->interval_ms = 19;
	p->vref = 5.0;
	p->last_rx = now->mono;
	p->halt_fd = -1;
	p->pwm_max = 255;
	for (int c = 0; c < MAX_CHANNELS; c++)
		p->stream_of[c] = -1;
	for (int pin = 0; pin < FIRMATA_MAX_PINS; pin++)
		p->pin_stream[pin] = -1, p->published[pin] = -1;
	p->port = lb_serial_open(path, FIRMATA_BAUD, err);
	if (!p->port)
		goto fail;
	/* the halt hook's own fd: close() may close the port while it writes */
	p->halt_fd = dup(lb_serial_fd(p->port));
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
	/* the version decides what the board can do (boards since 2.0 answer F9) */
	if (fm_await(dev, p, have_version, q, firmata_enc_version_query(q), 1000000000LL) < 0)
		lb_warn("device %s: no protocol version answer; assuming %d.%d as its firmware",
			lb_device_id(dev), p->fw_major, p->fw_minor);
	fm_version(p, &major, &minor);
	p->feat = firmata_features_of(major, minor);
	if (fm_await(dev, p, have_capabilities, q, firmata_enc_query(q, FIRMATA_CAPABILITY_QUERY),
		     2000000000LL) < 0 ||
	    fm_await(dev, p, have_mapping, q, firmata_enc_query(q, FIRMATA_ANALOG_MAPPING_QUERY),
		     2000000000LL) < 0) {
		lb_error_set(err, LB_ERR_DEVICE,
			     "%s: %s %d.%d answered but not the capability/analog mapping queries",
			     path, p->firmware, p->fw_major, p->fw_minor);
		goto fail;
	}
	/* a robot's wheels and outputs: pins the board has, in modes it has */
	if (fm_robot_load(dev, p, err) < 0)
		goto fail;
	/* SYSTEM_RESET: analog pins analog, digital pins outputs, nothing reported (whatever a
	 * previous program left, on boards that DTR does not reset) */
	if (fm_send(p, q, firmata_enc_reset(q)) < 0)
		goto fail_write;
	for (int pin = 0; pin < p->npins; pin++) {
		if (p->pins[pin].analog_channel != 127)
			p->mode[pin] = FIRMATA_MODE_ANALOG;
		else if (p->pins[pin].modes & (1u << FIRMATA_MODE_OUTPUT))
			p->mode[pin] = FIRMATA_MODE_OUTPUT;
		else
			p->mode[pin] = MODE_NONE; /* D0/D1: the serial line */
	}
	for (int pin = 0; pin < p->npins; pin++) {
		int c = p->pins[pin].analog_channel;
		char name[8];
		int s;
		if (c >= MAX_CHANNELS || !(p->pins[pin].modes & (1u << FIRMATA_MODE_ANALOG)) ||
		    p->robot_pin[pin])
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
		lb_sclock_init(&p->clock[c], 1000000LL * p->interval_ms);
		p->enabled |= 1u << c;
	}
	n_analog = lb_device_nstreams(dev);
	for (int pin = 0; pin < p->npins && pin < 8 * MAX_PORTS; pin++) {
		/* a digital input stream per pin that is not an analog input: D2..D13 on an Uno */
		char name[16];
		int s;
		if (!(p->pins[pin].modes & (1u << FIRMATA_MODE_INPUT)) ||
		    p->pins[pin].analog_channel != 127 || p->robot_pin[pin])
			continue;
		snprintf(name, sizeof name, "D%d", pin);
		s = lb_device_add_stream(dev, name, "digital", "", LB_U8, 0);
		if (s < 0)
			break; /* boards with more pins than streams: the first ones */
		lb_stream_set_range(dev, s, 0, 1, 1);
		p->pin_stream[pin] = s;
	}
	for (int k = 0; k < MAX_PORTS && 8 * k < p->npins; k++)
		if (fm_write_port(p, k) < 0)
			goto fail_write;
	if (fm_robot_setup(p) < 0)
		goto fail_write;
	fm_apply_config(dev, p);
	fm_announce(dev, p, 1000.0 / p->interval_ms);
	lb_info("device %s: %s %d.%d (protocol %d.%d) on %s, %d pins, %d analog inputs, %d "
		"digital pins, sampling every %d ms at the fastest",
		lb_device_id(dev), p->firmware, p->fw_major, p->fw_minor, major, minor, path,
		p->npins, n_analog, lb_device_nstreams(dev) - n_analog, p->feat.min_interval_ms);
	/* sensors stream from the start, as the simulated ones do */
	if (fm_start(dev, now, err) < 0)
		goto fail;
	lb_device_set_running(dev, true);
	if (p->robot.wheels != FM_WHEELS_NONE) {
		lb_info("device %s: a robot with %s wheels on D%d and D%d, %d output(s)",
			lb_device_id(dev), p->robot.wheels == FM_WHEELS_SERVO ? "servo" : "PWM",
			p->robot.left.pin, p->robot.right.pin, p->robot.noutputs);
		fm_state(dev, p, "idle", NULL);
	}
	return 0;
fail_write:
	lb_error_set(err, LB_ERR_DEVICE, "%s: cannot write to the board", path);
fail:
	fm_close(dev); /* close() is only called after a successful open */
	return LB_EFAIL;
}

static int fm_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	fm_priv *p = lb_device_priv(dev);

	atomic_store(&p->halted, 0); /* started again after a halt */
	p->last_rx = now->mono;
	for (int c = 0; c < MAX_CHANNELS; c++)
		lb_sclock_reset(&p->clock[c]);
	for (int pin = 0; pin < FIRMATA_MAX_PINS; pin++)
		p->published[pin] = -1;
	fm_measure_restart(p);
	if (fm_report(p, 1) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	return 0;
}

static int fm_stop(lb_device *dev, lb_error *err)
{
	fm_priv *p = lb_device_priv(dev);

	if (fm_report(p, 0) < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	return 0;
}

/*
 * The halt hook (another thread, driver.h): the precomputed stop (wheels still, every output
 * low: fm_halt_prepare) written at once to the port's dup'd fd, a few bytes in one write; a
 * sensor board's samples stop too (an atomic flag), a robot's sensors go on streaming. The bytes
 * may land inside a message the board's thread is writing (the firmware then drops one or the
 * other: inside a sysex it swallows them): fm_halted, which the core runs in the board's thread
 * ahead of any other command, writes the whole stop again. Returns 0, or LB_EGONE when the board
 * could not be told.
 */
static int fm_halt(lb_device *dev)
{
	fm_priv *p = lb_device_priv(dev);
	uint8_t b[HALT_MAX];
	int n;

	if (p->robot.wheels == FM_WHEELS_NONE)
		atomic_store(&p->halted, 1);
	n = fm_halt_bytes(p, b);
	if (p->halt_fd < 0 || n <= 0)
		return p->halt_fd < 0 ? LB_EGONE : 0;
	return write(p->halt_fd, b, (size_t)n) == n ? 0 : LB_EGONE;
}

/*
 * After a halt, in the board's thread: every output pin low (a relay, a motor driver, a heater
 * on a digital pin is switched off), a robot's wheels still and its state "stopped" (its
 * sensors keep streaming), a sensor board's reporting off, as device.stop.
 */
static void fm_halted(lb_device *dev, const lb_now *now)
{
	fm_priv *p = lb_device_priv(dev);
	int fail = 0;

	(void)now;
	if (p->robot.wheels != FM_WHEELS_NONE && fm_drive(p, 0, 0) < 0)
		fail = 1;
	for (int k = 0; k < MAX_PORTS && 8 * k < p->npins; k++) {
		int outputs = 0;
		for (int i = 0; i < 8 && 8 * k + i < p->npins; i++)
			if (p->mode[8 * k + i] == FIRMATA_MODE_OUTPUT) {
				p->level[8 * k + i] = 0;
				outputs = 1;
			}
		if (outputs && fm_write_port(p, k) < 0)
			fail = 1;
	}
	if (p->robot.wheels != FM_WHEELS_NONE) {
		fm_state(dev, p, "stopped", "halted");
	} else {
		if (lb_device_running(dev) && fm_report(p, 0) < 0)
			fail = 1;
		lb_device_set_running(dev, false);
	}
	if (fail)
		lb_err("device %s: halted, but the board could not be told (outputs, reporting)",
		       lb_device_id(dev));
}

static void fm_close(lb_device *dev)
{
	fm_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (p->port && p->robot.wheels != FM_WHEELS_NONE) {
		/* a robot left by the bridge (shutdown, a failed open) does not drive on */
		uint8_t b[HALT_MAX];
		int n = fm_halt_bytes(p, b);
		if (n > 0 && fm_send(p, b, (size_t)n) < 0)
			lb_warn("device %s: closed, but its wheels could not be stopped",
				lb_device_id(dev));
	}
	if (p->halt_fd >= 0)
		close(p->halt_fd);
	lb_serial_destroy(&p->port);
	free(p);
	lb_device_set_priv(dev, NULL);
}

static json_t *fm_config_get(lb_device *dev)
{
	fm_priv *p = lb_device_priv(dev);
	json_t *ch = json_array(), *outputs = json_object(), *cfg;
	char version[16], name[16];
	int major, minor;

	for (int c = 0; c < MAX_CHANNELS; c++)
		if (p->stream_of[c] >= 0 && (p->enabled & (1u << c)))
			json_array_append_new(ch, json_integer(c));
	for (int pin = 0; pin < p->npins; pin++)
		if (p->pin_stream[pin] >= 0 && p->mode[pin] == FIRMATA_MODE_OUTPUT) {
			snprintf(name, sizeof name, "D%d", pin);
			json_object_set_new(outputs, name, json_integer(p->level[pin]));
		}
	fm_version(p, &major, &minor);
	snprintf(version, sizeof version, "%d.%d", major, minor);
	cfg = json_pack(
	    "{s:i,s:f,s:f,s:o,s:s,s:s,s:i,s:o,s:o,s:o,s:s,s:s}", "interval_ms", p->interval_ms,
	    "rate", p->rate, "vref", p->vref, "channels", ch, "firmware", p->firmware, "protocol",
	    version, "min_interval_ms", fm_min_interval(p, fm_nenabled(p)), "inputs",
	    fm_pins_in(p, FIRMATA_MODE_INPUT), "pullup", fm_pins_in(p, FIRMATA_MODE_PULLUP),
	    "outputs", outputs, "pullup_by", p->feat.pullup_mode ? "mode" : "port bit", "port",
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path")));
	if (cfg && p->robot.wheels != FM_WHEELS_NONE) {
		/* the robot: its wheels' pins, speeds and what the pins were written */
		json_t *outs = json_object(), *r;
		for (int k = 0; k < p->robot.noutputs; k++)
			json_object_set_new(outs, p->robot.outputs[k].name,
					    json_integer(p->level[p->robot.outputs[k].pin]));
		r = json_pack("{s:s,s:[i,i],s:[f,f],s:[i,i],s:o}", "wheels",
			      p->robot.wheels == FM_WHEELS_SERVO ? "servo" : "pwm", "pins",
			      p->robot.left.pin, p->robot.right.pin, "speed", p->speed[0],
			      p->speed[1], "written", p->wheel_value[0], p->wheel_value[1],
			      "outputs", outs);
		json_object_set_new(cfg, "robot", r);
	}
	return cfg;
}

static json_t *fm_limits_get(lb_device *dev)
{
	fm_priv *p = lb_device_priv(dev);

	/* the firmware's MINIMUM_SAMPLING_INTERVAL, or the line with the enabled inputs */
	return json_pack("{s:{s:i,s:i},s:{s:f,s:f}}", "interval_ms", "min",
			 fm_min_interval(p, fm_nenabled(p)), "max", 16383, "vref", "min", 0.1,
			 "max", 30.0);
}

static int fm_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	fm_priv *p = lb_device_priv(dev);

	if (strcmp(key, "interval_ms") == 0) {
		json_int_t ms = json_integer_value(value);
		if (!json_is_integer(value) || ms < 1)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "interval_ms must be an integer number of ms");
		if (fm_check_interval(p, ms, fm_nenabled(p), err) < 0)
			return LB_EFAIL;
		p->interval_ms = (int)ms;
		fm_announce(dev, p, 1000.0 / p->interval_ms);
		fm_measure_restart(p);
		if (lb_device_running(dev) && fm_report(p, 1) < 0)
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
		int n = 0;
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
			n += !(mask & (1u << ch));
			mask |= 1u << ch;
		}
		if (fm_check_interval(p, p->interval_ms, n, err) < 0)
			return LB_EFAIL;
		p->enabled = mask;
		fm_measure_restart(p);
		if (lb_device_running(dev) && fm_report(p, 1) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
		return 0;
	}
	if (strcmp(key, "inputs") == 0 || strcmp(key, "pullup") == 0) {
		uint32_t mask[FIRMATA_MAX_PINS / 32];
		int rc = fm_pin_list(p, value, key, mask, err);
		if (rc < 0)
			return rc;
		rc = fm_set_inputs(dev, p, key[0] == 'i' ? FIRMATA_MODE_INPUT : FIRMATA_MODE_PULLUP,
				   mask, err);
		lb_device_changed(dev);
		return rc;
	}
	return lb_error_set(
	    err, LB_ERR_NOT_SUPPORTED,
	    "no setting '%s' (settings: interval_ms, vref, channels, inputs, pullup)", key);
}

/* A pin from args.pin: a number or a name such as "D13". */
static int fm_arg_pin(const fm_priv *p, const json_t *args, lb_error *err)
{
	json_t *v = json_object_get(args, "pin");
	long long pin = -1;

	if (json_is_string(v))
		pin = firmata_parse_pin(json_string_value(v), strlen(json_string_value(v)));
	else if (json_is_integer(v))
		pin = json_integer_value(v);
	if (pin < 0 || pin >= p->npins)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "pin must be a pin of the board: 0 to %d, or a name such as "
				    "\"D13\"",
				    p->npins - 1);
	return (int)pin;
}

static int have_pin_state(const fm_priv *p)
{
	return p->state_got;
}

/* pin_state {pin}: the board's own answer (PIN_STATE_QUERY): {pin, mode, state}. */
static int fm_pin_state(lb_device *dev, fm_priv *p, int pin, json_t **result, lb_error *err)
{
	uint8_t q[8];
	char name[16];
	int rc;

	p->state_pin = pin;
	p->state_got = 0;
	rc = fm_await(dev, p, have_pin_state, q, firmata_enc_pin_state_query(q, pin), STATE_NS);
	if (rc == LB_EGONE)
		return lb_error_set(err, LB_ERR_DEVICE, "the board is gone (unplugged?)");
	if (rc < 0)
		return lb_error_set(err, LB_ERR_TIMEOUT,
				    "the board did not answer the pin state query of D%d within "
				    "%lld ms (StandardFirmata answers it from 2.2)",
				    pin, STATE_NS / 1000000);
	snprintf(name, sizeof name, "D%d", pin);
	*result = json_pack("{s:s,s:s,s:i,s:I}", "pin", name, "mode", mode_name(p->state_mode),
			    "mode_number", p->state_mode, "state", (json_int_t)p->state_value);
	return 0;
}

/* The robot's actions (sdk/robot.h; arguments checked by the robot service). */
static int fm_robot_call(lb_device *dev, fm_priv *p, const char *action, const json_t *args,
			 json_t **result, lb_error *err)
{
	if (p->robot.wheels == FM_WHEELS_NONE)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "%s: this board is not mapped as a robot (robot = servo-wheels "
				    "or pwm-wheels in its [firmata.NAME] section)",
				    action);
	if (strcmp(action, LB_ROBOT_MOVE) == 0 || strcmp(action, LB_ROBOT_STOP) == 0 ||
	    strcmp(action, LB_ROBOT_PROG_STOP) == 0) {
		int move = strcmp(action, LB_ROBOT_MOVE) == 0;
		double l = move ? json_number_value(json_object_get(args, "left")) : 0;
		double r = move ? json_number_value(json_object_get(args, "right")) : 0;
		if (!isfinite(l) || !isfinite(r) || fabs(l) > 1 || fabs(r) > 1)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "left and right are wheel speeds from -1 to 1");
		if (fm_drive(p, l, r) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "the board is gone (unplugged?)");
		fm_state(dev, p, l != 0 || r != 0 ? "running" : "idle",
			 l != 0 || r != 0 ? "moving" : NULL);
		*result = json_null();
		return 0;
	}
	if (strcmp(action, LB_ROBOT_SET) == 0) {
		const char *key;
		json_t *v;
		uint32_t ports = 0;
		if (!json_is_object(args))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "robot.set takes an object of outputs, e.g. {\"led\": "
					    "true}");
		/* all checked before any is written */
		json_object_foreach((json_t *)args, key, v)
		{
			int k;
			for (k = 0; k < p->robot.noutputs; k++)
				if (strcmp(p->robot.outputs[k].name, key) == 0)
					break;
			if (k == p->robot.noutputs)
				return lb_error_set(
				    err, LB_ERR_INVALID_PARAMS,
				    "this robot has no output '%.40s' (its outputs: "
				    "the outputs of its description)",
				    key);
			if (!json_is_boolean(v) &&
			    !(json_is_integer(v) &&
			      (json_integer_value(v) == 0 || json_integer_value(v) == 1)))
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "%s: true or false (on or off)", key);
		}
		json_object_foreach((json_t *)args, key, v)
		{
			for (int k = 0; k < p->robot.noutputs; k++)
				if (strcmp(p->robot.outputs[k].name, key) == 0) {
					int pin = p->robot.outputs[k].pin;
					p->level[pin] = json_is_true(v) || (json_is_integer(v) &&
									    json_integer_value(v));
					ports |= 1u << (pin / 8);
				}
		}
		for (int k = 0; k < MAX_PORTS; k++)
			if ((ports & (1u << k)) && fm_write_port(p, k) < 0)
				return lb_error_set(err, LB_ERR_DEVICE,
						    "the board is gone (unplugged?)");
		lb_device_changed(dev);
		*result = json_null();
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
			    "%s: a Firmata robot runs no programs (its languages are none): drive "
			    "it with robot.move",
			    action);
}

/* Actions: pin_mode {pin, mode}, digital_write {pin, value}, pin_state {pin}, and a robot's. */
static int fm_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	fm_priv *p = lb_device_priv(dev);
	long long v = 0;
	char what[48];
	int pin;

	if (strncmp(action, "robot.", 6) == 0)
		return fm_robot_call(dev, p, action, args, result, err);
	if (strcmp(action, "pin_mode") != 0 && strcmp(action, "digital_write") != 0 &&
	    strcmp(action, "pin_state") != 0)
		return lb_error_set(
		    err, LB_ERR_NOT_SUPPORTED,
		    "unknown action '%s' (actions: pin_mode, digital_write, pin_state)", action);
	if ((pin = fm_arg_pin(p, args, err)) < 0)
		return LB_EFAIL;
	if (strcmp(action, "pin_state") == 0)
		return fm_pin_state(dev, p, pin, result, err);
	if (fm_robot_uses(&p->robot, pin, what, sizeof what))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "D%d is %s (its config): robot.move and robot.set drive it",
				    pin, what);
	if (action[0] == 'p') {
		json_t *m = json_object_get(args, "mode");
		if (json_is_string(m)) {
			const char *name = json_string_value(m);
			v = -1;
			for (int k = 0; k < 5; k++)
				if (strcmp(name, mode_names[k]) == 0)
					v = k;
			if (strcmp(name, "pullup") == 0)
				v = FIRMATA_MODE_PULLUP;
			if (v < 0)
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "mode must be input, pullup, output, analog, "
						    "pwm or servo (or its number)");
		} else if (lb_param_int(args, "mode", true, 0, 15, &v, err) < 0) {
			return LB_EFAIL;
		}
		/* a pull-up without PULLUP mode: INPUT and the port bit (2.3/2.4) */
		if (!(p->pins[pin].modes & (1u << v)) &&
		    !(v == FIRMATA_MODE_PULLUP &&
		      (p->pins[pin].modes & (1u << FIRMATA_MODE_INPUT))))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "pin %d does not support mode %s (see the board's "
					    "capabilities)",
					    pin, mode_name((int)v));
		if (v == FIRMATA_MODE_INPUT || v == FIRMATA_MODE_PULLUP ||
		    v == FIRMATA_MODE_OUTPUT) {
			if (fm_set_pin(dev, p, pin, (int)v) < 0)
				return lb_error_set(err, LB_ERR_DEVICE,
						    "cannot write to the board");
			if (is_input_mode((int)v) && p->pin_stream[pin] < 0)
				lb_warn("device %s: D%d is an input but has no stream (the "
					"board has more pins than a device has streams)",
					lb_device_id(dev), pin);
		} else {
			uint8_t b[4];
			if (fm_send(p, b, firmata_enc_pin_mode(b, pin, (int)v)) < 0)
				return lb_error_set(err, LB_ERR_DEVICE,
						    "cannot write to the board");
			p->mode[pin] = (uint8_t)v;
			fm_halt_prepare(p);
		}
		lb_device_changed(dev);
	} else {
		if (lb_param_int(args, "value", true, 0, 1, &v, err) < 0)
			return LB_EFAIL;
		if (p->mode[pin] == MODE_NONE)
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "D%d cannot be written: the firmware leaves it alone (D0 "
			    "and D1 are its serial line)",
			    pin);
		if (p->mode[pin] != FIRMATA_MODE_OUTPUT)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "D%d is in %s mode: the firmware writes only outputs "
					    "(pin_mode output first)",
					    pin, mode_name(p->mode[pin]));
		/* DIGITAL_MESSAGE, which every version obeys (2.3/2.4 ignore F5) */
		p->level[pin] = (uint8_t)v;
		if (pin >= 8 * MAX_PORTS || fm_write_port(p, pin / 8) < 0)
			return lb_error_set(err, LB_ERR_DEVICE, "cannot write to the board");
	}
	*result = json_null();
	return 0;
}

static int fm_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	fm_priv *p = lb_device_priv(dev);

	if (max < 1)
		return 0;
	items[0].socket = NULL;
	items[0].fd = lb_serial_fd(p->port);
	items[0].events = ZMQ_POLLIN;
	return 1;
}

/*
 * StandardFirmata 2.3 sends no value when a port's reporting begins, only changes from its last
 * report (0 after reset, input bits only): an input that reads 0 stays silent. A port that sent
 * nothing QUIET_NS after reporting began (its message would have been read first) has its
 * unpublished inputs at 0: publish that. Lowers *deadline to the next such check.
 */
static void fm_quiet_ports(lb_device *dev, fm_priv *p, const lb_now *now, int64_t *deadline)
{
	for (int k = 0; k < MAX_PORTS; k++) {
		if (p->quiet[k] == -1)
			p->quiet[k] = now->mono;
		if (p->quiet[k] <= 0 || !lb_device_running(dev))
			continue;
		if (now->mono - p->quiet[k] < QUIET_NS) {
			if (*deadline < 0 || *deadline > p->quiet[k] + QUIET_NS)
				*deadline = p->quiet[k] + QUIET_NS;
			continue;
		}
		for (int i = 0; i < 8 && 8 * k + i < p->npins; i++) {
			int pin = 8 * k + i;
			if (p->pin_stream[pin] >= 0 && is_input_mode(p->mode[pin]) &&
			    p->published[pin] < 0)
				fm_publish_pin(dev, p, pin, 0, p->quiet[k], now);
		}
		p->quiet[k] = 0;
	}
}

static int fm_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	fm_priv *p = lb_device_priv(dev);

	(void)items, (void)nitems;
	if (fm_pump(dev, p, now) == LB_EGONE)
		return LB_EGONE;
	if (lb_device_running(dev) && fm_nenabled(p))
		fm_measure(dev, p, now->mono);
	if (lb_device_running(dev) && p->enabled) {
		if (now->mono - p->last_rx > SILENCE_NS) {
			lb_warn("device %s stopped answering (nothing for %lld s)",
				lb_device_id(dev), SILENCE_NS / 1000000000LL);
			return LB_EGONE;
		}
		*deadline = p->last_rx + SILENCE_NS + 1;
	}
	fm_quiet_ports(dev, p, now, deadline);
	return 0;
}

/* The StandardFirmata release the emulated Uno runs: [firmata] emulator_version (2.3-2.5). */
static int fm_emu_minor = 5;

/* The simulated lab's board: an emulated Uno (firmata.emulator injects faults). */
static void *fm_emu_create(lb_error *err)
{
	return firmata_emu_new(fm_emu_minor, err);
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

/* The simulated lab's Firmata robot: a second emulated Uno (StandardFirmata 2.5) whose servos
 * D9 and D10 are its wheels, D13 its LED and D8 its buzzer (sim_robot_conf). */
static void *fm_emu_robot_create(lb_error *err)
{
	return firmata_emu_new(5, err);
}

static lb_emulated fm_emulated_robot = {
    .driver = "firmata",
    .description = "Simulated Firmata robot (StandardFirmata emulator)",
    .serial = SIM_ROBOT_SERIAL,
    .vid = 0x2341,
    .pid = 0x0043,
    .create = fm_emu_robot_create,
    .path = fm_emu_path,
    .set_fault = fm_emu_fault,
    .destroy = fm_emu_destroy,
};

/* The simulated boards start with the lab: the sensor board running the configured
 * StandardFirmata release, and the robot. */
static int fm_simulate(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports)
{
	const char *v = lb_config_str(ctx->config, "firmata", "emulator_version", NULL);

	(void)drv;
	if (v && !fm_emulated.emu) {
		if (strcmp(v, "2.3") == 0 || strcmp(v, "2.4") == 0 || strcmp(v, "2.5") == 0)
			fm_emu_minor = v[2] - '0';
		else
			lb_warn("config [firmata]: emulator_version = %s: the emulator runs 2.3, "
				"2.4 or 2.5; using 2.%d",
				v, fm_emu_minor);
	}
	if (lb_emulated_port(&fm_emulated, ports) < 0)
		return LB_EFAIL;
	return lb_emulated_port(&fm_emulated_robot, ports);
}

/* Stop the simulated board at shutdown. */
static void fm_cleanup(const lb_driver *drv)
{
	(void)drv;
	lb_emulated_stop(&fm_emulated);
	lb_emulated_stop(&fm_emulated_robot);
}

static int fm_board_call(lb_emulated *em, const char *method, const json_t *params, json_t **result,
			 lb_error *err);

/*
 * firmata.emulator {fault: ok|silent|garbage|unplug|plug}: faults of the simulated board;
 * firmata.emulator {probe: true}: what its pins carry ({version, interval_ms, pins: {D2: {level,
 * mode, state}}}), as a voltmeter on the board would show (state: Firmata's pin state, a servo's
 * angle, a PWM duty);
 * firmata.emulator {burst_ms, min_interval_ms}: its output in bursts, a slower firmware (0: off).
 * With board: "robot", the same of the simulated robot's board; a fault without board reaches
 * both boards.
 */
static int fm_bridge_call(const lb_driver *drv, const char *method, const json_t *params,
			  json_t **result, lb_error *err)
{
	json_t *board = json_object_get(params, "board");

	(void)drv;
	if (board) {
		json_t *rest;
		int rc;
		if (!json_is_string(board) || strcmp(json_string_value(board), "robot") != 0)
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "board must be \"robot\" (the simulated robot's board), "
			    "or absent (the sensor board)");
		rest = json_deep_copy(params);
		if (!rest)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		json_object_del(rest, "board");
		rc = fm_board_call(&fm_emulated_robot, method, rest, result, err);
		json_decref(rest);
		return rc;
	}
	if (strcmp(method, "emulator") == 0 && json_object_get(params, "fault")) {
		/* a fault of the lab's Firmata boards: both (the robot's only when it runs, or
		 * for unplug/plug), as each family's "<driver>.emulator {fault}" reaches its robot
		 */
		lb_error rerr = {0};
		json_t *rres = NULL;
		int rc = fm_board_call(&fm_emulated, method, params, result, err);
		int rrc = fm_board_call(&fm_emulated_robot, method, params, &rres, &rerr);
		json_decref(rres);
		if (rc < 0 && rrc == 0) {
			*err = (lb_error){0};
			*result = json_null();
			return 0;
		}
		return rc;
	}
	return fm_board_call(&fm_emulated, method, params, result, err);
}

/* firmata.emulator for one of the emulated boards (fm_bridge_call). */
static int fm_board_call(lb_emulated *em, const char *method, const json_t *params, json_t **result,
			 lb_error *err)
{
	if (strcmp(method, "emulator") != 0)
		return lb_emulated_fault(em, method, params, result, err); /* its error */
	if (json_object_get(params, "burst_ms") || json_object_get(params, "min_interval_ms")) {
		long long burst = 0, slow = 0;
		if (lb_param_int(params, "burst_ms", false, 0, 2000, &burst, err) < 0 ||
		    lb_param_int(params, "min_interval_ms", false, 0, 16383, &slow, err) < 0)
			return LB_EFAIL;
		if (!em->emu)
			return lb_error_set(
			    err, LB_ERR_NOT_SUPPORTED,
			    "the simulated Firmata board is not running (or unplugged)");
		firmata_emu_set_timing(em->emu, (int)burst, (int)slow);
		*result = json_null();
		return 0;
	}
	if (json_is_true(json_object_get(params, "probe")) && json_object_size(params) == 1) {
		firmata_emu_probe pr;
		json_t *pins;
		char name[16], version[16];
		if (!em->emu)
			return lb_error_set(
			    err, LB_ERR_NOT_SUPPORTED,
			    "the simulated Firmata board is not running (or unplugged)");
		firmata_emu_probe_pins(em->emu, &pr);
		pins = json_object();
		for (int pin = 2; pin < 20; pin++) {
			snprintf(name, sizeof name, "D%d", pin);
			json_object_set_new(pins, name,
					    json_pack("{s:i,s:s,s:i}", "level", pr.level[pin],
						      "mode", mode_name(pr.mode[pin]), "state",
						      pr.state[pin]));
		}
		snprintf(version, sizeof version, "2.%d", pr.minor);
		*result = json_pack("{s:s,s:i,s:o}", "version", version, "interval_ms",
				    pr.interval_ms, "pins", pins);
		return 0;
	}
	return lb_emulated_fault(em, method, params, result, err);
}

/* Events (device.emit): digital_write {pin, value} without an answer, for pins driven fast (a
 * motor from a joystick); a refused write is logged by the bridge. */
static int fm_event(lb_device *dev, const char *name, const json_t *args, lb_error *err)
{
	json_t *result = NULL;
	int rc = fm_call(dev, name, args, &result, err);

	json_decref(result);
	return rc;
}

static const lb_action fm_events[] = {
    {"digital_write", LB_ROLE_STUDENT,
     LB_ACTION_MOTION}, /* as the action: a stopped room refuses it */
    {NULL, 0, 0},
};

/* What device.call reaches: the pins, for students holding the device; a robot's actions for
 * the robot service (sdk/robot.h). */
static const lb_action fm_actions[] = {
    {"pin_mode", LB_ROLE_STUDENT, 0},
    {"digital_write", LB_ROLE_STUDENT, LB_ACTION_MOTION}, /* a pin may drive a relay, a motor */
    {"pin_state", LB_ROLE_STUDENT, 0},
    {LB_ROBOT_MOVE, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_LOAD, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_RUN, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_PROG_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_SET, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {NULL, 0, 0},
};

/* A robot's description (sdk/robot.h): no languages, its outputs, its wheels; NULL for a
 * sensor board. */
static json_t *fm_describe(lb_device *dev)
{
	fm_priv *p = lb_device_priv(dev);
	json_t *d, *outputs;

	if (!p || p->robot.wheels == FM_WHEELS_NONE)
		return NULL;
	outputs = json_array();
	for (int k = 0; k < p->robot.noutputs; k++)
		json_array_append_new(outputs, json_string(p->robot.outputs[k].name));
	d = json_pack("{s:[],s:o,s:b,s:[sss]}", "languages", "outputs", outputs, "wheels", 1,
		      "extras", "pin_state", "pin_mode", "digital_write");
	if (d && p->robot.max_speed > 0)
		json_object_set_new(d, "max_speed", json_real(p->robot.max_speed));
	if (d && p->robot.wheel_base > 0)
		json_object_set_new(d, "wheel_base", json_real(p->robot.wheel_base));
	return d;
}

static lb_driver firmata_driver = {
    .name = "firmata",
    .description = "Arduino boards running StandardFirmata (57600 baud): sensor boards, and "
		   "robots with their pins mapped to wheels",
    .scan = fm_scan,
    .open = fm_open,
    .close = fm_close,
    .start = fm_start,
    .stop = fm_stop,
    .config_get = fm_config_get,
    .limits_get = fm_limits_get,
    .describe = fm_describe,
    .config_set = fm_config_set,
    .call = fm_call,
    .actions = fm_actions,
    .events = fm_events,
    .event = fm_event,
    .pollitems = fm_pollitems,
    .run = fm_run,
    .simulate = fm_simulate,
    .cleanup = fm_cleanup,
    .bridge_call = fm_bridge_call,
    .halt = fm_halt,
    .halted = fm_halted,
};
LB_REGISTER_DRIVER(firmata_driver);
