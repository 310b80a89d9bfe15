/* signal.h - waveforms with noise for simulated sensors (pure: state in, samples out). */
#ifndef LB_SIM_SIGNAL_H
#define LB_SIM_SIGNAL_H

#include <stddef.h>
#include <stdint.h>

typedef enum lb_wave {
	LB_WAVE_CONSTANT,
	LB_WAVE_SINE,
	LB_WAVE_SQUARE,
	LB_WAVE_RAMP,
	LB_WAVE_WALK
} lb_wave;

/* A signal: offset + amplitude * wave(frequency * t) + gaussian noise of stddev `noise`. */
typedef struct lb_signal {
	lb_wave wave;
	double offset, amplitude, frequency, noise;
	double min, max; /* the sensor's range: values are clamped to it (when max > min) */
	uint64_t rng;	 /* xorshift64 state, never 0 */
	double walk;	 /* current offset of a random walk */
} lb_signal;

/* Parse "constant", "sine", "square", "ramp" or "walk"; 0 or -1. */
int lb_wave_parse(const char *name, lb_wave *out);
const char *lb_wave_name(lb_wave w);

/* The value at time t (seconds); advances the noise generator. */
double lb_signal_at(lb_signal *s, double t);

/* Fill out[0..n) with float samples at times t0 + i * dt. */
void lb_signal_fill_f32(lb_signal *s, double t0, double dt, float *out, size_t n);

#endif
