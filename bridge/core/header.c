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

/* The number of decimal digits of v (1 for 0). */
static size_t digits_u64(uint64_t v)
{
	size_t n = 1;

	while (v >= 10000) {
		v /= 10000;
		n += 4;
	}
	return n + (v >= 10) + (v >= 100) + (v >= 1000);
}

/* The characters of v in decimal: a '-' for a negative value, then its digits. */
static size_t len_i64(int64_t v)
{
	return v < 0 ? 1 + digits_u64((uint64_t)0 - (uint64_t)v) : digits_u64((uint64_t)v);
}

/* "00" to "99": two digits per division (the hot path formats ~60 digits per header). */
static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
			       "25262728293031323334353637383940414243444546474849"
			       "50515253545556575859606162636465666768697071727374"
			       "75767778798081828384858687888990919293949596979899";

/* Write the decimal digits of v backwards, ending just before end; returns the new start. */
static char *rput_u64(char *end, uint64_t v)
{
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		*--end = pairs[2 * r + 1];
		*--end = pairs[2 * r];
	}
	if (v >= 10) {
		*--end = pairs[2 * v + 1];
		*--end = pairs[2 * v];
	} else {
		*--end = (char)('0' + v);
	}
	return end;
}

/* Same as rput_u64 for a signed value. */
static char *rput_i64(char *end, int64_t v)
{
	if (v >= 0)
		return rput_u64(end, (uint64_t)v);
	end = rput_u64(end, (uint64_t)0 - (uint64_t)v);
	*--end = '-';
	return end;
}

/* Write the string literal s backwards, ending just before end (moved to its start). */
#define RPUT(end, s)                                                                               \
	do {                                                                                       \
		(end) -= sizeof(s) - 1;                                                            \
		memcpy((end), (s), sizeof(s) - 1);                                                 \
	} while (0)

/* The keys and brace lb_header_finish adds to the prefix. */
#define FINISH_KEYS (7 + 10 + 9 + 9 + 1)

size_t lb_header_finish_len(size_t prefix_len, uint64_t seq, int64_t t_host, int64_t t_dev,
			    uint32_t count)
{
	return prefix_len + FINISH_KEYS + digits_u64(seq) + len_i64(t_host) + len_i64(t_dev) +
	       digits_u64(count);
}

size_t lb_header_tail(char *end, uint64_t seq, int64_t t_host, int64_t t_dev, uint32_t count)
{
	char *p = end;

	*--p = '}';
	p = rput_u64(p, count);
	RPUT(p, ",\"count\":");
	p = rput_i64(p, t_dev);
	RPUT(p, ",\"t_dev\":");
	p = rput_i64(p, t_host);
	RPUT(p, ",\"t_host\":");
	p = rput_u64(p, seq);
	RPUT(p, ",\"seq\":");
	return (size_t)(end - p);
}

int lb_header_finish(char *buf, size_t cap, const char *prefix, size_t prefix_len, uint64_t seq,
		     int64_t t_host, int64_t t_dev, uint32_t count)
{
	char tail[LB_HEADER_TAIL_MAX];
	size_t n = lb_header_tail(tail + sizeof tail, seq, t_host, t_dev, count);

	if (prefix_len + n > cap)
		return -1;
	memcpy(buf, prefix, prefix_len);
	memcpy(buf + prefix_len, tail + sizeof tail - n, n);
	return (int)(prefix_len + n);
}
