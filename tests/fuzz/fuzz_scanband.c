/* fuzz_scanband.c - libFuzzer harness: the scan band header decoder on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/scanband.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	scanband_header h;
	uint8_t again[SCANBAND_HEADER_LEN];
	int off = scanband_decode(data, size, &h);

	if (off < 0)
		return 0;
	if (off != SCANBAND_HEADER_LEN ||
	    (uint64_t)h.rows * h.bytes_per_line != size - SCANBAND_HEADER_LEN)
		abort(); /* accepted a band whose data does not fit the message */
	if (h.bytes_per_line < scanband_line_bytes(h.format, h.depth, h.width))
		abort();
	/* what decodes encodes back to the same header bytes */
	if (scanband_encode(&h, again) != SCANBAND_HEADER_LEN || memcmp(again, data, sizeof again))
		abort();
	return 0;
}
