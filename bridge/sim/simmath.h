/* simmath.h - the smooth functions the simulated lab needs, without libm's lookup tables. */
#ifndef LB_SIMMATH_H
#define LB_SIMMATH_H

/*
 * Why not sin() and exp(): glibc's versions read tables spread over libm's read-only data, and
 * the kernel maps the 64 KB around every page a process touches in a shared library. One call
 * to sin(), cos() and exp() made the idle simulated lab ~300 KB bigger than the rest of the
 * bridge's idle work. Simulated sensors, emulated boards and heaters need smooth, accurate
 * enough values (these are within 1e-12 of libm's), not the last bit.
 */

/* x - floor(x), in [0, 1), for |x| < 2^62; NaN for NaN. */
double lb_frac(double x);

/* sin(2 pi turns): a sine whose argument is in turns (1 turn = one period). */
double lb_sin_turns(double turns);

/* cos(2 pi turns). */
double lb_cos_turns(double turns);

/* e^-x for x >= 0 (1 for x <= 0, 0 beyond 700): a first-order decay's factor. */
double lb_exp_neg(double x);

#endif
