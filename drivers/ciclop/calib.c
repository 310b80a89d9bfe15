/* calib.c - a 3D scanner's calibration as JSON: strict checks, load and atomic save. */
#include "calib.h"

#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../bridge/sdk/params.h"
#include "../../bridge/util/fsutil.h"

/* n finite numbers of the array at key of o (exactly n) into out, each |x| <= lim. 0 or LB_EFAIL
 * with err naming what. */
static int numbers(const json_t *o, const char *key, const char *what, size_t n, double lim,
		   double *out, lb_error *err)
{
	const json_t *a = json_object_get(o, key);

	if (!json_is_array(a) || json_array_size(a) != n)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "%s must be an array of %zu numbers", what, n);
	for (size_t i = 0; i < n; i++) {
		const json_t *x = json_array_get(a, i);
		double v = json_number_value(x);
		if (!json_is_number(x) || !isfinite(v) || fabs(v) > lim)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s[%zu] must be a finite number, |x| <= %g", what, i,
					    lim);
		out[i] = v;
	}
	return 0;
}

/* Whether o is an object with only the keys given (else err says which one is not). */
static int only(const json_t *o, const char *what, const char *const *keys, lb_error *err)
{
	if (!json_is_object(o))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "%s must be an object", what);
	return lb_param_only(o, keys, err) < 0 ? LB_EFAIL : 0;
}

int ciclop_calib_from_json(const json_t *j, ciclop_calib *out, lb_error *err)
{
	static const char *const top[] = {"width",     "height", "intrinsics", "distortion",
					  "turntable", "lasers", NULL};
	static const char *const intr[] = {"fx", "fy", "cx", "cy", NULL};
	static const char *const tt[] = {"rotation", "translation", NULL};
	static const char *const lk[] = {"normal", "distance", NULL};
	const json_t *in, *t, *ls;
	ciclop_calib c;
	long long w, h;
	double f[4];

	memset(&c, 0, sizeof c);
	if (only(j, "the calibration", top, err) < 0 ||
	    lb_param_int(j, "width", true, 16, 8192, &w, err) < 0 ||
	    lb_param_int(j, "height", true, 16, 8192, &h, err) < 0)
		return LB_EFAIL;
	c.cam.width = (int)w, c.cam.height = (int)h;
	in = json_object_get(j, "intrinsics");
	if (only(in, "intrinsics", intr, err) < 0)
		return LB_EFAIL;
	for (int i = 0; i < 4; i++)
		if (lb_param_number(in, intr[i], true, i < 2 ? 1e-6 : 0,
				    i < 2 ? 1e5 : (i == 2 ? (double)w : (double)h), &f[i], err) < 0)
			return LB_EFAIL;
	c.cam.fx = f[0], c.cam.fy = f[1], c.cam.cx = f[2], c.cam.cy = f[3];
	if (numbers(j, "distortion", "distortion", 5, 100, c.cam.k, err) < 0)
		return LB_EFAIL;
	t = json_object_get(j, "turntable");
	if (only(t, "turntable", tt, err) < 0 ||
	    numbers(t, "rotation", "turntable.rotation", 9, 1.0001, c.cam.R, err) < 0 ||
	    numbers(t, "translation", "turntable.translation", 3, 10000, c.cam.t, err) < 0)
		return LB_EFAIL;
	{ /* R R^T = I and det R = +1 */
		const double *R = c.cam.R;
		double det = R[0] * (R[4] * R[8] - R[5] * R[7]) -
			     R[1] * (R[3] * R[8] - R[5] * R[6]) +
			     R[2] * (R[3] * R[7] - R[4] * R[6]);
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++) {
				double d = R[3 * a] * R[3 * b] + R[3 * a + 1] * R[3 * b + 1] +
					   R[3 * a + 2] * R[3 * b + 2];
				if (fabs(d - (a == b)) > 1e-4)
					return lb_error_set(err, LB_ERR_INVALID_PARAMS,
							    "turntable.rotation is not a rotation "
							    "(its rows must be orthonormal)");
			}
		/* recon.h's table frame (y up) and camera frame (y down) differ in handedness:
		 * det -1 there; a right-handed table frame gives +1 */
		if (fabs(fabs(det) - 1) > 1e-4)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "turntable.rotation is not a rotation (determinant %g)",
					    det);
	}
	ls = json_object_get(j, "lasers");
	if (!json_is_array(ls) || json_array_size(ls) < 1 ||
	    json_array_size(ls) > CICLOP_LASERS_MAX)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "lasers must be an array of 1 to %d planes {normal, distance}",
				    CICLOP_LASERS_MAX);
	c.nlasers = (int)json_array_size(ls);
	for (int i = 0; i < c.nlasers; i++) {
		const json_t *l = json_array_get(ls, (size_t)i);
		ciclop_plane *p = &c.laser[i];
		double len;
		if (only(l, "lasers[]", lk, err) < 0 ||
		    numbers(l, "normal", "lasers[].normal", 3, 1.01, p->n, err) < 0 ||
		    lb_param_number(l, "distance", true, -10000, 10000, &p->d, err) < 0)
			return LB_EFAIL;
		len = sqrt(p->n[0] * p->n[0] + p->n[1] * p->n[1] + p->n[2] * p->n[2]);
		if (fabs(len - 1) > 1e-3)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "lasers[%d].normal must be a unit vector (length %g)",
					    i, len);
		for (int k = 0; k < 3; k++)
			p->n[k] /= len;
	}
	*out = c;
	return 0;
}

/* An array of n numbers as JSON, or NULL. */
static json_t *array(const double *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_real(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *ciclop_calib_to_json(const ciclop_calib *c)
{
	json_t *ls = json_array(), *o;

	for (int i = 0; ls && i < c->nlasers; i++)
		if (json_array_append_new(ls,
					  json_pack("{s:o*,s:f}", "normal", array(c->laser[i].n, 3),
						    "distance", c->laser[i].d)) < 0) {
			json_decref(ls);
			return NULL;
		}
	if (!ls)
		return NULL;
	o = json_pack("{s:i,s:i,s:{s:f,s:f,s:f,s:f},s:o*,s:{s:o*,s:o*},s:o}", "width", c->cam.width,
		      "height", c->cam.height, "intrinsics", "fx", c->cam.fx, "fy", c->cam.fy, "cx",
		      c->cam.cx, "cy", c->cam.cy, "distortion", array(c->cam.k, 5), "turntable",
		      "rotation", array(c->cam.R, 9), "translation", array(c->cam.t, 3), "lasers",
		      ls);
	return o;
}

int ciclop_calib_load(const char *path, ciclop_calib *out, lb_error *err)
{
	json_error_t je;
	json_t *j;
	lb_error e2 = {0};

	if (access(path, F_OK) != 0 && errno == ENOENT)
		return 1;
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return lb_error_set(err, LB_ERR_DEVICE, "calibration %s: %s (line %d)", path,
				    je.text, je.line);
	if (ciclop_calib_from_json(j, out, &e2) < 0) {
		json_decref(j);
		return lb_error_set(err, LB_ERR_DEVICE, "calibration %s: %s", path, e2.message);
	}
	json_decref(j);
	return 0;
}

int ciclop_calib_save(const char *path, const ciclop_calib *c, lb_error *err)
{
	char dir[1024], tmp[1100];
	json_t *j = ciclop_calib_to_json(c);
	int rc = LB_EFAIL;

	if (!j)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir ||
	    snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		lb_error_set(err, LB_ERR_INTERNAL, "calibration path too long");
		goto out;
	}
	if (lb_mkdirs(dirname(dir), 0755) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot create the folder of %s: %s", path,
			     strerror(errno));
		goto out;
	}
	if (json_dump_file(j, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) < 0 ||
	    rename(tmp, path) < 0) {
		lb_error_set(err, LB_ERR_INTERNAL, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}
