/* recon.c - 3D-scanner reconstruction: sub-pixel laser line, ray/plane triangulation, rotation. */
#include "recon.h"

#include <math.h>

#include "../../bridge/util/error.h"

/* 3-vector helpers (the only linear algebra needed here: 3x3 by hand). */
static double dot3(const double a[3], const double b[3])
{
	return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static void cross3(const double a[3], const double b[3], double out[3])
{
	double x = a[1] * b[2] - a[2] * b[1], y = a[2] * b[0] - a[0] * b[2],
	       z = a[0] * b[1] - a[1] * b[0];
	out[0] = x, out[1] = y, out[2] = z;
}

/* Normalise v in place; returns 0, or -1 when v is (nearly) zero. */
static int norm3(double v[3])
{
	double l = sqrt(dot3(v, v));
	if (!(l > 1e-12))
		return -1;
	v[0] /= l, v[1] /= l, v[2] /= l;
	return 0;
}

void ciclop_rotate_y(double a, const double p[3], double out[3])
{
	double c = cos(a), s = sin(a), x = p[0], z = p[2];

	out[0] = c * x + s * z;
	out[1] = p[1];
	out[2] = -s * x + c * z;
}

int ciclop_camera_lookat(ciclop_camera *cam, const double eye[3], const double target[3])
{
	double f[3] = {target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]};
	double down[3] = {0, -1, 0}, x[3], y[3];

	if (norm3(f) < 0)
		return LB_EINVAL;
	cross3(down, f, x);
	if (norm3(x) < 0)
		return LB_EINVAL;
	cross3(f, x, y);
	for (int i = 0; i < 3; i++)
		cam->R[i] = x[i], cam->R[3 + i] = y[i], cam->R[6 + i] = f[i];
	for (int i = 0; i < 3; i++)
		cam->t[i] = -dot3(cam->R + 3 * i, eye);
	return 0;
}

void ciclop_plane_from_table(const ciclop_camera *cam, const double n[3], double d,
			     ciclop_plane *out)
{
	for (int i = 0; i < 3; i++)
		out->n[i] = dot3(cam->R + 3 * i, n);
	/* n.p = d with p = R^T (q - t): (R n).q = d + (R n).t */
	out->d = d + dot3(out->n, cam->t);
}

int ciclop_detect(const uint8_t *on, const uint8_t *off, int width, int height, size_t stride,
		  const ciclop_detect_opts *opts, float *cols)
{
	int found = 0, hw;

	if (!on || !off || !cols || !opts || width <= 0 || height <= 0 || stride < (size_t)width ||
	    opts->half_window < 0 || opts->threshold < 1 || !(opts->floor >= 0 && opts->floor < 1))
		return LB_EINVAL;
	hw = opts->half_window;
	for (int v = 0; v < height; v++) {
		const uint8_t *a = on + (size_t)v * stride, *b = off + (size_t)v * stride;
		int best = 0, bu = -1;

		for (int u = 0; u < width; u++) {
			int d = (int)a[u] - (int)b[u];
			if (d > best)
				best = d, bu = u;
		}
		if (best < opts->threshold) {
			cols[v] = -1;
			continue;
		}
		double fl = best * opts->floor, sw = 0, su = 0;
		int lo = bu - hw < 0 ? 0 : bu - hw, hi = bu + hw >= width ? width - 1 : bu + hw;
		for (int u = lo; u <= hi; u++) {
			double w = (double)((int)a[u] - (int)b[u]) - fl;
			if (w > 0)
				sw += w, su += w * u;
		}
		cols[v] = sw > 0 ? (float)(su / sw) : (float)bu;
		found++;
	}
	return found;
}

/* OpenCV's distortion of normalised coordinates (x, y) into (*xd, *yd). */
static void distort(const double k[5], double x, double y, double *xd, double *yd)
{
	double r2 = x * x + y * y, radial = 1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]));

	*xd = x * radial + 2 * k[2] * x * y + k[3] * (r2 + 2 * x * x);
	*yd = y * radial + k[2] * (r2 + 2 * y * y) + 2 * k[3] * x * y;
}

void ciclop_project_ray(const ciclop_camera *cam, double x, double y, double *u, double *v)
{
	double xd, yd;

	distort(cam->k, x, y, &xd, &yd);
	*u = cam->fx * xd + cam->cx;
	*v = cam->fy * yd + cam->cy;
}

void ciclop_pixel_ray(const ciclop_camera *cam, double u, double v, double r[3])
{
	const double *k = cam->k;
	double xd = (u - cam->cx) / cam->fx, yd = (v - cam->cy) / cam->fy, x = xd, y = yd;

	if (k[0] != 0 || k[1] != 0 || k[2] != 0 || k[3] != 0 || k[4] != 0)
		for (int i = 0; i < 20; i++) { /* as cv::undistortPoints */
			double r2 = x * x + y * y,
			       radial = 1 + r2 * (k[0] + r2 * (k[1] + r2 * k[4]));
			double dx = 2 * k[2] * x * y + k[3] * (r2 + 2 * x * x),
			       dy = k[2] * (r2 + 2 * y * y) + 2 * k[3] * x * y;
			if (!(radial > 0.1))
				break; /* far outside the calibrated field: keep the last estimate
					*/
			x = (xd - dx) / radial;
			y = (yd - dy) / radial;
		}
	r[0] = x, r[1] = y, r[2] = 1;
}

int ciclop_triangulate(const ciclop_camera *cam, const ciclop_plane *pl, double u, double v,
		       double out[3])
{
	double r[3], den, s, q[3];

	ciclop_pixel_ray(cam, u, v, r);
	den = dot3(pl->n, r);
	if (fabs(den) < 1e-9)
		return LB_EINVAL;
	s = pl->d / den;
	if (!(s > 0))
		return LB_EINVAL;
	for (int i = 0; i < 3; i++)
		q[i] = s * r[i] - cam->t[i];
	/* p = R^T (q - t) */
	for (int i = 0; i < 3; i++)
		out[i] = cam->R[i] * q[0] + cam->R[3 + i] * q[1] + cam->R[6 + i] * q[2];
	return 0;
}

size_t ciclop_points(const ciclop_camera *cam, const ciclop_plane *pl, double a, const float *cols,
		     const uint8_t *texture, int channels, const ciclop_roi *roi, ciclop_point *out,
		     size_t cap)
{
	size_t n = 0;

	for (int v = 0; v < cam->height && n < cap; v++) {
		double p[3], q[3];
		float u = cols[v];

		if (!(u >= 0) || u > cam->width - 1)
			continue;
		if (ciclop_triangulate(cam, pl, u, v, p) < 0)
			continue;
		if (p[1] < roi->ymin || p[1] > roi->ymax || hypot(p[0], p[2]) > roi->radius)
			continue;
		ciclop_rotate_y(-a, p, q);
		ciclop_point *o = &out[n++];
		o->x = (float)q[0], o->y = (float)q[1], o->z = (float)q[2];
		o->r = o->g = o->b = 255;
		if (texture && (channels == 1 || channels == 3)) {
			const uint8_t *px =
			    texture + ((size_t)v * cam->width + (size_t)lrintf(u)) * channels;
			o->r = px[0];
			o->g = px[channels == 3 ? 1 : 0];
			o->b = px[channels == 3 ? 2 : 0];
		}
	}
	return n;
}
