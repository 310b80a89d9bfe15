/* calib.h - a 3D scanner's calibration (intrinsics, distortion, turntable pose, laser planes) as
 * JSON, checked strictly, stored per device in the data directory. */
#ifndef LB_CICLOP_CALIB_H
#define LB_CICLOP_CALIB_H

#include <jansson.h>

#include "../../bridge/util/error.h"
#include "../../protocols/ciclop.h"
#include "recon.h"

/* What reconstruction needs: the camera (intrinsics, distortion, camera-from-table R|t) and one
 * plane per laser (camera frame), laser n+1 in laser[n]. */
typedef struct ciclop_calib {
	ciclop_camera cam;
	int nlasers; /* 1..CICLOP_LASERS_MAX */
	ciclop_plane laser[CICLOP_LASERS_MAX];
} ciclop_calib;

/*
 * The JSON object, all numbers finite (millimetres, pixels):
 *   {"width": W, "height": H,                            16..8192 pixels
 *    "intrinsics": {"fx", "fy", "cx", "cy"},             f in (0, 100000], c inside the image
 *    "distortion": [k1, k2, p1, p2, k3],                 OpenCV's order, each |k| <= 100
 *    "turntable": {"rotation": [9, row-major], "translation": [x, y, z]},
 *                  camera from table: orthonormal within 1e-4 (det -1 for recon.h's
 *                  frames: table y up, camera y down), |t| <= 10 m
 *    "lasers": [{"normal": [nx, ny, nz], "distance": d}, ...]}
 *                  1..CICLOP_LASERS_MAX planes n . p = d in the camera frame, |n| = 1 +- 1e-3
 * Fills *out (normals made exactly unit); 0, or LB_EFAIL with err (LB_ERR_INVALID_PARAMS, a
 * message naming the field) and *out untouched. Unknown keys are refused.
 */
int ciclop_calib_from_json(const json_t *j, ciclop_calib *out, lb_error *err);

/* The calibration as a new JSON object (the format above); NULL only when out of memory. */
json_t *ciclop_calib_to_json(const ciclop_calib *c);

/* Read path: 0 with *out, 1 when there is no such file, or LB_EFAIL with err (unreadable, not
 * JSON, refused by ciclop_calib_from_json: the message names the file). */
int ciclop_calib_load(const char *path, ciclop_calib *out, lb_error *err);

/* Write c to path atomically (a temporary file renamed over it), creating its directory. 0, or
 * LB_EFAIL with err set. */
int ciclop_calib_save(const char *path, const ciclop_calib *c, lb_error *err);

#endif
