/* fuzz_marlin.c - libFuzzer harness: the Marlin line splitter and reply parser on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/marlin.h"

/* Parse one line held in a buffer of its exact size (ASan sees any over-read); check the reply. */
static void check_parse(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	marlin_reply r;
	marlin_kind k;

	if (!copy)
		return;
	memcpy(copy, s, len);
	k = marlin_parse(copy, len, &r);
	free(copy);
	if (k != r.kind || k < MARLIN_OTHER || k > MARLIN_UNKNOWN_COMMAND)
		abort();
	if (r.ntemps < 0 || r.ntemps > MARLIN_TEMPS_MAX || !memchr(r.text, 0, sizeof r.text))
		abort();
	for (size_t i = 0; i < sizeof r.text && r.text[i]; i++)
		if ((unsigned char)r.text[i] < 0x20 || r.text[i] == 0x7f)
			abort();
	for (int i = 0; i < r.ntemps; i++)
		if (!memchr(r.temps[i].name, 0, sizeof r.temps[i].name) ||
		    r.temps[i].actual != r.temps[i].actual)
			abort();
	if (k == MARLIN_TEMP && r.ntemps < 1)
		abort();
	if (k == MARLIN_CAP && r.cap_value != 0 && r.cap_value != 1)
		abort();
	if ((k != MARLIN_OK && k != MARLIN_RESEND && r.line != -1) || r.line < -1)
		abort();
	if (k != MARLIN_OK && (r.planner != -1 || r.buffer != -1))
		abort();
	if (r.has_pos != (k == MARLIN_POSITION))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	marlin_splitter sp = {0}, sp1 = {0};
	const char *s = (const char *)data;
	size_t off = 0, lines = 0, lines1 = 0;

	/* each byte string is also one line */
	check_parse(s, size);
	/* split in one go, and byte by byte: the same lines */
	while (off < size) {
		size_t used = 0, linelen = 0;
		const char *line = NULL;
		int r = marlin_next_line(&sp, s + off, size - off, &used, &line, &linelen);
		if (used == 0 || used > size - off || (r != 0 && r != 1))
			abort();
		off += used;
		if (r == 1) {
			if (linelen > MARLIN_LINE_MAX || line[linelen] != '\0' ||
			    memchr(line, '\n', linelen) || memchr(line, '\r', linelen))
				abort();
			check_parse(line, linelen);
			lines++;
		}
	}
	for (size_t i = 0; i < size; i++) {
		size_t used = 0, linelen = 0;
		const char *line = NULL;
		if (marlin_next_line(&sp1, s + i, 1, &used, &line, &linelen) == 1)
			lines1++;
		if (used != 1)
			abort();
	}
	if (lines != lines1 || sp.len != sp1.len || memcmp(sp.buf, sp1.buf, sp.len))
		abort();
	return 0;
}
