/* marlin.h - what a Marlin/RepRap firmware prints back: ok, resend, busy, temperatures, errors. */
#ifndef LB_PROTO_MARLIN_H
#define LB_PROTO_MARLIN_H

#include <stddef.h>

#define MARLIN_TEMPS_MAX 8
#define MARLIN_TEXT_MAX 160

typedef enum marlin_kind {
	MARLIN_OTHER = 0, /* anything else: echo:, comments, unknown lines (console only) */
	MARLIN_OK,	  /* "ok", "ok N12 P15 B3", "ok T:210 /210 B:60 /60" */
	MARLIN_RESEND,	  /* "Resend: 12", "Resend:12", "rs N12", "rs 12" */
	MARLIN_BUSY,	  /* "echo:busy: processing" (also "paused for user", "heating") */
	MARLIN_WAIT,	  /* "wait": the firmware is idle and waiting for commands */
	MARLIN_START,	  /* "start": the board has (re)started */
	MARLIN_ERROR,	  /* a recoverable communication error: checksum mismatch, line number,
			     "No Checksum with line number"... (a resend request follows) */
	MARLIN_FATAL,	  /* "!!", "kill() called", "Printer halted", thermal runaway, MAXTEMP,
			     MINTEMP, heating failed, any other "Error:" */
	MARLIN_TEMP,	  /* a temperature report without ok (M155 auto-report, M105 on some FW) */
	MARLIN_FIRMWARE,  /* "FIRMWARE_NAME:Marlin 2.1.2 (...) ..." (M115) */
	MARLIN_CAP,	  /* "Cap:AUTOREPORT_TEMP:1" */
	MARLIN_POSITION,  /* "X:10.00 Y:20.00 Z:0.30 E:1.00 Count X:..." (M114) */
	MARLIN_UNKNOWN_COMMAND, /* "echo:Unknown command: "M999"" */
} marlin_kind;

typedef struct marlin_temp {
	char name[8]; /* "T", "T0", "T1", "B", "C" (chamber), "P" (probe) ... */
	double actual;
	double target; /* -1 when the line gives none */
} marlin_temp;

typedef struct marlin_reply {
	marlin_kind kind;
	long line;   /* OK: N of ADVANCED_OK, RESEND: the line asked for; -1 when none */
	int planner; /* OK with ADVANCED_OK: free planner slots (P), else -1 */
	int buffer;  /* OK with ADVANCED_OK: free command-buffer slots (B), else -1 */
	int ntemps;  /* OK or TEMP: temperatures carried */
	marlin_temp temps[MARLIN_TEMPS_MAX];
	int has_pos;		    /* POSITION: pos[] set */
	double pos[4];		    /* X Y Z E */
	int cap_value;		    /* CAP: 0 or 1 */
	char text[MARLIN_TEXT_MAX]; /* FIRMWARE: the firmware name ("Marlin 2.1.2"); CAP: the name;
				       ERROR/FATAL: the message; BUSY: the reason; OTHER: the line;
				       NUL-terminated, truncated, control bytes replaced by '?' */
} marlin_reply;

/*
 * Parse one line the firmware printed (without its "\r\n"; any bytes). Always fills *out (kind
 * MARLIN_OTHER for anything unrecognised) and returns out->kind. Never reads past len.
 */
marlin_kind marlin_parse(const char *s, size_t len, marlin_reply *out);

/*
 * A line splitter for the firmware's output, fed with arbitrary chunks; zero it to start. Lines
 * end at '\n' ('\r' is dropped); a line longer than MARLIN_LINE_MAX is cut and the rest skipped.
 */
#define MARLIN_LINE_MAX 512
typedef struct marlin_splitter {
	char buf[MARLIN_LINE_MAX + 1];
	size_t len;
	int overflow;
} marlin_splitter;

/*
 * Take bytes from data[0..len) until a line is complete: *line points at it (NUL-terminated,
 * inside sp, valid until the next call), *linelen its length; returns 1, *used the bytes
 * consumed. Returns 0 when all len bytes were consumed without completing a line.
 */
int marlin_next_line(marlin_splitter *sp, const char *data, size_t len, size_t *used,
		     const char **line, size_t *linelen);

#endif
