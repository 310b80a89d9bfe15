/* render.h - synthetic 3D-scanner camera: the grey frames a camera sees of a known object, pure. */
#ifndef LB_CICLOP_RENDER_H
#define LB_CICLOP_RENDER_H

#include <stdint.h>

#include "recon.h"

/* The simulated scanner: camera, one line laser, turntable, and a cylinder standing on the table.
 */
typedef struct ciclop_scene {
	ciclop_camera cam;
	double laser_pos[3]; /* the laser's source (table frame, mm) */
	double laser_n[3]; /* its plane in the table frame: laser_n . p = laser_d, |laser_n| = 1 */
	double laser_d;
	double laser_sigma;  /* the sheet's Gaussian half-thickness (mm), e.g. 0.4 */
	double laser_peak;   /* grey levels the line adds at its centre, e.g. 110 */
	double cyl_r, cyl_h; /* the object: a cylinder of radius cyl_r, height cyl_h (mm) ... */
	double cyl_x, cyl_z; /* ... its axis at (cyl_x, cyl_z) in the object frame */
	double table_r;	     /* the turntable's radius (mm) */
	uint32_t noise_seed; /* deterministic sensor noise (+-2 grey levels); 0: none */
} ciclop_scene;

/*
 * Render what the camera sees at table angle a (radians): off (laser off) and on (laser on), each
 * cam.width x cam.height grey bytes, tightly packed. The laser lights what its source sees (shadows
 * cast), with a Gaussian profile across its plane. Returns 0, or LB_EINVAL on absurd arguments.
 */
int ciclop_render(const ciclop_scene *sc, double a, uint8_t *on, uint8_t *off);

/* The distance (mm) from p (object frame) to the surface of sc's cylinder. */
double ciclop_cylinder_distance(const ciclop_scene *sc, const double p[3]);

#endif
