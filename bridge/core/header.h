/* header.h - formatting of stream message headers (pure: byte buffers in, byte buffers out). */
#ifndef LB_HEADER_H
#define LB_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "../sdk/sample.h"

#define LB_PROTOCOL_VERSION 1

/* Name on the wire ("f32"...) and size in bytes (0 for json) of a sample type. */
const char *lb_sample_type_name(lb_sample_type t);
size_t lb_sample_type_size(lb_sample_type t);

/* The value of sample i of a packed little-endian buffer of type t, as a double. */
double lb_sample_get(lb_sample_type t, const void *buf, size_t i);

/*
 * How a non-finite sample is written in JSON and CSV (JSON has no such numbers, and jansson
 * refuses them): "NaN", "Infinity" or "-Infinity" (strings that JavaScript's Number() and
 * Python's float() read back); NULL for a finite v.
 */
const char *lb_nonfinite_name(double v);

/*
 * Build the constant part of a header: `{"v":1,"epoch":"...","type":...,"quantity":...,"unit":...,
 * "rate":...` (plus `"sim":true`), without the closing brace. Strings are JSON-escaped. Returns
 * its length, or -1 if it does not fit in cap bytes.
 */
int lb_header_prefix(char *buf, size_t cap, const char *epoch, lb_sample_type type,
		     const char *quantity, const char *unit, double rate, int simulated);

/*
 * Complete a header: prefix + `,"seq":S,"t_host":H,"t_dev":D,"count":N}`. Returns the length
 * written (lb_header_finish_len), or -1 if it does not fit in cap bytes (nothing written then).
 * Fast: no allocation, no locale. Not NUL-terminated.
 */
int lb_header_finish(char *buf, size_t cap, const char *prefix, size_t prefix_len, uint64_t seq,
		     int64_t t_host, int64_t t_dev, uint32_t count);

/*
 * The variable part alone, `,"seq":S,"t_host":H,"t_dev":D,"count":N}`, written backwards so that
 * it ends just before end (the LB_HEADER_TAIL_MAX bytes before end are the caller's); returns its
 * length (it starts at end minus that). The publishing hot path: one pass, no digit count.
 */
#define LB_HEADER_TAIL_MAX (7 + 10 + 9 + 9 + 1 + 4 * 20 + 2)
size_t lb_header_tail(char *end, uint64_t seq, int64_t t_host, int64_t t_dev, uint32_t count);

/* The exact length lb_header_finish writes for these values (to size its buffer first). */
size_t lb_header_finish_len(size_t prefix_len, uint64_t seq, int64_t t_host, int64_t t_dev,
			    uint32_t count);

#endif
