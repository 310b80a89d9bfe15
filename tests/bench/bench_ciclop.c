/* bench_ciclop.c - 3D-scanner laser-line detection speed at 1280x960 (frames/s, one core), vs
 * memcpy. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../drivers/ciclop/recon.c"
#include "../../drivers/ciclop/render.c"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	enum { W = 1280, H = 960, FRAMES = 300 };
	ciclop_scene sc = {0};
	double eye[3] = {0, 60, -290}, target[3] = {0, 45, 0};
	double la = 30 * M_PI / 180, L[3] = {290 * sin(la), 60, -290 * cos(la)};
	double nl = hypot(L[2], L[0]);
	ciclop_detect_opts o = {.threshold = 20, .half_window = 8, .floor = 0.3};
	ciclop_roi roi = {.radius = 90, .ymin = 1, .ymax = 200};
	ciclop_plane pl;
	uint8_t *on = malloc(W * H), *off = malloc(W * H), *copy = malloc(2 * W * H);
	float *cols = malloc(H * sizeof *cols);
	ciclop_point *pts = malloc(H * sizeof *pts);
	double t0, t_render, t_det, t_pts, t_cpy, sum = 0;
	size_t npts = 0;
	long rows = 0;

	if (!on || !off || !copy || !cols || !pts)
		return 1;
	sc.cam.width = W, sc.cam.height = H, sc.cam.fx = sc.cam.fy = 1430;
	sc.cam.cx = 639.5, sc.cam.cy = 479.5;
	ciclop_camera_lookat(&sc.cam, eye, target);
	memcpy(sc.laser_pos, L, sizeof L);
	sc.laser_n[0] = L[2] / nl, sc.laser_n[2] = -L[0] / nl;
	sc.laser_sigma = 0.4, sc.laser_peak = 110;
	sc.shapes[0] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_CYLINDER, .x = 10, .z = 5, .r = 35, .h = 90};
	sc.table_r = 100;
	sc.noise_seed = 12345;
	ciclop_plane_from_table(&sc.cam, sc.laser_n, sc.laser_d, &pl);

	t0 = now_s();
	ciclop_render(&sc, 0.3, on, off);
	t_render = now_s() - t0;

	t0 = now_s();
	for (int f = 0; f < FRAMES; f++) {
		on[(f * 7919) % (W * H)] ^= 1; /* a slightly different frame each time */
		rows += ciclop_detect(on, off, W, H, W, &o, cols);
		sum += cols[H / 2];
	}
	t_det = now_s() - t0;

	t0 = now_s();
	for (int f = 0; f < FRAMES; f++) {
		rows += ciclop_detect(on, off, W, H, W, &o, cols);
		npts += ciclop_points(&sc.cam, &pl, f * 0.01, cols, off, 1, &roi, pts, H);
	}
	t_pts = now_s() - t0;

	t0 = now_s();
	for (int f = 0; f < FRAMES; f++) {
		memcpy(copy, on, W * H);
		memcpy(copy + W * H, off, W * H);
		copy[f] ^= 1;
	}
	t_cpy = now_s() - t0;
	sum += copy[W * H / 2];

	printf("{\"bench\":\"ciclop_detect\",\"width\":%d,\"height\":%d,\"frames\":%d,"
	       "\"detect_fps\":%.1f,\"detect_triangulate_fps\":%.1f,\"memcpy_pairs_per_s\":%.1f,"
	       "\"render_ms\":%.1f,\"rows_per_frame\":%.1f,\"points_per_frame\":%.1f,"
	       "\"target_fps\":30,\"met\":%s,\"checksum\":%.1f}\n",
	       W, H, FRAMES, FRAMES / t_det, FRAMES / t_pts, FRAMES / (t_cpy > 0 ? t_cpy : 1e-9),
	       t_render * 1e3, rows / (2.0 * FRAMES), (double)npts / FRAMES,
	       FRAMES / t_det >= 30 ? "true" : "false", sum);
	free(on), free(off), free(copy), free(cols), free(pts);
	return rows > 0 ? 0 : 1;
}
