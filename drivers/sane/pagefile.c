/* pagefile.c - scanned pages streamed row by row into PNG, JPEG, TIFF or PDF files. */
#include "pagefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hpdf.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

/*
 * How each format is streamed (memory stays bounded by a few rows whatever the page size):
 *  - PNG: png_write_row per row (zlib's window + one row).
 *  - JPEG: jpeg_write_scanlines per row (baseline, no optimized Huffman tables: those would keep
 *    the whole image's coefficients in memory).
 *  - TIFF: TIFFWriteScanline into strips of ~256 KiB (libtiff buffers one strip), one directory
 *    per page (TIFFWriteDirectory); deflate + horizontal predictor for grey/colour, CCITT G4 and
 *    PHOTOMETRIC_MINISWHITE for lineart (SANE's 1 = black is MINISWHITE's 1).
 *  - PDF (libharu): each page's JPEG is written row by row at the end of one unnamed temporary
 *    file in the output's directory (the store: one descriptor however many pages an ADF feeds);
 *    the page's image object reads its byte range only when the document is saved at
 *    lb_pagefile_finish. libharu's own HPDF_LoadJpegImageFromFile copies the whole JPEG into a
 *    memory stream that lives until the document is saved (every page's JPEG at once: ~10-30 MB
 *    per 600 dpi A3 colour page), so the image dictionary is built here as that function does
 *    (libharu's installed headers: HPDF_DictStream_New, the dict's stream and filter fields) and
 *    its stream is a callback reader over the temporary file: HPDF_Dict_Write copies it in 4 KiB
 *    pieces. Lineart pages go as CCITT G4 (libtiff's encoder writing into a temporary TIFF with
 *    one strip, whose bytes, copied to the store, are the PDF's CCITTFaxDecode stream).
 * A page of unknown height (-1) is spooled, already converted, to an unnamed temporary file in
 * the output's directory (on disk, not in memory) and encoded at lb_pagefile_end_page: PNG and
 * JPEG write the height first; libtiff can grow ImageLength as rows come, but with a compressed
 * strip the strip read back short (libtiff 4.5), so TIFF spools too.
 * Temporary files are O_TMPFILE (or mkstemp + unlink): nothing is left behind after a crash but
 * the ".NAME.part" file, which the job store's recovery removes.
 */

enum conv {
	CONV_COPY,    /* the row as given (its first out_bpl bytes) */
	CONV_INVERT1, /* 1-bit, bits inverted (SANE 1 = black -> PNG 0 = black) */
	CONV_TO8,     /* 8 bits per sample: 16 -> high byte, 1-bit grey -> 0/255 (1 = black) */
};

/* A page's image stream for libharu: a byte range of the store (pf->store's descriptor). */
typedef struct pdf_part {
	int fd;
	off_t base, len, pos;
} pdf_part;

typedef struct jpeg_err {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	struct lb_pagefile *pf;
} jpeg_err;

struct lb_pagefile {
	lb_page_format fmt;
	int quality;
	char *path, *tmp, *dir;
	int pages;
	bool page_open, failed;
	lb_page_shape shape;
	int64_t height; /* the page's height, -1 while unknown */
	int64_t rows;	/* rows received on the open page */
	enum conv conv;
	int out_depth;
	size_t out_bpl;
	uint8_t *row; /* one converted row */
	FILE *spool;  /* converted rows of a page of unknown height */
	bool encoding;
	FILE *fp; /* PNG/JPEG: the output; PDF: the open page's JPEG */
	char msg[200];
	/* PNG */
	png_structp png;
	png_infop pinfo;
	/* JPEG (the JPEG format and PDF pages) */
	struct jpeg_compress_struct cj;
	jpeg_err je;
	bool cj_live;
	/* TIFF (the TIFF format, and PDF lineart pages into a temporary TIFF) */
	TIFF *tif;
	int tif_fd; /* PDF lineart: the temporary TIFF's descriptor (libtiff does not own it) */
	/* PDF */
	HPDF_Doc pdf;
	FILE *store;	 /* every page's image stream, one after the other (one descriptor) */
	off_t page_base; /* where the open page's JPEG starts in the store */
	pdf_part **parts;
	int nparts;
};

/* Fill err; with pf, mark it failed (later calls repeat pf->msg, the library's message).
 * Returns LB_EFAIL for convenience. */
static int pf_fail(lb_pagefile *pf, lb_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int pf_fail(lb_pagefile *pf, lb_error *err, int code, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (pf)
		pf->failed = true;
	lb_error_set(err, code, "%s", buf);
	return LB_EFAIL;
}

/* The format of a name: 0 with *f, or LB_EINVAL. */
int lb_page_format_parse(const char *name, lb_page_format *f)
{
	static const struct {
		const char *name;
		lb_page_format f;
	} names[] = {{"png", LB_PAGE_PNG},   {"jpeg", LB_PAGE_JPEG}, {"jpg", LB_PAGE_JPEG},
		     {"tiff", LB_PAGE_TIFF}, {"tif", LB_PAGE_TIFF},  {"pdf", LB_PAGE_PDF}};

	for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
		if (strcmp(name, names[i].name) == 0) {
			*f = names[i].f;
			return 0;
		}
	return LB_EINVAL;
}

/* The format's usual file extension, or "bin" for a value out of the enum. */
const char *lb_page_format_ext(lb_page_format f)
{
	switch (f) {
	case LB_PAGE_PNG: return "png";
	case LB_PAGE_JPEG: return "jpg";
	case LB_PAGE_TIFF: return "tif";
	case LB_PAGE_PDF: return "pdf";
	}
	return "bin";
}

/* The format's MIME type, or application/octet-stream for a value out of the enum. */
const char *lb_page_format_mime(lb_page_format f)
{
	switch (f) {
	case LB_PAGE_PNG: return "image/png";
	case LB_PAGE_JPEG: return "image/jpeg";
	case LB_PAGE_TIFF: return "image/tiff";
	case LB_PAGE_PDF: return "application/pdf";
	}
	return "application/octet-stream";
}

/* An unnamed read-write temporary file in dir (O_TMPFILE, else mkstemp + unlink): its
 * descriptor, or -1 with errno. */
static int anon_tmp(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	char *name;

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if (asprintf(&name, "%s/.pagefile.XXXXXX", dir) < 0)
		return -1;
	fd = mkstemp(name);
	if (fd >= 0)
		unlink(name);
	free(name);
	return fd;
}

/* ---- libharu ---- */

/* libharu's error handler: remember the code (it has no message strings). */
static void pdf_error(HPDF_STATUS error_no, HPDF_STATUS detail_no, void *user)
{
	lb_pagefile *pf = user;
	const char *what = error_no == HPDF_FAILD_TO_ALLOC_MEM	? "out of memory"
			   : error_no == HPDF_FILE_IO_ERROR	? "file I/O error"
			   : error_no == HPDF_FILE_OPEN_ERROR	? "cannot open the file"
			   : error_no == HPDF_PAGE_INVALID_SIZE ? "page size out of PDF's range"
								: "error";
	snprintf(pf->msg, sizeof pf->msg, "libharu: %s (0x%04X, detail %u)", what,
		 (unsigned)error_no, (unsigned)detail_no);
}

static HPDF_STATUS part_read(HPDF_Stream s, HPDF_BYTE *ptr, HPDF_UINT *siz)
{
	pdf_part *p = s->attr;
	size_t asked = *siz, want = asked, got = 0;

	if ((off_t)want > p->len - p->pos)
		want = (size_t)(p->len - p->pos);
	while (got < want) {
		ssize_t r = pread(p->fd, ptr + got, want - got, p->base + p->pos);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return HPDF_SetError(s->error, HPDF_FILE_IO_ERROR, r < 0 ? errno : 0);
		got += (size_t)r, p->pos += r;
	}
	*siz = (HPDF_UINT)got;
	return got < asked || p->pos == p->len ? HPDF_STREAM_EOF : HPDF_OK;
}

static HPDF_STATUS part_seek(HPDF_Stream s, HPDF_INT pos, HPDF_WhenceMode mode)
{
	pdf_part *p = s->attr;
	off_t to = mode == HPDF_SEEK_SET   ? pos
		   : mode == HPDF_SEEK_CUR ? p->pos + pos
					   : p->len + pos;

	if (to < 0 || to > p->len)
		return HPDF_SetError(s->error, HPDF_FILE_IO_ERROR, EINVAL);
	p->pos = to;
	return HPDF_OK;
}

static HPDF_INT32 part_tell(HPDF_Stream s)
{
	return (HPDF_INT32)((pdf_part *)s->attr)->pos;
}

static HPDF_UINT32 part_size(HPDF_Stream s)
{
	return (HPDF_UINT32)((pdf_part *)s->attr)->len;
}

/* ---- libpng ---- */

static void png_err_fn(png_structp png, png_const_charp m)
{
	lb_pagefile *pf = png_get_error_ptr(png);
	snprintf(pf->msg, sizeof pf->msg, "libpng: %s", m);
	png_longjmp(png, 1);
}

static void png_warn_fn(png_structp png, png_const_charp m)
{
	(void)png, (void)m;
}

/* ---- libjpeg ---- */

static void jpeg_exit_fn(j_common_ptr c)
{
	jpeg_err *je = (jpeg_err *)c->err;
	char buf[JMSG_LENGTH_MAX];

	c->err->format_message(c, buf);
	snprintf(je->pf->msg, sizeof je->pf->msg, "libjpeg: %.150s", buf);
	longjmp(je->jb, 1);
}

static void jpeg_output_fn(j_common_ptr c)
{
	(void)c; /* warnings: not printed (the bridge's stderr is its log) */
}

/* ---- libtiff ---- */

static int tiff_err_fn(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
	lb_pagefile *pf = user;
	char buf[160];

	(void)t;
	vsnprintf(buf, sizeof buf, fmt, ap);
	snprintf(pf->msg, sizeof pf->msg, "libtiff: %s: %s", module ? module : "", buf);
	return 1;
}

static int tiff_warn_fn(TIFF *t, void *user, const char *module, const char *fmt, va_list ap)
{
	(void)t, (void)user, (void)module, (void)fmt, (void)ap;
	return 1;
}

/* Open a TIFF for writing on path (fd < 0) or on fd (not closed by libtiff's TIFFClose? it is:
 * the caller dup()s), with this pagefile's handlers. NULL with pf->msg set. */
static TIFF *tiff_open(lb_pagefile *pf, const char *path, int fd)
{
	TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
	TIFF *t;

	if (!o) {
		snprintf(pf->msg, sizeof pf->msg, "out of memory");
		return NULL;
	}
	TIFFOpenOptionsSetErrorHandlerExtR(o, tiff_err_fn, pf);
	TIFFOpenOptionsSetWarningHandlerExtR(o, tiff_warn_fn, pf);
	t = fd < 0 ? TIFFOpenExt(path, "w", o) : TIFFFdOpenExt(fd, "pagefile", "w", o);
	TIFFOpenOptionsFree(o);
	if (!t && !pf->msg[0])
		snprintf(pf->msg, sizeof pf->msg, "libtiff cannot open %s", path ? path : "a file");
	return t;
}

/* Set up the open TIFF's directory for the current page (height known or grown). 0 or -1. */
static int tiff_page_tags(lb_pagefile *pf, TIFF *t, bool one_strip)
{
	const lb_page_shape *s = &pf->shape;
	bool line = pf->out_depth == 1;
	uint32_t rps = (uint32_t)(262144 / pf->out_bpl);
	int ok = 1;

	if (rps < 1)
		rps = 1;
	if (one_strip)
		rps = (uint32_t)pf->height; /* known then: PDF's CCITT stream is the one strip */
	ok &= TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)s->width);
	ok &= TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)(pf->height > 0 ? pf->height : 1));
	ok &= TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)pf->out_depth);
	ok &= TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)s->channels);
	ok &= TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	ok &= TIFFSetField(t, TIFFTAG_PHOTOMETRIC,
			   line		      ? PHOTOMETRIC_MINISWHITE
			   : s->channels == 3 ? PHOTOMETRIC_RGB
					      : PHOTOMETRIC_MINISBLACK);
	if (line) {
		ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
	} else {
		ok &= TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
		ok &= TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
		ok &= TIFFSetField(t, TIFFTAG_ZIPQUALITY, 1); /* as PNG's level: speed first */
	}
	ok &= TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rps);
	ok &= TIFFSetField(t, TIFFTAG_XRESOLUTION, (float)s->xdpi);
	ok &= TIFFSetField(t, TIFFTAG_YRESOLUTION, (float)s->ydpi);
	ok &= TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
	if (pf->fmt == LB_PAGE_TIFF)
		ok &= TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
	/* libtiff's default output buffer is one whole (uncompressed) strip: 8.7 MB for a 600 dpi
	 * A3 lineart page in one strip; 256 KiB is flushed as it fills */
	ok &= TIFFWriteBufferSetup(t, NULL, 262144) == 1;
	return ok ? 0 : -1;
}

/* ---- creation ---- */

/* Start the file (see pagefile.h). */
lb_pagefile *lb_pagefile_new(const char *path, lb_page_format f, int quality, lb_error *err)
{
	lb_pagefile *pf;
	const char *slash;
	int fd;

	if (!path || !*path || f < LB_PAGE_PNG || f > LB_PAGE_PDF || quality < 0 || quality > 100) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "pagefile: bad path, format or quality");
		return NULL;
	}
	pf = calloc(1, sizeof *pf);
	if (!pf)
		goto nomem;
	pf->fmt = f;
	pf->quality = quality ? quality : 85;
	pf->tif_fd = -1;
	slash = strrchr(path, '/');
	pf->path = strdup(path);
	pf->dir = slash ? strndup(path, (size_t)(slash - path + (slash == path))) : strdup(".");
	if (!pf->path || !pf->dir ||
	    asprintf(&pf->tmp, "%s/.%s.part", pf->dir, slash ? slash + 1 : path) < 0) {
		pf->tmp = NULL;
		goto nomem;
	}
	fd = open(pf->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot create %s: %s", pf->tmp,
			     strerror(errno));
		goto fail;
	}
	if (f == LB_PAGE_PNG || f == LB_PAGE_JPEG) {
		pf->fp = fdopen(fd, "wb");
		if (!pf->fp) {
			close(fd);
			goto nomem;
		}
	} else {
		close(fd); /* TIFF and PDF reopen it by name */
	}
	if (f == LB_PAGE_TIFF) {
		pf->tif = tiff_open(pf, pf->tmp, -1);
		if (!pf->tif) {
			lb_error_set(err, LB_ERR_INTERNAL, "%s", pf->msg);
			goto fail;
		}
	} else if (f == LB_PAGE_PDF) {
		pf->pdf = HPDF_New(pdf_error, pf);
		if (!pf->pdf)
			goto nomem;
		fd = anon_tmp(pf->dir);
		if (fd < 0 || !(pf->store = fdopen(fd, "w+b"))) {
			lb_error_set(err, LB_ERR_INTERNAL, "temporary file in %s: %s", pf->dir,
				     strerror(errno));
			if (fd >= 0)
				close(fd);
			goto fail;
		}
	}
	return pf;
nomem:
	lb_error_set(err, LB_ERR_INTERNAL, "pagefile %s: out of memory", path);
fail:
	lb_pagefile_destroy(&pf);
	return NULL;
}

/* ---- encoders ---- */

/* Start the page's encoder now that its height is known (pf->height > 0). 0 or negative. */
static int enc_start(lb_pagefile *pf, lb_error *err)
{
	const lb_page_shape *s = &pf->shape;

	switch (pf->fmt) {
	case LB_PAGE_PNG: {
		png_uint_32 xppm = (png_uint_32)lround(s->xdpi / 0.0254),
			    yppm = (png_uint_32)lround(s->ydpi / 0.0254);
		pf->png =
		    png_create_write_struct(PNG_LIBPNG_VER_STRING, pf, png_err_fn, png_warn_fn);
		if (!pf->png || !(pf->pinfo = png_create_info_struct(pf->png)))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "libpng: out of memory");
		if (setjmp(png_jmpbuf(pf->png)))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		png_init_io(pf->png, pf->fp);
		png_set_IHDR(pf->png, pf->pinfo, s->width, (png_uint_32)pf->height, pf->out_depth,
			     s->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
			     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
			     PNG_FILTER_TYPE_DEFAULT);
		png_set_pHYs(pf->png, pf->pinfo, xppm, yppm, PNG_RESOLUTION_METER);
		/* zlib level 1: a noisy 600 dpi A3 colour page at 36 MB/s, 110 MB, where the
		 * default level 6 took 6.4 MB/s (a whole core, no faster than the scanner), 93 MB
		 * (tests/bench/bench_pagefile.c) */
		png_set_compression_level(pf->png, 1);
		png_write_info(pf->png, pf->pinfo);
		if (pf->out_depth == 16 && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
			png_set_swap(pf->png);
		break;
	}
	case LB_PAGE_JPEG:
	case LB_PAGE_PDF:
		if (pf->fmt == LB_PAGE_PDF && pf->out_depth == 1) {
			int fd = anon_tmp(pf->dir);
			if (fd < 0)
				return pf_fail(pf, err, LB_ERR_INTERNAL, "temporary file in %s: %s",
					       pf->dir, strerror(errno));
			pf->tif_fd = fd;
			/* libtiff closes the descriptor it is given: give it a duplicate */
			pf->tif = tiff_open(pf, NULL, dup(fd));
			if (!pf->tif || tiff_page_tags(pf, pf->tif, true) < 0)
				return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
			break;
		}
		if (pf->fmt == LB_PAGE_PDF)
			pf->page_base = ftello(pf->store);
		if (pf->height > 65500 || s->width > 65500)
			return pf_fail(pf, err, LB_ERR_INVALID_PARAMS,
				       "jpeg is limited to 65500 pixels a side (page %u x %lld)",
				       s->width, (long long)pf->height);
		pf->cj.err = jpeg_std_error(&pf->je.pub);
		pf->je.pub.error_exit = jpeg_exit_fn;
		pf->je.pub.output_message = jpeg_output_fn;
		pf->je.pf = pf;
		if (setjmp(pf->je.jb))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		jpeg_create_compress(&pf->cj);
		pf->cj_live = true;
		jpeg_stdio_dest(&pf->cj, pf->fmt == LB_PAGE_PDF ? pf->store : pf->fp);
		pf->cj.image_width = s->width;
		pf->cj.image_height = (JDIMENSION)pf->height;
		pf->cj.input_components = s->channels;
		pf->cj.in_color_space = s->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
		jpeg_set_defaults(&pf->cj);
		jpeg_set_quality(&pf->cj, pf->quality, TRUE);
		pf->cj.density_unit = 1;
		pf->cj.X_density = (UINT16)fmin(65535, lround(s->xdpi));
		pf->cj.Y_density = (UINT16)fmin(65535, lround(s->ydpi));
		jpeg_start_compress(&pf->cj, TRUE);
		break;
	case LB_PAGE_TIFF:
		if (tiff_page_tags(pf, pf->tif, false) < 0)
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		break;
	}
	pf->encoding = true;
	return 0;
}

/* Encode one converted row (row number r of the page). 0 or negative. */
static int enc_row(lb_pagefile *pf, const uint8_t *row, int64_t r, lb_error *err)
{
	switch (pf->fmt) {
	case LB_PAGE_PNG:
		if (setjmp(png_jmpbuf(pf->png)))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		png_write_row(pf->png, row);
		return 0;
	case LB_PAGE_JPEG:
	case LB_PAGE_PDF:
		if (pf->tif)
			break;
		if (setjmp(pf->je.jb))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		{
			JSAMPROW rp = (JSAMPROW)row;
			jpeg_write_scanlines(&pf->cj, &rp, 1);
		}
		return 0;
	case LB_PAGE_TIFF: break;
	}
	if (TIFFWriteScanline(pf->tif, (void *)row, (uint32_t)r, 0) < 0)
		return pf_fail(pf, err, LB_ERR_INTERNAL, "%s",
			       pf->msg[0] ? pf->msg : "libtiff: cannot write a line");
	return 0;
}

/* Add the finished PDF page whose image is the store's bytes [base, base + len): a page of the
 * image's size in points (pixels / dpi * 72) with the image drawn over it. 0 or negative. */
static int pdf_add_page(lb_pagefile *pf, off_t base, off_t len, lb_error *err)
{
	const lb_page_shape *s = &pf->shape;
	HPDF_REAL w = (HPDF_REAL)(s->width * 72.0 / s->xdpi),
		  h = (HPDF_REAL)((double)pf->height * 72.0 / s->ydpi);
	pdf_part *p, **grown;
	HPDF_Image img;
	HPDF_Page page;
	bool line = pf->out_depth == 1;
	HPDF_STATUS st = HPDF_OK;

	p = calloc(1, sizeof *p);
	grown = p ? realloc(pf->parts, (size_t)(pf->nparts + 1) * sizeof *grown) : NULL;
	if (!grown) {
		free(p);
		return pf_fail(pf, err, LB_ERR_INTERNAL, "pdf: out of memory");
	}
	pf->parts = grown;
	pf->parts[pf->nparts++] = p;
	p->fd = fileno(pf->store), p->base = base, p->len = len;
	if (fflush(pf->store) != 0) /* libharu reads the descriptor */
		return pf_fail(pf, err, LB_ERR_INTERNAL, "pdf page %d: %s", pf->pages + 1,
			       strerror(errno));

	img = HPDF_DictStream_New(pf->pdf->mmgr, pf->pdf->xref);
	if (!img)
		goto fail;
	img->header.obj_class |= HPDF_OSUBCLASS_XOBJECT;
	img->filter = line ? HPDF_STREAM_FILTER_CCITT_DECODE : HPDF_STREAM_FILTER_DCT_DECODE;
	st |= HPDF_Dict_AddName(img, "Type", "XObject");
	st |= HPDF_Dict_AddName(img, "Subtype", "Image");
	st |= HPDF_Dict_AddNumber(img, "Width", (HPDF_INT32)s->width);
	st |= HPDF_Dict_AddNumber(img, "Height", (HPDF_INT32)pf->height);
	st |= HPDF_Dict_AddName(img, "ColorSpace",
				s->channels == 3 && !line ? "DeviceRGB" : "DeviceGray");
	st |= HPDF_Dict_AddNumber(img, "BitsPerComponent", line ? 1 : 8);
	if (line) {
		HPDF_Dict parms = HPDF_Dict_New(pf->pdf->mmgr);
		if (!parms)
			goto fail;
		st |= HPDF_Dict_AddNumber(parms, "K", -1);
		st |= HPDF_Dict_AddNumber(parms, "Columns", (HPDF_INT32)s->width);
		st |= HPDF_Dict_AddNumber(parms, "Rows", (HPDF_INT32)pf->height);
		/* no BlackIs1: the G4 runs say which pixels are black; the filter's default output
		 * (0 = black) is what DeviceGray shows as black */
		/* libharu writes Filter as an array: DecodeParms must be one too (poppler ignores
		 * a lone dictionary there and decodes 1728 columns) */
		HPDF_Array arr = HPDF_Array_New(pf->pdf->mmgr);
		if (!arr)
			goto fail;
		st |= HPDF_Array_Add(arr, parms);
		st |= HPDF_Dict_Add(img, "DecodeParms", arr);
	}
	if (st != HPDF_OK)
		goto fail;
	HPDF_Stream_Free(img->stream);
	img->stream =
	    HPDF_CallbackReader_New(pf->pdf->mmgr, part_read, part_seek, part_tell, part_size, p);
	if (!img->stream)
		goto fail;
	page = HPDF_AddPage(pf->pdf);
	if (!page || HPDF_Page_SetWidth(page, w) != HPDF_OK ||
	    HPDF_Page_SetHeight(page, h) != HPDF_OK ||
	    HPDF_Page_DrawImage(page, img, 0, 0, w, h) != HPDF_OK)
		goto fail;
	return 0;
fail:
	return pf_fail(pf, err, LB_ERR_INTERNAL, "%s",
		       pf->msg[0] ? pf->msg : "libharu: cannot add the page");
}

/* Append len bytes of fd from base to out. 0, or -1 with errno. */
static int copy_range(int fd, off_t base, off_t len, FILE *out)
{
	char buf[65536];

	while (len > 0) {
		ssize_t r =
		    pread(fd, buf, len < (off_t)sizeof buf ? (size_t)len : sizeof buf, base);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EIO;
			return -1;
		}
		if (fwrite(buf, 1, (size_t)r, out) != (size_t)r)
			return -1;
		base += r, len -= r;
	}
	return 0;
}

/* End the page's encoder (all rows given). 0 or negative. */
static int enc_end(lb_pagefile *pf, lb_error *err)
{
	pf->encoding = false;
	switch (pf->fmt) {
	case LB_PAGE_PNG:
		if (setjmp(png_jmpbuf(pf->png)))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		png_write_end(pf->png, pf->pinfo);
		png_destroy_write_struct(&pf->png, &pf->pinfo);
		return 0;
	case LB_PAGE_JPEG:
	case LB_PAGE_PDF:
		if (pf->tif) {
			uint64_t *offs = NULL, *counts = NULL;
			int ok = TIFFSetField(pf->tif, TIFFTAG_IMAGELENGTH, (uint32_t)pf->height) &&
				 TIFFFlushData(pf->tif) && TIFFNumberOfStrips(pf->tif) == 1 &&
				 TIFFGetField(pf->tif, TIFFTAG_STRIPOFFSETS, &offs) &&
				 TIFFGetField(pf->tif, TIFFTAG_STRIPBYTECOUNTS, &counts);
			off_t base = ok ? (off_t)offs[0] : 0, len = ok ? (off_t)counts[0] : 0;
			off_t at = ftello(pf->store);
			int fd = pf->tif_fd;
			TIFFClose(pf->tif);
			pf->tif = NULL, pf->tif_fd = -1;
			if (!ok) {
				close(fd);
				return pf_fail(pf, err, LB_ERR_INTERNAL, "%s",
					       pf->msg[0] ? pf->msg
							  : "libtiff: cannot end the page");
			}
			ok = copy_range(fd, base, len, pf->store) == 0;
			close(fd);
			if (!ok)
				return pf_fail(pf, err, LB_ERR_INTERNAL, "pdf page %d: %s",
					       pf->pages + 1, strerror(errno));
			return pdf_add_page(pf, at, len, err);
		}
		if (setjmp(pf->je.jb))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s", pf->msg);
		jpeg_finish_compress(&pf->cj);
		jpeg_destroy_compress(&pf->cj);
		pf->cj_live = false;
		if (pf->fmt == LB_PAGE_PDF)
			return pdf_add_page(pf, pf->page_base, ftello(pf->store) - pf->page_base,
					    err);
		return 0;
	case LB_PAGE_TIFF:
		if (!TIFFSetField(pf->tif, TIFFTAG_IMAGELENGTH, (uint32_t)pf->height) ||
		    !TIFFWriteDirectory(pf->tif))
			return pf_fail(pf, err, LB_ERR_INTERNAL, "%s",
				       pf->msg[0] ? pf->msg : "libtiff: cannot end the page");
		return 0;
	}
	return 0;
}

/* ---- rows ---- */

/* Convert one input row to pf->row. */
static void convert(lb_pagefile *pf, const uint8_t *in)
{
	const lb_page_shape *s = &pf->shape;
	size_t n = (size_t)s->width * s->channels;

	switch (pf->conv) {
	case CONV_COPY: memcpy(pf->row, in, pf->out_bpl); break;
	case CONV_INVERT1:
		for (size_t i = 0; i < pf->out_bpl; i++)
			pf->row[i] = (uint8_t)~in[i];
		if (n % 8) /* PNG ignores the padding bits, keep them 0 all the same */
			pf->row[pf->out_bpl - 1] &= (uint8_t)(0xff << (8 - n % 8));
		break;
	case CONV_TO8:
		if (s->depth == 16) {
			for (size_t i = 0; i < n; i++) {
				uint16_t v;
				memcpy(&v, in + 2 * i, 2);
				pf->row[i] = (uint8_t)(v >> 8);
			}
		} else { /* depth 1: grey 1 = black; colour 1 = the channel full on */
			uint8_t on = s->channels == 1 ? 0 : 255;
			for (size_t i = 0; i < n; i++)
				pf->row[i] = (in[i >> 3] >> (7 - (i & 7))) & 1 ? on : (uint8_t)~on;
		}
		break;
	}
}

/* PDF pages measure 3 to 14400 points a side (ISO 32000, libharu checks it). */
static const char pdf_size_msg[] = "a pdf page measures 1.06 mm to 5.08 m a side";

/* Whether a page of w x h pixels at those resolutions fits PDF's limits (h -1: not known yet,
 * only the width is checked). */
static bool pdf_size_ok(uint32_t w, double xdpi, int64_t h, double ydpi)
{
	double wp = w * 72.0 / xdpi, hp = (double)h * 72.0 / ydpi;
	return wp >= 3 && wp <= 14400 && (h < 0 || (hp >= 3 && hp <= 14400));
}

/* Start the next page (see pagefile.h). */
int lb_pagefile_begin_page(lb_pagefile *pf, const lb_page_shape *s, lb_error *err)
{
	size_t need;

	if (!pf || !s)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "pagefile: no page shape");
	if (pf->failed)
		return pf_fail(NULL, err, LB_ERR_INTERNAL, "%s",
			       pf->msg[0] ? pf->msg : "pagefile failed earlier");
	if (pf->page_open)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "page %d is still open",
			       pf->pages + 1);
	if ((pf->fmt == LB_PAGE_PNG || pf->fmt == LB_PAGE_JPEG) && pf->pages >= 1)
		return pf_fail(NULL, err, LB_ERR_NOT_SUPPORTED,
			       "%s holds one page: use pdf or tiff for several",
			       pf->fmt == LB_PAGE_PNG ? "png" : "jpeg");
	if (s->width < 1 || s->width > (1u << 20) || (s->height < 1 && s->height != -1) ||
	    (s->channels != 1 && s->channels != 3) ||
	    (s->depth != 1 && s->depth != 8 && s->depth != 16) ||
	    !(s->xdpi > 0 && s->xdpi <= 100000) || !(s->ydpi > 0 && s->ydpi <= 100000))
		return pf_fail(
		    NULL, err, LB_ERR_INVALID_PARAMS,
		    "bad page shape: %u x %d pixels, %u channel(s), depth %u, %g x %g dpi",
		    s->width, s->height, s->channels, s->depth, s->xdpi, s->ydpi);
	need = ((size_t)s->width * s->channels * s->depth + 7) / 8;
	if (s->bytes_per_line < need || s->bytes_per_line > need + 4096)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS,
			       "bad page shape: %u bytes per line for %zu bytes of pixels",
			       s->bytes_per_line, need);
	if (pf->fmt == LB_PAGE_PDF && !pdf_size_ok(s->width, s->xdpi, s->height, s->ydpi))
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "%s", pdf_size_msg);
	pf->shape = *s;
	pf->height = s->height;
	pf->rows = 0;
	pf->msg[0] = 0;
	if (s->depth == 8) {
		pf->conv = CONV_COPY, pf->out_depth = 8;
	} else if (pf->fmt == LB_PAGE_JPEG || (pf->fmt == LB_PAGE_PDF && s->depth == 16) ||
		   (s->depth == 1 && s->channels == 3)) {
		pf->conv = CONV_TO8, pf->out_depth = 8;
	} else if (s->depth == 1 && pf->fmt == LB_PAGE_PNG) {
		pf->conv = CONV_INVERT1, pf->out_depth = 1;
	} else { /* TIFF 16 or lineart, PNG 16, PDF lineart (CCITT: 1 = black as SANE) */
		pf->conv = CONV_COPY, pf->out_depth = s->depth;
	}
	pf->out_bpl = ((size_t)s->width * s->channels * (size_t)pf->out_depth + 7) / 8;
	free(pf->row);
	pf->row = malloc(pf->out_bpl);
	if (!pf->row)
		return pf_fail(pf, err, LB_ERR_INTERNAL, "pagefile: out of memory");
	pf->page_open = true;
	if (pf->height < 0) {
		int fd = anon_tmp(pf->dir);
		if (fd < 0 || !(pf->spool = fdopen(fd, "w+b"))) {
			if (fd >= 0)
				close(fd);
			return pf_fail(pf, err, LB_ERR_INTERNAL, "temporary file in %s: %s",
				       pf->dir, strerror(errno));
		}
		return 0;
	}
	return enc_start(pf, err);
}

/* Append n rows (see pagefile.h). */
int lb_pagefile_write_rows(lb_pagefile *pf, const uint8_t *rows, size_t n, lb_error *err)
{
	if (!pf || (!rows && n))
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "pagefile: no rows");
	if (pf->failed)
		return pf_fail(NULL, err, LB_ERR_INTERNAL, "%s",
			       pf->msg[0] ? pf->msg : "pagefile failed earlier");
	if (!pf->page_open)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "pagefile: no page open");
	if (pf->height >= 0 && (int64_t)n > pf->height - pf->rows)
		return pf_fail(pf, err, LB_ERR_DEVICE,
			       "page %d: more than the %lld lines announced", pf->pages + 1,
			       (long long)pf->height);
	if (pf->height < 0 && pf->rows + (int64_t)n > INT32_MAX)
		return pf_fail(pf, err, LB_ERR_DEVICE, "page %d: too many lines", pf->pages + 1);
	for (size_t i = 0; i < n; i++) {
		convert(pf, rows + i * pf->shape.bytes_per_line);
		if (pf->spool) {
			if (fwrite(pf->row, 1, pf->out_bpl, pf->spool) != pf->out_bpl)
				return pf_fail(pf, err, LB_ERR_INTERNAL, "spooling page %d: %s",
					       pf->pages + 1, strerror(errno));
		} else if (enc_row(pf, pf->row, pf->rows, err) < 0) {
			return LB_EFAIL;
		}
		pf->rows++;
	}
	return 0;
}

/* End the page (see pagefile.h). */
int lb_pagefile_end_page(lb_pagefile *pf, lb_error *err)
{
	if (!pf)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "pagefile: none");
	if (pf->failed)
		return pf_fail(NULL, err, LB_ERR_INTERNAL, "%s",
			       pf->msg[0] ? pf->msg : "pagefile failed earlier");
	if (!pf->page_open)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "pagefile: no page open");
	if (pf->height >= 0 && pf->rows < pf->height)
		return pf_fail(pf, err, LB_ERR_DEVICE, "page %d ended after %lld of %lld lines",
			       pf->pages + 1, (long long)pf->rows, (long long)pf->height);
	if (pf->rows == 0)
		return pf_fail(pf, err, LB_ERR_DEVICE, "page %d ended without a line",
			       pf->pages + 1);
	if (pf->spool) {
		FILE *sp = pf->spool;
		pf->spool = NULL;
		pf->height = pf->rows;
		if (pf->fmt == LB_PAGE_PDF &&
		    !pdf_size_ok(pf->shape.width, pf->shape.xdpi, pf->height, pf->shape.ydpi)) {
			fclose(sp);
			return pf_fail(pf, err, LB_ERR_DEVICE, "page %d: %s", pf->pages + 1,
				       pdf_size_msg);
		}
		if (fflush(sp) != 0 || fseeko(sp, 0, SEEK_SET) != 0) {
			fclose(sp);
			return pf_fail(pf, err, LB_ERR_INTERNAL, "spooled page %d: %s",
				       pf->pages + 1, strerror(errno));
		}
		if (enc_start(pf, err) < 0) {
			fclose(sp);
			return LB_EFAIL;
		}
		for (int64_t r = 0; r < pf->height; r++) {
			if (fread(pf->row, 1, pf->out_bpl, sp) != pf->out_bpl) {
				const char *why = ferror(sp) ? strerror(errno) : "short file";
				fclose(sp);
				return pf_fail(pf, err, LB_ERR_INTERNAL,
					       "reading spooled page %d: %s", pf->pages + 1, why);
			}
			if (enc_row(pf, pf->row, r, err) < 0) {
				fclose(sp);
				return LB_EFAIL;
			}
		}
		fclose(sp);
	}
	if (enc_end(pf, err) < 0)
		return LB_EFAIL;
	pf->page_open = false;
	pf->pages++;
	return 0;
}

/* The pages ended so far. */
int lb_pagefile_pages(const lb_pagefile *pf)
{
	return pf ? pf->pages : 0;
}

/* fsync the file at path (reopened read-only). 0 or -1 with errno. */
static int fsync_path(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* Complete, fsync, rename (see pagefile.h). */
int lb_pagefile_finish(lb_pagefile **pfp, lb_error *err)
{
	lb_pagefile *pf = pfp ? *pfp : NULL;
	int rc = LB_EFAIL;

	if (!pf)
		return pf_fail(NULL, err, LB_ERR_INVALID_PARAMS, "pagefile: none");
	if (pf->failed) {
		pf_fail(NULL, err, LB_ERR_INTERNAL, "%s",
			pf->msg[0] ? pf->msg : "pagefile failed earlier");
		goto out;
	}
	if (pf->page_open) {
		pf_fail(pf, err, LB_ERR_INVALID_PARAMS, "page %d is still open", pf->pages + 1);
		goto out;
	}
	if (pf->pages == 0) {
		pf_fail(pf, err, LB_ERR_DEVICE, "no page was scanned");
		goto out;
	}
	pf->msg[0] = 0;
	switch (pf->fmt) {
	case LB_PAGE_PNG:
	case LB_PAGE_JPEG: {
		FILE *fp = pf->fp;
		pf->fp = NULL;
		if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
			pf_fail(pf, err, LB_ERR_INTERNAL, "writing %s: %s", pf->tmp,
				strerror(errno));
			fclose(fp);
			goto out;
		}
		if (fclose(fp) != 0) {
			pf_fail(pf, err, LB_ERR_INTERNAL, "writing %s: %s", pf->tmp,
				strerror(errno));
			goto out;
		}
		break;
	}
	case LB_PAGE_TIFF: {
		TIFF *t = pf->tif;
		int ok = TIFFFlush(t) && fsync(TIFFFileno(t)) == 0;
		int e = errno;
		pf->tif = NULL;
		TIFFClose(t);
		if (!ok) {
			pf_fail(pf, err, LB_ERR_INTERNAL, "writing %s: %s", pf->tmp,
				pf->msg[0] ? pf->msg : strerror(e));
			goto out;
		}
		break;
	}
	case LB_PAGE_PDF:
		if (HPDF_SaveToFile(pf->pdf, pf->tmp) != HPDF_OK) {
			pf_fail(pf, err, LB_ERR_INTERNAL, "writing %s: %s", pf->tmp,
				pf->msg[0] ? pf->msg : "libharu failed");
			goto out;
		}
		if (fsync_path(pf->tmp, 0) != 0) {
			pf_fail(pf, err, LB_ERR_INTERNAL, "writing %s: %s", pf->tmp,
				strerror(errno));
			goto out;
		}
		break;
	}
	if (rename(pf->tmp, pf->path) != 0) {
		pf_fail(pf, err, LB_ERR_INTERNAL, "renaming %s to %s: %s", pf->tmp, pf->path,
			strerror(errno));
		goto out;
	}
	free(pf->tmp);
	pf->tmp = NULL; /* done: destroy must not remove anything */
	fsync_path(pf->dir, O_DIRECTORY);
	rc = 0;
out:
	lb_pagefile_destroy(pfp);
	return rc;
}

/* Give up: remove the temporary file, free pf (see pagefile.h). */
void lb_pagefile_destroy(lb_pagefile **pfp)
{
	lb_pagefile *pf = pfp ? *pfp : NULL;

	if (!pf)
		return;
	if (pf->png)
		png_destroy_write_struct(&pf->png, pf->pinfo ? &pf->pinfo : NULL);
	if (pf->cj_live)
		jpeg_destroy_compress(&pf->cj);
	if (pf->tif)
		TIFFClose(pf->tif);
	if (pf->tif_fd >= 0)
		close(pf->tif_fd);
	if (pf->fp)
		fclose(pf->fp);
	if (pf->spool)
		fclose(pf->spool);
	if (pf->pdf)
		HPDF_Free(pf->pdf);
	for (int i = 0; i < pf->nparts; i++)
		free(pf->parts[i]);
	if (pf->store)
		fclose(pf->store);
	free(pf->parts);
	if (pf->tmp)
		unlink(pf->tmp);
	free(pf->tmp);
	free(pf->path);
	free(pf->dir);
	free(pf->row);
	free(pf);
	*pfp = NULL;
}
