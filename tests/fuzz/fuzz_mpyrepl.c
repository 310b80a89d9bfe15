/* fuzz_mpyrepl.c - libFuzzer harness: arbitrary board bytes (and driver calls) in every state of
 * the MicroPython raw REPL machine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/mpyrepl.h"

#define PROG_LEN 300
#define WIRE_MAX 8192
#define LOG_MAX 16384

static uint8_t prog[PROG_LEN];

/* What a run produced: the bytes written, the events and the streams, to compare two runs. */
typedef struct run {
	mpy_repl m;
	uint8_t wire[WIRE_MAX];
	size_t nwire;
	uint8_t log[LOG_MAX]; /* event types, then stream bytes, as they came */
	size_t nlog;
	int64_t now;
} run;

static void put(uint8_t *buf, size_t *n, size_t cap, const uint8_t *d, size_t len)
{
	for (size_t i = 0; i < len && *n < cap; i++)
		buf[(*n)++] = d[i];
}

/* The machine's invariants, after any call. */
static void check_machine(const mpy_repl *m)
{
	if (m->state < MPY_S_CLOSED || m->state > MPY_S_FAILED)
		abort();
	if (m->ntx > MPY_TX_MAX || m->code_off > m->code_len || m->code_len > MPY_CODE_MAX)
		abort();
	if (m->code && m->credit > m->code_len - m->code_off)
		abort();
	if ((m->state == MPY_S_FAILED) != (m->error != 0) && m->state != MPY_S_FAILED)
		abort(); /* an error code outside FAILED */
	if (m->state == MPY_S_FAILED && m->error >= 0)
		abort();
	if (m->paste < -1 || m->paste > 1)
		abort();
	if (mpy_waiting_for(m) == NULL)
		abort();
}

/* Write what the machine allows, as a driver does; check the slices it hands out. */
static void pump(run *r)
{
	for (int guard = 0; guard < 10000; guard++) {
		const uint8_t *p;
		size_t n = mpy_tx(&r->m, &p);
		if (n) {
			if (n > MPY_TX_MAX)
				abort();
			put(r->wire, &r->nwire, WIRE_MAX, p, n);
			mpy_tx_done(&r->m, n);
			continue;
		}
		n = mpy_code_chunk(&r->m, r->now, &p);
		if (!n)
			return;
		if (p < prog || p + n > prog + PROG_LEN)
			abort();
		put(r->wire, &r->nwire, WIRE_MAX, p, n);
		if (mpy_code_sent(&r->m, n, r->now) != 0)
			abort();
		check_machine(&r->m);
	}
	abort(); /* the machine never stops offering bytes */
}

static void note(run *r, const mpy_event *ev, const uint8_t *buf, size_t len)
{
	uint8_t t = (uint8_t)ev->type;

	if (ev->type > MPY_EV_ERROR)
		abort();
	if (ev->type == MPY_EV_NONE)
		return;
	if (ev->type == MPY_EV_TEXT || ev->type == MPY_EV_STDOUT || ev->type == MPY_EV_STDERR) {
		if (!ev->data || ev->data < buf || ev->data + ev->len > buf + len || !ev->len)
			abort();
		if (ev->type != MPY_EV_TEXT && memchr(ev->data, 0x04, ev->len))
			abort();
		/* each byte with its stream: slices may be cut anywhere, the streams may not */
		for (size_t i = 0; i < ev->len; i++) {
			put(r->log, &r->nlog, LOG_MAX, &t, 1);
			put(r->log, &r->nlog, LOG_MAX, ev->data + i, 1);
		}
	} else {
		if (ev->data || ev->len)
			abort();
		put(r->log, &r->nlog, LOG_MAX, &t, 1);
	}
	if (ev->type == MPY_EV_ERROR && (ev->error >= 0 || r->m.state != MPY_S_FAILED))
		abort();
	if (ev->type == MPY_EV_DONE && ev->error != 0 && ev->error != 1)
		abort();
	if ((ev->type == MPY_EV_CREDIT || ev->type == MPY_EV_PASTE_OK) &&
	    (ev->credit == 0 || ev->credit > 0xffff))
		abort();
	if (ev->type == MPY_EV_PROMPT && r->m.state != MPY_S_PROMPT)
		abort();
}

/* Feed buf[0..len) (a copy of exactly that size: ASan sees any over-read) until all is taken. */
static void feed(run *r, const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	size_t off = 0, calls = 0;
	mpy_event ev;

	if (!buf)
		return;
	memcpy(buf, data, len);
	do {
		size_t u = mpy_feed(&r->m, buf + off, len - off, r->now, &ev);
		if (u > len - off || ++calls > 2 * len + 4)
			abort();
		if (ev.type == MPY_EV_NONE && u != len - off)
			abort();
		off += u;
		note(r, &ev, buf, len);
		check_machine(&r->m);
		pump(r);
	} while (ev.type != MPY_EV_NONE);
	free(buf);
}

static void feed_str(run *r, const char *s, size_t len)
{
	feed(r, (const uint8_t *)s, len);
}

static void tick(run *r)
{
	mpy_event ev;

	if (mpy_tick(&r->m, r->now, &ev) != (ev.type != MPY_EV_NONE))
		abort();
	note(r, &ev, NULL, 0);
	check_machine(&r->m);
	pump(r);
}

/* Scripted prefixes that bring the machine to each state before the fuzzed bytes. */
enum { NROUTES = 19 };

static void route(run *r, unsigned which, int small_chunks)
{
	mpy_config c = mpy_config_default();
	mpy_state want = MPY_S_CLOSED;

	if (small_chunks)
		c.raw_chunk = 16;
	mpy_init(&r->m, &c);
	r->now = 1000;
	if (which == 0)
		return; /* CLOSED */
	mpy_enter(&r->m, r->now);
	pump(r);
	want = MPY_S_ENTERING;
	if (which == 1)
		goto check;
	if (which == 2) { /* SETTLING: a retry, then a banner */
		r->now += 500;
		tick(r);
		feed_str(r, MPY_BANNER ">", sizeof MPY_BANNER);
		want = MPY_S_SETTLING;
		goto check;
	}
	feed_str(r, MPY_BANNER ">", sizeof MPY_BANNER);
	want = MPY_S_PROMPT;
	if (which == 3)
		goto check;
	if (which == 4) {
		mpy_exit(&r->m, r->now);
		pump(r);
		want = MPY_S_FRIENDLY;
		goto check;
	}
	if (which == 5) {
		mpy_soft_reset(&r->m, r->now);
		pump(r);
		want = MPY_S_REBOOTING;
		goto check;
	}
	if (which == 6) {
		r->now += 100000;
		mpy_soft_reset(&r->m, r->now);
		r->now += 100000;
		tick(r);
		want = MPY_S_FAILED;
		goto check;
	}
	if (which >= 15) { /* plain raw mode */
		r->m.paste = 0;
		mpy_exec(&r->m, prog, PROG_LEN, r->now);
		pump(r);
		want = MPY_S_RAW_SEND;
		if (which == 15)
			goto check;
		for (int i = 0; i < 100 && r->m.state == MPY_S_RAW_SEND; i++) {
			r->now += 10;
			pump(r);
		}
		want = MPY_S_RAW_OK;
		if (which == 16)
			goto check;
		feed_str(r, "OK", 2);
		want = MPY_S_STDOUT;
		if (which == 17)
			goto check;
		feed_str(r, "out\x04", 4);
		want = MPY_S_STDERR;
		goto check;
	}
	mpy_exec(&r->m, prog, PROG_LEN, r->now);
	pump(r);
	want = MPY_S_PASTE_REQ;
	if (which == 7)
		goto check;
	feed_str(r, "R", 1);
	want = MPY_S_PASTE_R;
	if (which == 8)
		goto check;
	if (which == 9) {
		feed_str(r, "\x00", 1);
		want = MPY_S_NOPASTE;
		goto check;
	}
	feed_str(r, "\x01", 1);
	want = MPY_S_PASTE_WIN;
	if (which == 10)
		goto check;
	feed_str(r, "\x20\x00", 2); /* window 32 */
	want = MPY_S_PASTE_SEND;
	if (which == 11)
		goto check;
	for (int i = 0; i < 20 && r->m.state == MPY_S_PASTE_SEND; i++)
		feed_str(r, "\x01", 1);
	want = MPY_S_PASTE_END;
	if (which == 12)
		goto check;
	feed_str(r, "\x04", 1);
	want = MPY_S_STDOUT;
	if (which == 13)
		goto check;
	feed_str(r,
		 "out\x04"
		 "err\x04",
		 8);
	want = MPY_S_END_PROMPT;
check:
	if (r->m.state != want)
		abort();
}

/* The whole input as board bytes, in one read or byte by byte: the same events, text, wire. */
static void bulk_vs_bytes(const uint8_t *data, size_t size, unsigned which, int small)
{
	static run a, b;

	route(&a, which, small);
	route(&b, which, small);
	feed(&a, data, size);
	for (size_t i = 0; i < size; i++)
		feed(&b, data + i, 1);
	if (a.m.state != b.m.state || a.nlog != b.nlog || memcmp(a.log, b.log, a.nlog) ||
	    a.nwire != b.nwire || memcmp(a.wire, b.wire, a.nwire))
		abort();
}

/* The input as a script: board bytes, time passing and every driver call, in any order. */
static void script(const uint8_t *data, size_t size, unsigned which, int small)
{
	static run r;
	size_t i = 0;

	route(&r, which, small);
	while (i < size) {
		uint8_t op = data[i++];
		size_t n;
		switch (op) {
		case 0xF0:
			r.now += 1;
			tick(&r);
			break;
		case 0xF1:
			r.now += 777;
			tick(&r);
			break;
		case 0xF2:
			r.now += 100000;
			tick(&r);
			break;
		case 0xF3: mpy_exec(&r.m, prog, 1 + (r.now % PROG_LEN), r.now); break;
		case 0xF4: mpy_interrupt(&r.m, r.now); break;
		case 0xF5: mpy_soft_reset(&r.m, r.now); break;
		case 0xF6: mpy_enter(&r.m, r.now); break;
		case 0xF7: mpy_exit(&r.m, r.now); break;
		case 0xF8: pump(&r); break;
		case 0xF9: {
			const uint8_t *p;
			size_t k = mpy_code_chunk(&r.m, r.now, &p);
			/* more than allowed is refused and changes nothing */
			size_t off = r.m.code_off;
			if (mpy_code_sent(&r.m, k + 1, r.now) == 0 || r.m.code_off != off)
				abort();
			break;
		}
		default:
			n = op & 0x0f;
			if (n > size - i)
				n = size - i;
			feed(&r, data + i, n);
			i += n;
			break;
		}
		check_machine(&r.m);
		pump(&r);
	}
	/* time running out ends every wait: after a tick no deadline is left in the past (plain
	 * raw pacing is the driver's), and the machine comes to rest */
	for (int k = 0; k < 64 && mpy_deadline(&r.m) != INT64_MAX; k++) {
		r.now += 3600001;
		tick(&r);
		if (mpy_deadline(&r.m) <= r.now && r.m.state != MPY_S_RAW_SEND)
			abort();
	}
	if (mpy_deadline(&r.m) != INT64_MAX)
		abort();
}

/* Hex digit value, or -1. */
static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The chunk program decoded as Python reads w(b'...'): the same bytes (decode(encode(x)) == x),
 * no control byte, and the exact size bound honoured. */
static void literal_round_trip(const uint8_t *data, size_t size)
{
	static char out[4 * 4096 + 10];
	static uint8_t back[4096];
	size_t n = size > 4096 ? 4096 : size, o, k = 0;

	o = mpy_py_write_chunk(out, 4 * n + 10, data, n);
	if (o == 0 || o != strlen(out) || memcmp(out, "w(b'", 4) || memcmp(out + o - 3, "')\n", 3))
		abort();
	if (mpy_py_write_chunk(out, o, data, n) != 0) /* one short: refused */
		abort();
	o = mpy_py_write_chunk(out, o + 1, data, n);
	for (size_t i = 4; i < o - 3; i++) {
		char c = out[i];
		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f || c == '\'')
			abort();
		if (c == '\\') {
			int hi, lo;
			if (i + 3 >= o - 3 + 1 || out[i + 1] != 'x')
				abort();
			hi = hexval(out[i + 2]);
			lo = hexval(out[i + 3]);
			if (hi < 0 || lo < 0)
				abort();
			back[k++] = (uint8_t)(hi << 4 | lo);
			i += 3;
		} else {
			back[k++] = (uint8_t)c;
		}
	}
	if (k != n || memcmp(back, data, n))
		abort();
	/* the input as a path: accepted only when made of the allowed characters */
	{
		char path[80];
		size_t pl = size < sizeof path - 1 ? size : sizeof path - 1;
		memcpy(path, data, pl);
		path[pl] = '\0';
		o = mpy_py_open_write(out, sizeof out, path);
		if (o &&
		    (strlen(path) > MPY_PATH_MAX || !strlen(path) ||
		     strspn(path,
			    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") !=
			 strlen(path)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	literal_round_trip(data, size);
	if (!prog[0])
		for (size_t i = 0; i < PROG_LEN; i++)
			prog[i] = (uint8_t)(i % 10 == 9 ? '\n' : 'a' + i % 26);
	if (size < 1)
		return 0;
	unsigned which = data[0] % NROUTES;
	int small = (data[0] / NROUTES) & 1;
	bulk_vs_bytes(data + 1, size - 1, which, small);
	script(data + 1, size - 1, which, small);
	return 0;
}
