/* lines.c - serial text-line sensors: micro:bit, Arduino Serial.println, home-made boards. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/util/config.h"
#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/sim/emulated.h"
#include "../../bridge/util/log.h"
#include "../../bridge/sdk/params.h"
#include "../../bridge/sdk/serial.h"
#include "../../protocols/lines.h"
#include "emulator.h"

#define DEFAULT_BAUD 115200
#define LEARN_NS 3000000000LL /* how long open waits for a header or a first record */
#define DEFAULT_SILENCE_S 5.0
#define WARN_EVERY_NS 10000000000LL

/*
 * A [lines.NAME] section is one board (device id "lines-NAME"):
 *   port = /dev/ttyACM0               the serial port
 *   baud = 115200                     9600, 19200, 38400, 57600 or 115200
 *   channels = temperature:°C, light:lx   names and units, in the order of the fields;
 *                                     without it, the board's header line names them (or
 *                                     name:value pairs, or ch1, ch2... for bare numbers)
 *   silence_s = 5                     nothing for this long while streaming: the board is gone
 * The simulated lab's micro:bit emulator is found through its port hint "lines".
 */

typedef struct ln_priv {
	lb_serial *port;
	lines_splitter sp;
	int nch;
	char name[LINES_MAX_FIELDS][LINES_NAME_MAX];
	double silence_s;
	int64_t last_rx;
	int64_t last_warn;
	unsigned long bad, bad_reported;
	char last_error[64];
	uint8_t pend[512]; /* bytes read from the port, not yet split into lines */
	size_t npend, off;
} ln_priv;

/* scan: configured [lines.NAME] sections, and ports whose hint is "lines" (the emulator). */
static int ln_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	lb_config_device d = {0};
	json_t *port;
	size_t i;

	(void)drv;
	while (lb_scan_sections(ctx, "lines", "lines-", "Serial sensor board", &d)) {
		const char *path, *channels;
		double baud, silence;
		lb_error err;
		json_t *params;
		path = lb_scan_port(ctx, d.section, "port", out, d.id, d.title, "sensor");
		if (!path)
			continue; /* listed as absent, with the reason */
		if (lb_config_num(ctx->config, d.section, "baud", 1200, 4000000, DEFAULT_BAUD,
				  &baud, &err) < 0 ||
		    lb_config_num(ctx->config, d.section, "silence_s", 0.5, 3600, DEFAULT_SILENCE_S,
				  &silence, &err) < 0) {
			/* the message names the file and line; listed as absent (logged once) */
			lb_spec_list_absent(out, d.id, d.title, "sensor", ctx->config, d.section,
					    err.message);
			continue;
		}
		params =
		    json_pack("{s:s,s:f,s:f}", "path", path, "baud", baud, "silence_s", silence);
		channels = lb_config_str(ctx->config, d.section, "channels", NULL);
		if (params && channels)
			json_object_set_new(params, "channels", json_string(channels));
		lb_spec_list_add(out, d.id, d.title, "sensor", false, params);
	}
	json_array_foreach(ctx->ports, i, port)
	{
		const char *hint = json_string_value(json_object_get(port, "driver"));
		const char *serial = json_string_value(json_object_get(port, "serial"));
		char id[64];
		if (!hint || strcmp(hint, "lines") != 0)
			continue;
		lb_make_id(id, sizeof id, "lines-", serial && *serial ? serial : "board");
		lb_spec_list_add(
		    out, id, json_string_value(json_object_get(port, "description")), "sensor",
		    json_is_true(json_object_get(port, "simulated")),
		    json_pack("{s:s}", "path", json_string_value(json_object_get(port, "path"))));
	}
	return 0;
}

/* Declare the streams of the channels in rec (names, units); 0 or negative with err set. */
static int declare(lb_device *dev, ln_priv *p, const lines_record *rec, int header, lb_error *err)
{
	for (int k = 0; k < rec->n; k++) {
		char name[LINES_NAME_MAX];
		int s;
		if (header || rec->named)
			snprintf(name, sizeof name, "%s", rec->name[k]);
		else
			snprintf(name, sizeof name, "ch%d", k + 1);
		s = lb_device_add_stream(dev, name, name, header ? rec->unit[k] : "", LB_F32, 0);
		if (s < 0)
			return lb_error_set(err, LB_ERR_DEVICE,
					    "channel name '%s' cannot name a stream (use letters, "
					    "digits, '.', '_', '-')",
					    name);
		snprintf(p->name[k], sizeof p->name[k], "%s", name);
	}
	p->nch = rec->n;
	return 0;
}

/* The channels of a "channels = name:unit, ..." config value; 0 or negative with err set. */
static int declare_configured(lb_device *dev, ln_priv *p, const char *list, lb_error *err)
{
	lines_record rec = {0};
	char buf[512], *save = NULL;

	snprintf(buf, sizeof buf, "%s", list);
	for (char *tok = strtok_r(buf, ",", &save); tok && rec.n < LINES_MAX_FIELDS;
	     tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		while (*tok == ' ')
			tok++;
		if (colon)
			*colon = '\0';
		snprintf(rec.name[rec.n], sizeof rec.name[0], "%.*s", (int)strcspn(tok, " "), tok);
		snprintf(rec.unit[rec.n], sizeof rec.unit[0], "%s",
			 colon ? colon + 1 + strspn(colon + 1, " ") : "");
		rec.n++;
	}
	if (!rec.n)
		return lb_error_set(err, LB_ERR_DEVICE, "'channels' names no channel");
	return declare(dev, p, &rec, 1, err);
}

/*
 * The next complete line from the bytes already read (1), else read what the port has now and
 * try again; 0 when there is no complete line yet, LB_EGONE when the port went away. Lines too
 * long are counted as bad.
 */
static int next_line(ln_priv *p, char *line, const lb_now *now)
{
	for (;;) {
		ssize_t n;
		while (p->off < p->npend) {
			size_t used;
			int r =
			    lines_next(&p->sp, p->pend + p->off, p->npend - p->off, &used, line);
			p->off += used;
			if (r == 1)
				return 1;
			if (r < 0) {
				p->bad++;
				snprintf(p->last_error, sizeof p->last_error, "a line too long");
			}
		}
		p->off = p->npend = 0;
		n = lb_serial_read(p->port, p->pend, sizeof p->pend);
		if (n <= 0)
			return n < 0 ? LB_EGONE : 0;
		p->npend = (size_t)n;
		p->last_rx = now->mono;
	}
}

/* Wait (until deadline, monotonic ns) for a line; 1, 0 on timeout, or LB_EGONE. */
static int wait_line(ln_priv *p, char *line, int64_t deadline)
{
	for (;;) {
		lb_now now = lb_now_read();
		struct pollfd pf = {lb_serial_fd(p->port), POLLIN, 0};
		int r = next_line(p, line, &now);
		if (r != 0)
			return r;
		if (deadline <= now.mono)
			return 0;
		poll(&pf, 1, (int)((deadline - now.mono) / 1000000) + 1);
	}
}

/* Add the names of a record of pairs to learned; 1 when a name was already there (a full round
 * of the board's values has been seen), 0 otherwise. */
static int merge_names(lines_record *learned, const lines_record *rec)
{
	learned->named = 1;
	for (int k = 0; k < rec->n; k++) {
		for (int i = 0; i < learned->n; i++)
			if (strcmp(learned->name[i], rec->name[k]) == 0)
				return 1;
		if (learned->n == LINES_MAX_FIELDS)
			return 1;
		memcpy(learned->name[learned->n], rec->name[k], LINES_NAME_MAX);
		learned->unit[learned->n][0] = '\0';
		learned->n++;
	}
	return 0;
}

/* Whether the monotonic deadline has passed. */
static int wait_deadline_passed(int64_t deadline)
{
	return lb_now_read().mono >= deadline;
}

static void ln_close(lb_device *dev);

static int ln_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *path =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path"));
	ln_priv *p = calloc(1, sizeof *p);
	double baud = DEFAULT_BAUD;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->silence_s =
	    json_number_value(json_object_get(lb_device_get_spec(dev)->params, "silence_s"));
	if (p->silence_s <= 0)
		p->silence_s = DEFAULT_SILENCE_S;
	if (json_is_number(json_object_get(lb_device_get_spec(dev)->params, "baud")))
		baud = json_number_value(json_object_get(lb_device_get_spec(dev)->params, "baud"));
	p->port = lb_serial_open(path, (int)baud, err);
	if (!p->port)
		goto fail;
	if (json_is_string(json_object_get(lb_device_get_spec(dev)->params, "channels"))) {
		if (declare_configured(dev, p,
				       json_string_value(json_object_get(
					   lb_device_get_spec(dev)->params, "channels")),
				       err) < 0)
			goto fail;
	} else {
		/* learn the channels from what the board prints first */
		int64_t deadline = now->mono + LEARN_NS;
		char line[LINES_MAX_LEN + 1];
		lines_record learned = {0};
		int header = 0;
		for (;;) {
			lines_record rec;
			char why[64];
			int r = wait_line(p, line, deadline);
			lines_kind k;
			if (r == 0 && learned.n)
				break; /* the deadline, with pairs learned */
			if (r == LB_EGONE || r == 0) {
				lb_error_set(
				    err, LB_ERR_DEVICE,
				    "%s: %s within %lld s (set 'channels' in the config, or "
				    "check the baud rate)",
				    path, r == 0 ? "no readable line" : "the port went away",
				    LEARN_NS / 1000000000LL);
				goto fail;
			}
			k = lines_parse(line, &rec, why, sizeof why);
			if (k == LINES_DATA && rec.named) {
				/* micro:bit's serial.writeValue prints one name:value per line:
				 * gather names until one comes back, then they are all known */
				if (merge_names(&learned, &rec))
					break;
				if (wait_deadline_passed(deadline) && learned.n)
					break;
				continue;
			}
			if (k == LINES_HEADER || k == LINES_DATA) {
				learned = rec;
				learned.named = 0;
				header = k == LINES_HEADER;
				break;
			}
		}
		if (learned.n == 0)
			goto fail;
		if (declare(dev, p, &learned, header || learned.named, err) < 0)
			goto fail;
	}
	p->last_rx = now->mono;
	lb_device_set_running(dev,
			      true); /* boards print all the time: the streams run from the start */
	lb_info("device %s: %d channels on %s", lb_device_id(dev), p->nch, path);
	return 0;
fail:
	ln_close(dev);
	return LB_EFAIL;
}

static void ln_close(lb_device *dev)
{
	ln_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	lb_serial_destroy(&p->port);
	free(p);
	lb_device_set_priv(dev, NULL);
}

static int ln_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	ln_priv *p = lb_device_priv(dev);

	(void)err;
	p->last_rx = now->mono;
	return 0;
}

static json_t *ln_config_get(lb_device *dev)
{
	ln_priv *p = lb_device_priv(dev);
	json_t *ch = json_array();

	for (int k = 0; k < p->nch; k++)
		json_array_append_new(ch, json_string(p->name[k]));
	return json_pack(
	    "{s:o,s:f,s:s,s:I}", "channels", ch, "silence_s", p->silence_s, "port",
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "path")),
	    "bad_lines", (json_int_t)p->bad);
}

static int ln_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	ln_priv *p = lb_device_priv(dev);

	if (strcmp(key, "silence_s") == 0) {
		if (!json_is_number(value) || json_number_value(value) < 0.5 ||
		    json_number_value(value) > 3600)
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "silence_s must be a number of seconds from 0.5 to 3600");
		p->silence_s = json_number_value(value);
		return 0;
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
			    "no setting '%s' (settings: silence_s; channels and baud are set in "
			    "the config)",
			    key);
}

/* Publish one record: positional fields in channel order, or pairs by name. */
static void publish(lb_device *dev, ln_priv *p, const lines_record *rec, const lb_now *now)
{
	for (int k = 0; k < rec->n; k++) {
		int ch = k;
		float v = (float)rec->value[k];
		if (rec->named)
			for (ch = 0; ch < p->nch && strcmp(p->name[ch], rec->name[k]) != 0; ch++)
				;
		if (ch < p->nch)
			lb_stream_publish(dev, ch, now->mono, now->real, &v, 1);
	}
}

static int ln_pollitems(lb_device *dev, zmq_pollitem_t *items, int max)
{
	ln_priv *p = lb_device_priv(dev);

	if (max < 1)
		return 0;
	items[0] = (zmq_pollitem_t){NULL, lb_serial_fd(p->port), ZMQ_POLLIN, 0};
	return 1;
}

static int ln_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	ln_priv *p = lb_device_priv(dev);
	char line[LINES_MAX_LEN + 1];
	int r;

	(void)items, (void)nitems;
	while ((r = next_line(p, line, now)) == 1) {
		lines_record rec;
		lines_kind k = lines_parse(line, &rec, p->last_error, sizeof p->last_error);
		if (k == LINES_DATA && (rec.named || rec.n == p->nch)) {
			if (lb_device_running(dev))
				publish(dev, p, &rec, now);
		} else if (k == LINES_DATA) {
			p->bad++;
			snprintf(p->last_error, sizeof p->last_error, "%d fields for %d channels",
				 rec.n, p->nch);
		} else if (k == LINES_ERROR) {
			p->bad++;
		}
	}
	if (r == LB_EGONE)
		return LB_EGONE;
	if (p->bad > p->bad_reported && now->mono - p->last_warn > WARN_EVERY_NS) {
		lb_warn("device %s: %lu garbled line(s) skipped (last: %s)", lb_device_id(dev),
			p->bad - p->bad_reported, p->last_error);
		p->bad_reported = p->bad;
		p->last_warn = now->mono;
	}
	if (lb_device_running(dev)) {
		int64_t silence = (int64_t)(p->silence_s * 1e9);
		if (now->mono - p->last_rx > silence) {
			lb_warn("device %s stopped answering (nothing for %.1f s)",
				lb_device_id(dev), p->silence_s);
			return LB_EGONE;
		}
		*deadline = p->last_rx + silence + 1;
	}
	return 0;
}

/* The simulated lab's board: an emulated micro:bit (lines.emulator injects faults). */
static void *ln_emu_create(lb_error *err)
{
	return lines_emu_new(err);
}

static const char *ln_emu_path(const void *emu)
{
	return lines_emu_path(emu);
}

static void ln_emu_fault(void *emu, lb_fault fault)
{
	lines_emu_set_fault(emu, (lines_emu_fault)fault); /* numbered like lb_fault */
}

static void ln_emu_destroy(void *emu)
{
	lines_emu *e = emu;
	lines_emu_destroy(&e);
}

static lb_emulated ln_emulated = {
    .driver = "lines",
    .description = "Simulated micro:bit printing sensor lines",
    .serial = "sim-microbit-1",
    .vid = 0x0d28,
    .pid = 0x0204,
    .create = ln_emu_create,
    .path = ln_emu_path,
    .set_fault = ln_emu_fault,
    .destroy = ln_emu_destroy,
};

/* lines.emulator {fault: ok|silent|garbage|unplug|plug}: faults of the simulated board. */
LB_EMULATED_HOOKS(ln, ln_emulated)

static lb_driver lines_driver = {
    .name = "lines",
    .description = "Serial sensor boards printing text lines (micro:bit, Arduino, home-made)",
    .scan = ln_scan,
    .open = ln_open,
    .close = ln_close,
    .start = ln_start,
    .config_get = ln_config_get,
    .config_set = ln_config_set,
    .pollitems = ln_pollitems,
    .run = ln_run,
    .simulate = ln_simulate,
    .cleanup = ln_cleanup,
    .bridge_call = ln_bridge_call,
};
LB_REGISTER_DRIVER(lines_driver);
