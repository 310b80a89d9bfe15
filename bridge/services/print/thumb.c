/* thumb.c - a picture of a sliced model: its G-code's extruding moves, drawn and written as a PNG.
 */
#include "thumb.h"

#include "../../../protocols/toolpath.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TH_LINE_MAX 4096  /* longer lines are skipped (no G-code command is that long) */
#define TH_READ_BUF 65536 /* bytes read at once */
#define TH_SS 2		  /* supersampling: drawn at twice the size, then averaged */
#define TH_AZIMUTH 35.0	  /* degrees: the eye turned from the front towards the left */
#define TH_ELEVATION 30.0 /* degrees: the eye above the bed */
#define TH_MARGIN 0.04	  /* of the picture's size, on each side */
#define TH_R 0xf2	  /* filament orange #f28c28 */
#define TH_G 0x8c
#define TH_B 0x28

/* Reads a file's lines through a fixed buffer; lines longer than TH_LINE_MAX are skipped. */
typedef struct th_reader {
	FILE *f;
	char *buf; /* TH_READ_BUF + TH_LINE_MAX bytes */
	size_t start, end;
	int skipping; /* inside a line too long to keep */
	int eof, error;
} th_reader;

/*
 * The next line (without '\n'): 1 with *line and *len, 0 at the end of the file or on a read
 * error (then r->error is set). A last line without '\n' is returned too.
 */
static int th_next(th_reader *r, const char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		size_t n;

		if (nl) {
			size_t s = r->start, l = (size_t)(nl - (r->buf + s));
			r->start += l + 1;
			if (r->skipping || l > TH_LINE_MAX) {
				r->skipping = 0;
				continue;
			}
			*line = r->buf + s;
			*len = l;
			return 1;
		}
		if (r->end - r->start > TH_LINE_MAX) { /* too long: drop it up to its '\n' */
			r->skipping = 1;
			r->start = r->end;
		}
		if (r->eof) {
			if (r->start < r->end && !r->skipping) {
				*line = r->buf + r->start;
				*len = r->end - r->start;
				r->start = r->end;
				return 1;
			}
			return 0;
		}
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
		n = fread(r->buf + r->end, 1, TH_READ_BUF, r->f);
		r->end += n;
		if (n < TH_READ_BUF) {
			r->eof = 1;
			if (ferror(r->f)) {
				r->error = 1;
				return 0;
			}
		}
	}
}

/* The canvas: colours and depths at TH_SS times the picture's size, and the view. */
typedef struct th_canvas {
	int w, h;      /* supersampled size */
	uint8_t *rgba; /* w * h * 4, alpha 0 = nothing drawn */
	float *depth;  /* w * h, larger = farther */
	double ca, sa, ce, se;
	double scale, u0, v0; /* screen = (u - u0) * scale + w / 2, h / 2 - (v - v0) * scale */
	double zmin, zmax;
} th_canvas;

/* The bounding box of the moves drawn. */
typedef struct th_box {
	double lo[3], hi[3];
	long n;
} th_box;

/* Extend box b by the segment's two ends. */
static void th_box_add(th_box *b, const toolpath_seg *s)
{
	double p[2][3] = {{s->x0, s->y0, s->z0}, {s->x1, s->y1, s->z1}};

	for (int k = 0; k < 2; k++)
		for (int i = 0; i < 3; i++) {
			if (b->n == 0 || p[k][i] < b->lo[i])
				b->lo[i] = p[k][i];
			if (b->n == 0 || p[k][i] > b->hi[i])
				b->hi[i] = p[k][i];
		}
	b->n++;
}

/* Whether segment s is drawn: extruding and, when the file is filtered, part of the object. */
static int th_wanted(const toolpath_seg *s, int filtered)
{
	return s->extruding && (!filtered || (s->part == TOOLPATH_PART_OBJECT && s->layer > 0));
}

/* Project (x, y, z) to the view: *u right, *v up, *d away from the eye. */
static void th_project(const th_canvas *c, double x, double y, double z, double *u, double *v,
		       double *d)
{
	double far = x * c->sa + y * c->ca;

	*u = x * c->ca - y * c->sa;
	*v = z * c->ce + far * c->se;
	*d = far * c->ce - z * c->se;
}

/* Fit the view to box b: every corner inside the picture, less its margins. */
static void th_fit(th_canvas *c, const th_box *b)
{
	double ulo = 0, uhi = 0, vlo = 0, vhi = 0, du, dv, sx, sy;

	c->ca = cos(TH_AZIMUTH * M_PI / 180);
	c->sa = sin(TH_AZIMUTH * M_PI / 180);
	c->ce = cos(TH_ELEVATION * M_PI / 180);
	c->se = sin(TH_ELEVATION * M_PI / 180);
	for (int k = 0; k < 8; k++) {
		double u, v, d;
		th_project(c, (k & 1) ? b->hi[0] : b->lo[0], (k & 2) ? b->hi[1] : b->lo[1],
			   (k & 4) ? b->hi[2] : b->lo[2], &u, &v, &d);
		ulo = k == 0 || u < ulo ? u : ulo;
		uhi = k == 0 || u > uhi ? u : uhi;
		vlo = k == 0 || v < vlo ? v : vlo;
		vhi = k == 0 || v > vhi ? v : vhi;
	}
	du = fmax(uhi - ulo, 1.0); /* a single dot or line: at most 1 mm across the picture */
	dv = fmax(vhi - vlo, 1.0);
	sx = c->w * (1 - 2 * TH_MARGIN) / du;
	sy = c->h * (1 - 2 * TH_MARGIN) / dv;
	c->scale = fmin(sx, sy);
	c->u0 = (ulo + uhi) / 2;
	c->v0 = (vlo + vhi) / 2;
	c->zmin = b->lo[2];
	c->zmax = b->hi[2];
}

/* Plot a TH_SS x TH_SS dot at (x, y) of depth d in colour rgb, where nothing nearer is. */
static void th_plot(th_canvas *c, int x, int y, float d, const uint8_t rgb[3])
{
	for (int j = 0; j < TH_SS; j++)
		for (int i = 0; i < TH_SS; i++) {
			int px = x + i, py = y + j;
			size_t k;
			if (px < 0 || py < 0 || px >= c->w || py >= c->h)
				continue;
			k = (size_t)py * (size_t)c->w + (size_t)px;
			if (c->rgba[k * 4 + 3] && d > c->depth[k])
				continue;
			c->depth[k] = d;
			memcpy(c->rgba + k * 4, rgb, 3);
			c->rgba[k * 4 + 3] = 255;
		}
}

/* Draw segment s (Bresenham, depth interpolated), coloured by its height and direction. */
static void th_draw(th_canvas *c, const toolpath_seg *s)
{
	double u0, v0, d0, u1, v1, d1, t, dx = s->x1 - s->x0, dy = s->y1 - s->y0, len, shade;
	long x0, y0, x1, y1, ax, ay, sx, sy, err, n, i;
	uint8_t rgb[3];

	th_project(c, s->x0, s->y0, s->z0, &u0, &v0, &d0);
	th_project(c, s->x1, s->y1, s->z1, &u1, &v1, &d1);
	x0 = lround((u0 - c->u0) * c->scale + c->w / 2.0 - TH_SS / 2.0);
	y0 = lround(c->h / 2.0 - (v0 - c->v0) * c->scale - TH_SS / 2.0);
	x1 = lround((u1 - c->u0) * c->scale + c->w / 2.0 - TH_SS / 2.0);
	y1 = lround(c->h / 2.0 - (v1 - c->v0) * c->scale - TH_SS / 2.0);
	t = c->zmax > c->zmin ? ((s->z0 + s->z1) / 2 - c->zmin) / (c->zmax - c->zmin) : 1;
	t = fmin(fmax(t, 0), 1);
	len = sqrt(dx * dx + dy * dy);
	/* lower layers darker; walls along Y (the left side, lit) lighter than along X (front) */
	shade = (0.45 + 0.55 * t) * (0.82 + 0.18 * (len > 0 ? fabs(dy) / len : 0));
	rgb[0] = (uint8_t)lround(TH_R * shade);
	rgb[1] = (uint8_t)lround(TH_G * shade);
	rgb[2] = (uint8_t)lround(TH_B * shade);
	ax = labs(x1 - x0);
	ay = labs(y1 - y0);
	sx = x0 < x1 ? 1 : -1;
	sy = y0 < y1 ? 1 : -1;
	n = ax > ay ? ax : ay;
	err = ax - ay;
	for (i = 0;; i++) {
		float d = (float)(n ? d0 + (d1 - d0) * (double)i / (double)n : d0);
		long e2 = 2 * err;
		th_plot(c, (int)x0, (int)y0, d, rgb);
		if ((x0 == x1 && y0 == y1) || i > n)
			break;
		if (e2 > -ay) {
			err -= ay;
			x0 += sx;
		}
		if (e2 < ax) {
			err += ax;
			y0 += sy;
		}
	}
}

/*
 * One pass over the file: with c NULL, the boxes of every extruding move (all) and of the
 * object's (obj: not skirt nor custom G-code, after a layer marker); else draw what th_wanted
 * keeps. Returns 0, or LB_EFAIL with err on an I/O error.
 */
static int th_pass(const char *path, char *buf, th_box *all, th_box *obj, th_canvas *c,
		   int filtered, lb_error *err)
{
	th_reader r = {.buf = buf};
	toolpath tp;
	toolpath_seg s;
	const char *line;
	size_t len;
	int rc = 0;

	r.f = fopen(path, "rb");
	if (!r.f)
		return lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s: %s", path,
				    strerror(errno));
	toolpath_init(&tp);
	while (th_next(&r, &line, &len)) {
		if (!toolpath_line(&tp, line, len, &s) || !s.extruding)
			continue;
		if (c) {
			if (th_wanted(&s, filtered))
				th_draw(c, &s);
			continue;
		}
		th_box_add(all, &s);
		if (th_wanted(&s, 1))
			th_box_add(obj, &s);
	}
	if (r.error)
		rc = lb_error_set(err, LB_ERR_INTERNAL, "cannot read %s", path);
	fclose(r.f);
	return rc;
}

/*
 * The canvas averaged down to w x h straight-alpha RGBA rows in out (w * h * 4): each pixel the
 * mean colour of the drawn samples it covers, its alpha the share of them drawn.
 */
static void th_downsample(const th_canvas *c, int w, int h, uint8_t *out)
{
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			unsigned sum[3] = {0, 0, 0}, n = 0;
			uint8_t *o = out + ((size_t)y * (size_t)w + (size_t)x) * 4;
			for (int j = 0; j < TH_SS; j++)
				for (int i = 0; i < TH_SS; i++) {
					const uint8_t *p =
					    c->rgba + (((size_t)(y * TH_SS + j) * (size_t)c->w) +
						       (size_t)(x * TH_SS + i)) *
							  4;
					if (!p[3])
						continue;
					for (int k = 0; k < 3; k++)
						sum[k] += p[k];
					n++;
				}
			for (int k = 0; k < 3; k++)
				o[k] = (uint8_t)(n ? sum[k] / n : 0);
			o[3] = (uint8_t)(n * 255 / (TH_SS * TH_SS));
		}
}

/* Write w x h RGBA pixels as a PNG to f: 0, or -1 when libpng fails. */
static int th_png_write(FILE *f, int w, int h, const uint8_t *px)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png ? png_create_info_struct(png) : NULL;

	if (!info) {
		png_destroy_write_struct(&png, NULL);
		return -1;
	}
	if (setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, &info);
		return -1;
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGBA,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, (png_const_bytep)(px + (size_t)y * (size_t)w * 4));
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

/* Write the picture to path through path.XXXXXX and a rename: 0, or LB_EFAIL with err. */
static int th_save(const char *path, int w, int h, const uint8_t *px, lb_error *err)
{
	size_t n = strlen(path);
	char *tmp = malloc(n + 8);
	FILE *f = NULL;
	int fd, rc = LB_EFAIL;

	if (!tmp)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	memcpy(tmp, path, n);
	memcpy(tmp + n, ".XXXXXX", 8);
	fd = mkstemp(tmp);
	if (fd < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	f = fdopen(fd, "wb");
	if (!f) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	if (th_png_write(f, w, h, px) != 0 || fflush(f) != 0 || ferror(f)) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s", path);
		fclose(f);
		unlink(tmp);
		goto out;
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

/* Promises the picture or the error documented in thumb.h. */
int lb_gcode_thumbnail(const char *gcode, const char *png, int w, int h, lb_error *err)
{
	th_canvas c = {0};
	th_box all = {0}, obj = {0};
	char *buf = NULL;
	uint8_t *out = NULL;
	size_t n;
	int rc = LB_EFAIL, filtered;

	if (!gcode || !png || w < 1 || h < 1 || w > LB_THUMB_MAX || h > LB_THUMB_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "a thumbnail is 1 to %d pixels wide and high", LB_THUMB_MAX);
	buf = malloc(TH_READ_BUF + TH_LINE_MAX + 1);
	if (!buf)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (th_pass(gcode, buf, &all, &obj, NULL, 0, err) != 0)
		goto out;
	if (all.n == 0) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s has no extruding move to draw", gcode);
		goto out;
	}
	filtered = obj.n > 0;
	c.w = w * TH_SS;
	c.h = h * TH_SS;
	n = (size_t)c.w * (size_t)c.h;
	c.rgba = calloc(n, 4);
	c.depth = calloc(n, sizeof *c.depth);
	out = malloc((size_t)w * (size_t)h * 4);
	if (!c.rgba || !c.depth || !out) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto out;
	}
	th_fit(&c, filtered ? &obj : &all);
	if (th_pass(gcode, buf, NULL, NULL, &c, filtered, err) != 0)
		goto out;
	th_downsample(&c, w, h, out);
	rc = th_save(png, w, h, out, err);
out:
	free(c.rgba);
	free(c.depth);
	free(out);
	free(buf);
	return rc;
}
