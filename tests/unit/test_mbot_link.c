/* test_mbot_link.c - the mBot driver's protocol handling: polls, replies by index, timeouts,
 * lost and stray answers, the firmware's receive buffer, resynchronisation. */
#include <string.h>

#include "../../drivers/mbot/link.h"
#include "check.h"

#define MAXEV 32

typedef struct evlog {
	mbot_event ev[MAXEV];
	char text[MAXEV][32];
	int n;
} evlog;

/* Keep every event (text copied: it lives only during the callback). */
static void keep(void *ctx, const mbot_event *ev)
{
	evlog *l = ctx;

	if (l->n >= MAXEV)
		return;
	l->ev[l->n] = *ev;
	if (ev->text) {
		size_t k = ev->tlen < 31 ? ev->tlen : 31;
		memcpy(l->text[l->n], ev->text, k);
		l->text[l->n][k] = '\0';
	}
	l->n++;
}

/* The index byte of the k-th request frame in buf (frames as mbot_link_due wrote them). */
static uint8_t idx_of(const uint8_t *buf, size_t n, int k)
{
	size_t at = 0;

	for (int i = 0; i < k && at + 2 < n; i++)
		at += 3 + buf[at + 2];
	return at + 3 < n ? buf[at + 3] : 0xEE;
}

/* A float reply for idx. */
static size_t reply(uint8_t *b, uint8_t idx, double v)
{
	return (size_t)mbot_enc_value(b, 32, idx, MBOT_TYPE_FLOAT, v, 0);
}

/* Ultrasonic every 100 ms and the line follower every 100 ms, each reply awaited 300 ms. */
static void two_polls(mbot_link *l)
{
	mbot_link_init(l);
	CHECK_EQ_INT(mbot_link_add_poll(l, MBOT_DEV_ULTRASONIC, 3, -1, 100, 300), 0);
	CHECK_EQ_INT(mbot_link_add_poll(l, MBOT_DEV_LINEFOLLOWER, 2, -1, 100, 300), 1);
}

static void test_polls_and_replies_by_index(void)
{
	mbot_link l;
	uint8_t out[128], r[32];
	evlog log = {0};
	size_t n;
	uint8_t i0, i1;

	two_polls(&l);
	CHECK_EQ_INT((int)mbot_link_due(&l, 0, out, sizeof out), 0); /* polling is off */
	mbot_link_polling(&l, 1, 1000);
	n = mbot_link_due(&l, 1000, out, sizeof out);
	CHECK_EQ_INT((int)n, 14); /* ff 55 04 idx 01 01 03 and ff 55 04 idx 01 11 02 */
	CHECK_EQ_INT(out[5], MBOT_DEV_ULTRASONIC);
	CHECK_EQ_INT(out[6], 3);
	CHECK_EQ_INT(out[12], MBOT_DEV_LINEFOLLOWER);
	CHECK_EQ_INT(out[13], 2);
	i0 = idx_of(out, n, 0);
	i1 = idx_of(out, n, 1);
	CHECK(i0 != i1);
	CHECK_EQ_INT(l.inflight_bytes, 14);
	/* one request per poll in flight: nothing more at its next period */
	CHECK_EQ_INT((int)mbot_link_due(&l, 1100, out, sizeof out), 0);
	/* the line follower's reply (by its index), then the ultrasonic's */
	mbot_link_input(&l, r, reply(r, i1, 2), 1105, keep, &log);
	mbot_link_input(&l, r, reply(r, i0, 42.5), 1106, keep, &log);
	/* the firmware answers in order: the line follower's answer overtook the ultrasonic
	 * request, whose answer was lost (reported at once); the ultrasonic reply that comes
	 * after all has an index nobody waits for any more: dropped */
	CHECK_EQ_INT(log.n, 2);
	CHECK_EQ_INT(log.ev[0].kind, MBOT_EV_VALUE);
	CHECK_EQ_INT(log.ev[0].poll, 1);
	CHECK_NEAR(log.ev[0].value, 2, 0);
	CHECK_EQ_INT(log.ev[1].kind, MBOT_EV_LOST);
	CHECK_EQ_INT(log.ev[1].poll, 0);
	CHECK_EQ_INT(log.ev[1].timeout, 0);
	CHECK_EQ_INT((int)l.lost, 1);
	CHECK_EQ_INT((int)l.replies, 1);
	CHECK_EQ_INT((int)l.stray, 1);
	CHECK_EQ_INT(l.inflight_bytes, 0);
	/* both are asked again at their next period */
	n = mbot_link_due(&l, 1100, out, sizeof out);
	CHECK_EQ_INT((int)n, 14);
}

static void test_in_order_replies(void)
{
	mbot_link l;
	uint8_t out[128], r[64];
	evlog log = {0};
	size_t n, k;

	two_polls(&l);
	mbot_link_polling(&l, 1, 0);
	n = mbot_link_due(&l, 0, out, sizeof out);
	k = reply(r, idx_of(out, n, 0), 80);
	k += reply(r + k, idx_of(out, n, 1), 3);
	mbot_link_input(&l, r, k, 10, keep, &log);
	CHECK_EQ_INT(log.n, 2);
	CHECK_EQ_INT(log.ev[0].poll, 0);
	CHECK_NEAR(log.ev[0].value, 80, 0);
	CHECK_EQ_INT(log.ev[0].type, MBOT_TYPE_FLOAT);
	CHECK_EQ_INT(log.ev[1].poll, 1);
	CHECK_EQ_INT((int)l.lost + (int)l.stray + (int)l.timeouts, 0);
	/* the next period counts from the request: 100 ms later, not 100 ms after the reply */
	CHECK_EQ_INT((int)mbot_link_due(&l, 99, out, sizeof out), 0);
	CHECK_EQ_INT((int)mbot_link_deadline(&l), 100);
	CHECK_EQ_INT((int)mbot_link_due(&l, 100, out, sizeof out), 14);
}

static void test_timeouts_per_request(void)
{
	mbot_link l;
	uint8_t out[128], f[32];
	evlog log = {0};
	uint32_t tag;

	two_polls(&l);
	mbot_link_polling(&l, 1, 0);
	CHECK_EQ_INT((int)mbot_link_due(&l, 0, out, sizeof out), 14);
	/* a command later, with its own (longer) timeout */
	CHECK_EQ_INT(
	    mbot_link_send(&l, f, (size_t)mbot_enc_tone(f, sizeof f, 0, 440, 500), 50, 1500, &tag),
	    0);
	/* the polls wait for their replies (due by 300), not for their next period */
	CHECK_EQ_INT((int)mbot_link_deadline(&l), 300);
	mbot_link_expire(&l, 299, keep, &log);
	CHECK_EQ_INT(log.n, 0);
	mbot_link_expire(&l, 300, keep, &log);
	CHECK_EQ_INT(log.n, 2);
	CHECK_EQ_INT(log.ev[0].kind, MBOT_EV_LOST);
	CHECK_EQ_INT(log.ev[0].timeout, 1);
	CHECK_EQ_INT(log.ev[0].poll, 0);
	CHECK_EQ_INT(log.ev[1].poll, 1);
	CHECK_EQ_INT((int)l.timeouts, 2);
	CHECK_EQ_INT((int)mbot_link_deadline(&l), 100); /* the polls are due (late) */
	/* the tone's ack, long after: it is the command's */
	{
		uint8_t a[4];
		mbot_link_input(&l, a, (size_t)mbot_enc_ack(a, sizeof a), 1000, keep, &log);
	}
	CHECK_EQ_INT(log.n, 3);
	CHECK_EQ_INT(log.ev[2].kind, MBOT_EV_DONE);
	CHECK_EQ_UINT(log.ev[2].tag, tag);
	CHECK_EQ_INT(log.ev[2].device, MBOT_DEV_TONE);
	CHECK_EQ_INT(log.ev[2].poll, -1);
	CHECK_EQ_INT((int)mbot_link_deadline(&l), 100);
	/* an ack nobody waits for */
	{
		uint8_t a[4];
		mbot_link_input(&l, a, (size_t)mbot_enc_ack(a, sizeof a), 1001, keep, &log);
	}
	CHECK_EQ_INT(log.n, 3);
	CHECK_EQ_INT((int)l.stray, 1);
}

static void test_firmware_buffer_bound(void)
{
	mbot_link l;
	uint8_t f[32], out[128];
	uint32_t tag;
	int sent = 0;
	evlog log = {0};

	two_polls(&l);
	/* the firmware holds 64 bytes, 16 of them kept for an out-of-band stop: tone requests
	 * are 10 bytes, four fit in the 48 left, and a RESET (5) */
	CHECK_EQ_INT(MBOT_LINK_INFLIGHT_MAX, 48);
	while (mbot_link_send(&l, f, (size_t)mbot_enc_tone(f, sizeof f, 0, 440, 10), 0, 1000,
			      &tag) == 0)
		sent++;
	CHECK_EQ_INT(sent, 4);
	CHECK_EQ_INT(mbot_link_send(&l, f, (size_t)mbot_enc_reset(f, sizeof f, 0), 0, 1000, &tag),
		     0);
	CHECK_EQ_INT(l.inflight_bytes, 45);
	/* the polls wait too (7 bytes would exceed the 48) */
	mbot_link_polling(&l, 1, 0);
	CHECK_EQ_INT((int)mbot_link_due(&l, 0, out, sizeof out), 0);
	/* an answer makes room for one */
	{
		uint8_t a[4];
		mbot_link_input(&l, a, (size_t)mbot_enc_ack(a, sizeof a), 5, keep, &log);
	}
	CHECK_EQ_INT(log.n, 1);
	CHECK_EQ_INT(log.ev[0].kind, MBOT_EV_DONE);
	CHECK_EQ_INT((int)mbot_link_due(&l, 5, out, sizeof out), 7);
	/* the halt hook's stop, written out of band: tracked beyond the room, its index kept */
	{
		uint8_t h[16];
		int n1 = mbot_enc_motors(h, sizeof h, 0x33, 0, 0);
		int n2 = mbot_enc_reset(h + n1, sizeof h - (size_t)n1, 0x34);
		uint32_t t1, t2;
		CHECK(n1 + n2 <= MBOT_LINK_HALT_RESERVE);
		CHECK_EQ_INT(mbot_link_adopt(&l, h, (size_t)n1, 5, 1000, &t1), 0);
		CHECK_EQ_INT(mbot_link_adopt(&l, h + n1, (size_t)n2, 5, 1000, &t2), 0);
		CHECK_EQ_INT(h[3], 0x33);
		CHECK_EQ_INT(l.inflight_bytes, 42 + n1 + n2);
		CHECK(l.inflight_bytes <= MBOT_LINK_RX_BUFFER);
		/* a GET could not be matched: refused */
		CHECK_EQ_INT(mbot_link_adopt(&l, out, 7, 5, 1000, &t1), MBOT_ERR_RANGE);
		/* a write that failed: forgotten without a word */
		CHECK_EQ_INT(mbot_link_cancel(&l, t2), 1);
		CHECK_EQ_INT(mbot_link_cancel(&l, t2), 0);
		CHECK_EQ_INT(l.inflight_bytes, 42 + n1);
		CHECK_EQ_INT(log.n, 1);
	}
	/* not a request, a frame larger than the firmware takes */
	CHECK_EQ_INT(mbot_link_send(&l, out, 3, 0, 10, &tag), MBOT_ERR_LENGTH);
}

/* The halt hook's frames are adopted before the input that holds their acks: the acks settle
 * them, and the next command's ack is that command's. */
static void test_adopted_halt_acks(void)
{
	mbot_link l;
	uint8_t h[16], f[16], a[8];
	evlog log = {0};
	uint32_t t1, t2, tag;
	int n1, n2;

	mbot_link_init(&l);
	n1 = mbot_enc_motors(h, sizeof h, 0, 0, 0);
	n2 = mbot_enc_reset(h + n1, sizeof h - (size_t)n1, 0);
	CHECK_EQ_INT(mbot_link_adopt(&l, h, (size_t)n1, 0, 1000, &t1), 0);
	CHECK_EQ_INT(mbot_link_adopt(&l, h + n1, (size_t)n2, 0, 1000, &t2), 0);
	mbot_enc_ack(a, 4);
	mbot_enc_ack(a + 4, 4);
	mbot_link_input(&l, a, 8, 1, keep, &log);
	CHECK_EQ_INT(log.n, 2);
	CHECK_EQ_UINT(log.ev[0].tag, t1);
	CHECK_EQ_UINT(log.ev[1].tag, t2);
	CHECK_EQ_INT((int)l.stray, 0);
	CHECK_EQ_INT(
	    mbot_link_send(&l, f, (size_t)mbot_enc_motors(f, sizeof f, 0, 10, 10), 2, 1000, &tag),
	    0);
	mbot_link_input(&l, a, 4, 3, keep, &log);
	CHECK_EQ_INT(log.n, 3);
	CHECK_EQ_INT(log.ev[2].kind, MBOT_EV_DONE);
	CHECK_EQ_UINT(log.ev[2].tag, tag);
}

/* A reader that ran late: a command's ack read after its deadline, behind a poll's reply in the
 * same input, is the command's answer, not a timeout. */
static void test_late_reader(void)
{
	mbot_link l;
	uint8_t out[64], f[16], b[64];
	evlog log = {0};
	uint32_t tag;
	size_t n, k;

	two_polls(&l);
	mbot_link_polling(&l, 1, 0);
	n = mbot_link_due(&l, 0, out, sizeof out);
	CHECK_EQ_INT(
	    mbot_link_send(&l, f, (size_t)mbot_enc_motors(f, sizeof f, 0, 10, 10), 0, 1000, &tag),
	    0);
	k = reply(b, idx_of(out, n, 0), 80);
	k += reply(b + k, idx_of(out, n, 1), 3);
	k += (size_t)mbot_enc_ack(b + k, sizeof b - k);
	mbot_link_input(&l, b, k, 1500, keep, &log);
	mbot_link_expire(&l, 1500, keep, &log);
	CHECK_EQ_INT(log.n, 3);
	CHECK_EQ_INT(log.ev[2].kind, MBOT_EV_DONE);
	CHECK_EQ_UINT(log.ev[2].tag, tag);
	CHECK_EQ_INT((int)l.timeouts + (int)l.lost + (int)l.stray, 0);
}

static void test_events_banner_and_empty(void)
{
	mbot_link l;
	uint8_t b[64], out[64];
	evlog log = {0};
	size_t n;

	two_polls(&l);
	/* the firmware's unasked button event */
	n = (size_t)mbot_enc_value(b, sizeof b, MBOT_IDX_EVENT, MBOT_TYPE_BYTE, 1, 0);
	mbot_link_input(&l, b, n, 0, keep, &log);
	CHECK_EQ_INT(log.n, 1);
	CHECK_EQ_INT(log.ev[0].kind, MBOT_EV_BUTTON);
	CHECK_NEAR(log.ev[0].value, 1, 0);
	CHECK_EQ_INT((int)l.events, 1);
	CHECK_EQ_INT((int)l.stray, 0);
	/* a GET answered without a value (a device the firmware does not know) */
	mbot_link_polling(&l, 1, 0);
	n = mbot_link_due(&l, 0, out, sizeof out);
	mbot_link_input(&l, b, (size_t)mbot_enc_empty(b, sizeof b, idx_of(out, n, 0)), 1, keep,
			&log);
	CHECK_EQ_INT(log.n, 2);
	CHECK_EQ_INT(log.ev[1].kind, MBOT_EV_EMPTY);
	CHECK_EQ_INT(log.ev[1].poll, 0);
	/* the board restarts: the banner, and what was in flight is lost */
	mbot_link_input(&l, b, (size_t)mbot_enc_banner(b, sizeof b, "06.01.107", 9), 2, keep, &log);
	CHECK_EQ_INT(log.n, 4);
	CHECK_EQ_INT(log.ev[2].kind, MBOT_EV_BANNER);
	CHECK_STR(log.text[2], "06.01.107");
	CHECK_EQ_INT(log.ev[3].kind, MBOT_EV_LOST);
	CHECK_EQ_INT(log.ev[3].poll, 1);
	CHECK_EQ_INT(l.inflight_bytes, 0);
}

static void test_resync_padded_and_pieces(void)
{
	mbot_link l;
	uint8_t out[128], b[128];
	evlog log = {0};
	size_t n, k = 0;
	static const uint8_t noise[] = {0x13, 0x37, 0xfe, 0x55, 0x0d, 0x00, 0xff,
					0x55, 0x05, 0x02, 0x00, 0x00, 0x00};

	mbot_link_init(&l);
	CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_ULTRASONIC, 3, -1, 100, 300), 0);
	CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_BUTTON_INNER, 7, 0, 100, 300), 1);
	CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_LIGHT, 6, -1, 100, 300), 2);
	mbot_link_polling(&l, 1, 0);
	n = mbot_link_due(&l, 0, out, sizeof out);
	CHECK_EQ_INT((int)n, 7 + 8 + 7);
	/* noise, a cut frame, then the mCore's padded double (8 bytes), byte values, a float */
	memcpy(b, noise, sizeof noise);
	k = sizeof noise;
	k += (size_t)mbot_enc_value(b + k, sizeof b - k, idx_of(out, n, 0), MBOT_TYPE_DOUBLE, 12.5,
				    1);
	memcpy(b + k, noise, sizeof noise);
	k += sizeof noise;
	k += (size_t)mbot_enc_value(b + k, sizeof b - k, idx_of(out, n, 1), MBOT_TYPE_BYTE, 1, 0);
	k +=
	    (size_t)mbot_enc_value(b + k, sizeof b - k, idx_of(out, n, 2), MBOT_TYPE_FLOAT, 617, 0);
	for (size_t i = 0; i < k; i++) /* one byte at a time, as a slow line brings them */
		mbot_link_input(&l, b + i, 1, 1, keep, &log);
	CHECK_EQ_INT(log.n, 3);
	CHECK_EQ_INT(log.ev[0].poll, 0);
	CHECK_EQ_INT(log.ev[0].type, MBOT_TYPE_DOUBLE);
	CHECK_NEAR(log.ev[0].value, 12.5, 0);
	CHECK_EQ_INT(log.ev[1].poll, 1);
	CHECK_NEAR(log.ev[1].value, 1, 0);
	CHECK_EQ_INT(log.ev[2].poll, 2);
	CHECK_NEAR(log.ev[2].value, 617, 0);
	CHECK((int)l.parser.garbage >= 2 * (int)sizeof noise);
	CHECK_EQ_INT((int)l.lost + (int)l.stray, 0);
}

static void test_reset_and_limits(void)
{
	mbot_link l;
	uint8_t out[128];

	mbot_link_init(&l);
	for (int i = 0; i < MBOT_LINK_POLLS; i++)
		CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_LIGHT, 6, -1, 100, 100), i);
	CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_LIGHT, 6, -1, 100, 100), MBOT_ERR_FULL);
	mbot_link_init(&l);
	CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_LIGHT, 6, -1, 0, 100), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_link_add_poll(&l, 300, 6, -1, 100, 100), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_link_deadline(&l), -1);
	CHECK_EQ_INT(mbot_link_add_poll(&l, MBOT_DEV_LIGHT, 6, -1, 100, 100), 0);
	mbot_link_polling(&l, 1, 0);
	CHECK_EQ_INT((int)mbot_link_due(&l, 0, out, 4), 0); /* no room in out: next time */
	CHECK_EQ_INT((int)mbot_link_due(&l, 0, out, sizeof out), 7);
	mbot_link_reset(&l, 500);
	CHECK_EQ_INT(l.inflight_bytes, 0);
	CHECK_EQ_INT(mbot_track_count(&l.tracker), 0);
	CHECK_EQ_INT((int)mbot_link_deadline(&l), 500);
	mbot_link_polling(&l, 0, 0);
	CHECK_EQ_INT((int)mbot_link_deadline(&l), -1);
}

int main(void)
{
	RUN(test_polls_and_replies_by_index);
	RUN(test_in_order_replies);
	RUN(test_timeouts_per_request);
	RUN(test_firmware_buffer_bound);
	RUN(test_adopted_halt_acks);
	RUN(test_late_reader);
	RUN(test_events_banner_and_empty);
	RUN(test_resync_padded_and_pieces);
	RUN(test_reset_and_limits);
	return check_summary();
}
