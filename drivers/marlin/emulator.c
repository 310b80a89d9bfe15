/* emulator.c - a Marlin 2.1 printer on a pseudo-terminal: line numbers, checksums, resend, temps.
 */
#include "emulator.h"

#include "../../bridge/util/clock.h"

#include "../../bridge/sim/ptyboard.h"
#include "../../bridge/sim/simmath.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMD 96	     /* Marlin MAX_CMD_SIZE: longer lines are cut */
#define CHUNK 65536	     /* bytes read from the pty at once */
#define OUT_MAX (1 << 20)    /* output the host does not read beyond this is lost */
#define PLANNER_FREE 15	     /* BLOCK_BUFFER_SIZE 16 - 1: the planner is instantaneous here */
#define AMBIENT 20.0	     /* room temperature, °C */
#define SEC 1000000000LL     /* one second in ns */
#define IDLE_NS 50000000LL   /* longest sleep: how fast destroy is noticed */
#define CLOSED_NS 20000000LL /* poll period while no host has the port open */
#define GRAIN_NS 1000000.0   /* baud throttle granularity */
#define TEMP_WINDOW 1.0	     /* Marlin TEMP_WINDOW / TEMP_BED_WINDOW */
#define TEMP_HYSTERESIS 3.0  /* Marlin TEMP_HYSTERESIS */
#define RESIDENCY_S 10.0     /* Marlin TEMP_RESIDENCY_TIME / TEMP_BED_RESIDENCY_TIME */
#define HOMING_S 1.0	     /* G28 */
#define KEEPALIVE_S 2.0	     /* HOST_KEEPALIVE_INTERVAL */
#define TAU_HOTEND_S 6.0     /* first-order heating: 20 -> 200 °C (within 1 °C) in ~31 s */
#define TAU_BED_S 15.0
#define TAU_COOL_S 60.0

static const double steps_per_mm[3] = {80, 80, 400}; /* DEFAULT_AXIS_STEPS_PER_UNIT */

enum run_kind { RUN_NONE, RUN_TIMED, RUN_HOTEND, RUN_BED };

/* Marlin's emergency parser states (feature/e_parser.h), for M108 and M112. */
enum ep_state { EP_RESET, EP_N, EP_M, EP_M1, EP_M10, EP_M108, EP_M11, EP_M112, EP_IGNORE };

typedef struct slot {
	char text[MAX_CMD]; /* the command: no line number, no checksum, trimmed */
	long n;		    /* its line number if has_n */
	int has_n;
} slot;

struct marlin_emu {
	marlin_emu_options o;
	char serial[64];
	lb_pty_board b; /* the pseudo-terminal and the thread */
	FILE *log, *ack_log;

	/* faults (set from any thread) */
	atomic_int f_silent, f_garbage, f_no_resend_ok, f_reset, f_thermal, f_always_on;
	atomic_long f_corrupt, f_drop_ok, f_always_line;

	/* statistics (read from any thread) */
	atomic_long executed, rejected, dropped_ok, resets;
	atomic_int port_open; /* a host has the port open (open_, for other threads) */
	atomic_llong estop_ns, hotend_mc, bed_mc; /* temperatures in milli-°C */
	atomic_int halted_pub;

	/* everything below belongs to the emulator thread */
	int open_, halted;
	long last_n;
	uint8_t *ring; /* the UART receive buffer (rx_buffer bytes) */
	size_t ring_head, ring_len;
	char line[MAX_CMD]; /* the line being assembled */
	int line_len, line_skip;
	int drop_rest; /* a line error flushed the receive buffer: drop the rest of the chunk */
	slot *slots;   /* the command ring buffer (bufsize) */
	int slot_head, slot_count;
	int ep;
	char *out; /* output waiting for the wire */
	size_t out_len, out_cap;
	long ok_count, corrupt_count, garbage_count;

	double pos[4]; /* X Y Z E */
	int relative, e_relative;
	double hotend, bed, t_hotend, t_bed;
	int64_t last_temp_ns;
	int64_t autoreport_ns, next_autoreport;

	int run; /* the command executing at the head of the buffer */
	int64_t run_end, next_busy, next_temp_print, residency_start;
	int no_wait_cooling, wait_heatup;

	double byte_ns; /* 0: no baud limit */
	double rx_clock, tx_clock;
	int rx_pending, tx_pending, tx_blocked;
};

/* A simulated duration of s seconds in ns, scaled by time_scale. */
static int64_t sim_ns(const marlin_emu *e, double s)
{
	return (int64_t)(s * e->o.time_scale * 1e9);
}

/* Append raw bytes to the output; beyond OUT_MAX (a host that never reads) they are lost. */
static void out_raw(marlin_emu *e, const char *s, size_t n)
{
	if (e->out_len + n > e->out_cap) {
		size_t cap = e->out_cap ? e->out_cap : 4096;
		char *p;
		while (cap < e->out_len + n)
			cap *= 2;
		if (cap > OUT_MAX)
			return;
		p = realloc(e->out, cap);
		if (!p)
			return;
		e->out = p;
		e->out_cap = cap;
	}
	memcpy(e->out + e->out_len, s, n);
	e->out_len += n;
}

/* Print one line (text without its '\n'); noise first under GARBAGE, nothing under SILENT.
 * 1 when the line goes out, 0 when SILENT swallowed it. */
static int emit_line(marlin_emu *e, const char *s)
{
	if (atomic_load_explicit(&e->f_silent, memory_order_relaxed))
		return 0;
	if (atomic_load_explicit(&e->f_garbage, memory_order_relaxed) &&
	    ++e->garbage_count % 3 == 0) {
		static const char noise[] = "\x07\x1b\xfe garbage\n";
		out_raw(e, noise, sizeof noise - 1);
	}
	out_raw(e, s, strlen(s));
	out_raw(e, "\n", 1);
	return 1;
}

/* printf-style emit_line; lines longer than 255 bytes are cut. */
static void emitf(marlin_emu *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emitf(marlin_emu *e, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	emit_line(e, buf);
}

/* Print an "ok" line (text starts with "ok"), or drop it under DROP_OK (counted). 1 when it
 * goes out. */
static int emit_ok(marlin_emu *e, const char *text)
{
	long every = atomic_load_explicit(&e->f_drop_ok, memory_order_relaxed);

	e->ok_count++;
	if (every > 0 && e->ok_count % every == 0) {
		atomic_fetch_add(&e->dropped_ok, 1);
		return 0;
	}
	return emit_line(e, text);
}

/* Marlin's print_heater_states: " T:20.00 /0.00 B:20.00 /0.00 @:0 B@:0" into buf. */
static void heater_states(const marlin_emu *e, char *buf, size_t cap)
{
	snprintf(buf, cap, " T:%.2f /%.2f B:%.2f /%.2f @:0 B@:0", e->hotend, e->t_hotend, e->bed,
		 e->t_bed);
}

/* Publish temperatures and the halted flag for marlin_emu_stats_get. */
static void publish(marlin_emu *e)
{
	atomic_store(&e->hotend_mc, (long long)llround(e->hotend * 1000));
	atomic_store(&e->bed_mc, (long long)llround(e->bed * 1000));
	atomic_store(&e->halted_pub, e->halted);
}

/* Forget received input, queued commands and the running command (a reset or a kill). */
static void clear_input(marlin_emu *e)
{
	e->ring_head = e->ring_len = 0;
	e->line_len = e->line_skip = 0;
	e->slot_head = e->slot_count = 0;
	e->run = RUN_NONE;
	e->ep = EP_RESET;
	e->drop_rest = 1;
}

/* The board (re)starts: state as after power-up, then the boot banner. */
static void board_reset(marlin_emu *e)
{
	clear_input(e);
	e->halted = 0;
	e->last_n = 0;
	memset(e->pos, 0, sizeof e->pos);
	e->relative = e->e_relative = 0;
	e->t_hotend = e->t_bed = 0;
	e->autoreport_ns = 0;
	publish(e);
	emit_line(e, "start");
	emit_line(e, "echo:Marlin 2.1.2.1");
	emit_line(e, "");
	emit_line(e, "echo: Last Updated: 2023-07-04 | Author: (labbridge, emulated)");
	emit_line(e, "echo:Compiled: Jul  4 2023");
	emit_line(e, "echo: Free Memory: 2855  PlannerBufferBytes: 1232");
	emit_line(e, "echo:V86 stored settings retrieved (649 bytes; crc 26923)");
	emit_line(e, "echo:; Steps per unit:");
	emit_line(e, "echo: M92 X80.00 Y80.00 Z400.00 E500.00");
}

/* kill(): heaters off, everything dropped, nothing answered until the port is reopened. */
static void kill_board(marlin_emu *e)
{
	emit_line(e, "Error:Printer halted. kill() called!");
	clear_input(e);
	e->t_hotend = e->t_bed = 0;
	e->autoreport_ns = 0;
	e->halted = 1;
	publish(e);
}

/* Write the executed command to the log (if any), flushed. */
static void log_cmd(marlin_emu *e, const char *cmd)
{
	if (!e->log || !*cmd)
		return;
	fputs(cmd, e->log);
	fputc('\n', e->log);
	fflush(e->log);
}

/* The value following letter L among cmd's parameters (after the command word): 1 if seen. */
static int param(const char *cmd, char letter, double *val)
{
	const char *p = cmd + 1;

	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	for (; *p; p++) {
		if (toupper((unsigned char)*p) == letter) {
			char *end;
			double v = strtod(p + 1, &end);
			*val = end == p + 1 ? 0 : v;
			return 1;
		}
	}
	return 0;
}

/* The command at the head finished: print its ok (Marlin ok_to_send) and free its slot. */
static void finish(marlin_emu *e)
{
	const slot *s = &e->slots[e->slot_head];
	char buf[64];

	if (!e->o.advanced_ok)
		snprintf(buf, sizeof buf, "ok");
	else if (s->has_n)
		snprintf(buf, sizeof buf, "ok N%ld P%d B%d", s->n, PLANNER_FREE,
			 e->o.bufsize - e->slot_count);
	else
		snprintf(buf, sizeof buf, "ok P%d B%d", PLANNER_FREE, e->o.bufsize - e->slot_count);
	if (emit_ok(e, buf) && e->ack_log && s->has_n && s->text[0]) {
		/* the host can count this line as accepted: it has its ok */
		fprintf(e->ack_log, "%s\n", s->text);
		fflush(e->ack_log);
	}
	e->run = RUN_NONE;
	e->slot_head = (e->slot_head + 1) % e->o.bufsize;
	e->slot_count--;
}

/* Start a command that keeps the board busy for s simulated seconds ("echo:busy: processing"). */
static void run_timed(marlin_emu *e, double s, int64_t now)
{
	if (s <= 0) {
		finish(e);
		return;
	}
	e->run = RUN_TIMED;
	e->run_end = now + sim_ns(e, s);
	e->next_busy = now + sim_ns(e, KEEPALIVE_S);
}

/* M109/M190: set the target, then wait (Marlin wait_for_hotend/wait_for_bed) or finish. */
static void run_heat(marlin_emu *e, int bed, const char *cmd, int64_t now)
{
	double t, *target = bed ? &e->t_bed : &e->t_hotend, temp = bed ? e->bed : e->hotend;
	int no_wait_cooling = param(cmd, 'S', &t);

	if (!no_wait_cooling && !param(cmd, 'R', &t)) {
		finish(e);
		return;
	}
	*target = t;
	if (!(t > temp) && no_wait_cooling) {
		finish(e); /* not heating and S: no wait */
		return;
	}
	e->run = bed ? RUN_BED : RUN_HOTEND;
	e->no_wait_cooling = no_wait_cooling;
	e->wait_heatup = 1;
	e->residency_start = 0;
	e->next_temp_print = now;
}

/* Execute the command at the head of the buffer (Marlin process_next_command). */
static void exec_head(marlin_emu *e, int64_t now)
{
	const char *c = e->slots[e->slot_head].text;
	char letter = (char)toupper((unsigned char)c[0]), buf[256];
	long code = isdigit((unsigned char)c[1]) ? strtol(c + 1, NULL, 10) : -1;
	double v;

	atomic_fetch_add_explicit(&e->executed, 1, memory_order_relaxed);
	log_cmd(e, c);
	if (!*c) {
		finish(e);
		return;
	}
	if (letter == 'G') {
		switch (code) {
		case 0:
		case 1:
			for (int a = 0; a < 4; a++) {
				if (!param(c, "XYZE"[a], &v))
					continue;
				if (a == 3 ? e->e_relative : e->relative)
					e->pos[a] += v;
				else
					e->pos[a] = v;
			}
			break;
		case 4: {
			double s = 0;
			if (param(c, 'P', &v))
				s = v / 1000;
			if (param(c, 'S', &v))
				s = v;
			run_timed(e, s, now);
			return;
		}
		case 28: {
			int any = 0;
			for (int a = 0; a < 3; a++)
				if (param(c, "XYZ"[a], &v))
					e->pos[a] = 0, any = 1;
			if (!any)
				e->pos[0] = e->pos[1] = e->pos[2] = 0;
			run_timed(e, HOMING_S, now);
			return;
		}
		case 90: e->relative = e->e_relative = 0; break;
		case 91: e->relative = e->e_relative = 1; break;
		case 92:
			for (int a = 0; a < 4; a++)
				if (param(c, "XYZE"[a], &v))
					e->pos[a] = v;
			break;
		default: break;
		}
	} else if (letter == 'M') {
		switch (code) {
		case 82: e->e_relative = 0; break;
		case 83: e->e_relative = 1; break;
		case 104:
			if (param(c, 'S', &v))
				e->t_hotend = v;
			break;
		case 140:
			if (param(c, 'S', &v))
				e->t_bed = v;
			break;
		case 109: run_heat(e, 0, c, now); return;
		case 190: run_heat(e, 1, c, now); return;
		case 105: {
			/* no ok_to_send after M105: its own "ok T:..." */
			char states[160];
			heater_states(e, states, sizeof states);
			snprintf(buf, sizeof buf, "ok%s", states);
			emit_ok(e, buf);
			e->slot_head = (e->slot_head + 1) % e->o.bufsize;
			e->slot_count--;
			return;
		}
		case 110:
			if (param(c, 'N', &v))
				e->last_n = (long)v;
			break;
		case 112: kill_board(e); return;
		case 114:
			emitf(e, "X:%.2f Y:%.2f Z:%.2f E:%.2f Count X:%ld Y:%ld Z:%ld", e->pos[0],
			      e->pos[1], e->pos[2], e->pos[3], lround(e->pos[0] * steps_per_mm[0]),
			      lround(e->pos[1] * steps_per_mm[1]),
			      lround(e->pos[2] * steps_per_mm[2]));
			break;
		case 115: {
			static const char *const caps[] = {
			    "SERIAL_XON_XOFF:0",
			    "BINARY_FILE_TRANSFER:0",
			    "EEPROM:1",
			    "VOLUMETRIC:1",
			    "AUTOREPORT_POS:0",
			    NULL /* TEMP */,
			    "PROGRESS:0",
			    "PRINT_JOB:1",
			    "AUTOLEVEL:0",
			    "RUNOUT:0",
			    "Z_PROBE:0",
			    "LEVELING_DATA:0",
			    "BUILD_PERCENT:0",
			    "SOFTWARE_POWER:0",
			    "TOGGLE_LIGHTS:0",
			    "CASE_LIGHT_BRIGHTNESS:0",
			    "EMERGENCY_PARSER:1",
			    "HOST_ACTION_COMMANDS:1",
			    "PROMPT_SUPPORT:0",
			    "SDCARD:0",
			    NULL /* ADVANCED_OK */,
			    "REPEAT:0",
			    "SD_WRITE:0",
			    "AUTOREPORT_SD_STATUS:0",
			    "LONG_FILENAME:0",
			    "LFN_WRITE:0",
			    "CUSTOM_FIRMWARE_UPLOAD:0",
			    "EXTENDED_M20:0",
			    "THERMAL_PROTECTION:1",
			    "MOTION_MODES:0",
			    "ARCS:1",
			    "BABYSTEPPING:0",
			    "CHAMBER_TEMPERATURE:0",
			    "COOLER_TEMPERATURE:0",
			    "MEATPACK:0",
			    "CONFIG_EXPORT:0",
			};
			emitf(
			    e,
			    "FIRMWARE_NAME:Marlin 2.1.2.1 (Jul  4 2023 12:00:00) "
			    "SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
			    "MACHINE_TYPE:labbridge emulated printer EXTRUDER_COUNT:1 UUID:%s",
			    e->serial);
			for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
				if (caps[i])
					emitf(e, "Cap:%s", caps[i]);
				else if (i == 5)
					emitf(e, "Cap:AUTOREPORT_TEMP:%d", e->o.autoreport ? 1 : 0);
				else
					emitf(e, "Cap:ADVANCED_OK:%d", e->o.advanced_ok ? 1 : 0);
			}
			break;
		}
		case 155:
			if (!e->o.autoreport) {
				emitf(e, "echo:Unknown command: \"%s\"", c);
				break;
			}
			if (param(c, 'S', &v)) {
				/* the host's interval, real time (not scaled: the reports share the
				 * link with the oks, as on a real board) */
				e->autoreport_ns = v > 0 ? (int64_t)(v * 1e9) : 0;
				if (v > 0 && e->autoreport_ns < 1000000)
					e->autoreport_ns = 1000000; /* at most 1000 reports/s */
				e->next_autoreport = now + e->autoreport_ns;
			}
			break;
		default: break; /* M108, M400, M84, M106, M107, M117...: nothing to simulate */
		}
	} else if (letter != 'T') {
		emitf(e, "echo:Unknown command: \"%s\"", c);
	}
	finish(e);
}

/* Execute commands from the head while the board is not busy and more than keep are queued. */
static void drain(marlin_emu *e, int keep, int64_t now)
{
	while (!e->halted && e->run == RUN_NONE && e->slot_count > keep)
		exec_head(e, now);
}

/* gcode_line_error + flush_and_request_resend: report, drop received input, ask for a resend. */
static void line_error(marlin_emu *e, const char *what)
{
	emitf(e, "Error:%s, Last Line: %ld", what, e->last_n);
	e->ring_head = e->ring_len = 0;
	e->drop_rest = 1;
	emitf(e, "Resend: %ld", e->last_n + 1);
	if (!atomic_load_explicit(&e->f_no_resend_ok, memory_order_relaxed))
		emit_ok(e, "ok");
	atomic_fetch_add_explicit(&e->rejected, 1, memory_order_relaxed);
}

/* A complete line from the host (Marlin get_serial_commands): check it, queue it, maybe run. */
static void handle_line(marlin_emu *e, char *line, int64_t now)
{
	char *cmd = line, *npos, *apos, *end;
	long n = 0;
	slot *s;

	while (*cmd == ' ')
		cmd++;
	npos = *cmd == 'N' ? cmd : NULL;
	if (npos) {
		int m110 = strstr(cmd, "M110") != NULL;
		long every = atomic_load_explicit(&e->f_corrupt, memory_order_relaxed);
		int corrupt;

		n = strtol(npos + 1, NULL, 10);
		e->corrupt_count++;
		corrupt = (every > 0 && e->corrupt_count % every == 0) ||
			  (atomic_load_explicit(&e->f_always_on, memory_order_relaxed) &&
			   n == atomic_load_explicit(&e->f_always_line, memory_order_relaxed));
		if (m110) {
			char *n2pos = strchr(cmd + 4, 'N');
			if (n2pos)
				npos = n2pos;
		}
		if (strtol(npos + 1, NULL, 10) != e->last_n + 1 && !m110) {
			line_error(e, "Line Number is not Last Line Number+1");
			return;
		}
		apos = strrchr(cmd, '*');
		if (!apos) {
			line_error(e, "No Checksum with line number");
			return;
		}
		{
			uint8_t sum = 0;
			for (const char *p = cmd; p < apos; p++)
				sum ^= (uint8_t)*p;
			if (corrupt)
				sum ^= 0x01; /* a bit flipped on the wire */
			if (strtol(apos + 1, NULL, 10) != sum) {
				line_error(e, "checksum mismatch");
				return;
			}
		}
		e->last_n = strtol(npos + 1, NULL, 10);
	}
	/* queue it, cleaned as Marlin's parser sees it: no N, no checksum */
	s = &e->slots[(e->slot_head + e->slot_count) % e->o.bufsize];
	s->has_n = npos != NULL;
	s->n = n;
	if (npos) {
		cmd++;
		while (isdigit((unsigned char)*cmd) || *cmd == '-')
			cmd++;
		while (*cmd == ' ')
			cmd++;
	}
	end = strchr(cmd, '*');
	if (!end)
		end = cmd + strlen(cmd);
	while (end > cmd && isspace((unsigned char)end[-1]))
		end--;
	memcpy(s->text, cmd, (size_t)(end - cmd));
	s->text[end - cmd] = '\0';
	e->slot_count++;
	/* Marlin fills the buffer from what has arrived, then executes one command */
	drain(e, e->o.bufsize - 1, now);
}

/* Feed one received byte to the line assembler (Marlin process_stream_char). */
static void feed(marlin_emu *e, uint8_t c, int64_t now)
{
	if (c == '\n' || c == '\r') {
		if (e->line_len > 0) {
			e->line[e->line_len] = '\0';
			e->line_len = e->line_skip = 0;
			handle_line(e, e->line, now);
		}
		e->line_skip = 0;
		return;
	}
	if (e->line_skip)
		return;
	if (c == ';') {
		e->line_skip = 1; /* comment to the end of the line */
		return;
	}
	e->line[e->line_len++] = (char)c;
	if (e->line_len >= MAX_CMD - 1)
		e->line_skip = 1; /* too long: the rest is lost */
}

/* The emergency parser on one byte; returns 112 or 108 when that command's line ends. */
static int ep_update(marlin_emu *e, uint8_t c)
{
	int eol = c == '\n' || c == '\r';

	switch (e->ep) {
	case EP_RESET:
		if (c == 'N')
			e->ep = EP_N;
		else if (c == 'M')
			e->ep = EP_M;
		else if (c != ' ' && !eol)
			e->ep = EP_IGNORE;
		return 0;
	case EP_N:
		if (c == 'M')
			e->ep = EP_M;
		else if (!isdigit(c) && c != '-' && c != ' ')
			e->ep = eol ? EP_RESET : EP_IGNORE;
		return 0;
	case EP_M:
		if (c == '1')
			e->ep = EP_M1;
		else if (c != ' ')
			e->ep = eol ? EP_RESET : EP_IGNORE;
		return 0;
	case EP_M1:
		e->ep = c == '0' ? EP_M10 : c == '1' ? EP_M11 : eol ? EP_RESET : EP_IGNORE;
		return 0;
	case EP_M10: e->ep = c == '8' ? EP_M108 : eol ? EP_RESET : EP_IGNORE; return 0;
	case EP_M11: e->ep = c == '2' ? EP_M112 : eol ? EP_RESET : EP_IGNORE; return 0;
	case EP_IGNORE:
		if (eol)
			e->ep = EP_RESET;
		return 0;
	default:
		if (!eol)
			return 0;
		{
			int r = e->ep == EP_M112 ? 112 : 108;
			e->ep = EP_RESET;
			return r;
		}
	}
}

/* Pull bytes waiting in the receive ring into the command buffer while the board is free. */
static void pump(marlin_emu *e, int64_t now)
{
	size_t cap = (size_t)e->o.rx_buffer;

	e->drop_rest = 0;
	while (e->ring_len && e->run == RUN_NONE && !e->halted && !e->drop_rest) {
		uint8_t c = e->ring[e->ring_head];
		e->ring_head = (e->ring_head + 1) % cap;
		e->ring_len--;
		feed(e, c, now);
	}
	drain(e, 0, now);
}

/* Bytes read off the wire: emergency parser first (acts at once), then the UART buffer. */
static void receive(marlin_emu *e, const uint8_t *p, size_t n, int64_t now)
{
	size_t cap = (size_t)e->o.rx_buffer;

	if (e->halted || atomic_load_explicit(&e->f_silent, memory_order_relaxed))
		return; /* a dead or hung board reads nothing */
	for (size_t i = 0; i < n; i++) {
		int r = ep_update(e, p[i]);
		if (r == 112) {
			atomic_store(&e->estop_ns, (long long)lb_clock_ns(CLOCK_MONOTONIC));
			kill_board(e);
			return;
		}
		if (r == 108)
			e->wait_heatup = 0; /* M108: stop waiting for heat-up */
	}
	e->drop_rest = 0;
	for (size_t i = 0; i < n; i++) {
		if (e->run != RUN_NONE) {
			/* busy: bytes wait in the UART buffer; beyond it they are lost */
			for (; i < n && e->ring_len < cap; i++) {
				e->ring[(e->ring_head + e->ring_len) % cap] = p[i];
				e->ring_len++;
			}
			break;
		}
		feed(e, p[i], now);
		if (e->drop_rest)
			break; /* a line error flushed what had arrived */
	}
	e->drop_rest = 0;
	drain(e, 0, now);
}

/* Heaters: first-order approach to the target (or to room temperature when off). */
static void update_temps(marlin_emu *e, int64_t now)
{
	double dt = (double)(now - e->last_temp_ns) / 1e9;
	double th = (e->t_hotend > 0 ? TAU_HOTEND_S : TAU_COOL_S) * e->o.time_scale;
	double tb = (e->t_bed > 0 ? TAU_BED_S : TAU_COOL_S) * e->o.time_scale;
	double goal_h = e->t_hotend > 0 ? e->t_hotend : AMBIENT;
	double goal_b = e->t_bed > 0 ? e->t_bed : AMBIENT;

	e->last_temp_ns = now;
	if (dt <= 0)
		return;
	e->hotend = th > 0 ? goal_h + (e->hotend - goal_h) * lb_exp_neg(dt / th) : goal_h;
	e->bed = tb > 0 ? goal_b + (e->bed - goal_b) * lb_exp_neg(dt / tb) : goal_b;
	publish(e);
}

/* Progress of the running command: busy messages, temperature lines, completion. */
static void tick_run(marlin_emu *e, int64_t now)
{
	if (e->run == RUN_TIMED) {
		if (now >= e->run_end) {
			finish(e);
		} else if (now >= e->next_busy) {
			emit_line(e, "echo:busy: processing");
			e->next_busy += sim_ns(e, KEEPALIVE_S);
			if (e->next_busy <= now)
				e->next_busy = now + sim_ns(e, KEEPALIVE_S) + 1;
		}
	} else if (e->run == RUN_HOTEND || e->run == RUN_BED) {
		int bed = e->run == RUN_BED;
		double temp = bed ? e->bed : e->hotend, target = bed ? e->t_bed : e->t_hotend;
		double diff = fabs(target - temp);
		int64_t residency = sim_ns(e, RESIDENCY_S);

		if (now >= e->next_temp_print) {
			char states[160];
			heater_states(e, states, sizeof states);
			if (e->residency_start) {
				double left = (double)(residency - (now - e->residency_start)) /
					      (1e9 * (e->o.time_scale > 0 ? e->o.time_scale : 1));
				emitf(e, "%s W:%ld", states, left > 0 ? (long)left : 0L);
			} else {
				emitf(e, "%s W:?", states);
			}
			e->next_temp_print += sim_ns(e, 1);
			if (e->next_temp_print <= now)
				e->next_temp_print = now + sim_ns(e, 1) + 1;
		}
		if (!e->residency_start && diff < TEMP_WINDOW)
			e->residency_start = now;
		else if (e->residency_start && diff > TEMP_HYSTERESIS)
			e->residency_start = 0;
		if (!e->wait_heatup || (temp > target && e->no_wait_cooling) ||
		    (e->residency_start && now - e->residency_start >= residency))
			finish(e);
	}
	if (e->run == RUN_NONE)
		pump(e, now);
}

/* Faults that act at once: a reset or a thermal runaway. */
static void tick_faults(marlin_emu *e)
{
	if (atomic_exchange(&e->f_reset, 0)) {
		atomic_fetch_add(&e->resets, 1);
		board_reset(e);
	}
	if (atomic_exchange(&e->f_thermal, 0) && !e->halted) {
		emit_line(e, "Error:Thermal Runaway, system stopped! Heater_ID: 0");
		kill_board(e);
	}
}

/* Send what the link allows of the output; returns with tx_blocked set if the pty is full. */
static void transmit(marlin_emu *e, int64_t now)
{
	size_t n = e->out_len;
	ssize_t w;

	if (!n)
		return;
	if (e->byte_ns > 0) {
		double allowed;
		if (!e->tx_pending && e->tx_clock < (double)now - e->byte_ns)
			e->tx_clock = (double)now - e->byte_ns; /* the line was idle */
		allowed = ((double)now - e->tx_clock) / e->byte_ns;
		if (allowed < 1) {
			e->tx_pending = 1;
			return;
		}
		if ((double)n > allowed)
			n = (size_t)allowed;
	}
	w = write(e->b.master, e->out, n);
	e->tx_blocked = w < 0 && errno == EAGAIN;
	if (w > 0) {
		memmove(e->out, e->out + w, e->out_len - (size_t)w);
		e->out_len -= (size_t)w;
		if (e->byte_ns > 0)
			e->tx_clock += (double)w * e->byte_ns;
	} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
		e->out_len = 0; /* the host went away */
	}
	e->tx_pending = e->out_len > 0;
}

/* Read what the link allows; returns 0 or LB_EGONE when the host closed the port. */
static int take_input(marlin_emu *e, uint8_t *buf, int64_t now)
{
	size_t want = CHUNK;
	ssize_t r;

	if (e->byte_ns > 0) {
		double allowed;
		if (!e->rx_pending && e->rx_clock < (double)now - e->byte_ns)
			e->rx_clock = (double)now - e->byte_ns; /* the line was idle */
		allowed = ((double)now - e->rx_clock) / e->byte_ns;
		if (allowed < 1) {
			e->rx_pending = 1; /* wait for the budget on the clock, not on POLLIN */
			return 0;
		}
		if (allowed < (double)want)
			want = (size_t)allowed;
	}
	r = read(e->b.master, buf, want);
	if (r < 0) {
		e->rx_pending = 0;
		return errno == EAGAIN || errno == EINTR ? 0 : LB_EGONE;
	}
	if (e->byte_ns > 0) {
		e->rx_clock += (double)r * e->byte_ns;
		e->rx_pending = (size_t)r == want; /* more may wait in the pty */
	}
	if (r > 0)
		receive(e, buf, (size_t)r, now);
	return 0;
}

/* Earliest of the timed events, as a deadline for ppoll. */
static int64_t next_deadline(const marlin_emu *e, int64_t now)
{
	int64_t t = now + IDLE_NS;
	double grain = e->byte_ns > GRAIN_NS ? e->byte_ns : GRAIN_NS;

	if (e->run == RUN_TIMED) {
		t = e->run_end < t ? e->run_end : t;
		t = e->next_busy < t ? e->next_busy : t;
	} else if (e->run != RUN_NONE) {
		int64_t soon = now + 2000000; /* temperature conditions: check often */
		t = soon < t ? soon : t;
	}
	if (e->autoreport_ns && !e->halted && e->next_autoreport < t)
		t = e->next_autoreport;
	if (e->byte_ns > 0 && e->rx_pending) {
		int64_t r = (int64_t)(e->rx_clock + grain);
		t = r < t ? r : t;
	}
	if (e->byte_ns > 0 && e->tx_pending && !e->tx_blocked) {
		int64_t w = (int64_t)(e->tx_clock + grain);
		t = w < t ? w : t;
	}
	return t;
}

/* The board: one thread serving the pty until destroy. */
static void *emu_thread(void *arg)
{
	marlin_emu *e = arg;
	uint8_t *buf = malloc(CHUNK);

	if (!buf)
		return NULL;
	e->last_temp_ns = lb_clock_ns(CLOCK_MONOTONIC);
	while (!lb_pty_board_stopping(&e->b)) {
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC), deadline = next_deadline(e, now),
			wait = deadline - now;
		struct pollfd p = {e->b.master, 0, 0};
		struct timespec ts;

		if (!e->open_)
			wait = CLOSED_NS;
		if (wait < 0)
			wait = 0;
		if (!(e->byte_ns > 0 && e->rx_pending))
			p.events |= POLLIN;
		if (e->out_len && (e->tx_blocked || e->byte_ns <= 0))
			p.events |= POLLOUT;
		ts = (struct timespec){wait / SEC, wait % SEC};
		if (ppoll(&p, 1, &ts, NULL) < 0 && errno != EINTR)
			break;
		now = lb_clock_ns(CLOCK_MONOTONIC);
		update_temps(e, now);
		if (p.revents & POLLHUP) {
			if (e->open_) {
				e->open_ = 0; /* nobody listens: the board is unpowered */
				atomic_store(&e->port_open, 0);
				e->out_len = 0;
				e->rx_pending = e->tx_pending = e->tx_blocked = 0;
			}
			ts = (struct timespec){0, CLOSED_NS};
			nanosleep(&ts, NULL);
			continue;
		}
		if (!e->open_) {
			/* the port was opened: DTR resets the board */
			e->open_ = 1;
			atomic_store(&e->port_open, 1);
			tcflush(e->b.master, TCOFLUSH);
			atomic_store(&e->f_reset, 0);
			board_reset(e);
			e->rx_clock = e->tx_clock = (double)now;
		}
		tick_faults(e);
		if (take_input(e, buf, now) < 0) {
			e->open_ = 0;
			atomic_store(&e->port_open, 0);
			continue;
		}
		if (!e->halted) {
			tick_run(e, now);
			if (e->autoreport_ns && now >= e->next_autoreport) {
				char states[160];
				heater_states(e, states, sizeof states);
				emit_line(e, states);
				e->next_autoreport += e->autoreport_ns;
				if (e->next_autoreport <= now)
					e->next_autoreport = now + e->autoreport_ns;
			}
		}
		transmit(e, now);
	}
	free(buf);
	return NULL;
}

/* Defaults: no baud limit, BUFSIZE 4, 128-byte RX buffer, ADVANCED_OK, autoreport; cannot fail. */
void marlin_emu_options_default(marlin_emu_options *o)
{
	*o = (marlin_emu_options){.baud = 0,
				  .bufsize = 4,
				  .rx_buffer = 128,
				  .advanced_ok = 1,
				  .autoreport = 1,
				  .time_scale = 1.0,
				  .log_path = NULL,
				  .serial = "sim-marlin-1"};
}

/* Create the pty and start the board's thread; NULL with err set (bad options, no pty, log). */
marlin_emu *marlin_emu_new(const marlin_emu_options *o, lb_error *err)
{
	marlin_emu *e = calloc(1, sizeof *e);

	if (!e) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	e->b.master = -1;
	if (o)
		e->o = *o;
	else
		marlin_emu_options_default(&e->o);
	if (e->o.bufsize <= 0 || e->o.rx_buffer <= 0 || e->o.baud < 0 || e->o.time_scale < 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "marlin emulator: bufsize and rx_buffer must be > 0, baud and "
			     "time_scale >= 0");
		goto fail;
	}
	snprintf(e->serial, sizeof e->serial, "%s", e->o.serial ? e->o.serial : "sim-marlin-1");
	e->o.serial = e->serial;
	e->byte_ns = e->o.baud > 0 ? 1e10 / e->o.baud : 0;
	e->ring = malloc((size_t)e->o.rx_buffer);
	e->slots = calloc((size_t)e->o.bufsize, sizeof *e->slots);
	if (!e->ring || !e->slots) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	if (e->o.log_path) {
		e->log = fopen(e->o.log_path, "w");
		if (!e->log) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot open %s: %s", e->o.log_path,
				     strerror(errno));
			goto fail;
		}
	}
	if (e->o.ack_log_path) {
		e->ack_log = fopen(e->o.ack_log_path, "w");
		if (!e->ack_log) {
			lb_error_set(err, LB_ERR_INTERNAL, "cannot open %s: %s", e->o.ack_log_path,
				     strerror(errno));
			goto fail;
		}
	}
	e->o.log_path = NULL; /* the caller's string need not outlive this call */
	e->o.ack_log_path = NULL;
	e->hotend = e->bed = AMBIENT;
	publish(e);
	if (lb_pty_board_start(&e->b, 1, emu_thread, e, err) < 0)
		goto fail;
	return e;
fail:
	if (e->log)
		fclose(e->log);
	if (e->ack_log)
		fclose(e->ack_log);
	free(e->ring);
	free(e->slots);
	free(e);
	return NULL;
}

/* The slave's path; valid until destroy. */
const char *marlin_emu_path(const marlin_emu *e)
{
	return e->b.path;
}

/* Set or clear a fault with atomics; RESET and THERMAL act at the thread's next turn. */
void marlin_emu_set_fault(marlin_emu *e, marlin_emu_fault fault, long every)
{
	switch (fault) {
	case MARLIN_EMU_OK:
		atomic_store(&e->f_silent, 0);
		atomic_store(&e->f_garbage, 0);
		atomic_store(&e->f_no_resend_ok, 0);
		atomic_store(&e->f_always_on, 0);
		atomic_store(&e->f_corrupt, 0);
		atomic_store(&e->f_drop_ok, 0);
		break;
	case MARLIN_EMU_SILENT: atomic_store(&e->f_silent, 1); break;
	case MARLIN_EMU_GARBAGE: atomic_store(&e->f_garbage, 1); break;
	case MARLIN_EMU_CORRUPT: atomic_store(&e->f_corrupt, every > 0 ? every : 1); break;
	case MARLIN_EMU_DROP_OK: atomic_store(&e->f_drop_ok, every > 0 ? every : 1); break;
	case MARLIN_EMU_NO_RESEND_OK: atomic_store(&e->f_no_resend_ok, 1); break;
	case MARLIN_EMU_RESET: atomic_store(&e->f_reset, 1); break;
	case MARLIN_EMU_THERMAL: atomic_store(&e->f_thermal, 1); break;
	case MARLIN_EMU_ALWAYS_CORRUPT:
		atomic_store(&e->f_always_line, every);
		atomic_store(&e->f_always_on, 1);
		break;
	}
}

/* A snapshot of the counters (each read atomically); cannot fail. */
void marlin_emu_stats_get(marlin_emu *e, marlin_emu_stats *out)
{
	out->executed = atomic_load(&e->executed);
	out->port_open = atomic_load(&e->port_open);
	out->rejected = atomic_load(&e->rejected);
	out->dropped_ok = atomic_load(&e->dropped_ok);
	out->resets = atomic_load(&e->resets);
	out->estop_ns = (int64_t)atomic_load(&e->estop_ns);
	out->hotend = (double)atomic_load(&e->hotend_mc) / 1000.0;
	out->bed = (double)atomic_load(&e->bed_mc) / 1000.0;
	out->halted = atomic_load(&e->halted_pub);
}

/* Stop the thread, close the master (the port disappears), free all; accepts NULL. */
void marlin_emu_destroy(marlin_emu **pe)
{
	marlin_emu *e;

	if (!pe || !*pe)
		return;
	e = *pe;
	lb_pty_board_stop(&e->b);
	if (e->log)
		fclose(e->log);
	if (e->ack_log)
		fclose(e->ack_log);
	free(e->ring);
	free(e->slots);
	free(e->out);
	free(e);
	*pe = NULL;
}
