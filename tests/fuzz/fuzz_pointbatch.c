/* fuzz_pointbatch.c - libFuzzer harness: the 3D scan point batch decoder on any bytes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/pointbatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t again[POINTBATCH_HEADER_LEN + 4096 * POINTBATCH_POINT_LEN];
	static pointbatch_point pts[4096];
	pointbatch_header h;
	int off = pointbatch_decode(data, size, &h);

	if (off < 0)
		return 0;
	if (off != POINTBATCH_HEADER_LEN || pointbatch_size(h.count) != size || h.step >= h.steps)
		abort(); /* accepted a batch whose points do not fit the message */
	if (h.count > 4096)
		return 0;
	for (uint32_t i = 0; i < h.count; i++) {
		pointbatch_point_at(data, i, &pts[i]);
		if (!isfinite(pts[i].x) || !isfinite(pts[i].y) || !isfinite(pts[i].z))
			abort();
	}
	/* what decodes encodes back to the same bytes (floats compared as bits: -0.0 stays) */
	if (pointbatch_encode(&h, pts, again, sizeof again) != (long)size ||
	    memcmp(again, data, size) != 0)
		abort();
	return 0;
}
