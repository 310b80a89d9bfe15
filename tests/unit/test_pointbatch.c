/* test_pointbatch.c - the 3D scan point batch codec: exact bytes, round trip, refusals. */
#include <math.h>
#include <string.h>

#include "../../protocols/pointbatch.h"
#include "check.h"

/* A known batch gives known bytes (little-endian floats), and decodes back to itself. */
static void test_bytes_and_round_trip(void)
{
	pointbatch_header h = {.flags = POINTBATCH_LAST, .step = 3, .steps = 4, .count = 2}, d;
	pointbatch_point pts[2] = {{1.0f, -2.5f, 0.0f, 10, 20, 30},
				   {100.25f, 0.5f, -0.0f, 255, 0, 7}};
	uint8_t out[64],
	    want_head[20] = {'L', 'B', 'P', 'B', 1, 1, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0};
	uint8_t want_p0[15] = {0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0, 0, 0, 0, 10, 20, 30};
	pointbatch_point p;

	CHECK_EQ_INT(pointbatch_size(2), 50);
	CHECK_EQ_INT(pointbatch_encode(&h, pts, out, sizeof out), 50);
	CHECK(memcmp(out, want_head, sizeof want_head) == 0);
	CHECK(memcmp(out + 20, want_p0, sizeof want_p0) == 0);
	CHECK_EQ_INT(pointbatch_decode(out, 50, &d), POINTBATCH_HEADER_LEN);
	CHECK_EQ_INT(d.step, 3);
	CHECK_EQ_INT(d.steps, 4);
	CHECK_EQ_INT(d.count, 2);
	CHECK_EQ_INT(d.flags, POINTBATCH_LAST);
	pointbatch_point_at(out, 1, &p);
	CHECK(p.x == 100.25f && p.y == 0.5f && p.z == 0.0f && signbit(p.z));
	CHECK(p.r == 255 && p.g == 0 && p.b == 7);
	/* an empty batch (a step that found nothing) is valid */
	h.count = 0, h.flags = 0;
	CHECK_EQ_INT(pointbatch_encode(&h, NULL, out, sizeof out), 20);
	CHECK_EQ_INT(pointbatch_decode(out, 20, &d), 20);
	CHECK_EQ_INT(d.count, 0);
}

/* Inconsistent headers, short buffers, non-finite points and damaged messages are refused. */
static void test_refusals(void)
{
	pointbatch_header h = {.step = 0, .steps = 1, .count = 1}, d;
	pointbatch_point pt = {1, 2, 3, 0, 0, 0};
	uint8_t out[64];

	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, 34), -1); /* no room */
	h.step = 1;
	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, sizeof out), -1); /* step >= steps */
	h.step = 0, h.steps = 0;
	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, sizeof out), -1);
	h.steps = 1, h.flags = 2;
	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, sizeof out), -1); /* unknown flag */
	h.flags = 0;
	pt.y = NAN;
	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, sizeof out), -1);
	pt.y = INFINITY;
	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, sizeof out), -1);
	pt.y = 2;
	CHECK_EQ_INT(pointbatch_size(POINTBATCH_MAX_POINTS + 1), 0);
	CHECK_EQ_INT(pointbatch_encode(&h, &pt, out, sizeof out), 35);
	CHECK_EQ_INT(pointbatch_decode(out, 35, &d), 20);
	CHECK_EQ_INT(pointbatch_decode(out, 34, &d), -1); /* cut */
	CHECK_EQ_INT(pointbatch_decode(out, 19, &d), -1);
	out[0] = 'X';
	CHECK_EQ_INT(pointbatch_decode(out, 35, &d), -1);
	out[0] = 'L', out[4] = 2;
	CHECK_EQ_INT(pointbatch_decode(out, 35, &d), -1);
	out[4] = 1, out[6] = 1;
	CHECK_EQ_INT(pointbatch_decode(out, 35, &d), -1); /* reserved */
	out[6] = 0, out[16] = 0, out[19] = 0x80;	  /* a count that would overflow */
	CHECK_EQ_INT(pointbatch_decode(out, 35, &d), -1);
	out[16] = 1, out[19] = 0;
	out[20 + 7] = 0x7f, out[20 + 6] = 0xc0; /* y = NaN */
	CHECK_EQ_INT(pointbatch_decode(out, 35, &d), -1);
}

int main(void)
{
	RUN(test_bytes_and_round_trip);
	RUN(test_refusals);
	return check_summary();
}
