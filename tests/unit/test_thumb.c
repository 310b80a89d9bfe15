/* test_thumb.c - the toolpath codec with known lines, and thumbnails of G-code files read back
 * with libpng: size, colour where the object is, errors, junk, a real PrusaSlicer cube. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <png.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../bridge/services/print/profile.h"
#include "../../bridge/services/print/thumb.h"
#include "../../protocols/toolpath.h"
#include "check.h"
#include "stl_box.h"

extern char **environ;

static char root[] = "/tmp/lbtest-thumb-XXXXXX";

/* Feed one NUL-terminated line; returns toolpath_line's answer. */
static int feed(toolpath *t, const char *line, toolpath_seg *s)
{
	return toolpath_line(t, line, strlen(line), s);
}

static void test_moves(void)
{
	toolpath t;
	toolpath_seg s;

	toolpath_init(&t);
	CHECK_EQ_INT(feed(&t, "G90", &s), 0);
	CHECK_EQ_INT(feed(&t, "M82 ; absolute E", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1 X10 Y0 E1 F1200", &s), 1);
	CHECK(s.x0 == 0 && s.y0 == 0 && s.x1 == 10 && s.y1 == 0 && s.z1 == 0);
	CHECK_EQ_INT(s.extruding, 1);
	CHECK_EQ_INT(feed(&t, "G1 X10 Y10 E1", &s), 1); /* E unchanged: a travel */
	CHECK_EQ_INT(s.extruding, 0);
	CHECK_EQ_INT(feed(&t, "G1 X0 E0.5", &s), 1); /* E went back: a retraction, not drawn */
	CHECK_EQ_INT(s.extruding, 0);
	CHECK_EQ_INT(feed(&t, "G92 E0", &s), 0);
	CHECK(t.e == 0 && t.x == 0 && t.y == 10);
	CHECK_EQ_INT(feed(&t, "G1 X5 E0.2", &s), 1);
	CHECK_EQ_INT(s.extruding, 1);
	CHECK_EQ_INT(feed(&t, "G1 E3", &s), 0);	     /* extruding in place: no segment */
	CHECK_EQ_INT(feed(&t, "G1 Z0.3 E4", &s), 1); /* no XY move: not extruding */
	CHECK(s.z0 == 0 && s.z1 == 0.3);
	CHECK_EQ_INT(s.extruding, 0);

	/* relative E, relative moves, framing, comments, lower case */
	CHECK_EQ_INT(feed(&t, "M83", &s), 0);
	CHECK_EQ_INT(feed(&t, "N12 G1 X6 E0.1*99", &s), 1);
	CHECK(s.x1 == 6 && s.extruding == 1);
	CHECK_EQ_INT(feed(&t, "g1 x7 e-0.1 (retract) ; comment", &s), 1);
	CHECK(s.x1 == 7 && s.extruding == 0);
	CHECK_EQ_INT(feed(&t, "G1 (X50) Y20 E0.5\r\n", &s), 1);
	CHECK(s.x1 == 7 && s.y1 == 20 && s.extruding == 1);
	CHECK_EQ_INT(feed(&t, "G91", &s), 0);
	CHECK_EQ_INT(feed(&t, "G0 X1 Y-1 Z1", &s), 1);
	CHECK(s.x1 == 8 && s.y1 == 19 && s.z1 == 1.3);
	CHECK_EQ_INT(feed(&t, "G1 X1 E0.3", &s), 1); /* G91 made E relative too */
	CHECK_EQ_INT(s.extruding, 1);
	CHECK_EQ_INT(feed(&t, "G90", &s), 0);
	CHECK_EQ_INT(t.rel_e, 0);
	CHECK_EQ_INT(feed(&t, "; G1 X100 E100", &s), 0);
	CHECK_EQ_INT(feed(&t, "T0", &s), 0);
	CHECK_EQ_INT(feed(&t, "M104 S200 X5", &s), 0);
	CHECK(t.x == 9);

	/* homing: the named axes, or all */
	CHECK_EQ_INT(feed(&t, "G28 X", &s), 1);
	CHECK(t.x == 0 && t.y == 19 && t.z == 1.3);
	CHECK_EQ_INT(feed(&t, "G28", &s), 1);
	CHECK(t.x == 0 && t.y == 0 && t.z == 0 && s.extruding == 0);
	CHECK_EQ_INT(feed(&t, "G28", &s), 0);

	/* arcs as chords; inches */
	CHECK_EQ_INT(feed(&t, "G92 E0", &s), 0);
	CHECK_EQ_INT(feed(&t, "G2 X10 Y10 I5 J5 E1", &s), 1);
	CHECK(s.x1 == 10 && s.y1 == 10 && s.extruding == 1);
	CHECK_EQ_INT(feed(&t, "G20", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1 X1", &s), 1);
	CHECK(s.x1 == 25.4);
	CHECK_EQ_INT(feed(&t, "G21", &s), 0);
	CHECK_EQ_INT(feed(&t, "G92 X0 Y0 Z0", &s), 0);
	CHECK(t.x == 0 && t.y == 0 && t.z == 0);
}

static void test_bounds_and_markers(void)
{
	toolpath t;
	toolpath_seg s;
	char huge[600];

	toolpath_init(&t);
	CHECK_EQ_INT(feed(&t, "G1 X1000000 Y5", &s), 1); /* absurd X ignored, Y kept */
	CHECK(s.x1 == 0 && s.y1 == 5);
	CHECK_EQ_INT(feed(&t, "G1 Xnan Yinf", &s), 0);
	memset(huge, '9', sizeof huge - 1);
	huge[0] = 'G';
	huge[1] = '1';
	huge[2] = 'X';
	huge[sizeof huge - 1] = '\0';
	CHECK_EQ_INT(feed(&t, huge, &s), 0); /* a number too long to be finite */
	CHECK(t.x == 0 && isfinite(t.x));
	CHECK_EQ_INT(feed(&t, "G91", &s), 0);
	for (int i = 0; i < 3; i++)
		feed(&t, "G1 X60000", &s); /* the third would pass 1e5 mm */
	CHECK(t.x == 120000 - 60000);
	CHECK_EQ_INT(feed(&t, "G90", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1.5 X3", &s), 0);
	CHECK_EQ_INT(feed(&t, "G", &s), 0);
	CHECK_EQ_INT(feed(&t, "", &s), 0);
	CHECK_EQ_INT(toolpath_line(&t, NULL, 3, &s), 0);
	CHECK_EQ_INT(toolpath_line(&t, "G1 X1 E1", 8, NULL), 1);

	CHECK_EQ_INT(t.layer, 0);
	CHECK_EQ_INT(feed(&t, ";TYPE:Custom", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1 X2 E2", &s), 1);
	CHECK(s.part == TOOLPATH_PART_CUSTOM && s.layer == 0);
	CHECK_EQ_INT(feed(&t, ";LAYER_CHANGE", &s), 0);
	CHECK_EQ_INT(feed(&t, ";TYPE:Skirt/Brim", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1 X3 E3", &s), 1);
	CHECK(s.part == TOOLPATH_PART_SKIRT && s.layer == 1);
	CHECK_EQ_INT(feed(&t, ";TYPE:External perimeter", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1 X4 E4", &s), 1);
	CHECK(s.part == TOOLPATH_PART_OBJECT);
	CHECK_EQ_INT(feed(&t, ";LAYER:1", &s), 0); /* Cura */
	CHECK_EQ_INT(feed(&t, ";TYPE:SKIRT", &s), 0);
	CHECK_EQ_INT(feed(&t, "G1 X5 E5", &s), 1);
	CHECK(s.part == TOOLPATH_PART_SKIRT && s.layer == 2);
}

/* A picture read back: w x h RGBA rows, or NULL (then *w = -1). */
typedef struct picture {
	int w, h;
	uint8_t *px;
} picture;

/* Read the PNG at path with libpng's simplified API as RGBA. 0, or -1. */
static int picture_read(const char *path, picture *p)
{
	png_image img;

	memset(&img, 0, sizeof img);
	memset(p, 0, sizeof *p);
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path))
		return -1;
	img.format = PNG_FORMAT_RGBA;
	p->w = (int)img.width;
	p->h = (int)img.height;
	p->px = malloc(PNG_IMAGE_SIZE(img));
	if (!p->px || !png_image_finish_read(&img, NULL, p->px, 0, NULL)) {
		png_image_free(&img);
		free(p->px);
		p->px = NULL;
		return -1;
	}
	return 0;
}

/* The pixel at (x, y). */
static const uint8_t *pixel(const picture *p, int x, int y)
{
	return p->px + ((size_t)y * (size_t)p->w + (size_t)x) * 4;
}

/* Whether column x (or row y when x < 0) has a drawn pixel. */
static int line_drawn(const picture *p, int x, int y)
{
	int n = x >= 0 ? p->h : p->w;

	for (int i = 0; i < n; i++)
		if (pixel(p, x >= 0 ? x : i, x >= 0 ? i : y)[3] > 0)
			return 1;
	return 0;
}

/* The first and last drawn columns of p (-1 when none). */
static void drawn_span(const picture *p, int *first, int *last)
{
	*first = *last = -1;
	for (int x = 0; x < p->w; x++)
		if (line_drawn(p, x, 0)) {
			if (*first < 0)
				*first = x;
			*last = x;
		}
}

/* Write a G-code tower: a 10 x 10 mm square around (110, 110), n layers of 1 mm, each with a
 * diagonal of infill, after a purge line at the bed's edge (start G-code) and a skirt. */
static int write_tower(const char *path, int n, const char *prefix)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (prefix)
		fputs(prefix, f);
	fprintf(f, "; generated by test_thumb\nG90\nM83\nG28\nG1 Z0.3 F3000\nG1 X5 Y10\n"
		   "G1 X5 Y200 E10 F1500 ; purge line\nG92 E0\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, ";LAYER_CHANGE\n;Z:%d\nG1 Z%d\n", i + 1, i + 1);
		if (i == 0)
			fprintf(f, ";TYPE:Skirt/Brim\nG1 X95 Y95\nG1 X125 Y95 E1\nG1 X125 Y125 E1\n"
				   "G1 X95 Y125 E1\nG1 X95 Y95 E1\n");
		fprintf(f, ";TYPE:External perimeter\nG1 X105 Y105\nG1 X115 Y105 E0.5\n"
			   "G1 X115 Y115 E0.5\nG1 X105 Y115 E0.5\nG1 X105 Y105 E0.5\n"
			   ";TYPE:Internal infill\nG1 X115 Y115 E0.7\n");
	}
	fprintf(f, ";TYPE:Custom\nG1 Z20\nG1 X0 Y200\nM84\n");
	return fclose(f) == 0 ? 0 : -1;
}

/* Mean brightness (r + g + b) of the drawn pixels in rows [y0, y1), or -1 when none. */
static double row_brightness(const picture *p, int y0, int y1)
{
	double sum = 0;
	long n = 0;

	for (int y = y0; y < y1; y++)
		for (int x = 0; x < p->w; x++) {
			const uint8_t *q = pixel(p, x, y);
			if (q[3] < 255)
				continue;
			sum += q[0] + q[1] + q[2];
			n++;
		}
	return n ? sum / (double)n : -1;
}

/* Check a picture of one object centred in it: size, orange where the object is, nothing in the
 * corners, the object across at least min_share of the width. */
static void check_object_picture(const char *png, int w, int h, double min_share)
{
	picture p;
	int first, last, orange = 0, drawn = 0;

	if (!CHECK(picture_read(png, &p) == 0))
		return;
	CHECK_EQ_INT(p.w, w);
	CHECK_EQ_INT(p.h, h);
	CHECK(line_drawn(&p, w / 2, 0));
	CHECK_EQ_INT(pixel(&p, 0, 0)[3], 0);
	CHECK_EQ_INT(pixel(&p, w - 1, 0)[3], 0);
	CHECK_EQ_INT(pixel(&p, 0, h - 1)[3], 0);
	CHECK_EQ_INT(pixel(&p, w - 1, h - 1)[3], 0);
	CHECK(!line_drawn(&p, 0, 0) && !line_drawn(&p, w - 1, 0)); /* the margins */
	CHECK(!line_drawn(&p, -1, 0) && !line_drawn(&p, -1, h - 1));
	drawn_span(&p, &first, &last);
	CHECK_MSG(last - first + 1 >= (int)(min_share * w), "the object is drawn too small");
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			const uint8_t *q = pixel(&p, x, y);
			if (!q[3])
				continue;
			drawn++;
			orange += q[0] > q[1] && q[1] > q[2];
		}
	CHECK(drawn > w * h / 20);
	CHECK_EQ_INT(orange, drawn);
	/* lower layers darker: the bottom quarter of the drawing darker than the top quarter */
	{
		int top = -1, bottom = -1;
		for (int y = 0; y < h; y++)
			if (line_drawn(&p, -1, y)) {
				top = top < 0 ? y : top;
				bottom = y;
			}
		if (CHECK(top >= 0 && bottom - top > 8)) {
			int q = (bottom - top) / 4;
			CHECK(row_brightness(&p, bottom - q, bottom + 1) <
			      row_brightness(&p, top, top + q));
		}
	}
	free(p.px);
}

static void test_tower(void)
{
	char gc[PATH_MAX], png[PATH_MAX];
	lb_error err = {0};

	snprintf(gc, sizeof gc, "%s/tower.gcode", root);
	snprintf(png, sizeof png, "%s/tower.png", root);
	CHECK_EQ_INT(write_tower(gc, 10, NULL), 0);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 220, 124, &err), 0);
	/* the purge line and the skirt are left out: the tower fills the picture's height */
	check_object_picture(png, 220, 124, 0.35);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 64, 64, &err), 0);
	check_object_picture(png, 64, 64, 0.6);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 1, 1, &err), 0);
	CHECK_EQ_INT(access(png, R_OK), 0);
	unlink(gc);
	unlink(png);
}

static void test_errors(void)
{
	char gc[PATH_MAX], png[PATH_MAX], bad[PATH_MAX + 16];
	lb_error err = {0};
	FILE *f;
	picture p;

	snprintf(gc, sizeof gc, "%s/travel.gcode", root);
	snprintf(png, sizeof png, "%s/travel.png", root);
	f = fopen(gc, "w");
	if (!CHECK(f))
		return;
	fputs("; only travel\nG28\nG1 X10 Y10 Z5\nG1 E5\nM104 S200\nG1 X20 E4\n", f);
	fclose(f);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 220, 124, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_CONTAINS(err.message, "no extruding move");
	CHECK(access(png, F_OK) != 0);

	/* a failed render leaves an older picture as it was; a good one replaces it */
	f = fopen(png, "w");
	if (CHECK(f)) {
		fputs("old", f);
		fclose(f);
	}
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 220, 124, &err), LB_EFAIL);
	CHECK(picture_read(png, &p) != 0);
	CHECK_EQ_INT(write_tower(gc, 3, NULL), 0);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 50, 40, &err), 0);
	if (CHECK(picture_read(png, &p) == 0)) {
		CHECK(p.w == 50 && p.h == 40);
		free(p.px);
	}

	memset(&err, 0, sizeof err);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 0, 124, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 220, LB_THUMB_MAX + 1, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	snprintf(bad, sizeof bad, "%s/nonexistent.gcode", root);
	CHECK_EQ_INT(lb_gcode_thumbnail(bad, png, 220, 124, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INTERNAL);
	CHECK_CONTAINS(err.message, "nonexistent.gcode");
	snprintf(bad, sizeof bad, "%s/no/such/dir.png", root);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, bad, 220, 124, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INTERNAL);
	CHECK_EQ_INT(lb_gcode_thumbnail(root, png, 220, 124, &err), LB_EFAIL); /* a folder */
	CHECK_EQ_INT(err.code, LB_ERR_INTERNAL);
	unlink(gc);
	unlink(png);
}

static void test_junk(void)
{
	char gc[PATH_MAX], png[PATH_MAX];
	lb_error err = {0};
	char *longline = malloc(65536 + 2);
	uint32_t seed = 12345;
	FILE *f;
	int rc;

	if (!CHECK(longline))
		return;
	snprintf(gc, sizeof gc, "%s/junk.gcode", root);
	snprintf(png, sizeof png, "%s/junk.png", root);

	/* a 64 KiB line of moves, then a tower, then the object's moves on a 5000-byte line and a
	 * 64 KiB one (which, if read, would stretch the picture to (1, 9)): the tower drawn alone
	 */
	memcpy(longline, "G1 X0 Y0 E1", 11);
	for (int i = 11; i < 65536; i++)
		longline[i] = "X1 Y9 E5 "[i % 9];
	longline[65536] = '\n';
	longline[65537] = '\0';
	f = fopen(gc, "w");
	if (CHECK(f)) {
		fputs(longline, f);
		fclose(f);
	}
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 64, 64, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_EQ_INT(write_tower(gc, 10, longline), 0);
	f = fopen(gc, "a");
	if (CHECK(f)) {
		fprintf(f, ";TYPE:Perimeter\nG1 X0 Y200\n%.5000s\n%s", longline, longline);
		fclose(f);
	}
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 220, 124, &err), 0);
	check_object_picture(png, 220, 124, 0.35);

	/* binary junk (a fixed pseudo-random sequence, with NULs and line ends): a picture or the
	 * clear error, nothing else */
	for (int round = 0; round < 4; round++) {
		f = fopen(gc, "w");
		if (!CHECK(f))
			break;
		for (int i = 0; i < 300000; i++) {
			seed = seed * 1103515245u + 12345u;
			fputc(round & 1 ? "G1XYZE0123456789.- \n;"[(seed >> 16) % 21]
					: (int)((seed >> 16) & 0xff),
			      f);
		}
		fclose(f);
		memset(&err, 0, sizeof err);
		rc = lb_gcode_thumbnail(gc, png, 220, 124, &err);
		CHECK(rc == 0 || (rc == LB_EFAIL && err.code == LB_ERR_INVALID_PARAMS));
	}
	free(longline);
	unlink(gc);
	unlink(png);
}

/* Run argv to its end: its exit status, or -1 when it cannot start or dies of a signal. */
static int run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return -1;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The real slicer's G-code for a 20 mm cube (the bridge's INI: generic-220, normal), drawn. */
static void test_prusa_slicer_cube(void)
{
	char model[PATH_MAX], ini[PATH_MAX], gc[PATH_MAX], png[PATH_MAX], png64[PATH_MAX];
	lb_error err = {0};

	if (access("/usr/bin/prusa-slicer", X_OK) != 0) {
		CHECK_MSG(0, "prusa-slicer is not installed (Debian: apt-get install prusa-slicer; "
			     "make test-deps)");
		return;
	}
	snprintf(model, sizeof model, "%s/cube20.stl", root);
	snprintf(ini, sizeof ini, "%s/profile.ini", root);
	snprintf(gc, sizeof gc, "%s/cube20.gcode", root);
	snprintf(png, sizeof png, "%s/cube20.png", root);
	snprintf(png64, sizeof png64, "%s/cube20-64.png", root);
	CHECK_EQ_INT(stl_write_box(model, 20, 20, 20), 0);
	CHECK_EQ_INT(lb_profile_write_ini(lb_printer_profile_find("generic-220"),
					  lb_preset_find("normal"), ini, &err),
		     0);
	{
		char *argv[] = {
		    "prusa-slicer", "--export-gcode", "--load", ini, "--output", gc, model, NULL};
		if (!CHECK_MSG(run(argv) == 0, "prusa-slicer failed on the cube"))
			return;
	}
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png, 220, 124, &err), 0);
	check_object_picture(png, 220, 124, 0.3);
	CHECK_EQ_INT(lb_gcode_thumbnail(gc, png64, 64, 64, &err), 0);
	check_object_picture(png64, 64, 64, 0.6);
	if (getenv("THUMB_KEEP"))
		printf("pictures kept: %s %s\n", png, png64);
	else {
		unlink(png);
		unlink(png64);
	}
	unlink(model);
	unlink(ini);
	unlink(gc);
}

int main(void)
{
	if (!mkdtemp(root)) {
		fprintf(stderr, "cannot make %s\n", root);
		return 1;
	}
	RUN(test_moves);
	RUN(test_bounds_and_markers);
	RUN(test_tower);
	RUN(test_errors);
	RUN(test_junk);
	RUN(test_prusa_slicer_cube);
	if (!getenv("THUMB_KEEP"))
		rmdir(root);
	return check_summary();
}
