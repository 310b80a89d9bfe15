/* simmath.c - the smooth functions the simulated lab needs, without libm's lookup tables. */
#include "simmath.h"

#include <stdint.h>

#define LB_PI 3.14159265358979323846

double lb_frac(double x)
{
	double t;

	if (x != x)
		return x;
	if (x >= 4611686018427387904.0 || x <= -4611686018427387904.0)
		return 0.0;	/* no fraction left at that magnitude */
	t = (double)(int64_t)x; /* rounds towards zero */
	return x >= 0 || t == x ? x - t : x - (t - 1.0);
}

/* Taylor coefficients of sin(y) / y and cos(y) in y^2, for |y| <= pi/4: the next terms are
 * below 3e-18. */
static const double sin_c[] = {1.0,
			       -1.0 / 6,
			       1.0 / 120,
			       -1.0 / 5040,
			       1.0 / 362880,
			       -1.0 / 39916800,
			       1.0 / 6227020800.0,
			       -1.0 / 1307674368000.0,
			       1.0 / 355687428096000.0};
static const double cos_c[] = {1.0,
			       -1.0 / 2,
			       1.0 / 24,
			       -1.0 / 720,
			       1.0 / 40320,
			       -1.0 / 3628800,
			       1.0 / 479001600.0,
			       -1.0 / 87178291200.0,
			       1.0 / 20922789888000.0};

/* The polynomial c[0] + c[1] x + ... + c[n-1] x^(n-1), by Horner's rule. */
static double poly(const double *c, int n, double x)
{
	double r = c[n - 1];

	for (int i = n - 2; i >= 0; i--)
		r = r * x + c[i];
	return r;
}

/* sin(y) and cos(y) for |y| <= pi/4. */
static double sin_kernel(double y)
{
	return y * poly(sin_c, (int)(sizeof sin_c / sizeof sin_c[0]), y * y);
}

static double cos_kernel(double y)
{
	return poly(cos_c, (int)(sizeof cos_c / sizeof cos_c[0]), y * y);
}

double lb_sin_turns(double turns)
{
	/* reduce to an eighth of a turn around one of the four quadrant points */
	double f = lb_frac(turns) * 4.0;  /* quarter turns, [0, 4) */
	int q = (int)(f + 0.5);		  /* nearest quadrant point, 0..4 */
	double y = (f - q) * (LB_PI / 2); /* |y| <= pi/4 */

	switch (q & 3) {
	case 0: return sin_kernel(y);
	case 1: return cos_kernel(y);
	case 2: return -sin_kernel(y);
	default: return -cos_kernel(y);
	}
}

double lb_cos_turns(double turns)
{
	return lb_sin_turns(lb_frac(turns) + 0.25);
}

double lb_exp_neg(double x)
{
	int halvings = 0;
	double r;

	if (!(x > 0))
		return 1.0;
	if (x > 700)
		return 0.0;
	/* e^-x = (e^(-x / 2^k))^(2^k), with x / 2^k small enough for six terms of the series */
	while (x > 1.0 / 64) {
		x *= 0.5;
		halvings++;
	}
	r = 1.0 - x * (1.0 - x / 2 * (1.0 - x / 3 * (1.0 - x / 4 * (1.0 - x / 5 * (1.0 - x / 6)))));
	while (halvings-- > 0)
		r *= r;
	return r;
}
