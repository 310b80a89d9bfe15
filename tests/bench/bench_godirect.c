/*
 * bench_godirect.c - decode speed of the Go Direct codec (samples per second), against memcpy.
 *
 *   bench_godirect [SAMPLES] [MIN_SAMPLES_PER_S]
 *
 * Builds the 64-byte input reports of a Go Direct streaming SAMPLES values (default 20 million)
 * in a mix of packet shapes (one sensor x 13 rows and three sensors x 4 rows in one report, two
 * sensors x 10 rows over two reports, a wide mask of three sensors x 4 rows), then times what the
 * driver does with
 * each report: reassembly, checksum, decoding and de-interleaving into per-sensor float arrays.
 * Prints one JSON line; exit status 0, or 1 when below MIN_SAMPLES_PER_S (default 10000000).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../protocols/godirect.c"

/* Monotonic time in seconds. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Append the reports of one packet (the sensors of mask x rows) to out; returns the number of
 * reports, or -1 if the packet cannot be built. *nvalues receives its number of values. */
static int make_packet(uint8_t *out, int wide, uint32_t mask, int rows, uint8_t counter,
		       float *base, size_t *nvalues)
{
	float vals[64];
	uint8_t pkt[256];
	int n = popcount32(mask);
	size_t len;

	*nvalues = (size_t)(n * rows);
	for (int i = 0; i < n * rows; i++)
		vals[i] = (*base += 0.125f);
	len = wide ? gdx_enc_wide(pkt, sizeof pkt, counter, mask, rows, vals)
		   : gdx_enc_normal(pkt, sizeof pkt, counter, (uint16_t)mask, rows, vals);
	return len ? gdx_wrap_reports(pkt, len, out, 4 * GDX_REPORT_SIZE) : -1;
}

/* Build the reports, time their decoding, print the JSON line; 0, or 1 below the target. */
int main(int argc, char **argv)
{
	size_t want = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000;
	double min_rate = argc > 2 ? strtod(argv[2], NULL) : 1e7;
	/* shapes: wide?, mask, rows -> values per packet 13, 12, 20, 12 */
	static const struct {
		int wide;
		uint32_t mask;
		int rows;
	} shapes[] = {{0, 0x2, 13}, {0, 0xe, 4}, {0, 0x6, 10}, {1, 0x80010002u, 4}};
	size_t cap = want / 10 * GDX_REPORT_SIZE + 16 * GDX_REPORT_SIZE, nrep = 0, values = 0;
	uint8_t *reports = malloc(cap), *copy = malloc(cap);
	float base = 0, out[64];
	double sum = 0, t0, t_decode, t_copy;
	unsigned long bad = 0, decoded = 0;
	gdx_reasm r = {0};

	if (!reports || !copy)
		return 1;
	for (int i = 0; values < want; i++) {
		size_t nv;
		int k = i % 4,
		    n = make_packet(reports + nrep * GDX_REPORT_SIZE, shapes[k].wide,
				    shapes[k].mask, shapes[k].rows, (uint8_t)i, &base, &nv);
		if (n < 0 || (nrep + (size_t)n + 4) * GDX_REPORT_SIZE > cap)
			break;
		nrep += (size_t)n;
		values += nv;
	}
	t0 = now_s();
	for (size_t i = 0; i < nrep; i++) {
		const uint8_t *p;
		size_t len;
		gdx_reasm_feed(&r, reports + i * GDX_REPORT_SIZE, GDX_REPORT_SIZE);
		while (gdx_reasm_next(&r, &p, &len)) {
			gdx_meas m;
			if (gdx_packet_check(p, len) != 0 ||
			    gdx_decode_measurement(p, len, &m) != 0) {
				bad++;
				continue;
			}
			for (int k = 0; k < m.nsensors; k++) {
				int c = gdx_meas_extract(&m, k, out);
				for (int j = 0; j < c; j++)
					sum += out[j];
				decoded += (unsigned long)c;
			}
		}
	}
	t_decode = now_s() - t0;
	t0 = now_s();
	memcpy(copy, reports, nrep * GDX_REPORT_SIZE);
	t_copy = now_s() - t0;
	if (bad || decoded != values) {
		fprintf(stderr, "decoded %lu of %zu samples, %lu bad packets\n", decoded, values,
			bad);
		return 1;
	}
	printf("{\"bench\":\"godirect_decode\",\"samples\":%zu,\"reports\":%zu,\"seconds\":%.4f,"
	       "\"samples_per_s\":%.0f,\"reports_per_s\":%.0f,\"memcpy_bytes_per_s\":%.0f,"
	       "\"target\":%.0f,\"met\":%s,\"checksum\":%.1f}\n",
	       values, nrep, t_decode, values / t_decode, nrep / t_decode,
	       nrep * GDX_REPORT_SIZE / (t_copy > 0 ? t_copy : 1e-9), min_rate,
	       values / t_decode >= min_rate ? "true" : "false", sum);
	free(reports);
	free(copy);
	return values / t_decode >= min_rate ? 0 : 1;
}
