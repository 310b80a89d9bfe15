/*
 * bench_modbus_map.c - decoding speed of the Modbus register map codec (values per second).
 *
 *   bench_modbus_map [SECONDS] [MIN_VALUES_PER_S]
 *
 * Decodes a weather-station-like register block (every type and byte order, scaled) through
 * modbus_map_decode_at, as the driver does after each read, for about SECONDS (default 1), and
 * prints one JSON line: {"bench":"modbus_map","values":N,"seconds":S,"values_per_s":V,...}.
 * Exit status 0, or 1 when V is below MIN_VALUES_PER_S (default 10000000).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../../protocols/modbus_map.c"

/* The channels of the block, one of each type and order. */
static const char *const descs[] = {
    "input 0 float32 quantity=temperature unit=°C",
    "input 2 int16 scale=0.1 quantity=humidity unit=%",
    "input 3 int32 quantity=pressure unit=Pa",
    "input 5 uint16 quantity=light unit=lx",
    "input 6 int16 scale=0.01 quantity=temperature unit=°C",
    "input 7 float32 order=cdab quantity=speed unit=m/s",
    "input 9 uint32 order=cdab scale=0.1 quantity=length unit=mm",
    "input 11 float32 order=badc scale=0.1 offset=-40",
    "input 13 int32 order=dcba scale=0.01",
    "input 15 uint16 order=ba",
};
#define NCH (sizeof descs / sizeof descs[0])

/* The monotonic clock in seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse the channels, then decode blocks until the time is up; prints the result. */
int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	double min_rate = argc > 2 ? atof(argv[2]) : 1e7;
	modbus_map_channel ch[NCH];
	uint16_t block[16];
	volatile double sink = 0;
	unsigned long long values = 0;
	double t0, t, rate;
	char err[200];

	for (size_t i = 0; i < NCH; i++)
		if (modbus_map_parse(descs[i], &ch[i], err, sizeof err) < 0) {
			fprintf(stderr, "bench_modbus_map: '%s': %s\n", descs[i], err);
			return 1;
		}
	for (int i = 0; i < 16; i++)
		block[i] = (uint16_t)(0x4000 + i * 0x1111);
	t0 = now_s();
	do {
		for (int rep = 0; rep < 10000; rep++) {
			double acc = 0;
			block[rep & 15] ^= (uint16_t)rep; /* the registers change between reads */
			for (size_t i = 0; i < NCH; i++) {
				double v;
				if (modbus_map_decode_at(&ch[i], 0, block, 16, &v) == 0)
					acc += v;
			}
			sink += acc;
			values += NCH;
		}
		t = now_s() - t0;
	} while (t < seconds);
	rate = (double)values / t;
	printf("{\"bench\":\"modbus_map\",\"values\":%llu,\"seconds\":%.3f,\"values_per_s\":%.0f,"
	       "\"ns_per_value\":%.2f,\"min_values_per_s\":%.0f,\"ok\":%s}\n",
	       values, t, rate, 1e9 / rate, min_rate, rate >= min_rate ? "true" : "false");
	(void)sink;
	return rate >= min_rate ? 0 : 1;
}
