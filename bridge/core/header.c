/* header.c - formatting of stream message headers without allocation (the publishing hot path). */
#include "header.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	size_t size;
} sample_types[] = {
    [LB_F32] = {"f32", 4}, [LB_F64] = {"f64", 8}, [LB_I16] = {"i16", 2},   [LB_U16] = {"u16", 2},
    [LB_I32] = {"i32", 4}, [LB_U8] = {"u8", 1},	  [LB_JSON] = {"json", 0},
};

const char *lb_sample_type_name(lb_sample_type t)
{
	return (unsigned)t <= LB_JSON ? sample_types[t].name : "?";
}

size_t lb_sample_type_size(lb_sample_type t)
{
	return (unsigned)t <= LB_JSON ? sample_types[t].size : 0;
}

const char *lb_nonfinite_name(double v)
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "Infinity" : "-Infinity";
	return NULL;
}

double lb_sample_get(lb_sample_type t, const void *buf, size_t i)
{
	const unsigned char *p = (const unsigned char *)buf + i * lb_sample_type_size(t);
	union {
		float f;
		double d;
		int16_t i16;
		uint16_t u16;
		int32_t i32;
	} u;

	/* The host is little-endian (x86, ARM as Debian runs them), like the wire. */
	switch (t) {
	case LB_F32: memcpy(&u.f, p, 4); return u.f;
	case LB_F64: memcpy(&u.d, p, 8); return u.d;
	case LB_I16: memcpy(&u.i16, p, 2); return u.i16;
	case LB_U16: memcpy(&u.u16, p, 2); return u.u16;
	case LB_I32: memcpy(&u.i32, p, 4); return u.i32;
	case LB_U8: return p[0];
	default: return 0;
	}
}

/* Append a JSON-escaped string (with its quotes) to buf at *len; -1 if it does not fit. */
static int append_json_string(char *buf, size_t cap, size_t *len, const char *s)
{
	json_t *str = json_string(s ? s : "");
	size_t n;

	if (!str)
		return -1;
	n = json_dumpb(str, buf + *len, cap - *len, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
	json_decref(str);
	if (n == 0 || n >= cap - *len) /* keep room for the NUL */
		return -1;
	*len += n;
	return 0;
}

int lb_header_prefix(char *buf, size_t cap, const char *epoch, lb_sample_type type,
		     const char *quantity, const char *unit, double rate, int simulated)
{
	size_t len = 0;
	int n = snprintf(buf, cap, "{\"v\":%d,\"epoch\":\"%s\",\"type\":\"%s\"",
			 LB_PROTOCOL_VERSION, epoch, lb_sample_type_name(type));

	if (n < 0 || (size_t)n >= cap)
		return -1;
	len = (size_t)n;
	if (type != LB_JSON) {
		char num[32];

		if (!isfinite(rate))
			return -1; /* nan and inf are not JSON */
		snprintf(num, sizeof num, "%.15g", rate);
		if (strtod(num, NULL) != rate) /* rounded (even past DBL_MAX): print all digits */
			snprintf(num, sizeof num, "%.17g", rate);
		n = snprintf(buf + len, cap - len, ",\"rate\":%s,\"quantity\":", num);
		if (n < 0 || (size_t)n >= cap - len)
			return -1;
		len += (size_t)n;
		if (append_json_string(buf, cap, &len, quantity) < 0)
			return -1;
		if (len + 8 >= cap)
			return -1;
		memcpy(buf + len, ",\"unit\":", 8);
		len += 8;
		if (append_json_string(buf, cap, &len, unit) < 0)
			return -1;
	}
	if (simulated) {
		if (len + 11 >= cap)
			return -1;
		memcpy(buf + len, ",\"sim\":true", 11);
		len += 11;
	}
	buf[len] = '\0';
	return (int)len;
}

/* Write the decimal digits of v at p; returns the number of characters. */
static size_t put_u64(char *p, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* Same as put_u64 for a signed value. */
static size_t put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p = '-';
		return 1 + put_u64(p + 1, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

int lb_header_finish(char *buf, size_t cap, const char *prefix, size_t prefix_len, uint64_t seq,
		     int64_t t_host, int64_t t_dev, uint32_t count)
{
	/* Worst case of the variable part: keys (36) + 4 numbers of at most 20 digits + brace. */
	char *p;

	if (prefix_len + 36 + 4 * 21 + 2 > cap)
		return -1;
	memcpy(buf, prefix, prefix_len);
	p = buf + prefix_len;
	memcpy(p, ",\"seq\":", 7);
	p += 7;
	p += put_u64(p, seq);
	memcpy(p, ",\"t_host\":", 10);
	p += 10;
	p += put_i64(p, t_host);
	memcpy(p, ",\"t_dev\":", 9);
	p += 9;
	p += put_i64(p, t_dev);
	memcpy(p, ",\"count\":", 9);
	p += 9;
	p += put_u64(p, count);
	*p++ = '}';
	return (int)(p - buf);
}
