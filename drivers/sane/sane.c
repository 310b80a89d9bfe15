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
#include "../../bridge/util/config.h"
#include "../../bridge/util/log.h"
#include "../../bridge/util/yesno.h"
#include "../../protocols/scanband.h"
#include "session.h"

#define BAND_BYTES 65536	/* a band holds at least this much image data (and one row) */
#define BAND_MAX_BYTES 262144	/* ... and at most this much, unless one row is larger */
#define READ_BUDGET (1 << 20)	/* bytes read per run before the mailbox gets a turn */
#define POLL_NO_FD_NS 2000000LL /* no select fd: look again after 2 ms */
/* With a select fd, still look again after 5 ms at the latest (a safety net) */
#define POLL_FD_NS 5000000LL
/* The main loop waits this long for a discovery it just started (then lists it next scan) */
#define DISCOVER_WAIT_MS 20

/*
 * The rows of a band for a frame of par: about 1% of the page within BAND_BYTES..BAND_MAX_BYTES
 * (a big scan in fewer, larger messages: each one wakes the main loop and libzmq's thread), at
 * least one row. Never fails.
 */
static size_t band_rows(const SANE_Parameters *par)
{
	size_t bpl = (size_t)par->bytes_per_line, want = BAND_BYTES;

	if (par->lines > 0 && (size_t)par->lines * bpl / 100 > want)
		want = (size_t)par->lines * bpl / 100;
	if (want > BAND_MAX_BYTES)
		want = BAND_MAX_BYTES;
	return want / bpl ? want / bpl : 1;
}

/*
 * A `scanner` device per SANE device (id "sane-" + the SANE name, "sane-test_0"). Streams:
 * image (u8: each message one band, scanband.h's header then the rows) and progress (json:
 * {event: started|progress|done|cancelled|error, ...}). Options are SANE's own, by name, plus
 * "page". A scan is the client action "scan" (this slice: no persistent job yet).
 */

typedef struct sn_priv {
	SANE_Handle h;
	sn_options opt;
	int s_image, s_progress;
	/* the scan under way */
	atomic_bool scanning;	/* read by the halt hook */
	atomic_bool cancel_req; /* set by cancel and halt: an I/O error now means cancelled */
	atomic_bool halt_req;	/* set by halt: the cancel is the room's stop */
	SANE_Parameters par;
	uint8_t fmt;
	int select_fd;
	bool nonblock;		   /* SANE's non-blocking mode, with select_fd */
	uint8_t *band;		   /* SCANBAND_HEADER_LEN + rows_per_band * bytes_per_line */
	size_t band_len, band_cap; /* image bytes in the band, and its capacity */
	size_t step; /* most bytes a sane_read asks for: 0.5% of a page, a row at least */
	uint32_t first_row, rows_done;
	int last_pct;
	char last_state[16], last_message[160];
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
 * simulate (main thread): a private SANE configuration under the runtime dir enabling only the
 * `test` backend, one device, its geometry raised to 432 mm so that A3 (297 x 420) fits, select
 * fd and non-blocking reads on. Made once; 0 or -1.
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
	const char *base = getenv("XDG_RUNTIME_DIR");
	char tmpl[256];

	(void)drv, (void)ctx, (void)ports;
	if (*sim_dir)
		return 0;
	snprintf(tmpl, sizeof tmpl, "%s/labbridge-sane-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpl)) {
		lb_warn("sane: cannot make %s: %s", tmpl, strerror(errno));
		return -1;
	}
	if (write_file(tmpl, "dll.conf", "test\n") < 0 ||
	    write_file(tmpl, "test.conf", test_conf) < 0) {
		lb_warn("sane: cannot write the simulated lab's configuration in %s", tmpl);
		return -1;
	}
	snprintf(sim_dir, sizeof sim_dir, "%s", tmpl);
	return 0;
}

/* cleanup (shutdown, every device closed): SANE ends, the private configuration goes. */
static void sn_cleanup(const lb_driver *drv)
{
	char path[320];

	(void)drv;
	sn_shutdown();
	if (!*sim_dir)
		return;
	snprintf(path, sizeof path, "%s/dll.conf", sim_dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/test.conf", sim_dir);
	unlink(path);
	rmdir(sim_dir);
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
	if (atomic_load(&p->scanning))
		sane_cancel(p->h);
	sn_options_free(&p->opt);
	sane_close(p->h);
	sn_opened(-1);
	free(p->band);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/* ---------------------------------------------------------------- the scan */

/* Publish a json event on the progress stream: {event, rows, height, ...more}. */
static void progress(lb_device *dev, sn_priv *p, const lb_now *now, const char *event, json_t *more)
{
	json_t *e = json_pack("{s:s,s:i,s:i}", "event", event, "rows", (json_int_t)p->rows_done,
			      "height", (json_int_t)p->par.lines);

	if (e && more)
		json_object_update(e, more);
	json_decref(more);
	if (e)
		lb_stream_publish_json(dev, p->s_progress, now->real, e);
	json_decref(e);
}

/* End the scan: state done|cancelled|error (message for people), SANE told. */
static void finish(lb_device *dev, sn_priv *p, const lb_now *now, const char *state,
		   const char *message)
{
	sane_cancel(p->h); /* after EOF too: SANE's end of a scan */
	atomic_store(&p->scanning, false);
	atomic_store(&p->cancel_req, false);
	atomic_store(&p->halt_req, false);
	p->select_fd = -1;
	snprintf(p->last_state, sizeof p->last_state, "%s", state);
	snprintf(p->last_message, sizeof p->last_message, "%s", message ? message : "");
	progress(dev, p, now, state, message ? json_pack("{s:s}", "message", message) : NULL);
	lb_device_changed(dev);
}

/* Publish the whole rows of the band (last: the page's last one); keep a partial row's bytes. */
static int flush_band(lb_device *dev, sn_priv *p, const lb_now *now, bool last)
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
			     0};
	size_t rest;

	if (!rows && !last)
		return 0;
	if (p->par.lines >= 0 && (uint64_t)p->first_row + rows > (uint64_t)p->par.lines)
		return -1; /* more rows than the scanner announced */
	if (scanband_encode(&h, p->band) < 0)
		return -1;
	if (rows)
		lb_stream_publish(dev, p->s_image, now->mono, now->real, p->band,
				  (uint32_t)(SCANBAND_HEADER_LEN + rows * bpl));
	p->first_row += rows;
	p->rows_done = p->first_row;
	rest = p->band_len - rows * bpl;
	memmove(p->band + SCANBAND_HEADER_LEN, p->band + SCANBAND_HEADER_LEN + rows * bpl, rest);
	p->band_len = rest;
	return 0;
}

/* A progress event when the rows read (published or in the band) passed another 1%. */
static void note_progress(lb_device *dev, sn_priv *p, const lb_now *now)
{
	uint64_t rows = p->first_row + p->band_len / (size_t)p->par.bytes_per_line;
	int pct;

	if (p->par.lines <= 0)
		return;
	pct = (int)(rows * 100 / (uint64_t)p->par.lines);
	if (pct > p->last_pct) {
		p->last_pct = pct;
		progress(dev, p, now, "progress", json_pack("{s:i}", "percent", pct));
	}
}

/* "scan" {settings?}: apply the settings, sane_start, announce the frame; *result its shape. */
static int start_scan(lb_device *dev, sn_priv *p, const json_t *args, json_t **result,
		      lb_error *err)
{
	const char *key;
	json_t *v;
	SANE_Status st;
	uint32_t need;
	size_t rows;
	lb_now now = lb_now_read();

	if (atomic_load(&p->scanning))
		return lb_error_set(err, LB_ERR_DEVICE, "a scan is under way on this scanner");
	if (args && !json_is_object(args))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "scan takes an object of settings");
	json_object_foreach((json_t *)args, key, v)
	{
		if (sn_options_set(&p->opt, key, v, err) < 0)
			return LB_EFAIL;
	}
	if (args && json_object_size(args))
		lb_device_changed(dev);
	st = sane_start(p->h);
	if (st != SANE_STATUS_GOOD)
		return sn_status_error(err, "sane_start", st);
	st = sane_get_parameters(p->h, &p->par);
	if (st != SANE_STATUS_GOOD) {
		sane_cancel(p->h);
		return sn_status_error(err, "sane_get_parameters", st);
	}
	p->fmt = p->par.format == SANE_FRAME_GRAY  ? SCANBAND_GRAY
		 : p->par.format == SANE_FRAME_RGB ? SCANBAND_RGB
						   : 255;
	need = p->fmt == 255 ? 0
			     : scanband_line_bytes(p->fmt, (uint8_t)p->par.depth,
						   (uint32_t)p->par.pixels_per_line);
	if (!need || p->par.bytes_per_line < (SANE_Int)need || p->par.bytes_per_line > (1 << 24) ||
	    p->par.lines < -1 || !p->par.last_frame) {
		sane_cancel(p->h);
		return lb_error_set(
		    err, LB_ERR_NOT_SUPPORTED,
		    "the scanner sends frames of format %d, depth %d, %d pixels, %d "
		    "bytes per line%s: not supported yet",
		    (int)p->par.format, p->par.depth, p->par.pixels_per_line, p->par.bytes_per_line,
		    p->par.last_frame ? "" : " (three-pass)");
	}
	rows = band_rows(&p->par);
	p->band_cap = rows * (size_t)p->par.bytes_per_line;
	free(p->band);
	p->band = malloc(SCANBAND_HEADER_LEN + p->band_cap);
	if (!p->band) {
		sane_cancel(p->h);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
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
	atomic_store(&p->cancel_req, false);
	atomic_store(&p->scanning, true);
	snprintf(p->last_state, sizeof p->last_state, "scanning");
	p->last_message[0] = '\0';
	*result =
	    json_pack("{s:i,s:i,s:i,s:s,s:i,s:b}", "width", (json_int_t)p->par.pixels_per_line,
		      "height", (json_int_t)p->par.lines, "depth", (json_int_t)p->par.depth,
		      "format", p->fmt == SCANBAND_RGB ? "rgb" : "gray", "bytes_per_line",
		      (json_int_t)p->par.bytes_per_line, "select_fd", p->select_fd >= 0);
	progress(dev, p, &now, "started", json_incref(*result));
	lb_device_changed(dev);
	return 0;
}

/* Read what the scanner has (device thread); sets *deadline for the next look. */
static void read_scan(lb_device *dev, sn_priv *p, const lb_now *now, int64_t *deadline)
{
	size_t budget = READ_BUDGET;

	while (atomic_load(&p->scanning)) {
		SANE_Int len = 0;
		SANE_Status st;
		size_t room = p->band_cap - p->band_len;
		if (room > p->step)
			room = p->step; /* a progress event at least every 1% */
		if (p->nonblock) {
			/* poll before each read: SANE's advice, and the test backend (1.2.1) takes
			 * a read that finds its pipe empty for the end of the page */
			struct pollfd pfd = {p->select_fd, POLLIN, 0};
			if (poll(&pfd, 1, 0) == 0) {
				*deadline = now->mono + POLL_FD_NS;
				return;
			}
		}
		st = sane_read(p->h, p->band + SCANBAND_HEADER_LEN + p->band_len, (SANE_Int)room,
			       &len);
		if (st == SANE_STATUS_EOF) {
			if (flush_band(dev, p, now, true) < 0)
				finish(dev, p, now, "error",
				       "the scanner sent more rows than announced");
			else if (p->band_len ||
				 (p->par.lines >= 0 && p->rows_done != (uint32_t)p->par.lines))
				finish(dev, p, now, "error",
				       "the scanner ended the page before its last row");
			else
				finish(dev, p, now, "done", NULL);
			return;
		}
		if (st != SANE_STATUS_GOOD) {
			char msg[128];
			if (st == SANE_STATUS_CANCELLED || atomic_load(&p->cancel_req)) {
				finish(dev, p, now, "cancelled",
				       atomic_load(&p->halt_req) ? "room stopped" : NULL);
				return;
			}
			snprintf(msg, sizeof msg, "sane_read: %s", sane_strstatus(st));
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
		if (p->band_len == p->band_cap && flush_band(dev, p, now, false) < 0) {
			finish(dev, p, now, "error", "the scanner sent more rows than announced");
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

/* run (device thread): read what the scan under way has; *deadline for the next look. */
static int sn_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	sn_priv *p = lb_device_priv(dev);

	(void)items, (void)nitems;
	*deadline = -1;
	if (atomic_load(&p->scanning))
		read_scan(dev, p, now, deadline);
	return 0;
}

/* pollitems: the select fd while a non-blocking scan runs; none otherwise. */
static int sn_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	sn_priv *p = lb_device_priv(dev);

	if (max < 1 || !atomic_load(&p->scanning) || p->select_fd < 0)
		return 0;
	items[0] = (zmq_pollitem_t){NULL, p->select_fd, ZMQ_POLLIN, 0};
	return 1;
}

/* scan: start one; cancel: end the one under way as cancelled (nothing to cancel: false). */
static int sn_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	sn_priv *p = lb_device_priv(dev);

	if (strcmp(action, "scan") == 0)
		return start_scan(dev, p, args, result, err);
	if (strcmp(action, "cancel") == 0) {
		bool was = atomic_load(&p->scanning);
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

/* After the halt (device thread): the scan under way ends as cancelled. */
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

/*
 * The client actions of this slice: "scan" and "cancel" for students. Who may act is the
 * device's lease (a student holding it keeps others out); persistent, owned scan jobs run by a
 * service (LB_ACTION_SERVICE) come next.
 */
static const lb_action sn_actions[] = {
    {"scan", LB_ROLE_STUDENT, 0},
    {"cancel", LB_ROLE_STUDENT, 0},
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
