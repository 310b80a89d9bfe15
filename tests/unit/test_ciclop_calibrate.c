/* test_ciclop_calibrate.c - the chessboard calibration (OpenCV) from rendered frames, against the
 * renderer's known geometry; a scan with what it computed; frames without the pattern. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/ciclop/calibrate.h"
#include "../../drivers/ciclop/camera.h"
#include "check.h"

#define W 640
#define H 480
#define VIEWS 13 /* -60 .. 60 degrees, every 10 */

static const ciclop_pattern sim_pattern = {CICLOP_SIM_PLATE_COLS, CICLOP_SIM_PLATE_ROWS,
					   CICLOP_SIM_PLATE_SQUARE, CICLOP_SIM_PLATE_ORIGIN};
static const ciclop_detect_opts det = {.threshold = 20, .half_window = 8, .floor = 0.3};

/* The plate's frames, rendered once: laser off and laser on at -60..60 degrees. */
static uint8_t plate_off[VIEWS][W * H], plate_on[VIEWS][W * H];

static void render_plate(void)
{
	ciclop_scene sc;

	ciclop_sim_plate_scene(&sc);
	for (int i = 0; i < VIEWS; i++)
		CHECK_EQ_INT(
		    ciclop_render(&sc, (-60 + 10 * i) * M_PI / 180, plate_on[i], plate_off[i]), 0);
}

/* Feed c views 0..n-1 of the given frames (on NULL: the laser shows nothing), wait for the
 * search (60 s at most); the views where the chessboard was found. */
static int feed(ciclop_calibrator *c, int n, uint8_t (*off)[W * H], uint8_t (*on)[W * H])
{
	lb_error err = {0};
	int found = -1, checked = -1;

	for (int i = 0; i < n; i++) {
		CHECK_EQ_INT(ciclop_calibrator_view(c, i, -60 + 10 * i, off[i], &err), 0);
		CHECK(ciclop_calibrator_laser(c, i, 1, on ? on[i] : off[i], &det, &err) >= 0);
	}
	CHECK_EQ_INT(ciclop_calibrator_wait(c, 60000), 0);
	CHECK_EQ_INT(ciclop_calibrator_status(c, &checked, &found), 0);
	CHECK_EQ_INT(checked, n);
	return found;
}

/* The angle (degrees) between unit vectors a and b, sign ignored. */
static double angle_deg(const double a[3], const double b[3])
{
	double d = fabs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2]);
	return acos(d > 1 ? 1 : d) * 180 / M_PI;
}

/* The table point p (mm) in the camera frame of cam. */
static void to_camera(const ciclop_camera *cam, const double p[3], double out[3])
{
	for (int r = 0; r < 3; r++)
		out[r] = cam->R[3 * r] * p[0] + cam->R[3 * r + 1] * p[1] +
			 cam->R[3 * r + 2] * p[2] + cam->t[r];
}

static void test_calibrate_sim(void)
{
	ciclop_scene sc, fig;
	ciclop_calib truth, got;
	ciclop_calib_report rep;
	lb_error err = {0};
	ciclop_calibrator *c = ciclop_calibrator_new(&sim_pattern, W, H, 1, VIEWS, &err);

	CHECK(c != NULL);
	if (!c)
		return;
	ciclop_sim_plate_scene(&sc);
	memset(&truth, 0, sizeof truth);
	truth.cam = sc.cam;
	truth.nlasers = 1;
	ciclop_plane_from_table(&sc.cam, sc.laser_n, sc.laser_d, &truth.laser[0]);

	render_plate();
	CHECK_EQ_INT(feed(c, VIEWS, plate_off, plate_on), VIEWS);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), 0);
	printf("  %d/%d views, reprojection %.3f px; fx %.2f fy %.2f (715) cx %.2f cy %.2f "
	       "(319.5 239.5); k %.4f %.4f %.4f %.4f %.4f\n",
	       rep.found, rep.views, rep.reproj_px, got.cam.fx, got.cam.fy, got.cam.cx, got.cam.cy,
	       got.cam.k[0], got.cam.k[1], got.cam.k[2], got.cam.k[3], got.cam.k[4]);
	CHECK(rep.reproj_px < 0.5);
	CHECK(fabs(got.cam.fx / truth.cam.fx - 1) < 0.01);
	CHECK(fabs(got.cam.fy / truth.cam.fy - 1) < 0.01);
	CHECK(fabs(got.cam.cx - truth.cam.cx) < 3);
	CHECK(fabs(got.cam.cy - truth.cam.cy) < 3);
	CHECK_EQ_INT(got.cam.width, W);
	CHECK_EQ_INT(got.cam.height, H);

	/* the laser plane: normal within 0.5 degrees, distance within 0.5 mm */
	double na = angle_deg(got.laser[0].n, truth.laser[0].n);
	double sign = got.laser[0].n[0] * truth.laser[0].n[0] +
				  got.laser[0].n[1] * truth.laser[0].n[1] +
				  got.laser[0].n[2] * truth.laser[0].n[2] <
			      0
			  ? -1
			  : 1;
	double dd = fabs(got.laser[0].d - sign * truth.laser[0].d);
	printf(
	    "  laser plane: %d points, RMS %.3f mm; normal off by %.3f deg, distance by %.3f mm\n",
	    rep.laser_points[0], rep.laser_rms_mm[0], na, dd);
	CHECK(na < 0.5);
	CHECK(dd < 0.5);

	/* the turntable: its centre and a point 100 mm up its axis within 1 mm; x axis too */
	double worst = 0;
	for (int k = 0; k < 3; k++) {
		double p[3] = {k == 2 ? 50 : 0, k == 1 ? 100 : 0, 0}, a[3], b[3];
		to_camera(&got.cam, p, a);
		to_camera(&truth.cam, p, b);
		double e = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
				(a[2] - b[2]) * (a[2] - b[2]));
		worst = e > worst ? e : worst;
	}
	printf("  turntable: circle r %.2f mm, RMS %.3f mm; centre, axis at 100 mm, x at 50 mm off "
	       "by %.3f mm at worst\n",
	       rep.table_radius_mm, rep.table_rms_mm, worst);
	CHECK(worst < 1.0);

	/* a scan of the sim lab's figure with the computed calibration */
	ciclop_sim_scene(&fig);
	ciclop_roi roi = {.radius = 95, .ymin = 1, .ymax = 250};
	uint8_t *on = malloc(W * H), *off = malloc(W * H);
	float cols[H];
	ciclop_point pts[H];
	double sq = 0;
	size_t total = 0;
	for (int k = 0; on && off && k < 8; k++) {
		double a = k * 2 * M_PI / 8;
		CHECK_EQ_INT(ciclop_render(&fig, a, on, off), 0);
		ciclop_detect(on, off, W, H, W, &det, cols);
		size_t n = ciclop_points(&got.cam, &got.laser[0], a, cols, off, 1, &roi, pts, H);
		for (size_t i = 0; i < n; i++) {
			double p[3] = {pts[i].x, pts[i].y, pts[i].z};
			double d = ciclop_object_distance(&fig, p);
			sq += d * d;
			total++;
		}
	}
	printf("  the figure scanned with it, 8 steps: %zu points, RMS %.3f mm\n", total,
	       total ? sqrt(sq / total) : 0);
	CHECK(total > 800);
	CHECK(total && sqrt(sq / total) <= 0.3);
	free(on), free(off);

	/* what is stored is what calib.c accepts */
	json_t *j = ciclop_calib_to_json(&got);
	ciclop_calib back;
	CHECK(j && ciclop_calib_from_json(j, &back, &err) == 0);
	json_decref(j);
	ciclop_calibrator_destroy(&c);
	CHECK(c == NULL);
	ciclop_calibrator_destroy(&c);
}

/* A distorted lens (k1 -0.1, k2 0.05): recovered; where the frame's corner lands within 1 px. */
static void test_calibrate_distorted(void)
{
	ciclop_scene sc;
	ciclop_calib got;
	ciclop_calib_report rep;
	lb_error err = {0};
	ciclop_calibrator *c = ciclop_calibrator_new(&sim_pattern, W, H, 1, VIEWS, &err);
	static uint8_t on[VIEWS][W * H], off[VIEWS][W * H];
	double u, v, tu, tv;

	ciclop_sim_plate_scene(&sc);
	sc.cam.k[0] = -0.1, sc.cam.k[1] = 0.05;
	for (int i = 0; i < VIEWS; i++)
		CHECK_EQ_INT(ciclop_render(&sc, (-60 + 10 * i) * M_PI / 180, on[i], off[i]), 0);
	CHECK_EQ_INT(feed(c, VIEWS, off, on), VIEWS);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), 0);
	ciclop_project_ray(&got.cam, 0.45, 0.34, &u, &v);
	ciclop_project_ray(&sc.cam, 0.45, 0.34, &tu, &tv);
	printf("  distorted lens: fx %.2f cx %.2f cy %.2f k1 %.4f (-0.1) k2 %.4f (0.05); the "
	       "corner ray lands %.2f px off\n",
	       got.cam.fx, got.cam.cx, got.cam.cy, got.cam.k[0], got.cam.k[1],
	       hypot(u - tu, v - tv));
	CHECK(fabs(got.cam.fx / sc.cam.fx - 1) < 0.01);
	CHECK(fabs(got.cam.cx - sc.cam.cx) < 3 && fabs(got.cam.cy - sc.cam.cy) < 3);
	CHECK(fabs(got.cam.k[0] + 0.1) < 0.01);
	CHECK(hypot(u - tu, v - tv) < 1.0);
	ciclop_calibrator_destroy(&c);
}

/* No plate on the table: the error says so; a wrong pattern size too; no laser: says so. */
static void test_calibrate_errors(void)
{
	ciclop_scene sc;
	ciclop_calib got;
	ciclop_calib_report rep;
	lb_error err = {0};
	ciclop_calibrator *c;

	/* the figure on the table, no plate: frames of it */
	static uint8_t fig_on[3][W * H], fig_off[3][W * H];
	ciclop_sim_scene(&sc);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(ciclop_render(&sc, (-60 + 10 * i) * M_PI / 180, fig_on[i], fig_off[i]),
			     0);
	c = ciclop_calibrator_new(&sim_pattern, W, H, 1, 3, &err);
	CHECK_EQ_INT(feed(c, 3, fig_off, fig_on), 0);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "no chessboard found in 3 of 3 frames (light, focus");
	CHECK_EQ_INT(err.code, LB_ERR_DEVICE);
	ciclop_calibrator_destroy(&c);

	/* the plate, but one view in three without it: too few */
	uint8_t(*mixed_off)[W * H] = malloc(VIEWS * sizeof *mixed_off);
	for (int i = 0; mixed_off && i < VIEWS; i++)
		memcpy(mixed_off[i], i % 3 ? plate_off[i] : fig_off[0], W * H);
	c = ciclop_calibrator_new(&sim_pattern, W, H, 1, VIEWS, &err);
	CHECK_EQ_INT(feed(c, VIEWS, mixed_off, NULL), 8);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "no chessboard found in 5 of 13 frames");
	ciclop_calibrator_destroy(&c);
	free(mixed_off);

	/* a 9 x 6 pattern asked for, an 11 x 6 one on the table */
	ciclop_pattern p96 = sim_pattern;
	p96.cols = 9;
	c = ciclop_calibrator_new(&p96, W, H, 1, 4, &err);
	CHECK_EQ_INT(feed(c, 4, plate_off, plate_on), 0);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "no chessboard found in 4 of 4 frames");
	ciclop_calibrator_destroy(&c);

	/* the laser dead: the camera could be fitted, the plane cannot */
	c = ciclop_calibrator_new(&sim_pattern, W, H, 1, VIEWS, &err);
	CHECK_EQ_INT(feed(c, VIEWS, plate_off, NULL), VIEWS);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "laser 1: laser line not found on the pattern");
	CHECK(rep.reproj_px > 0 && rep.reproj_px < 0.5);
	ciclop_calibrator_destroy(&c);

	/* absurd arguments */
	CHECK(ciclop_calibrator_new(&sim_pattern, W, H, 0, VIEWS, &err) == NULL);
	CHECK(ciclop_calibrator_new(&sim_pattern, W, H, 1, 0, &err) == NULL);
	p96.square = 0;
	CHECK(ciclop_calibrator_new(&p96, W, H, 1, VIEWS, &err) == NULL);
	c = ciclop_calibrator_new(&sim_pattern, W, H, 1, 2, &err);
	static uint8_t frame[W * H];
	memset(frame, 0, sizeof frame);
	CHECK_EQ_INT(ciclop_calibrator_view(c, 2, 0, frame, &err), LB_EFAIL);
	CHECK_EQ_INT(ciclop_calibrator_laser(c, 0, 1, frame, &det, &err), LB_EFAIL); /* no view */
	CHECK_EQ_INT(ciclop_calibrator_view(c, 0, 0, frame, &err), 0);
	CHECK_EQ_INT(ciclop_calibrator_view(c, 0, 0, frame, &err), LB_EFAIL); /* twice */
	CHECK_CONTAINS(err.message, "given twice");
	CHECK_EQ_INT(ciclop_calibrator_laser(c, 0, 2, frame, &det, &err), LB_EFAIL);
	CHECK_EQ_INT(ciclop_calibrator_wait(c, 60000), 0);
	CHECK_EQ_INT(ciclop_calibrator_solve(c, &got, &rep, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "no chessboard found in 1 of 1 frames");
	ciclop_calibrator_destroy(&c);
}

int main(void)
{
	RUN(test_calibrate_sim);
	RUN(test_calibrate_distorted);
	RUN(test_calibrate_errors);
	return check_summary();
}
