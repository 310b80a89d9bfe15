/* fuzz_gcode.c - libFuzzer harness: the G-code codec (framing, policy, metadata) on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/gcode.h"

/* Abort unless buf[cap] holds a NUL. */
static void terminated(const char *buf, size_t cap)
{
	if (!memchr(buf, 0, cap))
		abort();
}

/* Every codec function on one line [s, s + len) (no NUL assumed). */
static void one_line(const char *s, size_t len, const gcode_policy *pol, gcode_meta *m, long off)
{
	char cmd[GCODE_CMD_MAX + 1], frame[GCODE_FRAME_MAX], why[96];
	const char *span;
	size_t spanlen;
	long line;
	int n, r;
	gcode_code code;
	double v;

	gcode_meta_line(m, s, len, off);
	r = gcode_unframe(s, len, &line, &span, &spanlen);
	if (r > 0 || r < GCODE_FRAME_SYNTAX)
		abort();
	if (r == GCODE_FRAME_OK &&
	    (spanlen > GCODE_CMD_MAX || span < s || span + spanlen > s + len))
		abort();
	n = gcode_clean(s, len, cmd, sizeof cmd);
	if (n < 0 ? cmd[0] != '\0' : (size_t)n != strlen(cmd))
		abort();
	if (n < 0)
		return;
	if (n > 0 && (cmd[0] == ' ' || cmd[n - 1] == ' '))
		abort(); /* trimmed */
	/* cleaning is idempotent */
	{
		char again[GCODE_CMD_MAX + 1];
		if (gcode_clean(cmd, (size_t)n, again, sizeof again) != n || strcmp(again, cmd))
			abort();
	}
	if (gcode_code_parse(cmd, &code) == 0) {
		if (code.letter && !strchr("GMT", code.letter))
			abort();
		(void)gcode_classify(&code);
	} else if (code.letter) {
		abort();
	}
	/* a file's own framing taken off: shorter or equal, NUL-terminated, unchanged on refusal */
	{
		char stripped[GCODE_CMD_MAX + 1];
		int k;
		memcpy(stripped, cmd, (size_t)n + 1);
		k = gcode_strip_frame(stripped);
		if (k < 0 ? strcmp(stripped, cmd) != 0 : (k > n || (size_t)k != strlen(stripped)))
			abort();
	}
	for (const char *l = "SXEFRBNP"; *l; l++)
		if (gcode_param(cmd, *l, &v) == 1 && v != v)
			abort(); /* NaN */
	why[0] = 'x';
	r = gcode_policy_check(pol, cmd, why, sizeof why);
	terminated(why, sizeof why);
	if (r != 0 && (r != -1 || why[0] == '\0'))
		abort();
	/* framing a cleaned command, then unframing it, gives it back */
	line = (long)(len * 7919 % 100000);
	r = gcode_frame(frame, sizeof frame, line, cmd, (size_t)n);
	if (r >= 0) {
		long got;
		if ((size_t)r != strlen(frame) || frame[r - 1] != '\n')
			abort();
		if (gcode_unframe(frame, (size_t)r, &got, &span, &spanlen) != GCODE_FRAME_OK ||
		    got != line || spanlen != (size_t)n || memcmp(span, cmd, spanlen))
			abort();
		frame[r - 3] ^= 0x10; /* a checksum digit changed: refused */
		if (gcode_unframe(frame, (size_t)r, &got, &span, &spanlen) == GCODE_FRAME_OK)
			abort();
	} else if (n > 0 && !memchr(cmd, '*', (size_t)n)) {
		abort(); /* a cleaned command always fits */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	gcode_policy pol = {.max_hotend = 250, .max_bed = 100, .max_chamber = 50};
	gcode_meta m;
	char why[64];
	size_t start = 0;

	/* the first line is also a forbid list */
	{
		size_t l = 0;
		char list[256];
		while (l < size && l < sizeof list - 1 && s[l] != '\n')
			l++;
		memcpy(list, s, l);
		list[l] = '\0';
		if (gcode_policy_forbid(&pol, list, why, sizeof why) < 0)
			gcode_policy_forbid(&pol, "M500 M502 M997 M303 G29.1", why, sizeof why);
		if (pol.nforbidden < 0 || pol.nforbidden > GCODE_POLICY_MAX)
			abort();
		terminated(why, sizeof why);
	}
	gcode_meta_init(&m);
	for (size_t i = 0; i <= size; i++) {
		if (i < size && s[i] != '\n')
			continue;
		/* each line in a buffer of its exact size, so ASan sees any over-read */
		{
			size_t len = i - start;
			char *copy = malloc(len ? len : 1);
			if (!copy)
				return 0;
			memcpy(copy, s + start, len);
			one_line(copy, len, &pol, &m, (long)start);
			free(copy);
		}
		start = i + 1;
	}
	gcode_meta_finish(&m);
	if (m.nthumbs < 0 || m.nthumbs > GCODE_THUMBS_MAX || m.in_thumb)
		abort();
	for (int i = 0; i < m.nthumbs; i++)
		if (m.thumbs[i].begin_offset < 0 ||
		    m.thumbs[i].end_offset <= m.thumbs[i].begin_offset ||
		    m.thumbs[i].first_line < 1 || m.thumbs[i].first_line > m.lines)
			abort();
	terminated(m.slicer, sizeof m.slicer);
	if (m.layer_count < -1 || m.layers_seen < 0 || m.commands > m.lines)
		abort();
	return 0;
}
