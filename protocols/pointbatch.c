/* pointbatch.c - a 3D scan step's points (scanner3d/<id>/points): pure encode/decode. */
#include "pointbatch.h"

#include <math.h>
#include <string.h>

static const uint8_t magic[4] = {'L', 'B', 'P', 'B'};

/* Little-endian u32 in and out. */
static void put32(uint8_t *o, uint32_t v)
{
	o[0] = (uint8_t)v, o[1] = (uint8_t)(v >> 8), o[2] = (uint8_t)(v >> 16),
	o[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *i)
{
	return (uint32_t)i[0] | (uint32_t)i[1] << 8 | (uint32_t)i[2] << 16 | (uint32_t)i[3] << 24;
}

/* A float as its IEEE-754 bits, little-endian, and back. */
static void putf(uint8_t *o, float f)
{
	uint32_t v;
	memcpy(&v, &f, sizeof v);
	put32(o, v);
}

static float getf(const uint8_t *i)
{
	uint32_t v = get32(i);
	float f;
	memcpy(&f, &v, sizeof f);
	return f;
}

size_t pointbatch_size(uint32_t count)
{
	if (count > POINTBATCH_MAX_POINTS)
		return 0;
	return POINTBATCH_HEADER_LEN + (size_t)count * POINTBATCH_POINT_LEN;
}

/* Whether a header is consistent (what encode and decode both require). */
static int header_ok(const pointbatch_header *h)
{
	return h->steps >= 1 && h->steps <= POINTBATCH_MAX_STEPS && h->step < h->steps &&
	       !(h->flags & ~POINTBATCH_LAST) && h->count <= POINTBATCH_MAX_POINTS;
}

long pointbatch_encode(const pointbatch_header *h, const pointbatch_point *pts, uint8_t *out,
		       size_t cap)
{
	size_t need;

	if (!h || !out || !header_ok(h) || (h->count && !pts))
		return -1;
	need = pointbatch_size(h->count);
	if (cap < need)
		return -1;
	for (uint32_t i = 0; i < h->count; i++)
		if (!isfinite(pts[i].x) || !isfinite(pts[i].y) || !isfinite(pts[i].z))
			return -1;
	memcpy(out, magic, 4);
	out[4] = POINTBATCH_VERSION;
	out[5] = h->flags;
	out[6] = out[7] = 0;
	put32(out + 8, h->step);
	put32(out + 12, h->steps);
	put32(out + 16, h->count);
	for (uint32_t i = 0; i < h->count; i++) {
		uint8_t *o = out + POINTBATCH_HEADER_LEN + (size_t)i * POINTBATCH_POINT_LEN;
		putf(o, pts[i].x), putf(o + 4, pts[i].y), putf(o + 8, pts[i].z);
		o[12] = pts[i].r, o[13] = pts[i].g, o[14] = pts[i].b;
	}
	return (long)need;
}

int pointbatch_decode(const uint8_t *msg, size_t len, pointbatch_header *h)
{
	pointbatch_header x;

	if (!msg || !h || len < POINTBATCH_HEADER_LEN || memcmp(msg, magic, 4) != 0 ||
	    msg[4] != POINTBATCH_VERSION || msg[6] || msg[7])
		return -1;
	x.flags = msg[5];
	x.step = get32(msg + 8);
	x.steps = get32(msg + 12);
	x.count = get32(msg + 16);
	if (!header_ok(&x) || len != pointbatch_size(x.count))
		return -1;
	for (uint32_t i = 0; i < x.count; i++) {
		const uint8_t *p = msg + POINTBATCH_HEADER_LEN + (size_t)i * POINTBATCH_POINT_LEN;
		if (!isfinite(getf(p)) || !isfinite(getf(p + 4)) || !isfinite(getf(p + 8)))
			return -1;
	}
	*h = x;
	return POINTBATCH_HEADER_LEN;
}

void pointbatch_point_at(const uint8_t *msg, uint32_t i, pointbatch_point *p)
{
	const uint8_t *o = msg + POINTBATCH_HEADER_LEN + (size_t)i * POINTBATCH_POINT_LEN;

	p->x = getf(o), p->y = getf(o + 4), p->z = getf(o + 8);
	p->r = o[12], p->g = o[13], p->b = o[14];
}
