/* test_modbus_glue.c - the Modbus driver's glue against its emulator (TCP on loopback), with
 * made-up times: polling deadlines, t_dev/t_host stamping, stop/start, silent units gone. */
#include <math.h>

#include "../../drivers/modbus/emulator.h"
#include "check.h"
#include "glue.h"
#include "../../bridge/util/log.h"

/* The params scan gives a [modbus.t] section on the emulator's TCP port. */
static json_t *params(const modbus_emu *e, const char *period_ms, const char *timeout_ms,
		      const char *max_timeouts)
{
	char tcp[32];

	snprintf(tcp, sizeof tcp, "127.0.0.1:%d", modbus_emu_port(e));
	return json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "name", "t", "section", "tcp", tcp,
			 "period_ms", period_ms, "timeout_ms", timeout_ms, "max_timeouts",
			 max_timeouts, "channel.temperature", modbus_emu_channels[0].desc,
			 "channel.humidity", modbus_emu_channels[1].desc);
}

/* Run the driver at a made-up moment; returns run's result, the deadline in *deadline. */
static int run_at(glue *g, int64_t ms, int64_t *deadline)
{
	lb_now now = glue_at(ms);

	*deadline = -1;
	return g->dev->driver->run(g->dev, &now, NULL, 0, deadline);
}

/* Every channel is read at the start and then every period_ms of the made-up clock: a poll on
 * time is stamped at its due instant, a late one (50 ms or more) when it was read, and the
 * deadline is always the next due poll. */
static void test_polls_follow_made_up_time(void)
{
	lb_error err = {0};
	modbus_emu *e = modbus_emu_new(MODBUS_EMU_TCP, &err);
	glue g;
	glue_msg m[8];
	const glue_msg *t, *h;
	lb_now now = glue_at(0);
	int64_t deadline;
	int n, opened = 0;

	CHECK(e != NULL);
	if (!e || glue_init(&g, "modbus", "modbus-t", "sensor", params(e, "100", "300", "3")) < 0)
		goto out;
	CHECK_EQ_INT(g.dev->driver->open(g.dev, &now, &err), 0);
	opened = g.dev->priv != NULL;
	if (!opened) {
		fprintf(stderr, "open: %s\n", err.message);
		goto fini;
	}
	CHECK(lb_device_running(g.dev));
	CHECK_EQ_INT(lb_device_nstreams(g.dev), 2);
	glue_take(&g, m, 8); /* what open published (nothing expected) */

	/* the first poll: stamped exactly at the start */
	CHECK_EQ_INT(run_at(&g, 0, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 100 * MS);
	n = glue_take(&g, m, 8);
	CHECK_EQ_INT(n, 2);
	t = glue_find(m, n, "temperature");
	h = glue_find(m, n, "humidity");
	CHECK(t && h);
	if (t && h) {
		CHECK_EQ_INT(t->t_host, T0_REAL);
		CHECK_EQ_INT(t->t_dev, T0_MONO);
		CHECK(t->last == 21.5);
		CHECK(fabs(h->last - 45.6) < 1e-4);
		CHECK_EQ_INT(h->t_host, T0_REAL);
	}

	/* before the deadline: nothing read, the same deadline */
	CHECK_EQ_INT(run_at(&g, 30, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 100 * MS);
	CHECK_EQ_INT(glue_take(&g, m, 8), 0);

	/* 10 ms late: on time, stamped at the due instant on both clocks */
	CHECK_EQ_INT(run_at(&g, 110, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 200 * MS);
	n = glue_take(&g, m, 8);
	CHECK_EQ_INT(n, 2);
	t = glue_find(m, n, "temperature");
	if (CHECK(t != NULL)) {
		CHECK_EQ_INT(t->t_dev, T0_MONO + 100 * MS);
		CHECK_EQ_INT(t->t_host, T0_REAL + 100 * MS);
		CHECK_EQ_INT(t->seq, 2);
	}

	/* 300 ms late: stamped when read; the missed polls are skipped, not burst */
	CHECK_EQ_INT(run_at(&g, 500, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 600 * MS);
	n = glue_take(&g, m, 8);
	CHECK_EQ_INT(n, 2);
	t = glue_find(m, n, "temperature");
	if (CHECK(t != NULL)) {
		CHECK_EQ_INT(t->t_dev, T0_MONO + 500 * MS);
		CHECK_EQ_INT(t->t_host, T0_REAL + 500 * MS);
		CHECK_EQ_INT(t->seq, 3);
	}

	/* stopped (as the core stops it): no polls, no deadline */
	CHECK_EQ_INT(g.dev->driver->stop(g.dev, &err), 0);
	lb_device_set_running(g.dev, false);
	CHECK_EQ_INT(run_at(&g, 700, &deadline), 0);
	CHECK_EQ_INT(deadline, -1);
	CHECK_EQ_INT(glue_take(&g, m, 8), 0);

	/* started again at 2 s: the first poll is stamped at the start, the next period on */
	now = glue_at(2000);
	CHECK_EQ_INT(g.dev->driver->start(g.dev, &now, &err), 0);
	lb_device_set_running(g.dev, true);
	CHECK_EQ_INT(run_at(&g, 2000, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 2100 * MS);
	n = glue_take(&g, m, 8);
	t = glue_find(m, n, "temperature");
	if (CHECK(t != NULL)) {
		CHECK_EQ_INT(t->t_dev, T0_MONO + 2000 * MS);
		CHECK_EQ_INT(t->t_host, T0_REAL + 2000 * MS);
	}
fini:
	glue_fini(&g, opened);
out:
	modbus_emu_destroy(&e);
}

/* A unit that stops answering: each poll times out (the rest of that poll skipped, the next
 * one a period later), max_timeouts in a row make the device gone; an answer in between
 * starts the count again. */
static void test_silent_unit_is_gone(void)
{
	lb_error err = {0};
	modbus_emu *e = modbus_emu_new(MODBUS_EMU_TCP, &err);
	glue g;
	glue_msg m[8];
	lb_now now = glue_at(0);
	int64_t deadline;
	int opened = 0;
	json_t *cfg;

	CHECK(e != NULL);
	if (!e || glue_init(&g, "modbus", "modbus-t", "sensor", params(e, "100", "100", "3")) < 0)
		goto out;
	CHECK_EQ_INT(g.dev->driver->open(g.dev, &now, &err), 0);
	opened = g.dev->priv != NULL;
	if (!opened)
		goto fini;
	modbus_emu_set_fault(e, MODBUS_EMU_SILENT, 0);
	CHECK_EQ_INT(run_at(&g, 0, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 100 * MS);
	CHECK_EQ_INT(run_at(&g, 100, &deadline), 0);
	CHECK_EQ_INT(deadline, T0_MONO + 200 * MS);
	CHECK_EQ_INT(glue_take(&g, m, 8), 0);

	/* it answers again: the count restarts */
	modbus_emu_set_fault(e, MODBUS_EMU_OK, 0);
	CHECK_EQ_INT(run_at(&g, 200, &deadline), 0);
	CHECK_EQ_INT(glue_take(&g, m, 8), 2);
	modbus_emu_set_fault(e, MODBUS_EMU_SILENT, 0);
	CHECK_EQ_INT(run_at(&g, 300, &deadline), 0);
	CHECK_EQ_INT(run_at(&g, 400, &deadline), 0);
	CHECK_EQ_INT(run_at(&g, 500, &deadline), LB_EGONE);
	CHECK_EQ_INT(glue_take(&g, m, 8), 0);
	cfg = g.dev->driver->config_get(g.dev);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(cfg, "stats"), "timeouts")),
		     5);
	json_decref(cfg);
fini:
	glue_fini(&g, opened);
out:
	modbus_emu_destroy(&e);
}

/* open fails, with a message naming the unit, when it does not answer the first read. */
static void test_open_fails_on_a_silent_unit(void)
{
	lb_error err = {0};
	modbus_emu *e = modbus_emu_new(MODBUS_EMU_TCP, &err);
	glue g;
	lb_now now = glue_at(0);

	CHECK(e != NULL);
	if (!e || glue_init(&g, "modbus", "modbus-t", "sensor", params(e, "100", "20", "3")) < 0)
		goto out;
	modbus_emu_set_fault(e, MODBUS_EMU_SILENT, 0);
	CHECK(g.dev->driver->open(g.dev, &now, &err) < 0);
	CHECK_CONTAINS(err.message, "no answer from unit 1");
	CHECK(g.dev->priv == NULL);
	glue_fini(&g, 0);
out:
	modbus_emu_destroy(&e);
}

int main(void)
{
	lb_log_set_level(LB_LOG_ERROR);
	RUN(test_polls_follow_made_up_time);
	RUN(test_silent_unit_is_gone);
	RUN(test_open_fails_on_a_silent_unit);
	return check_summary();
}
