/* godirect.c - Vernier Go Direct sensors over USB HID with libusb (glue: scan, open, streams). */
#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bridge/util/config.h"
#include "../../bridge/sdk/device.h"
#include "../../bridge/sdk/driver.h"
#include "../../bridge/util/log.h"
#include "../../protocols/godirect.h"
#include "emulator.h"

/*
 * I/O model: synchronous libusb transfers, one at a time, in the device's own thread.
 *  - A command is one output report (interrupt OUT, or SET_REPORT on endpoint 0 when the
 *    interface has no OUT endpoint) followed by input reads until its reply comes; measurement
 *    packets read meanwhile are published as usual.
 *  - While streaming, run() reads input reports with a short timeout (STREAM_READ_MS) and returns
 *    a deadline of "now", so the thread is either in a read or answering a request: a request
 *    waits at most STREAM_READ_MS. pollitems() is not used.
 * Why not asynchronous transfers with libusb_get_pollfds in pollitems: the device thread may
 * block (DESIGN.md), one transfer in flight keeps commands and replies strictly ordered, and it
 * is what a usbdevfs replay (umockdev, tests/integration/godirect/) can emulate: one URB at a
 * time, in order. The price is one wake-up per STREAM_READ_MS while the device is quiet.
 */

#define CMD_TIMEOUT_NS 3000000000LL /* a reply within 3 s (godirect-py waits up to 5 s) */
#define CMD_READ_MS 100		    /* one read while waiting for a reply */
#define STREAM_READ_MS 20	    /* one read while streaming */
#define IDLE_NS 20000000LL	    /* after an empty input transfer, before the next read */
#define WRITE_TIMEOUT_MS 1000
#define REPORTS_PER_RUN 64 /* then let the thread look at its requests */
#define MAX_IO_ERRORS 50   /* consecutive transfer errors: the device stopped answering */
#define WARN_EVERY_NS 1000000000LL

/* Results of one read besides the negative errors. */
enum { RD_TIMEOUT = 0, RD_REPORT = 1, RD_EMPTY = 2 };

typedef struct gd_sensor {
	gdx_sensor_info info;
	int present;	/* available with a non-zero sensor id */
	int stream;	/* stream index, -1 if none */
	uint64_t index; /* rows since the start: t_dev = t0_dev + index * period */
} gd_sensor;

typedef struct gd_priv {
	gdx_emu *emu; /* the simulated lab's sensor instead of libusb, or NULL */
	libusb_context *usb;
	libusb_device_handle *h;
	int iface;
	uint8_t ep_in, ep_out; /* ep_out 0: output reports by SET_REPORT on endpoint 0 */
	int claimed, detached, gone;
	char port[32];
	uint8_t counter; /* the rolling counter of our commands */
	gdx_reasm reasm;
	uint8_t report[GDX_REPORT_SIZE];
	uint8_t awaited; /* command whose reply is awaited, 0 if none */
	int have_reply;
	uint8_t reply[GDX_PACKET_MAX];
	size_t reply_len;
	gdx_status status;
	gdx_device_info info;
	uint32_t available, defaults, enabled;
	gd_sensor sens[GDX_MAX_SENSORS];
	int streaming; /* START acknowledged (or being sent), STOP not yet */
	uint32_t period_us;
	int64_t open_mono; /* device time is counted from the open unless the device says */
	int64_t t0_dev;	   /* t_dev of row 0 since the last start (ns) */
	int64_t start_mono;
	int io_errors;
	unsigned long bad_checksum, malformed, stray, dropped, shown_bad, shown_malformed;
	int64_t next_warn;
	float vals[256];
} gd_priv;

/* The libusb context of scan (main thread only), made on first use and freed by cleanup. */
static libusb_context *gd_scan_usb;
static int gd_scan_unavailable, gd_conf_warned;

/* Write "B-P.P.P", the device's place on the USB tree (its sysfs name); 0 or -1. */
static int port_path(libusb_device *d, char *out, size_t cap)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(d, ports, (int)sizeof ports);
	size_t len;

	if (n <= 0)
		return -1;
	len = (size_t)snprintf(out, cap, "%u-%u", libusb_get_bus_number(d), ports[0]);
	for (int i = 1; i < n && len < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, ".%u", ports[i]);
	return len < cap ? 0 : -1;
}

/*
 * Read a sysfs attribute of a USB device ("serial", "product": the kernel's copies of its
 * strings, so no transfer disturbs a device another thread is using) into out, without the
 * trailing newline. Leaves out empty when it cannot be read.
 */
static void sysfs_attr(const char *port, const char *attr, char *out, size_t cap)
{
	char path[128];
	FILE *f;
	size_t n = 0;

	out[0] = '\0';
	snprintf(path, sizeof path, "/sys/bus/usb/devices/%s/%s", port, attr);
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(out, 1, cap - 1, f);
	fclose(f);
	out[n] = '\0';
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
}

/* scan: Go Direct sensors on USB (08f7:0010), from libusb's device list (no transfer). */
static int gd_scan(const lb_driver *drv, const lb_scan_ctx *ctx, lb_spec_list *out)
{
	libusb_device **list = NULL;
	double autostart = 1;
	lb_error err;
	ssize_t n;

	(void)drv;
	{
		/* the simulated lab's sensor (see gd_simulate) */
		size_t k;
		json_t *port;
		json_array_foreach(ctx->ports, k, port)
		{
			const char *hint = json_string_value(json_object_get(port, "driver"));
			if (hint && strcmp(hint, "godirect") == 0)
				lb_spec_list_add(out, "godirect-sim-gdx-for-1",
						 "Simulated Vernier GDX-FOR (Go Direct emulator)",
						 "sensor", true,
						 json_pack("{s:s,s:b,s:b}", "port", "emulated",
							   "emulated", 1, "autostart", 1));
		}
	}
	if (!gd_scan_usb && !gd_scan_unavailable && libusb_init(&gd_scan_usb) != 0) {
		lb_dbg("godirect: libusb unavailable, no Go Direct sensors");
		gd_scan_usb = NULL;
		gd_scan_unavailable = 1;
	}
	if (!gd_scan_usb)
		return 0;
	if (lb_config_num(ctx->config, "godirect", "autostart", 0, 1, 1, &autostart, &err) < 0 &&
	    !gd_conf_warned++)
		lb_warn("%s (using autostart = 1)", err.message);
	n = libusb_get_device_list(gd_scan_usb, &list);
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;
		char port[32], serial[64], product[64], id[64], name[128];
		if (libusb_get_device_descriptor(list[i], &d) != 0 || d.idVendor != GDX_VID ||
		    d.idProduct != GDX_PID || port_path(list[i], port, sizeof port) < 0)
			continue;
		sysfs_attr(port, "serial", serial, sizeof serial);
		sysfs_attr(port, "product", product, sizeof product);
		lb_make_id(id, sizeof id, "godirect-", serial[0] ? serial : port);
		snprintf(name, sizeof name, "Vernier %s (Go Direct, USB)",
			 product[0] ? product : "Go Direct sensor");
		lb_spec_list_add(out, id, name, "sensor", false,
				 json_pack("{s:s,s:s,s:b}", "port", port, "serial", serial,
					   "autostart", autostart != 0));
	}
	if (n >= 0)
		libusb_free_device_list(list, 1);
	return 0;
}

/* A libusb error as LB_EGONE (the device is unplugged: remembered in p->gone) or LB_EFAIL. */
static int usb_rc(gd_priv *p, int rc)
{
	if (rc == LIBUSB_ERROR_NO_DEVICE) {
		p->gone = 1;
		return LB_EGONE;
	}
	return LB_EFAIL;
}

/* Send one packet as output reports; 0, LB_EGONE or LB_EFAIL (a warning says why). */
static int gd_write(lb_device *dev, gd_priv *p, const uint8_t *pkt, size_t len)
{
	uint8_t reports[5 * GDX_REPORT_SIZE];
	int n = gdx_wrap_reports(pkt, len, reports, sizeof reports);

	if (p->gone)
		return LB_EGONE;
	for (int i = 0; i < n; i++) {
		uint8_t *r = reports + i * GDX_REPORT_SIZE;
		int rc, done = 0;
		if (p->emu) {
			gdx_emu_write(p->emu, r, GDX_REPORT_SIZE);
			continue;
		}
		if (p->ep_out)
			rc = libusb_interrupt_transfer(p->h, p->ep_out, r, GDX_REPORT_SIZE, &done,
						       WRITE_TIMEOUT_MS);
		else
			rc = libusb_control_transfer(p->h, 0x21, 0x09 /* SET_REPORT */, 0x0200,
						     (uint16_t)p->iface, r, GDX_REPORT_SIZE,
						     WRITE_TIMEOUT_MS);
		if (rc < 0) {
			if (rc != LIBUSB_ERROR_NO_DEVICE)
				lb_warn("device %s: cannot send command 0x%02x: %s",
					lb_device_id(dev), pkt[4], libusb_error_name(rc));
			return usb_rc(p, rc);
		}
	}
	return n > 0 ? 0 : LB_EINVAL;
}

/* Remember rows lost in a packet that failed its checksum, so that t_dev shows the gap. */
static void gd_lost_packet(gd_priv *p, const uint8_t *pkt, size_t len)
{
	gdx_meas m;

	if (gdx_decode_measurement(pkt, len, &m) != 0 || m.aperiodic || m.count == 0)
		return;
	for (int k = 0; k < m.nsensors; k++)
		p->sens[gdx_mask_nth(m.mask, k)].index += (uint64_t)m.count;
}

/* Stream rates follow the period (aperiodic sensors keep 0). */
static void gd_update_rates(lb_device *dev, gd_priv *p)
{
	for (int s = 0; s < GDX_MAX_SENSORS; s++)
		if (p->sens[s].stream >= 0 && p->sens[s].info.sampling_mode == 0)
			lb_stream_set_rate(dev, p->sens[s].stream, 1e6 / p->period_us);
}

/* Publish the values of a measurement packet, or apply its event (start time, drop, period). */
static void gd_measurement(lb_device *dev, gd_priv *p, const gdx_meas *m, const lb_now *at)
{
	int64_t period_ns = (int64_t)p->period_us * 1000;

	switch (m->type) {
	case GDX_MEAS_START_TIME:
		if (m->has_value) {
			p->t0_dev = m->start_time_us * 1000;
			for (int s = 0; s < GDX_MAX_SENSORS; s++)
				p->sens[s].index = 0;
		}
		return;
	case GDX_MEAS_PERIOD:
		if (m->has_value && m->period_us > 0 && m->period_us <= UINT32_MAX &&
		    m->period_us != p->period_us) {
			lb_info("device %s: the measurement period is %llu us", lb_device_id(dev),
				(unsigned long long)m->period_us);
			p->period_us = (uint32_t)m->period_us;
			gd_update_rates(dev, p);
			lb_device_changed(dev);
		}
		return;
	case GDX_MEAS_DROPPED:
		if (m->has_value) {
			p->dropped += m->dropped;
			lb_warn("device %s dropped %lu measurement(s) (%.3f s): a gap in t_dev, "
				"nothing "
				"published for them",
				lb_device_id(dev), (unsigned long)m->dropped,
				m->dropped * period_ns / 1e9);
			for (int s = 0; s < GDX_MAX_SENSORS; s++)
				if (p->enabled & (1u << s))
					p->sens[s].index += m->dropped;
		} else {
			/* how many is unknown: place the next rows by the host's clock */
			uint64_t due =
			    period_ns ? (uint64_t)((at->mono - p->start_mono) / period_ns) : 0;
			lb_warn("device %s dropped measurements (how many it did not say): t_dev "
				"continues from the host's clock",
				lb_device_id(dev));
			for (int s = 0; s < GDX_MAX_SENSORS; s++)
				if ((p->enabled & (1u << s)) && p->sens[s].index < due)
					p->sens[s].index = due;
		}
		return;
	default: break;
	}
	for (int k = 0; k < m->nsensors; k++) {
		gd_sensor *gs = &p->sens[gdx_mask_nth(m->mask, k)];
		int c = gdx_meas_extract(m, k, p->vals);
		if (c <= 0 || gs->stream < 0)
			continue;
		if (m->aperiodic) {
			/* irregular values: each its own message, timed on arrival */
			for (int i = 0; i < c; i++)
				lb_stream_publish(dev, gs->stream,
						  p->t0_dev + (at->mono - p->start_mono), at->real,
						  &p->vals[i], 1);
			continue;
		}
		lb_stream_publish(dev, gs->stream, p->t0_dev + (int64_t)gs->index * period_ns,
				  at->real - (int64_t)(c - 1) * period_ns, p->vals, (uint32_t)c);
		gs->index += (uint64_t)c;
	}
}

/* Handle one reassembled packet: a measurement, the awaited reply, or something to count. */
static void gd_packet(lb_device *dev, gd_priv *p, const uint8_t *pkt, size_t len, const lb_now *at)
{
	int rc = gdx_packet_check(pkt, len);
	gdx_meas m;

	if (rc == GDX_ERR_CHECKSUM) {
		p->bad_checksum++;
		if (pkt[0] == GDX_KIND_MEASUREMENT && p->streaming)
			gd_lost_packet(p, pkt, len);
		return;
	}
	if (rc < 0) {
		p->malformed++;
		return;
	}
	if (pkt[0] != GDX_KIND_MEASUREMENT) {
		if (p->awaited && pkt[4] == p->awaited && !p->have_reply && len >= 6) {
			memcpy(p->reply, pkt, len);
			p->reply_len = len;
			p->have_reply = 1;
		} else {
			p->stray++; /* a late reply, or one nobody asked for */
			lb_dbg("device %s: unexpected reply to command 0x%02x", lb_device_id(dev),
			       pkt[4]);
		}
		return;
	}
	if (gdx_decode_measurement(pkt, len, &m) < 0) {
		p->malformed++;
		return;
	}
	if (p->streaming)
		gd_measurement(dev, p, &m, at);
}

/*
 * Read one input report (waiting up to timeout_ms) and handle the packets it completes.
 * Returns RD_REPORT, RD_TIMEOUT (nothing came), RD_EMPTY (an empty transfer), LB_EGONE, or
 * LB_EFAIL for another transfer error (warned about).
 */
static int gd_read(lb_device *dev, gd_priv *p, unsigned timeout_ms)
{
	const uint8_t *pkt;
	size_t len;
	int got = 0, rc;
	lb_now at;

	if (p->gone)
		return LB_EGONE;
	if (p->emu) {
		got = gdx_emu_read(p->emu, p->report, GDX_REPORT_SIZE, timeout_ms);
		rc = got ? 0 : LIBUSB_ERROR_TIMEOUT;
	} else {
		rc = libusb_interrupt_transfer(p->h, p->ep_in, p->report, GDX_REPORT_SIZE, &got,
					       timeout_ms);
	}
	if (rc == LIBUSB_ERROR_TIMEOUT && got == 0) {
		if (p->reasm.have) {
			p->malformed++; /* the rest of a packet never came */
			gdx_reasm_reset(&p->reasm);
		}
		return RD_TIMEOUT;
	}
	if (rc < 0 && rc != LIBUSB_ERROR_TIMEOUT) {
		if (rc == LIBUSB_ERROR_NO_DEVICE)
			return usb_rc(p, rc);
		if (++p->io_errors == 1 || p->io_errors % 10 == 0)
			lb_warn("device %s: input transfer failed: %s", lb_device_id(dev),
				libusb_error_name(rc));
		return LB_EFAIL;
	}
	p->io_errors = 0;
	if (got == 0)
		return RD_EMPTY;
	at = lb_now_read(); /* the packet's arrival: known only now, after the blocking read */
	gdx_reasm_feed(&p->reasm, p->report, (size_t)got);
	while (gdx_reasm_next(&p->reasm, &pkt, &len))
		gd_packet(dev, p, pkt, len, &at);
	return RD_REPORT;
}

/* Sleep for ns nanoseconds (after an empty transfer, so that waiting is not spinning). */
static void gd_pause(int64_t ns)
{
	struct timespec ts = {ns / 1000000000LL, ns % 1000000000LL};

	nanosleep(&ts, NULL);
}

/*
 * Send a command packet and wait for its reply (measurements read meanwhile are handled).
 * Returns 0 with *rep pointing into p->reply, LB_EGONE, LB_EAGAIN (no reply in time) or
 * LB_EFAIL (cannot write, or reads keep failing); err says which.
 */
static int gd_command(lb_device *dev, gd_priv *p, const uint8_t *pkt, size_t len, gdx_reply *rep,
		      lb_error *err)
{
	uint8_t cmd = pkt[4];
	int64_t deadline;
	int rc;

	p->awaited = cmd;
	p->have_reply = 0;
	rc = gd_write(dev, p, pkt, len);
	if (rc < 0) {
		p->awaited = 0;
		lb_error_set(err, LB_ERR_DEVICE, "%s: cannot send command 0x%02x%s",
			     lb_device_id(dev), cmd, rc == LB_EGONE ? " (unplugged)" : "");
		return rc;
	}
	deadline = lb_now_read().mono + CMD_TIMEOUT_NS;
	while (!p->have_reply) {
		if (lb_now_read().mono >= deadline) {
			p->awaited = 0;
			lb_error_set(err, LB_ERR_TIMEOUT,
				     "%s: no reply to command 0x%02x within %lld s",
				     lb_device_id(dev), cmd, CMD_TIMEOUT_NS / 1000000000LL);
			return LB_EAGAIN;
		}
		rc = gd_read(dev, p, CMD_READ_MS);
		if (rc == LB_EGONE || (rc < 0 && p->io_errors >= MAX_IO_ERRORS)) {
			p->awaited = 0;
			lb_error_set(err, LB_ERR_DEVICE,
				     "%s: %s while waiting for the reply to 0x%02x",
				     lb_device_id(dev),
				     rc == LB_EGONE ? "unplugged" : "transfers fail", cmd);
			return rc == LB_EGONE ? LB_EGONE : LB_EFAIL;
		}
		if (rc == RD_EMPTY || rc < 0)
			gd_pause(IDLE_NS);
	}
	p->awaited = 0;
	return gdx_parse_reply(p->reply, p->reply_len, cmd, rep) == 0 ? 0 : LB_EFAIL;
}

/* The period limits of the enabled sensors: the largest minimum, the smallest maximum. */
static void gd_limits(const gd_priv *p, uint32_t *lo, uint32_t *hi, uint32_t *step)
{
	uint64_t l = 1, h = UINT32_MAX, g = 1;

	for (int s = 0; s < GDX_MAX_SENSORS; s++) {
		const gdx_sensor_info *i = &p->sens[s].info;
		if (!(p->enabled & (1u << s)))
			continue;
		if (i->min_period_us > l)
			l = i->min_period_us;
		if (i->max_period_us && i->max_period_us < h)
			h = i->max_period_us;
		if (i->granularity_us > g)
			g = i->granularity_us;
	}
	if (l > h)
		l = h;
	*lo = (uint32_t)l;
	*hi = (uint32_t)h;
	*step = (uint32_t)g;
}

/* A period valid for the enabled sensors: us rounded to the granularity, within the limits. */
static uint32_t gd_fit_period(const gd_priv *p, uint64_t us)
{
	uint32_t lo, hi, g;

	gd_limits(p, &lo, &hi, &g);
	us = (us + g / 2) / g * g;
	if (us < lo)
		us = (lo + g - 1) / g * g;
	if (us > hi)
		us = hi / g * g;
	return us ? (uint32_t)us : lo;
}

/* The period to start with: the slowest typical period of the enabled sensors (godirect-js). */
static uint32_t gd_default_period(const gd_priv *p)
{
	uint32_t typ = 0;

	for (int s = 0; s < GDX_MAX_SENSORS; s++)
		if ((p->enabled & (1u << s)) && p->sens[s].info.typ_period_us > typ)
			typ = p->sens[s].info.typ_period_us;
	return gd_fit_period(p, typ ? typ : 100000);
}

/* The sensors of want that can run together: a sensor excluded by an earlier one is left out. */
static uint32_t gd_compatible(const gd_priv *p, uint32_t want)
{
	uint32_t mask = 0;

	for (int s = 0; s < GDX_MAX_SENSORS; s++) {
		uint32_t excl = 0;
		if (!(want & (1u << s)) || !p->sens[s].present)
			continue;
		for (int t = 0; t < GDX_MAX_SENSORS; t++)
			if (mask & (1u << t))
				excl |= p->sens[t].info.exclusion_mask;
		if (!(excl & (1u << s)) && !(p->sens[s].info.exclusion_mask & mask))
			mask |= 1u << s;
	}
	return mask;
}

/*
 * A stream name from a sensor's description: lower case, [a-z0-9._-], unique. Returns 1, or 0
 * when the description gives no usable name and the name is "sN" (N: the sensor number).
 */
static int gd_stream_name(lb_device *dev, const gd_sensor *gs, char *out, size_t cap)
{
	size_t n = 0;
	int taken = 0;

	for (const char *c = gs->info.description; *c && n + 1 < cap; c++) {
		char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;
		if (ch == ' ' || ch == '/')
			ch = '_';
		if (strchr(LB_NAME_CHARS, ch) && ch && !(ch == '_' && n && out[n - 1] == '_'))
			out[n++] = ch;
	}
	while (n && out[n - 1] == '_')
		n--;
	out[n] = '\0';
	for (int i = 0; i < lb_device_nstreams(dev); i++)
		taken |= strcmp(lb_device_stream_name(dev, i), out) == 0;
	if (n > 0 && !taken)
		return 1;
	snprintf(out, cap, "s%d", gs->info.number);
	return 0;
}

/* Copy a UTF-8 string into cap bytes without cutting a character. */
static void copy_utf8(char *out, size_t cap, const char *in)
{
	size_t n = strlen(in);

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)in[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, in, n);
	out[n] = '\0';
}

/* Declare one f32 stream per sensor: its description, units, range and rate. */
static void gd_add_streams(lb_device *dev, gd_priv *p)
{
	for (int s = 0; s < GDX_MAX_SENSORS; s++) {
		gd_sensor *gs = &p->sens[s];
		char name[32], quantity[32], unit[16];
		double rate;
		gs->stream = -1;
		if (!gs->present)
			continue;
		/* the quantity is the sensor's description, as the device names it */
		copy_utf8(quantity, sizeof quantity,
			  gd_stream_name(dev, gs, name, sizeof name) ? name : "");
		copy_utf8(unit, sizeof unit, gs->info.units);
		rate = 0; /* aperiodic: irregular */
		if (gs->info.sampling_mode == 0 && (p->enabled & (1u << s)))
			rate = 1e6 / p->period_us;
		else if (gs->info.sampling_mode == 0 && gs->info.typ_period_us)
			rate = 1e6 / gs->info.typ_period_us;
		gs->stream = lb_device_add_stream(dev, name, quantity, unit, LB_F32, rate);
		if (gs->stream >= 0)
			lb_stream_set_range(dev, gs->stream, gs->info.min, gs->info.max,
					    gs->info.uncertainty);
	}
}

/* Start measuring the enabled sensors at the current period; 0 or negative with err set. */
static int gd_start(lb_device *dev, const lb_now *now, lb_error *err)
{
	gd_priv *p = lb_device_priv(dev);
	uint8_t pkt[32];
	gdx_reply rep;
	int rc;

	if (!p->enabled)
		return lb_error_set(err, LB_ERR_DEVICE, "%s: no sensor is enabled",
				    lb_device_id(dev));
	rc = gd_command(dev, p, pkt, gdx_enc_set_period(pkt, sizeof pkt, &p->counter, p->period_us),
			&rep, err);
	if (rc < 0)
		return LB_EFAIL;
	for (int s = 0; s < GDX_MAX_SENSORS; s++)
		p->sens[s].index = 0;
	p->start_mono = now->mono;
	p->t0_dev = now->mono - p->open_mono;
	p->streaming = 1; /* measurements may come before the reply */
	rc = gd_command(dev, p, pkt, gdx_enc_start(pkt, sizeof pkt, &p->counter, p->enabled), &rep,
			err);
	if (rc == 0 && rep.len >= 1 && rep.payload[0] != 0) {
		lb_error_set(err, LB_ERR_DEVICE, "%s refused to start (status 0x%02x)",
			     lb_device_id(dev), rep.payload[0]);
		rc = LB_EFAIL;
	}
	if (rc < 0) {
		p->streaming = 0;
		return LB_EFAIL;
	}
	return 0;
}

/* Stop measuring; 0 or negative with err set (nothing to do for an unplugged device). */
static int gd_stop(lb_device *dev, lb_error *err)
{
	gd_priv *p = lb_device_priv(dev);
	uint8_t pkt[32];
	gdx_reply rep;

	if (p->gone) {
		p->streaming = 0;
		return 0;
	}
	if (gd_command(dev, p, pkt, gdx_enc_stop(pkt, sizeof pkt, &p->counter), &rep, err) < 0)
		return LB_EFAIL;
	p->streaming = 0;
	return 0;
}

/* Release the interface (giving it back to the kernel's driver if we took it) and libusb. */
static void gd_close(lb_device *dev)
{
	gd_priv *p = lb_device_priv(dev);

	if (!p)
		return;
	if (p->h) {
		if (p->claimed)
			libusb_release_interface(p->h, p->iface);
		if (p->detached && !p->gone)
			libusb_attach_kernel_driver(p->h, p->iface);
		libusb_close(p->h);
	}
	if (p->usb)
		libusb_exit(p->usb);
	gdx_emu_destroy(p->emu);
	free(p);
	lb_device_set_priv(dev, NULL);
}

/*
 * Find the HID interface and its interrupt endpoints in the active configuration (read from the
 * descriptors libusb already has). 0, or -1 when there is no interrupt IN endpoint.
 */
static int gd_endpoints(gd_priv *p, libusb_device *d)
{
	struct libusb_config_descriptor *cfg = NULL;
	int rc = -1;

	if (libusb_get_active_config_descriptor(d, &cfg) != 0 &&
	    libusb_get_config_descriptor(d, 0, &cfg) != 0)
		return -1;
	for (int i = 0; i < cfg->bNumInterfaces && rc < 0; i++) {
		const struct libusb_interface_descriptor *alt;
		if (cfg->interface[i].num_altsetting < 1)
			continue;
		alt = &cfg->interface[i].altsetting[0];
		if (alt->bInterfaceClass != LIBUSB_CLASS_HID && cfg->bNumInterfaces > 1)
			continue;
		p->ep_in = p->ep_out = 0;
		for (int e = 0; e < alt->bNumEndpoints; e++) {
			const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];
			if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_INTERRUPT)
				continue;
			if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN)
				p->ep_in = p->ep_in ? p->ep_in : ep->bEndpointAddress;
			else
				p->ep_out = p->ep_out ? p->ep_out : ep->bEndpointAddress;
		}
		if (p->ep_in) {
			p->iface = alt->bInterfaceNumber;
			rc = 0;
		}
	}
	libusb_free_config_descriptor(cfg);
	return rc;
}

/* Open the USB device at p->port and claim its HID interface; 0 or LB_EFAIL with err set. */
static int gd_usb_open(lb_device *dev, gd_priv *p, lb_error *err)
{
	libusb_device **list = NULL, *found = NULL;
	ssize_t n;
	int rc;

	if (json_is_true(json_object_get(lb_device_get_spec(dev)->params, "emulated"))) {
		/* the simulated lab: the same packets, through reports, without USB */
		p->emu = gdx_emu_new();
		return p->emu ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	if (libusb_init(&p->usb) != 0) {
		p->usb = NULL;
		return lb_error_set(err, LB_ERR_DEVICE, "libusb cannot start");
	}
	n = libusb_get_device_list(p->usb, &list);
	for (ssize_t i = 0; i < n && !found; i++) {
		struct libusb_device_descriptor d;
		char port[32];
		if (libusb_get_device_descriptor(list[i], &d) == 0 && d.idVendor == GDX_VID &&
		    d.idProduct == GDX_PID && port_path(list[i], port, sizeof port) == 0 &&
		    strcmp(port, p->port) == 0)
			found = list[i];
	}
	if (!found) {
		rc = lb_error_set(err, LB_ERR_DEVICE, "no Go Direct sensor at USB %s (unplugged?)",
				  p->port);
		goto done;
	}
	if (gd_endpoints(p, found) < 0) {
		rc = lb_error_set(err, LB_ERR_DEVICE,
				  "USB %s: no HID interface with an input endpoint", p->port);
		goto done;
	}
	rc = libusb_open(found, &p->h);
	if (rc != 0) {
		p->h = NULL;
		rc = lb_error_set(
		    err, LB_ERR_DEVICE, "cannot open USB %s: %s%s", p->port, libusb_error_name(rc),
		    rc == LIBUSB_ERROR_ACCESS ? " (install udev/60-labbridge.rules: make install)"
					      : "");
		goto done;
	}
	if (libusb_kernel_driver_active(p->h, p->iface) == 1) {
		rc = libusb_detach_kernel_driver(p->h, p->iface);
		if (rc != 0) {
			rc = lb_error_set(err, LB_ERR_DEVICE,
					  "USB %s: cannot detach the kernel's HID driver: %s",
					  p->port, libusb_error_name(rc));
			goto done;
		}
		p->detached = 1;
	}
	rc = libusb_claim_interface(p->h, p->iface);
	if (rc != 0) {
		rc = lb_error_set(err, LB_ERR_DEVICE, "USB %s: cannot claim interface %d: %s%s",
				  p->port, p->iface, libusb_error_name(rc),
				  rc == LIBUSB_ERROR_BUSY ? " (another program uses the sensor)"
							  : "");
		goto done;
	}
	p->claimed = 1;
	rc = 0;
done:
	if (n >= 0)
		libusb_free_device_list(list, 1);
	return rc;
}

/* Ask the device what it is and which sensors it has; 0 or negative with err set. */
static int gd_handshake(lb_device *dev, gd_priv *p, lb_error *err)
{
	uint8_t pkt[32];
	gdx_reply rep;

	if (gd_command(dev, p, pkt, gdx_enc_init(pkt, sizeof pkt, &p->counter), &rep, err) < 0 ||
	    gd_command(dev, p, pkt,
		       gdx_enc_simple(pkt, sizeof pkt, &p->counter, GDX_CMD_GET_STATUS), &rep,
		       err) < 0 ||
	    gdx_decode_status(rep.payload, rep.len, &p->status) < 0 ||
	    gd_command(dev, p, pkt,
		       gdx_enc_simple(pkt, sizeof pkt, &p->counter, GDX_CMD_GET_DEVICE_INFO), &rep,
		       err) < 0 ||
	    gdx_decode_device_info(rep.payload, rep.len, &p->info) < 0 ||
	    gd_command(dev, p, pkt,
		       gdx_enc_simple(pkt, sizeof pkt, &p->counter, GDX_CMD_GET_DEFAULT_MASK), &rep,
		       err) < 0 ||
	    gdx_decode_mask(rep.payload, rep.len, &p->defaults) < 0 ||
	    gd_command(dev, p, pkt,
		       gdx_enc_simple(pkt, sizeof pkt, &p->counter, GDX_CMD_GET_AVAILABLE_MASK),
		       &rep, err) < 0 ||
	    gdx_decode_mask(rep.payload, rep.len, &p->available) < 0) {
		if (!err->message[0])
			lb_error_set(err, LB_ERR_DEVICE, "%s: malformed reply in the handshake",
				     lb_device_id(dev));
		return LB_EFAIL;
	}
	for (int s = 0; s < GDX_MAX_SENSORS; s++) {
		gdx_sensor_info info;
		if (!(p->available & (1u << s)))
			continue;
		if (gd_command(dev, p, pkt, gdx_enc_sensor_info(pkt, sizeof pkt, &p->counter, s),
			       &rep, err) < 0)
			return LB_EFAIL;
		if (gdx_decode_sensor_info(rep.payload, rep.len, &info) < 0 || info.number != s) {
			lb_warn("device %s: malformed information on sensor %d, left out",
				lb_device_id(dev), s);
			continue;
		}
		/* godirect-js: a sensor id of 0 is not a sensor */
		p->sens[s].present = info.id != 0;
		p->sens[s].info = info;
	}
	return 0;
}

/*
 * Open the sensor: claim its HID interface, run the handshake (init, status, device info, default
 * and available sensors, each sensor's information), declare one f32 stream per sensor with the
 * default sensors enabled, and start measuring unless [godirect] autostart = 0. 0, or LB_EFAIL
 * with err set and everything released.
 */
static int gd_open(lb_device *dev, const lb_now *now, lb_error *err)
{
	const char *port =
	    json_string_value(json_object_get(lb_device_get_spec(dev)->params, "port"));
	gd_priv *p = calloc(1, sizeof *p);
	char names[256] = "";
	size_t nn = 0;

	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	lb_device_set_priv(dev, p);
	p->counter = GDX_COUNTER_INIT;
	p->open_mono = now->mono;
	snprintf(p->port, sizeof p->port, "%s", port ? port : "");
	if (gd_usb_open(dev, p, err) < 0 || gd_handshake(dev, p, err) < 0)
		goto fail;
	p->enabled = gd_compatible(p, p->defaults & p->available);
	if (!p->enabled) /* no usable default: the first sensor there is */
		for (int s = 0; s < GDX_MAX_SENSORS && !p->enabled; s++)
			if (p->sens[s].present)
				p->enabled = 1u << s;
	if (!p->enabled) {
		lb_error_set(err, LB_ERR_DEVICE, "%s %s reports no sensor", p->info.order_code,
			     p->info.serial);
		goto fail;
	}
	p->period_us = gd_default_period(p);
	gd_add_streams(dev, p);
	for (int i = 0; i < lb_device_nstreams(dev) && nn + 40 < sizeof names; i++)
		nn +=
		    (size_t)snprintf(names + nn, sizeof names - nn, "%s%s (%s)", i ? ", " : "",
				     lb_device_stream_name(dev, i), lb_device_stream_unit(dev, i));
	lb_info("device %s: %s %s, firmware %u.%u.%u, battery %u %%, on USB %s; sensors: %s",
		lb_device_id(dev), p->info.order_code, p->info.serial, p->status.fw_major,
		p->status.fw_minor, p->status.fw_build, p->status.battery_percent, p->port, names);
	if (json_is_true(json_object_get(lb_device_get_spec(dev)->params, "autostart"))) {
		if (gd_start(dev, now, err) < 0)
			goto fail;
		lb_device_set_running(dev, true);
	}
	return 0;
fail:
	gd_close(dev); /* close() is only called after a successful open */
	return LB_EFAIL;
}

/* The enabled sensors as a JSON array of sensor numbers. */
static json_t *gd_sensor_list(uint32_t mask)
{
	json_t *a = json_array();

	for (int s = 0; s < GDX_MAX_SENSORS; s++)
		if (mask & (1u << s))
			json_array_append_new(a, json_integer(s));
	return a;
}

/* Settings (period_us, sensors) and what the device said about itself, as a new object. */
static json_t *gd_config_get(lb_device *dev)
{
	gd_priv *p = lb_device_priv(dev);
	char fw[32];

	snprintf(fw, sizeof fw, "%u.%u.%u", p->info.fw_major, p->info.fw_minor, p->info.fw_build);
	return json_pack(
	    "{s:I,s:o,s:o,s:s,s:s,s:s,s:s,s:i,s:s,s:I,s:I}", "period_us", (json_int_t)p->period_us,
	    "sensors", gd_sensor_list(p->enabled), "available", gd_sensor_list(p->available),
	    "order_code", p->info.order_code, "serial", p->info.serial, "name", p->info.name,
	    "firmware", fw, "battery_percent", p->status.battery_percent, "port", p->port,
	    "dropped", (json_int_t)p->dropped, "checksum_errors", (json_int_t)p->bad_checksum);
}

/* The period limits of the enabled sensors, as a new object. */
static json_t *gd_limits_get(lb_device *dev)
{
	uint32_t lo, hi, g;

	gd_limits(lb_device_priv(dev), &lo, &hi, &g);
	return json_pack("{s:{s:I,s:I,s:I}}", "period_us", "min", (json_int_t)lo, "max",
			 (json_int_t)hi, "step", (json_int_t)g);
}

/* Restart measuring after a change of period or sensors, if measuring; 0 or negative. */
static int gd_restart(lb_device *dev, gd_priv *p, lb_error *err)
{
	lb_now now = lb_now_read();

	if (!p->streaming)
		return 0;
	if (gd_stop(dev, err) < 0 || gd_start(dev, &now, err) < 0) {
		lb_device_set_running(dev, p->streaming != 0);
		return LB_EFAIL;
	}
	return 0;
}

/*
 * period_us (rounded to the sensors' granularity) or sensors (numbers that may run together);
 * measuring restarts with the change. 0, or negative with err set: invalid_params before any
 * transfer for a bad value, device_error or timeout when the device does not follow.
 */
static int gd_config_set(lb_device *dev, const char *key, const json_t *value, lb_error *err)
{
	gd_priv *p = lb_device_priv(dev);

	if (strcmp(key, "period_us") == 0) {
		uint32_t lo, hi, g;
		json_int_t us = json_integer_value(value);
		gd_limits(p, &lo, &hi, &g);
		if (!json_is_integer(value) || us < lo || us > hi)
			return lb_error_set(
			    err, LB_ERR_INVALID_PARAMS,
			    "period_us must be an integer from %u to %u (the enabled "
			    "sensors' limits), a multiple of %u",
			    lo, hi, g);
		p->period_us = gd_fit_period(p, (uint64_t)us);
		gd_update_rates(dev, p);
		return gd_restart(dev, p, err);
	}
	if (strcmp(key, "sensors") == 0) {
		uint32_t want = 0, ok;
		size_t i;
		json_t *v;
		if (!json_is_array(value) || json_array_size(value) == 0)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "sensors must be a non-empty array of sensor numbers");
		json_array_foreach(value, i, v)
		{
			json_int_t s = json_integer_value(v);
			if (!json_is_integer(v) || s < 0 || s >= GDX_MAX_SENSORS ||
			    !p->sens[s].present)
				return lb_error_set(err, LB_ERR_INVALID_PARAMS,
						    "the device has no sensor %s (see 'available')",
						    json_is_integer(v) ? "with that number"
								       : "(not a number)");
			want |= 1u << s;
		}
		ok = gd_compatible(p, want);
		if (ok != want)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "sensor %d cannot run together with the others (the "
					    "device's exclusion mask)",
					    gdx_mask_nth(want & ~ok, 0));
		p->enabled = want;
		p->period_us = gd_fit_period(p, p->period_us);
		gd_update_rates(dev, p);
		return gd_restart(dev, p, err);
	}
	return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
			    "no setting '%s' (settings: period_us, sensors)", key);
}

/* Warn about what went wrong since the last warning, at most once a second. */
static void gd_warn_counters(lb_device *dev, gd_priv *p, const lb_now *now)
{
	if (now->mono < p->next_warn)
		return;
	if (p->bad_checksum > p->shown_bad) {
		lb_warn(
		    "device %s: %lu packet(s) with a bad checksum dropped (t_dev shows the gap)",
		    lb_device_id(dev), p->bad_checksum - p->shown_bad);
		p->shown_bad = p->bad_checksum;
		p->next_warn = now->mono + WARN_EVERY_NS;
	}
	if (p->malformed + p->reasm.errors > p->shown_malformed) {
		lb_warn("device %s: %lu malformed packet(s) or report(s) dropped",
			lb_device_id(dev), p->malformed + p->reasm.errors - p->shown_malformed);
		p->shown_malformed = p->malformed + p->reasm.errors;
		p->next_warn = now->mono + WARN_EVERY_NS;
	}
}

/*
 * While measuring: read what came (up to REPORTS_PER_RUN reports), publish it, and ask to run
 * again at once (a read waits STREAM_READ_MS itself). Returns LB_EGONE when the sensor is
 * unplugged or transfers keep failing, else 0.
 */
static int gd_run(lb_device *dev, const lb_now *now, const zmq_pollitem_t *items, int nitems,
		  int64_t *deadline)
{
	gd_priv *p = lb_device_priv(dev);
	int rc = RD_REPORT;

	(void)items, (void)nitems;
	if (p->gone)
		return LB_EGONE;
	if (!p->streaming)
		return 0; /* the device sends nothing unless asked */
	for (int i = 0; i < REPORTS_PER_RUN && rc == RD_REPORT; i++)
		rc = gd_read(dev, p, STREAM_READ_MS);
	gd_warn_counters(dev, p, now);
	if (rc == LB_EGONE) {
		lb_warn("device %s was unplugged", lb_device_id(dev));
		return LB_EGONE;
	}
	if (rc < 0 && p->io_errors >= MAX_IO_ERRORS) {
		lb_warn("device %s stopped answering (%d transfer errors in a row)",
			lb_device_id(dev), p->io_errors);
		return LB_EGONE;
	}
	/* RD_REPORT (more may be waiting) and RD_TIMEOUT (the read already waited): read again at
	 * once; after an empty transfer or an error (both come back at once: now is not stale),
	 * wait a little */
	*deadline = rc == RD_EMPTY || rc < 0 ? now->mono + IDLE_NS : now->mono;
	return 0;
}

/* At shutdown: free scan's libusb context. */
/* The simulated lab: an emulated GDX-FOR, driven through the same packets and reports. */
static int gd_simulate(const lb_driver *drv, const lb_scan_ctx *ctx, json_t *ports)
{
	(void)drv, (void)ctx;
	return json_array_append_new(ports, json_pack("{s:s,s:s,s:s,s:b}", "path", "emulated",
						      "driver", "godirect", "description",
						      "Simulated Vernier GDX-FOR", "simulated", 1));
}

static void gd_cleanup(const lb_driver *drv)
{
	(void)drv;
	if (gd_scan_usb)
		libusb_exit(gd_scan_usb);
	gd_scan_usb = NULL;
}

static lb_driver godirect_driver = {
    .name = "godirect",
    .description = "Vernier Go Direct sensors on USB (HID 08f7:0010, libusb)",
    .scan = gd_scan,
    .open = gd_open,
    .close = gd_close,
    .start = gd_start,
    .stop = gd_stop,
    .config_get = gd_config_get,
    .limits_get = gd_limits_get,
    .config_set = gd_config_set,
    .run = gd_run,
    .simulate = gd_simulate,
    .cleanup = gd_cleanup,
};
LB_REGISTER_DRIVER(godirect_driver);
