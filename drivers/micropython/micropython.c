/* micropython.c - MicroPython boards as robots (micro:bit robots, LEGO SPIKE, ESP32): the glue. */
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
#include "../../bridge/util/config.h"
#include "../../bridge/util/log.h"
#include "../../protocols/mpyrepl.h"
#include "board.h"
#include "emulator.h"

/*
 * A [micropython.NAME] section is one board (device id "micropython-NAME", kind robot):
 *   port = /dev/ttyACM0        the serial port (required)
 *   baud = 115200              the port's speed (USB boards ignore it)
 *   robot = none               maqueen | bitbot | bitbot-classic | none: the motor driver that
 *                              robot.move and "motors off" use (none: move is refused)
 *   stop_code = ...            MicroPython run after every stop instead of the robot's "motors
 *                              off" (one line; "\n" in it separates statements)
 *   board = auto               microbit (it has the 5x5 display robot.set shows text on) or
 *                              auto (microbit when the robot is a micro:bit robot)
 *   raw_paste = yes            no: plain raw mode always (paced chunks), for odd firmware
 *   verify = yes               no: programs sent as they are, without the check (see board.h)
 *   enter_timeout_s = 10       how long opening waits for the raw REPL prompt (1..60)
 *   reply_timeout_s = 2        how long the board may take to answer the protocol (a slow one)
 *   raw_chunk = 32, raw_pace_ms = 20  plain raw mode (firmware without raw-paste): bytes sent
 *                              every raw_pace_ms (1.6 KB/s: a micro:bit v1 drops bytes faster)
 *   max_speed_m_s, wheel_base_m  the robot's top speed and wheel spacing, when known: then
 *                              robot.move {linear, angular} works (describe() says them)
 * A LEGO SPIKE hub (USB 0694:0009) is found without a section. A micro:bit (0d28:0204) is only
 * taken when a section names its port: the same USB id is every micro:bit's, also those running
 * a sensor program that prints lines (the `lines` driver's), which this driver must not grab.
 * The simulated lab's board (a micro:bit + Maqueen running programs in python3) is found through
 * its port hint "micropython"; [micropython] emulator_paste = no makes it a micro:bit v1
 * (MicroPython 1.9.2, no raw-paste).
 */

#define DEFAULT_BAUD 115200
#define SPIKE_VID 0x0694
#define SPIKE_PID 0x0009
#define REPLY_MS 10000	   /* a snippet (motors, display) or a stop: done within (a loaded host) */
#define EXEC_MS 10000	   /* micropython.exec: a snippet that runs longer is interrupted */
#define SNIP_OUT_MAX 16384 /* micropython.exec output kept */
#define ERR_TAIL_MAX 2048  /* the end of a traceback kept, for the state's detail */
#define SETTLE_MS 200	   /* quiet wanted before entering again after a failed upload */
#define SETTLE_MAX_MS 2000
/* The simulated Maqueen's geometry (about a real one's: 42 mm wheels on N20 motors) */
#define SIM_MAX_SPEED 0.2   /* m/s */
#define SIM_WHEEL_BASE 0.07 /* m */

typedef enum { RUN_NONE, RUN_PROGRAM, RUN_SNIPPET } mp_runkind;

typedef enum {
	UNTIL_PROMPT,	/* at the raw prompt with nothing to write */
	UNTIL_ACCEPTED, /* the board has the whole program (or it already ended) */
	UNTIL_DONE,	/* the program ended and the prompt is back */
	UNTIL_IDLE	/* run(): nothing more to read or write now */
} mp_until;

typedef struct mp_priv {
	lb_serial *port;
	int halt_fd;	  /* a dup of the port's fd, for the halt hook */
	atomic_int halt;  /* set by the halt hook, cleared by halted */
	const char *path; /* the spec's */
	mpy_repl m;
	mpb_robot robot;
	double max_speed, wheel_base; /* the robot's geometry when configured, else 0 */
	int microbit, verify;
	char *stop_code; /* the config's, or NULL */
	int console;	 /* the console stream */
	int gone;	 /* the port went away: run() says LB_EGONE */
	int announced;	 /* the first state was said */
	int moving;
	/* the loaded program */
	char *source;
	size_t nsource;
	/* what the board is executing (the codec borrows it until DONE or ERROR) */
	char *wire;
	size_t nwire, capwire;
	mp_runkind run;
	int accepted, done, done_error;
	mpb_text tout, terr;
	char errtail[ERR_TAIL_MAX];
	size_t nerrtail;
	char *snip_out; /* a snippet's stdout */
	size_t nsnip_out;
	int warned_nopaste;
	int restart_raw; /* no raw-paste just found: start the upload again from quiet */
} mp_priv;

/* The monotonic clock in ms: read here, at the edge, and passed into the codec. */
static int64_t now_ms(void)
{
	return lb_now_read().mono / 1000000;
}

/* scan: [micropython.NAME] sections, LEGO SPIKE hubs, and the simulated lab's board. */
static int mp_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	lb_config_device d = {0};
	json_t *port, *taken = json_object();
	size_t i;

	(void)drv;
	while (lb_scan_sections(ctx, "micropython", "micropython-", "MicroPython board", &d)) {
		const char *path, *robot, *board, *paste, *verify, *stop;
		double baud, enter, vmax, base, chunk, pace, reply;
		mpb_robot r;
		lb_error err;
		path = lb_scan_port(ctx, d.section, "port", out, d.id, d.title, "robot");
		if (!path)
			continue;
		robot = lb_config_str(ctx->config, d.section, "robot", "none");
		board = lb_config_str(ctx->config, d.section, "board", "auto");
		paste = lb_config_str(ctx->config, d.section, "raw_paste", "yes");
		verify = lb_config_str(ctx->config, d.section, "verify", "yes");
		stop = lb_config_str(ctx->config, d.section, "stop_code", NULL);
		if (lb_config_num(ctx->config, d.section, "baud", 1200, 4000000, DEFAULT_BAUD,
				  &baud, &err) < 0 ||
		    lb_config_num(ctx->config, d.section, "enter_timeout_s", 1, 60, 10, &enter,
				  &err) < 0 ||
		    lb_config_num(ctx->config, d.section, "max_speed_m_s", 0, 5, 0, &vmax, &err) <
			0 ||
		    lb_config_num(ctx->config, d.section, "wheel_base_m", 0, 2, 0, &base, &err) <
			0 ||
		    lb_config_num(ctx->config, d.section, "raw_chunk", 1, 4096, 32, &chunk, &err) <
			0 ||
		    lb_config_num(ctx->config, d.section, "raw_pace_ms", 0, 1000, 20, &pace, &err) <
			0 ||
		    lb_config_num(ctx->config, d.section, "reply_timeout_s", 0.5, 60, 2, &reply,
				  &err) < 0) {
			lb_spec_list_absent(out, d.id, d.title, "robot", ctx->config, d.section,
					    err.message);
			continue;
		}
		if (mpb_robot_parse(robot, &r) < 0 ||
		    (strcmp(board, "auto") != 0 && strcmp(board, "microbit") != 0) ||
		    (strcmp(paste, "yes") != 0 && strcmp(paste, "no") != 0) ||
		    (strcmp(verify, "yes") != 0 && strcmp(verify, "no") != 0)) {
			lb_spec_list_absent(
			    out, d.id, d.title, "robot", ctx->config, d.section,
			    "robot must be none, maqueen, bitbot or bitbot-classic; "
			    "board auto or microbit; raw_paste and verify yes or no");
			continue;
		}
		json_object_set_new(taken, path, json_true());
		lb_spec_list_add(out, d.id, d.title, "robot", false,
				 json_pack("{s:s,s:f,s:s,s:b,s:b,s:b,s:f,s:s?,s:f,s:f,s:f,s:f}",
					   "path", path, "baud", baud, "robot", robot, "microbit",
					   strcmp(board, "microbit") == 0 || mpb_robot_microbit(r),
					   "raw_paste", strcmp(paste, "yes") == 0, "verify",
					   strcmp(verify, "yes") == 0, "enter_timeout_s", enter,
					   "stop_code", stop, "max_speed", vmax, "wheel_base", base,
					   "reply_timeout_s", reply, "raw_chunk", chunk,
					   "raw_pace_ms", pace));
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *hint = json_string_value(json_object_get(port, "driver"));
		const char *serial = json_string_value(json_object_get(port, "serial"));
		const char *path = json_string_value(json_object_get(port, "path"));
		int sim = hint && strcmp(hint, "micropython") == 0;
		char id[64];
		if (!path || json_object_get(taken, path))
			continue;
		if (!sim &&
		    (hint || json_integer_value(json_object_get(port, "vid")) != SPIKE_VID ||
		     json_integer_value(json_object_get(port, "pid")) != SPIKE_PID))
			continue;
		lb_make_id(id, sizeof id, "micropython-",
			   serial && *serial ? serial : (sim ? "sim" : "spike"));
		lb_spec_list_add(out, id,
				 sim ? json_string_value(json_object_get(port, "description"))
				     : "LEGO SPIKE hub (MicroPython)",
				 "robot", json_is_true(json_object_get(port, "simulated")),
				 json_pack("{s:s,s:f,s:s,s:b,s:b,s:b,s:f,s:f,s:f}", "path", path,
					   "baud", (double)DEFAULT_BAUD, "robot",
					   sim ? "maqueen" : "none", "microbit", sim, "raw_paste",
					   1, "verify", 1, "enter_timeout_s", 10.0, "max_speed",
					   sim ? SIM_MAX_SPEED : 0.0, "wheel_base",
					   sim ? SIM_WHEEL_BASE : 0.0));
	}
	json_decref(taken);
	return 0;
}

/* Publish console text ("stdout"/"stderr") of len bytes from the board, cleaned. */
static void console(lb_device *dev, mp_priv *p, const char *which, const uint8_t *data, size_t len,
		    int flush)
{
	mpb_text *t = which[3] == 'o' ? &p->tout : &p->terr;
	char *buf = malloc(3 * len + 16);
	size_t n;
	json_t *msg;

	if (!buf)
		return;
	n = mpb_text_feed(t, data, len, buf);
	if (flush)
		n += mpb_text_flush(t, buf + n);
	if (n && (msg = json_pack("{s:s,s:s%}", "stream", which, "text", buf, n))) {
		lb_stream_publish_json(dev, p->console, lb_now_read().real, msg);
		json_decref(msg);
	}
	free(buf);
}

/* Keep the last ERR_TAIL_MAX - 1 bytes of a traceback. */
static void keep_err(mp_priv *p, const uint8_t *d, size_t n)
{
	if (n >= ERR_TAIL_MAX - 1) {
		d += n - (ERR_TAIL_MAX - 1);
		n = ERR_TAIL_MAX - 1;
	}
	if (p->nerrtail + n > ERR_TAIL_MAX - 1) {
		size_t drop = p->nerrtail + n - (ERR_TAIL_MAX - 1);
		memmove(p->errtail, p->errtail + drop, p->nerrtail - drop);
		p->nerrtail -= drop;
	}
	memcpy(p->errtail + p->nerrtail, d, n);
	p->nerrtail += n;
	p->errtail[p->nerrtail] = '\0';
}

/* The end of a program: console flushed, the state said. */
static void program_done(lb_device *dev, mp_priv *p)
{
	char last[200], detail[256];

	console(dev, p, "stdout", NULL, 0, 1);
	console(dev, p, "stderr", NULL, 0, 1);
	if (!p->done_error) {
		lb_robot_state(dev, "idle", "the program ended");
		return;
	}
	mpb_last_line(p->errtail, p->nerrtail, last, sizeof last);
	if (strstr(p->errtail, MPB_CORRUPTED))
		snprintf(detail, sizeof detail,
			 "the upload was corrupted on the line and did not run: run it again");
	else
		snprintf(detail, sizeof detail, "the program stopped: %s", last);
	lb_robot_state(dev, "error", detail);
}

/* Act on one event of the codec. */
static void on_event(lb_device *dev, mp_priv *p, const mpy_event *ev)
{
	switch (ev->type) {
	case MPY_EV_ACCEPTED:
	case MPY_EV_ABORTED: p->accepted = 1; break;
	case MPY_EV_PASTE_UNSUPPORTED:
		if (!p->warned_nopaste) {
			lb_info("device %s: the firmware has no raw-paste: plain raw mode",
				lb_device_id(dev));
			lb_device_changed(dev); /* describe() says raw_paste: false */
			/* the banner taken for the old firmware's answer may have been a late
			 * one of entering, the answer still to come: start again from quiet */
			p->restart_raw = 1;
		}
		p->warned_nopaste = 1;
		break;
	case MPY_EV_STDOUT:
		if (p->run == RUN_PROGRAM) {
			console(dev, p, "stdout", ev->data, ev->len, 0);
		} else if (p->run == RUN_SNIPPET && p->snip_out) {
			size_t k = ev->len < SNIP_OUT_MAX - p->nsnip_out
				       ? ev->len
				       : SNIP_OUT_MAX - p->nsnip_out;
			memcpy(p->snip_out + p->nsnip_out, ev->data, k);
			p->nsnip_out += k;
		}
		break;
	case MPY_EV_STDERR:
		keep_err(p, ev->data, ev->len);
		if (p->run == RUN_PROGRAM)
			console(dev, p, "stderr", ev->data, ev->len, 0);
		break;
	case MPY_EV_DONE:
		p->done = 1;
		p->accepted = 1;
		p->done_error = ev->error;
		if (p->run == RUN_PROGRAM)
			program_done(dev, p);
		p->run = RUN_NONE;
		break;
	case MPY_EV_ERROR:
		lb_warn("device %s: raw REPL: %s (waiting for %s)", lb_device_id(dev),
			mpy_strerror(ev->error), mpy_waiting_for(&p->m));
		if (p->run == RUN_PROGRAM)
			lb_robot_state(dev, "error", mpy_strerror(ev->error));
		p->run = RUN_NONE;
		break;
	default: break;
	}
}

/* Whether the codec is at the prompt with nothing left to write. */
static int at_prompt(const mp_priv *p)
{
	return p->m.state == MPY_S_PROMPT && p->m.ntx == 0;
}

/* Whether the codec is sending a program. */
static int sending(const mp_priv *p)
{
	return p->m.state == MPY_S_PASTE_REQ || p->m.state == MPY_S_PASTE_R ||
	       p->m.state == MPY_S_PASTE_WIN || p->m.state == MPY_S_PASTE_SEND ||
	       p->m.state == MPY_S_NOPASTE || p->m.state == MPY_S_OLD_BANNER ||
	       p->m.state == MPY_S_RAW_SEND;
}

/* The typed error for the codec's failure code. */
static int repl_error(mp_priv *p, int code, lb_error *err)
{
	if (code == MPY_E_SILENT || code == MPY_E_NO_PROMPT)
		return lb_error_set(err, code == MPY_E_SILENT ? LB_ERR_TIMEOUT : LB_ERR_FIRMWARE,
				    "%s: no raw REPL prompt in %u s (%s): not a MicroPython board, "
				    "or wedged: unplug and replug it",
				    p->path, (unsigned)(p->m.cfg.enter_timeout_ms / 1000),
				    code == MPY_E_SILENT ? "it sent nothing" : "it talks");
	return lb_error_set(err, code == MPY_E_TIMEOUT ? LB_ERR_TIMEOUT : LB_ERR_DEVICE, "%s: %s",
			    p->path, mpy_strerror(code));
}

/*
 * Move bytes both ways and feed the codec until `until` holds (0), the board fails (negative,
 * err typed), the port goes (LB_EGONE, err set) or deadline_ms passes (LB_ERR_TIMEOUT). For
 * UNTIL_IDLE it never waits: it returns 0 once nothing is left to read or write, or after 64
 * rounds (a board printing without end does not keep the device's thread from its commands).
 */
static int pump(lb_device *dev, mp_priv *p, mp_until until, int64_t deadline_ms, lb_error *err)
{
	uint8_t buf[1024];
	int rounds = 0;

	for (;;) {
		int64_t now = now_ms(), wake;
		const uint8_t *out;
		size_t n;
		ssize_t r;
		mpy_event ev;

		if (atomic_load(&p->halt) && sending(p))
			mpy_interrupt(&p->m, now); /* no more of the program after a halt */
		if ((n = mpy_tx(&p->m, &out)) > 0) {
			if (lb_serial_write(p->port, out, n, 1000) < 0)
				goto gone;
			mpy_tx_done(&p->m, n);
			continue;
		}
		if ((n = mpy_code_chunk(&p->m, now, &out)) > 0) {
			if (lb_serial_write(p->port, out, n, 1000) < 0)
				goto gone;
			mpy_code_sent(&p->m, n, now_ms());
			continue;
		}
		r = lb_serial_read(p->port, buf, sizeof buf);
		if (r < 0)
			goto gone;
		if (r > 0) {
			size_t off = 0;
			do { /* until the codec has said all the bytes mean */
				off += mpy_feed(&p->m, buf + off, (size_t)r - off, now, &ev);
				on_event(dev, p, &ev);
			} while (ev.type != MPY_EV_NONE);
		}
		while (mpy_tick(&p->m, now, &ev))
			on_event(dev, p, &ev);
		if (p->restart_raw && p->m.state == MPY_S_RAW_SEND && until != UNTIL_IDLE) {
			p->restart_raw = 0;
			mpy_interrupt(&p->m, now); /* nothing of the program sent yet: \x03 */
			if ((n = mpy_tx(&p->m, &out)) > 0) {
				if (lb_serial_write(p->port, out, n, 1000) < 0)
					goto gone;
				mpy_tx_done(&p->m, n);
			}
			return LB_EAGAIN;
		}
		if (p->m.state == MPY_S_FAILED && until != UNTIL_IDLE)
			return repl_error(p, p->m.error, err);
		if ((until == UNTIL_PROMPT && at_prompt(p)) ||
		    (until == UNTIL_ACCEPTED && (p->accepted || p->done)) ||
		    (until == UNTIL_DONE && p->done && at_prompt(p)))
			return 0;
		if (until == UNTIL_IDLE) {
			/* run() returns now and then however much a board prints: commands wait */
			if ((r > 0 || p->m.ntx) && ++rounds < 64)
				continue;
			return 0;
		}
		if (now >= deadline_ms) /* even while a board floods the line */
			return lb_error_set(err, LB_ERR_TIMEOUT,
					    "%s: no answer in time (waiting for %s)", p->path,
					    mpy_waiting_for(&p->m));
		if (r > 0 || p->m.ntx)
			continue;
		wake = mpy_deadline(&p->m);
		if (wake > deadline_ms)
			wake = deadline_ms;
		{
			struct pollfd pf = {lb_serial_fd(p->port), POLLIN, 0};
			int64_t ms = wake - now_ms();
			poll(&pf, 1, ms < 0 ? 0 : ms > 1000 ? 1000 : (int)ms + 1);
		}
	}
gone:
	p->gone = 1;
	lb_error_set(err, LB_ERR_DEVICE, "%s: the board went away (unplugged?)", p->path);
	return LB_EGONE;
}

/* At the raw prompt, entering the raw REPL again when needed (bounded). 0 or negative. */
static int ensure_prompt(lb_device *dev, mp_priv *p, lb_error *err)
{
	if (at_prompt(p))
		return 0;
	/* entering again is harmless after a soft reboot too (a board that never reboots, as a
	 * stray byte after a program's end may make it seem, would cost reboot_ms) */
	if (p->m.state != MPY_S_ENTERING && p->m.state != MPY_S_SETTLING)
		mpy_enter(&p->m, now_ms());
	return pump(dev, p, UNTIL_PROMPT, now_ms() + p->m.cfg.enter_timeout_ms + 1000, err);
}

/*
 * Before entering again after a failed upload: drop what the board still says until it has been
 * quiet for SETTLE_MS (at most SETTLE_MAX_MS), so that late answers of the failed attempt (an
 * old firmware's banner, a program's end) are not taken for the answers of the next. 0, or
 * LB_EGONE.
 */
static int settle(mp_priv *p)
{
	int64_t end = now_ms() + SETTLE_MAX_MS, quiet = now_ms() + SETTLE_MS;
	uint8_t buf[512];

	while (now_ms() < end && now_ms() < quiet) {
		struct pollfd pf = {lb_serial_fd(p->port), POLLIN, 0};
		ssize_t r;
		poll(&pf, 1, SETTLE_MS);
		r = lb_serial_read(p->port, buf, sizeof buf);
		if (r < 0)
			return LB_EGONE;
		if (r > 0)
			quiet = now_ms() + SETTLE_MS;
	}
	return 0;
}

/* Copy code into the wire buffer (wrapped when verifying); 0 or negative with err set. */
static int set_wire(mp_priv *p, const char *code, size_t len, lb_error *err)
{
	size_t need = p->verify ? mpb_wrap_size(len) : len + 1;

	if (need > p->capwire) {
		char *w = realloc(p->wire, need);
		if (!w)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		p->wire = w;
		p->capwire = need;
	}
	if (p->verify) {
		p->nwire = mpb_wrap((const uint8_t *)code, len, p->wire, p->capwire);
		if (!p->nwire)
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot wrap the program");
	} else {
		memcpy(p->wire, code, len);
		p->nwire = len;
	}
	return 0;
}

/*
 * Send code (kind what) and wait until the board has it all (a program) or until it ended (a
 * snippet, within timeout_ms). A failed upload is tried once more after entering the raw REPL
 * again (a board reset meanwhile, noise on a control byte). 0 or negative with err set.
 */
static int exec_code(lb_device *dev, mp_priv *p, mp_runkind what, const char *code, size_t len,
		     int64_t timeout_ms, lb_error *err)
{
	int rc = 0;

	int restarted = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		int64_t start = now_ms();
		if ((rc = ensure_prompt(dev, p, err)) < 0)
			return rc;
		if ((rc = set_wire(p, code, len, err)) < 0)
			return rc;
		rc = mpy_exec(&p->m, (const uint8_t *)p->wire, p->nwire, start);
		if (rc < 0)
			return lb_error_set(err, LB_ERR_PROGRAM, "%s", mpy_strerror(rc));
		p->run = what;
		p->accepted = p->done = p->done_error = 0;
		p->nerrtail = 0;
		p->errtail[0] = '\0';
		p->nsnip_out = 0;
		memset(&p->tout, 0, sizeof p->tout);
		memset(&p->terr, 0, sizeof p->terr);
		/* the upload: the link's time for the bytes (10 bits each) twice, and the replies
		 */
		rc = pump(dev, p, what == RUN_PROGRAM ? UNTIL_ACCEPTED : UNTIL_DONE,
			  start + 5000 + (int64_t)(p->nwire * 2 * 10 * 1000 / DEFAULT_BAUD) +
			      (int64_t)(p->nwire / p->m.cfg.raw_chunk + 1) * p->m.cfg.raw_pace_ms +
			      (what == RUN_PROGRAM ? 0 : timeout_ms),
			  err);
		if (rc == LB_EAGAIN && !restarted) { /* no raw-paste: again, in plain raw mode */
			restarted = 1;
			attempt--;
			p->run = RUN_NONE;
			if (settle(p) == LB_EGONE) {
				p->gone = 1;
				lb_error_set(err, LB_ERR_DEVICE, "%s: the board went away",
					     p->path);
				return LB_EGONE;
			}
			mpy_enter(&p->m, now_ms());
			continue;
		}
		if (rc == LB_EAGAIN)
			rc =
			    lb_error_set(err, LB_ERR_DEVICE, "%s: upload restarted twice", p->path);
		if (rc == LB_EGONE || rc == 0 || atomic_load(&p->halt))
			break;
		if (p->accepted && what == RUN_SNIPPET) {
			/* it runs too long: interrupt it */
			mpy_interrupt(&p->m, now_ms());
			pump(dev, p, UNTIL_PROMPT, now_ms() + REPLY_MS, err);
			p->run = RUN_NONE;
			return lb_error_set(err, LB_ERR_TIMEOUT,
					    "the code ran longer than %lld s: interrupted",
					    (long long)timeout_ms / 1000);
		}
		if (p->accepted)
			break;
		lb_warn("device %s: upload failed (%s): entering the raw REPL again",
			lb_device_id(dev), err->message);
		p->run = RUN_NONE;
		if (settle(p) == LB_EGONE) {
			rc = lb_error_set(err, LB_ERR_DEVICE, "%s: the board went away", p->path);
			p->gone = 1;
			return LB_EGONE;
		}
		mpy_enter(&p->m, now_ms());
	}
	if (rc < 0)
		p->run = RUN_NONE;
	return rc;
}

/* Run a snippet of the driver's (motors, display) to its end; a traceback is LB_ERR_PROGRAM. */
static int snippet(lb_device *dev, mp_priv *p, const char *code, lb_error *err)
{
	int rc = exec_code(dev, p, RUN_SNIPPET, code, strlen(code), REPLY_MS, err);
	char last[200];

	if (rc < 0)
		return rc;
	if (p->done_error) {
		mpb_last_line(p->errtail, p->nerrtail, last, sizeof last);
		return lb_error_set(err, LB_ERR_PROGRAM, "the board answered: %s", last);
	}
	return 0;
}

/* The robot's "motors off": the stop_code, or the motor driver's speed 0 (0 when none). */
static int motors_off(lb_device *dev, mp_priv *p, lb_error *err)
{
	char code[512];

	if (p->stop_code)
		return snippet(dev, p, p->stop_code, err);
	if (!mpb_move_code(p->robot, 0, 0, code, sizeof code))
		return 0;
	p->moving = 0;
	return snippet(dev, p, code, err);
}

/* Whether the board is busy with a program of the user's. */
static int program_running(const mp_priv *p)
{
	return p->run == RUN_PROGRAM;
}

/*
 * Interrupt whatever runs (Ctrl-C; entering the raw REPL again if the board does not come back
 * to the prompt): the board is at the prompt. 0 or negative with err set.
 */
static int interrupt_board(lb_device *dev, mp_priv *p, lb_error *err)
{
	int rc;

	if (!at_prompt(p) && p->m.state != MPY_S_FAILED) {
		mpy_interrupt(&p->m, now_ms());
		rc = pump(dev, p, UNTIL_PROMPT, now_ms() + REPLY_MS, err);
		if (rc == LB_EGONE)
			return rc;
	}
	if (p->run == RUN_PROGRAM) { /* the prompt came without the end of the program */
		p->done_error = 1;
		keep_err(p, (const uint8_t *)"interrupted\n", 12);
		program_done(dev, p);
	}
	p->run = RUN_NONE;
	return ensure_prompt(dev, p, err);
}

/* Stop: interrupt whatever runs, then motors off. 0 or negative with err set. */
static int stop_board(lb_device *dev, mp_priv *p, lb_error *err)
{
	int rc = interrupt_board(dev, p, err);

	return rc < 0 ? rc : motors_off(dev, p, err);
}

static void mp_close(lb_device *dev);

static int mp_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const json_t *params = lb_device_get_spec(dev)->params;
	mp_priv *p = calloc(1, sizeof *p);
	mpy_config cfg = mpy_config_default();
	const char *stop = json_string_value(json_object_get(params, "stop_code"));
	int rc;

	(void)now;
	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->halt_fd = -1;
	p->path = json_string_value(json_object_get(params, "path"));
	if (!p->path)
		p->path = "?";
	if (mpb_robot_parse(json_string_value(json_object_get(params, "robot")), &p->robot) < 0)
		p->robot = MPB_ROBOT_NONE;
	p->microbit = json_is_true(json_object_get(params, "microbit"));
	p->max_speed = json_number_value(json_object_get(params, "max_speed"));
	p->wheel_base = json_number_value(json_object_get(params, "wheel_base"));
	p->verify = !json_is_false(json_object_get(params, "verify"));
	if (stop && *stop) {
		size_t n = strlen(stop), o = 0;
		if (!(p->stop_code = malloc(n + 2)))
			goto nomem;
		for (size_t i = 0; i < n; i++) { /* "\n" written in the config: a newline */
			if (stop[i] == '\\' && stop[i + 1] == 'n') {
				p->stop_code[o++] = '\n';
				i++;
			} else {
				p->stop_code[o++] = stop[i];
			}
		}
		p->stop_code[o++] = '\n';
		p->stop_code[o] = '\0';
	}
	if (!(p->snip_out = malloc(SNIP_OUT_MAX + 1)))
		goto nomem;
	cfg.use_raw_paste = !json_is_false(json_object_get(params, "raw_paste"));
	/* plain raw mode is for old firmware (micro:bit v1): its UART ring is small and drops what
	 * overflows while the board is busy; 32 bytes every 20 ms (mpremote's 256 every 10 ms lost
	 * bytes on the micro:bit firmware in QEMU) */
	cfg.raw_chunk = 32;
	cfg.raw_pace_ms = 20;
	/* a board that resets when the port opens answers a request sent during its boot late:
	 * quiet for 500 ms after a banner (mpremote's 100 ms let a late second banner be taken
	 * for an old firmware's answer to the raw-paste request on a loaded host) */
	cfg.settle_ms = 500;
	if (json_is_number(json_object_get(params, "reply_timeout_s")))
		cfg.reply_ms =
		    (uint32_t)(json_number_value(json_object_get(params, "reply_timeout_s")) *
			       1000);
	if (json_is_number(json_object_get(params, "raw_chunk")))
		cfg.raw_chunk = (uint32_t)json_number_value(json_object_get(params, "raw_chunk"));
	if (json_is_number(json_object_get(params, "raw_pace_ms")))
		cfg.raw_pace_ms =
		    (uint32_t)json_number_value(json_object_get(params, "raw_pace_ms"));
	if (json_is_number(json_object_get(params, "enter_timeout_s")))
		cfg.enter_timeout_ms =
		    (uint32_t)(json_number_value(json_object_get(params, "enter_timeout_s")) *
			       1000);
	mpy_init(&p->m, &cfg);
	p->port = lb_serial_open(p->path,
				 json_is_number(json_object_get(params, "baud"))
				     ? (int)json_number_value(json_object_get(params, "baud"))
				     : DEFAULT_BAUD,
				 err);
	if (!p->port)
		goto fail;
	p->halt_fd = dup(lb_serial_fd(p->port));
	p->console = lb_device_add_stream(dev, "console", "console", "", LB_JSON, 0);
	if (p->console < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot declare the console stream");
		goto fail;
	}
	/* Ctrl-C twice, Ctrl-A: a busy board is interrupted, one that resets when the port
	 * opens gets the request again until its banner comes (bounded by enter_timeout_s) */
	lb_serial_flush_input(p->port);
	mpy_enter(&p->m, now_ms());
	rc = pump(dev, p, UNTIL_PROMPT, now_ms() + cfg.enter_timeout_ms + 1000, err);
	if (rc < 0) {
		if (rc == LB_EGONE)
			lb_error_set(err, LB_ERR_DEVICE, "%s: the board went away while opening",
				     p->path);
		goto fail;
	}
	lb_device_set_running(dev, true);
	lb_info("device %s: MicroPython raw REPL on %s (robot %s)", lb_device_id(dev), p->path,
		mpb_robot_name(p->robot));
	return 0;
nomem:
	lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
fail:
	mp_close(dev);
	return LB_EFAIL;
}

static void mp_close(lb_device *dev)
{
	mp_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (p->halt_fd >= 0)
		close(p->halt_fd);
	lb_serial_destroy(&p->port);
	free(p->stop_code);
	free(p->source);
	free(p->wire);
	free(p->snip_out);
	free(p);
	lb_device_set_priv(dev, NULL);
}

static json_t *mp_describe(lb_device *dev)
{
	mp_priv *p = lb_device_priv(dev);
	json_t *outputs = json_array();

	if (p->microbit)
		json_array_append_new(outputs, json_string("display"));
	if (p->robot == MPB_ROBOT_MAQUEEN)
		json_array_append_new(outputs, json_string("leds"));
	json_t *d = json_pack("{s:[s],s:o,s:b,s:[sss],s:s,s:b}", "languages", "micropython",
			      "outputs", outputs, "wheels", p->robot != MPB_ROBOT_NONE, "extras",
			      "micropython.save", "micropython.reset", "micropython.exec", "robot",
			      mpb_robot_name(p->robot), "raw_paste", p->m.paste != 0);

	/* robot.move {linear, angular} needs both */
	if (d && p->robot != MPB_ROBOT_NONE && p->max_speed > 0 && p->wheel_base > 0) {
		json_object_set_new(d, "max_speed", json_real(p->max_speed));
		json_object_set_new(d, "wheel_base", json_real(p->wheel_base));
	}
	return d;
}

static json_t *mp_config_get(lb_device *dev)
{
	mp_priv *p = lb_device_priv(dev);

	return json_pack("{s:s,s:s,s:b,s:b,s:i}", "port", p->path, "robot",
			 mpb_robot_name(p->robot), "verify", p->verify, "stop_code",
			 p->stop_code != NULL, "loaded_bytes", (int)p->nsource);
}

/* robot.program.load {language, source}: kept for robot.program.run and micropython.save. */
static int act_load(mp_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	const char *lang = NULL, *src;
	json_t *s = json_object_get(args, "source");
	size_t n;
	char *copy;

	if (lb_param_string(args, "language", true, &lang, err) < 0)
		return LB_EFAIL;
	if (strcmp(lang, "micropython") != 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "language must be \"micropython\" on this board");
	if (!json_is_string(s))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "source must be a string");
	src = json_string_value(s);
	n = json_string_length(s);
	if (n == 0 || n > LB_ROBOT_SOURCE_MAX)
		return lb_error_set(err, LB_ERR_TOO_LARGE, "source must be 1 to %d bytes",
				    LB_ROBOT_SOURCE_MAX);
	if (!p->verify || memchr(src, 0, n)) {
		/* sent as it is: a byte 0x01-0x04 would be a control key to the board */
		int line = 1, col = 1;
		for (size_t i = 0; i < n; i++, col++) {
			unsigned char c = (unsigned char)src[i];
			if (c == '\n')
				line++, col = 0;
			else if (c <= 0x04 && (c || !p->verify))
				return lb_error_set(err, LB_ERR_PROGRAM,
						    "line %d, column %d: the control character "
						    "0x%02x cannot be part of a program",
						    line, col, c);
		}
	}
	if (!(copy = malloc(n + 1)))
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	memcpy(copy, src, n + 1);
	free(p->source);
	p->source = copy;
	p->nsource = n;
	*result = json_pack("{s:I}", "bytes", (json_int_t)n);
	return 0;
}

/* robot.program.run: the loaded program, its output streamed by run(). */
static int act_run(lb_device *dev, mp_priv *p, json_t **result, lb_error *err)
{
	int rc;

	if (!p->source)
		return lb_error_set(err, LB_ERR_PROGRAM,
				    "no program loaded: robot.program.load first");
	lb_robot_state(dev, "running", NULL);
	/* a program still running is interrupted: the new one takes over (its motors too) */
	rc = program_running(p) ? interrupt_board(dev, p, err) : 0;
	if (rc == 0)
		rc = exec_code(dev, p, RUN_PROGRAM, p->source, p->nsource, 0, err);
	if (rc < 0) {
		lb_robot_state(dev, "error", err->message);
		return rc;
	}
	*result =
	    json_pack("{s:I,s:b}", "bytes", (json_int_t)p->nwire, "raw_paste", p->m.paste == 1);
	return 0;
}

/* robot.move {left, right}: the motor driver's snippet. */
static int act_move(lb_device *dev, mp_priv *p, const json_t *args, lb_error *err)
{
	double l = json_number_value(json_object_get(args, "left"));
	double r = json_number_value(json_object_get(args, "right"));
	char code[512];
	int rc;

	if (p->robot == MPB_ROBOT_NONE)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "no motor driver configured ([micropython.NAME] robot = "
				    "maqueen, bitbot or bitbot-classic)");
	if (program_running(p))
		return lb_error_set(err, LB_ERR_DEVICE,
				    "a program is running on the board: robot.program.stop first");
	if (!mpb_move_code(p->robot, l, r, code, sizeof code))
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot make the motor code");
	if ((rc = snippet(dev, p, code, err)) < 0)
		return rc;
	if ((l != 0 || r != 0) != p->moving) {
		p->moving = l != 0 || r != 0;
		lb_robot_state(dev, "idle", p->moving ? "moving" : "still");
	}
	return 0;
}

/* robot.set {display: "text" | {image: NAME}, leds: {left: 0|1, right: 0|1}}. */
static int act_set(lb_device *dev, mp_priv *p, const json_t *args, lb_error *err)
{
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(args) || json_object_size(args) == 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "robot.set needs outputs");
	if (program_running(p))
		return lb_error_set(err, LB_ERR_DEVICE,
				    "a program is running on the board: robot.program.stop first");
	json_object_foreach((json_t *)args, key, v)
	{
		char code[2048];
		size_t n = 0;
		if (strcmp(key, "display") == 0 && p->microbit) {
			if (json_is_string(v) && json_string_length(v) <= 256)
				n = mpb_display_code(json_string_value(v), json_string_length(v),
						     code, sizeof code);
			else if (json_is_string(json_object_get(v, "image")))
				n = mpb_image_code(json_string_value(json_object_get(v, "image")),
						   code, sizeof code);
			if (!n)
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "display must be a text (up to 256 bytes) or "
						    "{\"image\": NAME} (HEART, HAPPY...)");
		} else if (strcmp(key, "leds") == 0 && p->robot == MPB_ROBOT_MAQUEEN) {
			json_t *l = json_object_get(v, "left"), *r = json_object_get(v, "right");
			int o = 0;
			if (!json_is_object(v) || (!l && !r) || (l && !json_is_integer(l)) ||
			    (r && !json_is_integer(r)))
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "leds must be {\"left\": 0|1, \"right\": 0|1}");
			/* Maqueen: LED registers 0x0b (left) and 0x0c (right) at 0x10 */
			o = snprintf(code, sizeof code, "from microbit import i2c\n");
			if (l)
				o += snprintf(code + o, sizeof code - o,
					      "i2c.write(16,bytes([11,%d]))\n",
					      json_integer_value(l) ? 1 : 0);
			if (r)
				o += snprintf(code + o, sizeof code - o,
					      "i2c.write(16,bytes([12,%d]))\n",
					      json_integer_value(r) ? 1 : 0);
			n = (size_t)o;
		} else {
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "this board has no output '%s' (outputs: %s%s)", key,
					    p->microbit ? "display" : "none",
					    p->robot == MPB_ROBOT_MAQUEEN ? ", leds" : "");
		}
		if ((rc = snippet(dev, p, code, err)) < 0)
			return rc;
	}
	return 0;
}

/* micropython.save {}: the loaded program written as main.py (pyboard.py's fs_put way). */
static int act_save(lb_device *dev, mp_priv *p, json_t **result, lb_error *err)
{
	char piece[4 * 256 + 16];
	int rc;

	if (!p->source)
		return lb_error_set(err, LB_ERR_PROGRAM,
				    "no program loaded: robot.program.load first");
	if (program_running(p))
		return lb_error_set(err, LB_ERR_DEVICE,
				    "a program is running on the board: robot.program.stop first");
	if (!mpy_py_open_write(piece, sizeof piece, "main.py"))
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot make the save program");
	if ((rc = snippet(dev, p, piece, err)) < 0)
		return rc;
	for (size_t off = 0; off < p->nsource; off += 256) {
		size_t k = p->nsource - off < 256 ? p->nsource - off : 256;
		if (!mpy_py_write_chunk(piece, sizeof piece, (const uint8_t *)p->source + off, k))
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot make the save program");
		if ((rc = snippet(dev, p, piece, err)) < 0)
			return rc;
	}
	if ((rc = snippet(dev, p, MPY_PY_CLOSE, err)) < 0)
		return rc;
	*result = json_pack("{s:s,s:I}", "path", "main.py", "bytes", (json_int_t)p->nsource);
	return 0;
}

/* micropython.exec {code}: run a snippet, answer its output ({stdout, stderr}). */
static int act_exec(lb_device *dev, mp_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	const char *code = NULL;
	mpb_text t = {0};
	char *out;
	int rc;

	if (lb_param_string(args, "code", true, &code, err) < 0)
		return LB_EFAIL;
	if (strlen(code) == 0 || strlen(code) > 64 * 1024)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "code must be 1 to 65536 bytes");
	if (program_running(p))
		return lb_error_set(err, LB_ERR_DEVICE,
				    "a program is running on the board: robot.program.stop first");
	if ((rc = exec_code(dev, p, RUN_SNIPPET, code, strlen(code), EXEC_MS, err)) < 0)
		return rc;
	if (!(out = malloc(3 * (p->nsnip_out + p->nerrtail) + 32)))
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	{
		size_t n = mpb_text_feed(&t, (const uint8_t *)p->snip_out, p->nsnip_out, out);
		n += mpb_text_flush(&t, out + n);
		*result = json_pack("{s:s%}", "stdout", out, n);
		n = mpb_text_feed(&t, (const uint8_t *)p->errtail, p->nerrtail, out);
		n += mpb_text_flush(&t, out + n);
		json_object_set_new(*result, "stderr", json_stringn(out, n));
	}
	free(out);
	return 0;
}

static int mp_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	mp_priv *p = lb_device_priv(dev);
	int rc;

	if (p->gone)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the board went away", p->path);
	if (strcmp(action, LB_ROBOT_LOAD) == 0)
		return act_load(p, args, result, err);
	if (strcmp(action, LB_ROBOT_RUN) == 0)
		return act_run(dev, p, result, err);
	if (strcmp(action, LB_ROBOT_PROG_STOP) == 0 || strcmp(action, LB_ROBOT_STOP) == 0) {
		if ((rc = stop_board(dev, p, err)) < 0)
			return rc;
		lb_robot_state(dev, "stopped", NULL);
		return 0;
	}
	if (strcmp(action, LB_ROBOT_MOVE) == 0)
		return act_move(dev, p, args, err);
	if (strcmp(action, LB_ROBOT_SET) == 0)
		return act_set(dev, p, args, err);
	if (strcmp(action, "micropython.save") == 0)
		return act_save(dev, p, result, err);
	if (strcmp(action, "micropython.exec") == 0)
		return act_exec(dev, p, args, result, err);
	if (strcmp(action, "micropython.reset") == 0) {
		if (program_running(p) && (rc = stop_board(dev, p, err)) < 0)
			return rc;
		if ((rc = ensure_prompt(dev, p, err)) < 0)
			return rc;
		mpy_soft_reset(&p->m, now_ms());
		rc = pump(dev, p, UNTIL_PROMPT, now_ms() + p->m.cfg.reboot_ms + 1000, err);
		if (rc == 0)
			lb_robot_state(dev, "idle", "soft reset");
		return rc;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "unknown action '%s'", action);
}

static int mp_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	mp_priv *p = lb_device_priv(dev);

	if (max < 1 || p->gone)
		return 0;
	items[0] = (zmq_pollitem_t){NULL, lb_serial_fd(p->port), ZMQ_POLLIN, 0};
	return 1;
}

/* The program's output as it comes; a board that fails is entered again in the background. */
static int mp_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	mp_priv *p = lb_device_priv(dev);
	lb_error err = {0};
	int64_t d;

	(void)items, (void)nitems, (void)now;
	if (p->gone)
		return LB_EGONE;
	if (!p->announced) {
		p->announced = 1;
		lb_robot_state(dev, "idle", NULL);
	}
	if (pump(dev, p, UNTIL_IDLE, 0, &err) == LB_EGONE) {
		lb_warn("device %s: %s", lb_device_id(dev), err.message);
		return LB_EGONE;
	}
	if (p->m.state == MPY_S_FAILED)
		mpy_enter(&p->m, now_ms()); /* noise, a reset: be ready for the next command */
	d = mpy_deadline(&p->m);
	*deadline = d == INT64_MAX ? -1 : d * 1000000;
	return 0;
}

/* The halt hook (another thread): Ctrl-C twice to the dup'd fd, at once. */
static int mp_halt(lb_device *dev)
{
	mp_priv *p = lb_device_priv(dev);

	atomic_store(&p->halt, 1);
	return write(p->halt_fd, "\x03\x03", 2) == 2 ? 0 : LB_EFAIL;
}

/* After a halt (device thread): back at the prompt, motors off, state stopped. */
static void mp_halted(lb_device *dev, const lb_now *now)
{
	mp_priv *p = lb_device_priv(dev);
	lb_error err = {0};

	(void)now;
	atomic_store(&p->halt, 0);
	if (stop_board(dev, p, &err) < 0) {
		lb_err("device %s: halted, but %s", lb_device_id(dev), err.message);
		lb_robot_state(dev, "error", err.message);
		return;
	}
	lb_robot_state(dev, "stopped", "room stop");
}

/* The simulated lab's board: a micro:bit on a Maqueen, programs run by python3. */
static int mp_emu_paste = 1;

static void *mp_emu_create(lb_error *err)
{
	return mpy_emu_new(mp_emu_paste, err);
}

static const char *mp_emu_path(const void *emu)
{
	return mpy_emu_path(emu);
}

static void mp_emu_fault(void *emu, lb_fault fault)
{
	mpy_emu_set_fault(emu, (mpy_emu_fault)fault); /* ok, silent, garbage numbered alike */
}

static void mp_emu_destroy(void *emu)
{
	mpy_emu *e = emu;
	mpy_emu_destroy(&e);
}

/* The emulated board's hardware and counters, as a new object. */
static json_t *mp_emu_probe(void *emu)
{
	return mpy_emu_probe(emu);
}

static lb_emulated mp_emulated = {
    .driver = "micropython",
    .description = "Simulated micro:bit on a Maqueen (MicroPython)",
    .serial = "sim-maqueen-1",
    .vid = 0x0d28,
    .pid = 0x0204,
    .create = mp_emu_create,
    .path = mp_emu_path,
    .set_fault = mp_emu_fault,
    .destroy = mp_emu_destroy,
    .probe = mp_emu_probe,
};

/* [micropython] emulator_paste = no: the simulated board is a micro:bit v1 (no raw-paste). */
static int mp_simulate(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports)
{
	const char *v = lb_config_str(ctx->config, "micropython", "emulator_paste", "yes");

	(void)drv;
	if (!mp_emulated.emu)
		mp_emu_paste = strcmp(v, "no") != 0;
	return lb_emulated_port(&mp_emulated, ports);
}

static void mp_cleanup(const lb_driver *drv)
{
	(void)drv;
	lb_emulated_stop(&mp_emulated);
}

/*
 * micropython.emulator {fault: ok|silent|garbage|unplug|plug}; {probe: true}: the board's
 * hardware and counters (mpy_emu_probe); {noise_ppm: N, seed: S}: line noise on what the host
 * sends (N per million bytes, 0 = none); {credit_delay_ms: N}: a slow board (raw-paste credit
 * N ms late); {baud: N}: the link's speed host to board (0: the pty's).
 */
static int mp_bridge_call(const lb_driver *drv, const char *method, const json_t *params,
			  json_t **result, lb_error *err)
{
	(void)drv;
	if (strcmp(method, "emulator") == 0 && json_object_get(params, "fault") == NULL &&
	    json_object_get(params, "probe") == NULL) {
		if (!lb_emulated_running(&mp_emulated, err))
			return LB_EFAIL;
		if (json_object_get(params, "baud")) {
			long long baud = 0;
			if (lb_param_int(params, "baud", true, 0, 4000000, &baud, err) < 0)
				return LB_EFAIL;
			mpy_emu_set_baud(mp_emulated.emu, (int)baud);
			*result = json_null();
			return 0;
		}
		if (json_object_get(params, "credit_delay_ms")) {
			long long ms = 0;
			if (lb_param_int(params, "credit_delay_ms", true, 0, 1000, &ms, err) < 0)
				return LB_EFAIL;
			mpy_emu_set_credit_delay(mp_emulated.emu, (int)ms);
			*result = json_null();
			return 0;
		}
		if (json_object_get(params, "noise_ppm")) {
			long long ppm = 0, seed = 1;
			if (lb_param_int(params, "noise_ppm", true, 0, 1000000, &ppm, err) < 0 ||
			    lb_param_int(params, "seed", false, 1, 0xffffffffLL, &seed, err) < 0)
				return LB_EFAIL;
			mpy_emu_set_noise(mp_emulated.emu, (uint32_t)ppm, (uint32_t)seed);
			*result = json_null();
			return 0;
		}
	}
	return lb_emulated_fault(&mp_emulated, method, params, result, err);
}

static const lb_action mp_actions[] = {
    {LB_ROBOT_MOVE, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_LOAD, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_RUN, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {LB_ROBOT_PROG_STOP, LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {LB_ROBOT_SET, LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    /* the extras: clients holding the lease */
    {"micropython.save", LB_ROLE_STUDENT, LB_ACTION_MOTION | LB_ACTION_HOLDER},	 /* runs at boot */
    {"micropython.reset", LB_ROLE_STUDENT, LB_ACTION_MOTION | LB_ACTION_HOLDER}, /* main.py runs */
    {"micropython.exec", LB_ROLE_STUDENT,
     LB_ACTION_MOTION | LB_ACTION_HOLDER}, /* any code: motors too */
    {NULL, 0, 0},
};

static lb_driver micropython_driver = {
    .name = "micropython",
    .description = "MicroPython boards as robots (micro:bit robots, LEGO SPIKE, ESP32): raw REPL",
    .capabilities = LB_CAP_PROGRAM,
    .scan = mp_scan,
    .open = mp_open,
    .close = mp_close,
    .config_get = mp_config_get,
    .describe = mp_describe,
    .actions = mp_actions,
    .call = mp_call,
    .pollitems = mp_pollitems,
    .run = mp_run,
    .simulate = mp_simulate,
    .cleanup = mp_cleanup,
    .bridge_call = mp_bridge_call,
    .halt = mp_halt,
    .halted = mp_halted,
};
LB_REGISTER_DRIVER(micropython_driver);
