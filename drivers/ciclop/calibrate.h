/* calibrate.h - a 3D scanner's calibration from a chessboard on the turntable (Debian's OpenCV,
 * C interface; no exception crosses it). */
#ifndef LB_CICLOP_CALIBRATE_H
#define LB_CICLOP_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "../../bridge/util/error.h" /* C declarations, also from C++ */
#include "calib.h"
#include "recon.h"

/*
 * The procedure, as Horus does it, with the pattern standing on the turntable (a plate, its rows
 * level, facing the camera when the table is at 0): at each of several table angles a frame with
 * every laser off (the chessboard: findChessboardCorners + cornerSubPix) and one per laser lit.
 *   - intrinsics and distortion (k1 k2 p1 p2 k3) from every view (calibrateCamera);
 *   - the pattern's pose per view (solvePnP with those);
 *   - each laser's plane: the line's pixels (ciclop_detect, on - off) on the chessboard's squares
 *     back-projected onto the pattern's plane, over every view, a plane fitted by least squares
 *     (cv::SVD of the centred points, one pass dropping points beyond 3 RMS);
 *   - the turntable: the pattern origin's positions fitted by a circle (its plane: the axis, up
 *     against the pattern's rows; its centre: a point of the axis), the table's surface where the
 *     plate stands (`origin` mm below the bottom row of inner corners, along the plate); the table
 *     frame's x axis is the pattern's -x turned back to angle 0 (the camera's left at angle 0), y
 *     up the axis, z = x cross y (away from the camera) - the frames of recon.h and render.h.
 */
typedef struct ciclop_pattern {
	int cols, rows; /* inner corners, e.g. 11 x 6 (Horus's) */
	double square;	/* mm, e.g. 13 */
	double origin;	/* mm from the table up the plate to the bottom row of inner corners */
} ciclop_pattern;

/* What the fit says of itself. */
typedef struct ciclop_calib_report {
	int views, found; /* views given, views where the chessboard was found */
	double reproj_px; /* calibrateCamera's RMS reprojection error (pixels) */
	int nlasers;
	int laser_points[CICLOP_LASERS_MAX];	/* points in each plane's fit */
	double laser_rms_mm[CICLOP_LASERS_MAX]; /* their RMS distance to it */
	double table_rms_mm;	/* RMS of the pattern origin's distances to the fitted circle */
	double table_radius_mm; /* that circle's radius */
} ciclop_calib_report;

typedef struct ciclop_calibrator ciclop_calibrator;

/*
 * A calibration of frames of width x height grey bytes with up to nlasers lasers
 * (1..CICLOP_LASERS_MAX), of views (1..64) table angles, for pattern p (cols, rows 3..50, square
 * 1..200 mm, origin 0..500 mm). NULL with err set (LB_ERR_INVALID_PARAMS, or out of memory).
 */
ciclop_calibrator *ciclop_calibrator_new(const ciclop_pattern *p, int width, int height,
					 int nlasers, int views, lb_error *err);

/*
 * View i (0..views-1, each once) at table angle angle_deg: grey is the laser-off frame (width *
 * height, tightly packed; copied). The chessboard is looked for in the calibrator's own thread
 * (findChessboardCorners takes seconds on some frames where it fails): ciclop_calibrator_status
 * says how far it got. Returns 0, or LB_EFAIL with err (bad index, a view given twice, out of
 * memory).
 */
int ciclop_calibrator_view(ciclop_calibrator *c, int i, double angle_deg, const uint8_t *grey,
			   lb_error *err);

/* The views not searched yet (0: all done); *checked and *found (may be NULL): how many were,
 * and how many showed the chessboard (c NULL: 0 and none). Never blocks for long (a lock). */
int ciclop_calibrator_status(ciclop_calibrator *c, int *checked, int *found);

/* Wait up to timeout_ms for every view given to be searched; returns the views still pending. */
int ciclop_calibrator_wait(ciclop_calibrator *c, int timeout_ms);

/* Laser n (1..nlasers) lit in view i (given before): its line found now against the view's
 * laser-off frame with det. Returns the rows with a line, or LB_EFAIL with err. */
int ciclop_calibrator_laser(ciclop_calibrator *c, int i, int n, const uint8_t *on,
			    const ciclop_detect_opts *det, lb_error *err);

/*
 * Fit everything from the views given (each searched: LB_EFAIL while some are pending): *out (a
 * calibration calib.c can store: the frame size, intrinsics, distortion, table pose, nlasers
 * planes) and *rep. 0, or LB_EFAIL with err (LB_ERR_DEVICE) and *out untouched: "no chessboard
 * found in N of M frames (light, focus, pattern in view?)" (fewer than 3, or than two thirds of the
 * views, show it), "laser N: laser line not found on the pattern", an unusable fit. *rep is filled
 * as far as it got.
 */
int ciclop_calibrator_solve(ciclop_calibrator *c, ciclop_calib *out, ciclop_calib_report *rep,
			    lb_error *err);

/* Stop the search thread (after the frame it is on, if any) and free; accepts NULL and *c NULL;
 * sets *c NULL. */
void ciclop_calibrator_destroy(ciclop_calibrator **c);

/*
 * The calibration links OpenCV (two dozen shared libraries, ~7 MB resident): it is built as a
 * module of its own, labbridge-calibrate.so, that the bridge loads the first time a calibration
 * runs (calibrate_load.c), so a bridge that never calibrates never maps OpenCV. The module
 * exports this table, version 1; the functions above forward to it.
 */
typedef struct ciclop_calibrate_api {
	int version; /* CICLOP_CALIBRATE_API_VERSION */
	ciclop_calibrator *(*create)(const ciclop_pattern *p, int width, int height, int nlasers,
				     int views, lb_error *err);
	int (*view)(ciclop_calibrator *c, int i, double angle_deg, const uint8_t *grey,
		    lb_error *err);
	int (*status)(ciclop_calibrator *c, int *checked, int *found);
	int (*wait)(ciclop_calibrator *c, int timeout_ms);
	int (*laser)(ciclop_calibrator *c, int i, int n, const uint8_t *on,
		     const ciclop_detect_opts *det, lb_error *err);
	int (*solve)(ciclop_calibrator *c, ciclop_calib *out, ciclop_calib_report *rep,
		     lb_error *err);
	void (*destroy)(ciclop_calibrator **c);
} ciclop_calibrate_api;

#define CICLOP_CALIBRATE_API_VERSION 1
#define CICLOP_CALIBRATE_MODULE "labbridge-calibrate.so"
#define CICLOP_CALIBRATE_SYMBOL "ciclop_calibrate_api_v1"

#ifdef __cplusplus
}
#endif

#endif
