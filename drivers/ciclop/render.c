/* render.c - synthetic 3D-scanner camera: ray-casts an object or a calibration chessboard on a
 * turntable under a line laser. */
#include "render.h"

#include <math.h>

#include "../../bridge/util/error.h"

#define EPS 1e-6

/* What a ray hit: distance along it, point and normal (table frame), albedo 0..1, whether the
 * calibration plate. */
typedef struct hit {
	double t, p[3], n[3], albedo;
	int plate;
} hit;

/* The plate's axes in the object frame: ex (pattern x), ey (pattern y), ez (ex x ey, away from
 * the camera at table angle 0), and the pattern's origin o. */
static void plate_frame(const ciclop_plate *pl, double ex[3], double ey[3], double ez[3],
			double o[3])
{
	double tau = pl->tilt * M_PI / 180, c = cos(tau), s = sin(tau);
	double up = pl->origin + (pl->rows - 1) * pl->square;

	ex[0] = -1, ex[1] = 0, ex[2] = 0;
	ey[0] = 0, ey[1] = -c, ey[2] = -s;
	ez[0] = 0, ez[1] = -s, ez[2] = c;
	o[0] = (pl->cols - 1) * pl->square / 2, o[1] = up * c, o[2] = pl->z + up * s;
}

void ciclop_plate_point(const ciclop_plate *pl, double px, double py, double out[3])
{
	double ex[3], ey[3], ez[3], o[3];

	plate_frame(pl, ex, ey, ez, o);
	for (int k = 0; k < 3; k++)
		out[k] = o[k] + px * ex[k] + py * ey[k];
}

/* Where the ray o + t d (object frame) meets the plate's plane: t into *t, pattern coordinates
 * into *px, *py. Returns 1, or 0 when parallel. */
static int plate_plane(const ciclop_plate *pl, const double ro[3], const double d[3], double *t,
		       double *px, double *py)
{
	double ex[3], ey[3], ez[3], o[3], q[3];
	double den;

	plate_frame(pl, ex, ey, ez, o);
	den = d[0] * ez[0] + d[1] * ez[1] + d[2] * ez[2];
	if (fabs(den) < EPS)
		return 0;
	*t = ((o[0] - ro[0]) * ez[0] + (o[1] - ro[1]) * ez[1] + (o[2] - ro[2]) * ez[2]) / den;
	for (int k = 0; k < 3; k++)
		q[k] = ro[k] + *t * d[k] - o[k];
	*px = q[0] * ex[0] + q[1] * ex[1] + q[2] * ex[2];
	*py = q[0] * ey[0] + q[1] * ey[1] + q[2] * ey[2];
	return 1;
}

/* Whether pattern point (px, py) is on the plate (the squares, a square's margin, down to the
 * foot). */
static int plate_inside(const ciclop_plate *pl, double px, double py)
{
	double s = pl->square;

	return px >= -2 * s && px <= (pl->cols + 1) * s && py >= -2 * s &&
	       py <= (pl->rows - 1) * s + pl->origin;
}

/* The plate's albedo at pattern point (px, py): black and white squares, white margin. */
static double plate_albedo(const ciclop_plate *pl, double px, double py)
{
	double s = pl->square;

	if (px < -s || px >= pl->cols * s || py < -s || py >= pl->rows * s)
		return 0.85;
	return (((int)floor(px / s) + (int)floor(py / s)) & 1) ? 0.06 : 0.85;
}

/*
 * Intersect the ray o + t d (object frame) with solid s; when it meets s at tmin < t < *tbest,
 * set *tbest and the outward normal n.
 */
static void shape_hit(const ciclop_shape *s, const double o[3], const double d[3], double tmin,
		      double *tbest, double n[3])
{
	if (s->kind == CICLOP_SHAPE_CYLINDER && s->r > 0) {
		double ox = o[0] - s->x, oz = o[2] - s->z;
		double A = d[0] * d[0] + d[2] * d[2], B = 2 * (ox * d[0] + oz * d[2]),
		       C = ox * ox + oz * oz - s->r * s->r;
		if (A > EPS && B * B - 4 * A * C >= 0) {
			double q = sqrt(B * B - 4 * A * C);
			for (int k = 0; k < 2; k++) {
				double tk = (-B + (k ? q : -q)) / (2 * A), y = o[1] + tk * d[1];
				if (tk > tmin && y >= 0 && y <= s->h && tk < *tbest) {
					*tbest = tk;
					n[0] = (ox + tk * d[0]) / s->r, n[1] = 0;
					n[2] = (oz + tk * d[2]) / s->r;
				}
			}
		}
		if (fabs(d[1]) > EPS) { /* top cap */
			double tk = (s->h - o[1]) / d[1], x = ox + tk * d[0], z = oz + tk * d[2];
			if (tk > tmin && tk < *tbest && x * x + z * z <= s->r * s->r)
				*tbest = tk, n[0] = 0, n[1] = 1, n[2] = 0;
		}
	} else if (s->kind == CICLOP_SHAPE_BOX) {
		double lo[3] = {s->x - s->hx, 0, s->z - s->hz},
		       hi[3] = {s->x + s->hx, s->h, s->z + s->hz};
		double t0 = -INFINITY, t1 = INFINITY;
		int ax = -1;
		double sg = 0;
		for (int k = 0; k < 3; k++) {
			if (fabs(d[k]) < 1e-12) {
				if (o[k] < lo[k] || o[k] > hi[k])
					return;
				continue;
			}
			double ta = (lo[k] - o[k]) / d[k], tb = (hi[k] - o[k]) / d[k];
			double sa = -1;
			if (ta > tb) {
				double x = ta;
				ta = tb, tb = x, sa = 1;
			}
			if (ta > t0)
				t0 = ta, ax = k, sg = sa;
			if (tb < t1)
				t1 = tb;
		}
		if (t0 > t1 || ax < 0 || !(t0 > tmin) || t0 >= *tbest)
			return; /* missed, or starting inside (no inner faces wanted) */
		*tbest = t0;
		n[0] = n[1] = n[2] = 0;
		n[ax] = sg;
	}
}

/* The signed distance from p (object frame) to solid s (negative inside); INFINITY for none. */
static double shape_sdf(const ciclop_shape *s, const double p[3])
{
	double dx, dz, dy = fabs(p[1] - s->h / 2) - s->h / 2;

	if (s->kind == CICLOP_SHAPE_CYLINDER) {
		dx = hypot(p[0] - s->x, p[2] - s->z) - s->r;
		dz = -INFINITY;
	} else if (s->kind == CICLOP_SHAPE_BOX) {
		dx = fabs(p[0] - s->x) - s->hx;
		dz = fabs(p[2] - s->z) - s->hz;
	} else {
		return INFINITY;
	}
	double in = fmax(dx, fmax(dy, dz));
	if (in <= 0)
		return in;
	double ex = fmax(dx, 0), ey = fmax(dy, 0), ez = fmax(dz, 0);
	return sqrt(ex * ex + ey * ey + ez * ez);
}

/*
 * Cast the ray o + t dir (table frame, dir unit) against the table disc and the cylinder turned
 * by a; the nearest hit with t > tmin into *h. Returns 1 on a hit, 0 on none.
 */
static int cast(const ciclop_scene *sc, double a, const double o[3], const double dir[3],
		double tmin, hit *h)
{
	double oo[3], dd[3];
	int got = 0;

	h->t = INFINITY;
	h->plate = 0;
	/* table: y = 0, within table_r */
	if (fabs(dir[1]) > EPS) {
		double t = -o[1] / dir[1];
		double x = o[0] + t * dir[0], z = o[2] + t * dir[2];
		if (t > tmin && x * x + z * z <= sc->table_r * sc->table_r) {
			h->t = t, h->p[0] = x, h->p[1] = 0, h->p[2] = z;
			h->n[0] = 0, h->n[1] = 1, h->n[2] = 0;
			h->albedo = 0.25;
			got = 1;
		}
	}
	/* the object's solids, in the object frame (the table frame turned by -a) */
	ciclop_rotate_y(-a, o, oo);
	ciclop_rotate_y(-a, dir, dd);
	double on[3] = {0}, t = INFINITY;
	for (int i = 0; i < CICLOP_SCENE_SHAPES; i++)
		shape_hit(&sc->shapes[i], oo, dd, tmin, &t, on);
	if (sc->plate.cols > 0) {
		double tp, px, py;
		if (plate_plane(&sc->plate, oo, dd, &tp, &px, &py) && tp > tmin && tp < t &&
		    tp < h->t && plate_inside(&sc->plate, px, py)) {
			double ex[3], ey[3], ez[3], po[3], sg;
			plate_frame(&sc->plate, ex, ey, ez, po);
			sg = dd[0] * ez[0] + dd[1] * ez[1] + dd[2] * ez[2] > 0 ? -1 : 1;
			for (int i = 0; i < 3; i++)
				ez[i] *= sg, h->p[i] = o[i] + tp * dir[i];
			h->t = tp;
			h->albedo = plate_albedo(&sc->plate, px, py);
			h->plate = 1;
			ciclop_rotate_y(a, ez, h->n);
			return 1;
		}
	}
	if (t < h->t) {
		double op[3] = {oo[0] + t * dd[0], oo[1] + t * dd[1], oo[2] + t * dd[2]};
		double ang = atan2(op[2], op[0]) + 0.05 * op[1];
		/* painted stripes that turn with the object: the texture moves between steps */
		h->albedo = ((int)floor((ang + M_PI) * 6 / M_PI) & 1) ? 0.85 : 0.55;
		h->t = t;
		for (int i = 0; i < 3; i++)
			h->p[i] = o[i] + t * dir[i];
		ciclop_rotate_y(a, on, h->n);
		got = 1;
	}
	return got;
}

/* Deterministic noise in -2..2 for pixel i of frame k. */
static int noise(uint32_t seed, uint32_t i, uint32_t k)
{
	uint32_t x = seed ^ (i * 2654435761u) ^ (k * 0x9e3779b9u);
	x ^= x >> 16, x *= 0x7feb352du, x ^= x >> 15, x *= 0x846ca68bu, x ^= x >> 16;
	return (int)(x % 5) - 2;
}

/* The plate's albedo averaged over pixel (u, v)'s area (3 x 3 rays from eye; antialiased
 * squares, so that corners can be found to a fraction of a pixel). */
static double plate_pixel(const ciclop_scene *sc, double a, const double eye[3], int u, int v)
{
	const ciclop_camera *c = &sc->cam;
	double sum = 0, oe[3];
	int n = 0;

	ciclop_rotate_y(-a, eye, oe);
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 3; k++) {
			double rc[3], dir[3], od[3], t, px, py;
			ciclop_pixel_ray(c, u + (i - 1) / 3.0, v + (k - 1) / 3.0, rc);
			for (int m = 0; m < 3; m++)
				dir[m] =
				    c->R[m] * rc[0] + c->R[3 + m] * rc[1] + c->R[6 + m] * rc[2];
			ciclop_rotate_y(-a, dir, od);
			if (plate_plane(&sc->plate, oe, od, &t, &px, &py))
				sum += plate_albedo(&sc->plate, px, py), n++;
		}
	return n ? sum / n : 0.85;
}

/* Clamp to a grey byte. */
static uint8_t grey(double v)
{
	return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)lrint(v);
}

int ciclop_render(const ciclop_scene *sc, double a, uint8_t *on, uint8_t *off)
{
	const ciclop_camera *c = sc ? &sc->cam : NULL;
	double eye[3];

	if (!c || !on || !off || c->width <= 0 || c->height <= 0 || !(c->fx > 0) || !(c->fy > 0) ||
	    !(sc->laser_sigma > 0))
		return LB_EINVAL;
	/* the camera's centre in the table frame: -R^T t */
	for (int i = 0; i < 3; i++)
		eye[i] = -(c->R[i] * c->t[0] + c->R[3 + i] * c->t[1] + c->R[6 + i] * c->t[2]);
	for (int v = 0; v < c->height; v++)
		for (int u = 0; u < c->width; u++) {
			double rc[3], dir[3];
			size_t i = (size_t)v * c->width + u;
			double base = 8, laser = 0;
			hit h;

			ciclop_pixel_ray(c, u, v, rc);
			for (int k = 0; k < 3; k++)
				dir[k] =
				    c->R[k] * rc[0] + c->R[3 + k] * rc[1] + c->R[6 + k] * rc[2];
			double l = sqrt(dir[0] * dir[0] + dir[1] * dir[1] + dir[2] * dir[2]);
			dir[0] /= l, dir[1] /= l, dir[2] /= l;
			if (cast(sc, a, eye, dir, EPS, &h)) {
				double cosv =
				    -(h.n[0] * dir[0] + h.n[1] * dir[1] + h.n[2] * dir[2]);
				if (h.plate)
					h.albedo = plate_pixel(sc, a, eye, u, v);
				base = h.albedo * (30 + 110 * fabs(cosv));
				double dist = sc->laser_n[0] * h.p[0] + sc->laser_n[1] * h.p[1] +
					      sc->laser_n[2] * h.p[2] - sc->laser_d;
				if (fabs(dist) < 5 * sc->laser_sigma) {
					double tl[3], ll;
					hit s;
					for (int k = 0; k < 3; k++)
						tl[k] = sc->laser_pos[k] - h.p[k];
					ll = sqrt(tl[0] * tl[0] + tl[1] * tl[1] + tl[2] * tl[2]);
					tl[0] /= ll, tl[1] /= ll, tl[2] /= ll;
					double cosl =
					    h.n[0] * tl[0] + h.n[1] * tl[1] + h.n[2] * tl[2];
					double from[3] = {h.p[0] + 1e-4 * tl[0],
							  h.p[1] + 1e-4 * tl[1],
							  h.p[2] + 1e-4 * tl[2]};
					if (cosl > 0 &&
					    !(cast(sc, a, from, tl, EPS, &s) && s.t < ll))
						laser =
						    sc->laser_peak * (0.4 + 0.6 * cosl) *
						    exp(-dist * dist /
							(2 * sc->laser_sigma * sc->laser_sigma));
				}
			}
			int nz0 = sc->noise_seed ? noise(sc->noise_seed, (uint32_t)i, 0) : 0;
			int nz1 = sc->noise_seed ? noise(sc->noise_seed, (uint32_t)i, 1) : 0;
			off[i] = grey(base + nz0);
			on[i] = grey(base + laser + nz1);
		}
	return 0;
}

double ciclop_object_distance(const ciclop_scene *sc, const double p[3])
{
	double d = INFINITY;

	for (int i = 0; i < CICLOP_SCENE_SHAPES; i++)
		d = fmin(d, shape_sdf(&sc->shapes[i], p));
	return fabs(d);
}
