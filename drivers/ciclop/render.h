/* render.h - synthetic 3D-scanner camera: the grey frames a camera sees of a known object, pure. */
#ifndef LB_CICLOP_RENDER_H
#define LB_CICLOP_RENDER_H

#include <stdint.h>

#include "recon.h"

/* A solid standing on the table (object frame, mm): a vertical cylinder or an upright box. */
typedef enum ciclop_shape_kind {
	CICLOP_SHAPE_NONE = 0,
	CICLOP_SHAPE_CYLINDER, /* axis at (x, z), radius r, height h */
	CICLOP_SHAPE_BOX,      /* centre at (x, z), half-sizes hx, hz, height h */
} ciclop_shape_kind;

typedef struct ciclop_shape {
	ciclop_shape_kind kind;
	double x, z, r, hx, hz, h;
} ciclop_shape;

#define CICLOP_SCENE_SHAPES 4

/*
 * A calibration plate standing on the turntable (object frame, so it turns with the table): a
 * chessboard of cols x rows inner corners (cols + 1 by rows + 1 squares of `square` mm, one square
 * of white margin around), its foot a horizontal line at (0, 0, z) along x, leaning back (towards
 * +z) by tilt degrees; the bottom row of inner corners `origin` mm up the plate from its foot.
 * In the pattern's own frame (OpenCV's object points, z = 0), inner corner (i, j) is at
 * (i * square, j * square): i grows to the camera's right and j downwards when the table is at 0
 * (camera at -z looking +z). cols == 0: no plate.
 */
typedef struct ciclop_plate {
	int cols, rows;
	double square, origin, tilt, z;
} ciclop_plate;

/* The object-frame point of pattern point (px, py, 0) of plate pl into out. */
void ciclop_plate_point(const ciclop_plate *pl, double px, double py, double out[3]);

/* The simulated scanner: camera, one line laser, turntable, and an object made of up to
 * CICLOP_SCENE_SHAPES solids (unions make concavities). */
typedef struct ciclop_scene {
	ciclop_camera cam;
	double laser_pos[3]; /* the laser's source (table frame, mm) */
	double laser_n[3]; /* its plane in the table frame: laser_n . p = laser_d, |laser_n| = 1 */
	double laser_d;
	double laser_sigma; /* the sheet's Gaussian half-thickness (mm), e.g. 0.4 */
	double laser_peak;  /* grey levels the line adds at its centre, e.g. 110 */
	ciclop_shape shapes[CICLOP_SCENE_SHAPES]; /* the object: their union (object frame) */
	double table_r;				  /* the turntable's radius (mm) */
	ciclop_plate plate;  /* a calibration plate on the table (cols 0: none) */
	uint32_t noise_seed; /* deterministic sensor noise (+-2 grey levels); 0: none */
} ciclop_scene;

/*
 * Render what the camera sees at table angle a (radians): off (laser off) and on (laser on), each
 * cam.width x cam.height grey bytes, tightly packed. The laser lights what its source sees (shadows
 * cast), with a Gaussian profile across its plane. Returns 0, or LB_EINVAL on absurd arguments.
 */
int ciclop_render(const ciclop_scene *sc, double a, uint8_t *on, uint8_t *off);

/* The distance (mm) from p (object frame) to the surface of sc's object (the union's signed
 * distance, made positive: exact outside, the nearest solid's face inside). */
double ciclop_object_distance(const ciclop_scene *sc, const double p[3]);

#endif
