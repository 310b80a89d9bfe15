/* bench_lines.c - decode speed of the text-line codec (values per second), against memcpy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../protocols/lines.c"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	const size_t nlines = 2000000;
	const char *rec = "21.53,120,-32\r\n"; /* a micro:bit record: 3 values */
	size_t rl = strlen(rec), len = nlines * rl, values = 0;
	uint8_t *buf = malloc(len), *copy = malloc(len);
	lines_splitter sp = {0};
	char line[LINES_MAX_LEN + 1];
	double sum = 0, t0, t_dec, t_cpy;
	size_t off = 0;

	if (!buf || !copy)
		return 1;
	for (size_t i = 0; i < nlines; i++)
		memcpy(buf + i * rl, rec, rl);
	t0 = now_s();
	while (off < len) {
		size_t used;
		if (lines_next(&sp, buf + off, len - off, &used, line) == 1) {
			lines_record r;
			char err[64];
			if (lines_parse(line, &r, err, sizeof err) == LINES_DATA) {
				values += (size_t)r.n;
				sum += r.value[0];
			}
		}
		off += used;
	}
	t_dec = now_s() - t0;
	t0 = now_s();
	memcpy(copy, buf, len);
	t_cpy = now_s() - t0;
	sum += copy[len / 2]; /* keep the copy */
	printf("{\"bench\":\"lines_decode\",\"values\":%zu,\"values_per_s\":%.0f,"
	       "\"bytes_per_s\":%.0f,\"memcpy_bytes_per_s\":%.0f,\"target\":10000000,\"met\":%s,"
	       "\"checksum\":%.1f}\n",
	       values, values / t_dec, len / t_dec, len / (t_cpy > 0 ? t_cpy : 1e-9),
	       values / t_dec >= 1e7 ? "true" : "false", sum);
	free(buf);
	free(copy);
	return values == 3 * nlines ? 0 : 1;
}
