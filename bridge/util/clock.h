/* clock.h - the two clocks of the bridge, read only at the edges and passed into logic as lb_now.
 */
#ifndef LB_CLOCK_H
#define LB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* A moment seen on both clocks: mono for deadlines, real (ns since 1970 UTC) for timestamps. */
typedef struct lb_now {
	int64_t mono;
	int64_t real;
} lb_now;

static inline int64_t lb_clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Read both clocks now (the only place logic gets time from the system). */
static inline lb_now lb_now_read(void)
{
	lb_now n = {lb_clock_ns(CLOCK_MONOTONIC), lb_clock_ns(CLOCK_REALTIME)};
	return n;
}

#endif
