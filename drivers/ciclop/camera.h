/* camera.h - the 3D scanner's frame source: a real camera (V4L2) or the simulated lab's renderer.
 */
#ifndef LB_CICLOP_CAMERA_H
#define LB_CICLOP_CAMERA_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../../bridge/util/error.h"
#include "emulator.h"
#include "render.h"

/* A frame as an implementation hands it over: width x height pixels of channels (1 grey, 3 RGB)
 * bytes, rows tightly packed; valid until the next grab or close. */
typedef struct ciclop_raw {
	int width, height, channels;
	const uint8_t *data;
} ciclop_raw;

/* What a frame source implements. */
typedef struct ciclop_source_ops {
	const char *name; /* "v4l2", "sim" */
	/* A frame taken at or after now_ms (CLOCK_MONOTONIC ms) into *raw; 0, or LB_EFAIL with err
	 * ("camera missing", "the camera gives no frames"). */
	int (*grab)(void *impl, double now_ms, ciclop_raw *raw, lb_error *err);
	/* Release everything (never fails). */
	void (*close)(void *impl);
} ciclop_source_ops;

/* A frame source of a known frame size, and the last frame as grey and RGB. */
typedef struct ciclop_source {
	const ciclop_source_ops *ops;
	void *impl;
	int width, height; /* what the calibration is for */
	uint8_t *grey;	   /* width * height */
	uint8_t *rgb;	   /* width * height * 3 */
} ciclop_source;

/* Wrap an implementation (taken over: closed on failure too) for frames of width x height. NULL
 * with err set when out of memory or the size is absurd. */
ciclop_source *ciclop_source_new(const ciclop_source_ops *ops, void *impl, int width, int height,
				 lb_error *err);

/*
 * Grab a frame at now_ms into s->grey and s->rgb. 0, or LB_EFAIL with err set: the
 * implementation's error, or "camera frame of the wrong size (WxH; the calibration is for WxH)"
 * (LB_ERR_DEVICE), or a frame of another channel count.
 */
int ciclop_source_grab(ciclop_source *s, double now_ms, lb_error *err);

/* Close and free; accepts NULL and *s NULL; sets *s NULL. */
void ciclop_source_destroy(ciclop_source **s);

/*
 * A UVC camera through libv4l2 (YUYV, MJPEG... converted to RGB24 by libv4l2) at path, asked for
 * width x height; each grab first drops `flush` frames (those the driver buffered before the
 * lasers changed). NULL with err set: "camera missing: /dev/video0 does not exist", "... is not a
 * capture device", LB_ERR_DEVICE.
 */
ciclop_source *ciclop_source_v4l2(const char *path, int width, int height, int flush,
				  lb_error *err);

/* Faults of the simulated camera (an atomic int the caller owns, read at every grab). */
enum { CICLOP_CAM_OK = 0, CICLOP_CAM_MISSING, CICLOP_CAM_WRONG_SIZE };

/*
 * The simulated lab's camera: renders sc (ciclop_render) at the table angle the emulated board
 * emu has at the frame's time, laser 1 lit when it is lit there. Holds a reference to emu
 * (ciclop_emu_ref). fault may be NULL. NULL with err set when out of memory.
 */
ciclop_source *ciclop_source_sim(ciclop_emu *emu, const ciclop_scene *sc, const atomic_int *fault,
				 lb_error *err);

/* The table's angle (degrees) and lit lasers (bit n-1: laser n) at now_ms, for a camera. */
typedef void (*ciclop_state_fn)(void *arg, double now_ms, double *angle, int *lasers);

/*
 * The renderer as a camera that asks state(arg, ...) at every grab instead of an emulator (for
 * tests against a real board's firmware, whose table no camera sees: the `camera = test:commanded`
 * configuration). NULL with err set when out of memory.
 */
ciclop_source *ciclop_source_sim_state(const ciclop_scene *sc, ciclop_state_fn state, void *arg,
				       lb_error *err);

/* The simulated lab's scanner: a 640x480 webcam 290 mm from the table looking down at it, one
 * laser 30 degrees aside, and its object: a box with a cylinder against it (a concavity). */
void ciclop_sim_scene(ciclop_scene *sc);

/* The simulated lab's calibration plate (a teacher's: Horus's 11 x 6 inner corners of 13 mm, the
 * bottom row 30 mm above the table, leaning back CICLOP_SIM_PLATE_TILT degrees on its stand). */
#define CICLOP_SIM_PLATE_COLS 11
#define CICLOP_SIM_PLATE_ROWS 6
#define CICLOP_SIM_PLATE_SQUARE 13.0
#define CICLOP_SIM_PLATE_ORIGIN 30.0
#define CICLOP_SIM_PLATE_TILT 15.0

/* The simulated scanner with the calibration plate on its table instead of the object. */
void ciclop_sim_plate_scene(ciclop_scene *sc);

#endif
