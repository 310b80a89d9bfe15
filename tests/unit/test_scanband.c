/* test_scanband.c - the scan band header codec: round trip, byte layout, and refusals. */
#include <string.h>

#include "../../protocols/scanband.h"
#include "check.h"

static void test_line_bytes(void)
{
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_GRAY, 8, 620), 620);
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_RGB, 8, 620), 1860);
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_RGB, 16, 10), 60);
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_GRAY, 1, 9), 2); /* rounded up */
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_GRAY, 4, 9), 0);
	CHECK_EQ_INT(scanband_line_bytes(9, 8, 9), 0);
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_GRAY, 8, 0), 0);
	CHECK_EQ_INT(scanband_line_bytes(SCANBAND_GRAY, 8, SCANBAND_MAX_WIDTH + 1), 0);
}

static void test_round_trip(void)
{
	scanband_header h = {SCANBAND_GRAY, 8, SCANBAND_LAST, 620, 877, 870, 7, 620, 2}, d;
	uint8_t msg[SCANBAND_HEADER_LEN + 7 * 620] = {0};

	CHECK_EQ_INT(scanband_encode(&h, msg), SCANBAND_HEADER_LEN);
	CHECK(memcmp(msg, "LBSB\x01\x00\x08\x01", 8) == 0);
	CHECK(msg[8] == 0x6c && msg[9] == 0x02 && msg[10] == 0 && msg[11] == 0); /* 620 LE */
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), SCANBAND_HEADER_LEN);
	CHECK_EQ_INT(d.width, 620);
	CHECK_EQ_INT(d.height, 877);
	CHECK_EQ_INT(d.first_row, 870);
	CHECK_EQ_INT(d.rows, 7);
	CHECK_EQ_INT(d.page, 2);
	CHECK_EQ_INT(d.flags, SCANBAND_LAST);
	/* length must match exactly */
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg - 1, &d), -1);
	/* unknown height */
	h.height = -1;
	h.first_row = 100000;
	CHECK_EQ_INT(scanband_encode(&h, msg), SCANBAND_HEADER_LEN);
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), SCANBAND_HEADER_LEN);
	CHECK_EQ_INT(d.height, -1);
}

static void test_refusals(void)
{
	scanband_header h = {SCANBAND_RGB, 8, 0, 100, 50, 45, 10, 300, 0}, d;
	uint8_t msg[SCANBAND_HEADER_LEN + 300] = {0};

	CHECK_EQ_INT(scanband_encode(&h, msg), -1); /* past the height */
	h.rows = 1;
	h.bytes_per_line = 299;
	CHECK_EQ_INT(scanband_encode(&h, msg), -1); /* line too short */
	h.bytes_per_line = 300;
	CHECK_EQ_INT(scanband_encode(&h, msg), SCANBAND_HEADER_LEN);
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), SCANBAND_HEADER_LEN);
	msg[0] = 'X';
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), -1);
	msg[0] = 'L';
	msg[4] = 2;
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), -1);
	msg[4] = 1;
	msg[7] = 0x80; /* unknown flag */
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), -1);
	msg[7] = 0;
	/* rows * bytes_per_line overflowing 32 bits does not wrap to the length */
	msg[20] = 0, msg[21] = 0, msg[22] = 0, msg[23] = 0x80;
	CHECK_EQ_INT(scanband_decode(msg, sizeof msg, &d), -1);
	CHECK_EQ_INT(scanband_decode(msg, 10, &d), -1);
}

int main(void)
{
	RUN(test_line_bytes);
	RUN(test_round_trip);
	RUN(test_refusals);
	return check_summary();
}
