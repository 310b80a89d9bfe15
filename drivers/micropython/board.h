/* board.h - MicroPython boards as robots: programs wrapped for checking, motor and display code
 * per robot kind, console text made clean UTF-8. Pure: no I/O, no clock. */
#ifndef LB_MPY_BOARD_H
#define LB_MPY_BOARD_H

#include <stddef.h>
#include <stdint.h>

/* The robots whose motors the driver knows (the [micropython.NAME] robot = ... setting). */
typedef enum mpb_robot {
	MPB_ROBOT_NONE = 0,	 /* a bare board: robot.move is refused */
	MPB_ROBOT_MAQUEEN,	 /* DFRobot Maqueen (micro:bit): I2C 0x10, registers 0 and 2 */
	MPB_ROBOT_BITBOT,	 /* 4tronix Bit:bot XL (micro:bit): P16/P8 left, P14/P12 right */
	MPB_ROBOT_BITBOT_CLASSIC /* 4tronix Bit:bot classic: P0/P8 left, P1/P12 right */
} mpb_robot;

/* The kind of that name ("none", "maqueen", "bitbot", "bitbot-classic"): 0, or -1 if unknown. */
int mpb_robot_parse(const char *name, mpb_robot *out);

/* The name of a kind ("maqueen"...). */
const char *mpb_robot_name(mpb_robot r);

/* Whether the kind sits on a micro:bit (it has the 5x5 display). */
int mpb_robot_microbit(mpb_robot r);

/*
 * The program that sets the wheel speeds left, right (-1..1, clamped; NaN counts as 0) on robot
 * r, NUL-terminated in out[cap]. Returns its length, or 0 when r has no motors or cap is too
 * small (256 always suffices). Speed 0 on both wheels is the "motors off" program.
 */
size_t mpb_move_code(mpb_robot r, double left, double right, char *out, size_t cap);

/*
 * The program that shows text on a micro:bit's display (scrolled without waiting, a single
 * character shown), escaped as a bytes literal: no control byte reaches the board. Returns the
 * length, or 0 when it does not fit out[cap] (4 * len + 96 always suffices).
 */
size_t mpb_display_code(const char *text, size_t len, char *out, size_t cap);

/* The same for a built-in image by name (HEART, HAPPY...: [A-Z_0-9], up to 24 characters);
 * 0 when the name is not one or out[cap] is too small. */
size_t mpb_image_code(const char *name, char *out, size_t cap);

/*
 * Raw-paste has no checksum, and line noise may change a byte, drop one or add one, or make one
 * a Ctrl-D that ends the upload early (the board then runs what it got). The program therefore
 * travels as one expression statement that the board checks before running it:
 *	(lambda s:exec(s,globals())if(len(s)==N)and((1+sum(s))%65521==A)and(
 *	 (len(s)+sum((len(s)-i)*x for i,x in enumerate(s)))%65521==B)else
 *	 exec("raise OSError('labbridge: upload corrupted')"))(b'...')
 * (on one line; A and B are Adler-32's two sums). A byte lost, changed or added in the literal
 * fails the check; one in the rest gives a syntax or name error (the board compiles the whole
 * text before running any of it); an upload cut anywhere leaves the statement unfinished: a
 * syntax error. So corrupted code never runs: the board prints a traceback instead. The literal
 * holds printable ASCII but \ and ', and escapes (\n, \t, \xNN) for the rest: no byte
 * 0x01-0x04 is ever sent. The program runs in the raw REPL's globals, as it would unwrapped
 * (pyboard.py's fs_put relies on them lasting).
 * Returns the wrapped length (NUL-terminated in out[cap]), or 0 when it does not fit;
 * mpb_wrap_size() gives the room needed.
 */
#define MPB_CORRUPTED "labbridge: upload corrupted"
size_t mpb_wrap_size(size_t len);
size_t mpb_wrap(const uint8_t *src, size_t len, char *out, size_t cap);

/* Adler-32's two sums (mod 65521) of data, as the wrapper computes them on the board. */
void mpb_sums(const uint8_t *data, size_t len, uint32_t *a, uint32_t *b);

/*
 * Console text: bytes from the board as they come, made into clean UTF-8 for JSON: "\r\n"
 * becomes "\n", a sequence cut between two reads is kept for the next one, an invalid byte
 * becomes U+FFFD. Feed with mpb_text_feed (out needs 3 * len + 8 bytes), flush what is held at
 * the end of the output with mpb_text_flush.
 */
typedef struct mpb_text {
	uint8_t held[4]; /* an incomplete UTF-8 sequence, or a lone '\r' */
	size_t nheld;
} mpb_text;

size_t mpb_text_feed(mpb_text *t, const uint8_t *in, size_t len, char *out);
size_t mpb_text_flush(mpb_text *t, char *out);

/*
 * The last line of a traceback ("ZeroDivisionError: divide by zero"), trimmed, copied to
 * out[cap] (cut to fit). Returns its length (0 for text without a non-blank line).
 */
size_t mpb_last_line(const char *text, size_t len, char *out, size_t cap);

#endif
