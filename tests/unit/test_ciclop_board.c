/* test_ciclop_board.c - the codec against the board model: commands in, replies parsed, table
 * motion. */
#include <string.h>

#include "../../drivers/ciclop/board.h"
#include "../../protocols/ciclop.h"
#include "check.h"

/* Send cmd (as the codec encoded it, "\n" included) at now; the first reply line's kind. */
static ciclop_kind send(ciclop_board *b, const char *cmd, double now, ciclop_reply *r, char *out,
			size_t cap)
{
	size_t l = strlen(cmd), used, linelen;
	ciclop_splitter sp = {0};
	const char *line;

	if (l && cmd[l - 1] == '\n')
		l--;
	size_t n = ciclop_board_line(b, cmd, l, now, out, cap);
	memset(r, 0, sizeof *r);
	if (ciclop_next_line(&sp, out, n, &used, &line, &linelen) != 1)
		return (ciclop_kind)-1;
	return ciclop_parse(line, linelen, r);
}

/* The greeting parses; a scan's commands are all answered ok and do what they say. */
static void test_session(void)
{
	ciclop_board b = {0};
	ciclop_reply r;
	ciclop_splitter sp = {0};
	char out[128], cmd[CICLOP_CMD_MAX];
	const char *line;
	size_t used, linelen, n = ciclop_board_reset(&b, 0, out, sizeof out), off = 0;
	int greeted = 0;

	while (off < n && ciclop_next_line(&sp, out + off, n - off, &used, &line, &linelen)) {
		off += used;
		greeted += ciclop_parse(line, linelen, &r) == CICLOP_GREETING;
	}
	CHECK_EQ_INT(greeted, 1);
	CHECK_STR(r.text, "Horus 0.2");

	ciclop_encode_motor(cmd, sizeof cmd, 1);
	CHECK_EQ_INT(send(&b, cmd, 0, &r, out, sizeof out), CICLOP_OK);
	ciclop_encode_speed(cmd, sizeof cmd, 600); /* 10 deg/s */
	CHECK_EQ_INT(send(&b, cmd, 0, &r, out, sizeof out), CICLOP_OK);
	ciclop_encode_move(cmd, sizeof cmd, 45);
	CHECK_EQ_INT(send(&b, cmd, 1000, &r, out, sizeof out), CICLOP_OK);
	/* 10 deg/s with 180 deg/s^2: 4.5 s at speed plus 1/18 s ramping; the reply is due then */
	double end = 1000 + ciclop_move_ms(45, 600);
	CHECK_NEAR(end, 1000 + 4500 + 1000 / 18.0, 1e-9);
	CHECK_NEAR(ciclop_board_reply_ms(&b), end, 1e-9);
	CHECK(ciclop_board_moving(&b, 2000));
	CHECK_NEAR(ciclop_board_angle(&b, 1000 + (end - 1000) / 2), 22.5, 1e-9);
	CHECK_NEAR(ciclop_board_angle(&b, end), 45, 1e-9);
	CHECK(!ciclop_board_moving(&b, end + 1));
	/* a second move queued behind the first */
	ciclop_encode_move(cmd, sizeof cmd, 35);
	CHECK_EQ_INT(send(&b, cmd, 2000, &r, out, sizeof out), CICLOP_OK);
	CHECK_NEAR(ciclop_board_angle(&b, end), 45, 1e-9);
	CHECK_NEAR(ciclop_board_angle(&b, end + ciclop_move_ms(10, 600)), 35, 1e-9);
	ciclop_encode_laser(cmd, sizeof cmd, 2, 1);
	CHECK_EQ_INT(send(&b, cmd, 7000, &r, out, sizeof out), CICLOP_OK);
	CHECK_EQ_INT(b.lasers, 2);
	ciclop_encode_laser(cmd, sizeof cmd, 2, 0);
	send(&b, cmd, 7000, &r, out, sizeof out);
	CHECK_EQ_INT(b.lasers, 0);
	ciclop_encode_sensor(cmd, sizeof cmd, 0);
	CHECK_EQ_INT(send(&b, cmd, 7000, &r, out, sizeof out), CICLOP_VALUE);
	CHECK_EQ_INT(r.value, 512);
	CHECK(strstr(out, "\r\nok\r\n") != NULL);
	ciclop_encode_zero(cmd, sizeof cmd);
	CHECK_EQ_INT(send(&b, cmd, 8000, &r, out, sizeof out), CICLOP_OK);
	CHECK_NEAR(ciclop_board_angle(&b, 8000), 0, 0);
	/* steppers off (M18): horus-fw still turns the table for a move (st_wake_up enables the
	 * driver for it, st_go_idle disables it after) */
	ciclop_encode_motor(cmd, sizeof cmd, 0);
	send(&b, cmd, 9000, &r, out, sizeof out);
	ciclop_encode_move(cmd, sizeof cmd, 90);
	CHECK_EQ_INT(send(&b, cmd, 9000, &r, out, sizeof out), CICLOP_OK);
	CHECK_NEAR(ciclop_board_angle(&b, 60000), 90, 0);
	CHECK_EQ_INT(b.refused, 0);
}

/* What the board refuses comes back as a parsed error, and changes nothing. */
static void test_refusals(void)
{
	ciclop_board b = {0};
	ciclop_reply r;
	char out[128];
	/* each with report.c's words (horus-fw 0.2) */
	const char *bad[][2] = {
	    {"G2X1", "Unsupported command"},   {"G0X1", "Unsupported command"},
	    {"G1X1X2", "Invalid gcode ID:25"}, {"G1F-5", "Value < 0"},
	    {"G1X5", "Undefined feed rate"}, /* no F since the reset */
	    {"G1.5", "Invalid gcode ID:23"},   {"1G1", "Expected command letter"},
	    {"G1Xabc", "Bad number format"},   {"Y5", "Unsupported command"},
	    {"M999", "Unsupported command"}};

	ciclop_board_reset(&b, 0, out, sizeof out);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		CHECK_EQ_INT(send(&b, bad[i][0], 0, &r, out, sizeof out), CICLOP_ERROR);
		CHECK_STR(r.text, bad[i][1]);
	}
	/* a laser outside 1..4 is ignored and answered ok (laser_control.c) */
	CHECK_EQ_INT(send(&b, "M71T9", 0, &r, out, sizeof out), CICLOP_OK);
	CHECK_EQ_INT(b.lasers, 0);
	b.executed = 0;
	CHECK_EQ_INT(b.refused, (long)(sizeof bad / sizeof *bad));
	CHECK_EQ_INT(b.lasers, 0);
	CHECK_NEAR(b.fw_deg, 0, 0);
	/* lower case, blanks and comments are taken, as protocol.c does */
	CHECK_EQ_INT(send(&b, "m71 t1 (left laser)", 0, &r, out, sizeof out), CICLOP_OK);
	CHECK_EQ_INT(b.lasers, 1);
	CHECK_EQ_UINT(ciclop_board_line(&b, "  ", 2, 0, out, sizeof out), 0); /* blank: no reply */
	/* a reply never overflows a small buffer */
	CHECK_EQ_UINT(ciclop_board_line(&b, "M50T1", 5, 0, out, 4), 3);
	CHECK_STR(out, "512");
}

int main(void)
{
	RUN(test_session);
	RUN(test_refusals);
	return check_summary();
}
