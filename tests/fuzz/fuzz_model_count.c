/* fuzz_model_count.c - libFuzzer harness: the model face counter on any bytes, whole and split. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/model.h"

static model_count whole, split;

/* The input's first byte picks the format and the chunk size; the rest is the file: fed whole,
 * then in chunks, the two must agree (counts and bounds, or the same error). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const model_format formats[] = {MODEL_STL_ASCII, MODEL_OBJ, MODEL_3MF};
	long long f1 = -1, v1 = -1, f2 = -1, v2 = -1;
	model_format f;
	size_t chunk;
	int r1, r2;

	if (size < 1)
		return 0;
	f = formats[data[0] % 3];
	chunk = (size_t)(data[0] / 3) % 61 + 1;
	data++;
	size--;
	model_count_init(&whole, f);
	model_count_init(&split, f);
	r1 = model_count_feed(&whole, data, size);
	r1 = model_count_end(&whole, &f1, &v1) < 0 ? -1 : r1;
	r2 = 0;
	for (size_t i = 0; i < size && r2 == 0; i += chunk)
		r2 = model_count_feed(&split, data + i, size - i < chunk ? size - i : chunk);
	r2 = model_count_end(&split, &f2, &v2) < 0 ? -1 : r2;
	if (r1 != r2 || strcmp(model_count_error(&whole), model_count_error(&split)) != 0)
		abort();
	if (r1 == 0 && (f1 != f2 || v1 != v2 || f1 < 0 || v1 < 0))
		abort();
	{
		double a0[3], a1[3], b0[3], b1[3];
		int k1 = model_count_bounds(&whole, a0, a1),
		    k2 = model_count_bounds(&split, b0, b1);
		if (k1 != k2 ||
		    (k1 == 0 && (memcmp(a0, b0, sizeof a0) || memcmp(a1, b1, sizeof a1))))
			abort();
		for (int i = 0; k1 == 0 && i < 3; i++)
			if (!(a0[i] <= a1[i])) /* finite, ordered */
				abort();
	}
	if ((r1 < 0) != (model_count_error(&whole)[0] != '\0'))
		abort();
	if (memchr(model_count_error(&whole), '\0', sizeof whole.error) == NULL)
		abort();
	/* a face count cannot pass what the bytes can hold (3 bytes a triangle at least: "<t ") */
	if (r1 == 0 && f1 > (long long)size)
		abort();
	return 0;
}
