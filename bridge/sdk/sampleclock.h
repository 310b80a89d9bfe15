/* sampleclock.h - time stamps for samples a device sends at a fixed interval but the host reads
 * in bursts: each sample gets its own time on the device's time base. */
#ifndef LB_SAMPLECLOCK_H
#define LB_SAMPLECLOCK_H

#include <stdint.h>

/*
 * One clock per periodic stream. Sample k after an anchor is stamped anchor + k * period, so the
 * samples of one read are spaced by the period instead of sharing the read's time. The clock is
 * re-anchored to the host (the arrival time) when:
 *  - a sample would be stamped after it arrived (the device runs faster than its nominal
 *    interval, or the previous anchor was late): it is stamped at its arrival;
 *  - it arrives more than a gap (1 s + half a period: longer than a 57600-baud buffer can hold)
 *    after its predicted time: the device paused or samples were lost;
 *  - over a window (max(2 s, 8 periods)) every sample arrived more than max(2 ms, period / 4)
 *    after its stamp: the device runs slower than its nominal interval; the anchor moves by the
 *    smallest lag seen, so stamps never drift away from the host clock by more than that bound.
 * Times are in ns on any monotonic clock; nothing here reads a clock.
 */
typedef struct lb_sclock {
	int64_t period;		 /* ns between samples, > 0 */
	int64_t last;		 /* stamp of the previous sample; valid if anchored */
	int anchored;		 /* 0 until the first sample, and after lb_sclock_reset */
	int64_t min_lag;	 /* smallest arrival - stamp in the current window */
	int64_t window_end;	 /* when the window closes (a stamp) */
	unsigned long reanchors; /* how often the clock was set back on the host (tests, logs) */
} lb_sclock;

/* Start a clock for samples every period ns (clamped to at least 1). */
void lb_sclock_init(lb_sclock *c, int64_t period);

/* Change the interval; the next sample is stamped one new period after the previous one. */
void lb_sclock_set_period(lb_sclock *c, int64_t period);

/* Forget the anchor (the stream stopped): the next sample is stamped at its arrival. */
void lb_sclock_reset(lb_sclock *c);

/*
 * The time of the next sample, which arrived at arrival: the latest time it can have been taken.
 * When a read brings several samples of the stream, the k-th last of a read at t arrived at
 * t - k * period at the latest (pass that: a device faster than its interval then gets its
 * samples spread back from t instead of piled on t). Strictly increasing while arrivals do not
 * decrease, and never after arrival, but for 1 ns per extra sample given the same arrival.
 */
int64_t lb_sclock_stamp(lb_sclock *c, int64_t arrival);

#endif
