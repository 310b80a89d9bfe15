/* emulator.h - a StandardFirmata board (Arduino Uno) on a pseudo-terminal, for the simulated lab.
 */
#ifndef LB_FIRMATA_EMULATOR_H
#define LB_FIRMATA_EMULATOR_H

#include "../../bridge/util/error.h"

typedef struct firmata_emu firmata_emu;

/* Faults a test or a teacher can inject. */
typedef enum firmata_emu_fault {
	FIRMATA_EMU_OK,	     /* behave */
	FIRMATA_EMU_SILENT,  /* stop answering and reporting (a crashed sketch) */
	FIRMATA_EMU_GARBAGE, /* mix random bytes into the stream (a noisy cable) */
} firmata_emu_fault;

/*
 * Start an emulated board running StandardFirmata 2.minor (3, 4 or 5; others are refused) on a
 * new pseudo-terminal, behaving as that release's source does: it boots (version and firmware
 * report) each time the port is opened, answers the capability and analog mapping queries,
 * reports its six analog inputs (simulated waveforms) at the sampling interval (clamped to the
 * release's MINIMUM_SAMPLING_INTERVAL: 10 ms up to 2.4, 1 ms from 2.5), paced at 57600 baud, and
 * digital ports masked to the pins in INPUT (or, 2.5, PULLUP) mode. 2.3 and 2.4 ignore
 * SET_DIGITAL_PIN_VALUE and know no PULLUP mode (a 1 written to an INPUT pin's port bit enables
 * its pull-up); 2.3 does not report a value at once when reporting is turned on. Servos: D2..D13
 * take SERVO mode (SET_PIN_MODE or SERVO_CONFIG), and an analog write (ANALOG_MESSAGE or
 * EXTENDED_ANALOG) to a servo or PWM pin is its angle or duty, kept as the pin's state, which
 * PIN_STATE_QUERY answers. Wiring: D2 is a
 * light gate's output (high half of each second), D3 a push button to ground (pressed in the
 * other half: it reads high only through a pull-up). Returns NULL with err set.
 */
firmata_emu *firmata_emu_new(int minor, lb_error *err);

/* The board's pins as the test sees them (thread-safe): levels of D0..D19, and the interval. */
typedef struct firmata_emu_probe {
	int minor;
	int interval_ms;
	int level[20]; /* what the pin carries: an output's level, an input's signal */
	int mode[20];  /* the firmware's pin mode (FIRMATA_MODE_*) */
	int state[20]; /* Firmata's pin state: an output's level, a servo's angle, a PWM duty */
} firmata_emu_probe;
void firmata_emu_probe_pins(firmata_emu *e, firmata_emu_probe *out);

/*
 * Test knobs (thread-safe): burst_ms > 0 holds what the board sends and lets it out every
 * burst_ms (a USB-serial adapter's latency timer, a stalled host); min_interval_ms > 0 makes the
 * board sample no faster than that whatever it is asked (a firmware slower than its version says).
 */
void firmata_emu_set_timing(firmata_emu *e, int burst_ms, int min_interval_ms);

/* The pseudo-terminal's path, to open like /dev/ttyACM0. */
const char *firmata_emu_path(const firmata_emu *e);

/* Inject a fault (thread-safe). */
void firmata_emu_set_fault(firmata_emu *e, firmata_emu_fault fault);

/* Stop the board: the port disappears, as when the cable is pulled. Accepts NULL; nulls it. */
void firmata_emu_destroy(firmata_emu **pe);

#endif
