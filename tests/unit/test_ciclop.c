/* test_ciclop.c - the Ciclop/Horus board codec: command bytes, reply parsing, line splitting. */
#include <math.h>
#include <string.h>

#include "../../protocols/ciclop.h"
#include "check.h"

/* Encoders give the exact bytes horus-fw takes, and refuse what it would refuse or misread. */
static void test_encode(void)
{
	char b[CICLOP_CMD_MAX];

	CHECK_EQ_INT(ciclop_encode_move(b, sizeof b, 90), 10);
	CHECK(memcmp(b, "G1X90.000\n", 11) == 0);
	CHECK_EQ_INT(ciclop_encode_move(b, sizeof b, -0.45), 10);
	CHECK_STR(b, "G1X-0.450\n");
	CHECK_EQ_INT(ciclop_encode_move(b, sizeof b, -0.0), 9);
	CHECK_STR(b, "G1X0.000\n");
	CHECK_EQ_INT(ciclop_encode_move(b, sizeof b, 1e9), -1);
	CHECK_EQ_INT(ciclop_encode_move(b, sizeof b, NAN), -1);
	CHECK_EQ_INT(ciclop_encode_move(b, sizeof b, INFINITY), -1);
	CHECK_EQ_INT(ciclop_encode_move(b, 5, 90), -1); /* too small a buffer */
	CHECK_EQ_INT(ciclop_encode_move(b, 10, 90), -1);
	CHECK_EQ_INT(ciclop_encode_move(b, 11, 90), 10);
	/* horus-fw's F is deg/s (gcode.c: feed_rate = F * 60) */
	CHECK_EQ_INT(ciclop_encode_speed(b, sizeof b, 1200), 10);
	CHECK_STR(b, "G1F20.000\n");
	/* a move's time with horus-fw's defaults (180 deg/s max, 180 deg/s^2) */
	CHECK_NEAR(ciclop_move_ms(90, 600), 90 / 10.0 * 1000 + 10 / 180.0 * 1000, 1e-9);
	CHECK_NEAR(ciclop_move_ms(-90, 600), ciclop_move_ms(90, 600), 0);
	CHECK_NEAR(ciclop_move_ms(5, 1e5), 2 * sqrt(5 / 180.0) * 1000, 1e-9); /* triangle, capped */
	CHECK_NEAR(ciclop_move_ms(0, 600), 0, 0);
	CHECK_EQ_INT(ciclop_encode_speed(b, sizeof b, 0), -1);
	CHECK_EQ_INT(ciclop_encode_speed(b, sizeof b, -5), -1);
	CHECK_EQ_INT(ciclop_encode_zero(b, sizeof b), 4);
	CHECK_STR(b, "G50\n");
	CHECK_EQ_INT(ciclop_encode_motor(b, sizeof b, 1), 4);
	CHECK_STR(b, "M17\n");
	ciclop_encode_motor(b, sizeof b, 0);
	CHECK_STR(b, "M18\n");
	CHECK_EQ_INT(ciclop_encode_laser(b, sizeof b, 1, 1), 6);
	CHECK_STR(b, "M71T1\n");
	ciclop_encode_laser(b, sizeof b, 2, 0);
	CHECK_STR(b, "M70T2\n");
	CHECK_EQ_INT(ciclop_encode_laser(b, sizeof b, 0, 1), -1);
	CHECK_EQ_INT(ciclop_encode_laser(b, sizeof b, CICLOP_LASERS_MAX + 1, 1), -1);
	CHECK_EQ_INT(ciclop_encode_sensor(b, sizeof b, 0), 6);
	CHECK_STR(b, "M50T0\n");
	CHECK_EQ_INT(ciclop_encode_sensor(b, sizeof b, -1), -1);
	CHECK_EQ_INT(ciclop_encode_zero(NULL, 10), -1);
}

/* Parse a C string as one line. */
static ciclop_kind parse(const char *s, ciclop_reply *r)
{
	return ciclop_parse(s, strlen(s), r);
}

/* Each reply the firmware prints is classified, with its text or value. */
static void test_parse(void)
{
	ciclop_reply r;

	CHECK_EQ_INT(parse("ok", &r), CICLOP_OK);
	CHECK_EQ_INT(parse("ok\r", &r), CICLOP_OK);
	CHECK_EQ_INT(parse("okay", &r), CICLOP_OTHER);
	CHECK_EQ_INT(parse("error: Bad number format", &r), CICLOP_ERROR);
	CHECK_STR(r.text, "Bad number format");
	CHECK_EQ_INT(parse("error:20", &r), CICLOP_ERROR);
	CHECK_STR(r.text, "20");
	CHECK_EQ_INT(parse("ALARM: Hard limit", &r), CICLOP_ALARM);
	CHECK_STR(r.text, "Hard limit");
	CHECK_EQ_INT(parse("Horus 0.2 ['$' for help]", &r), CICLOP_GREETING);
	CHECK_STR(r.text, "Horus 0.2");
	CHECK_EQ_INT(parse("Grbl 0.9g ['$' for help]", &r), CICLOP_GREETING);
	CHECK_STR(r.text, "Grbl 0.9g");
	CHECK_EQ_INT(parse("Horus is here", &r), CICLOP_OTHER);
	CHECK_EQ_INT(parse("[Reset to continue]", &r), CICLOP_FEEDBACK);
	CHECK_STR(r.text, "Reset to continue");
	CHECK_EQ_INT(parse("512", &r), CICLOP_VALUE);
	CHECK_EQ_INT(r.value, 512);
	CHECK_EQ_INT(parse("-3", &r), CICLOP_VALUE);
	CHECK_EQ_INT(r.value, -3);
	CHECK_EQ_INT(parse("1234567890", &r), CICLOP_OTHER); /* too many digits: not a reading */
	CHECK_EQ_INT(parse("-", &r), CICLOP_OTHER);
	CHECK_EQ_INT(parse("", &r), CICLOP_OTHER);
	CHECK_STR(r.text, "");
	CHECK_EQ_INT(ciclop_parse("$0=10\x01\xff", 7, &r), CICLOP_OTHER);
	CHECK_STR(r.text, "$0=10??");
	CHECK_EQ_INT(ciclop_parse("ok", 1, &r), CICLOP_OTHER); /* never reads past len */
	char longline[300];
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "error:", 6);
	CHECK_EQ_INT(ciclop_parse(longline, sizeof longline, &r), CICLOP_ERROR);
	CHECK_EQ_INT(strlen(r.text), CICLOP_TEXT_MAX - 1);
}

/* The splitter takes "\r\n", "\n" and "\r" ends, chunks cut anywhere, and cuts long lines. */
static void test_split(void)
{
	const char *in = "\r\nHorus 0.2 ['$' for help]\r\nok\nerr";
	const char *want[] = {"", "Horus 0.2 ['$' for help]", "ok"};
	ciclop_splitter sp = {0};
	const char *line;
	size_t linelen, used, n = strlen(in), got = 0;

	for (size_t chunk = 1; chunk <= n; chunk++) {
		memset(&sp, 0, sizeof sp);
		got = 0;
		for (size_t off = 0; off < n;) {
			size_t l = n - off < chunk ? n - off : chunk;
			if (ciclop_next_line(&sp, in + off, l, &used, &line, &linelen)) {
				if (got < 3)
					CHECK_STR(line, want[got]);
				CHECK_EQ_UINT(linelen, strlen(want[got < 3 ? got : 0]));
				got++;
			}
			CHECK(used > 0 && used <= l);
			off += used;
		}
		CHECK_EQ_UINT(got, 3);
		CHECK_EQ_UINT(sp.len, 3); /* "err" waits for its end */
	}
	/* a line longer than CICLOP_LINE_MAX comes cut, the next one whole */
	char big[CICLOP_LINE_MAX * 3 + 4];
	memset(big, 'a', sizeof big);
	big[CICLOP_LINE_MAX * 3] = '\n';
	memcpy(big + CICLOP_LINE_MAX * 3 + 1, "ok\n", 3);
	memset(&sp, 0, sizeof sp);
	CHECK_EQ_INT(ciclop_next_line(&sp, big, sizeof big, &used, &line, &linelen), 1);
	CHECK_EQ_UINT(linelen, CICLOP_LINE_MAX);
	CHECK_EQ_UINT(used, CICLOP_LINE_MAX * 3 + 1);
	CHECK_EQ_INT(ciclop_next_line(&sp, big + used, sizeof big - used, &used, &line, &linelen),
		     1);
	CHECK_STR(line, "ok");
	/* "\r" then "\r": two lines (the second empty) */
	memset(&sp, 0, sizeof sp);
	CHECK_EQ_INT(ciclop_next_line(&sp, "a\r\r", 3, &used, &line, &linelen), 1);
	CHECK_EQ_INT(ciclop_next_line(&sp, "\r", 1, &used, &line, &linelen), 1);
	CHECK_EQ_UINT(linelen, 0);
}

int main(void)
{
	RUN(test_encode);
	RUN(test_parse);
	RUN(test_split);
	return check_summary();
}
