/* emulator.h - an mBot (mCore, mBlock firmware) on a pseudo-terminal, for the simulated lab. */
#ifndef LB_MBOT_EMULATOR_H
#define LB_MBOT_EMULATOR_H

#include "../../bridge/util/error.h"

typedef struct mbot_emu mbot_emu;

/* Faults a test or a teacher can inject (numbered like lb_fault's first three). */
typedef enum mbot_emu_fault {
	MBOT_EMU_OK,	  /* behave */
	MBOT_EMU_SILENT,  /* answer nothing (a crashed sketch, a board without the firmware) */
	MBOT_EMU_GARBAGE, /* noise and a cut frame before every answer (a noisy link) */
} mbot_emu_fault;

/*
 * Start an mBot on a new pseudo-terminal, running what Makeblock's mbot_firmware.ino (the mBlock
 * firmware, 06.01.107) does, byte for byte: each time the port is opened the board restarts
 * (DTR), ignores input while it boots, then prints "Version: 06.01.107\r\n". It reads requests
 * one byte at a time with the firmware's own frame state machine (52-byte buffer, frames with a
 * len above 48 dropped, unknown actions unanswered) from a 64-byte receive buffer that drops what
 * overflows; answers GET VERSION (string), ULTRASONIC (float, cm, once the echo came: 58 us per
 * cm), LIGHT (float 0..1023), LINEFOLLOWER (float 0..3), BUTTON_INNER (byte), TIMER (float, s), the
 * modules an mBot lacks with the type their readSensor case sends (float, byte, or FLAME/GAS's
 * 4-byte short) and a 0, IR without a message and unknown devices with an empty answer; obeys RUN
 * JOYSTICK/MOTOR (speeds clamped to -255..255), RGBLED (port 7 slot 2: the two on-board LEDs), TONE
 * (a busy loop: nothing is read until it has played, then the ack), RESET (motors and buzzer off)
 * and START, each acknowledged ff 55 0d 0a; sends an unasked ff 55 80 01 b 0d 0a when the on-board
 * button changes. Wiring as an mBot is assembled: M1 the left wheel (mirrored: a forward move is M1
 * negative), ultrasonic sensor on port 3 facing a wall that comes nearer as the robot drives
 * forward (0.3 m/s at full speed), line follower on port 2, the light sensor on port 6. NULL with
 * err set.
 */
mbot_emu *mbot_emu_new(lb_error *err);

/* What the robot does and senses now, as a test sees it (thread-safe). */
typedef struct mbot_emu_state {
	int m1, m2;	    /* motor speeds, -255..255 (M1 left, mirrored) */
	int led[2][3];	    /* on-board LEDs 1 and 2 (firmware indexes), r g b */
	int tone_hz;	    /* the last tone played (0: none yet) */
	int tone_ms;	    /* its duration */
	int tones;	    /* tones played */
	int resets;	    /* RESET requests obeyed */
	int requests;	    /* frames parsed */
	int dropped;	    /* bytes the 64-byte receive buffer dropped */
	double distance_cm; /* what the ultrasonic sensor measures */
	int line;	    /* the line follower's value 0..3 */
	int light;	    /* the light sensor's value 0..1023 */
	int button;	    /* the on-board button is pressed */
	int booted;	    /* a host has the port open and the firmware runs */
} mbot_emu_state;
void mbot_emu_get_state(mbot_emu *e, mbot_emu_state *out);

/* Put the robot in a world (thread-safe): values < 0 leave that part as it is. distance_cm is
 * 2..400, line 0..3, light 0..1023, button 0 or 1. */
void mbot_emu_set_world(mbot_emu *e, double distance_cm, int line, int light, int button);

/* The pseudo-terminal's path, to open like /dev/ttyUSB0. */
const char *mbot_emu_path(const mbot_emu *e);

/* Inject a fault (thread-safe). */
void mbot_emu_set_fault(mbot_emu *e, mbot_emu_fault fault);

/* Stop the robot: the port disappears, as when the cable is pulled. Accepts NULL; nulls it. */
void mbot_emu_destroy(mbot_emu **pe);

#endif
