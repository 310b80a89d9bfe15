/* sampleclock.c - time stamps for samples a device sends at a fixed interval but the host reads
 * in bursts: each sample gets its own time on the device's time base. */
#include "sampleclock.h"

#define GAP_NS 1000000000LL /* more than any serial buffer holds at 57600 baud */
#define WINDOW_MIN_NS 2000000000LL
#define DRIFT_MIN_NS 2000000LL

void lb_sclock_init(lb_sclock *c, int64_t period)
{
	*c = (lb_sclock){.period = period > 0 ? period : 1};
}

void lb_sclock_set_period(lb_sclock *c, int64_t period)
{
	c->period = period > 0 ? period : 1;
	c->min_lag = INT64_MAX; /* a new window */
	c->window_end = c->last + (8 * c->period > WINDOW_MIN_NS ? 8 * c->period : WINDOW_MIN_NS);
}

void lb_sclock_reset(lb_sclock *c)
{
	c->anchored = 0;
}

/* Anchor the clock on the host: this sample is stamped when it arrived. */
static int64_t anchor(lb_sclock *c, int64_t arrival, int count)
{
	if (count && c->anchored)
		c->reanchors++;
	c->anchored = 1;
	c->last = arrival;
	c->min_lag = INT64_MAX;
	c->window_end = arrival + (8 * c->period > WINDOW_MIN_NS ? 8 * c->period : WINDOW_MIN_NS);
	return arrival;
}

int64_t lb_sclock_stamp(lb_sclock *c, int64_t arrival)
{
	int64_t next, lag, bound;

	if (!c->anchored)
		return anchor(c, arrival, 0);
	next = c->last + c->period;
	if (next > arrival) /* never in the future, never twice the same time */
		return anchor(c, arrival > c->last ? arrival : c->last + 1, 1);
	lag = arrival - next;
	if (lag > GAP_NS + c->period / 2)
		return anchor(c, arrival, 1); /* a gap: the device paused or samples were lost */
	c->last = next;
	if (lag < c->min_lag)
		c->min_lag = lag;
	if (next >= c->window_end) {
		/* every sample of the window came late: the device is slower than its interval */
		bound = c->period / 4 > DRIFT_MIN_NS ? c->period / 4 : DRIFT_MIN_NS;
		if (c->min_lag > bound) {
			c->last += c->min_lag;
			c->reanchors++;
		}
		c->min_lag = INT64_MAX;
		c->window_end =
		    c->last + (8 * c->period > WINDOW_MIN_NS ? 8 * c->period : WINDOW_MIN_NS);
	}
	return c->last;
}
