/* signal.c - waveforms with noise for simulated sensors (pure: state in, samples out). */
#include "signal.h"

#include <math.h> /* signbit, a macro: no libm call */
#include <string.h>

#include "../../bridge/sim/simmath.h"

static const char *const wave_names[] = {"constant", "sine", "square", "ramp", "walk"};

int lb_wave_parse(const char *name, lb_wave *out)
{
	for (int i = 0; i <= LB_WAVE_WALK; i++)
		if (name && strcmp(name, wave_names[i]) == 0) {
			*out = (lb_wave)i;
			return 0;
		}
	return -1;
}

const char *lb_wave_name(lb_wave w)
{
	return (unsigned)w <= LB_WAVE_WALK ? wave_names[w] : "?";
}

/* One xorshift64 step. */
static uint64_t next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/*
 * An approximately standard normal deviate: the sum of eight uniform 16-bit parts of two
 * xorshift draws (Irwin-Hall), centred and scaled to unit variance. No log() or cos(): cheap
 * enough for tens of millions of noisy samples per second.
 */
static double gaussian(uint64_t *x)
{
	double sum = 0;

	for (int k = 0; k < 2; k++) {
		uint64_t r = next(x);
		sum += (double)(r & 0xFFFF) + (double)((r >> 16) & 0xFFFF) +
		       (double)((r >> 32) & 0xFFFF) + (double)(r >> 48);
	}
	/* eight U(0,1): mean 4, variance 8/12 */
	return (sum / 65536.0 - 4.0) * 1.2247448713915890;
}

double lb_signal_at(lb_signal *s, double t)
{
	double phase = s->frequency * t, w = 0, v;

	if (!s->rng)
		s->rng = 0x9E3779B97F4A7C15ULL;
	switch (s->wave) {
	case LB_WAVE_CONSTANT: w = 0; break;
	case LB_WAVE_SINE: w = lb_sin_turns(phase); break;
	case LB_WAVE_SQUARE: w = lb_frac(phase) < 0.5 ? 1.0 : -1.0; break;
	case LB_WAVE_RAMP: w = 2.0 * lb_frac(phase) - 1.0; break;
	case LB_WAVE_WALK:
		s->walk += 0.01 * s->amplitude * gaussian(&s->rng);
		s->walk *= 0.999; /* drifts back towards the offset */
		w = s->amplitude != 0 ? s->walk / s->amplitude : 0;
		break;
	}
	v = s->offset + s->amplitude * w;
	if (s->noise > 0)
		v += s->noise * gaussian(&s->rng);
	if (s->max > s->min) {
		if (v < s->min)
			v = s->min;
		if (v > s->max)
			v = s->max;
	}
	return v;
}

/* Clamp one sample to the range [lo, hi] (the caller knows hi > lo). */
static float clamp_f32(float v, double lo, double hi)
{
	return v < lo ? (float)lo : v > hi ? (float)hi : v;
}

/* Add noise and clamp to the sensor's range, in place. */
static void finish_block(lb_signal *s, float *out, size_t n)
{
	if (s->noise > 0)
		for (size_t i = 0; i < n; i++)
			out[i] = (float)(out[i] + s->noise * gaussian(&s->rng));
	if (s->max > s->min) {
		double lo = s->min, hi = s->max;
		for (size_t i = 0; i < n; i++)
			out[i] = clamp_f32(out[i], lo, hi);
	}
}

/*
 * Fill out[0..n) with one value: nothing loaded from the signal and no test per sample; eight
 * stores per iteration, which gcc and clang turn into vector stores at -O2 (the very cheap
 * vectoriser of -O2 leaves a plain loop with an unknown count scalar); memset for +0.0.
 */
static void fill_value(float *out, size_t n, float v)
{
	size_t i = 0;

	if (v == 0.0f && !signbit(v)) {
		memset(out, 0, n * sizeof *out);
		return;
	}
	for (; i + 8 <= n; i += 8) {
		float *o = out + i;
		o[0] = v, o[1] = v, o[2] = v, o[3] = v, o[4] = v, o[5] = v, o[6] = v, o[7] = v;
	}
	for (; i < n; i++)
		out[i] = v;
}

/*
 * Blocks are generated with the wave's switch, the noise and the range tests outside the
 * per-sample loops, and the parameters in locals. The values are bit-identical to those of the
 * general form (wave, then noise, then clamp, per sample): tests/unit/test_signal.c checks it.
 */
void lb_signal_fill_f32(lb_signal *s, double t0, double dt, float *out, size_t n)
{
	const double offset = s->offset, amplitude = s->amplitude;
	double step = s->frequency * dt, ph;

	if (!s->rng)
		s->rng = 0x9E3779B97F4A7C15ULL;
	switch (s->wave) {
	case LB_WAVE_CONSTANT: {
		float v = (float)offset;
		if (!(s->noise > 0)) {
			/* the fast path (e.g. a benchmark's load generator): one value, clamped
			 * once, then a plain fill */
			fill_value(out, n, s->max > s->min ? clamp_f32(v, s->min, s->max) : v);
			return;
		}
		fill_value(out, n, v);
		break;
	}
	case LB_WAVE_SINE: {
		/* a rotation per sample instead of sin(): exact at the block start, drift ~1e-12 */
		double c = lb_cos_turns(step), sn = lb_sin_turns(step);
		double x = lb_cos_turns(s->frequency * t0), y = lb_sin_turns(s->frequency * t0);
		for (size_t i = 0; i < n; i++) {
			double nx = x * c - y * sn;
			out[i] = (float)(offset + amplitude * y);
			y = x * sn + y * c;
			x = nx;
		}
		break;
	}
	case LB_WAVE_SQUARE:
		ph = s->frequency * t0;
		ph = lb_frac(ph);
		for (size_t i = 0; i < n; i++) {
			out[i] = (float)(offset + amplitude * (ph < 0.5 ? 1.0 : -1.0));
			ph += step;
			if (ph >= 1.0)
				ph = lb_frac(ph);
		}
		break;
	case LB_WAVE_RAMP:
		ph = s->frequency * t0;
		ph = lb_frac(ph);
		for (size_t i = 0; i < n; i++) {
			out[i] = (float)(offset + amplitude * (2.0 * ph - 1.0));
			ph += step;
			if (ph >= 1.0)
				ph = lb_frac(ph);
		}
		break;
	case LB_WAVE_WALK:
		for (size_t i = 0; i < n; i++)
			out[i] =
			    (float)lb_signal_at(s, t0 + (double)i * dt); /* sequential by nature */
		return;							 /* noise and clamp done */
	}
	finish_block(s, out, n);
}
