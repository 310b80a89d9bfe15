/* test_simmath.c - unit tests of bridge/sim/simmath.c against libm, edge cases included. */
#include <math.h>
#include <stdio.h>

#include "../../bridge/sim/simmath.h"
#include "check.h"

static void test_frac(void)
{
	CHECK(lb_frac(0.0) == 0.0);
	CHECK(lb_frac(2.0) == 0.0);
	CHECK(lb_frac(-2.0) == 0.0);
	CHECK(lb_frac(1.25) == 0.25);
	CHECK(lb_frac(-1.25) == 0.75);
	CHECK(lb_frac(-0.5) == 0.5);
	CHECK(lb_frac(1e300) == 0.0);
	CHECK(isnan(lb_frac(NAN)));
	for (double x = -1000.3; x < 1000; x += 0.917) {
		double f = lb_frac(x);
		CHECK(f >= 0.0 && f < 1.0);
		CHECK(fabs(f - (x - floor(x))) < 1e-12);
	}
}

static void test_sin_cos(void)
{
	double worst = 0;

	/* over many periods, negative turns and the quadrant boundaries */
	for (double t = -50.0; t < 50.0; t += 0.000731) {
		double e1 = fabs(lb_sin_turns(t) - sin(2 * M_PI * t));
		double e2 = fabs(lb_cos_turns(t) - cos(2 * M_PI * t));
		worst = fmax(worst, fmax(e1, e2));
	}
	for (int q = -8; q <= 8; q++) {
		double t = q * 0.125;
		worst = fmax(worst, fabs(lb_sin_turns(t) - sin(2 * M_PI * t)));
		worst = fmax(worst, fabs(lb_sin_turns(nextafter(t, 1)) - sin(2 * M_PI * t)));
	}
	printf("   worst |lb_sin_turns - sin|, |lb_cos_turns - cos|: %.2e\n", worst);
	CHECK(worst < 1e-12);
	CHECK(lb_sin_turns(0.25) == 1.0);
	CHECK(lb_sin_turns(0.0) == 0.0);
	CHECK(lb_cos_turns(0.0) == 1.0);
}

static void test_exp_neg(void)
{
	double worst = 0;

	CHECK(lb_exp_neg(0.0) == 1.0);
	CHECK(lb_exp_neg(-3.0) == 1.0);
	CHECK(lb_exp_neg(NAN) == 1.0);
	CHECK(lb_exp_neg(701.0) == 0.0);
	CHECK(lb_exp_neg(INFINITY) == 0.0);
	for (double x = 1e-9; x < 700; x *= 1.013) {
		double rel = fabs(lb_exp_neg(x) - exp(-x)) / exp(-x);
		worst = fmax(worst, rel);
	}
	printf("   worst relative error of lb_exp_neg: %.2e\n", worst);
	CHECK(worst < 1e-10);
}

int main(void)
{
	RUN(test_frac);
	RUN(test_sin_cos);
	RUN(test_exp_neg);
	return check_summary();
}
