/* test_mpyrepl.c - the MicroPython raw REPL machine against bytes real boards and hosts send. */
#include <stdint.h>
#include <string.h>

#include "../../protocols/mpyrepl.h"
#include "check.h"

/*
 * Where the vectors come from (micropython/micropython):
 * - host side, tools/pyboard.py and tools/mpremote/mpremote/transport_serial.py: enter_raw_repl
 *   writes "\r\x03\x03" (pyboard.py; mpremote "\r\x03") then "\r\x01" and reads until
 *   "raw REPL; CTRL-B to exit\r\n>"; exec_raw_no_follow writes "\x05A\x01", reads 2 bytes,
 *   "R\x01" -> raw_paste_write (2 bytes window LE, "\x01" adds a window, "\x04" is an abrupt end
 *   acknowledged with "\x04"), "R\x00" -> plain raw, else read_until "w REPL; CTRL-B to
 *   exit\r\n>" (old firmware); plain raw writes 256 bytes every 10 ms, "\x04", reads "OK";
 *   follow() reads stdout until "\x04", stderr until "\x04"; exit_raw_repl writes "\r\x02".
 * - board side, shared/runtime/pyexec.c: pyexec_raw_repl prints the banner and ">", "OK" on
 *   Ctrl-D, "OK\r\n" then a soft reset for an empty line; do_reader_stdin answers "R\x00" for a
 *   command other than 'A' (then ">") and "R\x01" for 'A'; mp_reader_new_stdin sends the window
 *   (MICROPY_REPL_STDIN_BUFFER_MAX 256 / 2 = 128: "\x80\x00") then "\x01"; readbyte sends
 *   "\x01" per window consumed and "\x04" on the host's Ctrl-D/Ctrl-C; close() sends "\x04" when
 *   the parser stopped early; parse_compile_execute prints "\x04" after stdout and after the
 *   exception; SystemExit returns PYEXEC_FORCED_EXIT (soft reset, no ">").
 * - ports/esp32/main.c, ports/rp2/main.c: "MPY: soft reboot\r\n"; older stm32: "PYB: soft reboot".
 */

#define BANNER "raw REPL; CTRL-B to exit\r\n>"

typedef struct host {
	mpy_repl m;
	uint8_t wire[8192]; /* what the host wrote, in order */
	size_t nwire;
	char out[4096], err[4096], text[4096];
	size_t nout, nerr, ntext;
	int ev[64]; /* event types other than TEXT/STDOUT/STDERR, in order */
	int nev;
	int done_error, last_error;
	uint32_t paste_window;
} host;

static void host_init(host *h, const mpy_config *cfg)
{
	memset(h, 0, sizeof *h);
	mpy_init(&h->m, cfg);
}

/* Write what the machine wants written: control bytes first, then the program it allows. */
static void pump(host *h, int64_t now)
{
	for (;;) {
		const uint8_t *p;
		size_t n = mpy_tx(&h->m, &p);
		if (n) {
			if (h->nwire + n <= sizeof h->wire) {
				memcpy(h->wire + h->nwire, p, n);
				h->nwire += n;
			}
			mpy_tx_done(&h->m, n);
			continue;
		}
		n = mpy_code_chunk(&h->m, now, &p);
		if (!n)
			return;
		if (h->nwire + n <= sizeof h->wire) {
			memcpy(h->wire + h->nwire, p, n);
			h->nwire += n;
		}
		CHECK_EQ_INT(mpy_code_sent(&h->m, n, now), 0);
	}
}

/* Append data to one of the host's text buffers. */
static void append(char *buf, size_t *n, size_t cap, const uint8_t *d, size_t len)
{
	if (*n + len < cap) {
		memcpy(buf + *n, d, len);
		*n += len;
		buf[*n] = '\0';
	}
}

static void record(host *h, const mpy_event *ev)
{
	switch (ev->type) {
	case MPY_EV_NONE: return;
	case MPY_EV_TEXT: append(h->text, &h->ntext, sizeof h->text, ev->data, ev->len); return;
	case MPY_EV_STDOUT: append(h->out, &h->nout, sizeof h->out, ev->data, ev->len); return;
	case MPY_EV_STDERR: append(h->err, &h->nerr, sizeof h->err, ev->data, ev->len); return;
	case MPY_EV_DONE: h->done_error = ev->error; break;
	case MPY_EV_ERROR: h->last_error = ev->error; break;
	case MPY_EV_PASTE_OK: h->paste_window = ev->credit; break;
	default: break;
	}
	if (h->nev < 64)
		h->ev[h->nev++] = ev->type;
}

/* The board sends data[0..len) as one read, or byte by byte when split. */
static void rx_n(host *h, const void *data, size_t len, int64_t now, int split)
{
	const uint8_t *d = data;
	size_t step = split ? 1 : len, off = 0;

	do {
		size_t n = len - off < step ? len - off : step, used = 0;
		mpy_event ev;
		do {
			size_t u = mpy_feed(&h->m, d + off + used, n - used, now, &ev);
			CHECK(u <= n - used);
			used += u;
			record(h, &ev);
			pump(h, now);
		} while (ev.type != MPY_EV_NONE);
		CHECK_EQ_UINT(used, n);
		off += n;
	} while (off < len);
}

/* The board sends a string literal (NUL bytes included) in one read. */
#define rx(h, lit, now) rx_n(h, lit, sizeof(lit) - 1, now, 0)

static void tick(host *h, int64_t now)
{
	mpy_event ev;
	if (mpy_tick(&h->m, now, &ev))
		record(h, &ev);
	else
		CHECK_EQ_INT(ev.type, MPY_EV_NONE);
	pump(h, now);
}

static int wire_is(const host *h, const void *s, size_t n)
{
	return h->nwire == n && memcmp(h->wire, s, n) == 0;
}

static int last_ev(const host *h)
{
	return h->nev ? h->ev[h->nev - 1] : MPY_EV_NONE;
}

/* Enter the raw REPL of a board sitting at the friendly prompt; the wire is cleared after. */
static void enter(host *h, int64_t now)
{
	mpy_enter(&h->m, now);
	pump(h, now);
	rx(h, "\r\n>>> \r\n>>> \r\n>>> \r\n" BANNER, now);
	CHECK_EQ_INT(h->m.state, MPY_S_PROMPT);
	h->nwire = 0;
	h->nev = 0;
	h->ntext = 0;
}

static void test_enter_from_friendly(void)
{
	host h;

	for (int split = 0; split < 2; split++) {
		host_init(&h, NULL);
		mpy_enter(&h.m, 0);
		pump(&h, 0);
		CHECK(wire_is(&h, "\r\x03\x03\r\x01", 5)); /* pyboard.py enter_raw_repl */
		CHECK_EQ_INT(h.m.state, MPY_S_ENTERING);
		/* the friendly REPL echoes a prompt for \r and each Ctrl-C, then Ctrl-A */
		const char *s = "\r\n>>> \r\n>>> \r\n>>> \r\n" BANNER;
		rx_n(&h, s, strlen(s), 5, split);
		CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
		CHECK_EQ_INT(h.nev, 1);
		CHECK_EQ_INT(h.ev[0], MPY_EV_PROMPT);
		CHECK_STR(h.text, s);
		CHECK_EQ_INT(mpy_deadline(&h.m), INT64_MAX);
	}
}

static void test_enter_busy_board(void)
{
	host h;

	host_init(&h, NULL);
	mpy_enter(&h.m, 0);
	pump(&h, 0);
	/* a micro:bit running main.py that prints; Ctrl-C ends it with a traceback */
	rx(&h,
	   "tick\r\ntick\r\nTraceback (most recent call last):\r\n  File \"main.py\", line 4, in "
	   "<module>\r\nKeyboardInterrupt: \r\nMicroPython v1.22.0 on 2024-01-05; BBC micro:bit "
	   "v2 with nRF52833\r\nType \"help()\" for more information.\r\n>>> \r\n>>> ",
	   3);
	CHECK_EQ_INT(h.m.state, MPY_S_ENTERING);
	CHECK_EQ_INT(h.nev, 0);
	/* the banner split in odd places, with a false start "raw REPL; raw REPL..." */
	rx(&h, "\r\nraw REPL; ra", 4);
	rx(&h, "w REPL; CTRL-B to e", 5);
	CHECK_EQ_INT(h.m.state, MPY_S_ENTERING);
	rx(&h, "xit\r\n>", 6);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_PROMPT);
	CHECK_CONTAINS(h.text, "KeyboardInterrupt");
}

static void test_enter_board_resets_on_open(void)
{
	host h;

	host_init(&h, NULL);
	mpy_enter(&h.m, 1000);
	pump(&h, 1000);
	CHECK_EQ_INT(mpy_deadline(&h.m), 1500);
	tick(&h, 1200);
	CHECK_EQ_UINT(h.nwire, 5);
	/* the request was lost while the board booted (DTR reset): sent again at 500 ms */
	rx(&h, "ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13\r\n", 1300);
	tick(&h, 1500);
	CHECK(wire_is(&h, "\r\x03\x03\r\x01\r\x03\x03\r\x01", 10));
	CHECK_EQ_UINT(h.m.ctrl_a, 2);
	rx(&h, "MicroPython v1.22.0 on 2024-01-05; ESP32 module with ESP32\r\n>>> \r\n" BANNER,
	   1600);
	/* Ctrl-A went twice: a second banner may follow; wait for quiet */
	CHECK_EQ_INT(h.m.state, MPY_S_SETTLING);
	CHECK_EQ_INT(mpy_deadline(&h.m), 1700);
	tick(&h, 1650);
	CHECK_EQ_INT(h.m.state, MPY_S_SETTLING);
	rx(&h, "\r\n" BANNER, 1660);
	CHECK_EQ_INT(mpy_deadline(&h.m), 1760);
	tick(&h, 1700);
	CHECK_EQ_INT(h.m.state, MPY_S_SETTLING);
	tick(&h, 1760);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_PROMPT);
	CHECK_EQ_INT(h.nev, 1);
	/* a board that never goes quiet after its banner settles at the entering deadline */
	host_init(&h, NULL);
	mpy_enter(&h.m, 0);
	tick(&h, 500);
	rx(&h, BANNER, 600);
	for (int64_t t = 600; t < 10000; t += 50) {
		rx(&h, "timer says hi\r\n", t);
		tick(&h, t);
		CHECK_EQ_INT(h.m.state, MPY_S_SETTLING);
	}
	CHECK_EQ_INT(mpy_deadline(&h.m), 10000);
	tick(&h, 10000);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
}

static void test_enter_timeouts(void)
{
	host h;
	int64_t t;

	/* nothing at all: SILENT, after bounded retries */
	host_init(&h, NULL);
	mpy_enter(&h.m, 0);
	pump(&h, 0);
	for (t = 0; t <= 10000 && h.m.state == MPY_S_ENTERING; t += 100)
		tick(&h, t);
	CHECK_EQ_INT(h.m.state, MPY_S_FAILED);
	CHECK_EQ_INT(h.last_error, MPY_E_SILENT);
	CHECK_EQ_INT(t, 10100);
	CHECK_EQ_UINT(h.nwire, 5 * 20); /* at 0, then every 500 ms until 9500 */
	CHECK_EQ_INT(mpy_deadline(&h.m), INT64_MAX);
	CHECK_CONTAINS(mpy_strerror(MPY_E_SILENT), "hard reset");
	/* a board that talks but never gives the banner: NO_PROMPT */
	host_init(&h, NULL);
	mpy_enter(&h.m, 0);
	for (t = 0; t <= 10000 && h.m.state == MPY_S_ENTERING; t += 100) {
		rx(&h, "while True: busy\r\n", t);
		tick(&h, t);
	}
	CHECK_EQ_INT(h.last_error, MPY_E_NO_PROMPT);
	/* after failing, bytes are text, and a new enter works */
	rx(&h, "xyz", 20000);
	CHECK_EQ_INT(h.m.state, MPY_S_FAILED);
	enter(&h, 20000);
	CHECK_EQ_INT(h.m.error, 0);
}

/* Run one program through raw-paste with the board of pyexec.c (window 128). */
static void test_raw_paste(void)
{
	static uint8_t code[300];
	host h;
	const uint8_t *p;

	for (size_t i = 0; i < sizeof code; i++)
		code[i] = (uint8_t)('a' + i % 26);
	host_init(&h, NULL);
	enter(&h, 0);
	CHECK_EQ_INT(mpy_exec(&h.m, code, sizeof code, 10), 0);
	pump(&h, 10);
	CHECK(wire_is(&h,
		      "\x05"
		      "A\x01",
		      3));
	CHECK_EQ_UINT(mpy_code_chunk(&h.m, 10, &p), 0);
	CHECK_EQ_INT(mpy_deadline(&h.m), 2010);
	rx_n(&h, "R\x01\x80\x00", 4, 11, 1);
	CHECK_EQ_INT(h.paste_window, 128);
	CHECK_EQ_INT(h.m.paste, 1);
	CHECK_EQ_UINT(h.nwire, 3 + 128); /* one window */
	CHECK(memcmp(h.wire + 3, code, 128) == 0);
	CHECK_EQ_UINT(mpy_code_chunk(&h.m, 11, &p), 0);
	CHECK_EQ_INT(mpy_deadline(&h.m), 11 + 5000);
	rx_n(&h, "\x01", 1, 12, 0); /* the "\x01" sent right after the window size */
	CHECK_EQ_INT(last_ev(&h), MPY_EV_CREDIT);
	CHECK_EQ_UINT(h.nwire, 3 + 256);
	rx_n(&h, "\x01", 1, 13, 0);
	CHECK_EQ_UINT(h.nwire, 3 + 300 + 1);
	CHECK(memcmp(h.wire + 3, code, 300) == 0);
	CHECK_EQ_INT(h.wire[h.nwire - 1], 0x04);
	CHECK_EQ_INT(h.m.state, MPY_S_PASTE_END);
	/* late credits are ignored; "\x04" acknowledges the end */
	rx_n(&h, "\x01\x04", 2, 14, 0);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_ACCEPTED);
	CHECK_EQ_INT(h.m.state, MPY_S_STDOUT);
	CHECK_EQ_INT(mpy_deadline(&h.m), INT64_MAX); /* a program may run forever */
	rx(&h, "hello\r\n", 15);
	rx(&h, "world\r\n\x04", 16);
	CHECK_EQ_INT(h.m.state, MPY_S_STDERR);
	rx(&h, "\x04", 17);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_DONE);
	CHECK_EQ_INT(h.done_error, 0);
	CHECK_EQ_INT(h.m.state, MPY_S_END_PROMPT);
	rx(&h, ">", 18);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_PROMPT);
	CHECK_STR(h.out, "hello\r\nworld\r\n");
	CHECK_EQ_UINT(h.nerr, 0);
	CHECK_EQ_UINT(h.ntext, 0);
	CHECK(h.m.code == NULL);
	/* raw-paste known: a stray answer (an earlier answer's end, noise) is a protocol error
	 * to enter again from, not old firmware: raw-paste is kept */
	CHECK_EQ_INT(mpy_exec(&h.m, code, sizeof code, 20), 0);
	pump(&h, 20);
	rx(&h, "OK\x04\x04>", 21);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_ERROR);
	CHECK_EQ_INT(h.last_error, MPY_E_PROTOCOL);
	CHECK_EQ_INT(h.m.state, MPY_S_FAILED);
	CHECK_EQ_INT(h.m.paste, 1);
}

static void test_raw_paste_traceback_and_abort(void)
{
	static const char prog[] = "print(1/0)\n";
	static const char bad[] = "def f(:\n  pass\nprint('never')\n";
	host h;
	const uint8_t *p;

	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 0);
	pump(&h, 0);
	rx(&h, "R\x01\x80\x00\x01\x04", 1);
	CHECK_EQ_INT(h.m.state, MPY_S_STDOUT);
	rx(&h,
	   "\x04Traceback (most recent call last):\r\n  File \"<stdin>\", line 1, in "
	   "<module>\r\nZeroDivisionError: divide by zero\r\n\x04>",
	   2);
	CHECK_EQ_INT(h.done_error, 1);
	CHECK_CONTAINS(h.err, "ZeroDivisionError: divide by zero\r\n");
	CHECK_EQ_UINT(h.nout, 0);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);

	/* a small window: the parser stops at the syntax error and close() sends "\x04" early */
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, (const uint8_t *)bad, strlen(bad), 0);
	pump(&h, 0);
	rx(&h, "R\x01\x08", 1);
	rx(&h, "\x00", 1);
	CHECK_EQ_UINT(h.nwire, 3 + 8);
	rx(&h, "\x04", 2);
	CHECK_EQ_INT(last_ev(&h), MPY_EV_ABORTED);
	CHECK_EQ_UINT(h.nwire, 3 + 8 + 1); /* the acknowledgement */
	CHECK_EQ_INT(h.wire[h.nwire - 1], 0x04);
	CHECK_EQ_UINT(mpy_code_chunk(&h.m, 2, &p), 0);
	rx(&h,
	   "\x04Traceback (most recent call last):\r\n  File \"<stdin>\", line 1\r\nSyntaxError: "
	   "invalid syntax\r\n\x04>",
	   3);
	CHECK_EQ_INT(h.done_error, 1);
	CHECK_CONTAINS(h.err, "SyntaxError");
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
}

static void test_r00_fallback_paced(void)
{
	static uint8_t code[600];
	host h;
	const uint8_t *p;

	memset(code, 'x', sizeof code);
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, code, sizeof code, 100);
	pump(&h, 100);
	rx(&h, "R", 101);
	rx_n(&h, "\x00", 1, 102, 0);
	CHECK_EQ_INT(h.m.state, MPY_S_NOPASTE);
	CHECK_EQ_UINT(h.nwire, 3);
	rx(&h, ">", 103); /* do_reader_stdin returned 0: the raw REPL prints ">" */
	CHECK_EQ_INT(last_ev(&h), MPY_EV_PASTE_UNSUPPORTED);
	CHECK_EQ_UINT(h.nwire, 3 + 256);
	CHECK_EQ_INT(mpy_deadline(&h.m), 113);
	pump(&h, 108);
	CHECK_EQ_UINT(h.nwire, 3 + 256);
	pump(&h, 113);
	CHECK_EQ_UINT(h.nwire, 3 + 512);
	pump(&h, 123);
	CHECK_EQ_UINT(h.nwire, 3 + 600 + 1);
	CHECK_EQ_INT(h.wire[h.nwire - 1], 0x04);
	CHECK_EQ_INT(h.m.state, MPY_S_RAW_OK);
	CHECK_EQ_UINT(mpy_code_chunk(&h.m, 200, &p), 0);
	rx(&h, "O", 124);
	rx(&h, "K42\r\n\x04\x04>", 125);
	CHECK_STR(h.out, "42\r\n");
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
	/* raw-paste is not asked again on this connection */
	h.nwire = 0;
	mpy_exec(&h.m, code, 10, 200);
	pump(&h, 200);
	CHECK_EQ_UINT(h.nwire, 11);
	CHECK(memcmp(h.wire, code, 10) == 0);
	/* a missing ">" after "R\x00" is tolerated at the reply deadline */
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, code, 5, 0);
	pump(&h, 0);
	rx_n(&h, "R\x00", 2, 1, 0);
	tick(&h, 2000);
	CHECK_EQ_INT(h.m.state, MPY_S_NOPASTE);
	tick(&h, 2001); /* plain raw mode starts, and the tick's pump sends the program */
	CHECK_EQ_INT(last_ev(&h), MPY_EV_PASTE_UNSUPPORTED);
	CHECK_EQ_INT(h.m.state, MPY_S_RAW_OK);
	CHECK(wire_is(&h,
		      "\x05"
		      "A\x01xxxxx\x04",
		      9));
}

static void test_old_firmware_without_raw_paste(void)
{
	static const char prog[] = "from microbit import *\ndisplay.scroll('hi')\n";
	host h;

	for (int split = 0; split < 2; split++) {
		host_init(&h, NULL);
		enter(&h, 0);
		mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 0);
		pump(&h, 0);
		/* MicroPython 1.9.2 took "\x05A" as code; Ctrl-A reset the raw REPL */
		rx_n(&h, BANNER, strlen(BANNER), 1, split);
		CHECK_EQ_INT(last_ev(&h), MPY_EV_PASTE_UNSUPPORTED);
		CHECK_EQ_INT(h.m.paste, 0);
		CHECK_EQ_UINT(h.nwire, 3 + strlen(prog) + 1);
		CHECK(memcmp(h.wire + 3, prog, strlen(prog)) == 0);
		rx(&h, "OK\x04\x04>", 2);
		CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
		CHECK_EQ_INT(h.done_error, 0);
	}
	/* MemoryError on a board with 9 KB of heap: an ordinary traceback */
	rx(&h, "", 3);
	mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 3);
	pump(&h, 3);
	rx(&h, "OK\x04Traceback (most recent call last):\r\nMemoryError: \r\n\x04>", 4);
	CHECK_EQ_INT(h.done_error, 1);
	CHECK_CONTAINS(h.err, "MemoryError");
	/* garbage instead of the banner: bounded, then PROTOCOL */
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 0);
	pump(&h, 0);
	for (int i = 0; i < 40 && h.m.state != MPY_S_FAILED; i++) {
		rx(&h, "garbage!", 1);
		CHECK_MSG(i <= 35, "more than 256 + 27 bytes skipped");
	}
	CHECK_EQ_INT(h.m.state, MPY_S_FAILED);
	CHECK_EQ_INT(h.last_error, MPY_E_PROTOCOL);
}

static void test_sys_exit_and_soft_reset(void)
{
	static const char prog[] = "import sys\nsys.exit()\n";
	host h;

	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 0);
	pump(&h, 0);
	rx(&h, "R\x01\x80\x00\x01\x04", 1);
	/* SystemExit: PYEXEC_FORCED_EXIT, the port soft-resets and re-enters raw REPL */
	rx(&h, "\x04\x04MPY: soft reboot\r\n" BANNER, 2);
	CHECK_EQ_INT(h.nev, 5);
	CHECK_EQ_INT(h.ev[2], MPY_EV_DONE);
	CHECK_EQ_INT(h.ev[3], MPY_EV_SOFT_REBOOT);
	CHECK_EQ_INT(h.ev[4], MPY_EV_PROMPT);
	CHECK_EQ_INT(h.done_error, 0);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);

	/* Ctrl-D at the prompt: "OK\r\n", reboot, boot.py's output, the banner */
	h.nwire = 0;
	h.nev = 0;
	CHECK_EQ_INT(mpy_soft_reset(&h.m, 10), 0);
	pump(&h, 10);
	CHECK(wire_is(&h, "\x04", 1));
	CHECK_EQ_INT(mpy_deadline(&h.m), 10010);
	rx(&h, "OK\r\nMPY: soft reboot\r\nboot.py was here\r\n" BANNER, 11);
	CHECK_EQ_INT(h.nev, 2);
	CHECK_EQ_INT(h.ev[0], MPY_EV_SOFT_REBOOT);
	CHECK_EQ_INT(h.ev[1], MPY_EV_PROMPT);
	CHECK_CONTAINS(h.text, "boot.py was here");
	/* an older stm32 port: "PYB: soft reboot" */
	h.nev = 0;
	mpy_soft_reset(&h.m, 20);
	rx_n(&h, "OK\r\nPYB: soft reboot\r\n" BANNER, strlen("OK\r\nPYB: soft reboot\r\n" BANNER),
	     21, 1);
	CHECK_EQ_INT(h.nev, 2);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
	/* a reset that never comes back */
	mpy_soft_reset(&h.m, 30);
	tick(&h, 10029);
	CHECK_EQ_INT(h.m.state, MPY_S_REBOOTING);
	tick(&h, 10030);
	CHECK_EQ_INT(h.last_error, MPY_E_TIMEOUT);
	CHECK_EQ_INT(mpy_soft_reset(&h.m, 40), MPY_E_STATE);
}

static void test_interrupt_and_exit(void)
{
	static const char loop[] = "while True:\n  print('x')\n";
	static uint8_t big[1000];
	host h;

	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, (const uint8_t *)loop, strlen(loop), 0);
	pump(&h, 0);
	rx(&h, "R\x01\x80\x00\x01\x04x\r\nx\r\n", 1);
	h.nwire = 0;
	CHECK_EQ_INT(mpy_interrupt(&h.m, 2), 0);
	pump(&h, 2);
	CHECK(wire_is(&h, "\x03\x03", 2));
	rx(&h,
	   "x\r\n\x04Traceback (most recent call last):\r\n  File \"<stdin>\", line 2, in "
	   "<module>\r\nKeyboardInterrupt: \r\n\x04>",
	   3);
	CHECK_EQ_INT(h.done_error, 1);
	CHECK_CONTAINS(h.err, "KeyboardInterrupt");
	CHECK_STR(h.out, "x\r\nx\r\nx\r\n");
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);

	/* during raw-paste: Ctrl-C ends the reader with "\x04", then the traceback */
	memset(big, 'y', sizeof big);
	mpy_exec(&h.m, big, sizeof big, 10);
	pump(&h, 10);
	rx(&h, "R\x01\x80\x00", 11);
	h.nwire = 0;
	mpy_interrupt(&h.m, 12);
	pump(&h, 12);
	CHECK(wire_is(&h, "\x03", 1));
	CHECK_EQ_INT(h.m.state, MPY_S_PASTE_END);
	rx(&h, "\x01\x04\x04Traceback:\r\nKeyboardInterrupt: \r\n\x04>", 13);
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);

	/* during plain raw mode: Ctrl-C clears the board's line; back at the prompt */
	h.m.paste = 0;
	mpy_exec(&h.m, big, sizeof big, 20);
	pump(&h, 20);
	h.nwire = 0;
	mpy_interrupt(&h.m, 21);
	pump(&h, 21);
	CHECK(wire_is(&h, "\x03", 1));
	CHECK_EQ_INT(h.m.state, MPY_S_PROMPT);
	/* at the prompt: a harmless Ctrl-C */
	h.nwire = 0;
	mpy_interrupt(&h.m, 22);
	pump(&h, 22);
	CHECK(wire_is(&h, "\x03", 1));
	/* elsewhere: enter again */
	mpy_soft_reset(&h.m, 23);
	h.nwire = 0;
	mpy_interrupt(&h.m, 24);
	pump(&h, 24);
	CHECK(wire_is(&h, "\r\x03\x03\r\x01", 5));
	CHECK_EQ_INT(h.m.state, MPY_S_ENTERING);

	/* Ctrl-B */
	h.nwire = 0;
	mpy_exit(&h.m, 30);
	pump(&h, 30);
	CHECK(wire_is(&h, "\r\x02", 2));
	CHECK_EQ_INT(h.m.state, MPY_S_FRIENDLY);
	h.ntext = 0;
	rx(&h, "\r\nMicroPython v1.22.0; LEGO Technic Hub\r\n>>> ", 31);
	CHECK_CONTAINS(h.text, ">>> ");
	CHECK_EQ_INT(h.m.state, MPY_S_FRIENDLY);
}

static void test_bad_calls(void)
{
	static uint8_t huge[MPY_CODE_MAX + 1];
	host h;
	const uint8_t *p;

	host_init(&h, NULL);
	CHECK_EQ_INT(mpy_exec(&h.m, (const uint8_t *)"1", 1, 0), MPY_E_STATE);
	CHECK_EQ_INT(mpy_code_sent(&h.m, 0, 0), MPY_E_STATE);
	CHECK_EQ_INT(mpy_soft_reset(&h.m, 0), MPY_E_STATE);
	enter(&h, 0);
	CHECK_EQ_INT(mpy_exec(&h.m, (const uint8_t *)"", 0, 0), MPY_E_INVALID);
	CHECK_EQ_INT(mpy_exec(&h.m, NULL, 3, 0), MPY_E_INVALID);
	memset(huge, ' ', sizeof huge);
	CHECK_EQ_INT(mpy_exec(&h.m, huge, sizeof huge, 0), MPY_E_INVALID);
	for (uint8_t c = 1; c <= 4; c++) {
		uint8_t prog[3] = {'a', c, 'b'};
		CHECK_EQ_INT(mpy_exec(&h.m, prog, 3, 0), MPY_E_INVALID);
	}
	CHECK_EQ_INT(mpy_exec(&h.m, (const uint8_t *)"a\x05\x00\xff", 4, 0), 0);
	CHECK_EQ_INT(mpy_exec(&h.m, (const uint8_t *)"1", 1, 0), MPY_E_STATE);
	rx(&h, "R\x01\x02\x00", 1);
	/* more than allowed: refused (the window is 2, and pump sent both) */
	CHECK_EQ_UINT(mpy_code_chunk(&h.m, 1, &p), 0);
	CHECK_EQ_INT(mpy_code_sent(&h.m, 1, 1), MPY_E_INVALID);
	CHECK_EQ_UINT(h.m.code_off, 2);
	for (int code = 0; code >= -8; code--)
		CHECK(mpy_strerror(code) != NULL && mpy_strerror(code)[0]);
	for (int s = MPY_S_CLOSED; s <= MPY_S_FAILED; s++) {
		h.m.state = (mpy_state)s;
		CHECK(mpy_waiting_for(&h.m)[0] != '\0');
	}
	/* a config out of range is clamped */
	mpy_config c = mpy_config_default();
	c.raw_chunk = 0;
	c.reply_ms = 0;
	host_init(&h, &c);
	CHECK_EQ_UINT(h.m.cfg.raw_chunk, 1);
	CHECK_EQ_UINT(h.m.cfg.reply_ms, 1);
}

static void test_protocol_errors(void)
{
	static const char prog[] = "print(1)\n";
	static uint8_t big[500];
	static const struct {
		const char *answer;
		size_t len;
		int big; /* a program longer than one window */
		int error;
	} v[] = {
	    {"R\x02", 2, 1, MPY_E_PROTOCOL},	      /* neither \x00 nor \x01 */
	    {"R\x01\x00\x00", 4, 1, MPY_E_WINDOW},    /* window 0 */
	    {"R\x01\x80\x00X", 5, 1, MPY_E_PROTOCOL}, /* garbage during the send */
	    {"R\x00X", 3, 1, MPY_E_PROTOCOL},	      /* no ">" after R\x00 */
	    {"R\x01\x80\x00\x01"
	     "X",
	     6, 0, MPY_E_PROTOCOL}, /* not the end ack */
	};
	host h;

	memset(big, 'z', sizeof big);
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		host_init(&h, NULL);
		enter(&h, 0);
		if (v[i].big)
			CHECK_EQ_INT(mpy_exec(&h.m, big, sizeof big, 0), 0);
		else
			CHECK_EQ_INT(mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 0), 0);
		pump(&h, 0);
		rx_n(&h, v[i].answer, v[i].len, 1, 0);
		CHECK_MSG(h.m.state == MPY_S_FAILED, v[i].answer);
		CHECK_MSG(h.last_error == v[i].error, v[i].answer);
		CHECK(h.m.code == NULL);
	}
	/* plain raw mode: not "OK"; bytes while sending */
	host_init(&h, NULL);
	enter(&h, 0);
	h.m.paste = 0;
	mpy_exec(&h.m, (const uint8_t *)prog, strlen(prog), 0);
	pump(&h, 0);
	rx(&h, "Ok", 1);
	CHECK_EQ_INT(h.last_error, MPY_E_PROTOCOL);
	host_init(&h, NULL);
	enter(&h, 0);
	h.m.paste = 0;
	mpy_exec(&h.m, big, sizeof big, 0);
	pump(&h, 0);
	rx(&h, "?", 1);
	CHECK_EQ_INT(h.last_error, MPY_E_PROTOCOL);
}

static void test_timeouts(void)
{
	static uint8_t big[400];
	host h;
	mpy_config c = mpy_config_default();

	memset(big, 'q', sizeof big);
	/* no answer to the raw-paste request */
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, big, 10, 0);
	tick(&h, 1999);
	CHECK_EQ_INT(h.m.state, MPY_S_PASTE_REQ);
	tick(&h, 2000);
	CHECK_EQ_INT(h.last_error, MPY_E_TIMEOUT);
	/* no credit: the timer runs only while the credit is 0 */
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, big, sizeof big, 0);
	pump(&h, 0);
	rx(&h, "R\x01\x80\x00", 100);
	CHECK_EQ_INT(mpy_deadline(&h.m), 5100);
	tick(&h, 5099);
	CHECK_EQ_INT(h.m.state, MPY_S_PASTE_SEND);
	rx(&h, "\x01", 5000);
	tick(&h, 9999);
	CHECK_EQ_INT(h.m.state, MPY_S_PASTE_SEND);
	tick(&h, 10000);
	CHECK_EQ_INT(h.last_error, MPY_E_TIMEOUT);
	/* no "OK" */
	host_init(&h, NULL);
	enter(&h, 0);
	h.m.paste = 0;
	mpy_exec(&h.m, big, 10, 0);
	pump(&h, 0);
	tick(&h, 2000);
	CHECK_EQ_INT(h.last_error, MPY_E_TIMEOUT);
	/* silence while the program runs: only when output_ms is set */
	c.output_ms = 3000;
	host_init(&h, &c);
	enter(&h, 0);
	mpy_exec(&h.m, big, 10, 0);
	pump(&h, 0);
	rx(&h, "R\x01\x80\x00\x01\x04", 0);
	rx(&h, "tick", 1000);
	tick(&h, 3999);
	CHECK_EQ_INT(h.m.state, MPY_S_STDOUT);
	tick(&h, 4000);
	CHECK_EQ_INT(h.last_error, MPY_E_TIMEOUT);
	/* no ">" after the result */
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, big, 10, 0);
	pump(&h, 0);
	rx(&h, "R\x01\x80\x00\x01\x04\x04\x04", 0);
	CHECK_EQ_INT(h.m.state, MPY_S_END_PROMPT);
	tick(&h, 2000);
	CHECK_EQ_INT(h.last_error, MPY_E_TIMEOUT);
}

/* A whole session gives the same events and text whether it comes in one read or byte by byte. */
static void test_split_invariance(void)
{
	static const char prog[] = "for i in range(3):\n print(i)\n";
	static const char board[] = "R\x01\x80\x00\x01\x04"
				    "0\r\n1\r\n2\r\n\x04\x04>";
	host a, b;

	host_init(&a, NULL);
	host_init(&b, NULL);
	enter(&a, 0);
	enter(&b, 0);
	mpy_exec(&a.m, (const uint8_t *)prog, strlen(prog), 0);
	mpy_exec(&b.m, (const uint8_t *)prog, strlen(prog), 0);
	pump(&a, 0);
	pump(&b, 0);
	rx_n(&a, board, sizeof board - 1, 1, 0);
	rx_n(&b, board, sizeof board - 1, 1, 1);
	CHECK_EQ_INT(a.nev, b.nev);
	CHECK(memcmp(a.ev, b.ev, sizeof a.ev) == 0);
	CHECK_STR(a.out, "0\r\n1\r\n2\r\n");
	CHECK_STR(a.out, b.out);
	CHECK(a.nwire == b.nwire && memcmp(a.wire, b.wire, a.nwire) == 0);
	CHECK_EQ_INT(a.m.state, MPY_S_PROMPT);
	CHECK_EQ_INT(b.m.state, MPY_S_PROMPT);
}

/* Many "\x01" never allow more than the program holds; the tx queue is bounded. */
static void test_bounds(void)
{
	static uint8_t prog[10];
	host h;
	const uint8_t *p;

	memset(prog, 'k', sizeof prog);
	host_init(&h, NULL);
	enter(&h, 0);
	mpy_exec(&h.m, prog, sizeof prog, 0);
	/* the driver does not write: control bytes stay ahead of program bytes */
	rx(&h, "R", 1);
	h.nwire = 0;
	CHECK_EQ_INT(h.m.state, MPY_S_PASTE_R);
	mpy_feed(&h.m, (const uint8_t *)"\x01\xff\xff", 3, 1, &(mpy_event){0});
	{
		mpy_event ev;
		for (int i = 0; i < 100; i++)
			mpy_feed(&h.m, (const uint8_t *)"\x01", 1, 2, &ev);
	}
	CHECK_EQ_UINT(h.m.credit, 10); /* not 65535 + 100 windows */
	CHECK_EQ_UINT(mpy_code_chunk(&h.m, 2, &p), 10);
	/* retries while the driver does not write: the queue stays bounded */
	host_init(&h, NULL);
	mpy_enter(&h.m, 0);
	for (int64_t t = 0; t < 9000; t += 500) {
		mpy_event ev;
		mpy_tick(&h.m, t, &ev);
	}
	CHECK(h.m.ntx <= MPY_TX_MAX);
	CHECK_EQ_UINT(h.m.ntx % 5, 0);
}

/* Saving main.py as pyboard.py's fs_put does: open, w(chunk) per exec, close. */
static void test_save_file_programs(void)
{
	char out[1200];
	uint8_t all[256];
	size_t n;

	n = mpy_py_open_write(out, sizeof out, "main.py");
	CHECK_STR(out, "f=open('main.py','wb')\nw=f.write\n");
	CHECK_EQ_UINT(n, strlen(out));
	CHECK(mpy_py_open_write(out, sizeof out, "lib/robot_2-b.py") > 0);
	CHECK_EQ_UINT(mpy_py_open_write(out, n, "main.py"), 0); /* no room for the NUL */
	CHECK_EQ_UINT(mpy_py_open_write(out, n + 1, "main.py"), n);
	CHECK_EQ_UINT(mpy_py_open_write(out, sizeof out, ""), 0);
	CHECK_EQ_UINT(mpy_py_open_write(out, sizeof out, NULL), 0);
	CHECK_EQ_UINT(mpy_py_open_write(out, sizeof out, "a'),exec('x"), 0);
	CHECK_EQ_UINT(mpy_py_open_write(out, sizeof out, "main.py\n"), 0);
	CHECK_EQ_UINT(mpy_py_open_write(out, sizeof out, "\x04"), 0);
	memset(out, 'a', 65);
	out[65] = '\0';
	{
		char path[66];
		memcpy(path, out, 66);
		CHECK_EQ_UINT(mpy_py_open_write(out, sizeof out, path), 0);
		path[64] = '\0';
		CHECK(mpy_py_open_write(out, sizeof out, path) > 0);
	}

	n = mpy_py_write_chunk(out, sizeof out, (const uint8_t *)"print('hi')\n", 12);
	CHECK_STR(out, "w(b'print(\\x27hi\\x27)\\x0a')\n");
	CHECK_EQ_UINT(n, strlen(out));
	CHECK_EQ_UINT(mpy_py_write_chunk(out, sizeof out, NULL, 0), 7);
	CHECK_STR(out, "w(b'')\n");
	CHECK_EQ_UINT(mpy_py_write_chunk(out, sizeof out, (const uint8_t *)"\\", 1), 11);
	CHECK_STR(out, "w(b'\\x5c')\n");
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	n = mpy_py_write_chunk(out, 4 * 256 + 10, all, 256);
	/* 95 printable bytes minus \\ and ' kept, the other 163 as \\xNN */
	CHECK_EQ_UINT(n, 4 + 93 + 4 * 163 + 3);
	for (size_t i = 0; i < n; i++)
		CHECK(out[i] >= 0x20 || out[i] == '\n');
	/* the program it makes is one mpy_exec() takes */
	{
		host h;
		host_init(&h, NULL);
		enter(&h, 0);
		CHECK_EQ_INT(mpy_exec(&h.m, (const uint8_t *)out, n, 0), 0);
	}
	CHECK_EQ_UINT(mpy_py_write_chunk(out, n, all, 256), 0);
	CHECK_EQ_UINT(mpy_py_write_chunk(out, n + 1, all, 256), n);
	CHECK_EQ_UINT(mpy_py_write_chunk(out, 7, NULL, 0), 0);
	CHECK_EQ_UINT(mpy_py_write_chunk(out, 8, NULL, 0), 7);
}

int main(void)
{
	RUN(test_enter_from_friendly);
	RUN(test_enter_busy_board);
	RUN(test_enter_board_resets_on_open);
	RUN(test_enter_timeouts);
	RUN(test_raw_paste);
	RUN(test_raw_paste_traceback_and_abort);
	RUN(test_r00_fallback_paced);
	RUN(test_old_firmware_without_raw_paste);
	RUN(test_sys_exit_and_soft_reset);
	RUN(test_interrupt_and_exit);
	RUN(test_bad_calls);
	RUN(test_protocol_errors);
	RUN(test_timeouts);
	RUN(test_split_invariance);
	RUN(test_bounds);
	RUN(test_save_file_programs);
	return check_summary();
}
