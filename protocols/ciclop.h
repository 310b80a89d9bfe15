/* ciclop.h - the Ciclop/Horus 3D-scanner board's serial protocol (horus-fw, Grbl 0.9-derived): pure
 * codec. */
#ifndef LB_PROTO_CICLOP_H
#define LB_PROTO_CICLOP_H

#include <stddef.h>

/*
 * The board (115200 baud) takes one G-code block per line ("\n"-ended, no blanks):
 *   G1X<deg>  turntable absolute move in degrees    G1F<speed>  turntable speed (deg/SECOND)
 *   G50       all positions to zero                 M17 / M18   stepper on / off
 *   M71T<n>   laser n on (n from 1)                 M70T<n>     laser n off
 *   M50T<n>   read analog input n: a number line, then ok
 * and answers each block with "ok" or "error: <why>" (report.c's wording). At reset it prints an
 * empty line then a greeting, "Horus 0.2 ['$' for help]" (older: "Grbl 0.9..."). Alarms come as
 * "ALARM: <why>", feedback messages as "[<text>]". As checked against horus-fw 0.2 (gcode.c):
 * every block ends with laser_run(), which waits for the queued motion (protocol_buffer_
 * synchronize), so "ok" for G1 comes when the move is over, not when it is queued as in Grbl;
 * F is in deg/s (gcode.c multiplies it by 60), capped by the planner at $110 (180 deg/s) with
 * an acceleration of $120 (180 deg/s^2); 16/1.8 steps per degree (defaults.h). A G1 moves the
 * table even without M17 (the driver is enabled for the move, disabled after it); M70/M71 with
 * T outside 1..4 are answered ok and do nothing. A reset with a blank EEPROM prints
 * "error: EEPROM read fail. Using defaults" lines (and the $$ settings) before the greeting.
 */

#define CICLOP_FW_STEPS_PER_DEG (16 / 1.8) /* defaults.h: 1/16 microsteps of a 1.8 deg motor */
#define CICLOP_FW_MAX_RATE 10800.0	   /* deg/min: $110, 180 deg/s */
#define CICLOP_FW_ACCEL 648000.0	   /* deg/min^2: $120, 180 deg/s^2 */

/* The time (ms) horus-fw's default settings take for a move of deg degrees from rest to rest at
 * deg_per_min (capped at CICLOP_FW_MAX_RATE), accelerating at CICLOP_FW_ACCEL: a trapezoid, or a
 * triangle for a short move. 0 for no move or a speed that is not positive. */
double ciclop_move_ms(double deg, double deg_per_min);

#define CICLOP_CMD_MAX 32    /* longest encoded command with its "\n" and NUL */
#define CICLOP_LINE_MAX 128  /* longer reply lines are cut (the rest skipped) */
#define CICLOP_TEXT_MAX 96   /* text kept from a reply */
#define CICLOP_LASERS_MAX 4  /* laser numbers 1..4 */
#define CICLOP_ANGLE_MAX 1e5 /* |degrees| accepted for a move (float precision on the board) */
#define CICLOP_SPEED_MAX 1e5 /* deg/min accepted by ciclop_encode_speed (sent as deg/s) */

/*
 * Encoders: write the command, "\n"-terminated and NUL-terminated, into buf[cap] and return its
 * length (without the NUL). Return -1 (buf untouched beyond cap) when an argument is out of range
 * (non-finite or beyond the limits above, laser outside 1..CICLOP_LASERS_MAX) or cap is too small.
 */
int ciclop_encode_move(char *buf, size_t cap, double degrees);
int ciclop_encode_speed(char *buf, size_t cap, double deg_per_min); /* G1F<deg/s> */
int ciclop_encode_zero(char *buf, size_t cap);
int ciclop_encode_motor(char *buf, size_t cap, int on);
int ciclop_encode_laser(char *buf, size_t cap, int laser, int on);
int ciclop_encode_sensor(char *buf, size_t cap, int sensor);

typedef enum ciclop_kind {
	CICLOP_OTHER = 0, /* anything else ($ settings, unknown lines, blank lines) */
	CICLOP_OK,	  /* "ok" */
	CICLOP_ERROR,	  /* "error: Bad number format", "error:20": the block was refused */
	CICLOP_ALARM,	  /* "ALARM: Hard limit": the board stopped; needs a reset */
	CICLOP_GREETING,  /* "Horus 0.2 ['$' for help]": the board (re)started */
	CICLOP_FEEDBACK,  /* "[Reset to continue]" */
	CICLOP_VALUE,	  /* a bare integer: the answer to M50 */
} ciclop_kind;

typedef struct ciclop_reply {
	ciclop_kind kind;
	long value;		    /* VALUE: the number */
	char text[CICLOP_TEXT_MAX]; /* ERROR/ALARM: why; GREETING: "Horus 0.2"; FEEDBACK: inside the
				       brackets; OTHER: the line. NUL-terminated, truncated, bytes
				       outside printable ASCII replaced by '?' */
} ciclop_reply;

/* Parse one reply line (any bytes, without its end). Always fills *out; returns out->kind. */
ciclop_kind ciclop_parse(const char *s, size_t len, ciclop_reply *out);

/* A line splitter for the board's output, fed with arbitrary chunks; zero it to start. */
typedef struct ciclop_splitter {
	char buf[CICLOP_LINE_MAX + 1];
	size_t len;
	int overflow; /* the current line was cut: skip to its end */
	int after_cr; /* the last line ended with '\r': a '\n' right after it is its end too */
} ciclop_splitter;

/*
 * Take bytes from data[0..len) until a line ends ('\n'; '\r' ends one too, and an empty line
 * right after it is not reported): *line points at it (NUL-terminated, inside sp, valid until
 * the next call), *linelen its length (at most CICLOP_LINE_MAX; a longer line is cut and the rest
 * skipped); returns 1 with *used the bytes consumed. Returns 0 when all bytes were consumed
 * without completing a line.
 */
int ciclop_next_line(ciclop_splitter *sp, const char *data, size_t len, size_t *used,
		     const char **line, size_t *linelen);

#endif
