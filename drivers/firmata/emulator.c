/* emulator.c - a StandardFirmata board (Arduino Uno) on a pseudo-terminal, for the simulated lab.
 */
#include "emulator.h"

#include "../../bridge/util/clock.h"

#include "../../bridge/sim/ptyboard.h"
#include "../../bridge/sim/simmath.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "../../protocols/firmata.h"

#define EMU_PINS 20 /* D0-D13, A0-A5 as pins 14-19 */
#define EMU_CHANNELS 6
#define EMU_PORTS 3
#define EMU_BYTES_PER_S (FIRMATA_BAUD / 10) /* 8N1: 10 bits per byte */
#define EMU_BOOT_NS 30000000LL		    /* bootloader delay after the port opens */

struct firmata_emu {
	lb_pty_board b; /* the pseudo-terminal and the thread */
	atomic_int fault;
	int minor; /* StandardFirmata 2.minor */
	firmata_features feat;
	/* board state (emulator thread only, mirrored in the atomics for probes) */
	int interval_ms;
	int reporting[EMU_CHANNELS];
	int reporting_port[EMU_PORTS];
	int port_value[EMU_PORTS]; /* last value sent, -1: send at the next check */
	int modes[EMU_PINS];
	int latch[EMU_PINS]; /* the AVR's PORT bit: an output's level, an input's pull-up */
	int state[EMU_PINS]; /* Firmata's pinState */
	int input[EMU_PINS]; /* portConfigInputs: the pin's level is reported */
	uint64_t rng;
	atomic_int probe_level[EMU_PINS];
	atomic_int probe_mode[EMU_PINS];
	atomic_int probe_state[EMU_PINS];
	atomic_int probe_interval;
	atomic_int burst_ms, slow_ms; /* test knobs */
	uint8_t held[8192];	      /* output held back in bursts */
	size_t nheld;
};

/* Write to the host (or hold it for the next burst); drops what the pty cannot take. */
static void emit(firmata_emu *e, const uint8_t *buf, size_t len)
{
	if (atomic_load(&e->burst_ms) > 0) {
		if (len <= sizeof e->held - e->nheld) {
			memcpy(e->held + e->nheld, buf, len);
			e->nheld += len;
		}
		return;
	}
	if (len && write(e->b.master, buf, len) < 0)
		return;
}

/* Let the held bytes out at once. */
static void flush_held(firmata_emu *e)
{
	if (e->nheld && write(e->b.master, e->held, e->nheld) < 0) {
		/* dropped, as a full UART buffer would */
	}
	e->nheld = 0;
}

/* IS_PIN_DIGITAL of an Uno: D2..D19 (D0/D1 are the serial line). */
static int is_digital(int pin)
{
	return pin >= 2 && pin < EMU_PINS;
}

/* IS_PIN_ANALOG of an Uno: A0..A5 are pins 14..19. */
static int is_analog(int pin)
{
	return pin >= 14 && pin < EMU_PINS;
}

/* IS_PIN_SERVO of an Uno: D2..D13 (MAX_SERVOS is 12 on the ATmega328P). */
static int is_servo(int pin)
{
	return pin >= 2 && pin - 2 < 12;
}

/* The board's answer to a capability query: an Uno's pins (PULLUP from 2.5, SERVO at 14 bits on
 * the servo pins). */
static void send_capabilities(firmata_emu *e)
{
	uint8_t b[320];
	size_t n = 0;

	b[n++] = FIRMATA_START_SYSEX;
	b[n++] = FIRMATA_CAPABILITY_RESPONSE;
	for (int pin = 0; pin < EMU_PINS; pin++) {
		if (is_digital(pin)) {
			b[n++] = FIRMATA_MODE_INPUT, b[n++] = 1;
			if (e->feat.pullup_mode)
				b[n++] = FIRMATA_MODE_PULLUP, b[n++] = 1;
			b[n++] = FIRMATA_MODE_OUTPUT, b[n++] = 1;
		}
		if (is_analog(pin))
			b[n++] = FIRMATA_MODE_ANALOG, b[n++] = 10;
		if (pin == 3 || pin == 5 || pin == 6 || pin == 9 || pin == 10 || pin == 11)
			b[n++] = FIRMATA_MODE_PWM, b[n++] = 8;
		if (is_servo(pin))
			b[n++] = FIRMATA_MODE_SERVO, b[n++] = 14;
		b[n++] = 0x7F;
	}
	b[n++] = FIRMATA_END_SYSEX;
	emit(e, b, n);
}

/* The analog mapping: pins 14-19 are channels 0-5. */
static void send_mapping(firmata_emu *e)
{
	uint8_t b[EMU_PINS + 3];
	size_t n = 0;

	b[n++] = FIRMATA_START_SYSEX;
	b[n++] = FIRMATA_ANALOG_MAPPING_RESPONSE;
	for (int pin = 0; pin < EMU_PINS; pin++)
		b[n++] = is_analog(pin) ? (uint8_t)(pin - 14) : 127;
	b[n++] = FIRMATA_END_SYSEX;
	emit(e, b, n);
}

/* A STRING_DATA message (the firmware's complaints, e.g. "Unknown pin mode"). */
static void send_string(firmata_emu *e, const char *text)
{
	uint8_t b[128];
	size_t n = 0, len = strlen(text);

	b[n++] = FIRMATA_START_SYSEX;
	b[n++] = FIRMATA_STRING_DATA;
	for (size_t i = 0; i < len && n + 3 < sizeof b; i++)
		b[n++] = (uint8_t)text[i] & 0x7F, b[n++] = 0;
	b[n++] = FIRMATA_END_SYSEX;
	emit(e, b, n);
}

/* setPinModeCallback of the release. */
static void set_mode(firmata_emu *e, int pin, int mode)
{
	if (!is_digital(pin))
		return;
	if (is_analog(pin))
		e->reporting[pin - 14] = mode == FIRMATA_MODE_ANALOG;
	/* before the mode is checked, as the source does */
	e->input[pin] =
	    mode == FIRMATA_MODE_INPUT || (e->feat.pullup_mode && mode == FIRMATA_MODE_PULLUP);
	e->state[pin] = 0;
	switch (mode) {
	case FIRMATA_MODE_ANALOG:
		if (is_analog(pin))
			e->modes[pin] = mode, e->latch[pin] = 0;
		break;
	case FIRMATA_MODE_INPUT: e->modes[pin] = mode, e->latch[pin] = 0; break;
	case FIRMATA_MODE_PULLUP:
		if (!e->feat.pullup_mode) {
			/* 2.3/2.4: the pin left the input mask, its mode is unchanged */
			send_string(e, "Unknown pin mode");
			break;
		}
		e->modes[pin] = mode, e->latch[pin] = 1, e->state[pin] = 1;
		break;
	case FIRMATA_MODE_OUTPUT:
		/* up to 2.4: digitalWrite(LOW) first; 2.5 only does so after PWM */
		if (!e->feat.pullup_mode || e->modes[pin] == FIRMATA_MODE_PWM)
			e->latch[pin] = 0;
		e->modes[pin] = mode;
		break;
	case FIRMATA_MODE_PWM:
		if (pin == 3 || pin == 5 || pin == 6 || pin == 9 || pin == 10 || pin == 11)
			e->modes[pin] = mode, e->latch[pin] = 0;
		break;
	case FIRMATA_MODE_SERVO:
		/* the servo is attached (its pulses start at the last angle written, 90 at first)
		 */
		if (is_servo(pin))
			e->modes[pin] = mode, e->latch[pin] = 0;
		break;
	default: send_string(e, "Unknown pin mode"); break;
	}
}

/* systemResetCallback: digital pins outputs, analog pins analog, nothing reported. */
static void system_reset(firmata_emu *e)
{
	memset(e->reporting, 0, sizeof e->reporting);
	memset(e->reporting_port, 0, sizeof e->reporting_port);
	for (int k = 0; k < EMU_PORTS; k++)
		e->port_value[k] = 0;
	for (int pin = 0; pin < EMU_PINS; pin++)
		set_mode(e, pin, is_analog(pin) ? FIRMATA_MODE_ANALOG : FIRMATA_MODE_OUTPUT);
	memset(e->reporting, 0, sizeof e->reporting);
}

/* What StandardFirmata does when it starts: hardware reset, then version and firmware report. */
static void boot(firmata_emu *e)
{
	uint8_t b[64];
	size_t n;

	e->interval_ms = 19;
	memset(e->modes, 0, sizeof e->modes);
	memset(e->latch, 0, sizeof e->latch);
	memset(e->input, 0, sizeof e->input);
	system_reset(e);
	n = firmata_enc_version(b, 2, e->minor);
	emit(e, b, n);
	n = firmata_enc_firmware(b, sizeof b, 2, e->minor, "StandardFirmata.ino");
	emit(e, b, n);
}

/* The simulated input of channel c at time t (seconds), as a 10-bit reading. */
static int analog_value(firmata_emu *e, int c, double t)
{
	static const double freq[EMU_CHANNELS] = {0.05, 1.0, 0.5, 2.0, 0.2, 5.0};
	double v =
	    0.5 + 0.4 * lb_sin_turns(freq[c] * t + c * 0.15915494309189535); /* phase c rad */

	e->rng ^= e->rng << 13, e->rng ^= e->rng >> 7, e->rng ^= e->rng << 17;
	v += ((double)(e->rng % 1000) / 1000.0 - 0.5) * 0.004; /* a couple of LSB of noise */
	if (v < 0)
		v = 0;
	if (v > 1)
		v = 1;
	return (int)lround(v * 1023.0);
}

/* The level on a pin at time t: outputs drive it; inputs read the wiring or their pull-up. */
static int pin_level(const firmata_emu *e, int pin, int64_t t)
{
	int phase = (int)((t / 500000000LL) % 2);

	if (e->modes[pin] == FIRMATA_MODE_OUTPUT)
		return e->latch[pin];
	if (pin == 2)
		return phase; /* a light gate's push-pull output */
	if (pin == 3 && !phase)
		return 0; /* the push button to ground, pressed */
	return e->latch[pin] || e->modes[pin] == FIRMATA_MODE_PULLUP; /* pull-up, or floating: 0 */
}

/* Whether the pin's level is reported (portConfigInputs). */
static int is_input(const firmata_emu *e, int pin)
{
	return e->input[pin];
}

/* readPort masked with portConfigInputs. */
static int port_inputs(const firmata_emu *e, int port, int64_t t)
{
	int v = 0;

	for (int k = 0; k < 8 && 8 * port + k < EMU_PINS; k++)
		if (is_digital(8 * port + k) && is_input(e, 8 * port + k))
			v |= pin_level(e, 8 * port + k, t) << k;
	return v;
}

/* analogWriteCallback: a servo's angle (Servo.write) or a PWM duty, kept as the pin's state. */
static void analog_write(firmata_emu *e, int pin, int value)
{
	if (pin < EMU_PINS &&
	    (e->modes[pin] == FIRMATA_MODE_SERVO || e->modes[pin] == FIRMATA_MODE_PWM))
		e->state[pin] = value;
}

/* A PIN_STATE_RESPONSE: the pin, its mode and state (the pin alone for a pin it lacks). */
static void send_pin_state(firmata_emu *e, int pin)
{
	uint8_t b[16];
	size_t n;

	if (pin < EMU_PINS) {
		n = firmata_enc_pin_state(b, pin, e->modes[pin], e->state[pin]);
	} else {
		b[0] = FIRMATA_START_SYSEX, b[1] = FIRMATA_PIN_STATE_RESPONSE;
		b[2] = (uint8_t)pin, b[3] = FIRMATA_END_SYSEX;
		n = 4;
	}
	emit(e, b, n);
}

/* Handle one message from the host. */
static void handle(firmata_emu *e, const firmata_msg *m, int64_t t)
{
	uint8_t b[64];
	size_t n;

	switch (m->type) {
	case FIRMATA_MSG_VERSION_QUERY:
		n = firmata_enc_version(b, 2, e->minor);
		emit(e, b, n);
		break;
	case FIRMATA_MSG_RESET: system_reset(e); break;
	case FIRMATA_MSG_REPORT_ANALOG:
		if (m->pin < EMU_CHANNELS) {
			e->reporting[m->pin] = m->value != 0;
			if (m->value && e->feat.report_on_enable)
				emit(e, b,
				     firmata_enc_analog(b, m->pin, analog_value(e, m->pin, 0)));
		}
		break;
	case FIRMATA_MSG_REPORT_DIGITAL:
		if (m->pin < EMU_PORTS) {
			e->reporting_port[m->pin] = m->value != 0;
			if (m->value && e->feat.report_on_enable) {
				e->port_value[m->pin] = port_inputs(e, m->pin, t);
				emit(e, b, firmata_enc_digital(b, m->pin, e->port_value[m->pin]));
			}
		}
		break;
	case FIRMATA_MSG_PIN_MODE:
		if (m->pin < EMU_PINS)
			set_mode(e, m->pin, m->value);
		break;
	case FIRMATA_MSG_ANALOG: analog_write(e, m->pin, m->value); break;
	case FIRMATA_MSG_DIGITAL:
		/* digitalWriteCallback: a port's OUTPUT pins, and INPUT pins' pull-ups */
		for (int k = 0; k < 8 && m->pin < EMU_PORTS; k++) {
			int pin = 8 * m->pin + k, bit = (m->value >> k) & 1;
			if (!is_digital(pin))
				continue;
			if (e->modes[pin] == FIRMATA_MODE_OUTPUT) {
				e->latch[pin] = bit;
			} else if (e->modes[pin] == FIRMATA_MODE_INPUT) {
				if (!e->feat.pullup_mode)
					e->latch[pin] = bit; /* writePort: the PORT bit */
				else if (bit && e->state[pin] != 1)
					e->latch[pin] = 1; /* pinMode(INPUT_PULLUP) */
			} else {
				continue;
			}
			e->state[pin] = bit;
		}
		break;
	case FIRMATA_MSG_DIGITAL_WRITE:
		/* SET_DIGITAL_PIN_VALUE: 2.5+, OUTPUT pins only; older releases ignore it */
		if (e->feat.set_pin_value && m->pin < EMU_PINS &&
		    e->modes[m->pin] == FIRMATA_MODE_OUTPUT)
			e->latch[m->pin] = m->value != 0, e->state[m->pin] = m->value != 0;
		break;
	case FIRMATA_MSG_SYSEX:
		if (m->command == FIRMATA_REPORT_FIRMWARE) {
			n = firmata_enc_firmware(b, sizeof b, 2, e->minor, "StandardFirmata.ino");
			emit(e, b, n);
		} else if (m->command == FIRMATA_CAPABILITY_QUERY) {
			send_capabilities(e);
		} else if (m->command == FIRMATA_ANALOG_MAPPING_QUERY) {
			send_mapping(e);
		} else if (m->command == FIRMATA_SERVO_CONFIG && m->len > 4) {
			/* attach with those pulse widths, then SERVO mode */
			if (is_servo(m->data[0]))
				set_mode(e, m->data[0], FIRMATA_MODE_SERVO);
		} else if (m->command == FIRMATA_EXTENDED_ANALOG && m->len > 1) {
			int v = m->data[1];
			if (m->len > 2)
				v |= m->data[2] << 7;
			if (m->len > 3)
				v |= m->data[3] << 14;
			analog_write(e, m->data[0], v);
		} else if (m->command == FIRMATA_PIN_STATE_QUERY && m->len > 0) {
			send_pin_state(e, m->data[0]);
		} else if (m->command == FIRMATA_SAMPLING_INTERVAL && m->len >= 2) {
			int ms = m->data[0] | (m->data[1] << 7);
			e->interval_ms =
			    ms < e->feat.min_interval_ms ? e->feat.min_interval_ms : ms;
		}
		break;
	default: break;
	}
}

/* Publish the board's state for probes. */
static void mirror(firmata_emu *e, int64_t t)
{
	for (int pin = 0; pin < EMU_PINS; pin++) {
		atomic_store(&e->probe_level[pin], is_digital(pin) ? pin_level(e, pin, t) : 0);
		atomic_store(&e->probe_mode[pin], e->modes[pin]);
		atomic_store(&e->probe_state[pin], e->state[pin]);
	}
	atomic_store(&e->probe_interval, e->interval_ms);
}

static void *emu_thread(void *arg)
{
	firmata_emu *e = arg;
	firmata_parser parser = {.from_host = 1};
	int host_open = 0;
	int64_t boot_at = -1, next_report = 0, t0 = lb_clock_ns(CLOCK_MONOTONIC);
	double budget = 0; /* bytes the 57600-baud line may still carry */
	int64_t last_budget = t0, flush_at = 0;

	while (!lb_pty_board_stopping(&e->b)) {
		struct pollfd p = {e->b.master, POLLIN, 0};
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC), wait_ns = 50000000LL;
		int fault = atomic_load(&e->fault), burst = atomic_load(&e->burst_ms);
		int slow = atomic_load(&e->slow_ms);

		if (burst > 0 && flush_at - now < wait_ns)
			wait_ns = flush_at - now;

		if (boot_at >= 0 && boot_at - now < wait_ns)
			wait_ns = boot_at - now;
		if (host_open && next_report && next_report - now < wait_ns)
			wait_ns = next_report - now;
		if (wait_ns < 0)
			wait_ns = 0;
		{
			/* ppoll: nanosecond timeouts (poll's milliseconds would spin below 1 ms) */
			struct timespec ts = {wait_ns / 1000000000LL, wait_ns % 1000000000LL};
			if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
				break;
		}
		now = lb_clock_ns(CLOCK_MONOTONIC);
		/* a fault or a burst set while the board waited applies to what it reads now */
		fault = atomic_load(&e->fault);
		burst = atomic_load(&e->burst_ms);
		if (burst <= 0 || now >= flush_at) {
			flush_held(e);
			flush_at = now + (int64_t)burst * 1000000;
		}
		if (p.revents & POLLHUP) {
			/* no host has the port open: the board is unpowered, once it has obeyed
			 * what the host wrote before closing (a robot's last stop) */
			uint8_t buf[256];
			ssize_t n;
			while (host_open && boot_at < 0 && fault != FIRMATA_EMU_SILENT &&
			       (n = read(e->b.master, buf, sizeof buf)) > 0)
				for (ssize_t i = 0; i < n; i++) {
					firmata_msg m;
					if (firmata_feed(&parser, buf[i], &m) == 1)
						handle(e, &m, now - t0);
				}
			mirror(e, now - t0);
			host_open = 0;
			e->nheld = 0;
			boot_at = -1;
			{
				struct timespec ts = {0, 20000000};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (!host_open) {
			host_open = 1; /* the port was opened: DTR resets the board */
			boot_at = now + EMU_BOOT_NS;
			parser = (firmata_parser){.from_host = 1};
		}
		if (p.revents & POLLIN) {
			uint8_t buf[256];
			ssize_t n = read(e->b.master, buf, sizeof buf);
			for (ssize_t i = 0; i < n && fault != FIRMATA_EMU_SILENT; i++) {
				firmata_msg m;
				if (boot_at < 0 && firmata_feed(&parser, buf[i], &m) == 1)
					handle(e, &m, now - t0);
			}
		}
		if (boot_at >= 0 && now >= boot_at) {
			boot_at = -1;
			if (fault != FIRMATA_EMU_SILENT)
				boot(e);
			next_report = now;
		}
		budget += (double)(now - last_budget) * EMU_BYTES_PER_S / 1e9;
		if (budget > 64)
			budget = 64;
		last_budget = now;
		if (host_open && boot_at < 0 && fault != FIRMATA_EMU_SILENT) {
			/* checkDigitalInputs: a reported port is sent when one of its inputs
			 * changes */
			for (int port = 0; port < EMU_PORTS; port++) {
				int v = port_inputs(e, port, now - t0);
				uint8_t b[4];
				if (e->reporting_port[port] && v != e->port_value[port]) {
					emit(e, b, firmata_enc_digital(b, port, v));
					e->port_value[port] = v;
				}
			}
		}
		if (host_open && boot_at < 0 && next_report && now >= next_report) {
			uint8_t b[3 * EMU_CHANNELS + 8];
			size_t n = 0;
			double t = (double)(now - t0) / 1e9;
			for (int c = 0; c < EMU_CHANNELS; c++)
				if (e->reporting[c] && e->modes[14 + c] == FIRMATA_MODE_ANALOG)
					n += firmata_enc_analog(b + n, c, analog_value(e, c, t));
			if (fault == FIRMATA_EMU_GARBAGE && n) {
				b[n++] = (uint8_t)(e->rng & 0x7F); /* a stray data byte */
				b[n++] = 0xF3;			   /* an undefined status byte */
			}
			if (fault != FIRMATA_EMU_SILENT && (double)n <= budget + 1) {
				emit(e, b, n);
				budget -= (double)n;
			}
			{
				int ms = slow > e->interval_ms ? slow : e->interval_ms;
				next_report += (int64_t)ms * 1000000;
				if (next_report < now)
					next_report = now + (int64_t)ms * 1000000;
			}
		}
		mirror(e, now - t0);
	}
	return NULL;
}

firmata_emu *firmata_emu_new(int minor, lb_error *err)
{
	firmata_emu *e;

	if (minor < 3 || minor > 5) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "the Firmata emulator runs StandardFirmata 2.3, 2.4 or 2.5, not 2.%d",
			     minor);
		return NULL;
	}
	e = calloc(1, sizeof *e);
	if (!e) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	e->rng = 0x853c49e6748fea9bULL;
	e->minor = minor;
	e->feat = firmata_features_of(2, minor);
	e->interval_ms = 19;
	atomic_store(&e->probe_interval, 19);
	if (lb_pty_board_start(&e->b, 0, emu_thread, e, err) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

const char *firmata_emu_path(const firmata_emu *e)
{
	return e->b.path;
}

void firmata_emu_set_fault(firmata_emu *e, firmata_emu_fault fault)
{
	atomic_store(&e->fault, (int)fault);
}

void firmata_emu_probe_pins(firmata_emu *e, firmata_emu_probe *out)
{
	out->minor = e->minor;
	out->interval_ms = atomic_load(&e->probe_interval);
	for (int pin = 0; pin < EMU_PINS; pin++) {
		out->level[pin] = atomic_load(&e->probe_level[pin]);
		out->mode[pin] = atomic_load(&e->probe_mode[pin]);
		out->state[pin] = atomic_load(&e->probe_state[pin]);
	}
}

void firmata_emu_set_timing(firmata_emu *e, int burst_ms, int min_interval_ms)
{
	atomic_store(&e->burst_ms, burst_ms);
	atomic_store(&e->slow_ms, min_interval_ms);
}

void firmata_emu_destroy(firmata_emu **pe)
{
	firmata_emu *e;

	if (!pe || !*pe)
		return;
	e = *pe;
	lb_pty_board_stop(&e->b);
	free(e);
	*pe = NULL;
}
