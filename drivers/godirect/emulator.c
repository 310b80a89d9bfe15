/* emulator.c - an emulated Go Direct Force and Acceleration sensor (GDX-FOR) for the simulated lab.
 */
#include "emulator.h"

#include "../../bridge/util/clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../bridge/sim/simmath.h"
#include "../../protocols/godirect.h"

#define QUEUE 64 /* reports waiting to be read */
#define ROWS_PER_PACKET 8

struct gdx_emu {
	uint8_t cmd[GDX_PACKET_MAX + GDX_REPORT_DATA]; /* a command being reassembled */
	size_t have;
	uint8_t counter; /* the device's own rolling counter */
	uint8_t q[QUEUE][GDX_REPORT_SIZE];
	int head, n;
	int streaming;
	uint32_t mask;
	uint64_t period_us;
	int64_t t0;
	uint64_t row;
};

/* Queue a packet as input reports (dropped when the queue is full, as a full HID buffer would). */
static void send_packet(gdx_emu *e, const uint8_t *pkt, size_t len)
{
	uint8_t reports[5 * GDX_REPORT_SIZE];
	int n = gdx_wrap_reports(pkt, len, reports, sizeof reports);

	for (int i = 0; i < n && e->n < QUEUE; i++, e->n++)
		memcpy(e->q[(e->head + e->n) % QUEUE], reports + i * GDX_REPORT_SIZE,
		       GDX_REPORT_SIZE);
}

/* Copy a string into a fixed field. */
static void text(char *out, size_t cap, const char *s)
{
	strncpy(out, s, cap - 1);
	out[cap - 1] = '\0';
}

/* The payload answering a command; its size. */
static size_t answer(gdx_emu *e, const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	switch (pkt[4]) {
	case GDX_CMD_GET_STATUS: {
		static const uint8_t st[GDX_STATUS_SIZE] = {0, 0, 1, 9, 44, 1, 2, 1, 7, 0, 87, 0};
		memcpy(out, st, sizeof st);
		return sizeof st;
	}
	case GDX_CMD_GET_DEVICE_INFO: {
		gdx_device_info d;
		memset(&d, 0, sizeof d);
		text(d.order_code, sizeof d.order_code, "GDX-FOR");
		text(d.serial, sizeof d.serial, "0SIM0001");
		text(d.name, sizeof d.name, "GDX-FOR 0SIM0001");
		text(d.description, sizeof d.description,
		     "Go Direct Force and Acceleration (emulated)");
		d.manufacturer_id = 1, d.year = 2023, d.month = 3, d.day = 14;
		d.fw_major = 1, d.fw_minor = 9, d.fw_build = 300, d.nvmem_size = 4096;
		return gdx_enc_device_info_payload(out, cap, &d);
	}
	case GDX_CMD_GET_DEFAULT_MASK:
	case GDX_CMD_GET_AVAILABLE_MASK: {
		uint32_t m = pkt[4] == GDX_CMD_GET_DEFAULT_MASK ? 0x6 : 0xE;
		memcpy(out, &m, 4); /* little-endian, like the host */
		return 4;
	}
	case GDX_CMD_GET_SENSOR_INFO: {
		static const struct {
			const char *desc, *units;
			double lo, hi, unc;
		} s[] = {{"Force", "N", -50, 50, 0.05},
			 {"X-axis acceleration", "m/s\xc2\xb2", -157, 157, 0.1},
			 {"Force (\xc2\xb1"
			  "10 N range)",
			  "N", -10, 10, 0.01}};
		gdx_sensor_info si;
		int k = len > 5 ? pkt[5] : 0;
		memset(&si, 0, sizeof si);
		si.number = k;
		if (k >= 1 && k <= 3) {
			si.id = 5000 + (uint32_t)k;
			text(si.description, sizeof si.description, s[k - 1].desc);
			text(si.units, sizeof si.units, s[k - 1].units);
			si.min = s[k - 1].lo, si.max = s[k - 1].hi, si.uncertainty = s[k - 1].unc;
			si.min_period_us = 1000, si.max_period_us = 3600000000ULL;
			si.typ_period_us = 100000, si.granularity_us = 1000;
			si.exclusion_mask = k == 1 ? 1u << 3 : k == 3 ? 1u << 1 : 0;
		}
		return gdx_enc_sensor_info_payload(out, cap, &si);
	}
	case GDX_CMD_SET_PERIOD:
		if (len >= 15)
			memcpy(&e->period_us, pkt + 7, 8);
		if (e->period_us < 1000)
			e->period_us = 1000;
		break;
	case GDX_CMD_START:
		if (len >= 11)
			memcpy(&e->mask, pkt + 7, 4);
		e->streaming = 1;
		e->t0 = lb_clock_ns(CLOCK_MONOTONIC);
		e->row = 0;
		break;
	case GDX_CMD_STOP: e->streaming = 0; break;
	default: break;
	}
	out[0] = 0; /* status: success */
	return 1;
}

/* Handle a complete command packet: queue its reply. */
static void command(gdx_emu *e, const uint8_t *pkt, size_t len)
{
	uint8_t payload[GDX_PACKET_MAX], reply[GDX_PACKET_MAX];
	size_t plen, rlen;

	if (gdx_packet_check(pkt, len) < 0)
		return; /* a real device ignores a corrupted command */
	if (pkt[4] == GDX_CMD_INIT)
		e->streaming = 0;
	plen = answer(e, pkt, len, payload, sizeof payload);
	rlen = gdx_enc_reply(reply, sizeof reply, ++e->counter, pkt[4], pkt[2], payload, plen);
	if (rlen)
		send_packet(e, reply, rlen);
}

/* Queue the measurement rows that are due: force and acceleration of a gentle pull. */
static void measure(gdx_emu *e, int64_t now)
{
	while (e->streaming && e->n < QUEUE - 5) {
		int64_t due = e->t0 + (int64_t)(e->row * e->period_us * 1000);
		float v[2 * ROWS_PER_PACKET];
		uint8_t pkt[GDX_PACKET_MAX];
		int rows = 0;
		size_t len;
		if (now < due)
			return;
		while (rows < ROWS_PER_PACKET &&
		       e->t0 + (int64_t)((e->row + (uint64_t)rows) * e->period_us * 1000) <= now)
			rows++;
		for (int r = 0, k = 0; r < rows; r++) {
			double t = (double)(e->row + (uint64_t)r) * (double)e->period_us / 1e6;
			if (e->mask & 2)
				v[k++] = (float)(3.0 + 2.0 * lb_sin_turns(t * 0.15915494309189535));
			if (e->mask & 4)
				v[k++] = (float)(9.81 +
						 0.3 * lb_sin_turns(3.0 * t * 0.15915494309189535));
		}
		len =
		    gdx_enc_normal(pkt, sizeof pkt, ++e->counter, (uint16_t)(e->mask & 6), rows, v);
		if (len)
			send_packet(e, pkt, len);
		e->row += (uint64_t)rows;
	}
}

gdx_emu *gdx_emu_new(void)
{
	gdx_emu *e = calloc(1, sizeof *e);

	if (e)
		e->period_us = 100000;
	return e;
}

void gdx_emu_destroy(gdx_emu *e)
{
	free(e);
}

int gdx_emu_write(gdx_emu *e, const uint8_t *report, size_t len)
{
	size_t n;

	if (len < 2)
		return -1;
	n = report[0] > GDX_REPORT_DATA ? GDX_REPORT_DATA : report[0];
	if (n > len - 1 || e->have + n > sizeof e->cmd)
		return -1;
	memcpy(e->cmd + e->have, report + 1, n);
	e->have += n;
	if (e->have >= 2 && e->have >= e->cmd[1]) {
		command(e, e->cmd, e->cmd[1]);
		e->have = 0;
	}
	return 0;
}

int gdx_emu_read(gdx_emu *e, uint8_t *report, size_t cap, unsigned timeout_ms)
{
	int64_t end = lb_clock_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int64_t now = lb_clock_ns(CLOCK_MONOTONIC), wake = end;
		measure(e, now);
		if (e->n) {
			size_t n = cap < GDX_REPORT_SIZE ? cap : GDX_REPORT_SIZE;
			memcpy(report, e->q[e->head], n);
			e->head = (e->head + 1) % QUEUE;
			e->n--;
			return (int)n;
		}
		if (now >= end)
			return 0;
		if (e->streaming) {
			int64_t due = e->t0 + (int64_t)(e->row * e->period_us * 1000);
			if (due < wake)
				wake = due;
		}
		{
			int64_t d = wake - now;
			struct timespec ts = {d / 1000000000LL, d % 1000000000LL};
			if (d > 0)
				nanosleep(&ts, NULL);
		}
	}
}
