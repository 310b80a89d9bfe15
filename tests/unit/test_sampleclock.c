/* test_sampleclock.c - per-sample time stamps from made-up arrival times: bursts, gaps, drift. */
#include <stdint.h>

#include "../../bridge/sdk/sampleclock.h"
#include "check.h"

#define MS 1000000LL

/* 26 samples read at once (a stalled read): each gets its own time, one period apart. */
static void test_burst_is_spread(void)
{
	lb_sclock c;
	int64_t t[26];

	lb_sclock_init(&c, 10 * MS);
	CHECK_EQ_INT((int)(lb_sclock_stamp(&c, 1000 * MS) / MS), 1000);
	for (int i = 0; i < 26; i++)
		t[i] = lb_sclock_stamp(&c, 1260 * MS);
	for (int i = 0; i < 26; i++)
		CHECK_EQ_INT((int)(t[i] / MS), 1010 + 10 * i);
	CHECK_EQ_INT((int)c.reanchors, 0);
}

/*
 * A sample is never stamped after it arrived, nor twice at one time: a device 10% faster than its
 * nominal interval, read one sample at a time, then in bursts of 4 (arrivals t - k * period).
 */
static void test_never_in_the_future(void)
{
	lb_sclock c;
	int64_t prev = 0;

	lb_sclock_init(&c, 10 * MS);
	for (int i = 0; i < 1000; i++) {
		int64_t arrival = 5000 * MS + i * 9 * MS, s = lb_sclock_stamp(&c, arrival);
		CHECK(s <= arrival);
		CHECK(s > prev || i == 0);
		CHECK(arrival - s < 10 * MS);
		prev = s;
	}
	for (int i = 0; i < 1000; i++) {
		int64_t read = 20000 * MS + (i / 4) * 36 * MS;
		int64_t arrival = read - (3 - i % 4) * 10 * MS, s = lb_sclock_stamp(&c, arrival);
		CHECK(s <= arrival);
		CHECK(s > prev);
		prev = s;
	}
}

/* After a pause longer than a serial buffer can hold, the clock starts again from the host. */
static void test_gap_reanchors(void)
{
	lb_sclock c;

	lb_sclock_init(&c, 10 * MS);
	lb_sclock_stamp(&c, 100 * MS);
	lb_sclock_stamp(&c, 110 * MS);
	CHECK_EQ_INT((int)(lb_sclock_stamp(&c, 5110 * MS) / MS), 5110);
	CHECK_EQ_INT((int)(lb_sclock_stamp(&c, 5121 * MS) / MS), 5120);
	CHECK_EQ_INT((int)c.reanchors, 1);
	lb_sclock_reset(&c);
	CHECK_EQ_INT((int)(lb_sclock_stamp(&c, 6000 * MS) / MS), 6000);
}

/*
 * A device 1% slower than its nominal 10 ms, read in bursts of 5: without correction the stamps
 * would fall 1 s behind the host in 100 s; they stay within the drift bound plus the burst.
 */
static void test_slow_device_drift_is_bounded(void)
{
	lb_sclock c;
	int64_t worst = 0, prev = 0;

	lb_sclock_init(&c, 10 * MS);
	for (int i = 0; i < 10000; i++) {
		int64_t sent = i * 10100000LL; /* true sample time: 10.1 ms apart */
		int64_t read = (i / 5) * 5 * 10100000LL + 4 * 10100000LL; /* after every 5th */
		int64_t arrival = read - (4 - i % 5) * 10 * MS; /* k-th last of the read */
		int64_t s = lb_sclock_stamp(&c, arrival);
		CHECK(s <= arrival);
		CHECK(i == 0 || s > prev);
		CHECK(s <= sent + 10 * MS);
		if (i > 100 && (sent - s > worst || s - sent > worst))
			worst = sent > s ? sent - s : s - sent;
		prev = s;
	}
	CHECK_MSG(worst < 60 * MS, "stamps drift away from the device's real sample times");
}

/* Rates computed from the stamps are the device's rate, not the rate of the reads. */
static void test_rate_from_stamps(void)
{
	lb_sclock c;
	int64_t first = 0, last = 0;
	int n = 0;

	lb_sclock_init(&c, 10 * MS);
	for (int read = 1; read <= 100; read++)
		for (int k = 0; k < 20; k++) { /* 20 samples every 200 ms */
			int64_t s = lb_sclock_stamp(&c, read * 200 * MS);
			if (!n++)
				first = s;
			last = s;
		}
	CHECK(fabs((n - 1) * 1e9 / (double)(last - first) - 100.0) < 1.0);
}

int main(void)
{
	RUN(test_burst_is_spread);
	RUN(test_never_in_the_future);
	RUN(test_gap_reanchors);
	RUN(test_slow_device_drift_is_bounded);
	RUN(test_rate_from_stamps);
	return check_summary();
}
