/* test_numfmt.c - unit tests of bridge/util/numfmt.c: numbers as people read them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../bridge/util/numfmt.h"

/* v written as a double (single: as a float) must read exactly want. */
static void expect(double v, bool single, const char *want)
{
	char buf[32];

	lb_fmt_number(buf, sizeof buf, v, single);
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "  %.17g (%s) written '%s', expected '%s'\n", v,
			single ? "float" : "double", buf, want);
	CHECK_STR(buf, want);
}

static void test_normal_range_fixed_point(void)
{
	expect(20.0, true, "20");
	expect(20.0, false, "20");
	expect(20.5, true, "20.5");
	expect(-20.0, false, "-20");
	expect(0.00123, false, "0.00123");
	expect(0.00123, true, "0.00123");
	expect(123456.7, false, "123456.7");
	expect(123456.7, true, "123456.7");
	expect(21.53f, true, "21.53");
	expect(0.1f, true, "0.1");
	expect(0.1, false, "0.1");
	expect(100.0, false, "100");
	expect(1e5, false, "100000");
	expect(1234567890123.0, false, "1234567890123");
	expect(0.00001, false, "0.00001");
	expect(1.0 / 3, false, "0.3333333333333333");
	expect(0.0, false, "0");
	expect(-0.0, false, "0");
}

static void test_extremes_with_exponent(void)
{
	expect(1e-7, false, "1e-7");
	expect(2.5e-12, true, "2.5e-12");
	expect(6.02e23, false, "6.02e+23");
	expect(1e15, false, "1e+15");
	expect(-3.4e38, true, "-3.4e+38");
}

static void test_round_trip_and_json(void)
{
	char buf[32];
	const double samples[] = {20.0,	   20.5, 0.00123, 123456.7, 1e-7,
				  6.02e23, M_PI, -M_E,	  1e300,    5e-324};

	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		CHECK(lb_fmt_number(buf, sizeof buf, samples[i], false));
		CHECK(strtod(buf, NULL) == samples[i]);
		CHECK(strchr(buf, 'E') == NULL);
		lb_fmt_number(buf, sizeof buf, samples[i],
			      true); /* never overruns, even for 1e300 */
	}
	CHECK(!lb_fmt_number(buf, sizeof buf, NAN, false));
	CHECK_STR(buf, "nan");
	CHECK(!lb_fmt_number(buf, sizeof buf, -INFINITY, true));
	CHECK_STR(buf, "-inf");
	/* a short buffer is cut, never overrun */
	lb_fmt_number(buf, 4, 123456.7, false);
	CHECK_STR(buf, "123");
}

int main(void)
{
	RUN(test_normal_range_fixed_point);
	RUN(test_extremes_with_exponent);
	RUN(test_round_trip_and_json);
	return check_summary();
}
