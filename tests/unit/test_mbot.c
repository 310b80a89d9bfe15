/* test_mbot.c - the mBot (mCore) codec against the frames Makeblock's hosts send and firmware
 * answers. */
#include <stdint.h>
#include <string.h>

#include "../../protocols/mbot.h"
#include "check.h"

/*
 * Where the vectors come from:
 *  [mblock]  Makeblock-official/mBlock src/ext/libraries/mbot/js/mbot.js (resetAll, runBot,
 *            getPackage, getButtonOnBoard, the port table: light on board 6, LEDs 7 slot 2).
 *  [python]  xeecos/python-for-mbot lib/mBot.py (doMove, doMotor, doRGBLed, doBuzzer, doServo,
 *            doIROnBoard, requestUltrasonicSensor, requestLineFollower, requestIROnBoard).
 *  [fw030]   Makeblock-Libraries firmware/mbot_firmware/mbot_firmware.ino (06.01.030).
 *  [fw107]   Makeblock-Libraries examples/Firmware_For_mBlock/mbot_firmware (06.01.107).
 *  [auriga]  Makeblock-Libraries examples/Firmware_for_Auriga (sendShort 2 bytes, sendDouble 4).
 * Replies are what the firmware's writeHead/writeSerial(idx)/sendFloat/sendByte/sendString/
 * sendShort/sendDouble/writeEnd (Serial.println: 0d 0a) and callOK write.
 */

/* Whether an encoder produced exactly the expected bytes. */
static int same(const uint8_t *got, int n, const uint8_t *want, size_t nw)
{
	return n == (int)nw && memcmp(got, want, nw) == 0;
}

#define SAME(got, n, want) CHECK(same(got, n, want, sizeof want))

static void test_encode_vectors(void)
{
	uint8_t b[MBOT_REQ_MAX];
	int n;

	/* [mblock] resetAll: device.send([0xff, 0x55, 2, 0, 4]) */
	static const uint8_t reset[] = {0xff, 0x55, 0x02, 0x00, 0x04};
	SAME(b, mbot_enc_reset(b, sizeof b, 0), reset);
	static const uint8_t start[] = {0xff, 0x55, 0x02, 0x07, 0x05};
	SAME(b, mbot_enc_start(b, sizeof b, 7), start);

	/* [python] doMove(100, 100): 05, short(-100), short(100); [mblock] runBot forward 100 */
	static const uint8_t move[] = {0xff, 0x55, 0x07, 0x00, 0x02, 0x05, 0x9c, 0xff, 0x64, 0x00};
	SAME(b, mbot_enc_move(b, sizeof b, 0, 100, 100), move);
	SAME(b, mbot_enc_motors(b, sizeof b, 0, -100, 100), move);
	/* [mblock] runBot "turn left" speed 255: left = right = 255 raw */
	static const uint8_t left[] = {0xff, 0x55, 0x07, 0x00, 0x02, 0x05, 0xff, 0x00, 0xff, 0x00};
	SAME(b, mbot_enc_motors(b, sizeof b, 0, 255, 255), left);
	SAME(b, mbot_enc_move(b, sizeof b, 0, -255, 255), left);

	/* [python] doMotor(9, 100): ff 55 06 00 02 0a port short */
	static const uint8_t motor[] = {0xff, 0x55, 0x06, 0x00, 0x02, 0x0a, 0x09, 0x64, 0x00};
	SAME(b, mbot_enc_motor(b, sizeof b, 0, MBOT_PORT_M1, 100), motor);

	/* [python] doRGBLedOnBoard(0, 255, 0, 0) = doRGBLed(7, 2, ...) */
	static const uint8_t led[] = {0xff, 0x55, 0x09, 0x00, 0x02, 0x08,
				      0x07, 0x02, 0x00, 0xff, 0x00, 0x00};
	SAME(b, mbot_enc_led(b, sizeof b, 0, 0, 255, 0, 0), led);
	SAME(b, mbot_enc_rgb(b, sizeof b, 0, 7, 2, 0, 255, 0, 0), led);

	/* [python] doBuzzer(262, 500): C4 for half a beat ([mblock] tones C4 262, beats Half 500)
	 */
	static const uint8_t tone[] = {0xff, 0x55, 0x07, 0x00, 0x02, 0x22, 0x06, 0x01, 0xf4, 0x01};
	SAME(b, mbot_enc_tone(b, sizeof b, 0, 262, 500), tone);

	/* [python] doServo(1, 1, 90) */
	static const uint8_t servo[] = {0xff, 0x55, 0x06, 0x00, 0x02, 0x0b, 0x01, 0x01, 0x5a};
	SAME(b, mbot_enc_servo(b, sizeof b, 0, 1, 1, 90), servo);

	/* [python] doIROnBoard: len(message) + 3, 00 02 0d message */
	static const uint8_t ir[] = {0xff, 0x55, 0x05, 0x00, 0x02, 0x0d, 'h', 'i'};
	SAME(b, mbot_enc_ir_send(b, sizeof b, 0, "hi", 2), ir);

	/* [python] requestUltrasonicSensor(1, port 3), requestLineFollower(2, port 2) */
	static const uint8_t us[] = {0xff, 0x55, 0x04, 0x01, 0x01, 0x01, 0x03};
	SAME(b, mbot_enc_get(b, sizeof b, 1, MBOT_DEV_ULTRASONIC, 3), us);
	static const uint8_t line[] = {0xff, 0x55, 0x04, 0x02, 0x01, 0x11, 0x02};
	SAME(b, mbot_enc_get(b, sizeof b, 2, MBOT_DEV_LINEFOLLOWER, 2), line);
	/* [mblock] getLightSensor on board: port 6 */
	static const uint8_t light[] = {0xff, 0x55, 0x04, 0x03, 0x01, 0x03, 0x06};
	SAME(b, mbot_enc_get(b, sizeof b, 3, MBOT_DEV_LIGHT, MBOT_PORT_LIGHT), light);
	/* [python] requestIROnBoard: ff 55 03 extID 01 0d (no port) */
	static const uint8_t irget[] = {0xff, 0x55, 0x03, 0x04, 0x01, 0x0d};
	SAME(b, mbot_enc_get(b, sizeof b, 4, MBOT_DEV_IR, -1), irget);
	/* [mblock] getButtonOnBoard(pressed): getPackage(id, 35, 7, 0) */
	static const uint8_t button[] = {0xff, 0x55, 0x05, 0x05, 0x01, 0x23, 0x07, 0x00};
	SAME(b, mbot_enc_button(b, sizeof b, 5), button);
	/* [mblock] getIrRemote(id, "A"): getPackage(id, 14, 0, 69) */
	static const uint8_t remote[] = {0xff, 0x55, 0x05, 0x06, 0x01, 0x0e, 0x00, 0x45};
	SAME(b, mbot_enc_get_slot(b, sizeof b, 6, MBOT_DEV_IRREMOTE, 0, 69), remote);

	/* a stop: both motors 0 */
	static const uint8_t stop[] = {0xff, 0x55, 0x07, 0x09, 0x02, 0x05, 0, 0, 0, 0};
	n = mbot_enc_move(b, sizeof b, 9, 0, 0);
	SAME(b, n, stop);
}

static void test_encode_errors(void)
{
	uint8_t b[MBOT_REQ_MAX + 8];
	char text[64];

	memset(text, 'x', sizeof text);
	CHECK_EQ_INT(mbot_enc_move(b, sizeof b, 0, 256, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_move(b, sizeof b, 0, 0, -256), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_motors(b, sizeof b, 0, -256, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_motor(b, sizeof b, 0, 1, 10), MBOT_ERR_RANGE); /* not M1/M2 */
	CHECK_EQ_INT(mbot_enc_led(b, sizeof b, 0, 3, 0, 0, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_led(b, sizeof b, 0, 1, 256, 0, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_led(b, sizeof b, 0, 1, 0, -1, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_rgb(b, sizeof b, 0, 0, 2, 0, 0, 0, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_servo(b, sizeof b, 0, 1, 1, 181), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_servo(b, sizeof b, 0, 5, 1, 90), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_tone(b, sizeof b, 0, -1, 10), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_tone(b, sizeof b, 0, MBOT_TONE_MAX_HZ + 1, 10), MBOT_ERR_RANGE);
	/* a long tone would keep the robot deaf to RESET: bounded */
	CHECK_EQ_INT(mbot_enc_tone(b, sizeof b, 0, 440, MBOT_TONE_MAX_MS + 1), MBOT_ERR_RANGE);
	CHECK(mbot_enc_tone(b, sizeof b, 0, 0, 0) > 0); /* silence */
	CHECK_EQ_INT(mbot_enc_get(b, sizeof b, 0, 256, 1), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_get(b, sizeof b, 0, 1, 256), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_get_slot(b, sizeof b, 0, 1, 1, -1), MBOT_ERR_RANGE);
	/* the firmware drops a frame whose len is above 48: 45 characters is the IR maximum */
	CHECK_EQ_INT(mbot_enc_ir_send(b, sizeof b, 0, text, MBOT_IR_MAX), MBOT_REQ_MAX);
	CHECK_EQ_INT(b[2], MBOT_REQ_LEN_MAX);
	CHECK_EQ_INT(mbot_enc_ir_send(b, sizeof b, 0, text, MBOT_IR_MAX + 1), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_ir_send(b, sizeof b, 0, text, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_request(b, sizeof b, 0, 3, 1, NULL, 0),
		     MBOT_ERR_RANGE); /* no answer */
	CHECK_EQ_INT(mbot_enc_request(b, sizeof b, 0, MBOT_RUN, -1, (const uint8_t *)"a", 1),
		     MBOT_ERR_RANGE);
	/* every output size short by one */
	CHECK_EQ_INT(mbot_enc_move(b, 9, 0, 1, 1), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_reset(b, 4, 0), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_led(b, 11, 0, 0, 1, 2, 3), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_get(NULL, 0, 0, 1, 1), MBOT_ERR_SPACE);
	CHECK(strcmp(mbot_strerror(MBOT_ERR_END), "frame not ended by 0d 0a") == 0);
	CHECK(strcmp(mbot_strerror(-99), "unknown error") == 0);
}

static void test_parse_request(void)
{
	mbot_request r;
	uint8_t b[MBOT_REQ_MAX];
	int n;

	/* [fw030] readSensor's comment: "0xff 0x55 0x4 0x3 0x1 0x1 0x1 0xa" (0a is not counted) */
	static const uint8_t get[] = {0xff, 0x55, 0x04, 0x03, 0x01, 0x01, 0x01, 0x0a};
	CHECK_EQ_INT(mbot_parse_request(get, sizeof get, &r), 7);
	CHECK_EQ_INT(r.idx, 3);
	CHECK_EQ_INT(r.action, MBOT_GET);
	CHECK_EQ_INT(r.device, MBOT_DEV_ULTRASONIC);
	CHECK_EQ_INT(r.n, 1);
	CHECK_EQ_INT(r.data[0], 1);

	/* [fw030] runModule's comment: "0xff 0x55 0x6 0x0 0x2 0x22 0x9 0x0 0x0 0xa": a TONE whose
	 * duration lies beyond the frame (the firmware reads a stale buffer byte; our encoder
	 * always sends both shorts) */
	static const uint8_t tone[] = {0xff, 0x55, 0x06, 0x00, 0x02, 0x22, 0x09, 0x00, 0x00, 0x0a};
	CHECK_EQ_INT(mbot_parse_request(tone, sizeof tone, &r), 9);
	CHECK_EQ_INT(r.device, MBOT_DEV_TONE);
	CHECK_EQ_INT(mbot_req_short(&r, 0), 9);
	CHECK_EQ_INT(mbot_req_short(&r, 2), 0); /* beyond the 3 data bytes */
	CHECK_EQ_INT(mbot_req_short(&r, (size_t)-1), 0);

	/* round trips of our own requests */
	n = mbot_enc_move(b, sizeof b, 0x42, -200, 150);
	CHECK_EQ_INT(mbot_parse_request(b, (size_t)n, &r), n);
	CHECK_EQ_INT(r.idx, 0x42);
	CHECK_EQ_INT(r.device, MBOT_DEV_JOYSTICK);
	CHECK_EQ_INT(mbot_req_short(&r, 0), 200); /* M1 = -left */
	CHECK_EQ_INT(mbot_req_short(&r, 2), 150);
	n = mbot_enc_reset(b, sizeof b, 1);
	CHECK_EQ_INT(mbot_parse_request(b, (size_t)n, &r), 5);
	CHECK_EQ_INT(r.action, MBOT_RESET);
	CHECK_EQ_INT(r.device, -1);

	/* errors: truncated, not ff 55, len too small or above the firmware's buffer */
	CHECK_EQ_INT(mbot_parse_request(get, 0, &r), MBOT_ERR_SHORT);
	CHECK_EQ_INT(mbot_parse_request(get, 2, &r), MBOT_ERR_SHORT);
	CHECK_EQ_INT(mbot_parse_request(get, 6, &r), MBOT_ERR_SHORT);
	static const uint8_t bad1[] = {0xfe, 0x55, 0x02, 0x00, 0x04};
	CHECK_EQ_INT(mbot_parse_request(bad1, sizeof bad1, &r), MBOT_ERR_HEADER);
	static const uint8_t bad2[] = {0xff, 0x54, 0x02, 0x00, 0x04};
	CHECK_EQ_INT(mbot_parse_request(bad2, sizeof bad2, &r), MBOT_ERR_HEADER);
	static const uint8_t bad3[] = {0xff, 0x55, 0x01, 0x00};
	CHECK_EQ_INT(mbot_parse_request(bad3, sizeof bad3, &r), MBOT_ERR_LENGTH);
	uint8_t big[60] = {0xff, 0x55, MBOT_REQ_LEN_MAX + 1};
	CHECK_EQ_INT(mbot_parse_request(big, sizeof big, &r), MBOT_ERR_LENGTH);
}

/* Decode a whole frame, checking that it is exactly n bytes long. */
static int decode_all(const uint8_t *b, size_t n, mbot_msg *m)
{
	int r = mbot_decode_reply(b, n, m);

	/* every proper prefix is a valid beginning */
	for (size_t k = 0; r > 0 && k < (size_t)r; k++) {
		mbot_msg tmp;
		if (mbot_decode_reply(b, k, &tmp) != 0)
			return -100;
	}
	return r;
}

static void test_decode_replies(void)
{
	mbot_msg m;

	/* callOK: ff 55 then Serial.println() */
	static const uint8_t ack[] = {0xff, 0x55, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(ack, sizeof ack, &m), 4);
	CHECK_EQ_INT(m.kind, MBOT_MSG_ACK);

	/* ultrasonic: sendFloat(20.0f) = 00 00 a0 41 */
	static const uint8_t us[] = {0xff, 0x55, 0x01, 0x02, 0x00, 0x00, 0xa0, 0x41, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(us, sizeof us, &m), 10);
	CHECK_EQ_INT(m.kind, MBOT_MSG_VALUE);
	CHECK_EQ_INT(m.idx, 1);
	CHECK_EQ_INT(m.type, MBOT_TYPE_FLOAT);
	CHECK_NEAR(m.number, 20.0, 1e-9);

	/* a float whose bytes are 0d 0a 20 41 (10.0025): a value is not searched for 0d 0a */
	static const uint8_t f0d[] = {0xff, 0x55, 0x02, 0x02, 0x0d, 0x0a, 0x20, 0x41, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(f0d, sizeof f0d, &m), 10);
	CHECK_NEAR(m.number, 10.0025, 1e-4);

	/* line follower: dRead1() * 2 + dRead2() = 3.0 (both sensors off the line) */
	static const uint8_t line[] = {0xff, 0x55, 0x03, 0x02, 0x00, 0x00, 0x40, 0x40, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(line, sizeof line, &m), 10);
	int l = -1, r = -1;
	CHECK_EQ_INT(mbot_line_decode(m.number, &l, &r), 0);
	CHECK(l == 0 && r == 0);
	CHECK_EQ_INT(mbot_line_decode(1.0, &l, &r), 0); /* S1_IN_S2_OUT: the left one sees it */
	CHECK(l == 1 && r == 0);
	CHECK_EQ_INT(mbot_line_decode(0.0, &l, &r), 0);
	CHECK(l == 1 && r == 1);
	CHECK_EQ_INT(mbot_line_decode(1.5, &l, &r), MBOT_ERR_VALUE);
	CHECK_EQ_INT(mbot_line_decode(4.0, &l, &r), MBOT_ERR_VALUE);

	/* VERSION: sendString("06.01.107") = 04, length, characters */
	static const uint8_t ver[] = {0xff, 0x55, 0x04, 0x04, 0x09, '0', '6',  '.',
				      '0',  '1',  '.',	'1',  '0',  '7', 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(ver, sizeof ver, &m), (int)sizeof ver);
	CHECK_EQ_INT(m.type, MBOT_TYPE_STRING);
	CHECK(m.tlen == 9 && memcmp(m.text, "06.01.107", 9) == 0);

	/* BUTTON_INNER: sendByte(s ^ pressed) = 01 01 */
	static const uint8_t btn[] = {0xff, 0x55, 0x05, 0x01, 0x01, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(btn, sizeof btn, &m), 7);
	CHECK_EQ_INT(m.type, MBOT_TYPE_BYTE);
	CHECK_NEAR(m.number, 1.0, 0);

	/* [fw107] readButtonInner: unasked, writeSerial(0x80) then sendByte(pressed) */
	static const uint8_t ev[] = {0xff, 0x55, 0x80, 0x01, 0x00, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(ev, sizeof ev, &m), 7);
	CHECK_EQ_INT(m.idx, MBOT_IDX_EVENT);

	/* GET IR with no message ready: writeHead, writeSerial(idx), writeEnd */
	static const uint8_t empty[] = {0xff, 0x55, 0x06, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(empty, sizeof empty, &m), 5);
	CHECK_EQ_INT(m.kind, MBOT_MSG_EMPTY);
	CHECK_EQ_INT(m.idx, 6);
	/* the same with index 0x0d is not an ack */
	static const uint8_t empty0d[] = {0xff, 0x55, 0x0d, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(empty0d, sizeof empty0d, &m), 5);
	CHECK_EQ_INT(m.kind, MBOT_MSG_EMPTY);
	CHECK_EQ_INT(m.idx, 0x0d);

	/* [fw030]/[fw107] sendShort writes 4 bytes (2 past the union: here 0xAA 0xBB) */
	static const uint8_t sh4[] = {0xff, 0x55, 0x07, 0x03, 0x2c, 0x01, 0xaa, 0xbb, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(sh4, sizeof sh4, &m), 10);
	CHECK_NEAR(m.number, 300.0, 0);
	CHECK_EQ_INT(m.padded, 1);
	/* [auriga] sendShort writes 2 */
	static const uint8_t sh2[] = {0xff, 0x55, 0x07, 0x03, 0xd4, 0xfe, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(sh2, sizeof sh2, &m), 8);
	CHECK_NEAR(m.number, -300.0, 0);
	CHECK_EQ_INT(m.padded, 0);
	/* [fw030] COMPASS sendDouble: 8 bytes, an AVR double is a float32 (90.0) then 4 strays */
	static const uint8_t d8[] = {0xff, 0x55, 0x08, 0x05, 0x00, 0x00, 0xb4,
				     0x42, 0x11, 0x22, 0x33, 0x44, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(d8, sizeof d8, &m), 14);
	CHECK_NEAR(m.number, 90.0, 0);
	CHECK_EQ_INT(m.padded, 1);
	/* [auriga] sendDouble: 4 bytes */
	static const uint8_t d4[] = {0xff, 0x55, 0x08, 0x05, 0x00, 0x00, 0xb4, 0x42, 0x0d, 0x0a};
	CHECK_EQ_INT(decode_all(d4, sizeof d4, &m), 10);
	CHECK_NEAR(m.number, 90.0, 0);

	/* setup(): Serial.print("Version: "); Serial.println(mVersion) */
	static const char banner[] = "Version: 06.01.107\r\n";
	CHECK_EQ_INT(decode_all((const uint8_t *)banner, strlen(banner), &m), (int)strlen(banner));
	CHECK_EQ_INT(m.kind, MBOT_MSG_BANNER);
	CHECK(m.tlen == 9 && memcmp(m.text, "06.01.107", 9) == 0);
}

static void test_decode_errors(void)
{
	mbot_msg m;

	static const uint8_t hdr[] = {0xff, 0x54, 0x0d, 0x0a};
	CHECK_EQ_INT(mbot_decode_reply(hdr, sizeof hdr, &m), MBOT_ERR_HEADER);
	CHECK_EQ_INT(mbot_decode_reply(hdr + 1, 3, &m), MBOT_ERR_HEADER);
	static const uint8_t type[] = {0xff, 0x55, 0x01, 0x09, 0x00, 0x0d, 0x0a};
	CHECK_EQ_INT(mbot_decode_reply(type, sizeof type, &m), MBOT_ERR_TYPE);
	CHECK_EQ_INT(mbot_decode_reply(type, 4, &m), MBOT_ERR_TYPE);
	static const uint8_t end[] = {0xff, 0x55, 0x01, 0x01, 0x07, 0x0d, 0x0b};
	CHECK_EQ_INT(mbot_decode_reply(end, sizeof end, &m), MBOT_ERR_END);
	static const uint8_t end2[] = {0xff, 0x55, 0x01, 0x0d, 0x0d};
	CHECK_EQ_INT(mbot_decode_reply(end2, sizeof end2, &m), MBOT_ERR_END);
	/* a short that ends neither after 2 nor after 4 bytes */
	static const uint8_t sh[] = {0xff, 0x55, 0x01, 0x03, 1, 2, 3, 4, 5, 6};
	CHECK_EQ_INT(mbot_decode_reply(sh, sizeof sh, &m), MBOT_ERR_END);
	CHECK_EQ_INT(mbot_decode_reply(sh, 9, &m), 0); /* still possible with 0d 0a at 8 */
	/* a string longer than its length byte says */
	static const uint8_t str[] = {0xff, 0x55, 0x01, 0x04, 0x01, 'a', 'b', 0x0d, 0x0a};
	CHECK_EQ_INT(mbot_decode_reply(str, sizeof str, &m), MBOT_ERR_END);
	/* a string of 255 characters is the largest frame */
	uint8_t big[MBOT_REPLY_MAX] = {0xff, 0x55, 0x01, 0x04, 0xff};
	memset(big + 5, 'x', 255);
	big[260] = 0x0d;
	big[261] = 0x0a;
	CHECK_EQ_INT(mbot_decode_reply(big, sizeof big, &m), MBOT_REPLY_MAX);
	CHECK_EQ_INT(mbot_decode_reply(big, sizeof big - 1, &m), 0);
	/* banners: too long, empty, not printable, bad end, not a banner */
	static const char *bad[] = {"Version: 0123456789abcdefg\r\n", "Version: \r\n",
				    "Version: 06\x01\r\n", "Version: 06\r\r", "Vera"};
	static const int want[] = {MBOT_ERR_LENGTH, MBOT_ERR_LENGTH, MBOT_ERR_LENGTH, MBOT_ERR_END,
				   MBOT_ERR_HEADER};
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(mbot_decode_reply((const uint8_t *)bad[i], strlen(bad[i]), &m),
			     want[i]);
	CHECK_EQ_INT(mbot_decode_reply((const uint8_t *)"Version: 0123456789abcdef\r\n", 27, &m),
		     27); /* 16 characters: the maximum */
}

/* The replies of a session, in one stream, preceded and interleaved with noise. */
static const uint8_t stream[] = {
    'x',  'y',	0x00, 0xff, 0x00, /* noise, including an ff that starts nothing */
    'V',  'e',	'r',  's',  'i',  'o',	'n',  ':',  ' ',  '0',	'6',
    '.',  '0',	'1',  '.',  '1',  '0',	'7',  0x0d, 0x0a,	      /* banner */
    0xff, 0x55, 0x0d, 0x0a,					      /* ack */
    0xff, 0x55, 0x01, 0x09, 0x01,				      /* bad type */
    0xff, 0x55, 0x01, 0x02, 0x00, 0x00, 0xa0, 0x41, 0x0d, 0x0a,	      /* 20.0 */
    0xff, 0x55, 0x80, 0x01, 0x01, 0x0d, 0x0a,			      /* button event */
    0xff, 0xff, 0x55, 0x02, 0x03, 0x2c, 0x01, 0xaa, 0xbb, 0x0d, 0x0a, /* short, mCore */
    0xff, 0x55, 0x04, 0x04, 0x02, 'h',	'i',  0x0d, 0x0a,	      /* string */
};

/* Parse the stream in pieces of the given size; checks the messages; returns the garbage. */
static unsigned long parse_stream(size_t piece)
{
	mbot_parser p;
	mbot_msg m, got[8];
	int n = 0;
	size_t off = 0;

	memset(&p, 0, sizeof p);
	while (off < sizeof stream) {
		size_t k = sizeof stream - off < piece ? sizeof stream - off : piece;
		size_t t = mbot_parser_feed(&p, stream + off, k);
		off += t;
		while (mbot_parser_next(&p, &m) == 1) {
			if (n < 8) {
				got[n] = m;
				got[n].text = NULL; /* not valid beyond the next call */
				if (m.kind == MBOT_MSG_BANNER)
					CHECK(m.tlen == 9 && memcmp(m.text, "06.01.107", 9) == 0);
				if (m.type == MBOT_TYPE_STRING)
					CHECK(m.tlen == 2 && memcmp(m.text, "hi", 2) == 0);
			}
			n++;
		}
	}
	CHECK_EQ_INT(n, 6);
	if (n == 6) {
		CHECK_EQ_INT(got[0].kind, MBOT_MSG_BANNER);
		CHECK_EQ_INT(got[1].kind, MBOT_MSG_ACK);
		CHECK(got[2].kind == MBOT_MSG_VALUE && got[2].idx == 1 && got[2].number == 20.0);
		CHECK(got[3].kind == MBOT_MSG_VALUE && got[3].idx == MBOT_IDX_EVENT);
		CHECK(got[4].idx == 2 && got[4].number == 300.0 && got[4].padded);
		CHECK(got[5].idx == 4 && got[5].type == MBOT_TYPE_STRING);
	}
	return p.garbage;
}

static void test_parser_pieces(void)
{
	/* noise: x y 00 ff 00 (5), the bad frame ff 55 01 09 01 (5), a lone ff (1) */
	unsigned long g = parse_stream(sizeof stream);

	CHECK_EQ_UINT(g, 11);
	for (size_t piece = 1; piece < 12; piece++)
		CHECK_EQ_UINT(parse_stream(piece), g);
}

static void test_parser_bounds(void)
{
	mbot_parser p;
	mbot_msg m;
	uint8_t junk[700];

	/* a full buffer of garbage: feed takes what fits, next drops it all */
	memset(&p, 0, sizeof p);
	memset(junk, 0x11, sizeof junk);
	CHECK_EQ_UINT(mbot_parser_feed(&p, junk, sizeof junk), MBOT_PARSER_CAP);
	CHECK_EQ_INT(mbot_parser_next(&p, &m), 0);
	CHECK_EQ_UINT(p.garbage, MBOT_PARSER_CAP);
	CHECK_EQ_UINT(mbot_parser_feed(&p, junk, sizeof junk - MBOT_PARSER_CAP),
		      sizeof junk - MBOT_PARSER_CAP);

	/* ff repeated: each starts a frame candidate that fails on the next ff */
	memset(&p, 0, sizeof p);
	memset(junk, 0xff, sizeof junk);
	CHECK_EQ_UINT(mbot_parser_feed(&p, junk, sizeof junk), MBOT_PARSER_CAP);
	CHECK_EQ_INT(mbot_parser_next(&p, &m), 0);
	CHECK_EQ_UINT(p.n, 1); /* the last ff may still start a frame */

	/* a frame cut by a reset is forgotten */
	static const uint8_t half[] = {0xff, 0x55, 0x01, 0x02, 0x00};
	static const uint8_t ack[] = {0xff, 0x55, 0x0d, 0x0a};
	memset(&p, 0, sizeof p);
	mbot_parser_feed(&p, half, sizeof half);
	CHECK_EQ_INT(mbot_parser_next(&p, &m), 0);
	mbot_parser_reset(&p);
	mbot_parser_feed(&p, ack, sizeof ack);
	CHECK_EQ_INT(mbot_parser_next(&p, &m), 1);
	CHECK_EQ_INT(m.kind, MBOT_MSG_ACK);
	CHECK_EQ_INT(mbot_parser_next(&p, &m), 0);
	CHECK_EQ_UINT(p.garbage, 0);

	/* the largest frame fits after a nearly full buffer of noise has been dropped */
	uint8_t big[MBOT_REPLY_MAX] = {0xff, 0x55, 0x01, 0x04, 0xff};
	memset(big + 5, 'x', 255);
	big[260] = 0x0d;
	big[261] = 0x0a;
	memset(&p, 0, sizeof p);
	memset(junk, 0x11, sizeof junk);
	mbot_parser_feed(&p, junk, 400);
	size_t off = 0;
	int got = 0;
	while (off < sizeof big) {
		off += mbot_parser_feed(&p, big + off, sizeof big - off);
		while (mbot_parser_next(&p, &m) == 1)
			got += m.tlen == 255;
	}
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_UINT(p.garbage, 400);
}

/* The robot-side encoders rebuild the firmware's frames (those of test_decode_replies). */
static void test_robot_encoders(void)
{
	uint8_t b[MBOT_REPLY_MAX];
	mbot_msg m;

	static const uint8_t ack[] = {0xff, 0x55, 0x0d, 0x0a};
	SAME(b, mbot_enc_ack(b, sizeof b), ack);
	static const uint8_t empty[] = {0xff, 0x55, 0x06, 0x0d, 0x0a};
	SAME(b, mbot_enc_empty(b, sizeof b, 6), empty);
	static const uint8_t us[] = {0xff, 0x55, 0x01, 0x02, 0x00, 0x00, 0xa0, 0x41, 0x0d, 0x0a};
	SAME(b, mbot_enc_value(b, sizeof b, 1, MBOT_TYPE_FLOAT, 20.0, 0), us);
	static const uint8_t btn[] = {0xff, 0x55, 0x05, 0x01, 0x01, 0x0d, 0x0a};
	SAME(b, mbot_enc_value(b, sizeof b, 5, MBOT_TYPE_BYTE, 1, 0), btn);
	static const uint8_t sh2[] = {0xff, 0x55, 0x07, 0x03, 0xd4, 0xfe, 0x0d, 0x0a};
	SAME(b, mbot_enc_value(b, sizeof b, 7, MBOT_TYPE_SHORT, -300, 0), sh2);
	static const uint8_t sh4[] = {0xff, 0x55, 0x07, 0x03, 0x2c, 0x01, 0x00, 0x00, 0x0d, 0x0a};
	SAME(b, mbot_enc_value(b, sizeof b, 7, MBOT_TYPE_SHORT, 300, 1), sh4);
	static const uint8_t d8[] = {0xff, 0x55, 0x08, 0x05, 0x00, 0x00, 0xb4,
				     0x42, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x0a};
	SAME(b, mbot_enc_value(b, sizeof b, 8, MBOT_TYPE_DOUBLE, 90.0, 1), d8);
	CHECK_EQ_INT(mbot_decode_reply(d8, sizeof d8, &m), 14);
	CHECK(m.padded && m.number == 90.0);
	static const uint8_t ver[] = {0xff, 0x55, 0x04, 0x04, 0x09, '0', '6',  '.',
				      '0',  '1',  '.',	'1',  '0',  '7', 0x0d, 0x0a};
	SAME(b, mbot_enc_string(b, sizeof b, 4, "06.01.107", 9), ver);
	static const char banner[] = "Version: 06.01.030\r\n";
	CHECK(same(b, mbot_enc_banner(b, sizeof b, "06.01.030", 9), (const uint8_t *)banner,
		   strlen(banner)));

	CHECK_EQ_INT(mbot_enc_value(b, sizeof b, 1, MBOT_TYPE_BYTE, 256, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_value(b, sizeof b, 1, MBOT_TYPE_BYTE, 1.5, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_value(b, sizeof b, 1, MBOT_TYPE_SHORT, 40000, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_value(b, sizeof b, 1, MBOT_TYPE_SHORT, NAN, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_value(b, sizeof b, 1, MBOT_TYPE_STRING, 1, 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_value(b, 9, 1, MBOT_TYPE_FLOAT, 1, 0), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_string(b, sizeof b, 1, "x", 256), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_string(b, 8, 1, "xy", 2), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_banner(b, sizeof b, "0 1", 3), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_banner(b, sizeof b, "", 0), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_enc_banner(b, 12, "1.0", 3), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_ack(b, 3), MBOT_ERR_SPACE);
	CHECK_EQ_INT(mbot_enc_empty(b, 4, 0), MBOT_ERR_SPACE);
}

static void test_expected_types(void)
{
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_ULTRASONIC), MBOT_TYPE_FLOAT);
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_LINEFOLLOWER), MBOT_TYPE_FLOAT);
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_LIGHT), MBOT_TYPE_FLOAT);
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_BUTTON_INNER), MBOT_TYPE_BYTE);
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_IRREMOTECODE), MBOT_TYPE_BYTE);
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_VERSION), MBOT_TYPE_STRING);
	CHECK_EQ_INT(mbot_expected_type(MBOT_DEV_MOTOR), 0);
}

/* A message as the parser would return it. */
static mbot_msg msg(mbot_msg_kind kind, uint8_t idx)
{
	mbot_msg m;

	memset(&m, 0, sizeof m);
	m.kind = kind;
	m.idx = idx;
	m.type = kind == MBOT_MSG_VALUE ? MBOT_TYPE_FLOAT : 0;
	return m;
}

static void test_tracker_order(void)
{
	mbot_tracker t;
	mbot_pending p;
	uint8_t i_us, i_move, i_line, i_led;
	int64_t dl;

	memset(&t, 0, sizeof t);
	CHECK(mbot_track_add(&t, MBOT_GET, MBOT_DEV_ULTRASONIC, 1000, 200, &i_us) >= 0);
	CHECK(mbot_track_add(&t, MBOT_RUN, MBOT_DEV_JOYSTICK, 1001, 200, &i_move) >= 0);
	CHECK(mbot_track_add(&t, MBOT_GET, MBOT_DEV_LINEFOLLOWER, 1002, 200, &i_line) >= 0);
	CHECK(mbot_track_add(&t, MBOT_RUN, MBOT_DEV_RGBLED, 1003, 200, &i_led) >= 0);
	CHECK(i_us != i_line);
	CHECK_EQ_INT(mbot_track_count(&t), 4);
	CHECK_EQ_INT(mbot_track_next_deadline(&t, &dl), 1);
	CHECK_EQ_INT(dl, 1200);

	/* the ultrasonic reply arrives by index */
	mbot_msg m = msg(MBOT_MSG_VALUE, i_us);
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 1);
	CHECK(p.idx == i_us && p.device == MBOT_DEV_ULTRASONIC);
	CHECK_EQ_INT(mbot_track_expire(&t, 1005, &p), 0);

	/* the move's ack was garbled; the line follower's reply comes: the move is settled as lost
	 */
	m = msg(MBOT_MSG_VALUE, i_line);
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 1);
	CHECK(p.device == MBOT_DEV_LINEFOLLOWER);
	CHECK_EQ_INT(mbot_track_expire(&t, 1005, &p), 1);
	CHECK(p.device == MBOT_DEV_JOYSTICK && p.lost);
	CHECK_EQ_INT(mbot_track_expire(&t, 1005, &p), 0);

	/* the LED's ack goes to the LED (the oldest RUN left) */
	m = msg(MBOT_MSG_ACK, 0);
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 1);
	CHECK(p.device == MBOT_DEV_RGBLED);
	CHECK_EQ_INT(mbot_track_count(&t), 0);
	CHECK_EQ_INT(mbot_track_next_deadline(&t, &dl), 0);

	/* answers nobody waits for: an ack, an unknown index, an event */
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 0);
	m = msg(MBOT_MSG_VALUE, 0x33);
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 0);
	m = msg(MBOT_MSG_VALUE, MBOT_IDX_EVENT);
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 0);
}

static void test_tracker_time_and_limits(void)
{
	mbot_tracker t;
	mbot_pending p;
	uint8_t idx, first;

	memset(&t, 0, sizeof t);
	CHECK(mbot_track_add(&t, MBOT_GET, MBOT_DEV_ULTRASONIC, 0, 100, &first) >= 0);
	CHECK(mbot_track_add(&t, MBOT_RESET, -1, 50, 100, &idx) >= 0);
	CHECK_EQ_INT(mbot_track_expire(&t, 99, &p), 0);
	CHECK_EQ_INT(mbot_track_expire(&t, 100, &p), 1);
	CHECK(p.idx == first && !p.lost);
	CHECK_EQ_INT(mbot_track_expire(&t, 100, &p), 0);
	CHECK_EQ_INT(mbot_track_expire(&t, 150, &p), 1);
	CHECK_EQ_INT(p.action, MBOT_RESET);

	CHECK_EQ_INT(mbot_track_add(&t, 3, 1, 0, 10, &idx), MBOT_ERR_RANGE);
	CHECK_EQ_INT(mbot_track_add(&t, MBOT_GET, 1, 0, -1, &idx), MBOT_ERR_RANGE);
	for (int i = 0; i < MBOT_MAX_PENDING; i++)
		CHECK(mbot_track_add(&t, MBOT_GET, 1, 0, 10, &idx) >= 0);
	CHECK_EQ_INT(mbot_track_add(&t, MBOT_GET, 1, 0, 10, &idx), MBOT_ERR_FULL);

	/* the robot restarted: everything pending is lost */
	mbot_msg m = msg(MBOT_MSG_BANNER, 0);
	CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 0);
	int lost = 0;
	while (mbot_track_expire(&t, 0, &p) == 1)
		lost += p.lost;
	CHECK_EQ_INT(lost, MBOT_MAX_PENDING);

	/* indexes cycle through 0..255 but never the event's, nor one a pending GET holds */
	memset(&t, 0, sizeof t);
	uint8_t held;
	CHECK(mbot_track_add(&t, MBOT_GET, 1, 0, 10, &held) >= 0);
	for (int i = 0; i < 600; i++) {
		CHECK(mbot_track_add(&t, MBOT_GET, 1, 0, 10, &idx) >= 0);
		CHECK(idx != MBOT_IDX_EVENT && idx != held);
		m = msg(MBOT_MSG_VALUE, idx);
		CHECK_EQ_INT(mbot_track_match(&t, &m, &p), 1);
		/* older GET "held" is marked lost by each answer; keep it by re-adding */
		if (mbot_track_expire(&t, 0, &p) == 1)
			CHECK(mbot_track_add(&t, MBOT_GET, 1, 0, 10, &held) >= 0);
	}
}

int main(void)
{
	RUN(test_encode_vectors);
	RUN(test_encode_errors);
	RUN(test_parse_request);
	RUN(test_decode_replies);
	RUN(test_decode_errors);
	RUN(test_parser_pieces);
	RUN(test_parser_bounds);
	RUN(test_robot_encoders);
	RUN(test_expected_types);
	RUN(test_tracker_order);
	RUN(test_tracker_time_and_limits);
	return check_summary();
}
