/* sane.c - document scanners through SANE: discovery, options, a scan streamed as image bands. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sdk/params.h"
#include "../../bridge/util/config.h"
#include "../../bridge/util/log.h"
#include "../../bridge/util/yesno.h"
#include "../../protocols/scanband.h"
#include "band.h"
#include "output.h"
#include "session.h"
#include "writer.h"

#define BAND_BYTES 65536	/* a band holds about this much image data (at least one row) */
#define READ_BUDGET (1 << 20)	/* bytes read per run before the mailbox gets a turn */
#define POLL_NO_FD_NS 2000000LL /* no select fd: look again after 2 ms */
/* With a select fd, still look again after 5 ms at the latest (a safety net) */
#define POLL_FD_NS 5000000LL
/*
 * Backpressure: past BACKLOG_MAX bytes of the device's messages waiting for the main loop
 * (lb_stream_backlog), reads pause and are tried again BACKLOG_PAUSE_NS later (the test
 * backend's pipe then fills and its reader waits): a slow main loop slows the scan instead of
 * losing bands, and the backlog's memory stays bounded.
 */
#define BACKLOG_MAX (4u << 20)
#define BACKLOG_PAUSE_NS 500000LL
/*
 * The job's writer thread (writer.h) gets the bands as they are read; past WRITER_MAX bytes of
 * rows waiting for it, reads pause until it signals (its eventfd; WRITER_WAIT_NS a safety net).
 */
#define WRITER_MAX (16u << 20)
#define WRITER_WAIT_NS 20000000LL
/* The main loop waits this long for a discovery it just started (then lists it next scan) */
#define DISCOVER_WAIT_MS 20

/*
 * A `scanner` device per SANE device (id "sane-" + the SANE name, "sane-test_0"). Streams:
 * image (u8: each message one band, scanband.h's header then the rows; the header's page counts
 * the sheets of a feeder job from 0) and progress (json: {event: started|progress|done|cancelled|
 * error, job, page, ...}). Options are SANE's own, by name, plus "page". Scans are jobs of the
 * scan service (bridge/services/scan): the service-only actions "scan.start" and "scan.cancel";
 * the job's files are written through output.h into its folder, and its progress and end told
 * to the service with lb_device_event.
 */

typedef struct sn_priv {
	SANE_Handle h;
	sn_options opt;
	int s_image, s_progress;
	/* the job under way */
	atomic_bool scanning;	/* read by the halt hook */
	atomic_bool cancel_req; /* set by cancel and halt: an I/O error now means cancelled */
	atomic_bool halt_req;	/* set by halt: the cancel is the room's stop */
	long long job;		/* the scan service's job id, 0 when none */
	sn_output *out;		/* its files, until its writer takes them over */
	sn_writer *writer;	/* the thread writing them */
	bool finishing;		/* the last sheet read: the writer completes the files */
	bool wait_writer;	/* reads wait for the writer (its eventfd polled) */
	json_t *saved;		/* the options before its settings, put back at its end */
	int page;		/* sheets delivered (pages ended) */
	int max_pages;		/* sheets to take: 0 = until the feeder is empty */
	bool adf;		/* the source is a document feeder */
	bool gone;		/* an I/O error: the scanner went away */
	bool paused;		/* reads wait for the main loop's backlog (BACKLOG_MAX) */
	double dpi;
	SANE_Parameters par;
	uint8_t fmt;
	int select_fd;
	bool nonblock;		   /* SANE's non-blocking mode, with select_fd */
	sn_band *band;		   /* SCANBAND_HEADER_LEN + rows_per_band * bytes_per_line */
	size_t band_len, band_cap; /* image bytes in the band, and its capacity */
	size_t step; /* most bytes a sane_read asks for: 0.5% of a page, a row at least */
	uint32_t first_row, rows_done;
	int last_pct;
	char last_state[16], last_message[256];
} sn_priv;

/* ---------------------------------------------------------------- the simulated lab */

static char sim_dir[256]; /* the private SANE_CONFIG_DIR, "" until simulate made it */

/* Write text to dir/name; 0 or -1. */
static int write_file(const char *dir, const char *name, const char *text)
{
	char path[320];
	FILE *f;
	int ok;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/*
 * simulate (main thread): the simulated lab's SANE configuration in the bridge's private
 * directory (sn_config_dir): a dll.conf enabling only the `test` backend, an empty dll.d (else
 * the system's dll.d would be read), and test.conf: one device, its geometry raised to 432 mm so
 * that A3 (297 x 420) fits, select fd and non-blocking reads on. Made once; 0 or -1.
 */
static int sn_simulate(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports)
{
	static const char test_conf[] = "number_of_devices 1\n"
					"mode Gray\n"
					"depth 8\n"
					"resolution 75\n"
					"test-picture \"Grid\"\n"
					"non-blocking true\n"
					"select-fd true\n"
					"geometry_min 0.0\n"
					"geometry_max 432.0\n"
					"geometry_quant 0.1\n"
					"tl_x 0.0\n"
					"tl_y 0.0\n"
					"br_x 210.0\n"
					"br_y 297.0\n";
	const char *dir = sn_config_dir();
	char dlld[320];

	(void)drv, (void)ctx, (void)ports;
	if (*sim_dir)
		return 0;
	if (!dir) {
		lb_warn("sane: cannot make a private configuration directory: %s", strerror(errno));
		return -1;
	}
	snprintf(dlld, sizeof dlld, "%s/dll.d", dir);
	if ((mkdir(dlld, 0700) < 0 && errno != EEXIST) ||
	    write_file(dir, "dll.conf", "test\n") < 0 ||
	    write_file(dir, "test.conf", test_conf) < 0) {
		lb_warn("sane: cannot write the simulated lab's configuration in %s", dir);
		return -1;
	}
	snprintf(sim_dir, sizeof sim_dir, "%s", dir);
	return 0;
}

/* cleanup (shutdown, every device closed): SANE ends, the private configuration goes. */
static void sn_cleanup(const lb_driver *drv)
{
	(void)drv;
	sn_shutdown();
	sim_dir[0] = '\0';
}

/* ---------------------------------------------------------------- scan and open */

/*
 * scan (main thread, never blocks long): starts a discovery in a worker thread when none is cached
 * for the configuration in force, and lists what the last one found. A discovery that ends
 * later shows up at the next scan (every 2 s). In the simulated lab only the private
 * configuration is used (nothing when simulate did not make it: sane is not emulated).
 * Otherwise the system's ([sane] discover = no: none, for machines whose backends misbehave).
 * A discovery just started is waited for DISCOVER_WAIT_MS at most, so that a quick one (the
 * simulated lab's takes < 1 ms) is listed by this scan rather than the next, 2 s later.
 */
static int sn_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	const char *cfg = ctx->simulate ? sim_dir : NULL;
	json_t *list, *d;
	size_t i;
	int r;

	(void)drv;
	if (ctx->simulate && !*sim_dir)
		return 0;
	if (!ctx->simulate && lb_yesno(lb_config_str(ctx->config, "sane", "discover", "yes")) == 0)
		return 0; /* [sane] discover = no: the machine's scanners stay out */
	r = sn_discover(cfg);
	if (r < 0)
		lb_warn("sane: the discovery thread did not start");
	else if (r > 0) /* just started: a quick one (the simulated lab's) is listed now */
		sn_discover_wait(DISCOVER_WAIT_MS);
	list = sn_devices(cfg);
	if (!list)
		return LB_ENOMEM;
	json_array_foreach(list, i, d)
	{
		const char *name = json_string_value(json_object_get(d, "name"));
		char id[64], title[128];
		snprintf(title, sizeof title, "%s %s",
			 json_string_value(json_object_get(d, "vendor")),
			 json_string_value(json_object_get(d, "model")));
		lb_make_id(id, sizeof id, "sane-", name);
		lb_spec_list_add(out, id, title, "scanner", ctx->simulate,
				 json_pack("{s:s}", "name", name));
	}
	json_decref(list);
	return 0;
}

/* open (device thread): sane_open, the option table, the streams. 0 or negative with err. */
static int sn_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *name =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "name"));
	sn_priv *p = calloc(1, sizeof *p);
	SANE_Status st;

	(void)now;
	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	p->select_fd = -1;
	snprintf(p->last_state, sizeof p->last_state, "idle");
	st = sane_open(name ? name : "", &p->h);
	if (st != SANE_STATUS_GOOD) {
		free(p);
		return sn_status_error(err, "sane_open", st);
	}
	sn_opened(1);
	lb_device_set_priv(dev, p);
	if (sn_options_load(&p->opt, p->h, err) < 0)
		goto fail;
	p->s_image = lb_device_add_stream(dev, "image", "image", "", LB_U8, 0);
	p->s_progress = lb_device_add_stream(dev, "progress", "scan progress", "", LB_JSON, 0);
	if (p->s_image < 0 || p->s_progress < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot declare the streams");
		goto fail;
	}
	lb_device_set_running(dev, true);
	return 0;
fail: /* close runs only after a successful open: undo here */
	sn_options_free(&p->opt);
	sane_close(p->h);
	sn_opened(-1);
	free(p);
	lb_device_set_priv(dev, NULL);
	return LB_EFAIL;
}

/* close (device thread): end a scan under way, close the handle. */
static void sn_close(lb_device *dev)
{
	sn_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (atomic_load(&p->scanning)) {
		sane_cancel(p->h);
		sn_band_pool_use(-1);
	}
	sn_writer_destroy(&p->writer); /* a job cut short by a stop: no partial file stays */
	sn_output_destroy(&p->out);
	json_decref(p->saved);
	sn_options_free(&p->opt);
	sane_close(p->h);
	sn_opened(-1);
	sn_band_unref(p->band);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/* ---------------------------------------------------------------- the scan */

/* Publish a json event on the progress stream: {event, job, page, rows, height, ...more}. */
static void progress(lb_device *dev, sn_priv *p, const lb_now *now, const char *event, json_t *more)
{
	json_t *e =
	    json_pack("{s:s,s:I,s:i,s:i,s:i}", "event", event, "job", (json_int_t)p->job, "page",
		      p->page + 1, "rows", (int)p->rows_done, "height", (int)p->par.lines);

	if (e && more)
		json_object_update(e, more);
	json_decref(more);
	if (e)
		lb_stream_publish_json(dev, p->s_progress, now->real, e);
	json_decref(e);
}

/* Put back the options a job's settings changed (the next job starts from the scanner's own
 * configuration); an option that cannot be set back is left as it is. */
static void restore_options(lb_device *dev, sn_priv *p)
{
	json_t *cur = p->saved ? sn_options_get(&p->opt) : NULL, *v;
	const char *key;
	lb_error err;

	json_object_foreach(p->saved, key, v)
	{
		if (strcmp(key, "page") != 0 && !json_equal(v, json_object_get(cur, key)))
			sn_options_set(&p->opt, key, v, &err);
	}
	json_decref(cur);
	json_decref(p->saved);
	p->saved = NULL;
	lb_device_changed(dev);
}

/*
 * End the job: state done (its output completed: results), cancelled or error (message for
 * people; the output removed). The progress stream and the scan service are told, SANE ends
 * the scan, the options come back.
 */
static void finish(lb_device *dev, sn_priv *p, const lb_now *now, const char *state,
		   const char *message)
{
	json_t *names = NULL, *ev = NULL;
	lb_error err;

	sane_cancel(p->h); /* after EOF too: SANE's end of a scan */
	if (strcmp(state, "done") == 0 &&
	    (!p->writer || sn_writer_state(p->writer, &names, &err) != 1)) {
		state = "error";
		message = p->writer ? err.message : "the job's files were not written";
	}
	/* failed, cancelled: no partial file is left */
	sn_writer_destroy(&p->writer);
	sn_output_destroy(&p->out);
	p->finishing = p->wait_writer = false;
	atomic_store(&p->scanning, false);
	sn_band_pool_use(-1);
	atomic_store(&p->cancel_req, false);
	atomic_store(&p->halt_req, false);
	p->select_fd = -1;
	snprintf(p->last_state, sizeof p->last_state, "%s", state);
	snprintf(p->last_message, sizeof p->last_message, "%s", message ? message : "");
	progress(dev, p, now, state, json_pack("{s:s?,s:i}", "message", message, "pages", p->page));
	if (strcmp(state, "done") == 0)
		ev = json_pack("{s:I,s:s,s:o}", "job", (json_int_t)p->job, "state", "done",
			       "results", names);
	else if (strcmp(state, "cancelled") == 0)
		ev = json_pack("{s:I,s:s}", "job", (json_int_t)p->job, "state", "cancelled");
	else
		ev = json_pack("{s:I,s:s,s:s}", "job", (json_int_t)p->job, "state", "failed",
			       "error", message ? message : "the scan failed");
	if (ev)
		lb_device_event(dev, ev);
	json_decref(ev);
	p->job = 0;
	restore_options(dev, p);
}

/* The job's error text for a SANE status: what the scanner says, and what to do about it. */
static void status_text(SANE_Status st, char *buf, size_t cap)
{
	const char *hint = st == SANE_STATUS_JAMMED ? " (clear the paper path, then scan again)"
			   : st == SANE_STATUS_COVER_OPEN  ? " (close it, then scan again)"
			   : st == SANE_STATUS_NO_DOCS	   ? " (put the sheets in the feeder)"
			   : st == SANE_STATUS_DEVICE_BUSY ? " (another program is using it)"
							   : "";

	snprintf(buf, cap, "the scanner reports: %s%s", sane_strstatus(st), hint);
}

/* Publish the whole rows of the band (last: the page's last one) and write them to the output;
 * a partial row's bytes go on in a new band (the stream took this one over, without a copy).
 * 0, or negative with err set. */
static int flush_band(lb_device *dev, sn_priv *p, const lb_now *now, bool last, lb_error *err)
{
	size_t bpl = (size_t)p->par.bytes_per_line;
	uint32_t rows = (uint32_t)(p->band_len / bpl);
	scanband_header h = {p->fmt,
			     (uint8_t)p->par.depth,
			     last ? SCANBAND_LAST : 0,
			     (uint32_t)p->par.pixels_per_line,
			     p->par.lines,
			     p->first_row,
			     rows,
			     (uint32_t)bpl,
			     (uint32_t)p->page};
	size_t rest = p->band_len - rows * bpl;
	sn_band *b = p->band;
	int r;

	if (!rows && !last)
		return 0;
	if (p->par.lines >= 0 && (uint64_t)p->first_row + rows > (uint64_t)p->par.lines)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "the scanner sent more rows than announced");
	if (scanband_encode(&h, b->data) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "bad band header");
	if (!rows)
		return 0;
	p->band = sn_band_new(b->cap);
	if (!p->band) {
		p->band = b;
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	memcpy(p->band->data + SCANBAND_HEADER_LEN, b->data + SCANBAND_HEADER_LEN + rows * bpl,
	       rest);
	p->band_len = rest;
	p->first_row += rows;
	p->rows_done = p->first_row;
	sn_band_ref(b); /* one reference for the stream, one for the output */
	lb_stream_publish_owned(dev, p->s_image, now->mono, now->real, b->data,
				(uint32_t)(SCANBAND_HEADER_LEN + rows * bpl), sn_band_free_fn, b);
	r = sn_writer_rows(p->writer, b, b->data + SCANBAND_HEADER_LEN, rows, rows * bpl);
	sn_band_unref(b);
	return r < 0 ? lb_error_set(err, LB_ERR_INTERNAL, "out of memory") : 0;
}

/* A progress event (stream and service) when the rows read passed another 1%. */
static void note_progress(lb_device *dev, sn_priv *p, const lb_now *now)
{
	uint64_t rows = p->first_row + p->band_len / (size_t)p->par.bytes_per_line;
	double f;
	json_t *ev;
	int pct;

	if (p->par.lines <= 0)
		return;
	pct = (int)(rows * 100 / (uint64_t)p->par.lines);
	if (pct <= p->last_pct)
		return;
	p->last_pct = pct;
	progress(dev, p, now, "progress", json_pack("{s:i}", "percent", pct));
	/* the job's fraction: of every sheet when their number is known, else of this one */
	f = p->max_pages > 0 ? (p->page + pct / 100.0) / p->max_pages : pct / 100.0;
	ev = json_pack("{s:I,s:f,s:{s:i,s:i,s:i,s:i}}", "job", (json_int_t)p->job, "fraction",
		       f > 1 ? 1.0 : f, "detail", "page", p->page + 1, "percent", pct, "rows",
		       (int)rows, "height", (int)p->par.lines);
	if (ev)
		lb_device_event(dev, ev);
	json_decref(ev);
}

/*
 * Start the next sheet: sane_start, its parameters checked, its page begun in the output.
 * 0; 1 when the feeder is empty after the first sheet (the job is complete); negative with err
 * set (a device status in words: the feeder empty at the first sheet is one).
 */
static int start_sheet(lb_device *dev, sn_priv *p, lb_error *err)
{
	SANE_Status st = sane_start(p->h);
	lb_page_shape shape;
	lb_now now = lb_now_read();
	char msg[160];
	uint32_t need;
	size_t rows;

	if (st == SANE_STATUS_NO_DOCS && p->page > 0)
		return 1;
	if (st != SANE_STATUS_GOOD) {
		status_text(st, msg, sizeof msg);
		return lb_error_set(err,
				    st == SANE_STATUS_INVAL ? LB_ERR_INVALID_PARAMS : LB_ERR_DEVICE,
				    "%s", msg);
	}
	st = sane_get_parameters(p->h, &p->par);
	if (st != SANE_STATUS_GOOD)
		return sn_status_error(err, "sane_get_parameters", st);
	p->fmt = p->par.format == SANE_FRAME_GRAY  ? SCANBAND_GRAY
		 : p->par.format == SANE_FRAME_RGB ? SCANBAND_RGB
						   : 255;
	need = p->fmt == 255 ? 0
			     : scanband_line_bytes(p->fmt, (uint8_t)p->par.depth,
						   (uint32_t)p->par.pixels_per_line);
	if (!need || p->par.bytes_per_line < (SANE_Int)need || p->par.bytes_per_line > (1 << 24) ||
	    p->par.lines < -1 || !p->par.last_frame)
		return lb_error_set(
		    err, LB_ERR_NOT_SUPPORTED,
		    "the scanner sends frames of format %d, depth %d, %d pixels, %d "
		    "bytes per line%s: not supported yet",
		    (int)p->par.format, p->par.depth, p->par.pixels_per_line, p->par.bytes_per_line,
		    p->par.last_frame ? "" : " (three-pass)");
	shape = (lb_page_shape){(uint32_t)p->par.pixels_per_line,
				p->par.lines,
				(uint8_t)(p->fmt == SCANBAND_RGB ? 3 : 1),
				(uint8_t)p->par.depth,
				p->dpi,
				p->dpi,
				(uint32_t)p->par.bytes_per_line};
	if (p->writer ? sn_writer_begin_page(p->writer, &shape) < 0
		      : sn_output_begin_page(p->out, &shape, err) < 0)
		return p->writer ? lb_error_set(err, LB_ERR_INTERNAL, "out of memory") : LB_EFAIL;
	rows = BAND_BYTES / (size_t)p->par.bytes_per_line;
	if (rows < 1)
		rows = 1;
	p->band_cap = rows * (size_t)p->par.bytes_per_line;
	sn_band_unref(p->band);
	p->band = sn_band_new(SCANBAND_HEADER_LEN + p->band_cap);
	if (!p->band)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	p->band_len = 0;
	p->step = p->par.lines > 0 ? (size_t)p->par.lines * (size_t)p->par.bytes_per_line / 200
				   : p->band_cap;
	if (p->step < (size_t)p->par.bytes_per_line)
		p->step = (size_t)p->par.bytes_per_line;
	if (p->step > 0x7fffffff)
		p->step = 0x7fffffff;
	p->first_row = p->rows_done = 0;
	p->last_pct = 0;
	p->select_fd = -1;
	/*
	 * Non-blocking reads only with a select fd to poll before each read: the test backend
	 * (1.2.1) answers a read that finds its pipe empty with length -1 and then EOF, ending the
	 * page early. Blocking reads only delay this device's own thread, one read per run.
	 */
	p->nonblock = false;
	if (sane_set_io_mode(p->h, SANE_TRUE) == SANE_STATUS_GOOD) {
		SANE_Int fd = -1;
		if (sane_get_select_fd(p->h, &fd) == SANE_STATUS_GOOD && fd >= 0) {
			p->select_fd = fd;
			p->nonblock = true;
		} else
			sane_set_io_mode(p->h, SANE_FALSE);
	}
	progress(dev, p, &now, "started",
		 json_pack("{s:i,s:i,s:i,s:s,s:i,s:b}", "width", (int)p->par.pixels_per_line,
			   "height", (int)p->par.lines, "depth", (int)p->par.depth, "format",
			   p->fmt == SCANBAND_RGB ? "rgb" : "gray", "bytes_per_line",
			   (int)p->par.bytes_per_line, "select_fd", p->select_fd >= 0));
	return 0;
}

/*
 * Apply a job's settings: each a SANE option by name (or "page"), checked against the
 * scanner's constraints; "pages" (1..1000) is the driver's own, the number of sheets to take
 * from the feeder (default: until it is empty; 1 on the flatbed). 0 or negative with err set.
 */
static int apply_settings(lb_device *dev, sn_priv *p, const json_t *settings, lb_error *err)
{
	const json_t *pages = json_object_get(settings, "pages");
	json_t *cur, *v;
	const char *key, *src;

	p->max_pages = 0;
	if (pages && (!json_is_integer(pages) || json_integer_value(pages) < 1 ||
		      json_integer_value(pages) > 1000))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "pages: the number of sheets to scan, 1 to 1000");
	p->saved = sn_options_get(&p->opt);
	json_object_foreach((json_t *)settings, key, v)
	{
		if (strcmp(key, "pages") != 0 && sn_options_set(&p->opt, key, v, err) < 0)
			return LB_EFAIL;
	}
	if (json_object_size(settings))
		lb_device_changed(dev);
	cur = sn_options_get(&p->opt);
	src = json_string_value(json_object_get(cur, SANE_NAME_SCAN_SOURCE));
	p->adf = src && (strcasestr(src, "adf") || strcasestr(src, "feeder"));
	p->dpi = json_number_value(json_object_get(cur, SANE_NAME_SCAN_RESOLUTION));
	if (!(p->dpi > 0))
		p->dpi = json_number_value(json_object_get(cur, SANE_NAME_SCAN_X_RESOLUTION));
	if (!(p->dpi > 0))
		p->dpi = 75; /* a scanner that does not say: what the test backend starts with */
	json_decref(cur);
	if (!p->adf && pages && json_integer_value(pages) > 1)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "pages: several sheets need the document feeder (source adf)");
	p->max_pages = pages ? (int)json_integer_value(pages) : p->adf ? 0 : 1;
	return 0;
}

/* Hand the job's output (first page begun) over to a writer thread of its own; 0, or negative
 * with err set (the output destroyed). */
static int start_writer(sn_priv *p, const char *folder, lb_error *err)
{
	sn_output *o = p->out;

	p->out = NULL;
	p->finishing = p->wait_writer = false;
	p->writer = sn_writer_new(o, folder, err);
	return p->writer ? 0 : LB_EFAIL;
}

/*
 * "scan.start" {job, folder, format, settings?, label?} (the scan service only): apply the
 * settings, start the first sheet, write the pages into the job's folder as they are read;
 * *result the first sheet's shape. A refusal (a scan under way, a bad setting, the scanner's
 * status) leaves no file and the options as they were.
 */
static int start_job(lb_device *dev, sn_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	const json_t *settings = json_object_get(args, "settings");
	const char *folder, *format = "pdf";
	long long job;
	bool started = false;

	if (atomic_load(&p->scanning))
		return lb_error_set(err, LB_ERR_DEVICE, "a scan is under way on this scanner");
	if (lb_param_int(args, "job", true, 1, 1LL << 53, &job, err) < 0 ||
	    lb_param_string(args, "folder", true, &folder, err) < 0 ||
	    lb_param_string(args, "format", false, &format, err) < 0)
		return LB_EFAIL;
	if (settings && !json_is_null(settings) && !json_is_object(settings))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "settings: an object");
	p->page = 0;
	p->job = job; /* its events name it from the first one */
	if (apply_settings(dev, p, json_is_object(settings) ? settings : NULL, err) < 0 ||
	    !(p->out = sn_output_new(folder, format, err)) ||
	    !(started = start_sheet(dev, p, err) == 0) || start_writer(p, folder, err) < 0) {
		lb_now now = lb_now_read();
		const char *why = err ? err->message : "the scan did not start";
		if (p->out || started)
			sane_cancel(p->h);
		sn_output_destroy(&p->out);
		snprintf(p->last_state, sizeof p->last_state, "error");
		snprintf(p->last_message, sizeof p->last_message, "%s", why);
		progress(dev, p, &now, "error",
			 json_pack("{s:s,s:i}", "message", why, "pages", p->page));
		restore_options(dev, p);
		p->job = 0;
		return LB_EFAIL;
	}
	atomic_store(&p->cancel_req, false);
	atomic_store(&p->scanning, true);
	sn_band_pool_use(1); /* bands reused until its end */
	snprintf(p->last_state, sizeof p->last_state, "scanning");
	p->last_message[0] = '\0';
	*result = json_pack("{s:I,s:i,s:i,s:i,s:s,s:i,s:b,s:i}", "job", (json_int_t)job, "width",
			    (int)p->par.pixels_per_line, "height", (int)p->par.lines, "depth",
			    (int)p->par.depth, "format", p->fmt == SCANBAND_RGB ? "rgb" : "gray",
			    "bytes_per_line", (int)p->par.bytes_per_line, "adf", p->adf, "pages",
			    p->max_pages);
	lb_device_changed(dev);
	return 0;
}

/* The end of a sheet: its page ended; the next sheet from the feeder, or the job's end. */
static void end_sheet(lb_device *dev, sn_priv *p, const lb_now *now)
{
	lb_error err;
	int r;

	if (flush_band(dev, p, now, true, &err) < 0) {
		finish(dev, p, now, "error", err.message);
		return;
	}
	if (p->band_len || (p->par.lines >= 0 && p->rows_done != (uint32_t)p->par.lines)) {
		finish(dev, p, now, "error", "the scanner ended the page before its last row");
		return;
	}
	if (sn_writer_end_page(p->writer) < 0) {
		finish(dev, p, now, "error", "out of memory");
		return;
	}
	p->page++;
	r = !p->adf || (p->max_pages > 0 && p->page >= p->max_pages) ? 1
								     : start_sheet(dev, p, &err);
	if (r < 0) {
		finish(dev, p, now, "error", err.message);
	} else if (r == 1) {
		/* every sheet read (or the feeder empty): done once the writer completed the files
		 */
		if (sn_writer_finish(p->writer, p->page) < 0)
			finish(dev, p, now, "error", "out of memory");
		else
			p->finishing = true;
	}
}

/*
 * Whether the reads wait for the writer: its queue full (WRITER_MAX), or the files being
 * completed after the last sheet; *deadline then set (a safety net: its eventfd wakes us). Ends
 * the job when the writer failed (error) or completed the files (done).
 */
static bool writer_wait(lb_device *dev, sn_priv *p, const lb_now *now, int64_t *deadline)
{
	lb_error err;

	for (bool armed = false;; armed = true) {
		int st = sn_writer_state(p->writer, NULL, &err);
		if (st != 0) {
			finish(dev, p, now, st == 1 ? "done" : "error",
			       st == 1 ? NULL : err.message);
			return true;
		}
		if (!p->finishing && sn_writer_queued(p->writer) < WRITER_MAX) {
			p->wait_writer = false;
			return false;
		}
		if (armed)
			break;
		/* armed, then looked at again: an operation done meanwhile is not missed */
		sn_writer_arm(p->writer);
	}
	p->wait_writer = true;
	*deadline = now->mono + WRITER_WAIT_NS;
	return true;
}

/* Read what the scanner has (device thread); sets *deadline for the next look. */
static void read_scan(lb_device *dev, sn_priv *p, const lb_now *now, int64_t *deadline)
{
	size_t budget = READ_BUDGET;
	lb_error err;

	while (atomic_load(&p->scanning)) {
		SANE_Int len = 0;
		SANE_Status st;
		size_t room = p->band_cap - p->band_len;
		if (room > p->step)
			room = p->step; /* a progress event at least every 1% */
		if (writer_wait(dev, p, now, deadline))
			return;
		p->paused = lb_stream_backlog(dev) > BACKLOG_MAX;
		if (p->paused) { /* no select fd meanwhile: the deadline wakes us */
			*deadline = now->mono + BACKLOG_PAUSE_NS;
			return;
		}
		if (p->nonblock) {
			/* poll before each read: SANE's advice, and the test backend (1.2.1) takes
			 * a read that finds its pipe empty for the end of the page */
			struct pollfd pfd = {p->select_fd, POLLIN, 0};
			if (poll(&pfd, 1, 0) == 0) {
				*deadline = now->mono + POLL_FD_NS;
				return;
			}
		}
		st = sane_read(p->h, p->band->data + SCANBAND_HEADER_LEN + p->band_len,
			       (SANE_Int)room, &len);
		if (st == SANE_STATUS_EOF) {
			end_sheet(dev, p, now);
			*deadline = now->mono; /* the next sheet, if any, at once */
			return;
		}
		if (st != SANE_STATUS_GOOD) {
			char msg[160];
			if (st == SANE_STATUS_CANCELLED || atomic_load(&p->cancel_req)) {
				finish(dev, p, now, "cancelled",
				       atomic_load(&p->halt_req) ? "room stopped" : NULL);
				return;
			}
			if (st == SANE_STATUS_IO_ERROR) {
				/* unplugged, or its link failed: the device goes, discovery finds
				 * it again if it is still there */
				finish(dev, p, now, "error",
				       "the scanner went away during the scan (Error during device "
				       "I/O)");
				p->gone = true;
				return;
			}
			status_text(st, msg, sizeof msg);
			finish(dev, p, now, "error", msg);
			return;
		}
		if (len < 0)
			len = 0; /* the test backend passes on read(2)'s -1 (EAGAIN) as a length */
		if ((size_t)len > room) {
			finish(dev, p, now, "error", "sane_read returned a bad length");
			return;
		}
		if (len == 0) { /* non-blocking, nothing yet */
			*deadline = now->mono + (p->select_fd >= 0 ? POLL_FD_NS : POLL_NO_FD_NS);
			return;
		}
		p->band_len += (size_t)len;
		/* a full band that ends the page is its last: flagged now (EOF brings no rows) */
		if (p->band_len == p->band_cap &&
		    flush_band(dev, p, now,
			       p->par.lines >= 0 &&
				   p->first_row + p->band_len / (size_t)p->par.bytes_per_line ==
				       (uint64_t)p->par.lines,
			       &err) < 0) {
			finish(dev, p, now, "error", err.message);
			return;
		}
		note_progress(dev, p, now);
		if (!p->nonblock || budget <= (size_t)len) {
			*deadline = now->mono; /* more at once, after the mailbox */
			return;
		}
		budget -= (size_t)len;
	}
}

/* run (device thread): read what the scan under way has; *deadline for the next look.
 * LB_EGONE after an I/O error: the scanner is gone. */
static int sn_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	sn_priv *p = lb_device_priv(dev);

	*deadline = -1;
	if (p->writer && nitems > 0 && items[0].fd == sn_writer_fd(p->writer) && items[0].revents)
		sn_writer_drain(p->writer);
	if (atomic_load(&p->scanning))
		read_scan(dev, p, now, deadline);
	if (p->gone) {
		return LB_EGONE;
	}
	return 0;
}

/* pollitems: while a scan runs, the writer's eventfd when the reads wait for it, else the select
 * fd of a non-blocking scan (not while paused for the main loop's backlog); none otherwise. */
static int sn_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	sn_priv *p = lb_device_priv(dev);

	if (max < 1 || !atomic_load(&p->scanning))
		return 0;
	if (p->writer && p->wait_writer) {
		items[0] = (zmq_pollitem_t){NULL, sn_writer_fd(p->writer), ZMQ_POLLIN, 0};
		return 1;
	}
	if (p->select_fd < 0 || p->paused)
		return 0;
	items[0] = (zmq_pollitem_t){NULL, p->select_fd, ZMQ_POLLIN, 0};
	return 1;
}

/* scan.start: a job; scan.cancel {job}: end that job as cancelled (not running: false). */
static int sn_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	sn_priv *p = lb_device_priv(dev);

	if (strcmp(action, "scan.start") == 0)
		return start_job(dev, p, args, result, err);
	if (strcmp(action, "scan.cancel") == 0) {
		long long job = 0;
		bool was;
		if (lb_param_int(args, "job", true, 1, 1LL << 53, &job, err) < 0)
			return LB_EFAIL;
		was = atomic_load(&p->scanning) && p->job == job;
		if (was) {
			lb_now now = lb_now_read();
			atomic_store(&p->cancel_req, true);
			finish(dev, p, &now, "cancelled", NULL);
		}
		*result = json_pack("{s:b}", "cancelled", was);
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "no action '%s'", action);
}

/* The halt hook (another thread): sane_cancel, which SANE allows from any thread; the device
 * thread's next sane_read returns CANCELLED (or an I/O error, read as a cancel). */
static int sn_halt(lb_device *dev)
{
	sn_priv *p = lb_device_priv(dev);

	if (atomic_load(&p->scanning)) {
		atomic_store(&p->halt_req, true);
		atomic_store(&p->cancel_req, true);
		sane_cancel(p->h);
	}
	return 0;
}

/* After the halt (device thread): the job under way ends as cancelled. */
static void sn_halted(lb_device *dev, const lb_now *now)
{
	sn_priv *p = lb_device_priv(dev);

	if (atomic_load(&p->scanning))
		finish(dev, p, now, "cancelled", "room stopped");
}
/* config_get: the options' values (NULL when out of memory). */
static json_t *sn_config_get(lb_device *dev)
{
	return sn_options_get(&((sn_priv *)lb_device_priv(dev))->opt);
}

/* limits_get: the options' ranges and values (NULL when out of memory). */
static json_t *sn_limits_get(lb_device *dev)
{
	return sn_options_limits(&((sn_priv *)lb_device_priv(dev))->opt);
}

/* config_set: one option, checked; refused during a scan. 0 or negative with err. */
static int sn_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	sn_priv *p = lb_device_priv(dev);
	int r;

	if (atomic_load(&p->scanning))
		return lb_error_set(err, LB_ERR_DEVICE, "a scan is under way on this scanner");
	r = sn_options_set(&p->opt, key, value, err);
	lb_device_changed(dev); /* a failed set may still have changed others (reload) */
	return r;
}

/* describe: {state: idle|scanning|done|cancelled|error, rows, message?}. */
static json_t *sn_describe(lb_device *dev)
{
	sn_priv *p = lb_device_priv(dev);
	json_t *d =
	    json_pack("{s:s,s:i}", "state", p->last_state, "rows", (json_int_t)p->rows_done);

	if (d && *p->last_message)
		json_object_set_new(d, "message", json_string(p->last_message));
	return d;
}

/* For the scan service only: a scan is a job (owned, queued, persistent), never a client's
 * direct call; clients use scan.submit and jobs.cancel. */
static const lb_action sn_actions[] = {
    {"scan.start", LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {"scan.cancel", LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {NULL, 0, 0},
};

static lb_driver sane_driver = {
    .name = "sane",
    .description = "Document scanners through SANE (USB and network)",
    .scan = sn_scan,
    .open = sn_open,
    .close = sn_close,
    .config_get = sn_config_get,
    .limits_get = sn_limits_get,
    .describe = sn_describe,
    .config_set = sn_config_set,
    .actions = sn_actions,
    .call = sn_call,
    .pollitems = sn_pollitems,
    .run = sn_run,
    .simulate = sn_simulate,
    .cleanup = sn_cleanup,
    .halt = sn_halt,
    .halted = sn_halted,
};
LB_REGISTER_DRIVER(sane_driver);
