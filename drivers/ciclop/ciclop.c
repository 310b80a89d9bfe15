/* ciclop.c - open Ciclop/Horus 3D scanners (turntable + line lasers over serial, a UVC camera):
 * glue: scan, open, the scan job driven by sequence.c, points and progress streams, halt. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sdk/params.h"
#include "../../bridge/sdk/serial.h"
#include "../../bridge/sim/emulated.h"
#include "../../bridge/util/log.h"
#include "../../protocols/ciclop.h"
#include "../../protocols/pointbatch.h"
#include "calib.h"
#include "calibrate.h"
#include "camera.h"
#include "emulator.h"
#include "ply.h"
#include "recon.h"
#include "sequence.h"

/*
 * Configuration: [ciclop.NAME] port = /dev/ttyUSB0 (115200 baud), camera = /dev/video0, width =
 * 1280, height = 960 (the camera's frame size, which the calibration must match), flush = 2
 * (frames dropped before each one kept: those buffered before the lasers changed), title = ...
 * The simulated lab's board is found by its port hint "ciclop"; its camera is the renderer.
 *
 * Open: Ctrl-X (horus-fw's soft reset) and wait up to GREETING_MS for "Horus 0.2 ['$' for
 * help]" (or a Grbl greeting); the calibration <data dir>/calibration/<id>.json is read (the
 * simulated lab's is written from the renderer's geometry when there is none).
 *
 * Link: one command in flight, answered "ok" (horus-fw answers G1 when the move is over: its
 * deadline is OK_MS plus the move's time with the firmware's ramps); no answer in time:
 * "turntable not answering"; "error: ..." and "ALARM: ..." end
 * the scan with the board's words; any other line during a scan: garbage, the scan fails.
 * Commands written without waiting (the halt hook's, a failed scan's safety commands) are owed
 * their replies, which are taken in order before the next command's.
 *
 * The scan is a job of the scan service: service-only actions scan.start {job, folder, format,
 * settings} and scan.cancel {job}; one json event per step on progress and one point batch
 * (protocols/pointbatch.h) on points; the PLY written as <folder>/.scan.ply.part, renamed
 * scan.ply when complete, removed otherwise.
 *
 * Calibration: calibration.run (a teacher's; it turns the table and lights the lasers) plays the
 * same sequence over CAL_VIEWS table angles (CAL_FIRST_DEG, every CAL_STEP_DEG) with the
 * chessboard plate on the table, each frame handed to calibrate.h as it is taken; at the end the
 * fit, stored (calib.c) when it succeeds, the previous calibration kept when it fails. Progress
 * and the outcome as device events {"calibration": {...}} and on the progress stream; the last
 * outcome in calibration.get's "last_run".
 */

#define BAUD 115200
#define GREETING_MS 4000 /* an Arduino boots in about 2 s after the DTR reset of the open */
#define CAMERA_COMMANDED "test:commanded" /* tests only: see open_camera */
#define OK_MS 2000 /* horus-fw answers a line at once (G1: plus the move's time) */
#define SIM_SERIAL "sim-1"
#define CAL_VIEWS 13
#define FIT_POLL_MS 20
#define CAL_FIRST_DEG -60.0
#define CAL_STEP_DEG 10.0

/* J_FITTING: a calibration's frames all taken, the chessboard search (calibrate.h's thread)
 * still going; polled every FIT_POLL_MS. */
typedef enum { J_IDLE, J_GREET, J_NEXT, J_OK, J_WAIT, J_ENDING, J_FITTING } job_phase;

typedef struct cc_job {
	long long id;
	job_phase phase;
	ciclop_scan seq;
	int steps, lasers;
	int64_t until_ns;	      /* J_WAIT: monotonic */
	char part[1100], final[1100]; /* the PLY being written, and its name when done */
	FILE *f;
	ciclop_ply *ply;
	ciclop_source *cam;
	ciclop_detect_opts det;
	ciclop_roi roi;
	uint8_t *off, *tex; /* the step's laser-off frame (grey) and texture (RGB) */
	float *cols;
	ciclop_point *pts; /* the step's points (height * lasers) */
	size_t npts, cap;
	uint8_t *batch; /* the points message */
	unsigned long total;
	/* the end under way (J_ENDING): the state and error to report once the board is safe */
	const char *end_state;
	char end_error[256];
	char abort_cmds[128];
	size_t abort_off, abort_len;
	/* calibration.run's job (calibrating != 0): the frames go to calr */
	int calibrating, found;
	ciclop_calibrator *calr;
	int64_t started_ns;
} cc_job;

typedef struct cc_priv {
	lb_device *dev;
	lb_serial *port;
	char path[256];
	lb_now now;
	int s_points, s_progress;
	int simulated;
	char camera[256];
	int width, height, flush;
	/* the halt hook's fd and commands (every laser off, motor off) */
	int halt_fd;
	char halt_cmds[128];
	size_t halt_len;
	int halt_ncmds;
	atomic_uint halt_begun, halt_failed;
	unsigned halt_adopted;
	/* calibration */
	char cal_path[1100];
	ciclop_calib cal;
	int have_cal;
	char cal_error[1200];
	json_t *cal_last; /* calibration.run's last outcome (NULL: none yet) */
	/* the link */
	ciclop_splitter sp;
	char version[CICLOP_TEXT_MAX];
	int greeted;
	int inflight;
	char cmd[CICLOP_CMD_MAX];
	int64_t ok_deadline_ms;
	int ok_timeout_ms; /* of the command in flight */
	int owed;	   /* replies due to commands written without waiting */
	unsigned long sent, oks, errors, alarms, timeouts, stray, garbage;
	/* the board as last acknowledged */
	int lasers, motors;
	double angle;
	int gone;
	cc_job job;
} cc_priv;

/* The simulated lab's board and camera faults (main thread writes; device threads ref). */
static pthread_mutex_t sim_lock = PTHREAD_MUTEX_INITIALIZER;
static ciclop_emu *sim_emu;
static atomic_int sim_camera_fault;
static atomic_int sim_no_plate; /* the calibration plate left off the simulated table */

/* The link's time: monotonic milliseconds. */
static int64_t ms_of(const lb_now *now)
{
	return now->mono / 1000000;
}

/* ---------------------------------------------------------------- scan (devices) */

/* scan: configured [ciclop.NAME] sections, and ports whose hint is "ciclop" (the emulator). */
static int cc_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	lb_config_device d = {0};
	json_t *port;
	size_t i;
	const char *dd = ctx->data_dir ? ctx->data_dir : "";

	(void)drv;
	while (lb_scan_sections(ctx, "ciclop", "ciclop-", "Ciclop 3D scanner", &d)) {
		const char *path =
		    lb_scan_port(ctx, d.section, "port", out, d.id, d.title, "scanner3d");
		const char *cam = json_string_value(json_object_get(d.options, "camera"));
		const char *w = json_string_value(json_object_get(d.options, "width"));
		const char *h = json_string_value(json_object_get(d.options, "height"));
		const char *fl = json_string_value(json_object_get(d.options, "flush"));
		if (path)
			lb_spec_list_add(out, d.id, d.title, "scanner3d", false,
					 json_pack("{s:s,s:s,s:i,s:i,s:i,s:s}", "path", path,
						   "camera", cam ? cam : "/dev/video0", "width",
						   w ? atoi(w) : 1280, "height", h ? atoi(h) : 960,
						   "flush", fl ? atoi(fl) : 2, "data_dir", dd));
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *serial = json_string_value(json_object_get(port, "serial"));
		const char *path = json_string_value(json_object_get(port, "path"));
		const char *hint = json_string_value(json_object_get(port, "driver"));
		char id[64];
		if (!path || !hint || strcmp(hint, "ciclop") != 0)
			continue;
		lb_make_id(id, sizeof id, "ciclop-",
			   serial && *serial ? serial : strrchr(path, '/') + 1);
		lb_spec_list_add(out, id, "Simulated Ciclop 3D scanner (turntable emulator)",
				 "scanner3d", json_is_true(json_object_get(port, "simulated")),
				 json_pack("{s:s,s:s,s:i,s:i,s:i,s:s}", "path", path, "camera",
					   "sim", "width", 640, "height", 480, "flush", 0,
					   "data_dir", dd));
	}
	return 0;
}

/* ---------------------------------------------------------------- the link */

/* Send one command line (with its "\n") and expect its reply. 0, or LB_EGONE. */
static int send_cmd(cc_priv *p, const char *cmd)
{
	if (lb_serial_write(p->port, cmd, strlen(cmd), OK_MS) < 0) {
		p->gone = 1;
		return LB_EGONE;
	}
	snprintf(p->cmd, sizeof p->cmd, "%s", cmd);
	p->cmd[strcspn(p->cmd, "\n")] = '\0';
	p->inflight = 1;
	p->sent++;
	p->ok_timeout_ms = OK_MS;
	p->ok_deadline_ms = ms_of(&p->now) + OK_MS;
	return 0;
}

/* Write commands ("\n"-separated) without waiting: their replies are owed. Never fails (a write
 * that fails leaves the port gone). */
static void send_blind(cc_priv *p, const char *cmds, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p->owed += cmds[i] == '\n';
	if (lb_serial_write(p->port, cmds, len, OK_MS) < 0)
		p->gone = 1;
}

/* What an acknowledged command did to the board (lasers, motor, position). */
static void apply_ok(cc_priv *p, const char *cmd)
{
	int n = 0, before_l = p->lasers, before_m = p->motors;

	if (sscanf(cmd, "M71T%d", &n) == 1 && n >= 1 && n <= CICLOP_LASERS_MAX)
		p->lasers |= 1 << (n - 1);
	else if (sscanf(cmd, "M70T%d", &n) == 1 && n >= 1 && n <= CICLOP_LASERS_MAX)
		p->lasers &= ~(1 << (n - 1));
	else if (strcmp(cmd, "M17") == 0)
		p->motors = 1;
	else if (strcmp(cmd, "M18") == 0)
		p->motors = 0;
	else if (strcmp(cmd, "G50") == 0)
		p->angle = 0;
	else if (strncmp(cmd, "G1X", 3) == 0)
		p->angle = atof(cmd + 3);
	if (p->lasers != before_l || p->motors != before_m)
		lb_device_changed(p->dev);
}

/* ---------------------------------------------------------------- the job */

/* Publish a json event on the progress stream (more is taken over, may be NULL). */
static void progress(cc_priv *p, const char *event, json_t *more)
{
	json_t *e = json_pack("{s:s,s:I}", "event", event, "job", (json_int_t)p->job.id);

	if (e && more)
		json_object_update(e, more);
	json_decref(more);
	if (e && p->s_progress >= 0)
		lb_stream_publish_json(p->dev, p->s_progress, p->now.real, e);
	json_decref(e);
}

/* Free what the job holds (not its files' names); the camera closed. */
static void job_release(cc_job *j)
{
	ciclop_ply_destroy(&j->ply);
	if (j->f)
		fclose(j->f);
	j->f = NULL;
	ciclop_source_destroy(&j->cam);
	ciclop_calibrator_destroy(&j->calr);
	free(j->off), free(j->tex), free(j->cols), free(j->pts), free(j->batch);
	j->off = j->tex = j->batch = NULL;
	j->cols = NULL;
	j->pts = NULL;
}

/* The job's end, reported: done (the PLY renamed to its final name, results listed), failed or
 * cancelled (the partial file removed). The board is as safe as it could be made. */
static void calib_finish(cc_priv *p, const char *state, const char *error);

static void job_finish(cc_priv *p, const char *state, const char *error)
{
	cc_job *j = &p->job;
	json_t *ev;
	char why[300];

	if (j->calibrating) {
		calib_finish(p, state, error);
		return;
	}
	if (strcmp(state, "done") == 0) {
		if (ciclop_ply_finish(j->ply) < 0 || fflush(j->f) != 0 || fsync(fileno(j->f)) < 0 ||
		    rename(j->part, j->final) < 0) {
			snprintf(why, sizeof why, "cannot write the PLY file: %s", strerror(errno));
			state = "failed", error = why;
		}
	}
	job_release(j);
	if (strcmp(state, "done") != 0)
		unlink(j->part);
	if (strcmp(state, "done") == 0)
		ev = json_pack("{s:I,s:s,s:[s]}", "job", (json_int_t)j->id, "state", "done",
			       "results", "scan.ply");
	else if (error)
		ev = json_pack("{s:I,s:s,s:s}", "job", (json_int_t)j->id, "state", state, "error",
			       error);
	else
		ev = json_pack("{s:I,s:s}", "job", (json_int_t)j->id, "state", state);
	progress(p, state,
		 error ? json_pack("{s:s,s:I}", "error", error, "points", (json_int_t)j->total)
		       : json_pack("{s:I}", "points", (json_int_t)j->total));
	if (ev)
		lb_device_event(p->dev, ev);
	json_decref(ev);
	lb_info("device %s: scan job %lld %s%s%s (%lu points)", lb_device_id(p->dev), j->id, state,
		error ? ": " : "", error ? error : "", j->total);
	j->phase = J_IDLE;
	j->id = 0;
	lb_device_changed(p->dev);
}

/*
 * End the job (failed with error, or cancelled): the board is made safe first (every laser off,
 * motor off, each acknowledged) unless it does not answer (silent: the commands are written
 * without waiting), then job_finish reports it.
 */
static void job_end(cc_priv *p, const char *state, const char *error, int silent)
{
	cc_job *j = &p->job;
	int n;

	if (j->phase == J_IDLE || j->phase == J_ENDING)
		return;
	j->end_state = state;
	snprintf(j->end_error, sizeof j->end_error, "%s", error ? error : "");
	n = ciclop_scan_abort(j->abort_cmds, sizeof j->abort_cmds);
	j->abort_len = n > 0 ? (size_t)n : 0;
	j->abort_off = 0;
	if (silent || p->gone) {
		/* written in case it listens; its replies are not counted on (the next scan begins
		 * with a reset) */
		p->inflight = 0;
		if (!p->gone && lb_serial_write(p->port, j->abort_cmds, j->abort_len, OK_MS) < 0)
			p->gone = 1;
		job_finish(p, state, error);
		return;
	}
	j->phase = J_ENDING;
}

/* A scan's settings: name, range, default, whether an integer (lasers: up to the calibrated
 * ones' mask, default all of them). */
enum {
	ST_STEPS,
	ST_SPEED,
	ST_SETTLE,
	ST_LASER_MS,
	ST_LASERS,
	ST_THRESHOLD,
	ST_RADIUS,
	ST_HEIGHT,
	ST_COUNT
};
static const struct {
	const char *name;
	double min, max, def;
	int integer;
	const char *unit;
} settings[ST_COUNT] = {
    {"steps", 1, CICLOP_STEPS_MAX, 64, 1, ""},
    {"speed", 1, CICLOP_SPEED_MAX, 1200, 0, "deg/min"},
    {"settle_ms", 0, 60000, 100, 0, "ms"},
    {"laser_ms", 0, 60000, 50, 0, "ms"},
    {"lasers", 1, (1 << CICLOP_LASERS_MAX) - 1, 0, 1, "bit mask"},
    {"threshold", 1, 255, 20, 1, "grey levels"},
    {"radius", 1, 1000, 95, 0, "mm"},
    {"height", 1, 2000, 300, 0, "mm"},
};

/* The largest lasers mask of the calibration (1 when there is none yet). */
static int lasers_max(const cc_priv *p)
{
	return (1 << (p->have_cal ? p->cal.nlasers : 1)) - 1;
}

/* The settings of scan.start into cfg and the job's options (each checked against its range,
 * unknown keys refused); 0 or LB_EFAIL with err set naming the setting. */
static int job_settings(cc_priv *p, const json_t *s, ciclop_scan_cfg *cfg, lb_error *err)
{
	static const char *keys[ST_COUNT + 1];
	double v[ST_COUNT];

	if (s && !json_is_null(s) && !json_is_object(s))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "settings must be an object");
	for (int i = 0; i < ST_COUNT; i++) {
		double max = i == ST_LASERS ? lasers_max(p) : settings[i].max;
		keys[i] = settings[i].name;
		v[i] = i == ST_LASERS ? lasers_max(p) : settings[i].def;
		if (!json_is_object(s))
			continue;
		if (settings[i].integer) {
			long long x = (long long)v[i];
			if (lb_param_int(s, settings[i].name, false, (long long)settings[i].min,
					 (long long)max, &x, err) < 0)
				return LB_EFAIL;
			v[i] = (double)x;
		} else if (lb_param_number(s, settings[i].name, false, settings[i].min, max, &v[i],
					   err) < 0) {
			return LB_EFAIL;
		}
	}
	if (json_is_object(s) && lb_param_only(s, keys, err) < 0)
		return LB_EFAIL;
	memset(cfg, 0, sizeof *cfg);
	cfg->steps = (int)v[ST_STEPS], cfg->lasers = (int)v[ST_LASERS], cfg->speed = v[ST_SPEED];
	cfg->settle_ms = v[ST_SETTLE], cfg->laser_ms = v[ST_LASER_MS];
	p->job.det =
	    (ciclop_detect_opts){.threshold = (int)v[ST_THRESHOLD], .half_window = 8, .floor = 0.3};
	p->job.roi = (ciclop_roi){.radius = v[ST_RADIUS], .ymin = 1, .ymax = v[ST_HEIGHT]};
	p->job.steps = cfg->steps, p->job.lasers = cfg->lasers;
	return 0;
}

/* The "scanner3d" object of the description: formats, lasers, frame size, the scan settings
 * with their ranges and defaults. NULL only when out of memory. */
static json_t *cc_describe(lb_device *dev)
{
	cc_priv *p = lb_device_priv(dev);
	json_t *st = json_object(), *o;

	for (int i = 0; st && i < ST_COUNT; i++) {
		double max = i == ST_LASERS ? lasers_max(p) : settings[i].max;
		double def = i == ST_LASERS ? lasers_max(p) : settings[i].def;
		json_object_set_new(st, settings[i].name,
				    json_pack("{s:f,s:f,s:f,s:b,s:s}", "min", settings[i].min,
					      "max", max, "default", def, "integer",
					      settings[i].integer, "unit", settings[i].unit));
	}
	o = json_pack("{s:[s],s:i,s:[i,i],s:o*}", "formats", "ply", "lasers",
		      p->have_cal ? p->cal.nlasers : 0, "frame_size", p->width, p->height,
		      "settings", st);
	return o;
}

/* For `camera = test:commanded`: the table at the angle and the lasers the board acknowledged
 * (horus-fw acknowledges a move when it is over). */
static void commanded_state(void *arg, double now_ms, double *angle, int *lasers)
{
	const cc_priv *p = arg;

	(void)now_ms;
	*angle = p->angle, *lasers = p->lasers;
}

/* The camera for a scan: the renderer in the simulated lab (the figure on its table, or with
 * plate the calibration plate); for tests against a real board's firmware (`camera =
 * test:commanded`, documented in drivers/ciclop/TODO.md, used by
 * tests/integration/test_ciclop_horus.py only) the renderer at what the board acknowledged; else
 * the configured V4L2 device. */
static ciclop_source *open_camera(cc_priv *p, int plate, lb_error *err)
{
	ciclop_source *s = NULL;

	if (strcmp(p->camera, CAMERA_COMMANDED) == 0) {
		ciclop_scene sc;
		ciclop_sim_scene(&sc);
		return ciclop_source_sim_state(&sc, commanded_state, p, err);
	}
	if (strcmp(p->camera, "sim") != 0)
		return ciclop_source_v4l2(p->camera, p->width, p->height, p->flush, err);
	pthread_mutex_lock(&sim_lock);
	if (sim_emu && strcmp(ciclop_emu_path(sim_emu), p->path) == 0) {
		ciclop_scene sc;
		if (plate && !atomic_load(&sim_no_plate))
			ciclop_sim_plate_scene(&sc);
		else
			ciclop_sim_scene(&sc);
		s = ciclop_source_sim(sim_emu, &sc, &sim_camera_fault, err);
	} else {
		lb_error_set(err, LB_ERR_DEVICE,
			     "camera missing: the simulated lab's board is gone");
	}
	pthread_mutex_unlock(&sim_lock);
	return s;
}

/* A clean start for a job: the board reset (Ctrl-X: lasers and motor off, position 0, whatever
 * an earlier job or a silent spell left pending is forgotten), its greeting awaited (J_GREET).
 * 0, or LB_EGONE when the port is gone. */
static int board_reset(cc_priv *p)
{
	lb_serial_flush_input(p->port);
	memset(&p->sp, 0, sizeof p->sp);
	p->owed = 0;
	if (send_cmd(p, "\x18") < 0)
		return LB_EGONE;
	snprintf(p->cmd, sizeof p->cmd, "a reset (Ctrl-X)");
	p->ok_timeout_ms = GREETING_MS;
	p->ok_deadline_ms = ms_of(&p->now) + GREETING_MS;
	p->job.phase = J_GREET;
	return 0;
}

/* scan.start {job, folder, format, settings, label}: check everything, open the camera and the
 * PLY, start the sequence. 0 with *result {job, steps}, or LB_EFAIL with err (nothing started). */
static int job_start(cc_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	static const char *const keys[] = {"job", "folder", "format", "settings", "label", NULL};
	cc_job *j = &p->job;
	ciclop_scan_cfg cfg;
	const char *folder = NULL, *format = "ply";
	long long id;
	size_t npx;

	if (j->phase != J_IDLE && j->calibrating)
		return lb_error_set(err, LB_ERR_DEVICE, "the scanner is being calibrated");
	if (j->phase != J_IDLE)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "a scan is under way on this scanner (job %lld)", j->id);
	if (!json_is_object(args) || lb_param_only(args, keys, err) < 0 ||
	    lb_param_int(args, "job", true, 1, INT64_MAX, &id, err) < 0 ||
	    lb_param_string(args, "folder", true, &folder, err) < 0 ||
	    lb_param_string(args, "format", false, &format, err) < 0)
		return json_is_object(args) ? LB_EFAIL
					    : lb_error_set(err, LB_ERR_INVALID_PARAMS,
							   "scan.start takes {job, folder, ...}");
	if (strcmp(format, "ply") != 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a 3D scanner writes PLY files only, not %s", format);
	if (p->gone)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the turntable board is gone", p->path);
	if (strcmp(p->version, "Horus 0.1") == 0) /* G50 came in horus-fw 0.2 (2016) */
		return lb_error_set(
		    err, LB_ERR_FIRMWARE,
		    "the turntable runs horus-fw 0.1, which has no G50 (position reset) "
		    "that scans need: flash horus-fw 0.2");
	if (!p->have_cal)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "the scanner is not calibrated (%s): a teacher sets its "
				    "calibration (device.call calibration.set)",
				    p->cal_error[0] ? p->cal_error : "no calibration file");
	if (p->cal.cam.width != p->width || p->cal.cam.height != p->height)
		return lb_error_set(
		    err, LB_ERR_DEVICE,
		    "the calibration is for %dx%d frames, the camera is set to %dx%d",
		    p->cal.cam.width, p->cal.cam.height, p->width, p->height);
	if (job_settings(p, json_object_get(args, "settings"), &cfg, err) < 0)
		return LB_EFAIL;
	if (ciclop_scan_init(&j->seq, &cfg) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "settings out of range");
	if (snprintf(j->part, sizeof j->part, "%s/.scan.ply.part", folder) >= (int)sizeof j->part ||
	    snprintf(j->final, sizeof j->final, "%s/scan.ply", folder) >= (int)sizeof j->final)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "folder too long");
	npx = (size_t)p->width * p->height;
	j->cap = (size_t)p->height * CICLOP_LASERS_MAX;
	if (!(j->cam = open_camera(p, 0, err)))
		return LB_EFAIL;
	if (!(j->off = malloc(npx)) || !(j->tex = malloc(3 * npx)) ||
	    !(j->cols = malloc((size_t)p->height * sizeof *j->cols)) ||
	    !(j->pts = malloc(j->cap * sizeof *j->pts)) ||
	    !(j->batch = malloc(pointbatch_size((uint32_t)j->cap)))) {
		job_release(j);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	if (!(j->f = fopen(j->part, "wb")) || !(j->ply = ciclop_ply_new(j->f))) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", j->part, strerror(errno));
		job_release(j);
		unlink(j->part);
		return LB_EFAIL;
	}
	j->id = id;
	j->total = 0;
	j->npts = 0;
	j->calibrating = 0;
	if (board_reset(p) < 0) {
		job_release(j);
		unlink(j->part);
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the turntable board is gone", p->path);
	}
	progress(p, "started", json_pack("{s:i,s:i}", "steps", j->steps, "lasers", j->lasers));
	lb_info("device %s: scan job %lld started (%d steps)", lb_device_id(p->dev), id, j->steps);
	lb_device_changed(p->dev);
	*result = json_pack("{s:I,s:i}", "job", (json_int_t)id, "steps", j->steps);
	return 0;
}

/* A frame of the sequence: the laser-off/texture frame kept, a laser frame turned into points. */
static int job_frame(cc_priv *p, const ciclop_action *a, lb_error *err)
{
	cc_job *j = &p->job;
	size_t npx = (size_t)p->width * p->height;

	if (ciclop_source_grab(j->cam, (double)p->now.mono / 1e6, err) < 0)
		return LB_EFAIL;
	if (j->calibrating) /* the chessboard searched in calibrate.h's thread, the line now */
		return (a->laser == 0 ? ciclop_calibrator_view(j->calr, a->step, a->angle_deg,
							       j->cam->grey, err)
				      : ciclop_calibrator_laser(j->calr, a->step, a->laser,
								j->cam->grey, &j->det, err)) < 0
			   ? LB_EFAIL
			   : 0;
	if (a->laser == 0) {
		memcpy(j->off, j->cam->grey, npx);
		memcpy(j->tex, j->cam->rgb, 3 * npx);
		j->npts = 0;
		return 0;
	}
	if (a->laser > p->cal.nlasers)
		return lb_error_set(err, LB_ERR_INTERNAL, "laser %d is not calibrated", a->laser);
	ciclop_detect(j->cam->grey, j->off, p->width, p->height, (size_t)p->width, &j->det,
		      j->cols);
	j->npts +=
	    ciclop_points(&p->cal.cam, &p->cal.laser[a->laser - 1], a->angle_deg * M_PI / 180,
			  j->cols, j->tex, 3, &j->roi, j->pts + j->npts, j->cap - j->npts);
	return 0;
}

/* A calibration event (taken over, may be NULL): on the progress stream as {"event":
 * "calibration", ...} and as the device event {"calibration": ...}. */
static void calib_event(cc_priv *p, json_t *ev)
{
	json_t *e = ev ? json_pack("{s:s}", "event", "calibration") : NULL;
	json_t *d = ev ? json_pack("{s:O}", "calibration", ev) : NULL;

	if (e && json_object_update(e, ev) == 0 && p->s_progress >= 0)
		lb_stream_publish_json(p->dev, p->s_progress, p->now.real, e);
	if (d)
		lb_device_event(p->dev, d);
	json_decref(e), json_decref(d), json_decref(ev);
}

/* A step complete: its points to the PLY, the points stream, progress. */
static int job_step(cc_priv *p, const ciclop_action *a, lb_error *err)
{
	cc_job *j = &p->job;
	pointbatch_header h = {.flags = a->step + 1 == j->steps ? POINTBATCH_LAST : 0,
			       .step = (uint32_t)a->step,
			       .steps = (uint32_t)j->steps,
			       .count = (uint32_t)j->npts};
	long len;
	double fraction = (double)(a->step + 1) / j->steps;
	json_t *ev;

	if (j->calibrating) {
		int checked = 0, found = 0;
		ciclop_calibrator_status(j->calr, &checked, &found);
		ev = json_pack("{s:s,s:i,s:i,s:f,s:i,s:i,s:f}", "state", "running", "view", a->step,
			       "views", j->steps, "angle", a->angle_deg, "checked", checked,
			       "found", found, "fraction", fraction);
		calib_event(p, ev);
		return 0;
	}
	for (size_t i = 0; i < j->npts; i++)
		if (ciclop_ply_add(j->ply, &j->pts[i]) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "cannot write the PLY file: %s",
					    strerror(errno));
	j->total += j->npts;
	/* ciclop_point and pointbatch_point are the same fields */
	len = pointbatch_encode(&h, (const pointbatch_point *)j->pts, j->batch,
				pointbatch_size((uint32_t)j->cap));
	if (len > 0 && p->s_points >= 0)
		lb_stream_publish(p->dev, p->s_points, p->now.mono, p->now.real, j->batch,
				  (uint32_t)len);
	progress(p, "step",
		 json_pack("{s:i,s:i,s:I,s:I,s:f,s:f}", "step", a->step, "steps", j->steps,
			   "points", (json_int_t)j->npts, "total", (json_int_t)j->total, "fraction",
			   fraction, "angle", a->angle_deg));
	ev = json_pack("{s:I,s:f,s:{s:i,s:i,s:I}}", "job", (json_int_t)j->id, "fraction", fraction,
		       "detail", "step", a->step + 1, "steps", j->steps, "points",
		       (json_int_t)j->total);
	if (ev)
		lb_device_event(p->dev, ev);
	json_decref(ev);
	j->npts = 0;
	return 0;
}

/* Advance the job as far as it goes without waiting: commands sent, waits started, frames
 * taken, steps reported; the end reported. */
static void job_advance(cc_priv *p)
{
	cc_job *j = &p->job;
	lb_error err = {0};
	ciclop_action a;

	for (int guard = 0; guard < 64 && !p->gone; guard++) {
		switch (j->phase) {
		case J_IDLE:
		case J_GREET:
		case J_OK: return;
		case J_WAIT:
			if (p->now.mono < j->until_ns)
				return;
			j->phase = J_NEXT;
			break;
		case J_FITTING:
			if (ciclop_calibrator_status(j->calr, NULL, NULL) > 0)
				return;
			job_finish(p, "done", NULL); /* the fit, in calib_finish */
			return;
		case J_ENDING: {
			/* the command in flight answered, then the safety commands one at a time,
			 * each acknowledged */
			if (p->inflight)
				return;
			if (j->abort_off >= j->abort_len) {
				job_finish(p, j->end_state, j->end_error[0] ? j->end_error : NULL);
				return;
			}
			char cmd[CICLOP_CMD_MAX];
			size_t n = strcspn(j->abort_cmds + j->abort_off, "\n") + 1;
			snprintf(cmd, sizeof cmd, "%.*s", (int)n, j->abort_cmds + j->abort_off);
			j->abort_off += n;
			if (p->owed == 0 && send_cmd(p, cmd) < 0)
				job_finish(p, j->end_state, j->end_error[0] ? j->end_error : NULL);
			if (p->owed > 0) /* replies owed first: write it without waiting */
				send_blind(p, cmd, strlen(cmd));
			continue;
		}
		case J_NEXT:
			switch (ciclop_scan_next(&j->seq, &a)) {
			case CICLOP_ACT_SEND:
				if (send_cmd(p, a.cmd) < 0)
					return;
				if (strncmp(a.cmd, "G1X", 3) == 0) {
					/* horus-fw answers a move when it is over */
					int move = (int)ceil(ciclop_move_ms(
					    atof(a.cmd + 3) - p->angle, j->seq.cfg.speed));
					p->ok_timeout_ms += move, p->ok_deadline_ms += move;
				}
				j->phase = J_OK;
				return;
			case CICLOP_ACT_WAIT:
				/* from when the ok was read, which is after the board began */
				j->until_ns = p->now.mono + (int64_t)ceil(a.wait_ms * 1e6);
				j->phase = J_WAIT;
				break;
			case CICLOP_ACT_FRAME:
				if (job_frame(p, &a, &err) < 0)
					job_end(p, "failed", err.message, 0); /* goes on ending */
				break;
			case CICLOP_ACT_STEP:
				if (job_step(p, &a, &err) < 0)
					job_end(p, "failed", err.message, 0);
				break;
			case CICLOP_ACT_DONE:
				if (j->calibrating) {
					j->phase = J_FITTING;
					break;
				}
				if (j->total == 0)
					job_finish(
					    p, "failed",
					    "no laser line found (is the laser on and aimed at "
					    "the object? too much light? the calibration?)");
				else
					job_finish(p, "done", NULL);
				return;
			}
			break;
		}
	}
}

/* What the fit says of itself (calibrate.h's report) as a new object; NULL when out of memory. */
static json_t *report_json(const ciclop_calib_report *r)
{
	json_t *lasers = json_array();

	for (int i = 0; lasers && i < r->nlasers && i < CICLOP_LASERS_MAX; i++)
		json_array_append_new(lasers, json_pack("{s:i,s:f}", "points", r->laser_points[i],
							"rms_mm", r->laser_rms_mm[i]));
	return json_pack("{s:i,s:i,s:f,s:o*,s:{s:f,s:f}}", "views", r->views, "found", r->found,
			 "reprojection_px", r->reproj_px, "lasers", lasers, "turntable",
			 "radius_mm", r->table_radius_mm, "rms_mm", r->table_rms_mm);
}

/*
 * calibration.run's end. done: the fit (calibrate.h), stored and in effect when it succeeds,
 * else failed with the fit's words; failed or cancelled: the previous calibration kept. The
 * outcome ({state, seconds, views, found, error?, report?, calibration?}) kept for
 * calibration.get and published (calib_event); the job released.
 */
static void calib_finish(cc_priv *p, const char *state, const char *error)
{
	cc_job *j = &p->job;
	ciclop_calib c;
	ciclop_calib_report rep;
	lb_error err = {0};
	char why[300];
	json_t *out, *report = NULL;
	double secs = (double)(p->now.mono - j->started_ns) / 1e9;

	memset(&rep, 0, sizeof rep);
	ciclop_calibrator_status(j->calr, NULL, &j->found);
	if (strcmp(state, "done") == 0) {
		if (ciclop_calibrator_solve(j->calr, &c, &rep, &err) < 0 ||
		    ciclop_calib_save(p->cal_path, &c, &err) < 0) {
			snprintf(why, sizeof why, "%s", err.message);
			state = "failed", error = why;
		} else {
			p->cal = c;
			p->have_cal = 1;
			p->cal_error[0] = '\0';
		}
		report = report_json(&rep);
	}
	out = json_pack("{s:s,s:f,s:i,s:i}", "state", state, "seconds", secs, "views", j->steps,
			"found", j->found);
	if (out && error)
		json_object_set_new(out, "error", json_string(error));
	if (out && report)
		json_object_set(out, "report", report);
	if (out && strcmp(state, "done") == 0)
		json_object_set_new(out, "calibration", ciclop_calib_to_json(&p->cal));
	json_decref(report);
	job_release(j);
	j->phase = J_IDLE;
	j->calibrating = 0;
	j->id = 0;
	json_decref(p->cal_last);
	p->cal_last = json_incref(out);
	calib_event(p, out);
	if (strcmp(state, "done") == 0)
		lb_info("device %s: calibrated in %.1f s (reprojection %.3f px, %d of %d views), "
			"stored in %s",
			lb_device_id(p->dev), secs, rep.reproj_px, rep.found, rep.views,
			p->cal_path);
	else
		lb_warn("device %s: calibration %s%s%s (the previous calibration is kept)",
			lb_device_id(p->dev), state, error ? ": " : "", error ? error : "");
	lb_device_changed(p->dev);
}

/*
 * calibration.run {pattern?: {cols, rows, square_mm, origin_mm}, lasers?, speed?}: the plate's
 * chessboard (inner corners 3..50, defaults the simulated lab's: Horus's 11 x 6 of 13 mm, 30 mm
 * up), the lasers to calibrate (1..4; default the calibrated ones, or 1), the table's speed
 * (deg/min, the scans' range and default). Starts the procedure (the board reset first); 0 with
 * *result {state: "running", views, first_deg, step_deg, pattern, lasers}, or LB_EFAIL with err
 * and nothing started (busy, bad arguments, board gone, no data directory, camera missing).
 */
static int calib_start(cc_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	static const char *const keys[] = {"pattern", "lasers", "speed", NULL};
	static const char *const pkeys[] = {"cols", "rows", "square_mm", "origin_mm", NULL};
	cc_job *j = &p->job;
	ciclop_pattern pat = {CICLOP_SIM_PLATE_COLS, CICLOP_SIM_PLATE_ROWS, CICLOP_SIM_PLATE_SQUARE,
			      CICLOP_SIM_PLATE_ORIGIN};
	long long cols = pat.cols, rows = pat.rows, lasers = p->have_cal ? p->cal.nlasers : 1;
	double speed = settings[ST_SPEED].def;
	const json_t *pj = json_object_get(args, "pattern");
	ciclop_scan_cfg cfg;

	if (j->phase != J_IDLE)
		return lb_error_set(err, LB_ERR_DEVICE,
				    j->calibrating ? "the scanner is already being calibrated"
						   : "a scan is under way on this scanner");
	if (args && !json_is_null(args) && !json_is_object(args))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "calibration.run takes {pattern?, lasers?, speed?}");
	if (json_is_object(args) &&
	    (lb_param_only(args, keys, err) < 0 ||
	     lb_param_int(args, "lasers", false, 1, CICLOP_LASERS_MAX, &lasers, err) < 0 ||
	     lb_param_number(args, "speed", false, 1, CICLOP_SPEED_MAX, &speed, err) < 0))
		return LB_EFAIL;
	if (pj && !json_is_object(pj))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "pattern must be {cols, rows, square_mm, origin_mm}");
	if (pj && (lb_param_only(pj, pkeys, err) < 0 ||
		   lb_param_int(pj, "cols", false, 3, 50, &cols, err) < 0 ||
		   lb_param_int(pj, "rows", false, 3, 50, &rows, err) < 0 ||
		   lb_param_number(pj, "square_mm", false, 1, 200, &pat.square, err) < 0 ||
		   lb_param_number(pj, "origin_mm", false, 0, 500, &pat.origin, err) < 0))
		return LB_EFAIL;
	pat.cols = (int)cols, pat.rows = (int)rows;
	if (p->gone)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the turntable board is gone", p->path);
	if (!p->cal_path[0])
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "the bridge has no data directory to store a calibration in");
	memset(&cfg, 0, sizeof cfg);
	cfg.steps = CAL_VIEWS, cfg.lasers = (1 << lasers) - 1, cfg.speed = speed;
	cfg.settle_ms = settings[ST_SETTLE].def, cfg.laser_ms = settings[ST_LASER_MS].def;
	cfg.first_deg = CAL_FIRST_DEG, cfg.step_deg = CAL_STEP_DEG;
	if (ciclop_scan_init(&j->seq, &cfg) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "calibration sequence refused");
	if (!(j->calr =
		  ciclop_calibrator_new(&pat, p->width, p->height, (int)lasers, CAL_VIEWS, err)))
		return LB_EFAIL;
	if (!(j->cam = open_camera(p, 1, err))) {
		job_release(j);
		return LB_EFAIL;
	}
	j->det = (ciclop_detect_opts){
	    .threshold = (int)settings[ST_THRESHOLD].def, .half_window = 8, .floor = 0.3};
	j->steps = CAL_VIEWS, j->lasers = cfg.lasers;
	j->found = 0, j->npts = 0, j->total = 0, j->id = 0;
	j->started_ns = p->now.mono;
	if (board_reset(p) < 0) {
		job_release(j);
		return lb_error_set(err, LB_ERR_DEVICE, "%s: the turntable board is gone", p->path);
	}
	j->calibrating = 1;
	json_decref(p->cal_last);
	p->cal_last =
	    json_pack("{s:s,s:i,s:i}", "state", "running", "views", CAL_VIEWS, "found", 0);
	*result =
	    json_pack("{s:s,s:i,s:f,s:f,s:{s:i,s:i,s:f,s:f},s:I}", "state", "running", "views",
		      CAL_VIEWS, "first_deg", CAL_FIRST_DEG, "step_deg", CAL_STEP_DEG, "pattern",
		      "cols", pat.cols, "rows", pat.rows, "square_mm", pat.square, "origin_mm",
		      pat.origin, "lasers", (json_int_t)lasers);
	calib_event(
	    p, json_pack("{s:s,s:i,s:f}", "state", "started", "views", CAL_VIEWS, "fraction", 0.0));
	lb_info("device %s: calibration started (%dx%d pattern of %.1f mm, %lld laser%s)",
		lb_device_id(p->dev), pat.cols, pat.rows, pat.square, lasers,
		lasers > 1 ? "s" : "");
	lb_device_changed(p->dev);
	return 0;
}

/* One reply line from the board. */
static void on_line(cc_priv *p, const char *line, size_t len)
{
	ciclop_reply r;
	char why[300];
	cc_job *j = &p->job;

	switch (ciclop_parse(line, len, &r)) {
	case CICLOP_GREETING:
		snprintf(p->version, sizeof p->version, "%s", r.text);
		if (j->phase == J_GREET) { /* the reset a scan begins with */
			p->inflight = 0, p->owed = 0;
			p->lasers = p->motors = 0;
			p->angle = 0;
			j->phase = J_NEXT;
			return;
		}
		if (p->greeted && (p->inflight || j->phase != J_IDLE)) {
			lb_warn("device %s: the turntable board restarted", lb_device_id(p->dev));
			p->inflight = 0, p->owed = 0;
			p->lasers = p->motors = 0;
			job_end(p, "failed", "the turntable board restarted during the scan", 1);
		}
		p->greeted = 1;
		p->owed = 0; /* a reset forgets what was pending */
		return;
	case CICLOP_OK:
	case CICLOP_ERROR:
	case CICLOP_ALARM:
		if (p->owed > 0) {
			p->owed--;
			return;
		}
		if (!p->inflight || j->phase == J_GREET) {
			p->stray++;
			return;
		}
		p->inflight = 0;
		if (r.kind == CICLOP_OK) {
			p->oks++;
			apply_ok(p, p->cmd);
			if (j->phase == J_OK)
				j->phase = J_NEXT;
			return;
		}
		if (r.kind == CICLOP_ERROR) {
			p->errors++;
			snprintf(why, sizeof why, "the turntable board refused %s: %s", p->cmd,
				 r.text);
		} else {
			p->alarms++;
			snprintf(why, sizeof why,
				 "the turntable board raised an alarm: %s (reset the board)",
				 r.text);
		}
		lb_warn("device %s: %s", lb_device_id(p->dev), why);
		if (j->phase == J_OK)
			job_end(p, "failed", why, 0);
		return;
	case CICLOP_FEEDBACK:
		lb_info("device %s: board says [%s]", lb_device_id(p->dev), r.text);
		return;
	case CICLOP_VALUE: return;
	case CICLOP_OTHER:
		if (r.text[0] == '\0')
			return;
		p->garbage++;
		if (j->phase != J_IDLE && j->phase != J_ENDING) {
			snprintf(why, sizeof why,
				 "the turntable board answers garbage (\"%.40s\"): not a Horus "
				 "firmware, or the wrong baud rate?",
				 r.text);
			job_end(p, "failed", why, 0);
		}
		return;
	}
}

/* The halt hook's writes not yet counted: their replies are owed. */
static void adopt_halt(cc_priv *p)
{
	unsigned begun = atomic_load(&p->halt_begun);

	while (p->halt_adopted != begun) {
		p->owed += p->halt_ncmds;
		p->halt_adopted++;
	}
}

/* Read and handle what the board sent; then the reply deadline. 0, or LB_EGONE. */
static int pump(cc_priv *p)
{
	char buf[512];
	ssize_t n;

	adopt_halt(p);
	while ((n = lb_serial_read(p->port, buf, sizeof buf)) > 0) {
		size_t off = 0;
		while (off < (size_t)n) {
			size_t used, linelen;
			const char *line;
			if (ciclop_next_line(&p->sp, buf + off, (size_t)n - off, &used, &line,
					     &linelen) == 1)
				on_line(p, line, linelen);
			off += used;
		}
	}
	if (n < 0) {
		p->gone = 1;
		return LB_EGONE;
	}
	if (p->inflight && ms_of(&p->now) >= p->ok_deadline_ms) {
		char why[200];
		p->inflight = 0;
		p->owed = 0; /* whatever it owed, it is not saying it */
		p->timeouts++;
		snprintf(why, sizeof why, "turntable not answering (no answer to %s within %d s)",
			 p->cmd, p->ok_timeout_ms / 1000);
		lb_warn("device %s: %s", lb_device_id(p->dev), why);
		if (p->job.phase == J_ENDING)
			job_finish(p, p->job.end_state,
				   p->job.end_error[0] ? p->job.end_error : NULL);
		else if (p->job.phase != J_IDLE)
			job_end(p, "failed", why, 1);
	}
	return 0;
}

/* ---------------------------------------------------------------- open, close */

static void cc_close(lb_device *dev);

/* The calibration: the stored file, or (simulated lab) the renderer's geometry, stored. */
static void load_calibration(cc_priv *p, const char *data_dir)
{
	lb_error err = {0};
	int rc;

	p->have_cal = 0;
	p->cal_error[0] = '\0';
	if (!data_dir || !*data_dir) {
		snprintf(p->cal_error, sizeof p->cal_error, "no data directory");
		return;
	}
	snprintf(p->cal_path, sizeof p->cal_path, "%s/calibration/%s.json", data_dir,
		 lb_device_id(p->dev));
	rc = ciclop_calib_load(p->cal_path, &p->cal, &err);
	if (rc == 0) {
		p->have_cal = 1;
		return;
	}
	if (rc < 0) {
		snprintf(p->cal_error, sizeof p->cal_error, "%s", err.message);
		lb_warn("device %s: %s", lb_device_id(p->dev), err.message);
		return;
	}
	if (!p->simulated && strcmp(p->camera, CAMERA_COMMANDED) != 0) {
		snprintf(p->cal_error, sizeof p->cal_error, "no calibration file %s", p->cal_path);
		return;
	}
	ciclop_scene sc;
	ciclop_sim_scene(&sc);
	memset(&p->cal, 0, sizeof p->cal);
	p->cal.cam = sc.cam;
	p->cal.nlasers = 1;
	ciclop_plane_from_table(&sc.cam, sc.laser_n, sc.laser_d, &p->cal.laser[0]);
	p->have_cal = 1;
	if (ciclop_calib_save(p->cal_path, &p->cal, &err) < 0)
		lb_warn("device %s: %s", lb_device_id(p->dev), err.message);
}

/* Open the port, wait for the board's greeting (after a Ctrl-X), read the calibration, declare
 * the streams. 0, or LB_EFAIL with err set and nothing left open. */
static int cc_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const json_t *params = lb_device_get_spec(dev)->params;
	const char *path = json_string_value(json_object_get(params, "path"));
	const char *cam = json_string_value(json_object_get(params, "camera"));
	cc_priv *p = calloc(1, sizeof *p);
	int64_t deadline;
	unsigned long other = 0;
	int n;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->dev = dev;
	p->now = *now;
	p->halt_fd = -1;
	p->s_points = p->s_progress = -1;
	p->simulated = lb_device_get_spec(dev)->simulated;
	snprintf(p->path, sizeof p->path, "%s", path ? path : "");
	snprintf(p->camera, sizeof p->camera, "%s", cam ? cam : "/dev/video0");
	p->width = (int)json_integer_value(json_object_get(params, "width"));
	p->height = (int)json_integer_value(json_object_get(params, "height"));
	p->flush = (int)json_integer_value(json_object_get(params, "flush"));
	if (p->width < 16 || p->height < 16 || p->width > 8192 || p->height > 8192) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS,
			     "camera size %dx%d: width and height "
			     "must be 16..8192",
			     p->width, p->height);
		goto fail;
	}
	if (!(p->port = lb_serial_open(p->path, BAUD, err)))
		goto fail;
	lb_serial_flush_input(p->port);
	if (lb_serial_write(p->port, "\x18", 1, OK_MS) < 0) {
		lb_error_set(err, LB_ERR_DEVICE, "%s: cannot write to the port", p->path);
		goto fail;
	}
	deadline = ms_of(now) + GREETING_MS;
	while (!p->greeted && ms_of(&p->now) < deadline) {
		char buf[256];
		ssize_t k = lb_serial_read(p->port, buf, sizeof buf);
		if (k < 0) {
			lb_error_set(err, LB_ERR_DEVICE, "%s: the port went away", p->path);
			goto fail;
		}
		for (size_t off = 0; off < (size_t)k;) {
			size_t used, linelen;
			const char *line;
			ciclop_reply r;
			if (ciclop_next_line(&p->sp, buf + off, (size_t)k - off, &used, &line,
					     &linelen) == 1) {
				if (ciclop_parse(line, linelen, &r) == CICLOP_GREETING) {
					snprintf(p->version, sizeof p->version, "%s", r.text);
					p->greeted = 1;
				} else if (linelen) {
					other++;
				}
			}
			off += used;
		}
		if (!p->greeted && k == 0) {
			struct pollfd pfd = {.fd = lb_serial_fd(p->port), .events = POLLIN};
			int64_t left = deadline - ms_of(&p->now);
			poll(&pfd, 1, left > 0 ? (int)left : 0);
		}
		p->now = lb_now_read();
	}
	if (!p->greeted) {
		lb_error_set(err, LB_ERR_FIRMWARE,
			     other ? "%s: the port answers but not as a Ciclop/Horus board (no "
				     "greeting): flash horus-fw"
				   : "%s: no greeting from a Ciclop/Horus board within %d s "
				     "(switched off? another board?)",
			     p->path, GREETING_MS / 1000);
		goto fail;
	}
	p->halt_fd = dup(lb_serial_fd(p->port));
	n = ciclop_scan_abort(p->halt_cmds, sizeof p->halt_cmds);
	p->halt_len = n > 0 ? (size_t)n : 0;
	for (size_t i = 0; i < p->halt_len; i++)
		p->halt_ncmds += p->halt_cmds[i] == '\n';
	load_calibration(p, json_string_value(json_object_get(params, "data_dir")));
	p->s_points = lb_device_add_stream(dev, "points", "points", "", LB_U8, 0);
	p->s_progress = lb_device_add_stream(dev, "progress", "scan progress", "", LB_JSON, 0);
	if (p->s_points < 0 || p->s_progress < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot declare the streams");
		goto fail;
	}
	lb_info("device %s: %s on %s, camera %s%s", lb_device_id(dev), p->version, p->path,
		p->camera, p->have_cal ? "" : " (not calibrated)");
	lb_device_set_running(dev, true);
	return 0;
fail:
	cc_close(dev);
	return LB_EFAIL;
}

/* Release the port, the job's files (a scan under way is failed) and the halt hook's fd. */
static void cc_close(lb_device *dev)
{
	cc_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (p->job.phase != J_IDLE) {
		p->gone = 1;
		job_finish(p, "failed", "the scanner went away during the scan");
	}
	if (p->halt_fd >= 0)
		close(p->halt_fd);
	lb_serial_destroy(&p->port);
	json_decref(p->cal_last);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/* ---------------------------------------------------------------- the loop */

/* The port's fd, for input. */
static int cc_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	cc_priv *p = lb_device_priv(dev);

	if (max < 1 || !p->port)
		return 0;
	items[0].socket = NULL;
	items[0].fd = lb_serial_fd(p->port);
	items[0].events = ZMQ_POLLIN;
	return 1;
}

/* Read the board, advance the scan; *deadline: the reply's or the wait's end. 0, or LB_EGONE. */
static int cc_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	cc_priv *p = lb_device_priv(dev);
	int64_t t = -1; /* ns */

	(void)items, (void)nitems;
	p->now = *now;
	if (p->gone || pump(p) < 0) {
		if (p->job.phase != J_IDLE)
			job_finish(p, "failed", "the scanner went away during the scan");
		return LB_EGONE;
	}
	job_advance(p);
	if (p->inflight)
		t = p->ok_deadline_ms * 1000000;
	if (p->job.phase == J_WAIT && (t < 0 || p->job.until_ns < t))
		t = p->job.until_ns;
	if (p->job.phase == J_FITTING)
		t = now->mono + (int64_t)FIT_POLL_MS * 1000000;
	/* the guard stopped a long run of frames, or an end waits for nothing: go on at once */
	if (p->job.phase == J_NEXT || (p->job.phase == J_ENDING && !p->inflight))
		t = now->mono;
	if (t >= 0)
		*deadline = t < now->mono ? now->mono : t;
	return 0;
}

/* ---------------------------------------------------------------- actions */

/* calibration.set {calibration}: checked strictly, stored, in effect for the next scan. */
static int set_calibration(cc_priv *p, const json_t *args, json_t **result, lb_error *err)
{
	static const char *const keys[] = {"calibration", NULL};
	ciclop_calib c;

	if (!json_is_object(args) || lb_param_only(args, keys, err) < 0)
		return json_is_object(args) ? LB_EFAIL
					    : lb_error_set(err, LB_ERR_INVALID_PARAMS,
							   "calibration.set takes {calibration}");
	if (ciclop_calib_from_json(json_object_get(args, "calibration"), &c, err) < 0)
		return LB_EFAIL;
	if (c.cam.width != p->width || c.cam.height != p->height)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the calibration is for %dx%d frames, the camera gives %dx%d",
				    c.cam.width, c.cam.height, p->width, p->height);
	if (p->job.phase != J_IDLE)
		return lb_error_set(err, LB_ERR_DEVICE,
				    p->job.calibrating ? "the scanner is being calibrated"
						       : "a scan is under way on this scanner");
	if (!p->cal_path[0])
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "the bridge has no data directory to store it in");
	if (ciclop_calib_save(p->cal_path, &c, err) < 0)
		return LB_EFAIL;
	p->cal = c;
	p->have_cal = 1;
	p->cal_error[0] = '\0';
	lb_info("device %s: calibration set (%s)", lb_device_id(p->dev), p->cal_path);
	lb_device_changed(p->dev);
	*result = json_null();
	return 0;
}

/* scan.start, scan.cancel (the scan service's), calibration.get / calibration.set /
 * calibration.run / calibration.cancel. */
static int cc_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	cc_priv *p = lb_device_priv(dev);

	p->now = lb_now_read();
	if (strcmp(action, "scan.start") == 0) {
		if (job_start(p, args, result, err) < 0)
			return LB_EFAIL;
		job_advance(p);
		return 0;
	}
	if (strcmp(action, "scan.cancel") == 0) {
		long long id = 0;
		if (!json_is_object(args))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS, "scan.cancel takes {job}");
		if (lb_param_int(args, "job", true, 1, INT64_MAX, &id, err) < 0)
			return LB_EFAIL;
		if (p->job.phase == J_IDLE || p->job.id != id) {
			*result = json_false(); /* nothing of that job runs here */
			return 0;
		}
		job_end(p, "cancelled", NULL, 0);
		job_advance(p);
		*result = json_true();
		return 0;
	}
	if (strcmp(action, "calibration.run") == 0) {
		if (calib_start(p, args, result, err) < 0)
			return LB_EFAIL;
		job_advance(p);
		return 0;
	}
	if (strcmp(action, "calibration.cancel") == 0) {
		if (p->job.phase == J_IDLE || !p->job.calibrating) {
			*result = json_false(); /* none under way */
			return 0;
		}
		job_end(p, "cancelled", NULL, 0);
		job_advance(p);
		*result = json_true();
		return 0;
	}
	if (strcmp(action, "calibration.get") == 0) {
		*result = json_pack("{s:o*,s:s,s:s*,s:O*}", "calibration",
				    p->have_cal ? ciclop_calib_to_json(&p->cal) : NULL, "file",
				    p->cal_path, "error", p->cal_error[0] ? p->cal_error : NULL,
				    "last_run", p->cal_last);
		return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	if (strcmp(action, "calibration.set") == 0)
		return set_calibration(p, args, result, err);
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "unknown action '%s'", action);
}

/*
 * The halt hook (another thread, driver.h): every laser off and the motor off, written at once
 * to the dup'd fd (about 30 bytes; a line the device thread writes meanwhile goes whole before or
 * after it). Counted before the write, so that the device thread knows their replies are owed.
 * Never allocates, never locks.
 */
static int cc_halt(lb_device *dev)
{
	cc_priv *p = lb_device_priv(dev);
	ssize_t n;

	atomic_fetch_add(&p->halt_begun, 1);
	n = write(p->halt_fd, p->halt_cmds, p->halt_len);
	if (n != (ssize_t)p->halt_len)
		atomic_fetch_add(&p->halt_failed, 1);
	return n == (ssize_t)p->halt_len ? 0 : LB_EGONE;
}

/* After a halt, in the device's thread: the scan under way ends cancelled (as a document scan
 * does); the board made safe again if the hook could not write. */
static void cc_halted(lb_device *dev, const lb_now *now)
{
	cc_priv *p = lb_device_priv(dev);
	unsigned failed;

	p->now = *now;
	adopt_halt(p);
	failed = atomic_exchange(&p->halt_failed, 0);
	if (failed) /* writes that did not go: no reply owed for them */
		p->owed = p->owed > p->halt_ncmds * (int)failed
			      ? p->owed - p->halt_ncmds * (int)failed
			      : 0;
	if (p->job.phase != J_IDLE && p->job.phase != J_ENDING) {
		if (!failed) {
			if (p->inflight)
				p->inflight = 0, p->owed++;
			p->lasers = p->motors = 0;
			job_finish(p, "cancelled", NULL);
		} else {
			job_end(p, "cancelled", NULL, 0);
			job_advance(p);
		}
	} else if (!failed) {
		p->lasers = p->motors = 0;
	}
	lb_device_changed(dev);
}

/* Port, firmware, camera, calibration, the board as acknowledged, the scan, the link. */
static json_t *cc_config_get(lb_device *dev)
{
	cc_priv *p = lb_device_priv(dev);
	json_t *lasers = json_array();

	for (int i = 0; lasers && i < (p->have_cal ? p->cal.nlasers : 1); i++)
		json_array_append_new(lasers, json_boolean(p->lasers & (1 << i)));
	return json_pack(
	    "{s:s,s:s,s:s,s:[i,i],s:b,s:s*,s:o*,s:b,s:f,s:o,s:{s:I,s:I,s:I,s:I,s:I,"
	    "s:I,s:I}}",
	    "port", p->path, "firmware", p->version, "camera", p->camera, "frame_size", p->width,
	    p->height, "calibrated", p->have_cal, "calibration_error",
	    p->cal_error[0] ? p->cal_error : NULL, "lasers", lasers, "motor", p->motors, "angle",
	    p->angle, "scan",
	    p->job.phase != J_IDLE && !p->job.calibrating
		? json_pack("{s:I,s:i}", "job", (json_int_t)p->job.id, "steps", p->job.steps)
	    : p->job.phase != J_IDLE
		? json_pack("{s:b,s:i}", "calibrating", 1, "views", p->job.steps)
		: json_null(),
	    "link", "sent", (json_int_t)p->sent, "ok", (json_int_t)p->oks, "errors",
	    (json_int_t)p->errors, "alarms", (json_int_t)p->alarms, "timeouts",
	    (json_int_t)p->timeouts, "stray", (json_int_t)p->stray, "garbage",
	    (json_int_t)p->garbage);
}

/* ---------------------------------------------------------------- the simulated lab */

/* The simulated lab's board (its camera renders what it shows). */
static void *cc_emu_create(lb_error *err)
{
	ciclop_emu *e = ciclop_emu_new(err);

	pthread_mutex_lock(&sim_lock);
	sim_emu = e;
	pthread_mutex_unlock(&sim_lock);
	return e;
}

/* The emulated board's pty. */
static const char *cc_emu_path(const void *emu)
{
	return ciclop_emu_path(emu);
}

/* A fault of the emulated board (ok, silent, garbage: numbered like lb_fault). */
static void cc_emu_fault(void *emu, lb_fault fault)
{
	ciclop_emu_set_fault(emu, (ciclop_emu_fault)fault);
}

/* Stop the emulated board (a camera holding it keeps its state readable). */
static void cc_emu_destroy(void *emu)
{
	ciclop_emu *e = emu;

	pthread_mutex_lock(&sim_lock);
	if (sim_emu == e)
		sim_emu = NULL;
	pthread_mutex_unlock(&sim_lock);
	ciclop_emu_destroy(&e);
}

/* What the emulated board does, as a new object, with the simulated object's solids. */
static json_t *cc_emu_probe(void *emu)
{
	double angle;
	int lasers, motors;
	long executed;
	ciclop_scene sc;
	json_t *shapes = json_array();

	ciclop_emu_board(emu, ciclop_emu_now_ms(), &angle, &lasers, &motors, &executed);
	ciclop_sim_scene(&sc);
	for (int i = 0; shapes && i < CICLOP_SCENE_SHAPES; i++) {
		const ciclop_shape *s = &sc.shapes[i];
		if (s->kind == CICLOP_SHAPE_CYLINDER)
			json_array_append_new(shapes, json_pack("{s:s,s:f,s:f,s:f,s:f}", "kind",
								"cylinder", "x", s->x, "z", s->z,
								"r", s->r, "h", s->h));
		else if (s->kind == CICLOP_SHAPE_BOX)
			json_array_append_new(shapes, json_pack("{s:s,s:f,s:f,s:f,s:f,s:f}", "kind",
								"box", "x", s->x, "z", s->z, "hx",
								s->hx, "hz", s->hz, "h", s->h));
	}
	return json_pack("{s:f,s:i,s:b,s:I,s:o,s:i}", "angle", angle, "lasers", lasers, "motors",
			 motors, "executed", (json_int_t)executed, "object", shapes, "camera",
			 atomic_load(&sim_camera_fault));
}

static lb_emulated cc_emulated = {
    .driver = "ciclop",
    .description = "Simulated Ciclop 3D scanner (turntable emulator)",
    .serial = SIM_SERIAL,
    .vid = 0x0403, /* the ZUM BT-328's FTDI FT232R (an Arduino's ids would draw Firmata's probe) */
    .pid = 0x6001,
    .create = cc_emu_create,
    .path = cc_emu_path,
    .set_fault = cc_emu_fault,
    .destroy = cc_emu_destroy,
    .probe = cc_emu_probe,
};

/* The simulated lab: start the emulated board and list its port (hint "ciclop"); stop it. */
LB_EMULATED_SIM_HOOKS(cc, cc_emulated)

/*
 * ciclop.emulator {fault: ok|silent|garbage|alarm|unplug|plug}: the simulated board's faults;
 * {camera: ok|missing|wrong_size}: the simulated camera's; {plate: false|true}: the calibration
 * plate off (forgotten) or on the table for calibration.run's frames; {probe: true}: what the
 * board does ({angle, lasers, motors, executed, object, camera}).
 */
static int cc_bridge_call(const lb_driver *drv, const char *method, const json_t *params,
			  json_t **result, lb_error *err)
{
	static const char *const cams[] = {"ok", "missing", "wrong_size", NULL};
	const char *fault = json_string_value(json_object_get(params, "fault"));
	const char *cam = json_string_value(json_object_get(params, "camera"));
	const json_t *plate = json_object_get(params, "plate");

	(void)drv;
	if (strcmp(method, "emulator") == 0 && json_object_size(params) == 1 && plate) {
		if (!json_is_boolean(plate))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "plate must be true or false");
		atomic_store(&sim_no_plate, !json_is_true(plate));
		*result = json_null();
		return 0;
	}
	if (strcmp(method, "emulator") == 0 && json_object_size(params) == 1 && cam) {
		int i;
		for (i = 0; cams[i] && strcmp(cams[i], cam) != 0; i++)
			;
		if (!cams[i])
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "camera must be ok, missing or wrong_size");
		atomic_store(&sim_camera_fault, i);
		*result = json_null();
		return 0;
	}
	if (strcmp(method, "emulator") == 0 && json_object_size(params) == 1 && fault &&
	    strcmp(fault, "alarm") == 0) {
		if (!lb_emulated_running(&cc_emulated, err))
			return LB_EFAIL;
		ciclop_emu_set_fault(cc_emulated.emu, CICLOP_EMU_ALARM);
		*result = json_null();
		return 0;
	}
	return lb_emulated_fault(&cc_emulated, method, params, result, err);
}

/* The scan service's actions (not client-reachable), and the calibration's (a teacher's: run
 * turns the table and lights the lasers). */
static const lb_action cc_actions[] = {
    {"scan.start", LB_ROLE_STUDENT, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {"scan.cancel", LB_ROLE_STUDENT, LB_ACTION_SERVICE},
    {"calibration.get", LB_ROLE_OBSERVER, 0},
    {"calibration.set", LB_ROLE_TEACHER, 0},
    {"calibration.run", LB_ROLE_TEACHER, LB_ACTION_MOTION},
    {"calibration.cancel", LB_ROLE_TEACHER, 0},
    {NULL, 0, 0},
};

static lb_driver ciclop_driver = {
    .name = "ciclop",
    .description = "Open Ciclop/Horus 3D scanners (horus-fw turntable and lasers at 115200 "
		   "baud, a UVC camera through V4L2)",
    .scan = cc_scan,
    .open = cc_open,
    .close = cc_close,
    .config_get = cc_config_get,
    .describe = cc_describe,
    .call = cc_call,
    .actions = cc_actions,
    .pollitems = cc_pollitems,
    .run = cc_run,
    .simulate = cc_simulate,
    .cleanup = cc_cleanup,
    .bridge_call = cc_bridge_call,
    .halt = cc_halt,
    .halted = cc_halted,
};
LB_REGISTER_DRIVER(ciclop_driver);
