/* emulator.h - a Thymio II as an Aseba node on a pseudo-terminal or TCP, running Debian's Aseba VM.
 */
#ifndef LB_THYMIO_EMULATOR_H
#define LB_THYMIO_EMULATOR_H

#include <stdint.h>

#include "../../bridge/util/error.h"

typedef struct thymio_emu thymio_emu;

/* Faults a test or a teacher can inject (numbered like lb_fault's first three). */
typedef enum thymio_emu_fault {
	THYMIO_EMU_OK,	    /* behave */
	THYMIO_EMU_SILENT,  /* stop answering and sending (a crashed firmware) */
	THYMIO_EMU_GARBAGE, /* random bytes between the frames it sends (a noisy cable) */
} thymio_emu_fault;

/*
 * Start an emulated Thymio II (node id THYMIO_EMU_NODE_ID, protocol 5 as Debian's libasebavm
 * and vm-buffer speak it) on a new pseudo-terminal: the genuine Aseba VM (libasebavm) with the
 * Thymio's description (its named variables in memory order, its local events, the standard
 * natives and leds.top/sound.freq), answering every Aseba message as vm.c does. Its world: the
 * motors follow their targets, the proximity sensors see an obstacle coming and going, the
 * accelerometer reads the robot flat; the local events prox (10 Hz), buttons (20 Hz), acc (16 Hz),
 * motor (100 Hz) and timer0/timer1 (timer.period, ms) fire while a program runs, one at a time
 * as the firmware's pending flags do (timers first). Only one Aseba VM runs in the process at a
 * time (a lock serialises them: libasebavm's transport helper keeps one static buffer). Returns
 * NULL with err set.
 */
#define THYMIO_EMU_NODE_ID 48621
thymio_emu *thymio_emu_new(lb_error *err);

/*
 * The same robot served on TCP at 127.0.0.1:port (0: a free port), as an Aseba switch or the
 * Playground serve theirs: one client at a time (a new one replaces the previous). NULL with
 * err set.
 */
thymio_emu *thymio_emu_new_tcp(int port, lb_error *err);

/* The pseudo-terminal's path, to open like /dev/ttyACM0; in TCP mode, the Dashel-style target
 * "tcp:127.0.0.1;port=N" ([thymio.NAME] target = ...). */
const char *thymio_emu_path(const thymio_emu *e);

/* Inject a fault (thread-safe). */
void thymio_emu_set_fault(thymio_emu *e, thymio_emu_fault fault);

/* What the robot shows (thread-safe): its top LEDs, the last sound.freq, its motor targets. */
typedef struct thymio_emu_probe {
	int leds_top[3];
	int sound_freq;
	int motor_target[2];
	int running; /* the VM runs freely (not stopped or paused) */
} thymio_emu_probe;
void thymio_emu_probe_state(thymio_emu *e, thymio_emu_probe *out);

/* Stop the robot: the port disappears, as when the cable is pulled. Accepts NULL; nulls it. */
void thymio_emu_destroy(thymio_emu **pe);

#endif
