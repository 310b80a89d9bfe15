/* test_firmata.c - the Firmata codec against byte vectors from the protocol specification. */
#include <stdint.h>
#include <string.h>

#include "../../protocols/firmata.h"
#include "check.h"

/* Feed a whole buffer; returns the number of messages, copying up to max of them to out. */
static int feed_all(firmata_parser *p, const uint8_t *b, size_t n, firmata_msg *out, int max)
{
	int count = 0;

	for (size_t i = 0; i < n; i++) {
		firmata_msg m;
		if (firmata_feed(p, b[i], &m) == 1) {
			if (count < max)
				out[count] = m;
			count++;
		}
	}
	return count;
}

static void test_analog_and_digital(void)
{
	/* E3 LSB MSB: analog channel 3 = 0x2A5 (677); 92 LSB MSB: port 2 = 0xA5 */
	const uint8_t b[] = {0xE3, 0x25, 0x05, 0x92, 0x25, 0x01};
	firmata_parser p = {0};
	firmata_msg m[4];

	CHECK_EQ_INT(feed_all(&p, b, sizeof b, m, 4), 2);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_ANALOG);
	CHECK_EQ_INT(m[0].pin, 3);
	CHECK_EQ_INT(m[0].value, 677);
	CHECK_EQ_INT(m[1].type, FIRMATA_MSG_DIGITAL);
	CHECK_EQ_INT(m[1].pin, 2);
	CHECK_EQ_INT(m[1].value, 0xA5);
	CHECK_EQ_INT((int)p.errors, 0);
}

static void test_version_and_firmware(void)
{
	/* F9 02 05, then REPORT_FIRMWARE 2.5 "AB" as 7-bit pairs */
	const uint8_t b[] = {0xF9, 0x02, 0x05, 0xF0, 0x79, 0x02, 0x05, 'A', 0, 'B', 0, 0xF7};
	firmata_parser p = {0};
	firmata_msg m[4];
	int major, minor;
	char name[16];

	CHECK_EQ_INT(feed_all(&p, b, sizeof b, m, 4), 2);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_VERSION);
	CHECK_EQ_INT(m[0].major, 2);
	CHECK_EQ_INT(m[0].minor, 5);
	CHECK_EQ_INT(m[1].type, FIRMATA_MSG_SYSEX);
	CHECK_EQ_INT(m[1].command, FIRMATA_REPORT_FIRMWARE);
	CHECK_EQ_INT(
	    firmata_decode_firmware(m[1].data, m[1].len, &major, &minor, name, sizeof name), 0);
	CHECK_EQ_INT(major, 2);
	CHECK_EQ_INT(minor, 5);
	CHECK_STR(name, "AB");
}

static void test_firmware_roundtrip(void)
{
	uint8_t b[64];
	size_t n = firmata_enc_firmware(b, sizeof b, 2, 6, "StandardFirmata.ino");
	firmata_parser p = {0};
	firmata_msg m;
	int got = 0, major, minor;
	char name[64];

	CHECK_EQ_INT((int)n, 5 + 2 * 19);
	CHECK_EQ_INT(b[0], 0xF0);
	CHECK_EQ_INT(b[n - 1], 0xF7);
	for (size_t i = 0; i < n; i++)
		if (firmata_feed(&p, b[i], &m) == 1)
			got++;
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_INT(firmata_decode_firmware(m.data, m.len, &major, &minor, name, sizeof name), 0);
	CHECK_STR(name, "StandardFirmata.ino");
	CHECK_EQ_INT(firmata_enc_firmware(b, 10, 2, 6, "StandardFirmata.ino"), 0); /* too small */
}

static void test_capabilities_and_mapping(void)
{
	/* pin 0: no modes; pin 1: input(1), output(1); pin 2: analog(10 bits) */
	const uint8_t caps[] = {0x7F, 0x00, 0x01, 0x01, 0x01, 0x7F, 0x02, 0x0A, 0x7F};
	const uint8_t map[] = {0x7F, 0x7F, 0x00};
	const uint8_t bad[] = {0x00, 0x01, 0x02}; /* unterminated and odd */
	firmata_pin pins[8];

	CHECK_EQ_INT(firmata_decode_capabilities(caps, sizeof caps, pins, 8), 3);
	CHECK_EQ_UINT(pins[0].modes, 0);
	CHECK_EQ_UINT(pins[1].modes, 0x3);
	CHECK_EQ_UINT(pins[2].modes, 1u << FIRMATA_MODE_ANALOG);
	CHECK_EQ_INT(pins[2].resolution[FIRMATA_MODE_ANALOG], 10);
	CHECK_EQ_INT(firmata_decode_analog_mapping(map, sizeof map, pins, 3), 0);
	CHECK_EQ_INT(pins[0].analog_channel, 127);
	CHECK_EQ_INT(pins[2].analog_channel, 0);
	CHECK_EQ_INT(firmata_decode_capabilities(bad, sizeof bad, pins, 8), -1);
	CHECK_EQ_INT(firmata_decode_capabilities(caps, sizeof caps, pins, 2), 2); /* truncated */
}

static void test_encoders(void)
{
	uint8_t b[8];

	CHECK_EQ_INT((int)firmata_enc_report_analog(b, 5, 1), 2);
	CHECK(b[0] == 0xC5 && b[1] == 1);
	CHECK_EQ_INT((int)firmata_enc_report_digital(b, 1, 0), 2);
	CHECK(b[0] == 0xD1 && b[1] == 0);
	CHECK_EQ_INT((int)firmata_enc_pin_mode(b, 13, FIRMATA_MODE_OUTPUT), 3);
	CHECK(b[0] == 0xF4 && b[1] == 13 && b[2] == 1);
	CHECK_EQ_INT((int)firmata_enc_digital_write(b, 13, 1), 3);
	CHECK(b[0] == 0xF5 && b[1] == 13 && b[2] == 1);
	/* sampling interval 19 ms and 1000 ms (0x3E8 = LSB 0x68, MSB 0x07) */
	CHECK_EQ_INT((int)firmata_enc_sampling_interval(b, 1000), 5);
	CHECK(b[0] == 0xF0 && b[1] == 0x7A && b[2] == 0x68 && b[3] == 0x07 && b[4] == 0xF7);
	CHECK_EQ_INT((int)firmata_enc_sampling_interval(b, 0), 0);
	CHECK_EQ_INT((int)firmata_enc_analog(b, 16, 0), 0);
	CHECK_EQ_INT((int)firmata_enc_analog(b, 0, 16384), 0);
	CHECK_EQ_INT((int)firmata_enc_query(b, FIRMATA_CAPABILITY_QUERY), 3);
	CHECK(b[0] == 0xF0 && b[1] == 0x6B && b[2] == 0xF7);
}

static void test_garbage_resync(void)
{
	/* stray data bytes, an undefined status byte, a cut message, then a good analog value */
	const uint8_t b[] = {0x12, 0x34, 0xF3, 0xE0, 0x01, 0x90, 0x7F, 0x01, 0xE1, 0x7F, 0x07};
	firmata_parser p = {0};
	firmata_msg m[4];
	int n = feed_all(&p, b, sizeof b, m, 4);

	CHECK_EQ_INT(n, 2);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_DIGITAL);
	CHECK_EQ_INT(m[1].type, FIRMATA_MSG_ANALOG);
	CHECK_EQ_INT(m[1].pin, 1);
	CHECK_EQ_INT(m[1].value, 0x3FF);
	CHECK(p.errors >= 3);
}

static void test_sysex_overflow(void)
{
	uint8_t b[FIRMATA_MAX_SYSEX + 16];
	firmata_parser p = {0};
	firmata_msg m[2];
	size_t n = 0;

	b[n++] = 0xF0;
	while (n < sizeof b - 4)
		b[n++] = 0x11;
	b[n++] = 0xF7;
	b[n++] = 0xF9, b[n++] = 2, b[n++] = 6;
	CHECK_EQ_INT(feed_all(&p, b, n, m, 2), 1); /* the overlong sysex is dropped */
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_VERSION);
	CHECK_EQ_INT(m[0].minor, 6);
}

static void test_host_side(void)
{
	/* what a host sends: version query, report analog 0 on, pin mode, sysex query, reset */
	const uint8_t b[] = {0xF9, 0xC0, 0x01, 0xF4, 0x0D, 0x01, 0xF0, 0x6B, 0xF7, 0xFF};
	firmata_parser p = {.from_host = 1};
	firmata_msg m[8];

	CHECK_EQ_INT(feed_all(&p, b, sizeof b, m, 8), 5);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_VERSION_QUERY);
	CHECK_EQ_INT(m[1].type, FIRMATA_MSG_REPORT_ANALOG);
	CHECK_EQ_INT(m[1].pin, 0);
	CHECK_EQ_INT(m[1].value, 1);
	CHECK_EQ_INT(m[2].type, FIRMATA_MSG_PIN_MODE);
	CHECK_EQ_INT(m[2].pin, 13);
	CHECK_EQ_INT(m[2].value, 1);
	CHECK_EQ_INT(m[3].type, FIRMATA_MSG_SYSEX);
	CHECK_EQ_INT(m[3].command, FIRMATA_CAPABILITY_QUERY);
	CHECK_EQ_INT(m[4].type, FIRMATA_MSG_RESET);
}

static void test_string(void)
{
	const uint8_t s[] = {'o', 0, 'k', 0};
	char out[8];

	CHECK_EQ_INT(firmata_decode_string(s, sizeof s, out, sizeof out), 0);
	CHECK_STR(out, "ok");
	CHECK_EQ_INT(firmata_decode_string(s, 3, out, sizeof out), -1);
}

/* Features per release, as in each StandardFirmata source (MINIMUM_SAMPLING_INTERVAL, F5...). */
static void test_features_per_version(void)
{
	firmata_features f23 = firmata_features_of(2, 3), f24 = firmata_features_of(2, 4);
	firmata_features f25 = firmata_features_of(2, 5), f26 = firmata_features_of(2, 6);
	firmata_features old = firmata_features_of(2, 1), odd = firmata_features_of(3, 0);

	CHECK_EQ_INT(f23.min_interval_ms, 10);
	CHECK_EQ_INT(f24.min_interval_ms, 10);
	CHECK_EQ_INT(f25.min_interval_ms, 1);
	CHECK_EQ_INT(f26.min_interval_ms, 1);
	CHECK_EQ_INT(f23.set_pin_value + f24.set_pin_value, 0);
	CHECK_EQ_INT(f25.set_pin_value, 1);
	CHECK_EQ_INT(f23.pullup_mode + f24.pullup_mode, 0);
	CHECK_EQ_INT(f25.pullup_mode, 1);
	CHECK_EQ_INT(f23.report_on_enable, 0);
	CHECK_EQ_INT(f24.report_on_enable, 1);
	/* unknown versions: the most conservative set */
	CHECK_EQ_INT(old.min_interval_ms, 10);
	CHECK_EQ_INT(odd.set_pin_value + odd.pullup_mode + odd.report_on_enable, 0);
}

/* DIGITAL_MESSAGE from the host: 90|port, bits 0-6, bit 7. */
static void test_digital_port_write(void)
{
	uint8_t b[8];
	firmata_parser host = {.from_host = 1};
	firmata_msg m[2];

	CHECK_EQ_INT((int)firmata_enc_digital_port(b, 1, 0xA0), 3);
	CHECK_EQ_INT(b[0], 0x91);
	CHECK_EQ_INT(b[1], 0x20);
	CHECK_EQ_INT(b[2], 0x01);
	CHECK_EQ_INT(feed_all(&host, b, 3, m, 2), 1);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_DIGITAL);
	CHECK_EQ_INT(m[0].pin, 1);
	CHECK_EQ_INT(m[0].value, 0xA0);
	CHECK_EQ_INT((int)firmata_enc_digital_port(b, 16, 0), 0);
	CHECK_EQ_INT((int)firmata_enc_digital_port(b, 0, 256), 0);
}

static void test_pin_names(void)
{
	uint32_t mask[FIRMATA_MAX_PINS / 32];

	CHECK_EQ_INT(firmata_parse_pin("D2", 2), 2);
	CHECK_EQ_INT(firmata_parse_pin(" d13 ", 5), 13);
	CHECK_EQ_INT(firmata_parse_pin("7", 1), 7);
	CHECK_EQ_INT(firmata_parse_pin("D127", 4), 127);
	CHECK_EQ_INT(firmata_parse_pin("D128", 4), -1);
	CHECK_EQ_INT(firmata_parse_pin("D", 1), -1);
	CHECK_EQ_INT(firmata_parse_pin("A0", 2), -1);
	CHECK_EQ_INT(firmata_parse_pin("D2x", 3), -1);
	CHECK_EQ_INT(firmata_parse_pin("", 0), -1);
	CHECK_EQ_INT(firmata_parse_pin("D0002", 5), -1);
	memset(mask, 0, sizeof mask);
	CHECK_EQ_INT(firmata_parse_pin_list("D2, D3 D13,,D2", mask), 3);
	CHECK_EQ_INT((int)mask[0], (1 << 2) | (1 << 3) | (1 << 13));
	memset(mask, 0, sizeof mask);
	CHECK_EQ_INT(firmata_parse_pin_list("", mask), 0);
	CHECK_EQ_INT(firmata_parse_pin_list("D2, A1", mask), -1 - 4);
}

/* Servos and analog outputs: protocol.md's SERVO_CONFIG, EXTENDED_ANALOG and pin state query
 * (F0 70 pin minL minM maxL maxM F7; F0 6F pin LSB MSB [..] F7; F0 6D pin F7 / F0 6E pin mode
 * state.. F7), as firmata.js and pyFirmata write them. */
static void test_servo_and_pin_state(void)
{
	/* servoConfig(9, 544, 2400): 544 = 0x220 -> 20 04; 2400 = 0x960 -> 60 12 */
	const uint8_t servo[] = {0xF0, 0x70, 0x09, 0x20, 0x04, 0x60, 0x12, 0xF7};
	/* analogWrite(9, 135): E9 07 01 */
	const uint8_t write9[] = {0xE9, 0x07, 0x01};
	/* pin 18 (A4) is beyond the 16 ANALOG_MESSAGE pins: F0 6F 12 5A 00 F7 */
	const uint8_t ext18[] = {0xF0, 0x6F, 0x12, 0x5A, 0x00, 0xF7};
	/* a value beyond 14 bits needs the third byte: 20000 = 0x4E20 -> 20 1C 01 */
	const uint8_t ext_big[] = {0xF0, 0x6F, 0x03, 0x20, 0x1C, 0x01, 0xF7};
	/* the state of pin 9 in SERVO mode at 135 degrees: F0 6E 09 04 07 01 F7 */
	const uint8_t state[] = {0xF0, 0x6E, 0x09, 0x04, 0x07, 0x01, 0xF7};
	firmata_parser board = {0}, host = {.from_host = 1};
	uint8_t b[16];
	firmata_msg m[2];
	int pin, mode;
	long v;

	CHECK_EQ_INT((int)firmata_enc_servo_config(b, 9, 544, 2400), 8);
	CHECK(memcmp(b, servo, sizeof servo) == 0);
	CHECK_EQ_INT((int)firmata_enc_servo_config(b, 128, 544, 2400), 0);
	CHECK_EQ_INT((int)firmata_enc_servo_config(b, 9, 544, 16384), 0);
	CHECK_EQ_INT((int)firmata_enc_analog_out(b, 9, 135), 3);
	CHECK(memcmp(b, write9, sizeof write9) == 0);
	CHECK_EQ_INT((int)firmata_enc_analog_out(b, 18, 90), (int)sizeof ext18);
	CHECK(memcmp(b, ext18, sizeof ext18) == 0);
	CHECK_EQ_INT((int)firmata_enc_analog_out(b, 3, 20000), (int)sizeof ext_big);
	CHECK(memcmp(b, ext_big, sizeof ext_big) == 0);
	CHECK_EQ_INT((int)firmata_enc_analog_out(b, 3, -1), 0);
	CHECK_EQ_INT((int)firmata_enc_analog_out(b, 3, 1 << 21), 0);
	/* what the board reads of them */
	CHECK_EQ_INT(feed_all(&host, ext18, sizeof ext18, m, 2), 1);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_SYSEX);
	CHECK_EQ_INT(m[0].command, FIRMATA_EXTENDED_ANALOG);
	CHECK_EQ_INT((int)m[0].len, 3);
	CHECK_EQ_INT(feed_all(&host, write9, sizeof write9, m, 2), 1);
	CHECK_EQ_INT(m[0].type, FIRMATA_MSG_ANALOG);
	CHECK_EQ_INT(m[0].pin, 9);
	CHECK_EQ_INT(m[0].value, 135);
	/* pin state */
	CHECK_EQ_INT((int)firmata_enc_pin_state_query(b, 9), 4);
	CHECK_EQ_INT(b[0], 0xF0);
	CHECK_EQ_INT(b[1], 0x6D);
	CHECK_EQ_INT(b[2], 9);
	CHECK_EQ_INT(b[3], 0xF7);
	CHECK_EQ_INT((int)firmata_enc_pin_state(b, 9, FIRMATA_MODE_SERVO, 135), (int)sizeof state);
	CHECK(memcmp(b, state, sizeof state) == 0);
	CHECK_EQ_INT(feed_all(&board, state, sizeof state, m, 2), 1);
	CHECK_EQ_INT(m[0].command, FIRMATA_PIN_STATE_RESPONSE);
	CHECK_EQ_INT(firmata_decode_pin_state(m[0].data, m[0].len, &pin, &mode, &v), 0);
	CHECK_EQ_INT(pin, 9);
	CHECK_EQ_INT(mode, FIRMATA_MODE_SERVO);
	CHECK_EQ_INT((int)v, 135);
	/* an output at 0: one state byte; a pin the board lacks: the pin alone (malformed) */
	CHECK_EQ_INT((int)firmata_enc_pin_state(b, 13, FIRMATA_MODE_OUTPUT, 0), 6);
	CHECK_EQ_INT(firmata_decode_pin_state(b + 2, 3, &pin, &mode, &v), 0);
	CHECK_EQ_INT((int)v, 0);
	CHECK_EQ_INT(firmata_decode_pin_state(b + 2, 1, &pin, &mode, &v), -1);
}

int main(void)
{
	RUN(test_servo_and_pin_state);
	RUN(test_analog_and_digital);
	RUN(test_version_and_firmware);
	RUN(test_firmware_roundtrip);
	RUN(test_capabilities_and_mapping);
	RUN(test_encoders);
	RUN(test_garbage_resync);
	RUN(test_sysex_overflow);
	RUN(test_host_side);
	RUN(test_string);
	RUN(test_features_per_version);
	RUN(test_digital_port_write);
	RUN(test_pin_names);
	return check_summary();
}
