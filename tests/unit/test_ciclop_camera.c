/* test_ciclop_camera.c - the 3D scanner's calibration file and frame sources (simulated camera
 * following the emulated board; V4L2's "camera missing"). */
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "../../drivers/ciclop/calib.h"
#include "../../drivers/ciclop/camera.h"
#include "check.h"

/* The simulated lab's calibration, from the renderer's geometry. */
static void sim_calib(ciclop_calib *c)
{
	ciclop_scene sc;

	ciclop_sim_scene(&sc);
	memset(c, 0, sizeof *c);
	c->cam = sc.cam;
	c->nlasers = 1;
	ciclop_plane_from_table(&sc.cam, sc.laser_n, sc.laser_d, &c->laser[0]);
}

/* Parse text as JSON and check it; returns the result, err's message into msg. */
static int parse(const char *text, ciclop_calib *c, char *msg, size_t cap)
{
	json_t *j = json_loads(text, 0, NULL);
	lb_error err = {0};
	int rc = j ? ciclop_calib_from_json(j, c, &err) : -99;

	snprintf(msg, cap, "%s", err.message);
	json_decref(j);
	return rc;
}

/* JSON round trip through a file; strict refusals with the field named. */
static void test_calib(void)
{
	ciclop_calib c, d;
	char dir[] = "/tmp/test_ciclop_calXXXXXX", path[128], msg[256], *text;
	lb_error err = {0};
	json_t *j;

	sim_calib(&c);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/calibration/ciclop-x.json", dir);
	CHECK_EQ_INT(ciclop_calib_load(path, &d, &err), 1); /* none yet */
	CHECK_EQ_INT(ciclop_calib_save(path, &c, &err), 0);
	CHECK_EQ_INT(ciclop_calib_load(path, &d, &err), 0);
	CHECK_EQ_INT(d.cam.width, 640);
	CHECK_EQ_INT(d.nlasers, 1);
	CHECK(memcmp(d.cam.R, c.cam.R, sizeof c.cam.R) == 0); /* 17 digits: exact */
	CHECK(memcmp(d.laser[0].n, c.laser[0].n, sizeof c.laser[0].n) == 0);
	CHECK_NEAR(d.cam.fx, 715, 0);

	j = ciclop_calib_to_json(&c);
	text = json_dumps(j, 0);
	json_decref(j);
	CHECK_EQ_INT(parse(text, &d, msg, sizeof msg), 0);
	free(text);
	/* refusals */
	const char *base = "{\"width\":640,\"height\":480,\"intrinsics\":{\"fx\":700,\"fy\":700,"
			   "\"cx\":320,\"cy\":240},\"distortion\":[0,0,0,0,0],\"turntable\":{"
			   "\"rotation\":[%s],\"translation\":[0,0,300]},\"lasers\":[%s]%s}";
	const char *eye = "1,0,0,0,1,0,0,0,1", *laser = "{\"normal\":[1,0,0],\"distance\":10}";
	char buf[1024];
	snprintf(buf, sizeof buf, base, eye, laser, "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), 0);
	snprintf(buf, sizeof buf, base, eye, laser, ",\"extra\":1");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	CHECK_CONTAINS(msg, "extra");
	snprintf(buf, sizeof buf, base, "1,0,0,0,-1,0,0,0,1", laser, ""); /* recon.h's frames */
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), 0);
	snprintf(buf, sizeof buf, base, "2,0,0,0,1,0,0,0,0.5", laser, "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	snprintf(buf, sizeof buf, base, "1,0,0,0,1,0,0,0.5,1", laser, "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	CHECK_CONTAINS(msg, "orthonormal");
	snprintf(buf, sizeof buf, base, "1,0,0,0,1,0,0,0", laser, "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	CHECK_CONTAINS(msg, "turntable.rotation");
	snprintf(buf, sizeof buf, base, eye, "{\"normal\":[0.5,0,0],\"distance\":10}", "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	CHECK_CONTAINS(msg, "unit");
	snprintf(buf, sizeof buf, base, eye, "{\"normal\":[1,0,\"0\"],\"distance\":10}", "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	snprintf(buf, sizeof buf, base, eye, "", "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	CHECK_CONTAINS(msg, "lasers");
	snprintf(buf, sizeof buf, base, eye, "{},{},{},{},{}", "");
	CHECK_EQ_INT(parse(buf, &d, msg, sizeof msg), LB_EFAIL);
	CHECK_EQ_INT(parse("{\"width\":640,\"height\":480,\"intrinsics\":{\"fx\":1e400}}", &d, msg,
			   sizeof msg),
		     -99); /* not JSON even: jansson refuses an infinite number */
	CHECK_EQ_INT(parse("[1]", &d, msg, sizeof msg), LB_EFAIL);
	/* a damaged file: a clear error naming it */
	FILE *f = fopen(path, "w");
	fputs("{\"width\": 640", f);
	fclose(f);
	CHECK_EQ_INT(ciclop_calib_load(path, &d, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, path);
	unlink(path);
	snprintf(buf, sizeof buf, "%s/calibration", dir);
	rmdir(buf);
	rmdir(dir);
}

/* Send a command to the emulated board and wait for its "ok" (2 s). */
static int command(int fd, const char *cmd)
{
	char buf[256];
	size_t n = 0;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 2000) <= 0)
			return -1;
		ssize_t k = read(fd, buf + n, sizeof buf - 1 - n);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		buf[n] = 0;
		if (strstr(buf, "ok\r\n"))
			return 0;
		if (n >= sizeof buf - 1)
			return -1;
	}
}

/* The simulated camera shows what the emulated board does: laser line only when laser 1 is lit,
 * the object turned with the table; its faults give the clear errors. */
static void test_sim_camera(void)
{
	lb_error err = {0};
	ciclop_emu *e = ciclop_emu_new(&err);
	ciclop_scene sc;
	ciclop_source *s = NULL;
	atomic_int fault = CICLOP_CAM_OK;
	uint8_t *off0 = malloc(640 * 480);
	struct termios tio;
	long diff = 0;
	int fd = -1;

	if (!CHECK(e && off0))
		goto out;
	ciclop_sim_scene(&sc);
	s = ciclop_source_sim(e, &sc, &fault, &err);
	if (!CHECK(s))
		goto out;
	fd = open(ciclop_emu_path(e), O_RDWR | O_NOCTTY);
	tcgetattr(fd, &tio);
	cfmakeraw(&tio);
	tcsetattr(fd, TCSANOW, &tio);
	CHECK_EQ_INT(ciclop_source_grab(s, ciclop_emu_now_ms(), &err), 0);
	memcpy(off0, s->grey, 640 * 480);
	CHECK_EQ_INT(command(fd, "M71T1\n"), 0);
	CHECK_EQ_INT(ciclop_source_grab(s, ciclop_emu_now_ms(), &err), 0);
	for (int i = 0; i < 640 * 480; i++)
		diff += s->grey[i] > off0[i] + 40;
	printf("  laser line pixels: %ld\n", diff);
	CHECK(diff > 100); /* a line down the lit part of the object */
	CHECK(s->rgb[3 * 1000] == s->grey[1000] && s->rgb[3 * 1000 + 2] == s->grey[1000]);
	CHECK_EQ_INT(command(fd, "M70T1\n"), 0);
	CHECK_EQ_INT(command(fd, "M17\n"), 0);
	CHECK_EQ_INT(command(fd, "G1F60000\n"), 0);
	CHECK_EQ_INT(command(fd, "G1X90\n"), 0);
	CHECK_EQ_INT(ciclop_source_grab(s, ciclop_emu_now_ms() + 1000, &err), 0); /* arrived */
	diff = 0;
	for (int i = 0; i < 640 * 480; i++)
		diff += s->grey[i] != off0[i];
	CHECK(diff > 2000); /* the object turned */
	atomic_store(&fault, CICLOP_CAM_WRONG_SIZE);
	CHECK_EQ_INT(ciclop_source_grab(s, ciclop_emu_now_ms(), &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "camera frame of the wrong size (640x478");
	atomic_store(&fault, CICLOP_CAM_MISSING);
	CHECK_EQ_INT(ciclop_source_grab(s, ciclop_emu_now_ms(), &err), LB_EFAIL);
	CHECK_CONTAINS(err.message, "camera missing");
	/* the board's port goes (unplugged): the camera still holds its state safely */
	close(fd), fd = -1;
	ciclop_emu_destroy(&e);
	atomic_store(&fault, CICLOP_CAM_OK);
	CHECK_EQ_INT(ciclop_source_grab(s, ciclop_emu_now_ms(), &err), 0);
out:
	if (fd >= 0)
		close(fd);
	ciclop_source_destroy(&s);
	ciclop_emu_destroy(&e);
	free(off0);
}

/* A camera path that is not there: "camera missing"; a file that is no video device either. */
static void test_v4l2_missing(void)
{
	lb_error err = {0};
	ciclop_source *s = ciclop_source_v4l2("/dev/video-nonexistent", 640, 480, 1, &err);

	CHECK(s == NULL);
	CHECK_CONTAINS(err.message, "camera missing: /dev/video-nonexistent does not exist");
	s = ciclop_source_v4l2("/dev/null", 640, 480, 1, &err);
	CHECK(s == NULL);
	CHECK(strstr(err.message, "camera") != NULL);
}

/* A source handing over RGB frames (as V4L2's does): the size it gives, its pixels. */
typedef struct fake_cam {
	int w, h, closed;
	uint8_t px[32 * 16 * 3];
} fake_cam;

static int fake_grab(void *impl, double now_ms, ciclop_raw *raw, lb_error *err)
{
	fake_cam *f = impl;

	(void)now_ms, (void)err;
	raw->width = f->w, raw->height = f->h, raw->channels = 3, raw->data = f->px;
	return 0;
}

static void fake_close(void *impl)
{
	((fake_cam *)impl)->closed++;
}

/* RGB frames become grey (BT.601 luma) and RGB texture; another size is the clear error. */
static void test_rgb_source(void)
{
	static const ciclop_source_ops ops = {"fake", fake_grab, fake_close};
	fake_cam f = {.w = 32, .h = 16};
	lb_error err = {0};
	ciclop_source *s;

	for (int i = 0; i < 32 * 16; i++)
		f.px[3 * i] = 255, f.px[3 * i + 1] = (uint8_t)i, f.px[3 * i + 2] = 0;
	s = ciclop_source_new(&ops, &f, 32, 16, &err);
	if (!CHECK(s))
		return;
	CHECK_EQ_INT(ciclop_source_grab(s, 0, &err), 0);
	CHECK_EQ_INT(s->grey[0], 77); /* pure red */
	CHECK_EQ_INT(s->grey[100], (77 * 255 + 150 * 100 + 128) >> 8);
	CHECK_EQ_INT(s->rgb[3 * 100 + 1], 100);
	f.w = 30;
	CHECK_EQ_INT(ciclop_source_grab(s, 0, &err), LB_EFAIL);
	CHECK_CONTAINS(err.message,
		       "camera frame of the wrong size (30x16; the calibration is for 32x16)");
	ciclop_source_destroy(&s);
	CHECK_EQ_INT(f.closed, 1);
	/* an absurd size: refused, and the implementation closed all the same */
	CHECK(ciclop_source_new(&ops, &f, 4, 4, &err) == NULL);
	CHECK_EQ_INT(f.closed, 2);
}

/* The simulated lab's scanner reconstructs its concave figure within 0.3 mm RMS at 640x480. */
static void test_sim_scene_accuracy(void)
{
	ciclop_scene sc;
	ciclop_calib c;
	ciclop_roi roi = {.radius = 95, .ymin = 1, .ymax = 250};
	ciclop_detect_opts o = {.threshold = 20, .half_window = 8, .floor = 0.3};
	uint8_t *on = malloc(640 * 480), *off = malloc(640 * 480);
	float cols[480];
	ciclop_point pts[480];
	double sq = 0;
	size_t total = 0;

	ciclop_sim_scene(&sc);
	sim_calib(&c);
	for (int k = 0; on && off && k < 8; k++) {
		double a = k * 2 * M_PI / 8;
		CHECK_EQ_INT(ciclop_render(&sc, a, on, off), 0);
		ciclop_detect(on, off, 640, 480, 640, &o, cols);
		size_t n = ciclop_points(&c.cam, &c.laser[0], a, cols, off, 1, &roi, pts, 480);
		for (size_t i = 0; i < n; i++) {
			double p[3] = {pts[i].x, pts[i].y, pts[i].z},
			       d = ciclop_object_distance(&sc, p);
			sq += d * d;
			total++;
		}
	}
	printf("  sim lab, 8 steps: %zu points, RMS %.3f mm\n", total,
	       total ? sqrt(sq / total) : 0);
	CHECK(total > 800);
	CHECK(total && sqrt(sq / total) <= 0.3);
	free(on), free(off);
}

int main(void)
{
	RUN(test_calib);
	RUN(test_sim_camera);
	RUN(test_v4l2_missing);
	RUN(test_rgb_source);
	RUN(test_sim_scene_accuracy);
	return check_summary();
}
