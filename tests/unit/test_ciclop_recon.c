/* test_ciclop_recon.c - 3D-scanner reconstruction against the synthetic camera, and the PLY writer.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/util/error.h"
#include "../../drivers/ciclop/ply.h"
#include "../../drivers/ciclop/recon.h"
#include "../../drivers/ciclop/render.h"
#include "check.h"

/* The lab's scanner, simulated: a 1280x960 webcam 290 mm from the table, a laser 30 degrees aside.
 */
static void scene(ciclop_scene *sc)
{
	double eye[3] = {0, 60, -290}, target[3] = {0, 45, 0};
	double a = 30 * M_PI / 180, L[3] = {290 * sin(a), 60, -290 * cos(a)};
	double n[3] = {L[2], 0, -L[0]}, l = hypot(n[0], n[2]);

	memset(sc, 0, sizeof *sc);
	sc->cam.width = 1280, sc->cam.height = 960;
	sc->cam.fx = sc->cam.fy = 1430, sc->cam.cx = 639.5, sc->cam.cy = 479.5;
	CHECK_EQ_INT(ciclop_camera_lookat(&sc->cam, eye, target), 0);
	memcpy(sc->laser_pos, L, sizeof L);
	sc->laser_n[0] = n[0] / l, sc->laser_n[2] = n[2] / l, sc->laser_d = 0;
	sc->laser_sigma = 0.4, sc->laser_peak = 110;
	/* a cylinder off the axis: rotation shows */
	sc->shapes[0] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_CYLINDER, .x = 10, .z = 5, .r = 35, .h = 90};
	sc->table_r = 100;
	sc->noise_seed = 12345;
}

/* Project a table-frame point to pixel (u, v); returns 0 when it is in front of the camera. */
static int project(const ciclop_camera *c, const double p[3], double *u, double *v)
{
	double q[3];
	for (int i = 0; i < 3; i++)
		q[i] =
		    c->R[3 * i] * p[0] + c->R[3 * i + 1] * p[1] + c->R[3 * i + 2] * p[2] + c->t[i];
	if (q[2] <= 0)
		return -1;
	ciclop_project_ray(c, q[0] / q[2], q[1] / q[2], u, v);
	return 0;
}

/* The camera placement, the rotation and triangulation agree with a plain projection. */
static void test_geometry(void)
{
	ciclop_scene sc;
	ciclop_plane pl;
	double p[3] = {-12, 40, 7}, back[3], u, v, r[3];

	scene(&sc);
	/* the target is at the image centre, the table axis points up the image */
	double tg[3] = {0, 45, 0}, up[3] = {0, 80, 0};
	CHECK(project(&sc.cam, tg, &u, &v) == 0);
	CHECK_NEAR(u, sc.cam.cx, 1e-9);
	CHECK_NEAR(v, sc.cam.cy, 1e-9);
	CHECK(project(&sc.cam, up, &u, &v) == 0 && v < sc.cam.cy);
	/* a point on the laser plane comes back from its pixel */
	double n[3] = {0.6, 0, 0.8};
	p[2] = -p[0] * 0.6 / 0.8; /* on n.p = 0 */
	ciclop_plane_from_table(&sc.cam, n, 0, &pl);
	CHECK(project(&sc.cam, p, &u, &v) == 0);
	CHECK_EQ_INT(ciclop_triangulate(&sc.cam, &pl, u, v, back), 0);
	for (int i = 0; i < 3; i++)
		CHECK_NEAR(back[i], p[i], 1e-6);
	/* a plane behind the camera is refused */
	double n2[3] = {0, 0, 1};
	ciclop_plane_from_table(&sc.cam, n2, -1000, &pl);
	CHECK_EQ_INT(ciclop_triangulate(&sc.cam, &pl, sc.cam.cx, sc.cam.cy, back), LB_EINVAL);
	/* a quarter turn counter-clockwise seen from above takes +x to -z */
	double x[3] = {1, 2, 0};
	ciclop_rotate_y(M_PI / 2, x, r);
	CHECK_NEAR(r[0], 0, 1e-12);
	CHECK_NEAR(r[1], 2, 1e-12);
	CHECK_NEAR(r[2], -1, 1e-12);
	/* looking straight down the axis has no "up": refused */
	double e2[3] = {0, 300, 0}, t2[3] = {0, 0, 0};
	ciclop_camera c2 = sc.cam;
	CHECK_EQ_INT(ciclop_camera_lookat(&c2, e2, t2), LB_EINVAL);
}

/* A Gaussian line drawn at a known sub-pixel column is found within 0.05 px; blank rows have none.
 */
static void test_detect(void)
{
	enum { W = 64, H = 5 };
	uint8_t on[W * H], off[W * H];
	float cols[H];
	double centre[H] = {20.0, 20.3, 31.77, -1, 62.5};
	ciclop_detect_opts o = {.threshold = 20, .half_window = 8, .floor = 0.3};

	for (int v = 0; v < H; v++)
		for (int u = 0; u < W; u++) {
			double d =
			    centre[v] < 0 ? 0 : 120 * exp(-pow(u - centre[v], 2) / (2 * 1.5 * 1.5));
			off[v * W + u] = (uint8_t)(40 + (u % 7));
			on[v * W + u] = (uint8_t)lrint(40 + (u % 7) + d);
		}
	CHECK_EQ_INT(ciclop_detect(on, off, W, H, W, &o, cols), 4);
	CHECK_NEAR(cols[0], 20.0, 0.05);
	CHECK_NEAR(cols[1], 20.3, 0.05);
	CHECK_NEAR(cols[2], 31.77, 0.05);
	CHECK_NEAR(cols[3], -1, 0);
	CHECK(cols[4] > 61 && cols[4] <= 63); /* cut by the edge: still inside the image */
	o.floor = 1;
	CHECK_EQ_INT(ciclop_detect(on, off, W, H, W, &o, cols), LB_EINVAL);
	o.floor = 0.3;
	CHECK_EQ_INT(ciclop_detect(on, off, W, H, W - 1, &o, cols), LB_EINVAL);
}

/* A cylinder rendered at 16 table angles comes back within the 0.3 mm RMS, all around. */
static void test_cylinder(void)
{
	ciclop_scene sc;
	ciclop_plane pl;
	ciclop_roi roi = {.radius = 90, .ymin = 1, .ymax = 200};
	ciclop_detect_opts o = {.threshold = 20, .half_window = 8, .floor = 0.3};
	size_t npix = 1280 * 960, total = 0, cap = 960;
	uint8_t *on = malloc(npix), *off = malloc(npix);
	float *cols = malloc(960 * sizeof *cols);
	ciclop_point *pts = malloc(cap * sizeof *pts);
	double sq = 0, sq_wrong = 0, maxd = 0;
	int sectors[8] = {0}, nsec = 0;

	scene(&sc);
	ciclop_plane_from_table(&sc.cam, sc.laser_n, sc.laser_d, &pl);
	if (!CHECK(on && off && cols && pts))
		goto out;
	for (int k = 0; k < 16; k++) {
		double a = k * 2 * M_PI / 16;
		CHECK_EQ_INT(ciclop_render(&sc, a, on, off), 0);
		int rows = ciclop_detect(on, off, 1280, 960, 1280, &o, cols);
		CHECK(rows > 300);
		size_t n = ciclop_points(&sc.cam, &pl, a, cols, off, 1, &roi, pts, cap);
		CHECK(n > 300);
		for (size_t i = 0; i < n; i++) {
			double p[3] = {pts[i].x, pts[i].y, pts[i].z}, q[3], w[3];
			double d = ciclop_object_distance(&sc, p);
			sq += d * d;
			maxd = fabs(d) > maxd ? fabs(d) : maxd;
			/* turned the wrong way, the same points miss the off-axis cylinder */
			ciclop_rotate_y(a, p, q);
			ciclop_rotate_y(a, q, w);
			d = ciclop_object_distance(&sc, w);
			sq_wrong += d * d;
			double ang = atan2(p[2] - sc.shapes[0].z, p[0] - sc.shapes[0].x);
			sectors[(int)floor((ang + M_PI) / (2 * M_PI) * 8) & 7]++;
			CHECK(pts[i].r == pts[i].g && pts[i].r > 10);
		}
		total += n;
	}
	for (int s = 0; s < 8; s++)
		nsec += sectors[s] > 100;
	double rms = total ? sqrt(sq / total) : INFINITY;
	printf("  cylinder: %zu points, RMS %.3f mm, max %.3f mm, %d/8 sectors\n", total, rms, maxd,
	       nsec);
	CHECK(total > 4800);
	CHECK(rms <= 0.3);
	CHECK(nsec == 8);
	CHECK(sqrt(sq_wrong / (total ? total : 1)) > 3); /* the check can tell a wrong rotation */
out:
	free(on), free(off), free(cols), free(pts);
}

/* Scan sc's object at steps angles; the points' RMS and 99th-percentile distance to its surface. */
static size_t scan(const ciclop_scene *sc, int steps, double *rms, double *p99)
{
	ciclop_plane pl;
	ciclop_roi roi = {.radius = 90, .ymin = 1, .ymax = 200};
	ciclop_detect_opts o = {.threshold = 20, .half_window = 8, .floor = 0.3};
	size_t npix = (size_t)sc->cam.width * sc->cam.height, total = 0, cap = 960 * 64;
	uint8_t *on = malloc(npix), *off = malloc(npix);
	float *cols = malloc(960 * sizeof *cols);
	ciclop_point *pts = malloc(960 * sizeof *pts);
	double *d = malloc(cap * sizeof *d), sq = 0;

	*rms = *p99 = INFINITY;
	ciclop_plane_from_table(&sc->cam, sc->laser_n, sc->laser_d, &pl);
	if (!CHECK(on && off && cols && pts && d && steps <= 64))
		goto out;
	for (int k = 0; k < steps; k++) {
		double a = k * 2 * M_PI / steps;
		CHECK_EQ_INT(ciclop_render(sc, a, on, off), 0);
		ciclop_detect(on, off, sc->cam.width, sc->cam.height, sc->cam.width, &o, cols);
		size_t n = ciclop_points(&sc->cam, &pl, a, cols, off, 1, &roi, pts, 960);
		for (size_t i = 0; i < n; i++) {
			double p[3] = {pts[i].x, pts[i].y, pts[i].z};
			d[total] = ciclop_object_distance(sc, p);
			sq += d[total] * d[total];
			total++;
		}
	}
	if (total) {
		*rms = sqrt(sq / total);
		/* the 99th percentile by partial selection: count below thresholds */
		double lo = 0, hi = 100;
		for (int it = 0; it < 50; it++) {
			double mid = (lo + hi) / 2;
			size_t below = 0;
			for (size_t i = 0; i < total; i++)
				below += d[i] <= mid;
			if (below >= total * 99 / 100)
				hi = mid;
			else
				lo = mid;
		}
		*p99 = hi;
	}
out:
	free(on), free(off), free(cols), free(pts), free(d);
	return total;
}

/* A cube (corners, flat faces) and a concave figure (a box with a cylinder against it: laser
 * shadows and hidden parts) come back within 0.3 mm RMS. */
static void test_cube_and_concave(void)
{
	ciclop_scene sc;
	double rms, p99;
	size_t n;

	scene(&sc);
	sc.shapes[0] = (ciclop_shape){.kind = CICLOP_SHAPE_BOX, .hx = 25, .hz = 25, .h = 50};
	n = scan(&sc, 8, &rms, &p99);
	printf("  cube: %zu points, RMS %.3f mm, p99 %.3f mm\n", n, rms, p99);
	CHECK(n > 1500);
	CHECK(rms <= 0.3);

	sc.shapes[0] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_BOX, .x = -10, .hx = 20, .hz = 30, .h = 70};
	sc.shapes[1] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_CYLINDER, .x = 22, .z = 12, .r = 18, .h = 100};
	n = scan(&sc, 8, &rms, &p99);
	printf("  box + cylinder (concave): %zu points, RMS %.3f mm, p99 %.3f mm\n", n, rms, p99);
	CHECK(n > 1500);
	CHECK(rms <= 0.3);
}

/* The lens model: a pixel's ray lands back on the pixel; a distorted camera's scan comes back
 * within 0.3 mm with the distortion known, and several times worse when it is ignored. */
static void test_distortion(void)
{
	ciclop_scene sc;
	double rms, p99, rms_ignored, r[3], u, v;
	const double k[5] = {-0.35, 0.2, 0.002, -0.003, 0};

	scene(&sc);
	memcpy(sc.cam.k, k, sizeof k);
	for (double pu = 0; pu <= 1280; pu += 160)
		for (double pv = 0; pv <= 960; pv += 160) {
			ciclop_pixel_ray(&sc.cam, pu, pv, r);
			ciclop_project_ray(&sc.cam, r[0], r[1], &u, &v);
			CHECK_NEAR(u, pu, 1e-4);
			CHECK_NEAR(v, pv, 1e-4);
		}
	sc.shapes[0] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_CYLINDER, .x = 10, .z = 5, .r = 35, .h = 90};
	CHECK(scan(&sc, 4, &rms, &p99) > 1000);
	printf("  distorted camera: RMS %.3f mm\n", rms);
	CHECK(rms <= 0.3);
	/* the same frames read as if the lens were perfect */
	ciclop_scene wrong = sc;
	memset(wrong.cam.k, 0, sizeof wrong.cam.k);
	ciclop_plane pl;
	ciclop_roi roi = {.radius = 90, .ymin = 1, .ymax = 200};
	ciclop_detect_opts o = {.threshold = 20, .half_window = 8, .floor = 0.3};
	uint8_t *on = malloc(1280 * 960), *off = malloc(1280 * 960);
	float cols[960];
	ciclop_point pts[960];
	double sq = 0;
	size_t n = 0;
	ciclop_plane_from_table(&wrong.cam, sc.laser_n, sc.laser_d, &pl);
	if (CHECK(on && off) && CHECK(ciclop_render(&sc, 0, on, off) == 0)) {
		ciclop_detect(on, off, 1280, 960, 1280, &o, cols);
		n = ciclop_points(&wrong.cam, &pl, 0, cols, off, 1, &roi, pts, 960);
		for (size_t i = 0; i < n; i++) {
			double p[3] = {pts[i].x, pts[i].y, pts[i].z},
			       d = ciclop_object_distance(&sc, p);
			sq += d * d;
		}
	}
	rms_ignored = n ? sqrt(sq / n) : INFINITY;
	printf("  distortion ignored: RMS %.3f mm\n", rms_ignored);
	CHECK(rms_ignored > 3 * rms);
	free(on), free(off);
}

/* The PLY writer's bytes: header with the patched count, 15 bytes a point, little-endian floats. */
static void test_ply(void)
{
	FILE *f = tmpfile();
	ciclop_ply *ply;
	ciclop_point p[2] = {{1.5f, -2.0f, 3.25f, 10, 20, 30}, {0, 0, 1e3f, 255, 0, 1}};
	char head[512];
	uint8_t rec[15];

	if (!CHECK(f))
		return;
	ply = ciclop_ply_new(f);
	CHECK(ply != NULL);
	CHECK_EQ_INT(ciclop_ply_add(ply, &p[0]), 0);
	CHECK_EQ_INT(ciclop_ply_add(ply, &p[1]), 0);
	CHECK_EQ_UINT(ciclop_ply_count(ply), 2);
	CHECK_EQ_INT(ciclop_ply_finish(ply), 0);
	ciclop_ply_destroy(&ply);
	CHECK(ply == NULL);
	ciclop_ply_destroy(&ply);
	rewind(f);
	size_t n = fread(head, 1, sizeof head - 1, f);
	head[n] = 0;
	char *end = strstr(head, "end_header\n");
	CHECK(strncmp(head, "ply\nformat binary_little_endian 1.0\n", 36) == 0);
	CHECK(strstr(head, "element vertex 0000000002\n") != NULL);
	CHECK(strstr(head,
		     "property float x\nproperty float y\nproperty float z\nproperty uchar red\n"
		     "property uchar green\nproperty uchar blue\nend_header\n") != NULL);
	if (CHECK(end)) {
		size_t body = (size_t)(end + 11 - head);
		CHECK_EQ_UINT(n, body + 30);
		memcpy(rec, head + body, 15);
		const uint8_t want[15] = {0, 0, 0xc0, 0x3f, 0,	0,  0, 0xc0,
					  0, 0, 0x50, 0x40, 10, 20, 30};
		CHECK(memcmp(rec, want, 15) == 0);
	}
	fclose(f);
}

int main(void)
{
	RUN(test_geometry);
	RUN(test_detect);
	RUN(test_ply);
	RUN(test_cylinder);
	RUN(test_cube_and_concave);
	RUN(test_distortion);
	return check_summary();
}
