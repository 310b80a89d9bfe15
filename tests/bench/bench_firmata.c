/* bench_firmata.c - decode speed of the Firmata codec (samples per second), against memcpy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../protocols/firmata.c"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t samples = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000;
	size_t len = samples * 3;
	uint8_t *stream = malloc(len), *copy = malloc(len);
	firmata_parser p = {0};
	long long sum = 0, got = 0;
	double t0, t_decode, t_copy;

	if (!stream || !copy)
		return 1;
	/* 6 analog channels reporting in turn, as a board does */
	for (size_t i = 0; i < samples; i++)
		firmata_enc_analog(stream + 3 * i, (int)(i % 6), (int)(i * 7 % 1024));
	t0 = now_s();
	for (size_t i = 0; i < len; i++) {
		firmata_msg m;
		if (firmata_feed(&p, stream[i], &m) == 1) {
			sum += m.value;
			got++;
		}
	}
	t_decode = now_s() - t0;
	t0 = now_s();
	memcpy(copy, stream, len);
	t_copy = now_s() - t0;
	if (got != (long long)samples) {
		fprintf(stderr, "decoded %lld of %zu samples\n", got, samples);
		return 1;
	}
	printf("{\"bench\":\"firmata_decode\",\"samples\":%zu,\"samples_per_s\":%.0f,"
	       "\"bytes_per_s\":%.0f,\"memcpy_bytes_per_s\":%.0f,\"target\":10000000,\"met\":%s,"
	       "\"checksum\":%lld}\n",
	       samples, samples / t_decode, len / t_decode, len / (t_copy > 0 ? t_copy : 1e-9),
	       samples / t_decode >= 1e7 ? "true" : "false", sum);
	free(stream);
	free(copy);
	return 0;
}
