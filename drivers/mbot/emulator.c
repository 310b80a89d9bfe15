/* emulator.c - an mBot (mCore, mBlock firmware) on a pseudo-terminal, for the simulated lab. */
#include "emulator.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/sim/ptyboard.h"
#include "../../bridge/sim/simmath.h"
#include "../../bridge/util/clock.h"
#include "../../protocols/mbot.h"

#define EMU_VERSION "06.01.107"
#define EMU_BOOT_NS 500000000LL /* bootloader and setup() after the DTR reset (shortened) */
#define EMU_TICK_NS 10000000LL	/* the world moves in 10 ms steps */
#define EMU_RX_CAP 64		/* the ATmega328's serial receive buffer */
#define EMU_FULL_SPEED_CM_S 30.0
#define EMU_DIST_MIN 2.0
#define EMU_DIST_MAX 400.0

struct mbot_emu {
	lb_pty_board b;
	atomic_int fault;
	pthread_mutex_t lock; /* guards st (the emulator thread writes, probes read) */
	mbot_emu_state st;
	/* the firmware's parser (emulator thread only), named as in mbot_firmware.ino */
	uint8_t buffer[52];
	uint8_t index, data_len, prevc;
	int is_start;
	int button_reported; /* buttonPressed */
	/* the serial receive buffer */
	uint8_t rx[EMU_RX_CAP];
	size_t nrx;
	int64_t busy_until;  /* a tone plays, an echo is awaited: nothing is read (mono ns) */
	int ack_after_busy;  /* a tone: its ack when it has played */
	int busy_ultrasonic; /* an ultrasonic measurement: its answer when the echo came */
	uint8_t busy_idx;
	double busy_value;
	int light_base;	    /* the light without its slow wave */
	int64_t timer_from; /* the TIMER's zero (mono ns) */
};

/* The firmware's other devices (mbot_firmware.ino's #defines), answered as with nothing on the
 * port: each with the reply type its readSensor case sends. */
enum {
	DEV_TEMPERATURE = 2,
	DEV_POTENTIOMETER = 4,
	DEV_GYRO = 6,
	DEV_SOUND = 7,
	DEV_PIRMOTION = 15,
	DEV_LIMITSWITCH = 21,
	DEV_HUMITURE = 23,
	DEV_FLAME = 24,
	DEV_GAS = 25,
	DEV_COMPASS = 26,
	DEV_DIGITAL = 30,
	DEV_TOUCH = 51,
};

/* Write the firmware's bytes to the host; what the pty cannot take is lost, as on a UART. */
static void emit(mbot_emu *e, const uint8_t *buf, size_t n)
{
	if (n && write(e->b.master, buf, n) < 0)
		return;
}

/* Before an answer under the garbage fault: noise without ff, then a float reply cut short,
 * which only the next frame's ff 55 shows to be no frame. */
static void maybe_garbage(mbot_emu *e)
{
	static const uint8_t noise[] = {0x13, 0x37, 0xfe, 0x55, 0x0d, 0x00, 0xff,
					0x55, 0x05, 0x02, 0x00, 0x00, 0x00};

	if (atomic_load(&e->fault) == MBOT_EMU_GARBAGE)
		emit(e, noise, sizeof noise);
}

/* callOK(): ff 55 0d 0a. */
static void call_ok(mbot_emu *e)
{
	uint8_t b[8];

	maybe_garbage(e);
	emit(e, b, (size_t)mbot_enc_ack(b, sizeof b));
}

/* A float reply: ff 55 idx 02 f32 0d 0a (sendFloat). */
static void send_float(mbot_emu *e, uint8_t idx, double v)
{
	uint8_t b[16];

	maybe_garbage(e);
	emit(e, b, (size_t)mbot_enc_value(b, sizeof b, idx, MBOT_TYPE_FLOAT, v, 0));
}

/* The little-endian int16 at buffer[i] (readShort). */
static int read_short(const mbot_emu *e, int i)
{
	return (int16_t)(uint16_t)(e->buffer[i] | (e->buffer[i + 1] << 8));
}

/* MeDCMotor::run: speeds beyond -255..255 are clamped. */
static int clamp_speed(int v)
{
	return v > 255 ? 255 : v < -255 ? -255 : v;
}

/* readSensor(device) for a GET, with the firmware's answers (caller holds the lock). */
static void read_sensor(mbot_emu *e, uint8_t idx, int device, int port, int64_t now)
{
	uint8_t b[32];
	int n;

	switch (device) {
	case MBOT_DEV_VERSION:
		maybe_garbage(e);
		n = mbot_enc_string(b, sizeof b, idx, EMU_VERSION, strlen(EMU_VERSION));
		emit(e, b, (size_t)n);
		return;
	case MBOT_DEV_ULTRASONIC: {
		/* distanceCm() waits for the echo (58 us per cm there and back) before the answer
		 * is written; no sensor on another port: the echo never comes, it gives its max */
		double d = port == MBOT_PORT_3 ? round(e->st.distance_cm * 100) / 100 : 400;
		e->busy_until = now + (int64_t)(d * 58000);
		e->busy_ultrasonic = 1;
		e->busy_idx = idx;
		e->busy_value = d;
		return;
	}
	case MBOT_DEV_LIGHT:
		/* generalDevice.aRead2() of the port: the on-board sensor is A6 (port 6) */
		send_float(e, idx, port == MBOT_PORT_LIGHT ? e->st.light : 0);
		return;
	case MBOT_DEV_LINEFOLLOWER:
		/* dRead1 * 2 + dRead2: nothing wired reads high */
		send_float(e, idx, port == MBOT_PORT_2 ? e->st.line : 3);
		return;
	case MBOT_DEV_BUTTON_INNER: {
		int s = e->buffer[7];
		/* A7 reads near 0 while the button is held */
		maybe_garbage(e);
		n = mbot_enc_value(b, sizeof b, idx, MBOT_TYPE_BYTE,
				   (s ^ (port == MBOT_PORT_ONBOARD ? e->st.button : 0)) & 0xFF, 0);
		emit(e, b, (size_t)n);
		e->button_reported = e->st.button;
		return;
	}
	case MBOT_DEV_TIMER:
		/* currentTime: seconds since the start or the last RUN TIMER */
		send_float(e, idx, (double)(now - e->timer_from) / 1e9);
		return;
	case DEV_TEMPERATURE:
	case DEV_POTENTIOMETER:
	case MBOT_DEV_JOYSTICK:
	case DEV_GYRO:
	case DEV_SOUND:
	case DEV_PIRMOTION:
	case DEV_LIMITSWITCH:
	case DEV_COMPASS:
	case DEV_DIGITAL:
	case MBOT_DEV_ANALOG:
		/* sendFloat of a module that is not there: what its pins read, 0 here */
		send_float(e, idx, 0);
		return;
	case MBOT_DEV_IRREMOTE:
	case MBOT_DEV_IRREMOTECODE:
	case DEV_HUMITURE:
	case DEV_TOUCH:
		/* sendByte: no key, no module */
		maybe_garbage(e);
		emit(e, b, (size_t)mbot_enc_value(b, sizeof b, idx, MBOT_TYPE_BYTE, 0, 0));
		return;
	case DEV_FLAME:
	case DEV_GAS:
		/* sendShort: the int16 and 2 bytes read past its union */
		maybe_garbage(e);
		emit(e, b, (size_t)mbot_enc_value(b, sizeof b, idx, MBOT_TYPE_SHORT, 0, 1));
		return;
	default:
		/* IR without a message, devices the firmware does not know: writeHead, the index,
		 * nothing, writeEnd */
		maybe_garbage(e);
		emit(e, b, (size_t)mbot_enc_empty(b, sizeof b, idx));
		return;
	}
}

/* runModule(device) for a RUN (caller holds the lock); returns 1 when the ack is to be sent now,
 * 0 when a tone plays first. */
static int run_module(mbot_emu *e, int device, int64_t now)
{
	int port = e->buffer[6];

	switch (device) {
	case MBOT_DEV_MOTOR:
		if (port == MBOT_PORT_M1)
			e->st.m1 = clamp_speed(read_short(e, 7));
		else if (port == MBOT_PORT_M2)
			e->st.m2 = clamp_speed(read_short(e, 7));
		break;
	case MBOT_DEV_JOYSTICK:
		e->st.m1 = clamp_speed(read_short(e, 6));
		e->st.m2 = clamp_speed(read_short(e, 8));
		break;
	case MBOT_DEV_RGBLED: {
		int slot = e->buffer[7], i = e->buffer[8];
		if (port != MBOT_PORT_ONBOARD || slot != MBOT_SLOT_ONBOARD_LED)
			break; /* an LED strip on a port this mBot does not have */
		for (int k = 0; k < 2; k++)
			if (i == 0 || i == k + 1)
				for (int c = 0; c < 3; c++)
					e->st.led[k][c] = e->buffer[9 + c];
		break;
	}
	case MBOT_DEV_TONE: {
		int hz = read_short(e, 6), ms = read_short(e, 8);
		if (hz > 0) {
			/* buzzer.tone(hz, ms) is a busy loop: the ack comes after it */
			e->st.tone_hz = hz;
			e->st.tone_ms = ms;
			e->st.tones++;
			if (ms > 0) {
				e->busy_until = now + (int64_t)ms * 1000000;
				return 0;
			}
		}
		break;
	}
	case MBOT_DEV_TIMER: e->timer_from = now; break;
	default: break; /* servos, displays...: nothing connected, still acknowledged */
	}
	return 1;
}

/* parseData(): one whole frame in buffer (caller holds the lock). */
static void parse_data(mbot_emu *e, int64_t now)
{
	uint8_t idx = e->buffer[3];
	int action = e->buffer[4], device = e->buffer[5], port = e->buffer[6];

	e->st.requests++;
	switch (action) {
	case MBOT_GET: read_sensor(e, idx, device, port, now); break;
	case MBOT_RUN:
		if (run_module(e, device, now))
			call_ok(e);
		else
			e->ack_after_busy = 1;
		break;
	case MBOT_RESET:
		e->st.m1 = e->st.m2 = 0;
		e->st.resets++;
		call_ok(e);
		break;
	case MBOT_START: call_ok(e); break;
	default: break; /* unknown actions: no answer */
	}
}

/* One byte through the firmware's frame state machine (loop(), as written). */
static void feed_byte(mbot_emu *e, uint8_t c, int64_t now)
{
	if (c == 0x55 && !e->is_start) {
		if (e->prevc == 0xff) {
			e->index = 1;
			e->is_start = 1;
		}
	} else {
		e->prevc = c;
		if (e->is_start) {
			if (e->index == 2)
				e->data_len = c;
			else if (e->index > 2)
				e->data_len--;
			e->buffer[e->index] = c;
		}
	}
	e->index++;
	if (e->index > 51) {
		e->index = 0;
		e->is_start = 0;
	}
	if (e->is_start && e->data_len == 0 && e->index > 3) {
		e->is_start = 0;
		parse_data(e, now);
		e->index = 0;
	}
}

/* loop(): the bytes received go through the frame state machine, until a tone keeps the sketch
 * busy (caller holds the lock). */
static void drain(mbot_emu *e, int64_t now)
{
	size_t i = 0;

	while (i < e->nrx && !e->busy_until)
		feed_byte(e, e->rx[i++], now);
	memmove(e->rx, e->rx + i, e->nrx - i);
	e->nrx -= i;
}

/* The board restarts (power, DTR): motors, LEDs and the parser as after reset. */
static void restart(mbot_emu *e, int64_t now)
{
	e->st.m1 = e->st.m2 = 0;
	memset(e->st.led, 0, sizeof e->st.led);
	e->index = e->data_len = e->prevc = 0;
	e->is_start = 0;
	e->nrx = 0;
	e->busy_until = 0;
	e->ack_after_busy = 0;
	e->busy_ultrasonic = 0;
	e->button_reported = e->st.button;
	e->timer_from = now;
}

/* Move the world by dt seconds: the wall ahead comes nearer as the wheels drive forward. */
static void physics(mbot_emu *e, double dt)
{
	double forward = (-e->st.m1 + e->st.m2) / 2.0 / 255.0; /* -1..1 */
	double d = e->st.distance_cm - forward * EMU_FULL_SPEED_CM_S * dt;

	e->st.distance_cm = d < EMU_DIST_MIN ? EMU_DIST_MIN : d > EMU_DIST_MAX ? EMU_DIST_MAX : d;
}

/* The board: the host opening the port restarts it; then the firmware's loop() until stopped. */
static void *emu_thread(void *arg)
{
	mbot_emu *e = arg;
	int host_open = 0;
	int64_t boot_at = -1, last = lb_clock_ns(CLOCK_MONOTONIC), t0 = last;

	while (!lb_pty_board_stopping(&e->b)) {
		struct pollfd p = {e->b.master, POLLIN, 0};
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC), wait_ns = EMU_TICK_NS;
		int fault = atomic_load(&e->fault);
		struct timespec ts;

		if (boot_at >= 0 && boot_at - now < wait_ns)
			wait_ns = boot_at - now;
		if (e->busy_until && e->busy_until - now < wait_ns)
			wait_ns = e->busy_until - now;
		if (wait_ns < 0)
			wait_ns = 0;
		ts = (struct timespec){wait_ns / 1000000000LL, wait_ns % 1000000000LL};
		if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
			break;
		now = lb_clock_ns(CLOCK_MONOTONIC);
		pthread_mutex_lock(&e->lock);
		physics(e, (double)(now - last) / 1e9);
		e->st.light =
		    (int)(e->light_base + 50 * lb_sin_turns((double)(now - t0) / 1e9 / 10.0));
		last = now;
		if (p.revents & POLLHUP) {
			/* no host has the port open: the board is unpowered */
			host_open = 0;
			boot_at = -1;
			e->st.booted = 0;
			pthread_mutex_unlock(&e->lock);
			ts = (struct timespec){0, 20000000};
			nanosleep(&ts, NULL);
			continue;
		}
		if (!host_open) {
			host_open = 1; /* the port was opened: DTR resets the board */
			boot_at = now + EMU_BOOT_NS;
			restart(e, now);
		}
		/* the tone has played (its ack), the echo came (the distance): the sketch reads on
		 */
		if (e->busy_until && now >= e->busy_until) {
			e->busy_until = 0;
			if (e->ack_after_busy && fault != MBOT_EMU_SILENT)
				call_ok(e);
			if (e->busy_ultrasonic && fault != MBOT_EMU_SILENT)
				send_float(e, e->busy_idx, e->busy_value);
			e->ack_after_busy = e->busy_ultrasonic = 0;
		}
		if (p.revents & POLLIN) {
			uint8_t buf[256];
			ssize_t n = read(e->b.master, buf, sizeof buf);
			for (ssize_t i = 0; i < n; i++) {
				if (boot_at >= 0 || fault == MBOT_EMU_SILENT)
					continue; /* the bootloader, a dead sketch: ignored */
				/* the UART takes every byte into its ring, the sketch reads
				 * them unless a tone keeps it busy */
				if (e->nrx < EMU_RX_CAP)
					e->rx[e->nrx++] = buf[i];
				else
					e->st.dropped++;
				drain(e, now);
			}
		}
		if (boot_at >= 0 && now >= boot_at) {
			uint8_t b[32];
			boot_at = -1;
			e->st.booted = 1;
			if (fault != MBOT_EMU_SILENT)
				emit(e, b,
				     (size_t)mbot_enc_banner(b, sizeof b, EMU_VERSION,
							     strlen(EMU_VERSION)));
		}
		if (host_open && boot_at < 0 && fault != MBOT_EMU_SILENT) {
			/* loop(): readButtonInner first, then one byte per pass (a whole frame
			 * at most here, as the passes are fast beside the line) */
			if (e->st.button != e->button_reported) {
				uint8_t b[16];
				e->button_reported = e->st.button;
				maybe_garbage(e);
				emit(e, b,
				     (size_t)mbot_enc_value(b, sizeof b, MBOT_IDX_EVENT,
							    MBOT_TYPE_BYTE, e->st.button, 0));
			}
			drain(e, now);
		} else if (fault == MBOT_EMU_SILENT) {
			e->nrx = 0;
		}
		pthread_mutex_unlock(&e->lock);
	}
	return NULL;
}

/* Start an mBot on a new pty (emulator.h); NULL with err set. */
mbot_emu *mbot_emu_new(lb_error *err)
{
	mbot_emu *e = calloc(1, sizeof *e);

	if (!e) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->st.distance_cm = 80.0;
	e->st.line = 3; /* both sensors off the line */
	e->st.light = e->light_base = 500;
	if (lb_pty_board_start(&e->b, 1, emu_thread, e, err) < 0) {
		pthread_mutex_destroy(&e->lock);
		free(e);
		return NULL;
	}
	return e;
}

/* A copy of what the robot does and senses (thread-safe). */
void mbot_emu_get_state(mbot_emu *e, mbot_emu_state *out)
{
	pthread_mutex_lock(&e->lock);
	*out = e->st;
	pthread_mutex_unlock(&e->lock);
}

/* What the robot senses next; negative values leave that part (thread-safe). */
void mbot_emu_set_world(mbot_emu *e, double distance_cm, int line, int light, int button)
{
	pthread_mutex_lock(&e->lock);
	if (distance_cm >= 0)
		e->st.distance_cm = distance_cm < EMU_DIST_MIN	 ? EMU_DIST_MIN
				    : distance_cm > EMU_DIST_MAX ? EMU_DIST_MAX
								 : distance_cm;
	if (line >= 0)
		e->st.line = line & 3;
	if (light >= 0)
		e->light_base = light > 973 ? 973 : light < 50 ? 50 : light;
	if (button >= 0)
		e->st.button = button != 0;
	pthread_mutex_unlock(&e->lock);
}

/* The pty's path. */
const char *mbot_emu_path(const mbot_emu *e)
{
	return e->b.path;
}

/* A fault from now on (thread-safe). */
void mbot_emu_set_fault(mbot_emu *e, mbot_emu_fault fault)
{
	atomic_store(&e->fault, (int)fault);
}

/* Stop the board and free it: its port disappears. Accepts NULL; nulls it. */
void mbot_emu_destroy(mbot_emu **pe)
{
	mbot_emu *e;

	if (!pe || !*pe)
		return;
	e = *pe;
	lb_pty_board_stop(&e->b);
	pthread_mutex_destroy(&e->lock);
	free(e);
	*pe = NULL;
}
