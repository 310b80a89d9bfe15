/* test_sane_glue.c - the SANE driver's glue against the simulated lab's `test` scanner: a scan
 * whose main loop stalls is slowed, not cut (every band arrives, in order), its file is written
 * by the job's writer thread (whose error fails the job), and a page's last band is flagged
 * LAST. */
#include <stdatomic.h>
#include <sys/stat.h>
#include <zmq.h>

#include "../../bridge/util/clock.h"
#include "../../protocols/scanband.h"
#include "check.h"
#include "glue.h"

/* The driver's pause threshold (drivers/sane/sane.c BACKLOG_MAX) and a band's most bytes. */
#define BACKLOG_MAX (4u << 20)
#define BAND_MAX (70u << 10)

static char dir[256]; /* XDG_RUNTIME_DIR and the job's folder */

/* What the main loop saw of the scan. */
typedef struct seen {
	uint64_t seq;	     /* the image stream's last seq */
	int gaps;	     /* seq not following, or rows not following */
	uint32_t rows;	     /* rows received */
	int bands, last;     /* bands, and those flagged LAST */
	bool last_band_last; /* the last band received was flagged LAST */
	char state[16];	     /* the job's end as told to the service ("" until then) */
	char error[256];     /* and its error, if any */
	int64_t bpl;	     /* bytes per line */
} seen;

/* The params sane's scan gives the simulated scanner (new reference), or NULL. */
static json_t *scanner_params(const lb_driver *drv)
{
	lb_scan_ctx ctx = {.simulate = true};
	json_t *params = NULL;

	for (int tries = 0; tries < 100 && !params; tries++) {
		lb_spec_list out = {0};
		if (drv->scan(drv, &ctx, &out) == 0)
			for (size_t i = 0; i < out.n && !params; i++)
				if (strcmp(out.v[i].id, "sane-test_0") == 0)
					params = json_incref(out.v[i].params);
		lb_spec_list_clear(&out);
	}
	return params;
}

/* Run the driver once: wait (really) for its poll items until its deadline (1 s at most),
 * then run at the time it is. */
static void step(glue *g, int64_t *deadline)
{
	const lb_driver *drv = g->dev->driver;
	zmq_pollitem_t items[4];
	int n = drv->pollitems(g->dev, items, 4);
	lb_now now = lb_now_read();
	long wait_ms = 1000;

	if (*deadline >= 0)
		wait_ms = *deadline <= now.mono ? 0 : (long)((*deadline - now.mono + MS - 1) / MS);
	if (wait_ms > 1000)
		wait_ms = 1000;
	if (n > 0 || wait_ms > 0)
		zmq_poll(items, n, wait_ms);
	now = lb_now_read();
	*deadline = -1;
	drv->run(g->dev, &now, items, n, deadline);
}

/* What the main loop does (server.c): take every message waiting, give its bytes back to the
 * device's budget; the image bands checked, the job's end noted. */
static void main_loop_takes(glue *g, seen *s)
{
	lb_up *m = lb_upq_take(&g->q), *next;

	for (; m; m = next) {
		next = m->next;
		if (m->meta.type == LB_CHAN_DATA) {
			atomic_fetch_sub(&g->dev->queued, 1);
			atomic_fetch_sub(&g->dev->queued_bytes, (size_t)m->meta.bytes);
			if (m->nframes == 3 && zmq_msg_size(&m->frame[0]) > 7 &&
			    memcmp((char *)zmq_msg_data(&m->frame[0]) + zmq_msg_size(&m->frame[0]) -
				       7,
				   "/image/", 7) == 0) {
				scanband_header h;
				size_t len = zmq_msg_size(&m->frame[2]);
				if (scanband_decode(zmq_msg_data(&m->frame[2]), len, &h) < 0 ||
				    m->meta.seq != s->seq + 1 || h.first_row != s->rows ||
				    len != SCANBAND_HEADER_LEN + (size_t)h.rows * h.bytes_per_line)
					s->gaps++;
				s->seq = m->meta.seq;
				s->rows += h.rows;
				s->bpl = h.bytes_per_line;
				s->bands++;
				s->last += !!(h.flags & SCANBAND_LAST);
				s->last_band_last = !!(h.flags & SCANBAND_LAST);
			}
		} else if (m->meta.type == LB_CHAN_EVENT && m->nframes == 1) {
			json_t *ev = json_loadb(zmq_msg_data(&m->frame[0]),
						zmq_msg_size(&m->frame[0]), 0, NULL);
			const char *st = json_string_value(json_object_get(ev, "state"));
			if (st)
				snprintf(s->state, sizeof s->state, "%s", st);
			if (json_is_string(json_object_get(ev, "error")))
				snprintf(s->error, sizeof s->error, "%s",
					 json_string_value(json_object_get(ev, "error")));
			json_decref(ev);
		}
		lb_up_free(m);
	}
}

/* Open the simulated scanner in g; 0, or -1 (checks failed, g finished). */
static int open_scanner(glue *g)
{
	const lb_driver *drv = lb_driver_find("sane");
	lb_scan_ctx ctx = {.simulate = true};
	lb_error err = {0};
	lb_now now = lb_now_read();

	if (!CHECK(drv != NULL) || !CHECK(drv->simulate(drv, &ctx, NULL) == 0))
		return -1;
	if (!CHECK(glue_init(g, "sane", "sane-test_0", "scanner", scanner_params(drv)) == 0) ||
	    !CHECK(g->dev->spec.params != NULL)) {
		glue_fini(g, 0);
		return -1;
	}
	if (!CHECK(drv->open(g->dev, &now, &err) == 0)) {
		fprintf(stderr, "open: %s\n", err.message);
		glue_fini(g, 0);
		return -1;
	}
	return 0;
}

/* Run the job under way to its end, the main loop taking everything (20 s at most): s. */
static void run_to_end(glue *g, seen *s)
{
	int64_t deadline = -1, end = lb_now_read().mono + 20 * SEC;

	while (!s->state[0] && lb_now_read().mono < end) {
		main_loop_takes(g, s);
		if (!s->state[0])
			step(g, &deadline);
	}
	main_loop_takes(g, s);
}

/*
 * A page whose height is a whole number of bands: its last band is full when it is read, and the
 * end of the page (EOF) brings no rows; that band is still flagged LAST. The resolution is
 * searched (grey A4, bands of 65536 / bytes_per_line rows), each try scanned to its end (a
 * cancel would cut the test backend's reader thread short, which ASan does not survive).
 */
static void test_a_page_of_whole_bands_ends_with_a_last_band(void)
{
	lb_error err = {0};
	bool found = false;
	char path[400];
	seen s = {0};
	glue g;

	if (open_scanner(&g) < 0)
		return;
	for (int dpi = 50; dpi < 120 && !found; dpi++) {
		json_t *args =
		    json_pack("{s:i,s:s,s:s,s:{s:s,s:i,s:s}}", "job", dpi, "folder", dir, "format",
			      "pnm", "settings", "mode", "Gray", "resolution", dpi, "page", "A4");
		json_t *result = NULL;
		uint64_t seq = s.seq; /* the stream's seq goes on from scan to scan */
		memset(&s, 0, sizeof s);
		s.seq = seq;
		if (CHECK(g.dev->driver->call(g.dev, "scan.start", args, &result, &err) == 0)) {
			int64_t h = json_integer_value(json_object_get(result, "height"));
			int64_t bpl = json_integer_value(json_object_get(result, "bytes_per_line"));
			found = bpl > 0 && h > 0 && h % (65536 / bpl) == 0;
			run_to_end(&g, &s);
			CHECK_STR(s.state, "done");
		}
		json_decref(args);
		json_decref(result);
		snprintf(path, sizeof path, "%s/scan-1.pnm", dir);
		unlink(path);
	}
	if (CHECK_MSG(found, "a resolution whose page is whole bands")) {
		CHECK_EQ_INT(s.gaps, 0);
		CHECK_EQ_INT(s.last, 1);
		CHECK_MSG(s.last_band_last, "the LAST band is the page's last");
	}
	glue_fini(&g, 1);
}

/* The writer thread's error fails the job: its folder gone mid-scan, the page file cannot get
 * its final name. */
static void test_an_error_of_the_writer_fails_the_job(void)
{
	json_t *args, *result = NULL;
	lb_error err = {0};
	char sub[300], part[400];
	seen s = {0};
	glue g;

	snprintf(sub, sizeof sub, "%s/job", dir);
	snprintf(part, sizeof part, "%s/.scan-1.pnm.part", sub);
	if (!CHECK(mkdir(sub, 0700) == 0) || open_scanner(&g) < 0)
		return;
	args = json_pack("{s:i,s:s,s:s,s:{s:s,s:i,s:s}}", "job", 7, "folder", sub, "format", "pnm",
			 "settings", "mode", "Gray", "resolution", 75, "page", "A4");
	if (CHECK(g.dev->driver->call(g.dev, "scan.start", args, &result, &err) == 0)) {
		CHECK(unlink(part) == 0);
		CHECK(rmdir(sub) == 0);
		run_to_end(&g, &s);
		CHECK_STR(s.state, "failed");
		CHECK(strstr(s.error, "scan-1.pnm") != NULL);
	}
	json_decref(args);
	json_decref(result);
	glue_fini(&g, 1);
	rmdir(sub);
}

static void test_a_stalled_main_loop_slows_the_scan_without_loss(void)
{
	const lb_driver *drv = lb_driver_find("sane");
	lb_error err = {0};
	json_t *args, *result = NULL;
	int64_t deadline = -1, height = 0, end;
	size_t most = 0, at_pause = 0;
	int paused_runs = 0, moved = 0;
	seen s = {0};
	char path[400];
	struct stat st;
	glue g;

	if (open_scanner(&g) < 0)
		return;
	/* A4 150 dpi colour: 1240 x 1754 px, 6.5 MB, past the pause threshold */
	args = json_pack("{s:i,s:s,s:s,s:{s:s,s:i,s:s}}", "job", 1, "folder", dir, "format", "pnm",
			 "settings", "mode", "Color", "resolution", 150, "page", "A4");
	if (!CHECK(drv->call(g.dev, "scan.start", args, &result, &err) == 0)) {
		fprintf(stderr, "scan.start: %s\n", err.message);
		goto done;
	}
	height = json_integer_value(json_object_get(result, "height"));
	CHECK(height > 1000);
	/* The main loop stalls: nothing is taken. The driver reads until the backlog passed the
	 * threshold, then pauses: 20 more runs (its deadlines) add nothing. */
	end = lb_now_read().mono + 10 * SEC;
	while (paused_runs < 20 && lb_now_read().mono < end) {
		size_t b;
		step(&g, &deadline);
		b = lb_stream_backlog(g.dev);
		if (b > most)
			most = b;
		if (b > BACKLOG_MAX) {
			if (!paused_runs++)
				at_pause = b;
			else if (b != at_pause)
				moved++;
		}
	}
	CHECK_EQ_INT(paused_runs, 20);
	CHECK_MSG(most <= BACKLOG_MAX + 2 * BAND_MAX, "the reads pause past the threshold");
	CHECK_MSG(moved == 0, "nothing published while paused");
	CHECK_MSG(atomic_load(&g.dev->queued) < LB_CHAN_HWM, "under the drop rule: nothing lost");
	CHECK(deadline >= 0); /* a paused driver is woken by its deadline */
	/* The main loop catches up: the scan goes on to its end, every band there, in order. */
	run_to_end(&g, &s);
	CHECK_STR(s.state, "done");
	CHECK_EQ_INT(s.gaps, 0);
	CHECK_EQ_INT(s.rows, height);
	CHECK_EQ_INT(s.last, 1);
	CHECK(s.bands > 64);
	/* the writer thread wrote the whole page: a PNM header, then every row */
	snprintf(path, sizeof path, "%s/scan-1.pnm", dir);
	CHECK(stat(path, &st) == 0 && st.st_size > (off_t)(height * s.bpl) &&
	      st.st_size < (off_t)(height * s.bpl) + 64);
	unlink(path);
done:
	json_decref(args);
	json_decref(result);
	glue_fini(&g, 1);
}

int main(void)
{
	const lb_driver *drv;

	snprintf(dir, sizeof dir, "/tmp/test_sane_glue-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	setenv("XDG_RUNTIME_DIR", dir, 1);
	RUN(test_a_stalled_main_loop_slows_the_scan_without_loss);
	RUN(test_a_page_of_whole_bands_ends_with_a_last_band);
	RUN(test_an_error_of_the_writer_fails_the_job);
	drv = lb_driver_find("sane");
	if (drv && drv->cleanup)
		drv->cleanup(drv);
	rmdir(dir);
	return check_summary();
}
