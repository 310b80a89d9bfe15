/* godirect.c - the Vernier Go Direct (GDX) USB HID protocol as pure functions over byte buffers. */
#include "godirect.h"

#include <string.h>

/* Little-endian readers and writers (the protocol's byte order, whatever the host's). */
static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32);
}

static double rdf64(const uint8_t *p)
{
	uint64_t u = rd64(p);
	double d;

	memcpy(&d, &u, sizeof d);
	return d;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wr64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void wrf64(uint8_t *p, double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof u);
	wr64(p, u);
}

static void wrf32(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof u);
	wr32(p, u);
}

/* Number of bits set in a sensor mask. */
static int popcount32(uint32_t m)
{
	int n = 0;

	for (; m; m &= m - 1)
		n++;
	return n;
}

/* Sum of the bytes but byte 3, modulo 256. Never fails. */
uint8_t gdx_checksum(const uint8_t *pkt, size_t len)
{
	unsigned sum = 0;

	for (size_t i = 0; i < len; i++)
		if (i != 3)
			sum += pkt[i];
	return (uint8_t)sum;
}

/* 0 for a well-formed packet, GDX_ERR_SHORT or GDX_ERR_CHECKSUM. */
int gdx_packet_check(const uint8_t *pkt, size_t len)
{
	if (len < GDX_HEADER_SIZE || pkt[1] != len)
		return GDX_ERR_SHORT;
	return gdx_checksum(pkt, len) == pkt[3] ? 0 : GDX_ERR_CHECKSUM;
}

/* Write kind, length, counter, checksum and command around a payload already in place. */
static size_t finish_packet(uint8_t *out, uint8_t kind, size_t len, uint8_t counter, uint8_t cmd)
{
	out[0] = kind;
	out[1] = (uint8_t)len;
	out[2] = counter;
	out[3] = 0;
	out[4] = cmd;
	out[3] = gdx_checksum(out, len);
	return len;
}

/* A command packet with the next counter; its length, or 0 if it does not fit. */
size_t gdx_build_command(uint8_t *out, size_t cap, uint8_t *counter, uint8_t cmd,
			 const uint8_t *payload, size_t plen)
{
	size_t len = GDX_HEADER_SIZE + plen;

	if (len > cap || len > GDX_PACKET_MAX || (plen && !payload))
		return 0;
	if (plen)
		memmove(out + GDX_HEADER_SIZE, payload, plen);
	*counter = (uint8_t)(*counter - 1);
	return finish_packet(out, GDX_KIND_COMMAND, len, *counter, cmd);
}

/* INIT with the counter reset; its length, or 0 (counter unchanged) if it does not fit. */
size_t gdx_enc_init(uint8_t *out, size_t cap, uint8_t *counter)
{
	/* the parameters godirect-py, godirect-js and GDXLib all send */
	static const uint8_t p[] = {0xa5, 0x4a, 0x06, 0x49, 0x07, 0x48, 0x08, 0x47, 0x09, 0x46,
				    0x0a, 0x45, 0x0b, 0x44, 0x0c, 0x43, 0x0d, 0x42, 0x0e, 0x41};
	uint8_t saved = *counter;
	size_t n;

	*counter = GDX_COUNTER_INIT;
	n = gdx_build_command(out, cap, counter, GDX_CMD_INIT, p, sizeof p);
	if (!n)
		*counter = saved;
	return n;
}

/* A command without parameters; its length or 0. */
size_t gdx_enc_simple(uint8_t *out, size_t cap, uint8_t *counter, uint8_t cmd)
{
	return gdx_build_command(out, cap, counter, cmd, NULL, 0);
}

/* GET_SENSOR_INFO for sensor 0..31; its length, or 0 for another number or no room. */
size_t gdx_enc_sensor_info(uint8_t *out, size_t cap, uint8_t *counter, int sensor)
{
	uint8_t p[1] = {(uint8_t)sensor};

	if (sensor < 0 || sensor >= GDX_MAX_SENSORS)
		return 0;
	return gdx_build_command(out, cap, counter, GDX_CMD_GET_SENSOR_INFO, p, sizeof p);
}

/* SET_PERIOD for all sensors; its length, or 0 for a zero period or no room. */
size_t gdx_enc_set_period(uint8_t *out, size_t cap, uint8_t *counter, uint64_t period_us)
{
	/* D2PIOSetMeasurementPeriodParams: int8 channel (-1: all), spare, u64 period in ticks */
	uint8_t p[10] = {0xFF, 0x00};

	if (period_us == 0)
		return 0;
	wr64(p + 2, period_us);
	return gdx_build_command(out, cap, counter, GDX_CMD_SET_PERIOD, p, sizeof p);
}

/* START the sensors of mask now; its length or 0. */
size_t gdx_enc_start(uint8_t *out, size_t cap, uint8_t *counter, uint32_t mask)
{
	/* D2PIOStartMeasurementsParams: channel -1, sampleAtTime0flag 1, u32 channel bits,
	 * i64 start timestamp (0: now) */
	uint8_t p[14] = {0xFF, 0x01};

	wr32(p + 2, mask);
	return gdx_build_command(out, cap, counter, GDX_CMD_START, p, sizeof p);
}

/* STOP every sensor; its length or 0. */
size_t gdx_enc_stop(uint8_t *out, size_t cap, uint8_t *counter)
{
	/* D2PIOStopMeasurementsParams: channel -1, spare, u32 channel bits (all) */
	static const uint8_t p[6] = {0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xFF};

	return gdx_build_command(out, cap, counter, GDX_CMD_STOP, p, sizeof p);
}

/* The packet as 64-byte reports; how many, or GDX_ERR_SPACE. */
int gdx_wrap_reports(const uint8_t *pkt, size_t len, uint8_t *out, size_t cap)
{
	int n = 0;

	if (len == 0 || len > GDX_PACKET_MAX ||
	    cap < (len + GDX_REPORT_DATA - 1) / GDX_REPORT_DATA * GDX_REPORT_SIZE)
		return GDX_ERR_SPACE;
	for (size_t off = 0; off < len; off += GDX_REPORT_DATA, n++) {
		size_t chunk = len - off < GDX_REPORT_DATA ? len - off : GDX_REPORT_DATA;
		uint8_t *r = out + (size_t)n * GDX_REPORT_SIZE;
		r[0] = (uint8_t)chunk;
		memcpy(r + 1, pkt + off, chunk);
		memset(r + 1 + chunk, 0, GDX_REPORT_DATA - chunk);
	}
	return n;
}

/* Point the reassembler at a report's packet bytes (see godirect.h). Never fails. */
void gdx_reasm_feed(gdx_reasm *r, const uint8_t *report, size_t len)
{
	size_t n;

	r->next = NULL;
	r->left = 0;
	if (len < 2)
		return;
	n = report[0];
	if (n == 0 || n > GDX_REPORT_DATA)
		n = GDX_REPORT_DATA; /* no usable length byte: the whole report */
	if (n > len - 1)
		n = len - 1;
	r->next = report + 1;
	r->left = n;
}

/* Drop a partial packet. */
void gdx_reasm_reset(gdx_reasm *r)
{
	r->have = 0;
}

/* 1 and the next whole packet, or 0 when the report is used up (garbage counted). */
int gdx_reasm_next(gdx_reasm *r, const uint8_t **pkt, size_t *len)
{
	while (r->left > 0) {
		size_t need, take;

		if (r->have == 0) {
			if (r->next[0] == 0) {
				r->left = 0; /* zero padding after the last packet */
				return 0;
			}
			if (r->left >= 2 && r->next[1] < GDX_HEADER_SIZE) {
				r->errors++; /* not a packet start: drop the rest of the report */
				r->left = 0;
				return 0;
			}
			if (r->left >= 2 && r->left >= r->next[1]) {
				/* the whole packet is in this report: no copy */
				*pkt = r->next;
				*len = r->next[1];
				r->next += *len;
				r->left -= *len;
				return 1;
			}
		}
		if (r->have < 2) {
			r->buf[r->have++] = *r->next++;
			r->left--;
			if (r->have == 2 && r->buf[1] < GDX_HEADER_SIZE) {
				r->errors++;
				r->have = 0;
				r->left = 0;
				return 0;
			}
			continue;
		}
		need = r->buf[1];
		take = need - r->have < r->left ? need - r->have : r->left;
		memcpy(r->buf + r->have, r->next, take);
		r->have += take;
		r->next += take;
		r->left -= take;
		if (r->have == need) {
			r->have = 0;
			*pkt = r->buf;
			*len = need;
			return 1;
		}
	}
	return 0;
}

/* The reply to cmd in a checked packet: 0, or GDX_ERR_KIND/_SHORT/_COMMAND. */
int gdx_parse_reply(const uint8_t *pkt, size_t len, uint8_t cmd, gdx_reply *out)
{
	if (len < 1 || pkt[0] == GDX_KIND_MEASUREMENT)
		return GDX_ERR_KIND;
	if (len < 6)
		return GDX_ERR_SHORT;
	out->cmd = pkt[4];
	out->echo = pkt[5];
	out->payload = pkt + 6;
	out->len = len - 6;
	return pkt[4] == cmd ? 0 : GDX_ERR_COMMAND;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 if it is not valid. */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
	size_t len;
	uint32_t c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, c = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, c = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
		return 0; /* overlong, surrogate or beyond Unicode */
	return len;
}

/*
 * Copy a fixed-size string field (NUL-padded) into out[cap]: stops at the first NUL, keeps
 * valid UTF-8, turns control characters and invalid bytes into '?', always NUL-terminates.
 */
static void copy_text(char *out, size_t cap, const uint8_t *field, size_t n)
{
	size_t o = 0, i = 0;

	while (i < n && field[i] != 0 && o + 1 < cap) {
		size_t k = utf8_seq(field + i, n - i);
		if (k == 0 || (k == 1 && (field[i] < 0x20 || field[i] == 0x7F))) {
			out[o++] = '?';
			i++;
			continue;
		}
		if (o + k >= cap)
			break; /* never cut a character */
		memcpy(out + o, field + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
}

/* GET_STATUS payload: 0 or GDX_ERR_SHORT. */
int gdx_decode_status(const uint8_t *payload, size_t len, gdx_status *out)
{
	if (len < GDX_STATUS_SIZE)
		return GDX_ERR_SHORT;
	out->status = payload[0];
	out->fw_major = payload[2];
	out->fw_minor = payload[3];
	out->fw_build = rd16(payload + 4);
	out->fw2_major = payload[6];
	out->fw2_minor = payload[7];
	out->fw2_build = rd16(payload + 8);
	out->battery_percent = payload[10];
	out->charger_state = payload[11];
	return 0;
}

/* GET_DEVICE_INFO payload: 0 or GDX_ERR_SHORT; strings made safe. */
int gdx_decode_device_info(const uint8_t *payload, size_t len, gdx_device_info *out)
{
	if (len < GDX_DEVICE_INFO_SIZE)
		return GDX_ERR_SHORT;
	copy_text(out->order_code, sizeof out->order_code, payload, 16);
	copy_text(out->serial, sizeof out->serial, payload + 16, 16);
	copy_text(out->name, sizeof out->name, payload + 32, 32);
	out->manufacturer_id = rd16(payload + 64);
	out->year = rd16(payload + 66);
	out->month = payload[68];
	out->day = payload[69];
	out->fw_major = payload[70];
	out->fw_minor = payload[71];
	out->fw_build = rd16(payload + 72);
	out->fw2_major = payload[74];
	out->fw2_minor = payload[75];
	out->fw2_build = rd16(payload + 76);
	memcpy(out->ble_address, payload + 78, 6);
	out->nvmem_size = rd32(payload + 84);
	copy_text(out->description, sizeof out->description, payload + 88, 64);
	return 0;
}

/* A sensor mask payload: 0 or GDX_ERR_SHORT. */
int gdx_decode_mask(const uint8_t *payload, size_t len, uint32_t *mask)
{
	if (len < 4)
		return GDX_ERR_SHORT;
	*mask = rd32(payload);
	return 0;
}

/* GET_SENSOR_INFO payload: 0, GDX_ERR_SHORT or GDX_ERR_FORMAT (sensor number > 31). */
int gdx_decode_sensor_info(const uint8_t *payload, size_t len, gdx_sensor_info *out)
{
	if (len < GDX_SENSOR_INFO_SIZE)
		return GDX_ERR_SHORT;
	if (payload[0] >= GDX_MAX_SENSORS)
		return GDX_ERR_FORMAT;
	out->number = payload[0];
	out->id = rd32(payload + 2);
	out->numeric_type = payload[6];
	out->sampling_mode = payload[7];
	copy_text(out->description, sizeof out->description, payload + 8, 60);
	copy_text(out->units, sizeof out->units, payload + 68, 32);
	out->uncertainty = rdf64(payload + 100);
	out->min = rdf64(payload + 108);
	out->max = rdf64(payload + 116);
	out->min_period_us = rd32(payload + 124);
	out->max_period_us = rd64(payload + 128);
	out->typ_period_us = rd32(payload + 136);
	out->granularity_us = rd32(payload + 140);
	out->exclusion_mask = rd32(payload + 144);
	return 0;
}

/* A measurement packet without copying: 0 or a GDX_ERR_* (see godirect.h). */
int gdx_decode_measurement(const uint8_t *pkt, size_t len, gdx_meas *out)
{
	size_t off;

	if (len < GDX_HEADER_SIZE)
		return GDX_ERR_SHORT;
	if (pkt[0] != GDX_KIND_MEASUREMENT)
		return GDX_ERR_KIND;
	memset(out, 0, sizeof *out);
	out->type = pkt[4];
	out->counter = pkt[2];
	out->sensor = -1;
	switch (pkt[4]) {
	case GDX_MEAS_NORMAL_REAL32:
		if (len < 9)
			return GDX_ERR_SHORT;
		out->mask = rd16(pkt + 5);
		out->count = pkt[7];
		off = 9;
		break;
	case GDX_MEAS_WIDE_REAL32:
		if (len < 11)
			return GDX_ERR_SHORT;
		out->mask = rd32(pkt + 5);
		out->count = pkt[9];
		off = 11;
		break;
	case GDX_MEAS_SINGLE_REAL32:
	case GDX_MEAS_SINGLE_INT32:
	case GDX_MEAS_APERIODIC_REAL32:
	case GDX_MEAS_APERIODIC_INT32:
		if (len < 8)
			return GDX_ERR_SHORT;
		if (pkt[6] >= GDX_MAX_SENSORS)
			return GDX_ERR_FORMAT;
		out->sensor = pkt[6];
		out->mask = 1u << pkt[6];
		out->count = pkt[7];
		out->is_int = pkt[4] == GDX_MEAS_SINGLE_INT32 || pkt[4] == GDX_MEAS_APERIODIC_INT32;
		out->aperiodic =
		    pkt[4] == GDX_MEAS_APERIODIC_REAL32 || pkt[4] == GDX_MEAS_APERIODIC_INT32;
		off = 8;
		break;
	case GDX_MEAS_START_TIME:
		out->has_value = len >= 14;
		if (out->has_value)
			out->start_time_us = (int64_t)rd64(pkt + 6);
		return 0;
	case GDX_MEAS_DROPPED:
		out->has_value = len >= 10;
		if (out->has_value)
			out->dropped = rd32(pkt + 6);
		return 0;
	case GDX_MEAS_PERIOD:
		out->has_value = len >= 14;
		if (out->has_value)
			out->period_us = rd64(pkt + 6);
		return 0;
	default: return GDX_ERR_TYPE;
	}
	out->nsensors = popcount32(out->mask);
	if (out->count > 0 && out->nsensors == 0)
		return GDX_ERR_FORMAT;
	if (off + 4 * (size_t)out->count * (size_t)out->nsensors > len)
		return GDX_ERR_FORMAT;
	out->values = pkt + off;
	return 0;
}

/* The values of the k-th sensor as floats: their number, or GDX_ERR_FORMAT for a bad k. */
int gdx_meas_extract(const gdx_meas *m, int k, float *out)
{
	const uint8_t *v;
	size_t stride;

	if (k < 0 || k >= m->nsensors)
		return GDX_ERR_FORMAT;
	if (m->count == 0 || !m->values)
		return 0;
	v = m->values + 4 * (size_t)k;
	stride = 4 * (size_t)m->nsensors;
	for (int r = 0; r < m->count; r++, v += stride) {
		uint32_t u = rd32(v);
		if (m->is_int) {
			out[r] = (float)(int32_t)u;
		} else {
			float f;
			memcpy(&f, &u, sizeof f);
			out[r] = f;
		}
	}
	return m->count;
}

/* The k-th sensor number of a mask, or -1. */
int gdx_mask_nth(uint32_t mask, int k)
{
	for (int b = 0; b < GDX_MAX_SENSORS; b++)
		if ((mask & (1u << b)) && k-- == 0)
			return b;
	return -1;
}

/* A device's reply packet; its length, or 0 if it does not fit. */
size_t gdx_enc_reply(uint8_t *out, size_t cap, uint8_t counter, uint8_t cmd, uint8_t echo,
		     const uint8_t *payload, size_t plen)
{
	size_t len = 6 + plen;

	if (len > cap || len > GDX_PACKET_MAX || (plen && !payload))
		return 0;
	if (plen)
		memmove(out + 6, payload, plen);
	out[5] = echo;
	return finish_packet(out, GDX_KIND_COMMAND, len, counter, cmd);
}

/* Write count rows of n values (floats) at p. */
static void put_values(uint8_t *p, const float *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		wrf32(p + 4 * i, values[i]);
}

/* A 0x06 measurement packet; its length, or 0 if it does not fit. */
size_t gdx_enc_normal(uint8_t *out, size_t cap, uint8_t counter, uint16_t mask, int count,
		      const float *values)
{
	size_t n = (size_t)popcount32(mask) * (size_t)(count < 0 ? 0 : count);
	size_t len = 9 + 4 * n;

	if (count < 0 || count > 255 || len > cap || len > GDX_PACKET_MAX)
		return 0;
	wr16(out + 5, mask);
	out[7] = (uint8_t)count;
	out[8] = 0;
	put_values(out + 9, values, n);
	return finish_packet(out, GDX_KIND_MEASUREMENT, len, counter, GDX_MEAS_NORMAL_REAL32);
}

/* A 0x07 measurement packet; its length, or 0 if it does not fit. */
size_t gdx_enc_wide(uint8_t *out, size_t cap, uint8_t counter, uint32_t mask, int count,
		    const float *values)
{
	size_t n = (size_t)popcount32(mask) * (size_t)(count < 0 ? 0 : count);
	size_t len = 11 + 4 * n;

	if (count < 0 || count > 255 || len > cap || len > GDX_PACKET_MAX)
		return 0;
	wr32(out + 5, mask);
	out[9] = (uint8_t)count;
	out[10] = 0;
	put_values(out + 11, values, n);
	return finish_packet(out, GDX_KIND_MEASUREMENT, len, counter, GDX_MEAS_WIDE_REAL32);
}

/* A 0x08-0x0B measurement packet; its length, or 0 for a bad type or sensor, or no room. */
size_t gdx_enc_single(uint8_t *out, size_t cap, uint8_t counter, uint8_t type, int sensor,
		      int count, const void *values)
{
	size_t len = 8 + 4 * (size_t)(count < 0 ? 0 : count);
	const uint8_t *v = values;

	if (type < GDX_MEAS_SINGLE_REAL32 || type > GDX_MEAS_APERIODIC_INT32 || sensor < 0 ||
	    sensor >= GDX_MAX_SENSORS || count < 0 || count > 255 || len > cap ||
	    len > GDX_PACKET_MAX)
		return 0;
	out[5] = 0;
	out[6] = (uint8_t)sensor;
	out[7] = (uint8_t)count;
	for (int i = 0; i < count; i++) {
		uint32_t u;
		memcpy(&u, v + 4 * (size_t)i, sizeof u); /* a float or an int32, host order */
		wr32(out + 8 + 4 * (size_t)i, u);
	}
	return finish_packet(out, GDX_KIND_MEASUREMENT, len, counter, type);
}

/* A 0x0C/0x0D/0x0E packet; its length, or 0 for another type or no room. */
size_t gdx_enc_event(uint8_t *out, size_t cap, uint8_t counter, uint8_t type, uint64_t value)
{
	size_t len = type == GDX_MEAS_DROPPED ? 10 : 14;

	if ((type != GDX_MEAS_START_TIME && type != GDX_MEAS_DROPPED && type != GDX_MEAS_PERIOD) ||
	    len > cap)
		return 0;
	out[5] = 0;
	if (type == GDX_MEAS_DROPPED)
		wr32(out + 6, (uint32_t)value);
	else
		wr64(out + 6, value);
	return finish_packet(out, GDX_KIND_MEASUREMENT, len, counter, type);
}

/* Copy a string into a fixed field of n bytes, NUL-padded (cut to n bytes if longer). */
static void put_text(uint8_t *field, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(field, 0, n);
	memcpy(field, s, l < n ? l : n);
}

/* The 148-byte GET_SENSOR_INFO payload; its size, or 0 if cap is short. */
size_t gdx_enc_sensor_info_payload(uint8_t *out, size_t cap, const gdx_sensor_info *s)
{
	if (cap < GDX_SENSOR_INFO_SIZE)
		return 0;
	memset(out, 0, GDX_SENSOR_INFO_SIZE);
	out[0] = (uint8_t)s->number;
	wr32(out + 2, s->id);
	out[6] = s->numeric_type;
	out[7] = s->sampling_mode;
	put_text(out + 8, 60, s->description);
	put_text(out + 68, 32, s->units);
	wrf64(out + 100, s->uncertainty);
	wrf64(out + 108, s->min);
	wrf64(out + 116, s->max);
	wr32(out + 124, s->min_period_us);
	wr64(out + 128, s->max_period_us);
	wr32(out + 136, s->typ_period_us);
	wr32(out + 140, s->granularity_us);
	wr32(out + 144, s->exclusion_mask);
	return GDX_SENSOR_INFO_SIZE;
}

/* The 152-byte GET_DEVICE_INFO payload; its size, or 0 if cap is short. */
size_t gdx_enc_device_info_payload(uint8_t *out, size_t cap, const gdx_device_info *d)
{
	if (cap < GDX_DEVICE_INFO_SIZE)
		return 0;
	memset(out, 0, GDX_DEVICE_INFO_SIZE);
	put_text(out, 16, d->order_code);
	put_text(out + 16, 16, d->serial);
	put_text(out + 32, 32, d->name);
	wr16(out + 64, d->manufacturer_id);
	wr16(out + 66, d->year);
	out[68] = d->month;
	out[69] = d->day;
	out[70] = d->fw_major;
	out[71] = d->fw_minor;
	wr16(out + 72, d->fw_build);
	out[74] = d->fw2_major;
	out[75] = d->fw2_minor;
	wr16(out + 76, d->fw2_build);
	memcpy(out + 78, d->ble_address, 6);
	wr32(out + 84, d->nvmem_size);
	put_text(out + 88, 64, d->description);
	return GDX_DEVICE_INFO_SIZE;
}
