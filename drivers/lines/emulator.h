/* emulator.h - a micro:bit printing sensor lines on a pseudo-terminal, for the simulated lab. */
#ifndef LB_LINES_EMULATOR_H
#define LB_LINES_EMULATOR_H

#include "../../bridge/util/error.h"

typedef struct lines_emu lines_emu;

typedef enum lines_emu_fault {
	LINES_EMU_OK,
	LINES_EMU_SILENT,  /* stop printing (a crashed program) */
	LINES_EMU_GARBAGE, /* noise and broken lines mixed in */
} lines_emu_fault;

/*
 * Start a board on a new pseudo-terminal: each time the port is opened it prints a comment and
 * the header `temperature(°C),light(lx),accel_x(mg)`, then a record every 100 ms, as a
 * micro:bit program with `serial.writeLine` does. NULL with err set on failure.
 */
lines_emu *lines_emu_new(lb_error *err);

/* The pseudo-terminal's path. */
const char *lines_emu_path(const lines_emu *e);

/* Inject a fault (thread-safe). */
void lines_emu_set_fault(lines_emu *e, lines_emu_fault fault);

/* Stop the board: its port disappears. Accepts NULL; nulls the pointer. */
void lines_emu_destroy(lines_emu **pe);

#endif
