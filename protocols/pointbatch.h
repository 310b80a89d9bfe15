/* pointbatch.h - a 3D scan step's points (scanner3d/<id>/points): pure encode/decode. */
#ifndef LB_POINTBATCH_H
#define LB_POINTBATCH_H

#include <stddef.h>
#include <stdint.h>

/*
 * A batch is one u8 stream message: this 20-byte header, then count points of 15 bytes each,
 * all little-endian:
 *   0  "LBPB"          magic
 *   4  u8 version      1
 *   5  u8 flags        POINTBATCH_LAST: the scan's last step
 *   6  u16 reserved    0
 *   8  u32 step        0-based step of the scan these points come from
 *  12  u32 steps       steps of the whole scan (step < steps)
 *  16  u32 count       points that follow
 * and per point: float32 x, y, z (millimetres, the object's frame: y up the turntable's axis),
 * u8 r, g, b. Coordinates are finite.
 */
#define POINTBATCH_HEADER_LEN 20
#define POINTBATCH_POINT_LEN 15
#define POINTBATCH_VERSION 1
#define POINTBATCH_MAX_POINTS (1u << 20) /* per batch: far beyond one step's rows x lasers */
#define POINTBATCH_MAX_STEPS 1000000u

enum { POINTBATCH_LAST = 1u << 0 };

typedef struct pointbatch_header {
	uint8_t flags;
	uint32_t step, steps, count;
} pointbatch_header;

typedef struct pointbatch_point {
	float x, y, z;
	uint8_t r, g, b;
} pointbatch_point;

/* The bytes of a batch of count points (header included); 0 when count > POINTBATCH_MAX_POINTS. */
size_t pointbatch_size(uint32_t count);

/*
 * Write a batch of h->count points into out[cap]. Returns its length (pointbatch_size), or -1
 * when h is inconsistent (steps 0 or over POINTBATCH_MAX_STEPS, step >= steps, unknown flags,
 * count over POINTBATCH_MAX_POINTS), a coordinate is not finite, or cap is too small.
 */
long pointbatch_encode(const pointbatch_header *h, const pointbatch_point *pts, uint8_t *out,
		       size_t cap);

/*
 * Read a batch message of len bytes: its header into *h. Returns the offset of the points
 * (POINTBATCH_HEADER_LEN), or -1 when the message is not a whole valid batch: short, wrong magic
 * or version, inconsistent header (as for encode, reserved bytes non-zero), len differing from
 * pointbatch_size(count), or a coordinate not finite.
 */
int pointbatch_decode(const uint8_t *msg, size_t len, pointbatch_header *h);

/* Point i of a batch that pointbatch_decode accepted (msg is the whole message). */
void pointbatch_point_at(const uint8_t *msg, uint32_t i, pointbatch_point *p);

#endif
