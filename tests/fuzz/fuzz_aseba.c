/* fuzz_aseba.c - libFuzzer harness: the Aseba stream parser (input cut in pieces), the decoder,
 * re-encoding and the description accumulator. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/aseba.h"

static aseba_desc desc; /* too large for the stack; reset at each input */

/* Check one decoded message: encode(decode(frame)) == frame, and the accumulator holds. */
static void check_frame(const aseba_frame *f)
{
	static aseba_msg m;
	uint8_t out[ASEBA_MAX_FRAME];
	size_t n;
	int r = aseba_decode(f, &m);

	if (f->len > ASEBA_MAX_PAYLOAD)
		abort();
	if (r != 0) {
		if (r != ASEBA_E_TRUNCATED && r != ASEBA_E_TRAILING && r != ASEBA_E_ODD)
			abort();
		return;
	}
	n = aseba_encode(out, sizeof out, &m);
	if (n != ASEBA_HEADER_SIZE + f->len || (uint16_t)(out[0] | out[1] << 8) != f->len ||
	    (uint16_t)(out[2] | out[3] << 8) != f->source ||
	    (uint16_t)(out[4] | out[5] << 8) != f->type ||
	    (f->len && memcmp(out + ASEBA_HEADER_SIZE, f->payload, f->len) != 0))
		abort();
	if (m.type == ASEBA_MSG_CHANGED_VARIABLES) {
		size_t pos = 0, count, steps = 0;
		uint16_t start;
		const uint8_t *values;
		while ((r = aseba_changed_next(&m, &pos, &start, &values, &count)) == 1) {
			if (values + 2 * count > m.data + m.ndata || ++steps > ASEBA_MAX_PAYLOAD)
				abort();
		}
		if (r != 0 && r != ASEBA_E_TRUNCATED)
			abort();
	}
	r = aseba_desc_feed(&desc, &m);
	if (r < ASEBA_E_BAD_DESC || r > 1)
		abort();
	if (desc.nvars > desc.want_vars || desc.nevents > desc.want_events ||
	    desc.nnatives > desc.want_natives || desc.npool > ASEBA_DESC_POOL)
		abort();
	for (int i = 0; i < desc.nvars; i++)
		if ((uint32_t)desc.vars[i].offset + desc.vars[i].size > desc.variables_size)
			abort();
	if (desc.nvars) {
		const char *name = aseba_desc_str(&desc, desc.vars[desc.nvars - 1].name);
		uint16_t off;
		if (aseba_desc_find_var(&desc, name, &off, NULL) < 0)
			abort();
		if (desc.vars[desc.nvars - 1].size && aseba_desc_var_at(&desc, off) < 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static aseba_parser whole, pieces;
	size_t off = 0, used, step;
	aseba_frame f;
	unsigned long n1 = 0, n2 = 0;
	int r;

	memset(&whole, 0, sizeof whole);
	memset(&pieces, 0, sizeof pieces);
	/* the node the accumulator listens to: the first frame's source, if any */
	aseba_desc_init(&desc, size >= 4 ? (uint16_t)(data[2] | data[3] << 8) : 0);

	while (off < size) {
		r = aseba_parse(&whole, data + off, size - off, &used, &f);
		if (used == 0 && r == 0)
			abort();
		off += used;
		if (r == 1) {
			n1++;
			check_frame(&f);
		} else if (r != 0 && r != ASEBA_E_OVERSIZE) {
			abort();
		}
	}
	/* the same bytes in pieces of a size taken from the input give the same frames */
	step = size ? (size_t)data[0] % 7 + 1 : 1;
	for (off = 0; off < size;) {
		size_t k = size - off < step ? size - off : step, o = 0;
		while (o < k) {
			r = aseba_parse(&pieces, data + off + o, k - o, &used, &f);
			o += used;
			if (r == 1)
				n2++;
			if (r == 0)
				break;
		}
		off += k;
	}
	if (n1 != n2 || whole.errors != pieces.errors || n1 != whole.frames)
		abort();
	return 0;
}
