/* recon.h - 3D-scanner reconstruction, pure: laser line per row, triangulation, turntable rotation.
 */
#ifndef LB_CICLOP_RECON_H
#define LB_CICLOP_RECON_H

#include <stddef.h>
#include <stdint.h>

/*
 * Frames: the table frame has its origin at the turntable's centre on its surface, y up along the
 * rotation axis (millimetres). The camera frame has x right, y down, z forward (OpenCV's), pixel
 * (u, v) with integer coordinates at pixel centres. A point p of the table frame is R p + t in the
 * camera frame. The object turns with the table: at table angle a (radians, counter-clockwise seen
 * from above), an object point q is at ciclop_rotate_y(a, q) in the table frame.
 */
typedef struct ciclop_camera {
	int width, height;
	double fx, fy, cx, cy; /* pinhole intrinsics (pixels) */
	double k[5];	       /* lens distortion, OpenCV's order and model: k1 k2 p1 p2 k3 */
	double R[9];	       /* camera from table: rotation, row-major */
	double t[3];	       /* camera from table: translation (mm) */
} ciclop_camera;

/* A laser plane in the camera frame: n . p = d, |n| = 1. */
typedef struct ciclop_plane {
	double n[3];
	double d;
} ciclop_plane;

/* A coloured point of the object (object frame, mm). */
typedef struct ciclop_point {
	float x, y, z;
	uint8_t r, g, b;
} ciclop_point;

/* What counts as the object: inside a cylinder around the table axis (table frame, mm). */
typedef struct ciclop_roi {
	double radius;
	double ymin, ymax;
} ciclop_roi;

/* The laser line's detection settings: a row has a line when (on - off) peaks at threshold or more;
 * the sub-pixel centre is the centre of mass of (on - off - peak * floor) over peak +- half_window.
 */
typedef struct ciclop_detect_opts {
	int threshold;	 /* grey levels, e.g. 20 */
	int half_window; /* pixels, e.g. 8 */
	double floor;	 /* fraction of the peak taken off each weight, 0..1, e.g. 0.3 */
} ciclop_detect_opts;

/* Rotate p about the table's y axis by a radians into out (out may be p). */
void ciclop_rotate_y(double a, const double p[3], double out[3]);

/*
 * Place a camera of the given intrinsics (cam->width..cy set by the caller) at eye, looking at
 * target (table frame), upright (image rows go down the table axis): fills cam->R and cam->t.
 * Returns 0, or LB_EINVAL when eye and target coincide or the view is along the table axis.
 */
int ciclop_camera_lookat(ciclop_camera *cam, const double eye[3], const double target[3]);

/* The plane n . p = d of the table frame (|n| = 1) expressed in cam's frame, into *out. */
void ciclop_plane_from_table(const ciclop_camera *cam, const double n[3], double d,
			     ciclop_plane *out);

/*
 * Find the laser line in each row of two grey frames (laser on, laser off) of width x height
 * bytes with the given row stride: cols[v] is its sub-pixel column, or -1 when the row has none.
 * Returns the number of rows with a line, or LB_EINVAL on absurd arguments.
 */
int ciclop_detect(const uint8_t *on, const uint8_t *off, int width, int height, size_t stride,
		  const ciclop_detect_opts *opts, float *cols);

/* Pixel (u, v)'s ray in the camera frame, (x, y, 1) into r: the lens distortion undone
 * (OpenCV's fixed-point iteration; exact when k is all zero). */
void ciclop_pixel_ray(const ciclop_camera *cam, double u, double v, double r[3]);

/* Where the ray (x, y, 1) of the camera frame lands on the image, distortion applied: *u, *v. */
void ciclop_project_ray(const ciclop_camera *cam, double x, double y, double *u, double *v);

/*
 * Intersect pixel (u, v)'s ray with the laser plane: the point, in the table frame, into out.
 * Returns 0, or LB_EINVAL when the ray is parallel to the plane or meets it behind the camera.
 */
int ciclop_triangulate(const ciclop_camera *cam, const ciclop_plane *pl, double u, double v,
		       double out[3]);

/*
 * Turn one step's detected columns (cols[cam->height], from ciclop_detect) into object points:
 * triangulated with pl, kept when inside roi, turned back by the table angle a, coloured from
 * texture (cam->width x cam->height, channels 1 = grey or 3 = RGB, tightly packed; NULL: white).
 * Writes at most cap points to out and returns how many were written.
 */
size_t ciclop_points(const ciclop_camera *cam, const ciclop_plane *pl, double a, const float *cols,
		     const uint8_t *texture, int channels, const ciclop_roi *roi, ciclop_point *out,
		     size_t cap);

#endif
