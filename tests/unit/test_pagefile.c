/* test_pagefile.c - scanned pages written as PNG, JPEG, TIFF and PDF, read back and compared. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>

#include "../../drivers/sane/pagefile.h"
#include "check.h"

static char dir[64];

/* A file name in the test directory. */
static const char *at(const char *name)
{
	static char buf[4][256];
	static int k;
	char *b = buf[k++ % 4];
	snprintf(b, 256, "%s/%s", dir, name);
	return b;
}

/* The number of entries of the test directory (hidden ones included, . and .. not). */
static int dir_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/* Remove every file of the test directory. */
static void dir_clean(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlink(at(e->d_name));
	if (d)
		closedir(d);
}

/* A page's shape; bytes_per_line with `pad` extra bytes. */
static lb_page_shape shape(uint32_t w, int32_t h, int ch, int depth, int pad)
{
	lb_page_shape s = {.width = w,
			   .height = h,
			   .channels = (uint8_t)ch,
			   .depth = (uint8_t)depth,
			   .xdpi = 150,
			   .ydpi = 300};
	s.bytes_per_line = (uint32_t)(((size_t)w * ch * depth + 7) / 8 + pad);
	return s;
}

/* The sample (x, y, channel c) of the synthetic page `seed`, at full scale for depth. */
static unsigned sample(int seed, int depth, uint32_t x, uint32_t y, int c)
{
	if (depth == 1)
		return ((x / 3 + y / 5 + (unsigned)seed + (unsigned)c) % 3) == 0;
	unsigned v = (x * 4 + y * 2 + (unsigned)c * 60 + (unsigned)seed * 17) % 512;
	v = v < 256 ? v : 511 - v; /* a triangle wave: smooth, as JPEG likes */
	return depth == 8 ? v : v * 256 + (x % 7) * 30;
}

/* Fill row y of the synthetic page (SANE's layout: MSB first bits, host-order 16 bits). */
static void make_row(const lb_page_shape *s, int seed, uint32_t y, uint8_t *row)
{
	memset(row, 0xA5, s->bytes_per_line); /* padding bytes must be ignored */
	if (s->depth == 1)
		memset(row, 0, ((size_t)s->width * s->channels + 7) / 8);
	for (uint32_t x = 0; x < s->width; x++)
		for (int c = 0; c < s->channels; c++) {
			size_t i = (size_t)x * s->channels + (size_t)c;
			unsigned v = sample(seed, s->depth, x, y, c);
			if (s->depth == 1) {
				if (v)
					row[i / 8] |= (uint8_t)(0x80 >> (i % 8));
			} else if (s->depth == 8) {
				row[i] = (uint8_t)v;
			} else {
				uint16_t v16 = (uint16_t)v;
				memcpy(row + 2 * i, &v16, 2);
			}
		}
}

/* Write one page of `rows` rows (fewer than the shape's height for a short page), n rows per
 * call. 0 or the failing call's result. */
static int write_page(lb_pagefile *pf, const lb_page_shape *s, int seed, uint32_t rows,
		      lb_error *err)
{
	uint8_t *buf = malloc((size_t)s->bytes_per_line * 7);
	int rc;

	rc = lb_pagefile_begin_page(pf, s, err);
	for (uint32_t y = 0; rc == 0 && y < rows;) {
		size_t n = rows - y < 7 ? rows - y : 7;
		for (size_t k = 0; k < n; k++)
			make_row(s, seed, y + (uint32_t)k, buf + k * s->bytes_per_line);
		rc = lb_pagefile_write_rows(pf, buf, n, err);
		y += (uint32_t)n;
	}
	free(buf);
	return rc ? rc : lb_pagefile_end_page(pf, err);
}

/* The expected 8-bit value of a sample once reduced (JPEG, PDF): 1-bit grey 1 = black. */
static unsigned expect8(int seed, const lb_page_shape *s, uint32_t x, uint32_t y, int c)
{
	unsigned v = sample(seed, s->depth, x, y, c);
	if (s->depth == 1)
		return s->channels == 1 ? (v ? 0 : 255) : (v ? 255 : 0);
	return s->depth == 16 ? v >> 8 : v;
}

/* ---- readers ---- */

/* Compare a PNG file with the synthetic page: exact. Returns the mismatches (-1: unreadable). */
static long png_compare(const char *path, const lb_page_shape *s, uint32_t h, int seed, bool phys)
{
	FILE *f = fopen(path, "rb");
	png_structp png;
	png_infop info;
	long bad = 0;
	uint8_t *row = NULL;

	if (!f)
		return -1;
	png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_read_struct(&png, &info, NULL);
		fclose(f);
		free(row);
		return -1;
	}
	png_init_io(png, f);
	png_read_info(png, info);
	int bd = png_get_bit_depth(png, info), ct = png_get_color_type(png, info);
	int want_bd = s->depth == 1 && s->channels == 3 ? 8 : s->depth;
	CHECK_EQ_INT(png_get_image_width(png, info), s->width);
	CHECK_EQ_INT(png_get_image_height(png, info), h);
	CHECK_EQ_INT(bd, want_bd);
	CHECK_EQ_INT(ct, s->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY);
	if (phys) {
		CHECK_EQ_INT(png_get_x_pixels_per_meter(png, info), 5906); /* 150 dpi */
		CHECK_EQ_INT(png_get_y_pixels_per_meter(png, info), 11811);
	}
	if (bd == 16)
		png_set_swap(png); /* host order, little-endian hosts */
	row = malloc(png_get_rowbytes(png, info));
	for (uint32_t y = 0; y < h; y++) {
		png_read_row(png, row, NULL);
		for (uint32_t x = 0; x < s->width; x++)
			for (int c = 0; c < s->channels; c++) {
				size_t i = (size_t)x * s->channels + (size_t)c;
				unsigned got, want = sample(seed, s->depth, x, y, c);
				if (bd == 1) {
					got =
					    !((row[i / 8] >> (7 - i % 8)) & 1); /* PNG 0 = black */
				} else if (bd == 8) {
					got = row[i];
					if (s->depth == 1)
						want = expect8(seed, s, x, y, c);
				} else {
					uint16_t v;
					memcpy(&v, row + 2 * i, 2);
					got = v;
				}
				bad += got != want;
			}
	}
	png_read_end(png, NULL);
	png_destroy_read_struct(&png, &info, NULL);
	fclose(f);
	free(row);
	return bad;
}

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
};

static void jerr_exit(j_common_ptr c)
{
	longjmp(((struct jerr *)c->err)->jb, 1);
}

/* Compare a JPEG file with the synthetic page reduced to 8 bits: the mean absolute difference
 * (*maxd the largest), or -1 when unreadable. */
static double jpeg_compare(const char *path, const lb_page_shape *s, uint32_t h, int seed,
			   int *maxd)
{
	FILE *f = fopen(path, "rb");
	struct jpeg_decompress_struct d;
	struct jerr je;
	uint8_t *row = NULL;
	double sum = 0;

	*maxd = 0;
	if (!f)
		return -1;
	d.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = jerr_exit;
	if (setjmp(je.jb)) {
		jpeg_destroy_decompress(&d);
		fclose(f);
		free(row);
		return -1;
	}
	jpeg_create_decompress(&d);
	jpeg_stdio_src(&d, f);
	jpeg_read_header(&d, TRUE);
	jpeg_start_decompress(&d);
	CHECK_EQ_INT(d.output_width, s->width);
	CHECK_EQ_INT(d.output_height, h);
	CHECK_EQ_INT(d.output_components, s->channels);
	CHECK_EQ_INT(d.density_unit, 1);
	CHECK_EQ_INT(d.X_density, 150);
	CHECK_EQ_INT(d.Y_density, 300);
	row = malloc((size_t)d.output_width * d.output_components);
	for (uint32_t y = 0; y < h; y++) {
		JSAMPROW r = row;
		jpeg_read_scanlines(&d, &r, 1);
		for (uint32_t x = 0; x < s->width; x++)
			for (int c = 0; c < s->channels; c++) {
				int diff = abs((int)row[(size_t)x * s->channels + (size_t)c] -
					       (int)expect8(seed, s, x, y, c));
				sum += diff;
				if (diff > *maxd)
					*maxd = diff;
			}
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	fclose(f);
	free(row);
	return sum / ((double)s->width * h * s->channels);
}

/* Compare the current directory of a TIFF with the synthetic page: exact. Mismatches or -1. */
static long tiff_compare(TIFF *t, const lb_page_shape *s, uint32_t h, int seed)
{
	uint32_t w = 0, l = 0;
	uint16_t bps = 0, spp = 0, photo = 0, comp = 0, unit = 0;
	float xr = 0, yr = 0;
	long bad = 0;
	int want_bd = s->depth == 1 && s->channels == 3 ? 8 : s->depth;
	uint8_t *row;

	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
	TIFFGetField(t, TIFFTAG_IMAGELENGTH, &l);
	TIFFGetField(t, TIFFTAG_BITSPERSAMPLE, &bps);
	TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &photo);
	TIFFGetField(t, TIFFTAG_COMPRESSION, &comp);
	TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
	TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr);
	TIFFGetField(t, TIFFTAG_RESOLUTIONUNIT, &unit);
	CHECK_EQ_INT(w, s->width);
	CHECK_EQ_INT(l, h);
	CHECK_EQ_INT(bps, want_bd);
	CHECK_EQ_INT(spp, s->channels);
	CHECK_EQ_INT(photo, want_bd == 1       ? PHOTOMETRIC_MINISWHITE
			    : s->channels == 3 ? PHOTOMETRIC_RGB
					       : PHOTOMETRIC_MINISBLACK);
	CHECK_EQ_INT(comp, want_bd == 1 ? COMPRESSION_CCITTFAX4 : COMPRESSION_ADOBE_DEFLATE);
	CHECK_NEAR(xr, 150, 0.01);
	CHECK_NEAR(yr, 300, 0.01);
	CHECK_EQ_INT(unit, RESUNIT_INCH);
	if (w != s->width || l != h)
		return -1;
	row = malloc((size_t)TIFFScanlineSize(t));
	for (uint32_t y = 0; y < h; y++) {
		if (TIFFReadScanline(t, row, y, 0) < 0) {
			free(row);
			return -1;
		}
		for (uint32_t x = 0; x < s->width; x++)
			for (int c = 0; c < s->channels; c++) {
				size_t i = (size_t)x * s->channels + (size_t)c;
				unsigned got, want = sample(seed, s->depth, x, y, c);
				if (want_bd == 1) {
					got = (row[i / 8] >> (7 - i % 8)) &
					      1; /* MINISWHITE: 1 = black */
				} else if (want_bd == 8) {
					got = row[i];
					if (s->depth == 1)
						want = expect8(seed, s, x, y, c);
				} else {
					uint16_t v;
					memcpy(&v, row + 2 * i, 2);
					got = v;
				}
				bad += got != want;
			}
	}
	free(row);
	return bad;
}

/* ---- tests ---- */

static void test_names(void)
{
	lb_page_format f = LB_PAGE_PDF;

	CHECK_EQ_INT(lb_page_format_parse("png", &f), 0);
	CHECK_EQ_INT(f, LB_PAGE_PNG);
	CHECK_EQ_INT(lb_page_format_parse("jpg", &f), 0);
	CHECK_EQ_INT(f, LB_PAGE_JPEG);
	CHECK_EQ_INT(lb_page_format_parse("tif", &f), 0);
	CHECK_EQ_INT(f, LB_PAGE_TIFF);
	CHECK_EQ_INT(lb_page_format_parse("pdf", &f), 0);
	CHECK_EQ_INT(f, LB_PAGE_PDF);
	CHECK_EQ_INT(lb_page_format_parse("gif", &f), LB_EINVAL);
	CHECK_EQ_INT(lb_page_format_parse("PNG", &f), LB_EINVAL);
	CHECK_STR(lb_page_format_ext(LB_PAGE_JPEG), "jpg");
	CHECK_STR(lb_page_format_mime(LB_PAGE_PDF), "application/pdf");
	CHECK_STR(lb_page_format_mime(LB_PAGE_TIFF), "image/tiff");
}

/* PNG: colour 8, grey 16, lineart (1-bit, inverted), colour lineart, unknown height. */
static void test_png(void)
{
	struct {
		lb_page_shape s;
		uint32_t rows;
	} cases[] = {{shape(61, 37, 3, 8, 3), 37},  {shape(45, 20, 1, 16, 0), 20},
		     {shape(77, 33, 1, 1, 1), 33},  {shape(13, 9, 3, 1, 0), 9},
		     {shape(50, -1, 3, 16, 2), 41}, {shape(70, -1, 1, 1, 0), 23}};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		lb_error err = {0};
		lb_pagefile *pf = lb_pagefile_new(at("p.png"), LB_PAGE_PNG, 0, &err);
		CHECK(pf != NULL);
		if (!pf)
			return;
		CHECK_EQ_INT(write_page(pf, &cases[k].s, (int)k, cases[k].rows, &err), 0);
		CHECK_EQ_INT(lb_pagefile_pages(pf), 1);
		CHECK_EQ_INT(access(at(".p.png.part"), F_OK), 0);
		CHECK_EQ_INT(access(at("p.png"), F_OK), -1);
		CHECK_EQ_INT(lb_pagefile_finish(&pf, &err), 0);
		CHECK(pf == NULL);
		CHECK_EQ_INT(png_compare(at("p.png"), &cases[k].s, cases[k].rows, (int)k, true), 0);
		CHECK_EQ_INT(dir_entries(), 1); /* no .part, no spool file */
		dir_clean();
	}
}

/* JPEG: colour, grey 16 -> 8, lineart -> grey, unknown height; within JPEG's tolerance. */
static void test_jpeg(void)
{
	struct {
		lb_page_shape s;
		uint32_t rows;
		double mean;
		int max;
	} cases[] = {{shape(64, 48, 3, 8, 1), 48, 2.5, 40},
		     {shape(40, 33, 1, 16, 0), 33, 1.5, 20},
		     {shape(48, 40, 1, 1, 0), 40, 12, 160},
		     {shape(64, -1, 3, 8, 0), 29, 2.5, 40}};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		lb_error err = {0};
		int maxd;
		lb_pagefile *pf = lb_pagefile_new(at("p.jpg"), LB_PAGE_JPEG, 95, &err);
		CHECK(pf != NULL);
		if (!pf)
			return;
		CHECK_EQ_INT(write_page(pf, &cases[k].s, (int)k, cases[k].rows, &err), 0);
		CHECK_EQ_INT(lb_pagefile_finish(&pf, &err), 0);
		double mean = jpeg_compare(at("p.jpg"), &cases[k].s, cases[k].rows, (int)k, &maxd);
		CHECK(mean >= 0);
		CHECK(mean <= cases[k].mean);
		CHECK(maxd <= cases[k].max);
		CHECK_EQ_INT(dir_entries(), 1);
		dir_clean();
	}
}

/* PNG and JPEG hold one page; the file is still good after the refusal. */
static void test_single_page_formats(void)
{
	lb_page_format fs[] = {LB_PAGE_PNG, LB_PAGE_JPEG};

	for (size_t k = 0; k < 2; k++) {
		lb_error err = {0};
		lb_page_shape s = shape(16, 8, 1, 8, 0);
		lb_pagefile *pf = lb_pagefile_new(at("one"), fs[k], 0, &err);
		CHECK_EQ_INT(write_page(pf, &s, 0, 8, &err), 0);
		CHECK(lb_pagefile_begin_page(pf, &s, &err) < 0);
		CHECK_EQ_INT(err.code, LB_ERR_NOT_SUPPORTED);
		CHECK_CONTAINS(err.message, "holds one page: use pdf or tiff for several");
		CHECK_EQ_INT(lb_pagefile_finish(&pf, &err), 0);
		CHECK_EQ_INT(access(at("one"), F_OK), 0);
		CHECK_EQ_INT(dir_entries(), 1);
		dir_clean();
	}
}

/* TIFF: four pages of different layouts (one of unknown height) in one file, exact. */
static void test_tiff_multipage(void)
{
	lb_page_shape ss[] = {shape(61, 37, 3, 8, 2), shape(45, 20, 1, 16, 0),
			      shape(333, 401, 1, 1, 1), shape(50, -1, 3, 8, 0),
			      shape(11, 7, 3, 1, 0)};
	uint32_t rows[] = {37, 20, 401, 1000, 7};
	lb_error err = {0};
	lb_pagefile *pf = lb_pagefile_new(at("m.tif"), LB_PAGE_TIFF, 0, &err);
	TIFF *t;

	CHECK(pf != NULL);
	for (int k = 0; k < 5; k++) {
		CHECK_EQ_INT(write_page(pf, &ss[k], k, rows[k], &err), 0);
		CHECK_EQ_INT(lb_pagefile_pages(pf), k + 1);
	}
	CHECK_EQ_INT(lb_pagefile_finish(&pf, &err), 0);
	CHECK_STR(err.message, "");
	CHECK_EQ_INT(dir_entries(), 1);
	t = TIFFOpen(at("m.tif"), "r");
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ_INT(TIFFNumberOfDirectories(t), 5);
	for (int k = 0; k < 5; k++) {
		CHECK(TIFFSetDirectory(t, (tdir_t)k));
		CHECK_EQ_INT(tiff_compare(t, &ss[k], rows[k], k), 0);
	}
	TIFFClose(t);
	dir_clean();
}

/* Run a shell command, its first output line matching prefix into out. 0, or -1. */
static int run_line(const char *cmd, const char *prefix, char *out, size_t outsz)
{
	FILE *p = popen(cmd, "r");
	char line[512];
	int found = -1;

	if (!p)
		return -1;
	while (fgets(line, sizeof line, p))
		if (found < 0 && strncmp(line, prefix, strlen(prefix)) == 0) {
			snprintf(out, outsz, "%s", line);
			found = 0;
		}
	pclose(p);
	return found;
}

/* PDF: four pages (colour JPEG, lineart CCITT, grey 16 and lineart of unknown height): pdfinfo's
 * page count and sizes; pdfimages' list (encodings) and the images themselves extracted and
 * compared (CCITT exact, JPEG within tolerance). */
static void test_pdf(void)
{
	lb_page_shape ss[] = {shape(300, 600, 3, 8, 0), shape(333, 401, 1, 1, 1),
			      shape(150, -1, 1, 16, 0), shape(300, -1, 1, 1, 0)};
	uint32_t rows[] = {600, 401, 90, 200};
	const char *sizes[] = {"144 x 144 pts", "159.84 x 96.24 pts", "72 x 21.6 pts",
			       "144 x 48 pts"};
	lb_error err = {0};
	lb_pagefile *pf = lb_pagefile_new(at("d.pdf"), LB_PAGE_PDF, 95, &err);
	char cmd[512], line[512];

	CHECK(pf != NULL);
	for (int k = 0; k < 4; k++)
		CHECK_EQ_INT(write_page(pf, &ss[k], k, rows[k], &err), 0);
	CHECK_EQ_INT(access(at("d.pdf"), F_OK), -1);
	CHECK_EQ_INT(lb_pagefile_finish(&pf, &err), 0);
	CHECK_STR(err.message, "");
	CHECK_EQ_INT(dir_entries(), 1);
	if (access("/usr/bin/pdfinfo", X_OK) != 0 || access("/usr/bin/pdfimages", X_OK) != 0) {
		CHECK_MSG(0, "pdfinfo/pdfimages missing: install poppler-utils (make test-deps)");
		dir_clean();
		return;
	}
	snprintf(cmd, sizeof cmd, "pdfinfo %s 2>&1", at("d.pdf"));
	CHECK_EQ_INT(run_line(cmd, "Pages:", line, sizeof line), 0);
	CHECK_CONTAINS(line, " 4\n");
	for (int k = 0; k < 4; k++) {
		char prefix[32];
		snprintf(cmd, sizeof cmd, "pdfinfo -f 1 -l 4 %s 2>&1", at("d.pdf"));
		snprintf(prefix, sizeof prefix, "Page    %d size:", k + 1);
		CHECK_EQ_INT(run_line(cmd, prefix, line, sizeof line), 0);
		CHECK_CONTAINS(line, sizes[k]);
	}
	/* page 1 jpeg rgb, page 2 ccitt 1 bit, page 3 jpeg grey */
	snprintf(cmd, sizeof cmd, "pdfimages -list %s 2>&1", at("d.pdf"));
	CHECK_EQ_INT(run_line(cmd, "   1", line, sizeof line), 0);
	CHECK(strstr(line, " 300 ") && strstr(line, " 600 ") && strstr(line, "rgb") &&
	      strstr(line, "jpeg"));
	CHECK_EQ_INT(run_line(cmd, "   2", line, sizeof line), 0);
	CHECK(strstr(line, " 333 ") && strstr(line, " 401 ") && strstr(line, "ccitt") &&
	      strstr(line, " 1 "));
	CHECK_EQ_INT(run_line(cmd, "   3", line, sizeof line), 0);
	CHECK(strstr(line, " 150 ") && strstr(line, " 90 ") && strstr(line, "gray") &&
	      strstr(line, "jpeg"));
	CHECK_EQ_INT(run_line(cmd, "   4", line, sizeof line), 0);
	CHECK(strstr(line, " 300 ") && strstr(line, " 200 ") && strstr(line, "ccitt"));
	/* the images themselves: -png gives lossless copies of what the PDF decodes to */
	/* the images themselves: JPEG streams as they are (-j), the CCITT one decoded to PNG */
	snprintf(cmd, sizeof cmd, "pdfimages -png -j %s %s 2>&1", at("d.pdf"), at("img"));
	CHECK_EQ_INT(system(cmd), 0);
	{
		int maxd;
		double mean = jpeg_compare(at("img-000.jpg"), &ss[0], rows[0], 0, &maxd);
		CHECK(mean >= 0 && mean <= 2.5 && maxd <= 40);
		/* 1-bit grey, 0 = black: exactly the page (pdfimages writes no resolution) */
		CHECK_EQ_INT(png_compare(at("img-001.png"), &ss[1], rows[1], 1, false), 0);
		mean = jpeg_compare(at("img-002.jpg"), &ss[2], rows[2], 2, &maxd);
		CHECK(mean >= 0 && mean <= 1.5 && maxd <= 20);
		CHECK_EQ_INT(png_compare(at("img-003.png"), &ss[3], rows[3], 3, false), 0);
	}
	dir_clean();
}

/* A page shorter than announced fails with the scanner's line count; finish then fails and
 * leaves nothing behind, in every format. */
static void test_short_page(void)
{
	for (int f = LB_PAGE_PNG; f <= LB_PAGE_PDF; f++) {
		lb_error err = {0};
		lb_page_shape s = shape(20, 40, 3, 8, 0);
		lb_pagefile *pf = lb_pagefile_new(at("short"), (lb_page_format)f, 0, &err);
		CHECK(pf != NULL);
		CHECK_EQ_INT(dir_entries(), 1); /* .short.part */
		CHECK_EQ_INT(write_page(pf, &s, 0, 3, &err), LB_EFAIL);
		CHECK_EQ_INT(err.code, LB_ERR_DEVICE);
		CHECK_STR(err.message, "page 1 ended after 3 of 40 lines");
		CHECK(lb_pagefile_finish(&pf, &err) < 0);
		CHECK(pf == NULL);
		CHECK_EQ_INT(dir_entries(), 0);
	}
}

/* More rows than announced, an empty page, bad shapes, finishing with no page or a page open,
 * a missing directory: clear errors, no file left. */
static void test_refusals(void)
{
	lb_error err = {0};
	lb_page_shape s = shape(8, 2, 1, 8, 0), bad;
	uint8_t rows[3 * 32] = {0};
	lb_pagefile *pf;

	pf = lb_pagefile_new(at("r.tif"), LB_PAGE_TIFF, 0, &err);
	CHECK_EQ_INT(lb_pagefile_begin_page(pf, &s, &err), 0);
	CHECK(lb_pagefile_write_rows(pf, rows, 3, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_DEVICE);
	CHECK_CONTAINS(err.message, "more than the 2 lines announced");
	CHECK(lb_pagefile_finish(&pf, &err) < 0);
	CHECK_EQ_INT(dir_entries(), 0);

	pf = lb_pagefile_new(at("e.png"), LB_PAGE_PNG, 0, &err);
	bad = shape(8, -1, 1, 8, 0);
	CHECK_EQ_INT(lb_pagefile_begin_page(pf, &bad, &err), 0);
	CHECK(lb_pagefile_end_page(pf, &err) < 0);
	CHECK_STR(err.message, "page 1 ended without a line");
	lb_pagefile_destroy(&pf);
	CHECK(pf == NULL);
	lb_pagefile_destroy(&pf); /* NULL accepted */
	CHECK_EQ_INT(dir_entries(), 0);

	pf = lb_pagefile_new(at("b.pdf"), LB_PAGE_PDF, 0, &err);
	bad = shape(8, 2, 2, 8, 0);
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	bad = shape(8, 2, 1, 12, 0);
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	bad = shape(0, 2, 1, 8, 0);
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	bad = shape(8, 0, 1, 8, 0);
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	bad = shape(8, 2, 3, 16, 0);
	bad.bytes_per_line = 47; /* 48 needed */
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	CHECK_CONTAINS(err.message, "47 bytes per line");
	bad = shape(8, 2, 1, 8, 0);
	bad.xdpi = 0.0 / 0.0;
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	CHECK(lb_pagefile_finish(&pf, &err) < 0); /* no page */
	CHECK_STR(err.message, "no page was scanned");
	CHECK_EQ_INT(dir_entries(), 0);

	pf = lb_pagefile_new(at("o.tif"), LB_PAGE_TIFF, 0, &err);
	CHECK_EQ_INT(write_page(pf, &s, 0, 2, &err), 0);
	CHECK_EQ_INT(lb_pagefile_begin_page(pf, &s, &err), 0);
	CHECK(lb_pagefile_finish(&pf, &err) < 0); /* page 2 still open */
	CHECK_STR(err.message, "page 2 is still open");
	CHECK_EQ_INT(dir_entries(), 0);

	/* PDF's page size limits: 3 to 14400 points */
	pf = lb_pagefile_new(at("g.pdf"), LB_PAGE_PDF, 0, &err);
	CHECK(lb_pagefile_begin_page(pf, &s, &err) < 0); /* 2 lines at 300 dpi: 0.48 pt */
	CHECK_CONTAINS(err.message, "a pdf page measures");
	bad = shape(8, -1, 1, 8, 0);
	bad.xdpi = 0.01; /* 8 px: 57600 pt wide */
	CHECK(lb_pagefile_begin_page(pf, &bad, &err) < 0);
	CHECK_CONTAINS(err.message, "a pdf page measures");
	lb_pagefile_destroy(&pf);

	/* a page in progress, then destroy: nothing left (PDF keeps earlier pages in temp files) */
	s = shape(32, 32, 1, 8, 0);
	pf = lb_pagefile_new(at("g.pdf"), LB_PAGE_PDF, 0, &err);
	CHECK_EQ_INT(write_page(pf, &s, 0, 32, &err), 0);
	CHECK_EQ_INT(lb_pagefile_begin_page(pf, &s, &err), 0);
	CHECK_EQ_INT(lb_pagefile_write_rows(pf, rows, 1, &err), 0);
	lb_pagefile_destroy(&pf);
	CHECK_EQ_INT(dir_entries(), 0);

	pf = lb_pagefile_new(at("nodir/x.png"), LB_PAGE_PNG, 0, &err);
	CHECK(pf == NULL);
	CHECK_EQ_INT(err.code, LB_ERR_INTERNAL);
	CHECK_CONTAINS(err.message, "nodir/.x.png.part: No such file or directory");
	CHECK(lb_pagefile_new(at("q.jpg"), LB_PAGE_JPEG, 101, &err) == NULL);
	CHECK_EQ_INT(dir_entries(), 0);
}

/* A failing disk (the temporary file's directory removed under a PDF being written: its page
 * images go to unnamed files, so make the final write fail instead): finish fails, says why. */
static void test_write_failure(void)
{
	lb_error err = {0};
	lb_page_shape s = shape(64, 64, 3, 8, 0);
	char sub[300];
	lb_pagefile *pf;

	snprintf(sub, sizeof sub, "%s/sub", dir);
	CHECK_EQ_INT(mkdir(sub, 0700), 0);
	snprintf(sub, sizeof sub, "%s/sub/w.pdf", dir);
	pf = lb_pagefile_new(sub, LB_PAGE_PDF, 0, &err);
	CHECK(pf != NULL);
	CHECK_EQ_INT(write_page(pf, &s, 0, 64, &err), 0);
	snprintf(sub, sizeof sub, "%s/sub/.w.pdf.part", dir);
	CHECK_EQ_INT(unlink(sub), 0);
	snprintf(sub, sizeof sub, "%s/sub", dir);
	CHECK_EQ_INT(rmdir(sub), 0);
	CHECK(lb_pagefile_finish(&pf, &err) < 0);
	CHECK_CONTAINS(err.message, "w.pdf.part");
	CHECK_EQ_INT(dir_entries(), 0);
}

int main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_pagefile.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_names);
	RUN(test_png);
	RUN(test_jpeg);
	RUN(test_single_page_formats);
	RUN(test_tiff_multipage);
	RUN(test_pdf);
	RUN(test_short_page);
	RUN(test_refusals);
	RUN(test_write_failure);
	dir_clean();
	rmdir(dir);
	return check_summary();
}
