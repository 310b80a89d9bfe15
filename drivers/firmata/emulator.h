/* emulator.h - a StandardFirmata board (Arduino Uno) on a pseudo-terminal, for the simulated lab.
 */
#ifndef LB_FIRMATA_EMULATOR_H
#define LB_FIRMATA_EMULATOR_H

#include "../../bridge/error.h"

typedef struct firmata_emu firmata_emu;

/* Faults a test or a teacher can inject. */
typedef enum firmata_emu_fault {
	FIRMATA_EMU_OK,	     /* behave */
	FIRMATA_EMU_SILENT,  /* stop answering and reporting (a crashed sketch) */
	FIRMATA_EMU_GARBAGE, /* mix random bytes into the stream (a noisy cable) */
} firmata_emu_fault;

/*
 * Start an emulated board answering on a new pseudo-terminal: it boots (version and firmware
 * report) each time the port is opened, answers the capability and analog mapping queries, and
 * reports its six analog inputs (simulated waveforms) at the sampling interval, paced at 57600
 * baud. Returns NULL with err set.
 */
firmata_emu *firmata_emu_new(lb_error *err);

/* The pseudo-terminal's path, to open like /dev/ttyACM0. */
const char *firmata_emu_path(const firmata_emu *e);

/* Inject a fault (thread-safe). */
void firmata_emu_set_fault(firmata_emu *e, firmata_emu_fault fault);

/* Stop the board: the port disappears, as when the cable is pulled. Accepts NULL; nulls it. */
void firmata_emu_destroy(firmata_emu **pe);

#endif
