/* camera.c - the 3D scanner's frame source: size checks and conversion, and the simulated
 * camera (the renderer following the emulated board). */
#include "camera.h"

#include <math.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

ciclop_source *ciclop_source_new(const ciclop_source_ops *ops, void *impl, int width, int height,
				 lb_error *err)
{
	ciclop_source *s = NULL;

	if (width < 16 || height < 16 || width > 8192 || height > 8192) {
		lb_error_set(err, LB_ERR_INVALID_PARAMS, "absurd frame size %dx%d", width, height);
		goto fail;
	}
	s = calloc(1, sizeof *s);
	if (!s || !(s->grey = malloc((size_t)width * height)) ||
	    !(s->rgb = malloc((size_t)width * height * 3))) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	s->ops = ops, s->impl = impl, s->width = width, s->height = height;
	return s;
fail:
	if (s)
		free(s->grey), free(s->rgb), free(s);
	ops->close(impl);
	return NULL;
}

int ciclop_source_grab(ciclop_source *s, double now_ms, lb_error *err)
{
	ciclop_raw raw = {0};
	size_t n = (size_t)s->width * s->height;

	if (s->ops->grab(s->impl, now_ms, &raw, err) < 0)
		return LB_EFAIL;
	if (raw.width != s->width || raw.height != s->height)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "camera frame of the wrong size (%dx%d; the calibration is for "
				    "%dx%d)",
				    raw.width, raw.height, s->width, s->height);
	if (raw.channels == 1) {
		memcpy(s->grey, raw.data, n);
		for (size_t i = 0; i < n; i++)
			s->rgb[3 * i] = s->rgb[3 * i + 1] = s->rgb[3 * i + 2] = raw.data[i];
	} else if (raw.channels == 3) {
		memcpy(s->rgb, raw.data, 3 * n);
		for (size_t i = 0; i < n; i++) /* ITU-R BT.601 luma, integer */
			s->grey[i] = (uint8_t)((77 * raw.data[3 * i] + 150 * raw.data[3 * i + 1] +
						29 * raw.data[3 * i + 2] + 128) >>
					       8);
	} else {
		return lb_error_set(err, LB_ERR_DEVICE, "camera frame with %d channels",
				    raw.channels);
	}
	return 0;
}

void ciclop_source_destroy(ciclop_source **ps)
{
	if (!ps || !*ps)
		return;
	(*ps)->ops->close((*ps)->impl);
	free((*ps)->grey), free((*ps)->rgb), free(*ps);
	*ps = NULL;
}

/* ---------------------------------------------------------------- the simulated camera */

typedef struct sim_cam {
	ciclop_emu *emu;       /* the board's state from the emulator, or ... */
	ciclop_state_fn state; /* ... from this */
	void *state_arg;
	ciclop_scene sc;
	const atomic_int *fault;
	uint8_t *on, *off; /* the last rendering, at angle last */
	double last;
	int have;
} sim_cam;

/* Render (or reuse) the frames at the board's angle now; hand over the one its laser 1 shows. */
static int sim_grab(void *impl, double now_ms, ciclop_raw *raw, lb_error *err)
{
	sim_cam *c = impl;
	int fault = c->fault ? atomic_load(c->fault) : CICLOP_CAM_OK, lasers;
	double angle;

	if (fault == CICLOP_CAM_MISSING)
		return lb_error_set(err, LB_ERR_DEVICE,
				    "camera missing: the simulated camera was unplugged");
	if (c->state)
		c->state(c->state_arg, now_ms, &angle, &lasers);
	else
		ciclop_emu_state(c->emu, now_ms, &angle, &lasers);
	if (!c->have || angle != c->last) {
		if (ciclop_render(&c->sc, angle * M_PI / 180, c->on, c->off) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "the renderer refused the scene");
		c->last = angle, c->have = 1;
	}
	raw->width = c->sc.cam.width;
	raw->height = c->sc.cam.height - (fault == CICLOP_CAM_WRONG_SIZE ? 2 : 0);
	raw->channels = 1;
	raw->data = lasers & 1 ? c->on : c->off;
	return 0;
}

/* Let go of the board and the frames. */
static void sim_close(void *impl)
{
	sim_cam *c = impl;

	if (c->emu)
		ciclop_emu_unref(&c->emu);
	free(c->on), free(c->off), free(c);
}

static const ciclop_source_ops sim_ops = {"sim", sim_grab, sim_close};

ciclop_source *ciclop_source_sim(ciclop_emu *emu, const ciclop_scene *sc, const atomic_int *fault,
				 lb_error *err)
{
	sim_cam *c = calloc(1, sizeof *c);
	size_t n = (size_t)sc->cam.width * sc->cam.height;

	if (!c || !(c->on = malloc(n)) || !(c->off = malloc(n))) {
		if (c)
			free(c->on), free(c);
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->emu = ciclop_emu_ref(emu);
	c->sc = *sc;
	c->fault = fault;
	return ciclop_source_new(&sim_ops, c, sc->cam.width, sc->cam.height, err);
}

ciclop_source *ciclop_source_sim_state(const ciclop_scene *sc, ciclop_state_fn state, void *arg,
				       lb_error *err)
{
	sim_cam *c = calloc(1, sizeof *c);
	size_t n = (size_t)sc->cam.width * sc->cam.height;

	if (!c || !(c->on = malloc(n)) || !(c->off = malloc(n))) {
		if (c)
			free(c->on), free(c);
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		return NULL;
	}
	c->state = state, c->state_arg = arg;
	c->sc = *sc;
	return ciclop_source_new(&sim_ops, c, sc->cam.width, sc->cam.height, err);
}

void ciclop_sim_scene(ciclop_scene *sc)
{
	double eye[3] = {0, 60, -290}, target[3] = {0, 45, 0};
	double a = 30 * M_PI / 180, L[3] = {290 * sin(a), 60, -290 * cos(a)};
	double n[3] = {L[2], 0, -L[0]}, l = hypot(n[0], n[2]);

	memset(sc, 0, sizeof *sc);
	sc->cam.width = 640, sc->cam.height = 480;
	sc->cam.fx = sc->cam.fy = 715, sc->cam.cx = 319.5, sc->cam.cy = 239.5;
	ciclop_camera_lookat(&sc->cam, eye, target);
	memcpy(sc->laser_pos, L, sizeof L);
	sc->laser_n[0] = n[0] / l, sc->laser_n[2] = n[2] / l, sc->laser_d = 0;
	sc->laser_sigma = 0.4, sc->laser_peak = 110;
	/* a box with a cylinder against it: a concave figure */
	sc->shapes[0] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_BOX, .x = -10, .hx = 20, .hz = 30, .h = 70};
	sc->shapes[1] =
	    (ciclop_shape){.kind = CICLOP_SHAPE_CYLINDER, .x = 22, .z = 12, .r = 18, .h = 100};
	sc->table_r = 100;
	sc->noise_seed = 12345;
}

void ciclop_sim_plate_scene(ciclop_scene *sc)
{
	ciclop_sim_scene(sc);
	memset(sc->shapes, 0, sizeof sc->shapes);
	sc->plate = (ciclop_plate){.cols = CICLOP_SIM_PLATE_COLS,
				   .rows = CICLOP_SIM_PLATE_ROWS,
				   .square = CICLOP_SIM_PLATE_SQUARE,
				   .origin = CICLOP_SIM_PLATE_ORIGIN,
				   .tilt = CICLOP_SIM_PLATE_TILT};
}
