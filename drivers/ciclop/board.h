/* board.h - the Ciclop/Horus board's behaviour as a pure model (for the emulator and tests). */
#ifndef LB_CICLOP_BOARD_H
#define LB_CICLOP_BOARD_H

#include <stddef.h>

#define CICLOP_BOARD_VERSION "Horus 0.2"

/*
 * What horus-fw does with a command line, time passed in (milliseconds, any origin): blanks
 * dropped, letters upper-cased, "(comments)" skipped, then letter+number words (G1, G50, M0 M2
 * M17 M18 M50 M70 M71, F X T), report.c's refusals; F in deg/s capped at 180 deg/s, moves with
 * horus-fw's default acceleration (ciclop_move_ms; the angle in between is interpolated linearly);
 * a move turns the table with or without M17; every line's reply is due when the queued motion
 * is over (reply_ms: horus-fw synchronises at the end of each block). Zero it, then
 * ciclop_board_reset.
 */
#define CICLOP_BOARD_LINE_MAX 80 /* protocol.h's LINE_BUFFER_SIZE */
typedef struct ciclop_board {
	double fw_deg;		 /* the firmware's position (the last target) */
	double from_deg, to_deg; /* the table's last move: from, to ... */
	double start_ms, end_ms; /* ... during [start_ms, end_ms] */
	double speed;		 /* deg/min (0: no F yet, G1 refused) */
	int linear;		 /* G1's mode set (else X alone is a rapid) */
	int motors;		 /* steppers enabled */
	int lasers;		 /* bit n-1: laser n on */
	int sensor[8];		 /* what M50T<n> answers */
	long executed, refused;	 /* counters */
} ciclop_board;

/* Power-on state (motors off, lasers off, position 0, no feed rate); writes the greeting the
 * board prints ("\r\nHorus 0.2 ['$' for help]\r\n") into out[cap]; returns its length (cut to
 * fit, NUL-terminated when cap > 0). */
size_t ciclop_board_reset(ciclop_board *b, double now_ms, char *out, size_t cap);

/*
 * Execute one received line (without its end; any bytes) at now_ms and write the reply lines
 * ("ok\r\n", "error: <why>\r\n", a reading then "ok\r\n"; nothing for a blank line) into out[cap],
 * NUL-terminated, cut to fit. Returns the reply's length.
 */
size_t ciclop_board_line(ciclop_board *b, const char *line, size_t len, double now_ms, char *out,
			 size_t cap);

/* When the reply of the last line is due (ms): the end of the queued motion. */
double ciclop_board_reply_ms(const ciclop_board *b);

/* The table's physical angle (degrees) at now_ms. */
double ciclop_board_angle(const ciclop_board *b, double now_ms);

/* Is the table still moving at now_ms? */
int ciclop_board_moving(const ciclop_board *b, double now_ms);

#endif
