/* fuzz_mbot_link.c - libFuzzer harness: the mBot driver's protocol handling (drivers/mbot/link.c)
 * under a script of robot bytes, commands, polls and time: its books always balance. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* the driver's link is not in the fuzzers' objects (drivers are not): compiled in here */
#include "../../drivers/mbot/link.c"

static int events;

/* Every event names a poll of the link or a command, never both. */
static void on_event(void *ctx, const mbot_event *ev)
{
	const mbot_link *l = ctx;

	if (ev->poll >= l->npoll || ev->poll < -1)
		abort();
	if (ev->kind == MBOT_EV_VALUE && ev->poll < 0)
		abort();
	if (ev->kind == MBOT_EV_DONE && ev->poll >= 0)
		abort();
	events++;
}

/* The link's books: bytes in flight are those of the tracked requests, within the firmware's
 * buffer; a poll is in flight exactly when one of its requests is tracked. */
static void check(const mbot_link *l)
{
	int bytes = 0, tracked = 0, per_poll[MBOT_LINK_POLLS] = {0};

	for (int i = 0; i < MBOT_MAX_PENDING; i++) {
		if (l->meta[i].len > 0) {
			bytes += l->meta[i].len;
			tracked++;
			if (l->meta[i].poll >= 0)
				per_poll[l->meta[i].poll]++;
			if (!l->tracker.slot[i].used || l->tracker.slot[i].seq != l->meta[i].seq)
				abort();
		} else if (l->tracker.slot[i].used) {
			abort();
		}
	}
	if (bytes != l->inflight_bytes || bytes > MBOT_LINK_INFLIGHT_MAX)
		abort();
	if (tracked != mbot_track_count(&l->tracker))
		abort();
	for (int p = 0; p < l->npoll; p++)
		if (per_poll[p] > 1 || per_poll[p] != l->poll[p].inflight)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	mbot_link l;
	int64_t now = 0;
	size_t i = 0;

	mbot_link_init(&l);
	mbot_link_add_poll(&l, MBOT_DEV_ULTRASONIC, 3, -1, 100, 500);
	mbot_link_add_poll(&l, MBOT_DEV_LINEFOLLOWER, 2, -1, 100, 500);
	mbot_link_add_poll(&l, MBOT_DEV_BUTTON_INNER, 7, 0, 200, 300);
	/* each step: an opcode byte, then its operands */
	while (i < size) {
		uint8_t op = data[i++], f[MBOT_REQ_MAX], out[128];
		uint32_t tag;
		size_t n;
		switch (op % 6) {
		case 0: /* robot bytes: a length, then that many */
			n = i < size ? data[i++] % 64 : 0;
			if (n > size - i)
				n = size - i;
			mbot_link_input(&l, data + i, n, now, on_event, &l);
			i += n;
			break;
		case 1: /* time passes */
			now += i < size ? data[i++] * 7 : 1;
			mbot_link_expire(&l, now, on_event, &l);
			break;
		case 2: /* the polls due */
			n = mbot_link_due(&l, now, out,
					  i < size ? data[i++] % sizeof out : sizeof out);
			if (n > sizeof out)
				abort();
			break;
		case 3: /* a command */
			n = (size_t)mbot_enc_tone(f, sizeof f, 0, 440, 100);
			if (op & 0x40)
				n = (size_t)mbot_enc_reset(f, sizeof f, 0);
			if (op & 0x80)
				n = (size_t)mbot_enc_get(f, sizeof f, 0, MBOT_DEV_VERSION, 0);
			mbot_link_send(&l, f, n, now, 1 + (op >> 3), &tag);
			break;
		case 4: mbot_link_polling(&l, op & 0x10, now); break;
		default:
			if (op & 0x80)
				mbot_link_reset(&l, now);
			break;
		}
		check(&l);
		if (mbot_link_deadline(&l) < -1)
			abort();
	}
	return 0;
}
