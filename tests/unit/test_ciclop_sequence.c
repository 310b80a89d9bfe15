/* test_ciclop_sequence.c - a scan's sequence played against the board model, time simulated. */
#include <string.h>

#include "../../bridge/util/error.h"
#include "../../drivers/ciclop/board.h"
#include "../../drivers/ciclop/sequence.h"
#include "check.h"

/* Play a whole scan: every command answered ok, every frame taken with the table arrived and only
 * the right laser lit, steps in order; returns the number of frames. */
static int play(const ciclop_scan_cfg *cfg, int *steps_seen)
{
	ciclop_board b = {0};
	ciclop_scan s;
	ciclop_action a;
	char out[128];
	double now = 0;
	int frames = 0, guard = 0;

	*steps_seen = 0;
	ciclop_board_reset(&b, 0, out, sizeof out);
	if (!CHECK(ciclop_scan_init(&s, cfg) == 0))
		return -1;
	while (ciclop_scan_next(&s, &a) != CICLOP_ACT_DONE && guard++ < 100000) {
		switch (a.kind) {
		case CICLOP_ACT_SEND: {
			size_t l = strlen(a.cmd);
			CHECK(l > 1 && a.cmd[l - 1] == '\n');
			ciclop_board_line(&b, a.cmd, l - 1, now, out, sizeof out);
			CHECK_STR(out, "ok\r\n");
			/* the reply comes when the queued motion is over, then the round trip */
			if (ciclop_board_reply_ms(&b) > now)
				now = ciclop_board_reply_ms(&b);
			now += 5;
			break;
		}
		case CICLOP_ACT_WAIT:
			CHECK(a.wait_ms >= 0);
			now += a.wait_ms;
			break;
		case CICLOP_ACT_FRAME:
			CHECK(!ciclop_board_moving(&b, now));
			CHECK_NEAR(ciclop_board_angle(&b, now), a.angle_deg, 1e-9);
			CHECK_EQ_INT(b.lasers, a.laser ? 1 << (a.laser - 1) : 0);
			CHECK_EQ_INT(a.step, *steps_seen);
			frames++;
			break;
		case CICLOP_ACT_STEP:
			CHECK_EQ_INT(a.step, *steps_seen);
			CHECK_NEAR(a.angle_deg,
				   cfg->first_deg + (cfg->step_deg != 0
							 ? cfg->step_deg * a.step
							 : 360.0 * a.step / cfg->steps),
				   1e-9);
			(*steps_seen)++;
			break;
		default: CHECK(0);
		}
	}
	CHECK(guard < 100000);
	CHECK_EQ_INT(b.motors, 0); /* left safe */
	CHECK_EQ_INT(b.lasers, 0);
	CHECK_EQ_INT(b.refused, 0);
	CHECK_EQ_INT(ciclop_scan_next(&s, &a), CICLOP_ACT_DONE); /* and stays done */
	return frames;
}

/* One and two lasers, few and many steps: frames, order, table positions. */
static void test_play(void)
{
	ciclop_scan_cfg c = {
	    .steps = 8, .lasers = 1, .speed = 200, .settle_ms = 50, .laser_ms = 30};
	int steps;

	CHECK_EQ_INT(play(&c, &steps), 16);
	CHECK_EQ_INT(steps, 8);
	c.lasers = 3, c.steps = 400, c.speed = 5000;
	CHECK_EQ_INT(play(&c, &steps), 1200);
	CHECK_EQ_INT(steps, 400);
	c.lasers = 2, c.steps = 1;
	CHECK_EQ_INT(play(&c, &steps), 2);
	CHECK_EQ_INT(steps, 1);
}

/* A calibration's sequence: from -60 degrees every 10 (the first step moves too), each frame
 * with the table arrived; the waits cover 60 + 12 * 10 degrees of moves. */
static void test_play_from_an_angle(void)
{
	ciclop_scan_cfg c = {.steps = 13,
			     .lasers = 1,
			     .speed = 600,
			     .settle_ms = 0,
			     .laser_ms = 0,
			     .first_deg = -60,
			     .step_deg = 10};
	ciclop_scan s;
	ciclop_action a;
	double total = 0;
	int steps;

	CHECK_EQ_INT(play(&c, &steps), 26);
	CHECK_EQ_INT(steps, 13);
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), 0);
	while (ciclop_scan_next(&s, &a) != CICLOP_ACT_DONE)
		if (a.kind == CICLOP_ACT_WAIT)
			total += a.wait_ms;
	CHECK_NEAR(total, 0, 0); /* no settling asked: the oks alone pace the table */
}

/* horus-fw answers a move when it is over: the sequence only waits settle_ms after it (a waiting
 * that play() shows enough: every frame is taken with the table arrived). */
static void test_wait_is_the_settling(void)
{
	ciclop_scan_cfg c = {.steps = 4, .lasers = 1, .speed = 60, .settle_ms = 70, .laser_ms = 0};
	ciclop_scan s;
	ciclop_action a;
	double total = 0;
	int steps;

	CHECK_EQ_INT(ciclop_scan_init(&s, &c), 0);
	while (ciclop_scan_next(&s, &a) != CICLOP_ACT_DONE)
		if (a.kind == CICLOP_ACT_WAIT)
			total += a.wait_ms;
	CHECK_NEAR(total, 3 * 70.0, 1e-6); /* three moves, each followed by the settling */
	CHECK_EQ_INT(play(&c, &steps), 8);
}

/* Absurd configurations are refused; the abort commands leave everything off. */
static void test_refusals_and_abort(void)
{
	ciclop_scan s;
	ciclop_scan_cfg ok = {.steps = 8, .lasers = 1, .speed = 200, .settle_ms = 0, .laser_ms = 0};
	ciclop_scan_cfg c;
	char buf[64];

	c = ok, c.steps = 0;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.steps = CICLOP_STEPS_MAX + 1;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.lasers = 0;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.lasers = 1 << CICLOP_LASERS_MAX;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.speed = 0;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.settle_ms = -1;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.first_deg = 400;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	c = ok, c.step_deg = -361;
	CHECK_EQ_INT(ciclop_scan_init(&s, &c), LB_EINVAL);
	CHECK_EQ_INT(ciclop_scan_init(&s, &ok), 0);
	CHECK_EQ_INT(ciclop_scan_abort(buf, sizeof buf), 28);
	CHECK_STR(buf, "M70T1\nM70T2\nM70T3\nM70T4\nM18\n");
	CHECK_EQ_INT(ciclop_scan_abort(buf, 28), -1);
}

int main(void)
{
	RUN(test_play);
	RUN(test_play_from_an_angle);
	RUN(test_wait_is_the_settling);
	RUN(test_refusals_and_abort);
	return check_summary();
}
