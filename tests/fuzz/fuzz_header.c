/* fuzz_header.c - libFuzzer harness: stream headers built from any bytes must be valid JSON. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/core/header.h"

/*
 * Input layout (short inputs are padded with zeros):
 *	[0]      type = b % 7, sim = bit 3, rate form = bits 4-5
 *	[1..8]   rate (raw double, or an integer / 1000 by rate form)
 *	[9..16]  seq    [17..24] t_host    [25..32] t_dev    [33..36] count
 *	[37..38] prefix buffer size % 700  [39..40] finish buffer size = prefix + this % 260
 *	[41..]   quantity, a 0 byte, unit (both raw bytes: maybe not UTF-8)
 *
 * It found two bugs, now fixed and guarded here: the NUL written one byte past cap when a prefix
 * filled cap exactly (ASan watches the exact-size buffer), and a non-finite or nearly DBL_MAX
 * rate printed as something jansson does not read (such a prefix must fail instead).
 */

#define EPOCH "0123456789abcdef"
#define HEAD 41

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static bool utf8_valid(const char *s)
{
	json_t *j = json_string(s);
	bool ok = j != NULL;

	json_decref(j);
	return ok;
}

/* Check a finished header against what it was built from. */
static void check_finished(const char *buf, size_t len, lb_sample_type type, int sim,
			   const char *quantity, const char *unit, double rate, uint64_t seq,
			   int64_t t_host, int64_t t_dev, uint32_t count)
{
	bool big_seq = seq > (uint64_t)INT64_MAX;
	json_t *j = json_loadb(buf, len, big_seq ? JSON_DECODE_INT_AS_REAL : 0, NULL);

	FUZZ_ASSERT(json_is_object(j)); /* a non-finite rate makes the prefix fail before */
	FUZZ_ASSERT(json_object_size(j) == (type == LB_JSON ? 7u : 10u) + (sim ? 1 : 0));
	if (!big_seq) {
		FUZZ_ASSERT(json_integer_value(json_object_get(j, "v")) == LB_PROTOCOL_VERSION);
		FUZZ_ASSERT(json_integer_value(json_object_get(j, "seq")) == (json_int_t)seq);
		FUZZ_ASSERT(json_integer_value(json_object_get(j, "t_host")) == t_host);
		FUZZ_ASSERT(json_integer_value(json_object_get(j, "t_dev")) == t_dev);
		FUZZ_ASSERT(json_integer_value(json_object_get(j, "count")) == count);
	} else {
		char want[40];
		snprintf(want, sizeof want, ",\"seq\":%llu,", (unsigned long long)seq);
		FUZZ_ASSERT(memmem(buf, len, want, strlen(want)) != NULL);
	}
	FUZZ_ASSERT(strcmp(json_string_value(json_object_get(j, "epoch")), EPOCH) == 0);
	FUZZ_ASSERT(
	    strcmp(json_string_value(json_object_get(j, "type")), lb_sample_type_name(type)) == 0);
	FUZZ_ASSERT(json_is_true(json_object_get(j, "sim")) == (sim != 0));
	if (type != LB_JSON) {
		double r = json_number_value(json_object_get(j, "rate"));
		FUZZ_ASSERT(strcmp(json_string_value(json_object_get(j, "quantity")), quantity) ==
			    0);
		FUZZ_ASSERT(strcmp(json_string_value(json_object_get(j, "unit")), unit) == 0);
		FUZZ_ASSERT(r == rate || fabs(r - rate) <= fabs(rate) * 1e-14);
	}
	for (size_t i = 0; i < len; i++)
		FUZZ_ASSERT(buf[i] >= 0x20 && buf[i] <= 0x7F); /* JSON_ENSURE_ASCII */
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char big[1 << 16];
	uint8_t h[HEAD] = {0};
	lb_sample_type type;
	int sim, big_n, n, f;
	double rate;
	uint64_t seq, bits;
	int64_t t_host, t_dev;
	uint32_t count;
	size_t pcap, fcap, rest, need;
	char *quantity, *unit, *prefix, *fin;
	const uint8_t *zero;

	memcpy(h, data, size < HEAD ? size : HEAD);
	type = (lb_sample_type)(h[0] % 7);
	sim = (h[0] >> 3) & 1;
	bits = get_u64(h + 1);
	switch ((h[0] >> 4) & 3) {
	case 0: memcpy(&rate, &bits, sizeof rate); break;
	case 1: rate = (double)(bits & 0xFFFFF); break;
	case 2: rate = (double)(uint32_t)bits / 1000.0; break;
	default: rate = (double)(int64_t)bits; break;
	}
	seq = get_u64(h + 9);
	t_host = (int64_t)get_u64(h + 17);
	t_dev = (int64_t)get_u64(h + 25);
	count = (uint32_t)get_u64(h + 33);
	pcap = (size_t)(h[37] | h[38] << 8) % 700;
	fcap = (size_t)(h[39] | h[40] << 8) % 260;

	/* quantity NUL unit, as C strings. */
	rest = size > HEAD ? size - HEAD : 0;
	quantity = malloc(rest + 1);
	unit = malloc(rest + 1);
	FUZZ_ASSERT(quantity && unit);
	memcpy(quantity, data + HEAD, rest);
	quantity[rest] = '\0';
	zero = rest ? memchr(data + HEAD, 0, rest) : NULL;
	if (zero) {
		size_t ulen = rest - (size_t)(zero - (data + HEAD)) - 1;
		memcpy(unit, zero + 1, ulen);
		unit[ulen] = '\0';
	} else {
		unit[0] = '\0';
	}

	/* With all the room it needs, a prefix fails only on text that is not UTF-8 (or nan/inf).
	 */
	big_n = lb_header_prefix(big, sizeof big, EPOCH, type, quantity, unit, rate, sim);
	if (big_n < 0)
		FUZZ_ASSERT(type != LB_JSON &&
			    (!utf8_valid(quantity) || !utf8_valid(unit) || !isfinite(rate)));
	else
		FUZZ_ASSERT((size_t)big_n == strlen(big));

	/* In a buffer of exactly pcap bytes: ASan catches any write past it. */
	prefix = malloc(pcap ? pcap : 1);
	FUZZ_ASSERT(prefix);
	n = lb_header_prefix(prefix, pcap, EPOCH, type, quantity, unit, rate, sim);
	if (n >= 0) {
		FUZZ_ASSERT(n == big_n && (size_t)n < pcap);
		FUZZ_ASSERT(memcmp(prefix, big, (size_t)n + 1) == 0);
	} else {
		FUZZ_ASSERT(big_n < 0 || pcap <= (size_t)big_n);
	}

	if (big_n >= 0) {
		/* Finish in a buffer of exactly fcap bytes: it fits when the worst case fits. */
		fcap += (size_t)big_n;
		fin = malloc(fcap ? fcap : 1);
		FUZZ_ASSERT(fin);
		f = lb_header_finish(fin, fcap, big, (size_t)big_n, seq, t_host, t_dev, count);
		/* it fits when its own length fits (that length counted apart, digit by digit) */
		need = lb_header_finish_len((size_t)big_n, seq, t_host, t_dev, count);
		FUZZ_ASSERT(need <= (size_t)big_n + 36 + 4 * 21 + 2);
		if (fcap >= need) {
			FUZZ_ASSERT(f > big_n && (size_t)f == need && (size_t)f <= fcap);
			check_finished(fin, (size_t)f, type, sim, quantity, unit, rate, seq, t_host,
				       t_dev, count);
		} else {
			FUZZ_ASSERT(f == -1);
		}
		free(fin);
	}

	/* Every sample type reads any bytes. */
	if (rest >= 8)
		for (int t = 0; t <= LB_JSON; t++)
			(void)lb_sample_get((lb_sample_type)t, data + HEAD, 0);

	free(prefix);
	free(quantity);
	free(unit);
	return 0;
}
