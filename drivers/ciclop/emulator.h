/* emulator.h - a Ciclop/Horus turntable-and-lasers board on a pseudo-terminal (the simulated
 * lab's). */
#ifndef LB_CICLOP_EMULATOR_H
#define LB_CICLOP_EMULATOR_H

#include "../../bridge/util/error.h"

typedef struct ciclop_emu ciclop_emu;

typedef enum ciclop_emu_fault {
	CICLOP_EMU_OK = 0,
	CICLOP_EMU_SILENT,  /* stop answering ("turntable not answering") */
	CICLOP_EMU_GARBAGE, /* a noise line before every reply */
	CICLOP_EMU_ALARM,   /* answer everything with "ALARM: Hard limit" */
} ciclop_emu_fault;

/*
 * Start a board on a new pseudo-terminal: it prints its greeting, answers each line as horus-fw
 * does (drivers/ciclop/board.h), and resets (greeting again) on a Ctrl-X byte. NULL with err set
 * on failure.
 */
ciclop_emu *ciclop_emu_new(lb_error *err);

/* The pseudo-terminal's path (what the driver opens). */
const char *ciclop_emu_path(const ciclop_emu *e);

/* Inject a fault (thread-safe). */
void ciclop_emu_set_fault(ciclop_emu *e, ciclop_emu_fault fault);

/* The table's angle (degrees) and the lasers lit (bit n-1: laser n) at now_ms on the emulator's
 * monotonic clock (ciclop_emu_now_ms), for the synthetic camera (thread-safe). */
void ciclop_emu_state(ciclop_emu *e, double now_ms, double *angle, int *lasers);

/* The same, with the steppers' state (enabled) and the lines executed so far. */
void ciclop_emu_board(ciclop_emu *e, double now_ms, double *angle, int *lasers, int *motors,
		      long *executed);

/* One more holder of e (the simulated camera reads the board's state): the board's state stays
 * readable until the last holder lets go, even once the port is gone. Returns e. */
ciclop_emu *ciclop_emu_ref(ciclop_emu *e);

/* Let go of a reference taken with ciclop_emu_ref; accepts NULL and *e NULL; sets *e NULL. */
void ciclop_emu_unref(ciclop_emu **e);

/* The emulator's clock (CLOCK_MONOTONIC, ms). */
double ciclop_emu_now_ms(void);

/* Stop the board (the port disappears) and drop the owner's reference (freed with the last);
 * accepts NULL and *e NULL; sets *e NULL. */
void ciclop_emu_destroy(ciclop_emu **e);

#endif
