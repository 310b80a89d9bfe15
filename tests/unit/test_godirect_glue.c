/* test_godirect_glue.c - the Go Direct driver's glue against its emulated GDX-FOR, with made-up
 * times: t_dev counted from the made-up open and start, rows without gaps, deadlines, stop. */
#include <time.h>

#include "../../bridge/util/log.h"
#include "check.h"
#include "glue.h"

/* Run at a made-up moment until some data messages came (at most max, about 4 s of real time
 * at the most: each run waits at most 20 ms per read); how many, into m. */
static int run_until_data(glue *g, int64_t ms, glue_msg *m, int max, int64_t *deadline, int *rc)
{
	lb_now now = glue_at(ms);
	int n = 0;

	for (int i = 0; i < 200 && n == 0; i++) {
		*deadline = -1;
		*rc = g->dev->driver->run(g->dev, &now, NULL, 0, deadline);
		if (*rc != 0)
			break;
		n = glue_take(g, m, max);
	}
	return n;
}

/* Opened without autostart at T0, set to 10 ms rows, started at T0 + 500 ms: the first row's
 * t_dev is 500 ms (the device counts from the open), each message follows the last one's rows
 * exactly; t_host is the packet's arrival on the real clock (a blocking read's edge), minus the
 * rows before the last; while streaming the deadline is "now"; stopped, nothing is read. */
static void test_rows_follow_made_up_start(void)
{
	lb_error err = {0};
	glue g;
	glue_msg m[16];
	lb_now now = glue_at(0);
	int64_t deadline, next_t_dev = 0, real0, real1;
	int n, rc = 0, opened = 0, rows = 0;
	char topic[128] = "";
	json_t *v;

	if (glue_init(&g, "godirect", "godirect-emu", "sensor",
		      json_pack("{s:s,s:b,s:b}", "port", "emulated", "emulated", 1, "autostart",
				0)) < 0) {
		CHECK(0);
		return;
	}
	CHECK_EQ_INT(g.dev->driver->open(g.dev, &now, &err), 0);
	opened = g.dev->priv != NULL;
	if (!opened) {
		fprintf(stderr, "open: %s\n", err.message);
		goto fini;
	}
	CHECK(!lb_device_running(g.dev));
	CHECK(lb_device_nstreams(g.dev) >= 1);
	/* not measuring: run reads nothing and leaves the deadline alone */
	CHECK_EQ_INT(run_until_data(&g, 100, m, 16, &deadline, &rc), 0);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(deadline, -1);

	v = json_integer(10000);
	CHECK_EQ_INT(g.dev->driver->config_set(g.dev, "period_us", v, &err), 0);
	json_decref(v);
	{
		struct timespec a;
		clock_gettime(CLOCK_REALTIME, &a);
		real0 = (int64_t)a.tv_sec * SEC + a.tv_nsec;
	}
	now = glue_at(500);
	CHECK_EQ_INT(g.dev->driver->start(g.dev, &now, &err), 0);
	lb_device_set_running(g.dev, true);
	CHECK_EQ_INT(glue_take(&g, m, 16), 0); /* no row before the start */

	while (rows < 10) {
		struct timespec b;
		n = run_until_data(&g, 600, m, 16, &deadline, &rc);
		clock_gettime(CLOCK_REALTIME, &b);
		real1 = (int64_t)b.tv_sec * SEC + b.tv_nsec;
		CHECK_EQ_INT(rc, 0);
		if (!CHECK(n > 0))
			break;
		CHECK_EQ_INT(deadline, T0_MONO + 600 * MS);
		if (!topic[0]) {
			/* the first row: counted from the open, both made up */
			snprintf(topic, sizeof topic, "%s", m[0].topic);
			CHECK_EQ_INT(m[0].seq, 1);
			CHECK_EQ_INT(m[0].t_dev, 500 * MS);
			next_t_dev = 500 * MS;
		}
		for (int i = 0; i < n; i++) {
			if (strcmp(m[i].topic, topic) != 0)
				continue;
			/* the rows follow each other without a gap */
			CHECK_EQ_INT(m[i].t_dev, next_t_dev);
			next_t_dev = m[i].t_dev + m[i].count * 10 * MS;
			/* arrival on the real clock (the read blocks), since the start */
			CHECK(m[i].t_host + (m[i].count - 1) * 10 * MS >= real0);
			CHECK(m[i].t_host + (m[i].count - 1) * 10 * MS <= real1);
			rows += (int)m[i].count;
		}
	}
	CHECK(rows >= 10);

	CHECK_EQ_INT(g.dev->driver->stop(g.dev, &err), 0);
	lb_device_set_running(g.dev, false);
	glue_drain(&g);
	now = glue_at(700);
	deadline = -1;
	CHECK_EQ_INT(g.dev->driver->run(g.dev, &now, NULL, 0, &deadline), 0);
	CHECK_EQ_INT(deadline, -1);
	CHECK_EQ_INT(glue_take(&g, m, 16), 0);
fini:
	glue_fini(&g, opened);
}

int main(void)
{
	lb_log_set_level(LB_LOG_ERROR);
	RUN(test_rows_follow_made_up_start);
	return check_summary();
}
