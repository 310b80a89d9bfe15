/* sim.c - the simulated lab's sensors: configurable waveforms streamed like real ones. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../../bridge/util/config.h"
#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/util/log.h"
#include "../../bridge/sdk/params.h"
#include "signal.h"

/*
 * Rates up to 1 GHz: above ~1 MHz a simulated device is a load generator for benchmarks
 * (tests/bench/run.py offers up to 200 M samples/s from one device thread, as raw libzmq sends
 * 4000-byte messages as fast as it can from one publisher thread: 100-170 M samples/s on a
 * 2-core VM); real sensors are below 100 kHz. The work stays one lb_signal_fill_f32 and one
 * message per batch, and one wake-up per message or fewer (SIM_MIN_WAKE_NS), whatever the rate:
 * the batch sets the messages per second (rate 1e8 with batch = 1000: 100 000 messages/s;
 * automatic: SIM_MAX_BATCH samples, 1 526 messages of 256 KiB per second at 1e8).
 */
#define SIM_MAX_RATE 1000000000.0
#define SIM_MAX_BATCH 65536
#define SIM_MAX_DEVICES 64
/*
 * A device thread wakes at most every SIM_MIN_WAKE_NS and then publishes every message that is
 * due, as a fast acquisition device delivers its data in bursts (USB bulk transfers every 125 us
 * to 1 ms). Only streams whose messages are closer than this are affected (their messages leave
 * up to 250 us late, in bursts); without it, a stream at 75 000 messages/s costs 75 000 sleeps and
 * wake-ups of its thread per second, more CPU than the rest of the bridge's path together
 * (tests/bench/README.md).
 */
#define SIM_MIN_WAKE_NS 250000
/* Automatic batching: at most this many messages per second per stream (50 ms of latency). */
#define SIM_MESSAGES_PER_S 20.0

/* The built-in lab, used when the config has no [sim.*] section. */
static const struct sim_default {
	const char *name, *title, *quantity, *unit, *wave;
	double rate, offset, amplitude, frequency, noise, min, max, resolution;
} sim_defaults[] = {
    {"temp-1", "Simulated temperature probe", "temperature", "°C", "walk", 10, 21.5, 2.0, 0, 0.02,
     -40, 125, 0.01},
    {"ph-1", "Simulated pH electrode", "ph", "pH", "walk", 5, 7.0, 0.3, 0, 0.01, 0, 14, 0.01},
    {"volt-1", "Simulated voltage probe", "voltage", "V", "sine", 1000, 0.0, 5.0, 50, 0.01, -10, 10,
     0.005},
    {"force-1", "Simulated force sensor", "force", "N", "sine", 100, 0.0, 10.0, 0.5, 0.05, -50, 50,
     0.01},
    {"light-1", "Simulated light sensor", "light", "lx", "walk", 10, 350, 50, 0, 2, 0, 100000, 1},
};

/* Devices the teacher "unplugged" with sim.unplug, and the ids of the lab (main thread only). */
static char sim_unplugged[SIM_MAX_DEVICES][64];
static int sim_nunplugged;
static char sim_known[SIM_MAX_DEVICES][64];
static int sim_nknown;

typedef struct sim_priv {
	lb_signal sig;
	double rate;
	int batch; /* samples per message; 0 = automatic (about 20 messages/s) */
	int autostart;
	int64_t t0_mono, t0_real, dev_t0;
	uint64_t produced;
	float *buf;
	int bufcap;
	int fault; /* a broken probe: every sample is sim_faults[fault] (0: none) */
	/* The halt (sim_halt, from the main thread): acquisition stops, a hang ends early. */
	atomic_int halted;
	int halt_efd; /* eventfd the halt writes to: what "hang" waits on */
} sim_priv;

/* The values of device.set {key: "fault"}: what a broken or unplugged probe reads. */
static const char *const sim_faults[] = {"none", "nan", "inf", "-inf", NULL};

/* Samples per message for the current rate; automatic batches stop at SIM_MAX_BATCH (above
 * 1.3 MHz: more than 20 messages/s rather than messages of many MB). */
static int sim_batch(const sim_priv *p)
{
	double b = p->batch ? p->batch : ceil(p->rate / SIM_MESSAGES_PER_S);
	return b < 1 ? 1 : b > SIM_MAX_BATCH ? SIM_MAX_BATCH : (int)b;
}

/* The keys a [sim.NAME] section may hold. */
static const char *const sim_keys[] = {
    "title", "quantity", "unit", "wave",       "rate",	"offset",    "amplitude", "frequency",
    "noise", "min",	 "max",	 "resolution", "batch", "autostart", "thread",	  NULL};

/* Log a configuration error once (scans run every 2 s: do not repeat it each time). */
static void sim_config_error(const json_t *cfg, const char *section, const char *msg)
{
	static json_t *reported;
	json_t *m;
	char where[400];

	if (!reported)
		reported = json_object();
	m = json_string(msg);

	if (json_equal(json_object_get(reported, section), m)) {
		json_decref(m);
		return;
	}
	json_object_set_new(reported, section, m);
	/* every message names the file and line: the section's, unless it names a key's */
	lb_config_where(cfg, section, NULL, where, sizeof where);
	if (strncmp(msg, where, strcspn(where, ":")) == 0)
		lb_err("%s (the simulated device [%s] is left out)", msg, section);
	else
		lb_err("%s: %s (the simulated device [%s] is left out)", where, msg, section);
}

/* Read one numeric option of a [sim.NAME] section into the params object; 0 or negative. */
static int sim_opt(const json_t *cfg, const char *section, json_t *params, const char *key,
		   double min, double max, double def)
{
	double v;
	lb_error err;

	if (lb_config_num(cfg, section, key, min, max, def, &v, &err) < 0) {
		sim_config_error(cfg, section, err.message);
		return -1;
	}
	json_object_set_new(params, key, json_real(v));
	return 0;
}

/* Check a section's keys and names; 0, or -1 after logging what is wrong (file:line). */
static int sim_check_section(const json_t *cfg, const char *section, const json_t *sec)
{
	const char *path = json_string_value(json_object_get(cfg, "_path"));
	const char *key, *q;
	json_t *v;
	char msg[300];

	json_object_foreach((json_t *)sec, key, v)
	{
		int known = key[0] == '_';
		for (int i = 0; sim_keys[i] && !known; i++)
			known = strcmp(sim_keys[i], key) == 0;
		if (!known) {
			snprintf(msg, sizeof msg, "%s:%lld: unknown key '%s' in [%s]",
				 path ? path : "config",
				 (long long)json_integer_value(
				     json_object_get(json_object_get(sec, "_lines"), key)),
				 key, section);
			sim_config_error(cfg, section, msg);
			return -1;
		}
	}
	q = lb_config_str(cfg, section, "quantity", "voltage");
	if (!*q || strspn(q, LB_NAME_CHARS) != strlen(q) || strlen(q) > 31) {
		snprintf(
		    msg, sizeof msg,
		    "%s:%lld: [%s] quantity = '%s' names the stream: use letters, digits, '.', "
		    "'_' or '-' (e.g. temperature, light_level)",
		    path ? path : "config",
		    (long long)json_integer_value(
			json_object_get(json_object_get(sec, "_lines"), "quantity")),
		    section, q);
		sim_config_error(cfg, section, msg);
		return -1;
	}
	return 0;
}

/* Whether id has been unplugged by sim.unplug. */
static int sim_is_unplugged(const char *id)
{
	for (int i = 0; i < sim_nunplugged; i++)
		if (strcmp(sim_unplugged[i], id) == 0)
			return 1;
	return 0;
}

/*
 * Add one simulated device to out unless it is unplugged. Simulated sensors never block, so
 * they share one thread ("sim") unless own is set ([sim.NAME] thread = own: a thread of its
 * own, e.g. for a load generator, or to try the "hang" action).
 */
static void sim_add(lb_spec_list *out, const char *name, const char *title, bool own,
		    json_t *params)
{
	char id[64];

	snprintf(id, sizeof id, "sim-%s", name);
	if (sim_nknown < SIM_MAX_DEVICES)
		snprintf(sim_known[sim_nknown++], sizeof sim_known[0], "%s", id);
	if (sim_is_unplugged(id)) {
		json_decref(params);
		return;
	}
	if (lb_spec_list_add(out, id, title, "sensor", true, params) == 0 && !own)
		snprintf(out->v[out->n - 1].thread, sizeof out->v[0].thread, "sim");
}

/* scan: the devices of the [sim.*] sections, or the built-in lab. */
static int sim_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	const char *section;
	json_t *sec;
	int configured = 0;

	(void)drv;
	sim_nknown = 0;
	if (!ctx->simulate)
		return 0;
	json_object_foreach((json_t *)ctx->config, section, sec)
	{
		const char *name = section + 4;
		const char *wave, *thread;
		lb_wave w;
		json_t *p;

		if (strncmp(section, "sim.", 4) != 0)
			continue;
		configured = 1;
		if (!*name || strspn(name, LB_NAME_CHARS) != strlen(name)) {
			sim_config_error(ctx->config, section,
					 "a simulated device name may only use letters, "
					 "digits, '.', '_' and '-'");
			continue;
		}
		if (sim_check_section(ctx->config, section, sec) < 0)
			continue;
		thread = lb_config_str(ctx->config, section, "thread", "shared");
		if (strcmp(thread, "shared") != 0 && strcmp(thread, "own") != 0) {
			char msg[200];
			snprintf(msg, sizeof msg, "[%s] thread = '%s' must be shared or own",
				 section, thread);
			sim_config_error(ctx->config, section, msg);
			continue;
		}
		wave = lb_config_str(ctx->config, section, "wave", "sine");
		if (lb_wave_parse(wave, &w) < 0) {
			char msg[200];
			snprintf(msg, sizeof msg,
				 "[%s] wave = '%s' must be constant, sine, square, ramp or walk",
				 section, wave);
			sim_config_error(ctx->config, section, msg);
			continue;
		}
		p = json_pack("{s:s,s:s,s:s}", "quantity",
			      lb_config_str(ctx->config, section, "quantity", "voltage"), "unit",
			      lb_config_str(ctx->config, section, "unit", "V"), "wave", wave);
		if (sim_opt(ctx->config, section, p, "rate", 0.001, SIM_MAX_RATE, 10) < 0 ||
		    sim_opt(ctx->config, section, p, "offset", -1e9, 1e9, 0) < 0 ||
		    sim_opt(ctx->config, section, p, "amplitude", -1e9, 1e9, 1) < 0 ||
		    sim_opt(ctx->config, section, p, "frequency", 0, 1e6, 1) < 0 ||
		    sim_opt(ctx->config, section, p, "noise", 0, 1e9, 0) < 0 ||
		    sim_opt(ctx->config, section, p, "min", -1e12, 1e12, 0) < 0 ||
		    sim_opt(ctx->config, section, p, "max", -1e12, 1e12, 0) < 0 ||
		    sim_opt(ctx->config, section, p, "resolution", 0, 1e9, 0) < 0 ||
		    sim_opt(ctx->config, section, p, "batch", 0, SIM_MAX_BATCH, 0) < 0 ||
		    sim_opt(ctx->config, section, p, "autostart", 0, 1, 1) < 0) {
			json_decref(p);
			continue;
		}
		sim_add(out, name, lb_config_str(ctx->config, section, "title", "Simulated sensor"),
			strcmp(thread, "own") == 0, p);
	}
	if (configured)
		return 0;
	for (size_t i = 0; i < sizeof sim_defaults / sizeof sim_defaults[0]; i++) {
		const struct sim_default *d = &sim_defaults[i];
		sim_add(out, d->name, d->title, false,
			json_pack("{s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}",
				  "quantity", d->quantity, "unit", d->unit, "wave", d->wave, "rate",
				  d->rate, "offset", d->offset, "amplitude", d->amplitude,
				  "frequency", d->frequency, "noise", d->noise, "min", d->min,
				  "max", d->max, "resolution", d->resolution, "batch", 0.0,
				  "autostart", 1.0));
	}
	return 0;
}

/* A number from the spec's params. */
static double param(const lb_device *dev, const char *key)
{
	return json_number_value(json_object_get(lb_device_get_spec(dev)->params, key));
}

/* Reset the acquisition timeline at now (after start or a rate change). */
static void sim_restart(lb_device *dev, sim_priv *p, const lb_now *now)
{
	p->dev_t0 += (int64_t)((double)p->produced * 1e9 / (p->rate > 0 ? p->rate : 1));
	p->t0_mono = now->mono;
	p->t0_real = now->real;
	p->produced = 0;
	(void)dev;
}

static int sim_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	sim_priv *p = calloc(1, sizeof *p);
	int s;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->halt_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->halt_efd < 0) {
		free(p);
		lb_device_set_priv(dev, NULL);
		return lb_error_set(err, LB_ERR_INTERNAL, "eventfd: %s", strerror(errno));
	}
	lb_wave_parse(json_string_value(json_object_get(lb_device_get_spec(dev)->params, "wave")),
		      &p->sig.wave);
	p->sig.offset = param(dev, "offset");
	p->sig.amplitude = param(dev, "amplitude");
	p->sig.frequency = param(dev, "frequency");
	p->sig.noise = param(dev, "noise");
	p->sig.min = param(dev, "min");
	p->sig.max = param(dev, "max");
	p->sig.rng = 0x2545F4914F6CDD1DULL ^ (uint64_t)(uintptr_t)dev;
	p->rate = param(dev, "rate");
	p->batch = (int)param(dev, "batch");
	p->autostart = param(dev, "autostart") != 0;
	s = lb_device_add_stream(
	    dev, json_string_value(json_object_get(lb_device_get_spec(dev)->params, "quantity")),
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "quantity")),
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "unit")), LB_F32,
	    p->rate);
	if (s < 0)
		return lb_error_set(err, LB_ERR_DEVICE, "invalid stream description");
	lb_stream_set_range(dev, s, p->sig.min, p->sig.max, param(dev, "resolution"));
	if (p->autostart) {
		lb_device_set_running(dev, true);
		sim_restart(dev, p, now);
	}
	return 0;
}

static void sim_close(lb_device *dev)
{
	sim_priv *p = lb_device_priv(dev);

	if (p) {
		free(p->buf);
		if (p->halt_efd >= 0)
			close(p->halt_efd);
	}
	free(p);
	lb_device_set_priv(dev, NULL);
}

static int sim_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	sim_priv *p = lb_device_priv(dev);
	uint64_t n;

	(void)err;
	/* started again after a halt: the halt is over */
	atomic_store(&p->halted, 0);
	if (read(p->halt_efd, &n, sizeof n) < 0 && errno != EAGAIN)
		lb_warn("device %s: eventfd: %s", lb_device_id(dev), strerror(errno));
	sim_restart(dev, p, now);
	return 0;
}

/* The halt hook (another thread, driver.h): acquisition stops (an atomic flag sim_run obeys)
 * and a hang in progress ends (its eventfd). 0, or LB_EFAIL if the eventfd cannot be written. */
static int sim_halt(lb_device *dev)
{
	sim_priv *p = lb_device_priv(dev);
	uint64_t one = 1;

	atomic_store(&p->halted, 1);
	return write(p->halt_efd, &one, sizeof one) == sizeof one || errno == EAGAIN ? 0 : LB_EFAIL;
}

static int sim_stop(lb_device *dev, lb_error *err)
{
	(void)dev, (void)err;
	return 0;
}

static json_t *sim_config_get(lb_device *dev)
{
	sim_priv *p = lb_device_priv(dev);

	return json_pack("{s:f,s:i,s:s,s:f,s:f,s:f,s:f,s:s}", "rate", p->rate, "batch", p->batch,
			 "wave", lb_wave_name(p->sig.wave), "offset", p->sig.offset, "amplitude",
			 p->sig.amplitude, "frequency", p->sig.frequency, "noise", p->sig.noise,
			 "fault", sim_faults[p->fault]);
}

static json_t *sim_limits_get(lb_device *dev)
{
	(void)dev;
	return json_pack("{s:{s:f,s:f},s:{s:i,s:i}}", "rate", "min", 0.001, "max", SIM_MAX_RATE,
			 "batch", "min", 0, "max", SIM_MAX_BATCH);
}

/* Read a number for config_set, within [min, max]; 0 or negative with err set. */
static int number_in(const char *key, const json_t *v, double min, double max, double *out,
		     lb_error *err)
{
	if (!json_is_number(v))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s must be a number", key);
	*out = json_number_value(v);
	if (!(*out >= min && *out <= max))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s = %.15g is outside the device's limits [%.15g, %.15g]", key,
				    *out, min, max);
	return 0;
}

static int sim_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	sim_priv *p = lb_device_priv(dev);
	double v;
	lb_now now = lb_now_read();

	if (strcmp(key, "rate") == 0) {
		if (number_in(key, value, 0.001, SIM_MAX_RATE, &v, err) < 0)
			return LB_EFAIL;
		sim_restart(dev, p, &now);
		p->rate = v;
		return lb_stream_set_rate(dev, 0, v);
	}
	if (strcmp(key, "batch") == 0) {
		if (number_in(key, value, 0, SIM_MAX_BATCH, &v, err) < 0)
			return LB_EFAIL;
		p->batch = (int)v;
		return 0;
	}
	if (strcmp(key, "wave") == 0) {
		if (!json_is_string(value) ||
		    lb_wave_parse(json_string_value(value), &p->sig.wave) < 0)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "wave must be constant, sine, square, ramp or walk");
		return 0;
	}
	if (strcmp(key, "offset") == 0 || strcmp(key, "amplitude") == 0 ||
	    strcmp(key, "frequency") == 0 || strcmp(key, "noise") == 0) {
		if (number_in(key, value, key[0] == 'o' || key[0] == 'a' ? -1e9 : 0, 1e9, &v, err) <
		    0)
			return LB_EFAIL;
		*(key[0] == 'o'	  ? &p->sig.offset
		  : key[0] == 'a' ? &p->sig.amplitude
		  : key[0] == 'f' ? &p->sig.frequency
				  : &p->sig.noise) = v;
		return 0;
	}
	if (strcmp(key, "fault") == 0) {
		for (int i = 0; sim_faults[i]; i++)
			if (json_is_string(value) &&
			    strcmp(json_string_value(value), sim_faults[i]) == 0) {
				p->fault = i;
				return 0;
			}
		return lb_error_set(
		    err, LB_ERR_INVALID_PARAMS,
		    "fault must be none, nan, inf or -inf (what a broken probe reads)");
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
			    "no setting '%s' (settings: rate, batch, wave, offset, amplitude, "
			    "frequency, noise, fault)",
			    key ? key : "");
}

static int sim_call(lb_device *dev, const char *action, const json_t *args, json_t **result,
		    lb_error *err)
{
	if (strcmp(action, "hang") == 0) {
		/* Block this device's thread, as a stuck driver would: the others must not notice.
		 */
		long long ms = 1000;
		struct timespec ts;
		if (lb_param_int(args, "ms", false, 0, 60000, &ms, err) < 0)
			return LB_EFAIL;
		if (lb_device_get_spec(dev)->thread[0])
			return lb_error_set(
			    err, LB_ERR_NOT_SUPPORTED,
			    "device '%s' shares its thread with the other simulated "
			    "sensors: 'hang' needs [sim.NAME] thread = own",
			    lb_device_id(dev));
		/* blocked as a driver waiting on a slow board would be, until a halt wakes it (as
		 * sane_cancel wakes sane_read) */
		{
			sim_priv *p = lb_device_priv(dev);
			struct pollfd pf = {p->halt_efd, POLLIN, 0};
			lb_now t0 = lb_now_read(), t1;
			int64_t left = ms * 1000000;
			int woken = 0;
			while (left > 0 && !(woken = atomic_load(&p->halted))) {
				ts = (struct timespec){left / 1000000000, left % 1000000000};
				ppoll(&pf, 1, &ts, NULL);
				t1 = lb_now_read();
				left = ms * 1000000 - (t1.mono - t0.mono);
			}
			/* {slept_ms} as always, or how long until a halt woke it and "halted" */
			t1 = lb_now_read();
			*result = woken ? json_pack("{s:I,s:b}", "slept_ms",
						    (json_int_t)((t1.mono - t0.mono) / 1000000),
						    "halted", 1)
					: json_pack("{s:I}", "slept_ms", (json_int_t)ms);
		}
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "unknown action '%s' (actions: hang)",
			    action);
}

static int sim_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		   int64_t *deadline)
{
	sim_priv *p = lb_device_priv(dev);
	double period_ns = 1e9 / p->rate;
	int batch = sim_batch(p);
	uint64_t due;

	(void)items, (void)nitems;
	if (!lb_device_running(dev) || atomic_load(&p->halted)) {
		*deadline = -1;
		return 0;
	}
	if (batch > p->bufcap) {
		float *b = realloc(p->buf, (size_t)batch * sizeof *b);
		if (!b)
			return LB_ENOMEM;
		p->buf = b;
		p->bufcap = batch;
	}
	due = now->mono < p->t0_mono ? 0
				     : (uint64_t)((double)(now->mono - p->t0_mono) / period_ns) + 1;
	for (int loops = 0; due - p->produced >= (uint64_t)batch; loops++) {
		int64_t t = (int64_t)((double)p->produced * period_ns);
		if (loops == 64) {
			*deadline = now->mono; /* far behind: let commands in, then continue */
			return 0;
		}
		lb_signal_fill_f32(&p->sig, (double)(p->dev_t0 + t) / 1e9, 1.0 / p->rate, p->buf,
				   (size_t)batch);
		for (int i = 0; p->fault && i < batch; i++)
			p->buf[i] = p->fault == 1 ? NAN : p->fault == 2 ? INFINITY : -INFINITY;
		lb_stream_publish(dev, 0, p->dev_t0 + t, p->t0_real + t, p->buf, (uint32_t)batch);
		p->produced += (uint64_t)batch;
	}
	*deadline = p->t0_mono + (int64_t)((double)(p->produced + (uint64_t)batch - 1) * period_ns);
	if (*deadline < now->mono + SIM_MIN_WAKE_NS)
		*deadline = now->mono + SIM_MIN_WAKE_NS; /* the next burst */
	return 0;
}

/* sim.unplug / sim.plug: make a simulated device disappear or come back. */
static int sim_bridge_call(const lb_driver *drv, const char *method, const json_t *params,
			   json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	const char *id = NULL;
	int known = 0;

	(void)drv;
	if (strcmp(method, "unplug") != 0 && strcmp(method, "plug") != 0)
		return lb_error_set(err, LB_ERR_METHOD_NOT_FOUND,
				    "unknown method 'sim.%s' (sim.unplug, sim.plug)", method);
	if (lb_param_only(params, allowed, err) < 0 ||
	    lb_param_string(params, "device", true, &id, err) < 0)
		return LB_EFAIL;
	for (int i = 0; i < sim_nknown; i++)
		known |= strcmp(sim_known[i], id) == 0;
	if (!known)
		return lb_error_set(err, LB_ERR_UNKNOWN_DEVICE, "no simulated device '%s'", id);
	if (method[0] == 'u' && !sim_is_unplugged(id) && sim_nunplugged < SIM_MAX_DEVICES)
		snprintf(sim_unplugged[sim_nunplugged++], sizeof sim_unplugged[0], "%s", id);
	if (method[0] == 'p')
		for (int i = 0; i < sim_nunplugged; i++)
			if (strcmp(sim_unplugged[i], id) == 0) {
				memcpy(sim_unplugged[i], sim_unplugged[--sim_nunplugged],
				       sizeof sim_unplugged[0]);
				break;
			}
	*result = json_null();
	return 0;
}

/* What device.call reaches: "hang" blocks the device's thread, a fault for teachers to show. */
static const lb_action sim_actions[] = {
    {"hang", LB_ROLE_TEACHER, 0},
    {NULL, 0, 0},
};

static lb_driver sim_driver = {
    .name = "sim",
    .description = "Simulated sensors (the simulated lab)",
    .scan = sim_scan,
    .open = sim_open,
    .close = sim_close,
    .start = sim_start,
    .stop = sim_stop,
    .config_get = sim_config_get,
    .limits_get = sim_limits_get,
    .config_set = sim_config_set,
    .call = sim_call,
    .actions = sim_actions,
    .run = sim_run,
    .bridge_call = sim_bridge_call,
    .halt = sim_halt,
};
LB_REGISTER_DRIVER(sim_driver);
