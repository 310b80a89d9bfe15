/* emulator.h - a Marlin 3D printer on a pseudo-terminal: line numbers, checksums, resend, temps. */
#ifndef LB_MARLIN_EMULATOR_H
#define LB_MARLIN_EMULATOR_H

#include <stdint.h>

#include "../../bridge/util/error.h"

typedef struct marlin_emu marlin_emu;

typedef struct marlin_emu_options {
	int baud;	      /* simulated link speed in both directions (bytes take 10 bits); 0: as
				 fast as the pseudo-terminal goes */
	int bufsize;	      /* command buffer slots (Marlin BUFSIZE), default 4 */
	int rx_buffer;	      /* serial receive buffer in bytes (RX_BUFFER_SIZE), default 128; bytes
				 beyond it while the command buffer is full are lost, as on a real board */
	int advanced_ok;      /* print "ok N<n> P<p> B<b>" (default 1) */
	int autoreport;	      /* offer Cap:AUTOREPORT_TEMP:1 and honour M155 (default 1) */
	double time_scale;    /* multiply simulated durations (heating, homing, dwell) by this;
				 default 1, tests use e.g. 0.01 */
	const char *log_path; /* if set: every executed command, one per line, in order ("G1 X1"),
				 written as it executes (flushed per line) */
	const char *serial;   /* reported in M115 (UUID), default "sim-marlin-1" */
	const char *ack_log_path; /* if set: every numbered command whose "ok" went out (not
				     dropped, not silenced), one per line, flushed: what the host
				     may count as accepted */
} marlin_emu_options;

typedef enum marlin_emu_fault {
	MARLIN_EMU_OK = 0,
	MARLIN_EMU_SILENT,	   /* stop answering */
	MARLIN_EMU_GARBAGE,	   /* noise lines mixed into the output */
	MARLIN_EMU_CORRUPT = 16,   /* corrupt one received line in `every` (checksum fails) */
	MARLIN_EMU_DROP_OK,	   /* drop one "ok" in `every` */
	MARLIN_EMU_NO_RESEND_OK,   /* send no "ok" after a resend request */
	MARLIN_EMU_RESET,	   /* the board resets now: buffers lost, "start" printed */
	MARLIN_EMU_THERMAL,	   /* a thermal runaway now: "Error:..." then halted (kill()) */
	MARLIN_EMU_ALWAYS_CORRUPT, /* corrupt every reception of line `every` (a line that keeps
				      failing) */
} marlin_emu_fault;

/* Defaults for every option (the sim lab uses them with time_scale 1). */
void marlin_emu_options_default(marlin_emu_options *o);

/*
 * Start a printer on a new pseudo-terminal. When opened it prints "start" then echo lines, like a
 * board after reset; it answers G-code as Marlin 2.1 does. NULL with err set on failure.
 */
marlin_emu *marlin_emu_new(const marlin_emu_options *o, lb_error *err);

/* The pseudo-terminal's path (what the driver opens). */
const char *marlin_emu_path(const marlin_emu *e);

/* Inject a fault (thread-safe); every: 1 in N for CORRUPT and DROP_OK, the line number for
 * ALWAYS_CORRUPT, ignored otherwise. */
void marlin_emu_set_fault(marlin_emu *e, marlin_emu_fault fault, long every);

/* Counters (thread-safe): commands executed, lines rejected (resend asked), oks dropped. */
typedef struct marlin_emu_stats {
	long executed, rejected, dropped_ok, resets;
	int64_t estop_ns;   /* CLOCK_MONOTONIC when M112 was read off the wire; 0 if never */
	double hotend, bed; /* current temperatures */
	int halted;	    /* after M112, kill() or a thermal error, until the port is reopened */
	int port_open;	    /* a host has the port open (a close is seen within ~20 ms) */
} marlin_emu_stats;
void marlin_emu_stats_get(marlin_emu *e, marlin_emu_stats *out);

/* Stop the printer: its port disappears. Accepts NULL; nulls the pointer. */
void marlin_emu_destroy(marlin_emu **pe);

#endif
