/* sender_check.h - the Marlin sender against the reference printer model, faults from bytes. */
#ifndef LB_SENDER_CHECK_H
#define LB_SENDER_CHECK_H

/*
 * One run: the sender streams a job of SC_LINES lines ("G1 X<i>") to marlin_model.h's printer
 * while the input bytes choose every interleaving: when the printer reads a line, whether it
 * arrives corrupted and how much of the wire its error flushes, when lines run and whether their
 * ok is lost, when the host reads a reply, how time passes, when the timeouts are looked at.
 * Then the faults stop and the run must finish. What must hold:
 *  - the printer runs line i as the i-th command, exactly once, with the text pushed as line i;
 *  - no stall: with no lost reply (ADVANCED_OK or plain oks, the host told whether the firmware
 *    prints an ok after a resend request or not, fragments of cut lines answered too), the
 *    sender never waits for an answer that the printer will not send (everything quiet, lines still
 * in flight), so it never times out once the printer has said everything (a timeout while a line is
 * still on its way is the harness's slow link, a fault like a lost ok);
 *  - progress: after the faults, the job ends (every line run unless a resend request was lost)
 *    within a bounded number of steps.
 * Include after sender.h/sender.c. sc_run returns 0, or -1 with the violation in why[cap].
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "marlin_model.h"

#ifndef SC_TRACE
#define SC_TRACE(...) (void)0
#endif

#define SC_LINES 48
#define SC_MS 1000000LL

static const int64_t sc_timeouts[4] = {5000 * SC_MS, 60000 * SC_MS, 60000 * SC_MS, 60000 * SC_MS};

typedef struct sc_run_state {
	mk_sender s;
	marlin_model m;
	int64_t now;
	long pushed;	     /* job lines pushed */
	int strict;	     /* a stall is a violation (always: see sc_run) */
	long lost_resend;    /* resend requests the host never saw */
	int failed;	     /* the sender ended the job (MK_FAIL) */
	long timeouts;	     /* oks taken as lost */
	long early_timeouts; /* of which before the printer had answered */
	char why[256];
} sc_run_state;

/* Put on the wire what the sender may send now, as the driver's fill does: resends first. */
static inline void sc_pump(sc_run_state *r)
{
	char out[GCODE_FRAME_MAX], cmd[32];
	int n;

	if (r->failed)
		return;
	while ((n = mk_sender_resend_next(&r->s, r->now, out, sizeof out)) > 0)
		mm_send(&r->m, out, n), SC_TRACE("%.3f resend %.*s", r->now / 1e9, n - 1, out);
	while (r->pushed < SC_LINES) {
		long i = r->pushed + 1;
		mk_tag tag = {i, i * 10, GCODE_CLASS_QUICK};
		int len = snprintf(cmd, sizeof cmd, "G1 X%ld", i);
		if (!mk_sender_can_push(&r->s, (size_t)len, r->now))
			break;
		n = mk_sender_push(&r->s, cmd, (size_t)len, &tag, r->now, out, sizeof out);
		if (n <= 0)
			break;
		mm_send(&r->m, out, n);
		SC_TRACE("%.3f send %.*s", r->now / 1e9, n - 1, out);
		r->pushed++;
	}
}

/* The host reads one reply (lose: it never arrives). 0, or -1 with why set. */
static inline int sc_reply(sc_run_state *r, int lose)
{
	char line[64], why[200] = "";
	marlin_reply rep;
	mk_event ev;

	if (r->m.r_count && lose && strncmp(r->m.rep[r->m.r_head], "Resend", 6) == 0)
		r->lost_resend++;
	if (!mm_next_reply(&r->m, lose, line, sizeof line) || r->failed)
		return 0;
	marlin_parse(line, strlen(line), &rep);
	ev = mk_sender_on_reply(&r->s, &rep, r->now, why, sizeof why);
	SC_TRACE("%.3f reply %s -> ev %d (acked %ld, send %ld, next %ld, fl %d, owed %d, hold "
		 "%.3f)",
		 r->now / 1e9, line, ev, r->s.acked_n, r->s.send_n, r->s.next_n, r->s.fl_count,
		 r->s.owed, r->s.hold_until / 1e9);
	if (ev == MK_FAIL) {
		if (!strstr(why, "rejected")) {
			snprintf(r->why, sizeof r->why, "the sender gave up on \"%.40s\": %.150s",
				 line, why);
			return -1;
		}
		r->failed = 1; /* a line refused too often: a legitimate end */
	}
	return 0;
}

/* Look at the timeouts; with ADVANCED_OK and nothing lost, a timeout is a stall. */
static inline int sc_timeout(sc_run_state *r)
{
	int64_t dl;

	if (r->failed || !mk_sender_check_timeout(&r->s, sc_timeouts, r->now, &dl))
		return 0;
	r->timeouts++;
	if (!mm_quiet(&r->m)) {
		/* the printer had not answered yet (a link slower than the timeout): a fault */
		r->early_timeouts++;
		return 0;
	}
	if (r->strict && !r->m.lost && !r->early_timeouts) {
		snprintf(r->why, sizeof r->why,
			 "stall: the sender timed out at %.3f s (line %ld in flight) although the "
			 "printer answered every line",
			 (double)r->now / 1e9, r->s.acked_n + 1);
		return -1;
	}
	return 0;
}

/* What must hold after every step. */
static inline int sc_invariants(sc_run_state *r)
{
	const mk_sender *s = &r->s;
	long k = r->m.executed < MM_EXEC ? r->m.executed : MM_EXEC;

	if (s->fl_count < 0 || s->fl_count > s->window_lines + 1 /* the M105 probe */ ||
	    s->send_n > s->next_n || s->owed < 0 || s->fl_bytes < 0) {
		snprintf(r->why, sizeof r->why, "sender state broken (in flight %d, owed %d)",
			 s->fl_count, s->owed);
		return -1;
	}
	if (r->m.disorder) {
		snprintf(r->why, sizeof r->why, "a line ran after a later one");
		return -1;
	}
	for (long i = 0; i < k; i++) {
		char want[32];
		snprintf(want, sizeof want, "G1 X%ld", i + 1);
		if (strcmp(r->m.exec_cmd[i], want) != 0) {
			snprintf(r->why, sizeof r->why,
				 "job command %ld run as N%ld \"%s\", expected \"%s\"", i + 1,
				 r->m.exec_n[i], r->m.exec_cmd[i], want);
			return -1;
		}
	}
	/* the printer has nothing more to say: nothing may wait for it */
	if (r->strict && !r->m.lost && !r->early_timeouts && !r->failed && mm_quiet(&r->m) &&
	    s->fl_count > 0) {
		snprintf(r->why, sizeof r->why,
			 "stall: %d line(s) in flight (from N%ld) but the printer has answered "
			 "everything (run %ld, last N%ld)",
			 s->fl_count, s->fl[s->fl_head].n, r->m.executed, r->m.last_n);
		return -1;
	}
	return 0;
}

/* The faults stop: everything is delivered promptly; the job must end. */
static inline int sc_finish(sc_run_state *r)
{
	for (int step = 0; step < 20000; step++) {
		int64_t dl = -1;
		sc_pump(r);
		while (mm_deliver(&r->m, 0, 0))
			;
		while (mm_execute(&r->m, 0))
			while (mm_deliver(&r->m, 0, 0))
				;
		while (r->m.r_count)
			if (sc_reply(r, 0) < 0)
				return -1;
		if (sc_invariants(r) < 0)
			return -1;
		if (r->failed)
			return 0;
		if (r->pushed == SC_LINES && r->s.fl_count == 0 && r->s.send_n == r->s.next_n &&
		    mm_quiet(&r->m)) {
			if (!r->lost_resend && r->m.executed != SC_LINES) {
				snprintf(r->why, sizeof r->why,
					 "the job ended with %ld of %d lines run", r->m.executed,
					 SC_LINES);
				return -1;
			}
			return 0;
		}
		r->now += SC_MS;
		if (mm_quiet(&r->m)) {
			/* only time can move things: the hold or a timeout */
			mk_sender_check_timeout(&r->s, sc_timeouts, r->now, &dl);
			if (dl > r->now)
				r->now = dl;
		}
		if (sc_timeout(r) < 0)
			return -1;
	}
	snprintf(r->why, sizeof r->why, "no progress: %ld of %d lines run, %ld pushed",
		 r->m.executed, SC_LINES, r->pushed);
	return -1;
}

/* One run driven by data[size]; 0, or -1 with r->why set. r is large: keep it static. */
static inline int sc_run(sc_run_state *r, const uint8_t *data, size_t size)
{
	uint8_t cfg = size > 0 ? data[0] : 0, win = size > 1 ? data[1] : 0;
	int advanced = cfg & 1;

	memset(r, 0, sizeof *r);
	/* win's low bit: the host is told whether the firmware prints an ok after a resend
	 * request (resend_ok = yes/no); told or not, plain oks must never stall (issue 9) */
	r->strict = 1;
	mm_init(&r->m, advanced, (cfg >> 1) & 1, 1 + ((cfg >> 2) & 7), 0);
	mk_sender_reset(&r->s, 1, 1 + (cfg >> 5), 40 + win, 0);
	if (win & 1)
		r->s.resend_ok = r->m.ok_after_resend ? MK_RESEND_OK_YES : MK_RESEND_OK_NO;
	for (size_t i = 2; i < size; i++) {
		uint8_t b = data[i], arg = (uint8_t)(b >> 4);
		switch (b & 15) {
		case 0:
		case 1: sc_pump(r); break;
		case 2:
		case 3: mm_deliver(&r->m, 0, 0); break;
		case 4: mm_deliver_cut(&r->m, 1, arg & 3, arg >> 2); break; /* a corrupted line */
		case 5: mm_deliver(&r->m, 0, 0), mm_deliver(&r->m, 0, 0); break;
		case 6:
		case 7: mm_execute(&r->m, 0); break;
		case 8: mm_execute(&r->m, 1); break; /* its ok is lost */
		case 9:
		case 10:
		case 11:
			if (sc_reply(r, 0) < 0)
				return -1;
			break;
		case 12:
			if (sc_reply(r, 1) < 0) /* a reply garbled on the way: never seen */
				return -1;
			break;
		case 13: r->now += (int64_t)(arg + 1) * SC_MS; break;
		case 14: r->now += (int64_t)(arg + 1) * 10 * SC_MS; break;
		case 15:
			if (sc_timeout(r) < 0)
				return -1;
			break;
		}
		if (r->m.overflow)
			return 0; /* beyond the model's bounds: says nothing */
		if (sc_invariants(r) < 0)
			return -1;
	}
	return r->m.overflow ? 0 : sc_finish(r);
}

#endif
