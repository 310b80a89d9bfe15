/* emulator.h - a MicroPython board's raw REPL on a pseudo-terminal, running programs in python3. */
#ifndef LB_MPY_EMULATOR_H
#define LB_MPY_EMULATOR_H

#include <jansson.h>
#include <stdint.h>

#include "../../bridge/util/error.h"

typedef struct mpy_emu mpy_emu;

/* The raw-paste window the emulated board announces (as most ports do). */
#define MPY_EMU_WINDOW 128

typedef enum mpy_emu_fault {
	MPY_EMU_OK,
	MPY_EMU_SILENT,	 /* a wedged board: reads everything, answers nothing */
	MPY_EMU_GARBAGE, /* noise bytes on the line every 50 ms, whatever the board does */
} mpy_emu_fault;

/*
 * Start a board on a new pseudo-terminal. It behaves as MicroPython's shared/runtime/pyexec.c:
 * each time the port is opened it resets (input is lost for 150 ms, then the boot banner and
 * the friendly prompt ">>> "); Ctrl-A enters the raw REPL ("raw REPL; CTRL-B to exit\r\n>");
 * there Ctrl-C clears the line, Ctrl-B leaves, Ctrl-D runs the line ("OK", output, "\x04",
 * traceback, "\x04", ">") or soft-resets on an empty one. With paste set, "\x05A\x01" starts
 * raw-paste: "R\x01", the window (MPY_EMU_WINDOW, uint16 LE), "\x01", one "\x01" per window
 * consumed, "\x04" to acknowledge the end; bytes beyond the credit the host was given are lost
 * as an overrun UART would lose them, and counted. Without paste it is a micro:bit v1
 * (MicroPython 1.9.2): "\x05A" is text and the Ctrl-A prints the banner again.
 * Each program runs in a new /usr/bin/python3 (signal mask and dispositions reset), its stdout
 * relayed as it comes ("\n" as "\r\n"), its traceback in MicroPython's form after the first
 * "\x04"; Ctrl-C sends it SIGINT (KeyboardInterrupt). A `microbit` module stands in for the
 * micro:bit's (i2c, pins, display, buttons, sleep): what programs write to it is kept in a
 * file across programs, as a board's hardware keeps it, and mpy_emu_probe() shows it.
 * NULL with err set on failure.
 */
mpy_emu *mpy_emu_new(int paste, lb_error *err);

/* The pseudo-terminal's path. */
const char *mpy_emu_path(const mpy_emu *e);

/* Inject a fault (thread-safe). */
void mpy_emu_set_fault(mpy_emu *e, mpy_emu_fault fault);

/*
 * Line noise on the bytes the host sends: each byte, with probability ppm / 1e6, is changed
 * (a bit flipped), dropped or doubled; seed makes it repeatable. 0 turns it off. Thread-safe.
 */
void mpy_emu_set_noise(mpy_emu *e, uint32_t ppm, uint32_t seed);

/* The link's speed (thread-safe): the board takes what the host sends at baud / 10 bytes a
 * second, as a UART at that speed delivers it (0: as fast as the pty does). */
void mpy_emu_set_baud(mpy_emu *e, int baud);

/* A slow board (thread-safe): each raw-paste window's credit "\x01" comes ms late (0: at once). */
void mpy_emu_set_credit_delay(mpy_emu *e, int ms);

/*
 * What the board's hardware shows and has counted, as a new object: {"hw": {"i2c": {"ADDR:REG":
 * [bytes]}, "pins": {"pin16": v}, "display": text}, "files": {name: text} (what programs
 * wrote to the board's file system, main.py...), "programs": N, "overruns": N,
 * "noise_events": N, "paste": bool, "dropped": N (output bytes a host that did not read lost)}.
 * NULL when out of memory.
 */
json_t *mpy_emu_probe(mpy_emu *e);

/* Stop the board (a running program is killed): its port disappears. Accepts NULL; nulls. */
void mpy_emu_destroy(mpy_emu **pe);

#endif
