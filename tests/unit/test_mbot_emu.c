/* test_mbot_emu.c - the mBot emulator answers as mbot_firmware.ino does, byte for byte: banner,
 * replies per device, acks, dropped frames, unknown actions, the tone's busy loop, the 64-byte
 * receive buffer, the unasked button event. */
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/sdk/serial.h"
#include "../../bridge/util/clock.h"
#include "../../drivers/mbot/emulator.h"
#include "../../protocols/mbot.h"
#include "check.h"

#define WAIT_MS 3000 /* the longest any answer may take (the boot is 500 ms) */

/* Read exactly n bytes within WAIT_MS; the number read. */
static size_t read_n(lb_serial *s, uint8_t *buf, size_t n)
{
	size_t got = 0;
	int64_t end = lb_clock_ns(CLOCK_MONOTONIC) + WAIT_MS * 1000000LL;

	while (got < n) {
		struct pollfd pf = {lb_serial_fd(s), POLLIN, 0};
		int64_t left = (end - lb_clock_ns(CLOCK_MONOTONIC)) / 1000000;
		ssize_t k;
		if (left <= 0)
			break;
		poll(&pf, 1, (int)left);
		k = lb_serial_read(s, buf + got, n - got);
		if (k < 0)
			break;
		got += (size_t)k;
	}
	return got;
}

/* Send a frame. */
static void send_frame(lb_serial *s, const uint8_t *f, int n)
{
	CHECK(n > 0);
	CHECK_EQ_INT(lb_serial_write(s, f, (size_t)n, 1000), 0);
}

/* Expect exactly the bytes want next. */
#define EXPECT(s, want)                                                                            \
	do {                                                                                       \
		uint8_t got_[64];                                                                  \
		CHECK_EQ_INT((int)read_n(s, got_, sizeof(want)), (int)sizeof(want));               \
		CHECK(memcmp(got_, want, sizeof(want)) == 0);                                      \
	} while (0)

static const uint8_t ACK[] = {0xff, 0x55, 0x0d, 0x0a};

static void test_firmware_answers(void)
{
	lb_error err = {0};
	mbot_emu *e = mbot_emu_new(&err);
	lb_serial *s;
	uint8_t f[64];
	mbot_emu_state st;

	CHECK(e != NULL);
	if (!e)
		return;
	s = lb_serial_open(mbot_emu_path(e), MBOT_BAUD, &err);
	CHECK(s != NULL);
	if (!s)
		goto out;
	{
		/* the start banner once booted */
		static const uint8_t banner[] = "Version: 06.01.107\r\n";
		uint8_t got[32];
		CHECK_EQ_INT((int)read_n(s, got, sizeof banner - 1), (int)sizeof banner - 1);
		CHECK(memcmp(got, banner, sizeof banner - 1) == 0);
	}
	{
		/* GET VERSION: a string */
		static const uint8_t want[] = {0xff, 0x55, 0x07, 0x04, 0x09, '0', '6',	'.',
					       '0',  '1',  '.',	 '1',  '0',  '7', 0x0d, 0x0a};
		send_frame(s, f, mbot_enc_get(f, sizeof f, 7, MBOT_DEV_VERSION, 0));
		EXPECT(s, want);
	}
	{
		/* GET ULTRASONIC on port 3: the float in cm */
		static const uint8_t want[] = {0xff, 0x55, 0x21, 0x02, 0x00,
					       0x00, 0x28, 0x42, 0x0d, 0x0a}; /* 42.0f */
		mbot_emu_set_world(e, 42.0, 2, -1, -1);
		send_frame(s, f, mbot_enc_get(f, sizeof f, 0x21, MBOT_DEV_ULTRASONIC, 3));
		EXPECT(s, want);
	}
	{
		/* GET LINEFOLLOWER on port 2: a float too */
		static const uint8_t want[] = {0xff, 0x55, 0x03, 0x02, 0x00,
					       0x00, 0x00, 0x40, 0x0d, 0x0a}; /* 2.0f */
		send_frame(s, f, mbot_enc_get(f, sizeof f, 3, MBOT_DEV_LINEFOLLOWER, 2));
		EXPECT(s, want);
	}
	{
		/* an unknown device: head, index, end */
		static const uint8_t want[] = {0xff, 0x55, 0x09, 0x0d, 0x0a};
		send_frame(s, f, mbot_enc_get(f, sizeof f, 9, 99, 1));
		EXPECT(s, want);
	}
	{
		/* GET FLAME_SENSOR (24, no module): sendShort writes 4 bytes, the codec's quirk */
		static const uint8_t want[] = {0xff, 0x55, 0x0a, 0x03, 0x00,
					       0x00, 0x00, 0x00, 0x0d, 0x0a};
		send_frame(s, f, mbot_enc_get(f, sizeof f, 10, 24, 1));
		EXPECT(s, want);
	}
	{
		/* GET TIMER: a float; GET IR without a message: empty */
		uint8_t got[16];
		mbot_msg m;
		static const uint8_t ir[] = {0xff, 0x55, 0x0c, 0x0d, 0x0a};
		send_frame(s, f, mbot_enc_get(f, sizeof f, 11, MBOT_DEV_TIMER, 0));
		CHECK_EQ_INT((int)read_n(s, got, 10), 10);
		CHECK_EQ_INT(mbot_decode_reply(got, 10, &m), 10);
		CHECK_EQ_INT(m.type, MBOT_TYPE_FLOAT);
		CHECK(m.number > 0 && m.number < 60);
		send_frame(s, f, mbot_enc_get(f, sizeof f, 12, MBOT_DEV_IR, -1));
		EXPECT(s, ir);
	}
	{
		/* a frame whose len is above 48 is dropped whole; an unknown action is not
		 * answered: the next answer is the START's */
		uint8_t big[52] = {0xff, 0x55, 49, 1, MBOT_GET, MBOT_DEV_VERSION};
		static const uint8_t unknown[] = {0xff, 0x55, 0x02, 0x05, 0x03};
		send_frame(s, big, sizeof big);
		send_frame(s, unknown, sizeof unknown);
		send_frame(s, f, mbot_enc_start(f, sizeof f, 0));
		EXPECT(s, ACK);
	}
	/* RUN JOYSTICK, RGBLED: acknowledged, obeyed (speeds clamped as MeDCMotor does) */
	send_frame(s, f,
		   mbot_enc_request(f, sizeof f, 0, MBOT_RUN, MBOT_DEV_JOYSTICK,
				    (const uint8_t[]){0x00, 0xff, 0x2c, 0x01}, 4));
	EXPECT(s, ACK);
	send_frame(s, f, mbot_enc_led(f, sizeof f, 0, 2, 10, 20, 30));
	EXPECT(s, ACK);
	mbot_emu_get_state(e, &st);
	CHECK_EQ_INT(st.m1, -255); /* 0xff00 = -256 */
	CHECK_EQ_INT(st.m2, 255);  /* 300 */
	CHECK_EQ_INT(st.led[1][2], 30);
	CHECK_EQ_INT(st.led[0][0], 0);
	{
		/* a tone: nothing is read until it has played; what arrives meanwhile beyond
		 * the 64-byte buffer is lost. 16 STARTs (80 bytes) in the same write as the tone
		 * (at 115200 baud they all arrive within its 300 ms, however late either thread
		 * runs): 12 kept (60 bytes, plus 4 of the 13th), so 13 acks: the tone's and 12 */
		uint8_t starts[10 + 80];
		int acks = 0;
		uint8_t got[4];
		CHECK_EQ_INT(mbot_enc_tone(starts, 10, 0, 440, 300), 10);
		for (int i = 0; i < 16; i++)
			mbot_enc_start(starts + 10 + 5 * i, 5, 0);
		send_frame(s, starts, sizeof starts);
		while (acks < 13 && read_n(s, got, 4) == 4 && memcmp(got, ACK, 4) == 0)
			acks++;
		CHECK_EQ_INT(acks, 13);
		mbot_emu_get_state(e, &st);
		CHECK_EQ_INT(st.dropped, 16);
		CHECK_EQ_INT(st.tones, 1);
		CHECK_EQ_INT(st.tone_hz, 440);
	}
	{
		/* the START cut by the overflow (4 bytes kept) takes the next request's ff as its
		 * action (unknown: no answer), and the firmware's prevc lets that request's 55
		 * start it again: the next answer is the GET's, no 14th ack */
		static const uint8_t want[] = {0xff, 0x55, 0x42, 0x04, 0x09, '0', '6',	'.',
					       '0',  '1',  '.',	 '1',  '0',  '7', 0x0d, 0x0a};
		send_frame(s, f, mbot_enc_get(f, sizeof f, 0x42, MBOT_DEV_VERSION, 0));
		EXPECT(s, want);
	}
	{
		/* RESET: motors off, acknowledged */
		send_frame(s, f, mbot_enc_reset(f, sizeof f, 0));
		EXPECT(s, ACK);
		mbot_emu_get_state(e, &st);
		CHECK_EQ_INT(st.m1, 0);
		CHECK_EQ_INT(st.m2, 0);
	}
	{
		/* the button pressed: the unasked event, then GET BUTTON_INNER reads 1 */
		static const uint8_t ev[] = {0xff, 0x55, 0x80, 0x01, 0x01, 0x0d, 0x0a};
		static const uint8_t want[] = {0xff, 0x55, 0x04, 0x01, 0x01, 0x0d, 0x0a};
		mbot_emu_set_world(e, -1, -1, -1, 1);
		EXPECT(s, ev);
		send_frame(s, f, mbot_enc_button(f, sizeof f, 4));
		EXPECT(s, want);
	}
	lb_serial_destroy(&s);
out:
	mbot_emu_destroy(&e);
	CHECK(e == NULL);
}

int main(void)
{
	RUN(test_firmware_answers);
	return check_summary();
}
