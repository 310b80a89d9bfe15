/* marlin_model.h - a small pure model of Marlin's line handling, to model-check the sender. */
#ifndef LB_MARLIN_MODEL_H
#define LB_MARLIN_MODEL_H

/*
 * What Marlin 2.x does with numbered lines (GCodeQueue::get_serial_commands, gcode_line_error,
 * flush_and_request_resend, ok_to_send in Marlin/src/gcode/queue.cpp), reduced to what the host
 * can observe:
 *  - a line whose N is not last_N + 1 (M110 aside) is refused, then one whose checksum is wrong;
 *    a refusal prints "Error:...", drops what is in the receive buffer (the next `flush` lines
 *    on the wire: the fuzzer chooses how many had arrived), prints "Resend: last_N+1" and, in
 *    Marlin 1.x and some forks, an "ok" (ok_after_resend);
 *  - the receive buffer holds bytes, not lines: gcode_line_error reads out what has arrived, so
 *    the line then arriving loses its head (the fuzzer chooses where it was cut: `cut`). Its tail
 *    ("2 G1 X12*34\n") is a line without N: Marlin queues it like any command (no checksum is
 *    asked of a line without N), runs it ("Unknown command" or a move) and prints an "ok" for it
 *    ("ok P<p> B<b>" with ADVANCED_OK: no N); an empty tail (only the newline) is skipped;
 *  - an accepted line goes into the command buffer (bufsize slots; nothing is read while it is
 *    full) and its "ok" (ADVANCED_OK: "ok N<n> P<p> B<b>") is printed when it has run; M105
 *    prints its own "ok T:... B:..." instead (gcode.cpp: "ok" already printed), also with
 *    ADVANCED_OK (no N);
 *  - replies reach the host in order; the fuzzer may lose one (counted in lost).
 * No I/O and no time: the harness decides what happens next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/gcode.h"

#ifndef MM_TRACE
#define MM_TRACE(...) (void)0
#endif

#define MM_WIRE 512  /* frames on the wire to the printer */
#define MM_REPLY 512 /* reply lines on the wire to the host */
#define MM_BUF 8     /* command slots at most */
#define MM_EXEC 4096 /* executed lines remembered */

typedef struct mm_frame {
	int len;
	char s[GCODE_FRAME_MAX];
} mm_frame;

typedef struct marlin_model {
	int advanced_ok, ok_after_resend, bufsize;
	long last_n;
	mm_frame wire[MM_WIRE];
	int w_head, w_count;
	long buf_n[MM_BUF];
	char buf_cmd[MM_BUF][GCODE_CMD_MAX + 1];
	int b_head, b_count;
	char rep[MM_REPLY][64];
	int r_head, r_count;
	long executed; /* lines run */
	long exec_n[MM_EXEC];
	char exec_cmd[MM_EXEC][32];
	long lost;	/* replies lost (an ok or a resend request the host never saw) */
	long rejected;	/* lines refused */
	long fragments; /* tails of lines cut by a flush, run as commands */
	long probes;	/* M105 run (not in exec_n: the host's own) */
	long last_run;	/* the number of the last numbered line run */
	int disorder;	/* a numbered line ran after a later one */
	int overflow;	/* a queue overflowed: the run says nothing */
} marlin_model;

/* A printer after M110 N<last_n>. */
static inline void mm_init(marlin_model *m, int advanced_ok, int ok_after_resend, int bufsize,
			   long last_n)
{
	memset(m, 0, sizeof *m);
	m->advanced_ok = advanced_ok;
	m->ok_after_resend = ok_after_resend;
	m->bufsize = bufsize < 1 ? 1 : bufsize > MM_BUF ? MM_BUF : bufsize;
	m->last_n = last_n;
	m->last_run = last_n;
}

/* Print a reply line. */
static inline void mm_reply_add(marlin_model *m, const char *text)
{
	if (m->r_count == MM_REPLY) {
		m->overflow = 1;
		return;
	}
	snprintf(m->rep[(m->r_head + m->r_count) % MM_REPLY], sizeof m->rep[0], "%s", text);
	m->r_count++;
}

/* The host wrote a frame (whole lines: the sender writes frames). */
static inline void mm_send(marlin_model *m, const char *frame, int len)
{
	mm_frame *f;

	if (m->w_count == MM_WIRE || len <= 0 || len >= GCODE_FRAME_MAX) {
		m->overflow = 1;
		return;
	}
	f = &m->wire[(m->w_head + m->w_count) % MM_WIRE];
	memcpy(f->s, frame, (size_t)len);
	f->s[len] = '\0';
	f->len = len;
	m->w_count++;
}

/*
 * gcode_line_error: report, flush what has arrived (flush whole lines, then the head of the next
 * one when cut: 1 its first byte, 2 half of it, 3 all but its newline), ask for last_N + 1.
 */
static inline void mm_line_error(marlin_model *m, const char *what, int flush, int cut)
{
	char buf[64];

	snprintf(buf, sizeof buf, "Error:%s, Last Line: %ld", what, m->last_n);
	mm_reply_add(m, buf);
	while (flush-- > 0 && m->w_count > 0) {
		m->w_head = (m->w_head + 1) % MM_WIRE;
		m->w_count--;
	}
	if (cut > 0 && m->w_count > 0) {
		mm_frame *f = &m->wire[m->w_head];
		int k = cut == 1 ? 1 : cut == 2 ? f->len / 2 : f->len - 1;
		if (k < 1)
			k = 1;
		if (k > f->len - 1)
			k = f->len - 1;
		memmove(f->s, f->s + k, (size_t)(f->len - k) + 1);
		f->len -= k;
	}
	snprintf(buf, sizeof buf, "Resend: %ld", m->last_n + 1);
	mm_reply_add(m, buf);
	if (m->ok_after_resend)
		mm_reply_add(m, "ok");
	m->rejected++;
}

/*
 * The printer reads the next frame off the wire (corrupt: a bit flipped on the way, so the
 * checksum fails; flush: lines behind it already in the receive buffer). 0 when nothing was
 * read (no frame, or the command buffer is full), 1 otherwise.
 */
static inline int mm_deliver_cut(marlin_model *m, int corrupt, int flush, int cut)
{
	mm_frame f;
	char *star, *sp;
	unsigned sum = 0;
	long n;
	int slot;

	if (!m->w_count || m->b_count == m->bufsize)
		return 0;
	f = m->wire[m->w_head];
	m->w_head = (m->w_head + 1) % MM_WIRE;
	m->w_count--;
	sp = f.s;
	while (*sp == ' ')
		sp++;
	if (*sp != 'N') {
		/* the tail of a line cut by a flush: a command without N, queued as it is */
		char *end = sp + strcspn(sp, "\n");
		if (end == sp)
			return 1; /* an empty line: skipped */
		MM_TRACE("printer reads the fragment \"%.*s\"", (int)(end - sp), sp);
		slot = (m->b_head + m->b_count) % MM_BUF;
		m->buf_n[slot] = -1;
		snprintf(m->buf_cmd[slot], sizeof m->buf_cmd[0], "%.*s", (int)(end - sp), sp);
		m->b_count++;
		return 1;
	}
	n = strtol(f.s + 1, NULL, 10);
	MM_TRACE("printer reads N%ld%s (flush %d, last %ld)", n, corrupt ? " corrupted" : "", flush,
		 m->last_n);
	if (n != m->last_n + 1) {
		mm_line_error(m, "Line Number is not Last Line Number+1", flush, cut);
		return 1;
	}
	star = strrchr(f.s, '*');
	if (!star) {
		mm_line_error(m, "No Checksum with line number", flush, cut);
		return 1;
	}
	for (const char *p = f.s; p < star; p++)
		sum ^= (unsigned char)*p;
	if (corrupt)
		sum ^= 1;
	if (strtol(star + 1, NULL, 10) != (long)sum) {
		mm_line_error(m, "checksum mismatch", flush, cut);
		return 1;
	}
	m->last_n = n;
	slot = (m->b_head + m->b_count) % MM_BUF;
	m->buf_n[slot] = n;
	sp = strchr(f.s, ' ');
	snprintf(m->buf_cmd[slot], sizeof m->buf_cmd[0], "%.*s", sp ? (int)(star - sp - 1) : 0,
		 sp ? sp + 1 : "");
	m->b_count++;
	return 1;
}

/* mm_deliver_cut without cutting a line: the flush drops whole lines only. */
static inline int mm_deliver(marlin_model *m, int corrupt, int flush)
{
	return mm_deliver_cut(m, corrupt, flush, 0);
}

/* The oldest command runs; its ok is printed unless lose_ok. 0 when the buffer is empty. */
static inline int mm_execute(marlin_model *m, int lose_ok)
{
	char buf[64];
	int slot = m->b_head;

	if (!m->b_count)
		return 0;
	if (m->buf_n[slot] < 0) {
		/* a fragment: Marlin runs it and prints an ok (no N: its buffer has none) */
		MM_TRACE("printer runs the fragment \"%s\"%s", m->buf_cmd[slot],
			 lose_ok ? " (ok lost)" : "");
		m->fragments++;
		m->b_head = (m->b_head + 1) % MM_BUF;
		m->b_count--;
		if (m->advanced_ok)
			snprintf(buf, sizeof buf, "ok P15 B%d", m->bufsize - m->b_count);
		else
			snprintf(buf, sizeof buf, "ok");
		if (lose_ok)
			m->lost++;
		else
			mm_reply_add(m, buf);
		return 1;
	}
	if (m->buf_n[slot] <= m->last_run)
		m->disorder = 1;
	m->last_run = m->buf_n[slot];
	if (strncmp(m->buf_cmd[slot], "M105", 4) == 0) {
		MM_TRACE("printer runs N%ld M105%s", m->buf_n[slot], lose_ok ? " (ok lost)" : "");
		m->probes++;
		m->b_head = (m->b_head + 1) % MM_BUF;
		m->b_count--;
		if (lose_ok)
			m->lost++;
		else
			mm_reply_add(m, "ok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0");
		return 1;
	}
	if (m->executed < MM_EXEC) {
		m->exec_n[m->executed] = m->buf_n[slot];
		size_t len = strnlen(m->buf_cmd[slot], sizeof m->exec_cmd[0] - 1);
		memcpy(m->exec_cmd[m->executed], m->buf_cmd[slot], len);
		m->exec_cmd[m->executed][len] = '\0';
	}
	m->executed++;
	MM_TRACE("printer runs N%ld%s", m->buf_n[slot], lose_ok ? " (ok lost)" : "");
	m->b_head = (m->b_head + 1) % MM_BUF;
	m->b_count--;
	if (m->advanced_ok)
		snprintf(buf, sizeof buf, "ok N%ld P15 B%d", m->buf_n[slot],
			 m->bufsize - m->b_count);
	else
		snprintf(buf, sizeof buf, "ok");
	if (lose_ok)
		m->lost++;
	else
		mm_reply_add(m, buf);
	return 1;
}

/* The next reply line into out[cap] (lose: it never arrives, counted). 0 when there is none. */
static inline int mm_next_reply(marlin_model *m, int lose, char *out, size_t cap)
{
	if (!m->r_count)
		return 0;
	snprintf(out, cap, "%s", m->rep[m->r_head]);
	m->r_head = (m->r_head + 1) % MM_REPLY;
	m->r_count--;
	if (lose) {
		m->lost++;
		return 0;
	}
	return 1;
}

/* Nothing on either wire and nothing left to run: the printer will say nothing more. */
static inline int mm_quiet(const marlin_model *m)
{
	return !m->w_count && !m->b_count && !m->r_count;
}

#endif
