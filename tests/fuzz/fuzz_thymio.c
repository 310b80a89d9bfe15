/* fuzz_thymio.c - libFuzzer harness: the Thymio driver's resynchronising framer and node state
 * (drivers/thymio/node.c, included: the fuzz build links no driver) fed the robot's bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/thymio/node.c"

static thymio_framer whole, pieces;
static thymio_node node;
static thymio_note note;

/* The frames of data pushed at once and in pieces of the given sizes must be the same. */
typedef struct seen {
	uint16_t type, source;
	size_t len;
	uint32_t sum;
} seen;

static uint32_t sum_of(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* Drain the framer; check each frame and record it. */
static size_t drain(thymio_framer *fr, int source, seen *out, size_t n, size_t cap, int feed)
{
	aseba_frame f;

	while (thymio_framer_next(fr, source, &f) == 1) {
		static aseba_msg m;
		if (f.len > ASEBA_MAX_PAYLOAD || fr->n > sizeof fr->buf ||
		    (source >= 0 && f.source != source) || aseba_decode(&f, &m) != 0)
			abort();
		if (!(f.type <= ASEBA_MSG_USER_MAX ||
		      (f.type >= ASEBA_MSG_DESCRIPTION && f.type <= ASEBA_MSG_CHANGED_VARIABLES)))
			abort();
		if (n < cap)
			out[n] = (seen){f.type, f.source, f.len, sum_of(f.payload, f.len)};
		n++;
		if (feed) {
			thymio_node_take(&node, &f, &note);
			if (note.kind == THYMIO_NOTE_USER_EVENT &&
			    (!note.name || note.nargs > ASEBA_MAX_EVENT_ARGS))
				abort();
			if (node.desc.nvars > ASEBA_DESC_MAX_VARS ||
			    node.nevents > THYMIO_MAX_USER_EVENTS)
				abort();
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static seen a[4096], b[4096];
	size_t na = 0, nb = 0, off = 0;
	int source;
	uint8_t step;
	static const char *const names[2] = {"ping", "pong"};
	static const int sizes[2] = {1, 2};

	if (size < 3)
		return 0;
	/* the first bytes: the node's id to filter on (0xFFFF: none yet), the piece size */
	source = data[0] | data[1] << 8;
	if (source == 0xFFFF)
		source = -1;
	step = data[2] ? data[2] : 1;
	data += 3, size -= 3;
	memset(&whole, 0, sizeof whole);
	memset(&pieces, 0, sizeof pieces);
	thymio_node_reset(&node, source >= 0 ? (uint16_t)source : 0);
	thymio_node_set_events(&node, names, sizes, 2);
	/* at once (as much as fits, drained as it goes) */
	while (off < size) {
		off += thymio_framer_push(&whole, data + off, size - off);
		na = drain(&whole, source, a, na, 4096, 1);
	}
	/* in pieces */
	for (off = 0; off < size;) {
		size_t n = size - off < step ? size - off : step, took = 0;
		while (took < n) {
			took += thymio_framer_push(&pieces, data + off + took, n - took);
			nb = drain(&pieces, source, b, nb, 4096, 0);
		}
		off += n;
	}
	if (na != nb || whole.dropped != pieces.dropped || whole.n != pieces.n)
		abort();
	for (size_t i = 0; i < na && i < 4096; i++)
		if (a[i].type != b[i].type || a[i].source != b[i].source || a[i].len != b[i].len ||
		    a[i].sum != b[i].sum)
			abort();
	/* every byte is a frame's or dropped, or still waiting */
	{
		size_t framed = 0;
		for (size_t i = 0; i < na && i < 4096; i++)
			framed += ASEBA_HEADER_SIZE + a[i].len;
		if (na <= 4096 && framed + whole.dropped + whole.n != size)
			abort();
	}
	for (uint16_t s = 0; s < 64; s++)
		(void)thymio_node_covered(&node, (uint16_t)(s * 61), (uint16_t)(s * 7));
	return 0;
}
