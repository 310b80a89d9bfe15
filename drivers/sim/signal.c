/* signal.c - waveforms with noise for simulated sensors (pure: state in, samples out). */
#include "signal.h"

#include <math.h>
#include <string.h>

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

/* Uniform double in (0, 1) from xorshift64. */
static double uniform(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return ((double)(*x >> 11) + 0.5) / 9007199254740992.0;
}

/* A standard normal deviate (Box-Muller; one of the pair is enough here). */
static double gaussian(uint64_t *x)
{
	double u = uniform(x), v = uniform(x);
	return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

double lb_signal_at(lb_signal *s, double t)
{
	double phase = s->frequency * t, w = 0, v;

	if (!s->rng)
		s->rng = 0x9E3779B97F4A7C15ULL;
	switch (s->wave) {
	case LB_WAVE_CONSTANT: w = 0; break;
	case LB_WAVE_SINE: w = sin(2.0 * M_PI * phase); break;
	case LB_WAVE_SQUARE: w = phase - floor(phase) < 0.5 ? 1.0 : -1.0; break;
	case LB_WAVE_RAMP: w = 2.0 * (phase - floor(phase)) - 1.0; break;
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

void lb_signal_fill_f32(lb_signal *s, double t0, double dt, float *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float)lb_signal_at(s, t0 + (double)i * dt);
}
