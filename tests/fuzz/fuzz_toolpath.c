/* fuzz_toolpath.c - libFuzzer harness: the toolpath state machine on any bytes, line by line. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/toolpath.h"

/* Abort unless v is a coordinate the codec may report. */
static void coord(double v, double lim)
{
	if (!isfinite(v) || fabs(v) > lim)
		abort();
}

/* Abort unless the state and the segment (when r is 1) keep the codec's promises. */
static void check(const toolpath *t, const toolpath_seg *s, int r)
{
	coord(t->x, TOOLPATH_MAX_MM);
	coord(t->y, TOOLPATH_MAX_MM);
	coord(t->z, TOOLPATH_MAX_MM);
	coord(t->e, TOOLPATH_MAX_E);
	if (t->unit != 1 && t->unit != 25.4)
		abort();
	if (r != 0 && r != 1)
		abort();
	if (r == 0)
		return;
	coord(s->x0, TOOLPATH_MAX_MM);
	coord(s->y0, TOOLPATH_MAX_MM);
	coord(s->z0, TOOLPATH_MAX_MM);
	if (s->x1 != t->x || s->y1 != t->y || s->z1 != t->z)
		abort();
	if (s->x0 == s->x1 && s->y0 == s->y1 && s->z0 == s->z1)
		abort(); /* a segment is a move */
	if (s->extruding && s->x0 == s->x1 && s->y0 == s->y1)
		abort(); /* extruding needs an XY move */
	if (s->part < TOOLPATH_PART_OBJECT || s->part > TOOLPATH_PART_CUSTOM || s->layer < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *e = p + size;
	toolpath t;
	toolpath_seg s;
	long moves = 0;

	toolpath_init(&t);
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(e - p);
		int r;

		memset(&s, 0, sizeof s);
		r = toolpath_line(&t, p, len, &s);
		check(&t, &s, r);
		moves += r;
		p += len;
	}
	if (moves != t.moves)
		abort();
	/* the whole input as one line, without copying it: same promises */
	memset(&s, 0, sizeof s);
	toolpath_init(&t);
	check(&t, &s, toolpath_line(&t, (const char *)data, size, &s));
	return 0;
}
