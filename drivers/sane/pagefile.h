/* pagefile.h - scanned pages written to a file row by row: PNG, JPEG, TIFF or PDF. */
#ifndef LB_PAGEFILE_H
#define LB_PAGEFILE_H

#include <stddef.h>
#include <stdint.h>

#include "../../bridge/util/error.h"

/*
 * A scan's output file, written as the rows arrive so a 600 dpi A3 colour page (7015 x 9921,
 * ~200 MB raw) is never held whole in memory. The file is written under a temporary name
 * (a leading '.', so the job store's recovery deletes it after a crash) and renamed to its final
 * path only by lb_pagefile_finish: no partial file is ever passed off as a result.
 *
 * Formats: PNG (libpng), JPEG (libjpeg-turbo), TIFF (libtiff, one directory per page: multi-page),
 * PDF (one page per sheet, through a PDF library; page size from pixels and dpi). PNG and JPEG
 * hold one page: a second lb_pagefile_begin_page fails with LB_ERR_NOT_SUPPORTED
 * ("png holds one page: use pdf or tiff for several").
 *
 * Pixel layouts (as SANE and protocols/scanband.h deliver them): channels 1 (grey) or 3 (RGB,
 * interleaved), depth 1 (lineart, 8 pixels per byte, MSB first, 1 = black as SANE does), 8 or 16
 * (16-bit samples in host byte order, as sane_read gives them). A format that cannot store a
 * layout converts it (JPEG and PDF reduce 16 bits to 8, JPEG expands lineart to grey), never
 * refuses it.
 */
typedef enum lb_page_format {
	LB_PAGE_PNG,
	LB_PAGE_JPEG,
	LB_PAGE_TIFF,
	LB_PAGE_PDF,
} lb_page_format;

/* The format of a name ("png", "jpeg" or "jpg", "tiff" or "tif", "pdf"): 0 with *f, or LB_EINVAL. */
int lb_page_format_parse(const char *name, lb_page_format *f);

/* The format's usual file extension ("png", "jpg", "tif", "pdf") and MIME type. */
const char *lb_page_format_ext(lb_page_format f);
const char *lb_page_format_mime(lb_page_format f);

typedef struct lb_pagefile lb_pagefile;

/* What lb_pagefile_begin_page needs to know of a page. */
typedef struct lb_page_shape {
	uint32_t width;		 /* pixels per line, >= 1 */
	int32_t height;		 /* lines; -1 when unknown until the page ends (some ADFs) */
	uint8_t channels;	 /* 1 or 3 */
	uint8_t depth;		 /* 1, 8 or 16 */
	double xdpi, ydpi;	 /* resolution, > 0 */
	uint32_t bytes_per_line; /* >= what width, channels and depth need (extra bytes ignored) */
} lb_page_shape;

/*
 * Start the file path (its directory must exist; written as "<dir>/.<name>.part" until
 * finished) in format f, with quality (JPEG and PDF's JPEG pages: 1..100, 0 for the default 85).
 * NULL with err set (LB_ERR_INTERNAL naming the path and strerror) on failure.
 */
lb_pagefile *lb_pagefile_new(const char *path, lb_page_format f, int quality, lb_error *err);

/* Start the next page. 0, or negative with err set (LB_ERR_INVALID_PARAMS for a bad shape,
 * LB_ERR_NOT_SUPPORTED for a second page of a single-page format, LB_ERR_INTERNAL for I/O). */
int lb_pagefile_begin_page(lb_pagefile *pf, const lb_page_shape *shape, lb_error *err);

/* Append n rows of shape->bytes_per_line bytes each. 0, or negative with err set (more rows than
 * the page's known height, I/O error: the library's message). */
int lb_pagefile_write_rows(lb_pagefile *pf, const uint8_t *rows, size_t n, lb_error *err);

/* End the page. A page with fewer rows than its known height fails (LB_ERR_DEVICE "page 2 ended
 * after 1200 of 3508 lines"). 0, or negative with err set. */
int lb_pagefile_end_page(lb_pagefile *pf, lb_error *err);

/* The pages ended so far. */
int lb_pagefile_pages(const lb_pagefile *pf);

/*
 * Complete the file (a PDF's trailer, TIFF's last directory), fsync it and rename it to its
 * final path; frees pf and nulls the pointer in every case. 0, or negative with err set (no page
 * ended, a page still open, I/O): the temporary file is removed then.
 */
int lb_pagefile_finish(lb_pagefile **pf, lb_error *err);

/* Give up: remove the temporary file, free pf, null the pointer. Accepts NULL. */
void lb_pagefile_destroy(lb_pagefile **pf);

#endif
