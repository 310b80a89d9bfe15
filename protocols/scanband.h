/* scanband.h - the header of a scanned image band (scanner/<id>/image): pure encode/decode. */
#ifndef LB_SCANBAND_H
#define LB_SCANBAND_H

#include <stddef.h>
#include <stdint.h>

/*
 * A band is one u8 stream message whose samples are this 32-byte header followed by
 * rows * bytes_per_line bytes of image data, all integers little-endian:
 *   0  "LBSB"          magic
 *   4  u8 version      1
 *   5  u8 format       SCANBAND_GRAY, _RGB, _RED, _GREEN, _BLUE (SANE's frame formats)
 *   6  u8 depth        bits per sample: 1, 8 or 16
 *   7  u8 flags        SCANBAND_LAST: the page's last band
 *   8  u32 width       pixels per line
 *  12  i32 height      lines of the page, -1 when the scanner does not know (hand scanner, ADF)
 *  16  u32 first_row   the band's first line (0-based)
 *  20  u32 rows        lines in the band
 *  24  u32 bytes_per_line
 *  28  u32 page        0-based page of the job (ADF)
 */
#define SCANBAND_HEADER_LEN 32
#define SCANBAND_VERSION 1
#define SCANBAND_MAX_WIDTH 1000000u /* pixels: far beyond any A3 scan at 9600 dpi */

enum {
	SCANBAND_GRAY = 0,
	SCANBAND_RGB = 1,
	SCANBAND_RED = 2,
	SCANBAND_GREEN = 3,
	SCANBAND_BLUE = 4
};
enum { SCANBAND_LAST = 1u << 0 };

typedef struct scanband_header {
	uint8_t format, depth, flags;
	uint32_t width;
	int32_t height;
	uint32_t first_row, rows, bytes_per_line, page;
} scanband_header;

/*
 * The bytes per line a header's format, depth and width need: ceil(width * channels * depth / 8);
 * 0 when the triple is invalid (unknown format or depth, width 0 or over SCANBAND_MAX_WIDTH).
 */
uint32_t scanband_line_bytes(uint8_t format, uint8_t depth, uint32_t width);

/*
 * Write h into out[SCANBAND_HEADER_LEN]. Returns SCANBAND_HEADER_LEN, or -1 when h is
 * inconsistent (invalid format/depth/width, bytes_per_line below what they need, a band past a
 * known height, height below -1); nothing is written then.
 */
int scanband_encode(const scanband_header *h, uint8_t *out);

/*
 * Read a band message of len bytes: its header into *h, and the offset of the image data
 * (SCANBAND_HEADER_LEN). Returns that offset, or -1 when the message is not a whole valid band:
 * short, wrong magic or version, inconsistent header (as for encode), or len differing from
 * header + rows * bytes_per_line (checked without overflow).
 */
int scanband_decode(const uint8_t *msg, size_t len, scanband_header *h);

#endif
