/* test_sender.c - the Marlin sender: numbering, flow window, resends, duplicates, timeouts. */
#include <string.h>

#include <stdio.h>

#include "../../drivers/marlin/sender.h"
#include "../fuzz/sender_check.h"
#include "check.h"

#define MS 1000000LL
#define Q (2 * MK_QUIET_NS) /* past the hold after a resend request */

static const int64_t timeouts[4] = {30000 * MS, 600000 * MS, 1800000 * MS, 3600000 * MS};

/* Push "G1 X<i>" as file line i; returns the frame length (0 when the window is full). */
static int push(mk_sender *s, long i, int64_t now, char *out)
{
	char cmd[32];
	mk_tag tag = {i, i * 10, GCODE_CLASS_QUICK};
	int n = snprintf(cmd, sizeof cmd, "G1 X%ld", i);

	if (!mk_sender_can_push(s, (size_t)n, now))
		return 0;
	return mk_sender_push(s, cmd, (size_t)n, &tag, now, out, GCODE_FRAME_MAX);
}

/* Feed one reply line. */
static mk_event reply(mk_sender *s, const char *line, int64_t now)
{
	marlin_reply r;
	char why[200];

	marlin_parse(line, strlen(line), &r);
	return mk_sender_on_reply(s, &r, now, why, sizeof why);
}

static void test_numbering_and_window(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];
	int n;

	mk_sender_reset(&s, 1, 3, 1000, 0);
	n = push(&s, 1, 0, out);
	CHECK_EQ_INT(n, (int)strlen("N1 G1 X1*NN\n"));
	CHECK(n > 0 && memcmp(out, "N1 G1 X1*", 9) == 0 && out[n - 1] == '\n');
	CHECK(push(&s, 2, 0, out) > 0);
	CHECK(push(&s, 3, 0, out) > 0);
	CHECK_EQ_INT(push(&s, 4, 0, out), 0); /* three lines in flight: the window is full */
	CHECK_EQ_INT(mk_sender_inflight(&s), 3);
	CHECK_EQ_INT(reply(&s, "ok", 1), MK_ACK);
	CHECK_EQ_INT(s.acked.file_line, 1);
	CHECK_EQ_INT(s.acked.offset, 10);
	CHECK(push(&s, 4, 1, out) > 0);
	CHECK(memcmp(out, "N4 G1 X4*", 9) == 0);
	CHECK_EQ_INT(reply(&s, " T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0", 2), MK_NONE);
	CHECK_EQ_INT(mk_sender_inflight(&s), 3);
}

static void test_byte_window(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];

	/* each frame is 12 bytes ("N1 G1 X1*cs\n", counted as 18 before framing): 30 bytes hold two
	 */
	mk_sender_reset(&s, 1, 16, 30, 0);
	CHECK(push(&s, 1, 0, out) > 0);
	CHECK(push(&s, 2, 0, out) > 0);
	CHECK_EQ_INT(push(&s, 3, 0, out), 0);
	/* a line longer than the whole window still goes when nothing is in flight */
	reply(&s, "ok", 1);
	reply(&s, "ok", 1);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
	{
		char cmd[80];
		mk_tag tag = {9, 90, GCODE_CLASS_QUICK};
		memset(cmd, 'X', sizeof cmd - 1);
		cmd[0] = 'M', cmd[1] = '1', cmd[2] = '1', cmd[3] = '7', cmd[4] = ' ';
		CHECK(mk_sender_can_push(&s, 79, 2));
		CHECK(mk_sender_push(&s, cmd, 79, &tag, 2, out, sizeof out) > 0);
	}
}

/* Marlin rejects line 3; lines 4 and 5, already in flight, are rejected as well (duplicates). */
static void test_resend_with_duplicates(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];

	mk_sender_reset(&s, 1, 8, 1000, 0);
	for (long i = 1; i <= 5; i++)
		CHECK(push(&s, i, 0, out) > 0);
	CHECK_EQ_INT(reply(&s, "ok", 1), MK_ACK);
	CHECK_EQ_INT(reply(&s, "ok", 1), MK_ACK);
	CHECK_EQ_INT(reply(&s, "Error:checksum mismatch, Last Line: 2", 1), MK_NONE);
	CHECK_EQ_INT(reply(&s, "Resend: 3", 1), MK_REWIND);
	CHECK_EQ_INT(reply(&s, "ok", 1), MK_NONE); /* the ok after the resend request */
	/* no new line while a resend is pending */
	CHECK(!mk_sender_can_push(&s, 8, 1 + MK_QUIET_NS));
	/* the stale lines' answers */
	CHECK_EQ_INT(reply(&s, "Error:Line Number is not Last Line Number+1, Last Line: 2", 2),
		     MK_NONE);
	CHECK_EQ_INT(reply(&s, "Resend: 3", 2), MK_DUPLICATE);
	CHECK_EQ_INT(reply(&s, "ok", 2), MK_NONE);
	CHECK_EQ_INT(reply(&s, "Resend: 3", 3), MK_DUPLICATE);
	CHECK_EQ_INT(reply(&s, "ok", 3), MK_NONE);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
	CHECK_EQ_INT(mk_sender_resend_next(&s, 4, out, sizeof out), 0); /* the hold */
	/* lines 3, 4, 5 go again, in order, then new lines */
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0 &&
	      memcmp(out, "N3 G1 X3*", 9) == 0);
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0 &&
	      memcmp(out, "N4 G1 X4*", 9) == 0);
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0 &&
	      memcmp(out, "N5 G1 X5*", 9) == 0);
	/* plain oks: an M105 follows them, and new lines wait for it */
	CHECK(!mk_sender_can_push(&s, 8, Q));
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0 && memcmp(out, "N6 M105*", 8) == 0);
	CHECK_EQ_INT(mk_sender_resend_next(&s, Q, out, sizeof out), 0);
	CHECK(push(&s, 6, Q, out) > 0 && memcmp(out, "N7 G1 X6*", 9) == 0);
	CHECK_EQ_INT(reply(&s, "ok", Q + 1), MK_ACK);
	/* its own answer: every line up to it has run, whatever the oks before said */
	CHECK_EQ_INT(reply(&s, "ok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0", Q + 1), MK_ACK);
	CHECK_EQ_INT(s.acked.file_line, 5);
	CHECK_EQ_INT(mk_sender_inflight(&s), 1);
	CHECK_EQ_INT(reply(&s, "ok", Q + 1), MK_ACK);
	CHECK_EQ_INT(s.acked.file_line, 6);
	CHECK_EQ_INT(s.probes, 1);
	CHECK_EQ_INT(s.resends, 1);
}

/* Marlin read lines 1-4 at once, queued 1 and 2, rejected 3: the resend request comes before the
 * oks of 1 and 2, which must not count for the lines sent again. */
static void test_resend_before_queued_oks(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];

	mk_sender_reset(&s, 1, 4, 1000, 0);
	for (long i = 1; i <= 4; i++)
		push(&s, i, 0, out);
	CHECK_EQ_INT(reply(&s, "Resend: 3", 1), MK_REWIND);
	CHECK_EQ_INT(s.acked.file_line, 2);		       /* received, queued */
	CHECK_EQ_INT(reply(&s, "ok", 1), MK_NONE);	       /* the resend's ok */
	CHECK_EQ_INT(reply(&s, "Resend: 3", 1), MK_DUPLICATE); /* line 4, stale */
	CHECK_EQ_INT(reply(&s, "ok", 1), MK_NONE);
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0);
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0);
	CHECK_EQ_INT(mk_sender_inflight(&s), 2);
	CHECK_EQ_INT(reply(&s, "ok", Q), MK_NONE); /* line 1 ran */
	CHECK_EQ_INT(reply(&s, "ok", Q), MK_NONE); /* line 2 ran */
	CHECK_EQ_INT(mk_sender_inflight(&s), 2);
	CHECK_EQ_INT(reply(&s, "ok", Q), MK_ACK);
	CHECK_EQ_INT(reply(&s, "ok", Q), MK_ACK);
	CHECK_EQ_INT(s.acked.file_line, 4);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
}

/* Firmware that sends no ok after a resend request: the sender waits a moment, then goes on. */
static void test_resend_without_ok(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];
	int64_t dl;

	mk_sender_reset(&s, 1, 1, 1000, 0);
	CHECK(push(&s, 1, 0, out) > 0);
	CHECK_EQ_INT(reply(&s, "Resend: 1", 10), MK_REWIND);
	CHECK_EQ_INT(mk_sender_resend_next(&s, 11, out, sizeof out), 0); /* waiting for the ok */
	mk_sender_check_timeout(&s, timeouts, 11, &dl);
	CHECK_EQ_INT(dl, 10 + MK_QUIET_NS);
	mk_sender_check_timeout(&s, timeouts, 10 + MK_QUIET_NS, &dl);
	CHECK(mk_sender_resend_next(&s, 10 + MK_QUIET_NS, out, sizeof out) > 0);
	/* the ok of the resent line is not swallowed */
	CHECK_EQ_INT(reply(&s, "ok", 20 + MK_QUIET_NS), MK_ACK);
	CHECK_EQ_INT(s.acked.file_line, 1);
}

/* ADVANCED_OK: N tells which line an ok is for. */
static void test_advanced_ok(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];

	mk_sender_reset(&s, 1, 8, 1000, 0);
	for (long i = 1; i <= 4; i++)
		push(&s, i, 0, out);
	/* a lost ok: the next one says line 2 is done */
	CHECK_EQ_INT(reply(&s, "ok N2 P15 B3", 1), MK_ACK);
	CHECK_EQ_INT(mk_sender_inflight(&s), 2);
	CHECK_EQ_INT(s.acked.file_line, 2);
	CHECK_EQ_INT(reply(&s, "Resend: 3", 1), MK_REWIND);
	/* the resend's ok carries the last good line: nothing acknowledged */
	CHECK_EQ_INT(reply(&s, "ok N2 P15 B3", 1), MK_NONE);
	CHECK_EQ_INT(reply(&s, "Resend: 3", 1), MK_DUPLICATE);
	CHECK_EQ_INT(reply(&s, "ok N2 P15 B3", 1), MK_NONE);
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0);
	CHECK_EQ_INT(reply(&s, "ok N3 P15 B3", Q), MK_ACK);
	CHECK_EQ_INT(s.acked.file_line, 3);
}

/* A line that keeps failing ends the stream with a reason. */
static void test_keeps_failing(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX], why[200] = "";
	marlin_reply r;
	mk_event ev = MK_NONE;
	int64_t t = 0;

	mk_sender_reset(&s, 1, 1, 1000, 0);
	push(&s, 1, 0, out);
	for (int k = 0; k <= MK_MAX_RETRIES && ev != MK_FAIL; k++) {
		marlin_parse("Resend: 1", 9, &r);
		ev = mk_sender_on_reply(&s, &r, t, why, sizeof why);
		reply(&s, "ok", t);
		t += MK_QUIET_NS;
		mk_sender_resend_next(&s, t, out, sizeof out);
	}
	CHECK_EQ_INT(ev, MK_FAIL);
	CHECK_CONTAINS(why, "line 1 of the file");
	CHECK_CONTAINS(why, "rejected 6 times");
	/* a resend of a line never sent is an error too */
	mk_sender_reset(&s, 1, 1, 1000, 0);
	push(&s, 1, 0, out);
	marlin_parse("Resend: 7", 9, &r);
	reply(&s, "ok", 0);
	CHECK_EQ_INT(mk_sender_on_reply(&s, &r, 1, why, sizeof why), MK_FAIL);
	CHECK_CONTAINS(why, "never sent");
}

/* A lost ok: after the class's timeout, the line is taken as acknowledged; busy keeps the wait
 * alive, temperature reports do not. */
static void test_timeout(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];
	int64_t dl;
	mk_tag heat = {5, 50, GCODE_CLASS_HEATING};

	mk_sender_reset(&s, 1, 1, 1000, 0);
	CHECK(mk_sender_push(&s, "M109 S200", 9, &heat, 0, out, sizeof out) > 0);
	CHECK_EQ_INT(mk_sender_check_timeout(&s, timeouts, 60000 * MS, &dl), 0); /* heating */
	CHECK_EQ_INT(dl, 1800000 * MS);
	CHECK_EQ_INT(reply(&s, " T:150.0 /200.0 B:60.0 /60.0 @:0 B@:0", 1700000 * MS), MK_NONE);
	CHECK_EQ_INT(mk_sender_check_timeout(&s, timeouts, 1700001 * MS, &dl), 0);
	CHECK_EQ_INT(dl, 1800000 * MS);
	CHECK_EQ_INT(reply(&s, "echo:busy: processing", 1750000 * MS), MK_BUSY);
	CHECK_EQ_INT(mk_sender_check_timeout(&s, timeouts, 1800000 * MS, &dl), 0); /* busy kept */
	CHECK_EQ_INT(dl, 3550000 * MS);
	CHECK_EQ_INT(mk_sender_check_timeout(&s, timeouts, 3550001 * MS, &dl), 1);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
	CHECK_EQ_INT(s.timeouts, 1);
	CHECK_EQ_INT(mk_sender_check_timeout(&s, timeouts, 3550002 * MS, &dl), 0);
	CHECK_EQ_INT(dl, -1);
}

/* Over a long run the history wraps: numbers keep increasing and resends use recent lines. */
static void test_long_run(void)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX];

	mk_sender_reset(&s, 1, 4, 1000, 0);
	for (long i = 1; i <= 5000; i++) {
		while (!push(&s, i, 0, out))
			CHECK_EQ_INT(reply(&s, "ok", 0), MK_ACK);
	}
	CHECK_EQ_INT(s.next_n, 5001);
	CHECK_EQ_INT(reply(&s, "Resend: 4998", 1), MK_REWIND);
	reply(&s, "ok", 1);
	CHECK(mk_sender_resend_next(&s, Q, out, sizeof out) > 0);
	CHECK(memcmp(out, "N4998 G1 X4998*", 15) == 0);
}

/* Send what the sender has to send (resends first, then new lines up to `upto`) into the model. */
static void model_pump(mk_sender *s, marlin_model *m, long *pushed, long upto, int64_t now)
{
	char out[GCODE_FRAME_MAX];
	int n;

	while ((n = mk_sender_resend_next(s, now, out, sizeof out)) > 0)
		mm_send(m, out, n);
	while (*pushed < upto && (n = push(s, *pushed + 1, now, out)) > 0) {
		mm_send(m, out, n);
		(*pushed)++;
	}
}

/* Hand every reply of the model to the sender; the number of MK_FAIL. */
static int model_replies(mk_sender *s, marlin_model *m, int64_t now)
{
	char line[64];
	int fails = 0;

	while (m->r_count)
		if (mm_next_reply(m, 0, line, sizeof line))
			fails += reply(s, line, now) == MK_FAIL;
	return fails;
}

/*
 * The stale resend request after a hold (issue 9): line 1 arrives corrupted and Marlin asks for it
 * while lines 2..4 are still on the wire. After the hold the sender sends 1..4 again; the
 * stale 2..4 arrive first and each is refused with "Resend: 1", but the copies behind them are
 * accepted. The first stale request comes after the hold: the sender rewinds again, then reads ok
 * N1..N4. Those prove the printer has every line: nothing may go a third time (Marlin would answer
 * "Resend: 5", which the old sender took for a request of a line never sent and failed the job, or
 * waited for oks that never come), the window is free and progress is at line 4.
 */
static void test_stale_resend_after_hold(void)
{
	static mk_sender s;
	static marlin_model m;
	char out[GCODE_FRAME_MAX];
	long pushed = 0;
	int64_t now = 0;

	mk_sender_reset(&s, 1, 4, 1000, 0);
	mm_init(&m, 1, 0, 4, 0);
	model_pump(&s, &m, &pushed, 4, now);
	CHECK_EQ_INT(m.w_count, 4);
	CHECK_EQ_INT(mm_deliver(&m, 1, 0), 1); /* N1 corrupted: Error, Resend: 1 */
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
	now += Q; /* the hold is over before the stale lines reach the printer */
	model_pump(&s, &m, &pushed, 4, now);
	CHECK_EQ_INT(m.w_count, 7); /* stale 2..4, then 1..4 again */
	while (mm_deliver(&m, 0, 0) || mm_execute(&m, 0))
		;
	CHECK_EQ_INT(m.executed, 4);
	CHECK_EQ_INT(m.rejected, 4);
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(s.acked.file_line, 4);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
	now += Q;
	CHECK_EQ_INT(mk_sender_resend_next(&s, now, out, sizeof out), 0); /* nothing goes again */
	CHECK(push(&s, 5, now, out) > 0);
	mm_send(&m, out, (int)strlen("N5 G1 X5*NN\n"));
	while (mm_deliver(&m, 0, 0) || mm_execute(&m, 0))
		;
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(m.executed, 5);
	CHECK_EQ_INT(s.acked.file_line, 5);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0);
}

/*
 * Plain oks, a firmware that prints no "ok" after "Resend:" (Marlin 2.1): line 2 arrives corrupted
 * while 1 is queued and 3..5 are on the wire, so "Resend: 2" comes four times, then line 1 runs
 * and its "ok" comes right after the last request. Taking that ok for the one some firmware print
 * after a request left line 1's ok owed and the last line waiting for an ok that never comes: a
 * 30 s stall ("no answer in time, assuming a lost ok") although the printer had answered. Two
 * requests in a row show the firmware prints none: every ok counts.
 */
static void test_owed_ok_after_resend_burst(void)
{
	static mk_sender s;
	static marlin_model m;
	long pushed = 0;
	int64_t now = 0;

	mk_sender_reset(&s, 1, 8, 1000, 0);
	mm_init(&m, 0, 0, 4, 0);
	model_pump(&s, &m, &pushed, 5, now);
	CHECK_EQ_INT(mm_deliver(&m, 0, 0), 1); /* N1 queued */
	CHECK_EQ_INT(mm_deliver(&m, 1, 0), 1); /* N2 corrupted */
	while (mm_deliver(&m, 0, 0))	       /* stale N3..N5 refused */
		;
	CHECK_EQ_INT(mm_execute(&m, 0), 1); /* N1 runs: its ok after the requests */
	CHECK_EQ_INT(m.rejected, 4);
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	now += Q;
	model_pump(&s, &m, &pushed, 6, now);
	while (mm_deliver(&m, 0, 0) || mm_execute(&m, 0))
		;
	CHECK_EQ_INT(m.executed, 6);
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(s.resend_ok, MK_RESEND_OK_NO);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0); /* nothing waits for an ok */
	CHECK_EQ_INT(s.acked.file_line, 6);
}

/*
 * Plain oks, no "ok" after "Resend:", the host not told so (issue 9, the emulator with
 * --no-advanced-ok and no_resend_ok at 5 % line errors). Line 2 arrives corrupted while 1 is
 * queued; the flush takes the head of line 3 with it (the receive buffer holds bytes, not lines),
 * and its tail "3 G1 X3*.." arrives as a line without N, which Marlin queues and answers with an
 * "ok" like any command. The replies: Resend: 2, ok (line 1's), Resend: 2 (stale line 4), ok (the
 * fragment's). An ok between the requests looks like firmware that prints one after "Resend:", so
 * the sender never learnt otherwise, took line 1's ok for the request's, and once everything had
 * run it still counted the last line in flight: "no answer in time, assuming a lost ok" 30 s
 * later. No count of plain oks can tell these oks apart: after a rewind the sender sends an M105,
 * whose own "ok T:" proves every line before it has run, and counts from there.
 */
static void test_fragment_ok_hides_no_resend_ok(void)
{
	static mk_sender s;
	static marlin_model m;
	long pushed = 0;
	int64_t now = 0;
	int64_t dl;

	mk_sender_reset(&s, 1, 8, 1000, 0);
	mm_init(&m, 0, 0, 4, 0);
	model_pump(&s, &m, &pushed, 6, now);
	CHECK_EQ_INT(mm_deliver(&m, 0, 0), 1);	      /* N1 queued */
	CHECK_EQ_INT(mm_deliver_cut(&m, 1, 0, 2), 1); /* N2 corrupted, N3 cut in half */
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);  /* Error, Resend: 2 */
	CHECK_EQ_INT(mm_execute(&m, 0), 1);	      /* N1 runs: ok */
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(mm_deliver(&m, 0, 0), 1); /* the tail of N3: a command */
	CHECK_EQ_INT(mm_deliver(&m, 0, 0), 1); /* N4: Error, Resend: 2 */
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(mm_execute(&m, 0), 1); /* the fragment runs: ok */
	CHECK_EQ_INT(m.fragments, 1);
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(mm_deliver(&m, 0, 0), 1); /* N5: Error, Resend: 2 */
	CHECK_EQ_INT(mm_deliver(&m, 0, 0), 1); /* N6: Error, Resend: 2 */
	CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	CHECK_EQ_INT(m.rejected, 4);
	for (int round = 0; round < 8; round++) {
		now += Q;
		model_pump(&s, &m, &pushed, 6, now);
		while (mm_deliver(&m, 0, 0) || mm_execute(&m, 0))
			;
		CHECK_EQ_INT(model_replies(&s, &m, now), 0);
	}
	CHECK(mm_quiet(&m));
	CHECK_EQ_INT(m.executed, 6);
	CHECK_EQ_INT(s.acked.file_line, 6);
	CHECK_EQ_INT(mk_sender_inflight(&s), 0); /* nothing waits for an ok */
	CHECK_EQ_INT(mk_sender_check_timeout(&s, timeouts, now + timeouts[0], &dl), 0);
	CHECK_EQ_INT(s.timeouts, 0);
}

/* The fuzzer's inputs kept in tests/fuzz/corpus/sender/ (the crashes it found in older senders
 * among them: seed-*) replayed through the model check, and a fixed pseudo-random sweep. */
static void test_model_check(void)
{
	static sc_run_state r;
	static const char *const seeds[] = {
	    "tests/fuzz/corpus/sender/seed-stale-resend-never-sent",
	    "tests/fuzz/corpus/sender/seed-swallowed-ok-after-lone-resend",
	    "tests/fuzz/corpus/sender/seed-fragment-ok-hides-no-resend-ok",
	};
	uint8_t buf[4096];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
		FILE *f = fopen(seeds[i], "rb");
		size_t n;
		CHECK(f != NULL);
		if (!f)
			continue;
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		CHECK_EQ_INT(sc_run(&r, buf, n), 0);
		if (r.why[0])
			fprintf(stderr, "%s: %s\n", seeds[i], r.why);
	}
	/* every configuration, random interleavings (xorshift: the same each run) */
	for (int run = 0; run < 3000; run++) {
		size_t n = 2 + (size_t)(run % 600);
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			buf[i] = (uint8_t)x;
		}
		buf[0] = (uint8_t)run;
		if (sc_run(&r, buf, n) < 0) {
			CHECK_EQ_INT(-1, 0);
			fprintf(stderr, "run %d: %s\n", run, r.why);
			break;
		}
	}
}

int main(void)
{
	RUN(test_numbering_and_window);
	RUN(test_byte_window);
	RUN(test_resend_with_duplicates);
	RUN(test_resend_before_queued_oks);
	RUN(test_resend_without_ok);
	RUN(test_advanced_ok);
	RUN(test_keeps_failing);
	RUN(test_timeout);
	RUN(test_long_run);
	RUN(test_stale_resend_after_hold);
	RUN(test_owed_ok_after_resend_burst);
	RUN(test_fragment_ok_hides_no_resend_ok);
	RUN(test_model_check);
	return check_summary();
}
