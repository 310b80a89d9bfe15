/* test_signal.c - unit tests of drivers/sim/signal.c: waveforms, clamping, noise, determinism. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../drivers/sim/signal.h"
#include "check.h"

#define EPS 1e-9
#define NSAMPLES 100000

/* A signal without noise or range. */
static lb_signal sig(lb_wave wave, double offset, double amplitude, double frequency)
{
	lb_signal s;

	memset(&s, 0, sizeof s);
	s.wave = wave;
	s.offset = offset;
	s.amplitude = amplitude;
	s.frequency = frequency;
	s.rng = 1;
	return s;
}

static void test_wave_names(void)
{
	static const char *const names[] = {"constant", "sine", "square", "ramp", "walk"};
	lb_wave w;

	for (int i = 0; i < 5; i++) {
		w = (lb_wave)99;
		CHECK_EQ_INT(lb_wave_parse(names[i], &w), 0);
		CHECK_EQ_INT(w, i);
		CHECK_STR(lb_wave_name((lb_wave)i), names[i]);
	}
	CHECK_EQ_INT(LB_WAVE_CONSTANT, 0);
	CHECK_EQ_INT(LB_WAVE_WALK, 4);

	w = LB_WAVE_RAMP;
	CHECK_EQ_INT(lb_wave_parse("Sine", &w), -1);
	CHECK_EQ_INT(lb_wave_parse("triangle", &w), -1);
	CHECK_EQ_INT(lb_wave_parse("", &w), -1);
	CHECK_EQ_INT(lb_wave_parse("sine ", &w), -1);
	CHECK_EQ_INT(lb_wave_parse(NULL, &w), -1);
	CHECK_EQ_INT(w, LB_WAVE_RAMP); /* untouched on failure */
	CHECK_STR(lb_wave_name((lb_wave)5), "?");
	CHECK_STR(lb_wave_name((lb_wave)-1), "?");
}

static void test_constant(void)
{
	lb_signal s = sig(LB_WAVE_CONSTANT, 3.5, 2.0, 7.0);

	CHECK(lb_signal_at(&s, 0) == 3.5);
	CHECK(lb_signal_at(&s, 0.123) == 3.5);
	CHECK(lb_signal_at(&s, 1e6) == 3.5);
	CHECK(lb_signal_at(&s, -5) == 3.5);
}

static void test_sine(void)
{
	/* 1 + 2 sin(2 pi 0.5 t): period 2 s. */
	lb_signal s = sig(LB_WAVE_SINE, 1.0, 2.0, 0.5);

	CHECK_NEAR(lb_signal_at(&s, 0.0), 1.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 0.5), 3.0, EPS); /* quarter period: peak */
	CHECK_NEAR(lb_signal_at(&s, 1.0), 1.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 1.5), -1.0, EPS); /* trough */
	CHECK_NEAR(lb_signal_at(&s, 2.0), 1.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 2.5), 3.0, EPS);		       /* periodic */
	CHECK_NEAR(lb_signal_at(&s, 1.0 / 6.0), 1.0 + 2.0 * 0.5, EPS); /* sin(pi/6) = 1/2 */

	/* 50 Hz mains at 1 kHz sampling: 20 samples a period. */
	s = sig(LB_WAVE_SINE, 0, 5, 50);
	CHECK_NEAR(lb_signal_at(&s, 0.005), 5, EPS);
	CHECK_NEAR(lb_signal_at(&s, 0.015), -5, EPS);
	CHECK_NEAR(lb_signal_at(&s, 100.005), 5, 1e-6);

	/* Frequency 0: a constant at the offset. */
	s = sig(LB_WAVE_SINE, 4, 5, 0);
	CHECK_NEAR(lb_signal_at(&s, 12.3), 4, EPS);
}

static void test_square(void)
{
	lb_signal s = sig(LB_WAVE_SQUARE, 10.0, 3.0, 1.0);

	CHECK(lb_signal_at(&s, 0.0) == 13.0); /* high for the first half period */
	CHECK(lb_signal_at(&s, 0.25) == 13.0);
	CHECK(lb_signal_at(&s, 0.49) == 13.0);
	CHECK(lb_signal_at(&s, 0.5) == 7.0); /* low from the middle */
	CHECK(lb_signal_at(&s, 0.75) == 7.0);
	CHECK(lb_signal_at(&s, 0.99) == 7.0);
	CHECK(lb_signal_at(&s, 1.0) == 13.0);
	CHECK(lb_signal_at(&s, 5.25) == 13.0);
	CHECK(lb_signal_at(&s, 5.75) == 7.0);
	/* Before t = 0 too (floor, not truncation). */
	CHECK(lb_signal_at(&s, -0.25) == 7.0);
	CHECK(lb_signal_at(&s, -0.75) == 13.0);

	/* 2 Hz. */
	s = sig(LB_WAVE_SQUARE, 0, 1, 2);
	CHECK(lb_signal_at(&s, 0.1) == 1.0);
	CHECK(lb_signal_at(&s, 0.3) == -1.0);
}

static void test_ramp(void)
{
	/* A sawtooth from offset - amplitude to offset + amplitude each period. */
	lb_signal s = sig(LB_WAVE_RAMP, 0.0, 1.0, 1.0);

	CHECK_NEAR(lb_signal_at(&s, 0.0), -1.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 0.25), -0.5, EPS);
	CHECK_NEAR(lb_signal_at(&s, 0.5), 0.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 0.75), 0.5, EPS);
	CHECK_NEAR(lb_signal_at(&s, 0.999), 0.998, EPS);
	CHECK_NEAR(lb_signal_at(&s, 1.0), -1.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 3.25), -0.5, 1e-9);
	CHECK_NEAR(lb_signal_at(&s, -0.25), 0.5, EPS);

	s = sig(LB_WAVE_RAMP, 20.0, 4.0, 0.1); /* 10 s period */
	CHECK_NEAR(lb_signal_at(&s, 0.0), 16.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 5.0), 20.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 7.5), 22.0, EPS);
}

static void test_clamp(void)
{
	lb_signal s = sig(LB_WAVE_SINE, 0.0, 10.0, 1.0);

	s.min = -5;
	s.max = 5;
	CHECK(lb_signal_at(&s, 0.25) == 5.0);  /* would be 10 */
	CHECK(lb_signal_at(&s, 0.75) == -5.0); /* would be -10 */
	CHECK_NEAR(lb_signal_at(&s, 0.0), 0.0, EPS);
	CHECK_NEAR(lb_signal_at(&s, 1.0 / 12.0), 5.0, EPS); /* 10 sin(pi/6) = 5: the edge */

	/* A constant outside the range sits at the nearest bound. */
	s = sig(LB_WAVE_CONSTANT, 200, 0, 0);
	s.min = -40;
	s.max = 125;
	CHECK(lb_signal_at(&s, 1) == 125);
	s.offset = -273.15;
	CHECK(lb_signal_at(&s, 1) == -40);

	/* max <= min: no range, no clamping. */
	s = sig(LB_WAVE_SQUARE, 0, 1000, 1);
	CHECK(lb_signal_at(&s, 0.25) == 1000);
	s.min = 5;
	s.max = 5;
	CHECK(lb_signal_at(&s, 0.75) == -1000);
	s.min = 10;
	s.max = -10;
	CHECK(lb_signal_at(&s, 0.25) == 1000);

	/* Noise is clamped too: every sample stays in range. */
	s = sig(LB_WAVE_CONSTANT, 0, 0, 0);
	s.noise = 10;
	s.min = -1;
	s.max = 1;
	s.rng = 42;
	{
		int inside = 1, at_max = 0, at_min = 0;
		for (int i = 0; i < 10000; i++) {
			double v = lb_signal_at(&s, i * 1e-3);
			inside &= v >= -1 && v <= 1;
			at_max += v == 1;
			at_min += v == -1;
		}
		CHECK(inside);
		CHECK(at_max > 1000 && at_min > 1000); /* |N(0,10)| > 1 most of the time */
	}
}

/* Mean and standard deviation of n samples of s at 1 ms intervals. */
static void stats(lb_signal *s, int n, double *mean, double *sd)
{
	double sum = 0, sum2 = 0;

	for (int i = 0; i < n; i++) {
		double v = lb_signal_at(s, i * 1e-3);
		sum += v;
		sum2 += v * v;
	}
	*mean = sum / n;
	*sd = sqrt(sum2 / n - *mean * *mean);
}

static void test_noise_statistics(void)
{
	static const uint64_t seeds[] = {1, 12345, 0xDEADBEEFCAFEULL, 0x9E3779B97F4A7C15ULL};
	double mean, sd;

	/*
	 * N(10, 2): the mean's standard error is 2 / sqrt(1e5) = 0.0063 and the deviation's about
	 * 0.0045, so +-0.05 is 8 or more standard errors; the seeds make it deterministic anyway.
	 */
	for (size_t k = 0; k < sizeof seeds / sizeof seeds[0]; k++) {
		lb_signal s = sig(LB_WAVE_CONSTANT, 10.0, 0, 0);
		s.noise = 2.0;
		s.rng = seeds[k];
		stats(&s, NSAMPLES, &mean, &sd);
		CHECK_NEAR(mean, 10.0, 0.05);
		CHECK_NEAR(sd, 2.0, 0.05);
	}

	/* Noise on a sine: the residual is the noise. */
	{
		lb_signal s = sig(LB_WAVE_SINE, 0, 3, 7);
		lb_signal clean = sig(LB_WAVE_SINE, 0, 3, 7);
		double sum = 0, sum2 = 0;

		s.noise = 0.5;
		s.rng = 99;
		for (int i = 0; i < NSAMPLES; i++) {
			double d = lb_signal_at(&s, i * 1e-4) - lb_signal_at(&clean, i * 1e-4);
			sum += d;
			sum2 += d * d;
		}
		CHECK_NEAR(sum / NSAMPLES, 0.0, 0.0125);
		CHECK_NEAR(sqrt(sum2 / NSAMPLES), 0.5, 0.0125);
	}

	/* Roughly Gaussian: about 68.3% within one sigma, 95.4% within two. */
	{
		lb_signal s = sig(LB_WAVE_CONSTANT, 0, 0, 0);
		int one = 0, two = 0;

		s.noise = 1.0;
		s.rng = 7;
		for (int i = 0; i < NSAMPLES; i++) {
			double v = fabs(lb_signal_at(&s, 0));
			one += v <= 1;
			two += v <= 2;
		}
		CHECK_NEAR((double)one / NSAMPLES, 0.6827, 0.01);
		CHECK_NEAR((double)two / NSAMPLES, 0.9545, 0.005);
	}

	/* Noise 0 (or negative) adds nothing. */
	{
		lb_signal s = sig(LB_WAVE_CONSTANT, 1.25, 0, 0);
		s.noise = -1;
		CHECK(lb_signal_at(&s, 3) == 1.25);
	}
}

static void test_determinism(void)
{
	lb_signal a = sig(LB_WAVE_SINE, 1, 2, 3), b = a, c = a;
	int same = 1, differ = 0;

	a.noise = b.noise = c.noise = 0.1;
	a.rng = b.rng = 0xABCDEF;
	c.rng = 0xABCDEE;
	for (int i = 0; i < 1000; i++) {
		double t = i * 0.01, va = lb_signal_at(&a, t), vb = lb_signal_at(&b, t);
		double vc = lb_signal_at(&c, t);
		same &= va == vb;
		differ += va != vc;
	}
	CHECK(same);
	CHECK(differ > 990);
	CHECK(a.rng == b.rng);

	/* A zero state is replaced by a fixed seed: deterministic too. */
	{
		lb_signal z1 = sig(LB_WAVE_CONSTANT, 0, 0, 0), z2;
		z1.noise = 1;
		z1.rng = 0;
		z2 = z1;
		for (int i = 0; i < 100; i++)
			same &= lb_signal_at(&z1, 0) == lb_signal_at(&z2, 0);
		CHECK(same);
		CHECK(z1.rng != 0);
	}

	/*
	 * A copy of the state continues the same sequence. (Seed 1 is a poor xorshift seed: its
	 * first deviate is about 6.3 sigma; sim.c seeds with a mixed 64-bit value.)
	 */
	{
		lb_signal p = sig(LB_WAVE_CONSTANT, 0, 0, 0), q;
		double v1;

		p.noise = 1;
		p.rng = 1;
		v1 = lb_signal_at(&p, 0);
		CHECK(isfinite(v1));
		q = p;
		for (int i = 0; i < 100; i++)
			same &= lb_signal_at(&p, 0) == lb_signal_at(&q, 0);
		CHECK(same);
	}
}

static void test_walk(void)
{
	lb_signal a = sig(LB_WAVE_WALK, 21.5, 2.0, 0), b;
	double lo = 1e9, hi = -1e9, prev;
	int same = 1, steps_small = 1;

	a.rng = 2024;
	b = a;
	prev = lb_signal_at(&a, 0);
	CHECK(prev == lb_signal_at(&b, 0));
	for (int i = 1; i < NSAMPLES; i++) {
		double v = lb_signal_at(&a, i * 0.1);
		same &= v == lb_signal_at(&b, i * 0.1);
		/* Each step is 0.01 * amplitude * N(0,1) plus a small pull back: far below 1. */
		steps_small &= fabs(v - prev) < 0.2;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		prev = v;
	}
	CHECK(same);
	CHECK(steps_small);
	CHECK(hi > lo);			       /* it moves */
	CHECK(lo > 21.5 - 5 && hi < 21.5 + 5); /* and stays near the offset */

	/* Clamped like the others. */
	a = sig(LB_WAVE_WALK, 0, 100, 0);
	a.min = -0.5;
	a.max = 0.5;
	a.rng = 3;
	{
		int inside = 1;
		for (int i = 0; i < 10000; i++) {
			double v = lb_signal_at(&a, 0);
			inside &= v >= -0.5 && v <= 0.5;
		}
		CHECK(inside);
	}

	/* Zero amplitude: a constant. */
	a = sig(LB_WAVE_WALK, 5, 0, 0);
	CHECK(lb_signal_at(&a, 0) == 5);
	CHECK(lb_signal_at(&a, 1) == 5);
}

static void test_fill_f32(void)
{
	lb_signal s = sig(LB_WAVE_SINE, 0.5, 2, 3), ref;
	float out[257];
	int same = 1;

	s.noise = 0.01;
	s.rng = 77;
	s.min = -1;
	s.max = 2;
	ref = s;
	out[256] = 12345.0f;
	lb_signal_fill_f32(&s, 1.5, 1.0 / 1000, out, 256);
	/* the block generator computes the wave by recurrence: equal to lb_signal_at within float
	 * precision, with the same noise sequence */
	for (int i = 0; i < 256; i++)
		same &= fabs(out[i] - (float)lb_signal_at(&ref, 1.5 + i * (1.0 / 1000))) < 1e-5;
	CHECK(same);
	CHECK(out[256] == 12345.0f); /* no more than n written */
	CHECK(s.rng == ref.rng);

	/* n = 0 writes nothing. */
	out[0] = 42.0f;
	lb_signal_fill_f32(&s, 0, 1, out, 0);
	CHECK(out[0] == 42.0f);
}

/*
 * The general form of a block, one sample at a time: the wave's switch, then noise, then the
 * clamp, for every sample (the block generator before its fast paths; same arithmetic, so the
 * results must be bit-identical). The noise's deviate is lb_signal_at's (a constant signal with
 * only noise: offset 0 + noise * gaussian, exact in double).
 */
static void fill_general(lb_signal *s, double t0, double dt, float *out, size_t n)
{
	double step = s->frequency * dt, ph = s->frequency * t0;
	double c = cos(2.0 * M_PI * step), sn = sin(2.0 * M_PI * step);
	double x = cos(2.0 * M_PI * s->frequency * t0), y = sin(2.0 * M_PI * s->frequency * t0);

	ph -= floor(ph);
	for (size_t i = 0; i < n; i++) {
		double w = 0;
		switch (s->wave) {
		case LB_WAVE_CONSTANT: out[i] = (float)s->offset; break;
		case LB_WAVE_SINE: {
			double nx = x * c - y * sn;
			out[i] = (float)(s->offset + s->amplitude * y);
			y = x * sn + y * c;
			x = nx;
			break;
		}
		case LB_WAVE_SQUARE:
		case LB_WAVE_RAMP:
			w = s->wave == LB_WAVE_SQUARE ? (ph < 0.5 ? 1.0 : -1.0) : 2.0 * ph - 1.0;
			out[i] = (float)(s->offset + s->amplitude * w);
			ph += step;
			if (ph >= 1.0)
				ph -= floor(ph);
			break;
		default: break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (s->noise > 0) {
			lb_signal g = *s;
			g.wave = LB_WAVE_CONSTANT;
			g.offset = 0;
			g.min = g.max = 0;
			out[i] = (float)(out[i] + lb_signal_at(&g, 0));
			s->rng = g.rng;
		}
		if (s->max > s->min)
			out[i] = out[i] < s->min   ? (float)s->min
				 : out[i] > s->max ? (float)s->max
						   : out[i];
	}
}

static void test_fill_fast_paths(void)
{
	/* offset, min, max, noise: inside, below, above the range, no range, zeros, with noise */
	static const double cases[][4] = {
	    {1.5, 0, 0, 0},	{1.5, -1, 2, 0},   {-7.25, -1, 2, 0},	 {9.5, -1, 2, 0},
	    {0.0, 0, 0, 0},	{-0.0, 0, 0, 0},   {-0.0, -1, 1, 0},	 {0.1, 0.1, 0.2, 0},
	    {1e9, -40, 125, 0}, {0.3, 0, 0, 0.05}, {0.3, 0.2, 0.4, 0.5}, {2.0, -1, 1, 0.01},
	};
	static const size_t sizes[] = {0, 1, 3, 7, 8, 1000, 1001};
	static float a[1002], b[1002];
	int same = 1, same_at = 1, same_rng = 1;

	for (int w = LB_WAVE_CONSTANT; w <= LB_WAVE_RAMP; w++)
		for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
			for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
				lb_signal s = sig((lb_wave)w, cases[k][0], 1.75, 3.0), r;
				size_t n = sizes[z];
				s.min = cases[k][1];
				s.max = cases[k][2];
				s.noise = cases[k][3];
				s.rng = 12345 + k;
				r = s;
				a[n] = b[n] = -99.0f; /* no more than n written */
				lb_signal_fill_f32(&s, 0.37, 1e-5, a, n);
				fill_general(&r, 0.37, 1e-5, b, n);
				same &= memcmp(a, b, (n + 1) * sizeof a[0]) == 0;
				same_rng &= s.rng == r.rng;
			}
	CHECK(same);
	CHECK(same_rng);

	/* the constant fast path equals lb_signal_at, clamped, sample by sample */
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		lb_signal s = sig(LB_WAVE_CONSTANT, cases[k][0], 1.75, 3.0), r;
		if (cases[k][3] > 0)
			continue;
		s.min = cases[k][1];
		s.max = cases[k][2];
		r = s;
		lb_signal_fill_f32(&s, 2.0, 1e-8, a, 1000);
		for (int i = 0; i < 1000; i++)
			same_at &= a[i] == (float)lb_signal_at(&r, 2.0 + i * 1e-8);
	}
	CHECK(same_at);
	{
		lb_signal s = sig(LB_WAVE_CONSTANT, 9.5, 1, 1);
		s.min = -1;
		s.max = 2;
		lb_signal_fill_f32(&s, 0, 1e-8, a, 5);
		CHECK(a[0] == 2.0f && a[4] == 2.0f); /* clamped */
		s = sig(LB_WAVE_CONSTANT, -0.0, 1, 1);
		lb_signal_fill_f32(&s, 0, 1e-8, a, 5);
		CHECK(a[4] == 0.0f && signbit(a[4])); /* -0.0 kept, not memset to +0.0 */
	}
}

int main(void)
{
	RUN(test_wave_names);
	RUN(test_constant);
	RUN(test_sine);
	RUN(test_square);
	RUN(test_ramp);
	RUN(test_clamp);
	RUN(test_noise_statistics);
	RUN(test_determinism);
	RUN(test_walk);
	RUN(test_fill_f32);
	RUN(test_fill_fast_paths);
	return check_summary();
}
