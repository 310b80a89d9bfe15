/* test_printer_glue.c - the Marlin printer driver's glue against its emulator (a pty), with
 * made-up times: the status and temperatures stamped with the time passed in, deadlines from
 * it, and a firmware gone silent counted as a lost ok after timeout_s of made-up time. */
#include <zmq.h>

#include "../../bridge/util/log.h"
#include "../../drivers/marlin/emulator.h"
#include "check.h"
#include "glue.h"

#define TIMEOUT_S 30 /* [marlin.NAME] timeout_s's default */

/* The params the driver's scan gives a [marlin.t] section on port path (taken over), or NULL. */
static json_t *scan_params(const char *path)
{
	const lb_driver *drv = lb_driver_find("marlin");
	json_t *cfg = json_pack("{s:{s:s}}", "marlin.t", "port", path);
	json_t *ports = json_array(), *params = NULL;
	lb_scan_ctx ctx = {.config = cfg, .ports = ports};
	lb_spec_list out = {0};

	if (drv && cfg && ports && drv->scan(drv, &ctx, &out) == 0)
		for (size_t i = 0; i < out.n && !params; i++)
			if (strcmp(out.v[i].id, "printer-t") == 0)
				params = json_incref(out.v[i].params);
	lb_spec_list_clear(&out);
	json_decref(cfg);
	json_decref(ports);
	return params;
}

/* Wait (really, up to 2 s) until the port has something to read; then run at made-up ms.
 * Returns run's result; *ready says whether the port was readable. */
static int run_when_readable(glue *g, int64_t ms, int64_t *deadline, int *ready)
{
	zmq_pollitem_t items[1];
	int n = g->dev->driver->pollitems(g->dev, items, 1);
	lb_now now = glue_at(ms);

	*ready = n == 1 && zmq_poll(items, 1, 2000) == 1;
	*deadline = -1;
	return g->dev->driver->run(g->dev, &now, items, n, deadline);
}

/* The printer's status (config_get) field key, as an integer. */
static long long status_int(glue *g, const char *key)
{
	json_t *c = g->dev->driver->config_get(g->dev);
	long long v = json_integer_value(json_object_get(c, key));

	json_decref(c);
	return v;
}

static void test_printer_runs_on_made_up_time(void)
{
	lb_error err = {0};
	marlin_emu_options o;
	marlin_emu *e;
	glue g;
	glue_msg m[64];
	const glue_msg *s, *h;
	lb_now now = glue_at(0);
	int64_t deadline;
	int n, ready, opened = 0, found = 0;

	marlin_emu_options_default(&o);
	o.time_scale = 0.01;
	e = marlin_emu_new(&o, &err);
	CHECK(e != NULL);
	if (!e)
		return;
	if (glue_init(&g, "marlin", "printer-t", "printer", scan_params(marlin_emu_path(e))) < 0 ||
	    !CHECK(g.dev->spec.params != NULL))
		goto fini;
	CHECK_EQ_INT(g.dev->driver->open(g.dev, &now, &err), 0);
	opened = g.dev->priv != NULL;
	if (!opened) {
		fprintf(stderr, "open: %s\n", err.message);
		goto fini;
	}

	/* the first run: the status goes out stamped with the time passed in, and the next
	 * wake-up is scheduled from it (idle status every 2 s, M114 at once) */
	deadline = -1;
	CHECK_EQ_INT(g.dev->driver->run(g.dev, &now, NULL, 0, &deadline), 0);
	CHECK(deadline >= T0_MONO && deadline <= T0_MONO + 2 * SEC);
	n = glue_take(&g, m, 64);
	s = glue_find(m, n, "status");
	if (CHECK(s != NULL))
		CHECK_EQ_INT(s->t_host, T0_REAL);

	/* the firmware's answers (ok T:..., M115, M114) handled at made-up 100 ms: temperatures
	 * stamped then; until nothing is in flight */
	for (int i = 0; i < 50 && !(found && status_int(&g, "inflight") == 0); i++) {
		CHECK_EQ_INT(run_when_readable(&g, 100, &deadline, &ready), 0);
		n = glue_take(&g, m, 64);
		h = glue_find(m, n, "hotend");
		if (h) {
			found = 1;
			CHECK_EQ_INT(h->t_host, T0_REAL + 100 * MS);
			CHECK_EQ_INT(h->t_dev, T0_MONO + 100 * MS);
		}
		if (!ready)
			break;
	}
	CHECK(found);
	CHECK_EQ_INT(status_int(&g, "inflight"), 0);
	CHECK_EQ_INT(status_int(&g, "timeouts"), 0);

	/* the firmware goes silent; at 2 s the position poll (M114) goes out and waits: no
	 * answer is missed before timeout_s of made-up time, one is counted lost after */
	marlin_emu_set_fault(e, MARLIN_EMU_SILENT, 0);
	now = glue_at(2000);
	deadline = -1;
	CHECK_EQ_INT(g.dev->driver->run(g.dev, &now, NULL, 0, &deadline), 0);
	CHECK_EQ_INT(status_int(&g, "inflight"), 1);
	CHECK(deadline > T0_MONO + 2000 * MS && deadline <= T0_MONO + (2 + TIMEOUT_S) * SEC);
	now = glue_at(2000 + TIMEOUT_S * 1000 - 1);
	deadline = -1;
	CHECK_EQ_INT(g.dev->driver->run(g.dev, &now, NULL, 0, &deadline), 0);
	CHECK_EQ_INT(status_int(&g, "timeouts"), 0);
	now = glue_at(2000 + TIMEOUT_S * 1000);
	deadline = -1;
	CHECK_EQ_INT(g.dev->driver->run(g.dev, &now, NULL, 0, &deadline), 0);
	CHECK_EQ_INT(status_int(&g, "timeouts"), 1);
	glue_drain(&g);
fini:
	glue_fini(&g, opened);
	marlin_emu_destroy(&e);
}

int main(void)
{
	lb_log_set_level(LB_LOG_ERROR);
	RUN(test_printer_runs_on_made_up_time);
	return check_summary();
}
