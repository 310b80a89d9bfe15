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
		return 0.0; /* no fraction left at that magnitude */
	t = (double)(int64_t)x; /* rounds towards zero */
	return x >= 0 || t == x ? x - t : x - (t - 1.0);
}

/* sin(y) for |y| <= pi/4: the Taylor series to y^17 (next term < 3e-18). */
static double sin_kernel(double y)
{
	double y2 = y * y;

	return y * (1.0 + y2 * (-1.0 / 6 + y2 * (1.0 / 120 + y2 * (-1.0 / 5040 +
	       y2 * (1.0 / 362880 + y2 * (-1.0 / 39916800 + y2 * (1.0 / 6227020800.0 +
	       y2 * (-1.0 / 1307674368000.0 + y2 * (1.0 / 355687428096000.0)))))))));
}

/* cos(y) for |y| <= pi/4: the Taylor series to y^16. */
static double cos_kernel(double y)
{
	double y2 = y * y;

	return 1.0 + y2 * (-1.0 / 2 + y2 * (1.0 / 24 + y2 * (-1.0 / 720 + y2 * (1.0 / 40320 +
	       y2 * (-1.0 / 3628800 + y2 * (1.0 / 479001600.0 + y2 * (-1.0 / 87178291200.0 +
	       y2 * (1.0 / 20922789888000.0))))))));
}

double lb_sin_turns(double turns)
{
	/* reduce to an eighth of a turn around one of the four quadrant points */
	double f = lb_frac(turns) * 4.0; /* quarter turns, [0, 4) */
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
