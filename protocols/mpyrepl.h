/* mpyrepl.h - MicroPython raw REPL and raw-paste: a pure state machine fed bytes and time. */
#ifndef LB_PROTO_MPYREPL_H
#define LB_PROTO_MPYREPL_H

/*
 * The wire, as micropython/micropython shows it (shared/runtime/pyexec.c for the board,
 * tools/pyboard.py and tools/mpremote/mpremote/transport_serial.py for the host):
 *
 * Entering: the host sends "\r\x03\x03" (Ctrl-C twice: interrupt a running program, even one
 * that catches the first KeyboardInterrupt) then "\r\x01" (Ctrl-A). The board prints
 * "raw REPL; CTRL-B to exit\r\n" then the prompt ">". Whatever came before (a boot banner, the
 * output of main.py, a traceback, the friendly ">>> ") is text. A board that resets when the port
 * opens (DTR) may lose the request: it is sent again every enter_retry_ms until the banner comes.
 *
 * At the prompt, raw-paste (MicroPython 1.14+): the host sends "\x05A\x01" (Ctrl-E 'A' Ctrl-A).
 * - "R\x01" + window size (uint16 LE): supported. The board also sends "\x01" at once and one
 *   "\x01" each time it has consumed a window: each "\x01" allows one more window of bytes. The
 *   host ends with "\x04" and the board answers "\x04"; a board that ends early (a syntax
 *   error while it reads) sends "\x04" in the middle, which the host acknowledges with "\x04".
 * - "R\x00": the board knows the command but not 'A'; it then prints ">" and plain raw mode is
 *   used.
 * - anything else: old firmware (micro:bit v1 = MicroPython 1.9.2) took "\x05A" as code and the
 *   Ctrl-A reset its raw REPL: it prints the banner and ">" again; plain raw mode is used from
 *   then on. Unless the board already did raw-paste since mpy_init(): then the bytes are stray
 *   (the end of an earlier answer, line noise) and the machine fails with MPY_E_PROTOCOL, to be
 *   entered again, instead of giving raw-paste up for good.
 * Plain raw mode: the code in chunks (raw_chunk bytes every raw_pace_ms, as mpremote), then
 * "\x04"; the board answers "OK".
 * Then the result: stdout until "\x04", the traceback (stderr) until "\x04", then ">". A program
 * that calls sys.exit() soft-resets the board after the second "\x04" instead of the ">": then
 * "MPY: soft reboot\r\n" (or "soft reboot\r\n"), boot.py's output and the banner with ">".
 * "\x04" at the prompt (no code) is a soft reset ("OK\r\n", "MPY: soft reboot\r\n", banner,
 * ">"; main.py is not run in raw mode). "\r\x02" (Ctrl-B) leaves for the friendly REPL.
 * Code must not contain the bytes 0x01-0x04: the board reads them as Ctrl-A..Ctrl-D.
 *
 * The machine never reads a clock and never does I/O: the driver passes the time in (ms, any
 * monotonic origin), writes what mpy_tx() holds, writes program slices that mpy_code_chunk()
 * allows, feeds received bytes to mpy_feed() and calls mpy_tick() by mpy_deadline().
 */

#include <stddef.h>
#include <stdint.h>

#define MPY_BANNER "raw REPL; CTRL-B to exit\r\n"
#define MPY_CODE_MAX (1u << 20) /* the largest program accepted (a board has far less RAM) */
#define MPY_TX_MAX 16

/* Typed errors (negative), with mpy_strerror() saying what to do. */
enum {
	MPY_E_STATE = -1,     /* the call is not allowed in this state */
	MPY_E_INVALID = -2,   /* empty program, too long, or holding bytes 0x01-0x04 */
	MPY_E_SILENT = -3,    /* nothing at all came from the board while entering */
	MPY_E_NO_PROMPT = -4, /* the board talks but never printed the raw REPL banner */
	MPY_E_TIMEOUT = -5,   /* a reply the board owes did not come in time */
	MPY_E_PROTOCOL = -6,  /* a byte the protocol does not allow here */
	MPY_E_WINDOW = -7,    /* raw-paste window size 0: nothing could ever be sent */
};

typedef enum mpy_state {
	MPY_S_CLOSED = 0, /* nothing started: call mpy_enter() */
	MPY_S_ENTERING,	  /* sent Ctrl-C, Ctrl-A: waiting for the banner and ">" */
	MPY_S_SETTLING,	  /* banner seen after a retry: waiting for quiet (another banner?) */
	MPY_S_PROMPT,	  /* at the raw prompt: mpy_exec(), mpy_soft_reset(), mpy_exit() */
	MPY_S_PASTE_REQ,  /* sent "\x05A\x01": waiting for "R" (or the old banner) */
	MPY_S_PASTE_R,	  /* got "R": waiting for \x00 or \x01 */
	MPY_S_PASTE_WIN,  /* got "R\x01": waiting for the two window-size bytes */
	MPY_S_PASTE_SEND, /* sending the program within the window credit */
	MPY_S_PASTE_END,  /* sent "\x04": waiting for the board's "\x04" */
	MPY_S_NOPASTE,	  /* got "R\x00": waiting for ">" */
	MPY_S_OLD_BANNER, /* old firmware answered with the banner: waiting for its ">" */
	MPY_S_RAW_SEND,	  /* plain raw mode: sending the program in paced chunks */
	MPY_S_RAW_OK,	  /* sent "\x04": waiting for "OK" */
	MPY_S_STDOUT,	  /* the program's output until "\x04" */
	MPY_S_STDERR,	  /* the traceback until "\x04" */
	MPY_S_END_PROMPT, /* waiting for ">" after the second "\x04" */
	MPY_S_REBOOTING,  /* soft reset (Ctrl-D or sys.exit()): waiting for the banner and ">" */
	MPY_S_FRIENDLY,	  /* left raw REPL (Ctrl-B): everything is text */
	MPY_S_FAILED,	  /* a typed error: everything is text until mpy_enter() */
} mpy_state;

typedef enum mpy_event_type {
	MPY_EV_NONE = 0,	  /* every byte fed was consumed; nothing more to say */
	MPY_EV_TEXT,		  /* unframed board text (boot output, banners): data/len */
	MPY_EV_PROMPT,		  /* the raw prompt ">" is reached: ready for mpy_exec() */
	MPY_EV_SOFT_REBOOT,	  /* "soft reboot\r\n" seen: the board's state is gone */
	MPY_EV_PASTE_OK,	  /* raw-paste accepted; credit = window size */
	MPY_EV_PASTE_UNSUPPORTED, /* no raw-paste ("R\x00" or old firmware): plain raw mode */
	MPY_EV_CREDIT,		  /* "\x01": credit = bytes newly allowed */
	MPY_EV_ACCEPTED,	  /* the board has the whole program ("OK" or the "\x04" ack) */
	MPY_EV_ABORTED,		  /* the board ended raw-paste early (a syntax error follows) */
	MPY_EV_STDOUT,		  /* program output: data/len */
	MPY_EV_STDERR,		  /* traceback text: data/len */
	MPY_EV_DONE,		  /* the program ended; error = 1 when it raised (stderr text) */
	MPY_EV_ERROR,		  /* error = MPY_E_*; the state is MPY_S_FAILED */
} mpy_event_type;

typedef struct mpy_event {
	mpy_event_type type;
	const uint8_t
	    *data; /* TEXT, STDOUT, STDERR: a slice of the bytes fed (valid as they are) */
	size_t len;
	uint32_t credit; /* PASTE_OK: window size; CREDIT: bytes newly allowed */
	int error;	 /* DONE: 0 or 1; ERROR: MPY_E_* */
} mpy_event;

/* Timing and pacing; mpy_config_default() gives mpremote's figures. */
typedef struct mpy_config {
	uint32_t enter_retry_ms;   /* resend "\r\x03\x03\r\x01" while no banner (500) */
	uint32_t enter_timeout_ms; /* give up entering (10000) */
	uint32_t settle_ms;   /* quiet wanted after a banner when Ctrl-A was sent twice (100) */
	uint32_t reply_ms;    /* "R..", window bytes, "OK", "\x04" ack, ">" (2000) */
	uint32_t credit_ms;   /* raw-paste: waiting for a window credit (5000) */
	uint32_t output_ms;   /* silence allowed while a program runs; 0 = forever (0) */
	uint32_t reboot_ms;   /* soft reset until the banner (10000) */
	uint32_t raw_chunk;   /* plain raw mode: bytes per chunk (256), 1..65536 */
	uint32_t raw_pace_ms; /* plain raw mode: pause between chunks (10) */
	int use_raw_paste;    /* try raw-paste (1); 0 = plain raw mode always */
} mpy_config;

typedef struct mpy_repl {
	mpy_config cfg;
	mpy_state state;
	int error;		/* the MPY_E_* that made the state FAILED, else 0 */
	int paste;		/* raw-paste: -1 not known yet, 0 unsupported, 1 supported */
	uint8_t tx[MPY_TX_MAX]; /* control bytes to write, before any program byte */
	size_t ntx;
	const uint8_t *code; /* the program under way (borrowed until DONE/ERROR) */
	size_t code_len, code_off;
	uint32_t window;	     /* raw-paste window size */
	size_t credit;		     /* raw-paste: bytes that may be sent now */
	uint8_t win_lo;		     /* first window-size byte */
	int64_t deadline;	     /* the state's own deadline, INT64_MAX if none */
	int64_t enter_end;	     /* ENTERING, SETTLING: the entering deadline */
	int64_t resend_at;	     /* ENTERING: when to send the request again */
	int64_t pace_at;	     /* RAW_SEND: when the next chunk may go */
	unsigned ctrl_a;	     /* requests sent since mpy_enter() */
	unsigned long rx_total;	     /* bytes received since mpy_enter() */
	unsigned m_banner, m_reboot; /* partial matches of the banner + ">" and "soft reboot\r\n" */
	unsigned skipped;	     /* OLD_BANNER: bytes seen before the banner */
	int got_o;		     /* RAW_OK: the "O" of "OK" came */
	size_t stderr_len;	     /* traceback bytes of this run */
	mpy_event_type pending;	     /* an event owed after a TEXT slice */
	int pending_error;
} mpy_repl;

/* mpremote's timing: retry 500 ms, enter 10 s, settle 100 ms, replies 2 s, raw 256 B / 10 ms. */
mpy_config mpy_config_default(void);

/* A machine in MPY_S_CLOSED with cfg (NULL: the defaults; out-of-range values are clamped). */
void mpy_init(mpy_repl *m, const mpy_config *cfg);

/*
 * Start (or restart) entering the raw REPL: queues "\r\x03\x03\r\x01", state ENTERING. Allowed
 * in any state; drops a program under way. Returns 0.
 */
int mpy_enter(mpy_repl *m, int64_t now);

/*
 * Run code[0..len) (borrowed: keep it unchanged until DONE or ERROR). At the prompt only
 * (MPY_E_STATE otherwise); MPY_E_INVALID for an empty or too long program or one holding bytes
 * 0x01-0x04. Queues the raw-paste request (or, when raw-paste is known unsupported or turned
 * off, starts plain raw mode).
 */
int mpy_exec(mpy_repl *m, const uint8_t *code, size_t len, int64_t now);

/*
 * The slice of the program the driver may write now: *p and the returned length (0 when none:
 * control bytes are pending, no credit, pacing, or not sending). After writing n of them
 * (n <= the length), call mpy_code_sent(); the last one queues the closing "\x04".
 */
size_t mpy_code_chunk(const mpy_repl *m, int64_t now, const uint8_t **p);

/* n program bytes were written. MPY_E_STATE when not sending, MPY_E_INVALID when n is more
 * than mpy_code_chunk() allowed. */
int mpy_code_sent(mpy_repl *m, size_t n, int64_t now);

/* The control bytes to write now (*p, returned length); mpy_tx_done(n) once n are written. */
size_t mpy_tx(const mpy_repl *m, const uint8_t **p);
void mpy_tx_done(mpy_repl *m, size_t n);

/*
 * Feed bytes received from the board. Consumes a prefix of data[0..len) (the count returned)
 * and describes what it means in *ev; call again with the rest until it returns with
 * ev->type == MPY_EV_NONE (then all len bytes were consumed). Never reads past len, never
 * fails: bytes that break the protocol give MPY_EV_ERROR and state MPY_S_FAILED.
 */
size_t mpy_feed(mpy_repl *m, const uint8_t *data, size_t len, int64_t now, mpy_event *ev);

/*
 * Let time pass: retries while entering (queued in tx), the end of settling, timeouts. Returns 1
 * and fills *ev when something happened (MPY_EV_PROMPT after settling, MPY_EV_ERROR on a
 * timeout), else 0 (ev->type MPY_EV_NONE). A ">" after "R\x00" that never comes is tolerated:
 * MPY_EV_PASTE_UNSUPPORTED and plain raw mode at the deadline.
 *
 * Every change that lets the driver write (program bytes, control bytes) comes with an event,
 * so feeding a stream in one piece or byte by byte gives the same events, text and wire.
 */
int mpy_tick(mpy_repl *m, int64_t now, mpy_event *ev);

/* When mpy_tick() (or mpy_code_chunk(), when pacing) must be called next; INT64_MAX if never. */
int64_t mpy_deadline(const mpy_repl *m);

/*
 * Ctrl-C: while a program runs, "\x03\x03" (its KeyboardInterrupt traceback and DONE follow);
 * while raw-paste sends, "\x03" and the machine waits for the board's "\x04"; while plain raw
 * mode sends, "\x03" clears the board's line and the machine is back at the prompt; at the
 * prompt "\x03" (harmless). Elsewhere the same as mpy_enter(). Returns 0.
 */
int mpy_interrupt(mpy_repl *m, int64_t now);

/* Ctrl-D at the prompt: soft reset; SOFT_REBOOT then PROMPT follow. MPY_E_STATE elsewhere. */
int mpy_soft_reset(mpy_repl *m, int64_t now);

/* Ctrl-B: "\r\x02", leave for the friendly REPL (state FRIENDLY). Returns 0. */
int mpy_exit(mpy_repl *m, int64_t now);

/*
 * Saving a file (main.py) the way pyboard.py's fs_put does, one mpy_exec() per piece: first the
 * program mpy_py_open_write() makes ("f=open('main.py','wb')\nw=f.write\n"), then one
 * mpy_py_write_chunk() program per chunk of data ("w(b'...')\n"; 256 bytes a chunk suits a
 * board with little RAM), then MPY_PY_CLOSE. Each returns the length written to out
 * (NUL-terminated), or 0 when it does not fit or path is not 1..MPY_PATH_MAX bytes of
 * [A-Za-z0-9_./-]. The chunk literal keeps printable ASCII except \ and ' and writes every other
 * byte as \xNN: the program never holds a control byte. cap >= 4 * n + 8 always suffices.
 */
#define MPY_PATH_MAX 64
#define MPY_PY_CLOSE "f.close()\n"
size_t mpy_py_open_write(char *out, size_t cap, const char *path);
size_t mpy_py_write_chunk(char *out, size_t cap, const uint8_t *data, size_t n);

/* What the machine waits for in its state, for errors and logs ("the raw REPL banner"...). */
const char *mpy_waiting_for(const mpy_repl *m);

/* A sentence for an MPY_E_* code, saying what to do. */
const char *mpy_strerror(int code);

#endif
