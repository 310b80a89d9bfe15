/* marlin.c - 3D printers running Marlin or RepRap firmware over USB serial: the driver's glue. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/util/config.h"
#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sim/emulated.h"
#include "../../bridge/util/log.h"
#include "../../bridge/util/yesno.h"
#include "../../bridge/services/print/printq.h"
#include "emulator.h"
#include "link.h"
#include "printer.h"

/*
 * A [marlin.NAME] section is one printer (device id "printer-NAME"):
 *   port = /dev/ttyUSB0         the serial port
 *   baud = 115200               115200 or 250000 for most boards
 *   inflight = 4                lines in flight at most (1: one at a time; default: the
 *                               firmware's free command slots when it reports ADVANCED_OK, else 4)
 *   rx_buffer = 127             bytes in flight at most (the board's serial receive buffer)
 *   pace = auto                 write at the link's pace: auto (default) paces USB-serial
 *                               adapters (CH340, FTDI, CP210x: ttyUSB) and ports of unknown kind,
 *                               not boards with native USB (ttyACM: Prusa, STM32, LPC), where baud
 *                               means nothing (link.c); 1 or 0 force it
 *   resend_ok = auto            whether the firmware prints "ok" after "Resend:" (Marlin 1.x and
 *                               2.0 do, 2.1 does not): auto learns it (ADVANCED_OK needs none)
 *   timeout_s = 30              an ordinary command unanswered this long: its ok is taken as lost
 *   homing_timeout_s = 600, heating_timeout_s = 1800, wait_timeout_s = 3600
 *   pause_gcode = G91 | G1 Z10 F600 | G90      sent when a job pauses ('|' separates lines)
 *   resume_gcode = G91 | G1 Z-10 F600 | G90    sent before the job goes on
 *   cancel_gcode = M104 S0 | M140 S0 | M107 | M84   sent when a job is cancelled
 * The simulated lab's printer is found through its port hint "marlin".
 */

/* Read a number option of a [marlin.NAME] section into params; 0, or -1 with the message in
 * params._error. */
static int param_num(const json_t *cfg, const char *section, const char *key, double min,
		     double max, double def, json_t *params)
{
	double v;
	lb_error err;

	if (lb_config_num(cfg, section, key, min, max, def, &v, &err) < 0) {
		/* err names the file and line: the device is listed as absent for it (logged
		 * once, not at every scan) */
		json_object_set_new(params, "_error", json_string(err.message));
		return -1;
	}
	json_object_set_new(params, key, json_real(v));
	return 0;
}

/* Whether a [marlin.NAME] section names that port (it is scanned as configured). */
static int configured_port(const json_t *cfg, const char *path)
{
	const char *section;
	json_t *sec;

	json_object_foreach((json_t *)cfg, section, sec)
	{
		const char *p = lb_config_str(cfg, section, "port", NULL);
		if (strncmp(section, "marlin.", 7) == 0 && p && path && strcmp(p, path) == 0)
			return 1;
	}
	return 0;
}

/* The print queue's safety policy (lb_print_policy: [print]), which console commands obey too,
 * as params: its limits and forbidden list, or the configuration error that makes it refuse
 * everything. */
static json_t *policy_params(const json_t *cfg)
{
	gcode_policy pol;
	lb_error err;

	if (lb_print_policy(cfg, &pol, &err) < 0)
		return json_pack("{s:s}", "error", err.message);
	return json_pack("{s:f,s:f,s:s}", "max_hotend", pol.max_hotend, "max_bed", pol.max_bed,
			 "forbidden",
			 lb_config_str(cfg, "print", "forbidden", GCODE_POLICY_FORBIDDEN));
}

/* resend_ok = auto | yes | no of a section into params (MK_RESEND_OK_*); 0, or -1 (logged). */
static int param_resend_ok(const json_t *cfg, const char *section, json_t *params)
{
	const char *v = lb_config_str(cfg, section, "resend_ok", "auto");
	int k;

	if (strcmp(v, "auto") == 0)
		k = MK_RESEND_OK_UNKNOWN;
	else if (lb_yesno(v) >= 0)
		k = lb_yesno(v) ? MK_RESEND_OK_YES : MK_RESEND_OK_NO;
	else {
		lb_err("[%s] resend_ok = %s: auto, yes or no", section, v);
		return -1;
	}
	json_object_set_new(params, "resend_ok", json_integer(k));
	return 0;
}

/* pace = auto | 0 | 1 of a section into *out (MK_PACE_AUTO, 0, 1); 0, or -1 (logged). */
static int param_pace(const json_t *cfg, const char *section, int *out)
{
	const char *v = lb_config_str(cfg, section, "pace", "auto");

	if (strcmp(v, "auto") == 0)
		*out = MK_PACE_AUTO;
	else if (lb_yesno(v) >= 0)
		*out = lb_yesno(v);
	else {
		lb_err("[%s] pace = %s: auto, 0 or 1", section, v);
		return -1;
	}
	return 0;
}

/*
 * Pacing for the port at path into params ("pace": 0/1, "pacing": what and why): its USB ids from
 * the scan's port list (matched after symlinks, e.g. /dev/serial/by-id/...) and its device name.
 */
static void set_pacing(const lb_scan_ctx *ctx, const char *path, int pace_cfg, long baud,
		       json_t *params)
{
	char real[PATH_MAX], other[PATH_MAX], desc[96];
	const char *name = realpath(path, real) ? real : path;
	int vid = 0, pid = 0, pace;
	json_t *port;
	size_t i;

	json_array_foreach(ctx->ports, i, port)
	{
		const char *pp = json_string_value(json_object_get(port, "path"));
		if (pp &&
		    (strcmp(pp, path) == 0 || (realpath(pp, other) && strcmp(other, name) == 0))) {
			vid = (int)json_integer_value(json_object_get(port, "vid"));
			pid = (int)json_integer_value(json_object_get(port, "pid"));
			break;
		}
	}
	pace = mk_link_pace(pace_cfg, name, vid, pid, baud, desc, sizeof desc);
	json_object_set_new(params, "pace", json_integer(pace));
	json_object_set_new(params, "pacing", json_string(desc));
}

/* scan: configured [marlin.NAME] sections whose port exists, Prusa and Marlin-LPC USB boards, and
 * ports whose hint is "marlin" (the emulator). */
static int mk_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	static const char *const gcodes[] = {"pause_gcode", "resume_gcode", "cancel_gcode"};
	lb_config_device d = {0};
	json_t *port;
	size_t i;

	(void)drv;
	while (lb_scan_sections(ctx, "marlin", "printer-", "3D printer", &d)) {
		const char *section = d.section;
		const char *path, *title = d.title;
		const char *id = d.id;
		json_t *params;
		int pace;
		path = lb_scan_port(ctx, section, "port", out, id, title, "printer");
		if (!path)
			continue; /* listed as absent, with the reason */
		params = json_pack("{s:s}", "path", path);
		if (param_num(ctx->config, section, "baud", 1200, 4000000, DEFAULT_BAUD, params) ||
		    param_num(ctx->config, section, "inflight", 0, MK_WINDOW_MAX, 0, params) ||
		    param_num(ctx->config, section, "rx_buffer", 16, 65536, 127, params) ||
		    param_pace(ctx->config, section, &pace) ||
		    param_resend_ok(ctx->config, section, params) ||
		    param_num(ctx->config, section, "timeout_s", 1, 3600, 30, params) ||
		    param_num(ctx->config, section, "homing_timeout_s", 1, 36000, 600, params) ||
		    param_num(ctx->config, section, "heating_timeout_s", 1, 36000, 1800, params) ||
		    param_num(ctx->config, section, "wait_timeout_s", 1, 360000, 3600, params)) {
			lb_spec_list_absent(out, id, title, "printer", ctx->config, section,
					    json_string_value(json_object_get(params, "_error")));
			json_decref(params);
			continue;
		}
		set_pacing(ctx, path, pace,
			   (long)json_number_value(json_object_get(params, "baud")), params);
		for (int k = 0; k < 3; k++) {
			const char *g = lb_config_str(ctx->config, section, gcodes[k], NULL);
			if (g)
				json_object_set_new(params, gcodes[k], json_string(g));
		}
		json_object_set_new(params, "policy", policy_params(ctx->config));
		lb_spec_list_add(out, id, title, "printer", false, params);
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *hint = json_string_value(json_object_get(port, "driver"));
		const char *serial = json_string_value(json_object_get(port, "serial"));
		json_int_t vid = json_integer_value(json_object_get(port, "vid"));
		json_int_t pid = json_integer_value(json_object_get(port, "pid"));
		char id[64];
		/* the emulator, and boards that are printers whatever they run: Prusa Research's,
		 * and Marlin's own LPC176x id (CH340/FTDI boards are configured: they could be
		 * anything) */
		if (!(hint && strcmp(hint, "marlin") == 0) && vid != 0x2c99 &&
		    !(vid == 0x1d50 && pid == 0x6029))
			continue;
		if (configured_port(ctx->config, json_string_value(json_object_get(port, "path"))))
			continue;
		lb_make_id(id, sizeof id, "printer-", serial && *serial ? serial : "usb");
		{
			const char *path = json_string_value(json_object_get(port, "path"));
			json_t *params = json_pack("{s:s,s:o}", "path", path, "policy",
						   policy_params(ctx->config));
			/* the emulator is paced (its pty has no kind), native USB boards not */
			set_pacing(ctx, path, MK_PACE_AUTO, DEFAULT_BAUD, params);
			lb_spec_list_add(
			    out, id, json_string_value(json_object_get(port, "description")),
			    "printer", json_is_true(json_object_get(port, "simulated")), params);
		}
	}
	return 0;
}

/* A number from the spec's params, or def. */
static double spec_num(lb_device *dev, const char *key, double def)
{
	json_t *v = json_object_get(lb_device_get_spec(dev)->params, key);

	return json_is_number(v) ? json_number_value(v) : def;
}

/* A string from the spec's params, or def, into out[cap]. */
static void spec_str(lb_device *dev, const char *key, const char *def, char *out, size_t cap)
{
	const char *v = json_string_value(json_object_get(lb_device_get_spec(dev)->params, key));

	snprintf(out, cap, "%s", v ? v : def);
}

static void mk_close(lb_device *dev);

static int mk_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *path =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path"));
	mk_priv *p = calloc(1, sizeof *p);

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->halt_fd = -1;
	p->inflight_cfg = (int)spec_num(dev, "inflight", 0);
	p->rx_buffer = (int)spec_num(dev, "rx_buffer", 127);
	p->baud = (long)spec_num(dev, "baud", DEFAULT_BAUD);
	p->pace = spec_num(dev, "pace", 1) != 0;
	/* whether the firmware prints an ok after a resend request: configured, else learnt */
	p->snd.resend_ok = (int)spec_num(dev, "resend_ok", MK_RESEND_OK_UNKNOWN);
	spec_str(dev, "pacing", p->pace ? "link" : "none", p->pacing, sizeof p->pacing);
	p->quiet_ns =
	    MK_QUIET_NS + (int64_t)(2e9 * 10 * p->rx_buffer / spec_num(dev, "baud", DEFAULT_BAUD));
	p->timeouts[GCODE_CLASS_QUICK] = (int64_t)(spec_num(dev, "timeout_s", 30) * 1e9);
	p->timeouts[GCODE_CLASS_HOMING] = (int64_t)(spec_num(dev, "homing_timeout_s", 600) * 1e9);
	p->timeouts[GCODE_CLASS_HEATING] =
	    (int64_t)(spec_num(dev, "heating_timeout_s", 1800) * 1e9);
	p->timeouts[GCODE_CLASS_WAIT] = (int64_t)(spec_num(dev, "wait_timeout_s", 3600) * 1e9);
	spec_str(dev, "pause_gcode", "G91 | G1 Z10 F600 | G90", p->pause_gcode,
		 sizeof p->pause_gcode);
	spec_str(dev, "resume_gcode", "G91 | G1 Z-10 F600 | G90", p->resume_gcode,
		 sizeof p->resume_gcode);
	spec_str(dev, "cancel_gcode", "M104 S0 | M140 S0 | M107 | M84", p->cancel_gcode,
		 sizeof p->cancel_gcode);
	{
		/* the queue's policy, read once from [print] by lb_print_policy at the scan: a
		 * policy that could not be read (or parsed here) refuses every console command */
		const json_t *pol = json_object_get(lb_device_get_spec(dev)->params, "policy");
		const char *forbid = json_string_value(json_object_get(pol, "forbidden"));
		const char *bad = json_string_value(json_object_get(pol, "error"));
		char why[160];
		p->policy.max_hotend = json_number_value(json_object_get(pol, "max_hotend"));
		p->policy.max_bed = json_number_value(json_object_get(pol, "max_bed"));
		if (bad || !forbid ||
		    gcode_policy_forbid(&p->policy, forbid, why, sizeof why) < 0) {
			memset(&p->policy, 0, sizeof p->policy);
			p->policy.refuse_all = 1;
			snprintf(p->policy_error, sizeof p->policy_error, "%s",
				 bad ? bad : "no safety policy");
			lb_warn("printer %s: console commands refused: %s", lb_device_id(dev),
				bad ? bad : "no safety policy");
		}
	}
	p->port = lb_serial_open(path, (int)spec_num(dev, "baud", DEFAULT_BAUD), err);
	if (!p->port)
		goto fail;
	/* the halt hook's own descriptor: it writes M112 from the main thread, and reset may close
	 * the port meanwhile (its number could then name another file) */
	p->halt_fd = fcntl(lb_serial_fd(p->port), F_DUPFD_CLOEXEC, 3);
	if (p->halt_fd < 0) {
		lb_error_set(err, LB_ERR_DEVICE, "cannot duplicate the port's descriptor: %s",
			     strerror(errno));
		goto fail;
	}
	if (mk_connect(dev, p, now, err) < 0)
		goto fail;
	p->s_status = lb_device_add_stream(dev, "status", "printer status", "", LB_JSON, 2);
	p->s_hotend = lb_device_add_stream(dev, "hotend", "temperature", "°C", LB_F32, 1);
	p->s_bed = lb_device_add_stream(dev, "bed", "temperature", "°C", LB_F32, 1);
	p->s_console = lb_device_add_stream(dev, "console", "console", "", LB_JSON, 0);
	if (p->s_status < 0 || p->s_hotend < 0 || p->s_bed < 0 || p->s_console < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot declare the printer's streams");
		goto fail;
	}
	lb_device_set_running(dev, true);
	lb_info("printer %s on %s: %d line(s) / %d bytes in flight", lb_device_id(dev), path,
		p->snd.window_lines, p->rx_buffer);
	return 0;
fail:
	mk_close(dev);
	return LB_EFAIL;
}

static void mk_close(lb_device *dev)
{
	mk_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	mk_printer_abandon(dev, p);
	lb_serial_destroy(&p->port);
	if (p->halt_fd >= 0)
		close(p->halt_fd);
	free(p);
	lb_device_set_priv(dev, NULL);
}

static int mk_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		   lb_error *err)
{
	(void)result;
	return mk_printer_call(dev, lb_device_priv(dev), action, args, err);
}

/*
 * The halt hook (another thread, driver.h): M112 on the wire now, in one write(2) of a short
 * line to the port's duplicate descriptor (non-blocking, as the port is), between two of the
 * device thread's writes. 0, or LB_EFAIL when the port took none or part of it (the device
 * thread's halted writes it again).
 */
static int mk_halt(lb_device *dev)
{
	static const char stop[] = "\nM112\n"; /* after a line the pacing may have cut */
	mk_priv *p = lb_device_priv(dev);
	ssize_t n;

	do
		n = write(p->halt_fd, stop, sizeof stop - 1);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof stop - 1))
		return LB_EFAIL;
	atomic_store(&p->halt_sent, 1);
	return 0;
}

/* After the halt, in the device thread: heaters off, the job ended, the printer halted. */
static void mk_halted(lb_device *dev, const lb_now *now)
{
	mk_priv *p = lb_device_priv(dev);

	mk_printer_halted(dev, p, atomic_exchange(&p->halt_sent, 0), now);
}

static json_t *mk_config_get(lb_device *dev)
{
	return mk_printer_config(dev, lb_device_priv(dev));
}

static int mk_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	mk_priv *p = lb_device_priv(dev);

	if (max < 1 || !p->port)
		return 0;
	items[0] = (zmq_pollitem_t){NULL, lb_serial_fd(p->port), ZMQ_POLLIN, 0};
	return 1;
}

/* reset closed the port: the device goes, and comes back at the next scan. */
static int mk_run_checked(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items,
			  int nitems, int64_t *deadline)
{
	mk_priv *p = lb_device_priv(dev);

	if (!p->port)
		return LB_EGONE;
	return mk_printer_run(dev, p, now, items, nitems, deadline);
}

/* ---------------------------------------------------------------- the simulated lab */

static void *mk_emu_create(lb_error *err)
{
	marlin_emu_options o;

	marlin_emu_options_default(&o);
	o.baud = 115200; /* a printer's pace, so that progress is there to watch */
	return marlin_emu_new(&o, err);
}

static const char *mk_emu_path(const void *emu)
{
	return marlin_emu_path(emu);
}

static void mk_emu_fault(void *emu, lb_fault fault)
{
	marlin_emu_set_fault(emu, (marlin_emu_fault)fault, 0); /* numbered like lb_fault */
}

static void mk_emu_destroy(void *emu)
{
	marlin_emu *e = emu;
	marlin_emu_destroy(&e);
}

static lb_emulated mk_emulated = {
    .driver = "marlin",
    .description = "Simulated 3D printer (Marlin 2.1)",
    .serial = "sim-1",
    .vid = 0x1a86,
    .pid = 0x7523,
    .create = mk_emu_create,
    .path = mk_emu_path,
    .set_fault = mk_emu_fault,
    .destroy = mk_emu_destroy,
};

/* marlin.emulator {fault: ok|silent|garbage|unplug|plug}: faults of the simulated printer. */
LB_EMULATED_HOOKS(mk, mk_emulated)

/*
 * What device.call reaches. "print" is the print queue's (it hands over a checked, approved file):
 * clients print through print.upload. Pause, resume, cancel and console G-code act on the job
 * being printed: its owner or a teacher. Anyone may stop a printer in an emergency.
 */
static const lb_action mk_actions[] = {
    {"print", LB_ROLE_TEACHER, LB_ACTION_SERVICE | LB_ACTION_MOTION},
    {"pause", LB_ROLE_STUDENT, LB_ACTION_JOB},
    {"resume", LB_ROLE_STUDENT, LB_ACTION_JOB | LB_ACTION_MOTION},
    {"cancel", LB_ROLE_STUDENT, LB_ACTION_JOB},
    {"gcode", LB_ROLE_STUDENT, LB_ACTION_JOB | LB_ACTION_MOTION},
    {"estop", LB_ROLE_STUDENT, 0},
    {"reset", LB_ROLE_TEACHER, 0},
    {NULL, 0, 0},
};

static lb_driver marlin_driver = {
    .name = "marlin",
    .description = "3D printers with Marlin or RepRap firmware (G-code over USB serial)",
    .scan = mk_scan,
    .open = mk_open,
    .close = mk_close,
    .config_get = mk_config_get,
    .call = mk_call,
    .actions = mk_actions,
    .pollitems = mk_pollitems,
    .run = mk_run_checked,
    .simulate = mk_simulate,
    .cleanup = mk_cleanup,
    .bridge_call = mk_bridge_call,
    .halt = mk_halt,
    .halted = mk_halted,
};
LB_REGISTER_DRIVER(marlin_driver);
