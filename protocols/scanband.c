/* scanband.c - the header of a scanned image band: pure encode/decode, no I/O. */
#include "scanband.h"

#include <string.h>

/* Store v little-endian at p. */
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
	p[3] = (uint8_t)(v >> 24);
}

/* The little-endian u32 at p. */
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* See scanband.h: 0 for an invalid triple. */
uint32_t scanband_line_bytes(uint8_t format, uint8_t depth, uint32_t width)
{
	uint64_t ch;

	if (format > SCANBAND_BLUE || (depth != 1 && depth != 8 && depth != 16) || width == 0 ||
	    width > SCANBAND_MAX_WIDTH)
		return 0;
	ch = format == SCANBAND_RGB ? 3 : 1;
	return (uint32_t)((width * ch * depth + 7) / 8);
}

/* Whether h is self-consistent (see scanband_encode). */
static int valid(const scanband_header *h)
{
	uint32_t need = scanband_line_bytes(h->format, h->depth, h->width);

	if (!need || h->bytes_per_line < need || h->height < -1 || h->flags & ~SCANBAND_LAST)
		return 0;
	if (h->height >= 0 && (uint64_t)h->first_row + h->rows > (uint64_t)h->height)
		return 0;
	return 1;
}

/* See scanband.h: SCANBAND_HEADER_LEN or -1. */
int scanband_encode(const scanband_header *h, uint8_t *out)
{
	if (!valid(h))
		return -1;
	memcpy(out, "LBSB", 4);
	out[4] = SCANBAND_VERSION;
	out[5] = h->format;
	out[6] = h->depth;
	out[7] = h->flags;
	put32(out + 8, h->width);
	put32(out + 12, (uint32_t)h->height);
	put32(out + 16, h->first_row);
	put32(out + 20, h->rows);
	put32(out + 24, h->bytes_per_line);
	put32(out + 28, h->page);
	return SCANBAND_HEADER_LEN;
}

/* See scanband.h: the data offset or -1. */
int scanband_decode(const uint8_t *msg, size_t len, scanband_header *h)
{
	scanband_header t;

	if (len < SCANBAND_HEADER_LEN || memcmp(msg, "LBSB", 4) != 0 || msg[4] != SCANBAND_VERSION)
		return -1;
	t.format = msg[5];
	t.depth = msg[6];
	t.flags = msg[7];
	t.width = get32(msg + 8);
	t.height = (int32_t)get32(msg + 12);
	t.first_row = get32(msg + 16);
	t.rows = get32(msg + 20);
	t.bytes_per_line = get32(msg + 24);
	t.page = get32(msg + 28);
	if (!valid(&t) || (uint64_t)t.rows * t.bytes_per_line != len - SCANBAND_HEADER_LEN)
		return -1;
	*h = t;
	return SCANBAND_HEADER_LEN;
}
