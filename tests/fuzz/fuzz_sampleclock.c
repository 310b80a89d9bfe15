/* fuzz_sampleclock.c - libFuzzer harness: the sample clock under any sequence of arrivals,
 * periods and resets keeps its promises (increasing stamps, never after the arrival but for the
 * 1 ns steps that keep samples of one arrival apart). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../bridge/sdk/sampleclock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lb_sclock c;
	int64_t arrival = 1000000000LL, prev = 0, same = 0;
	int have_prev = 0;

	lb_sclock_init(&c, 10000000);
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint32_t v = (uint32_t)data[i + 1] | ((uint32_t)data[i + 2] << 8);
		switch (data[i] % 8) {
		case 0: /* a new period: 1 us .. 16.4 s */
			lb_sclock_set_period(&c, (int64_t)(v % 16384 + 1) * 1000000);
			break;
		case 1:
			lb_sclock_reset(&c);
			have_prev = 0;
			break;
		default: {
			/* the next arrival: 0 .. 65 ms later, or up to 6.5 s (gaps) */
			int64_t step = data[i] % 8 == 2 ? (int64_t)v * 100000 : (int64_t)v * 1000;
			int64_t s;
			same = step ? 0 : same + 1;
			arrival += step;
			s = lb_sclock_stamp(&c, arrival);
			if (have_prev && s <= prev)
				abort(); /* stamps increase */
			if (s > arrival + same + 1)
				abort(); /* never after the arrival (but 1 ns per sample of a read)
					  */
			prev = s;
			have_prev = 1;
		}
		}
	}
	return 0;
}
