/* fuzz_lines.c - libFuzzer harness: the text-line splitter and parser on any bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/lines.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lines_splitter sp = {0};
	char line[LINES_MAX_LEN + 1];

	while (size) {
		size_t used = 0;
		int r = lines_next(&sp, data, size, &used, line);
		if (used == 0 || used > size)
			abort(); /* no progress, or past the end */
		data += used, size -= used;
		if (r == 1) {
			lines_record rec;
			char err[64];
			lines_kind k = lines_parse(line, &rec, err, sizeof err);
			if (strlen(line) > LINES_MAX_LEN)
				abort();
			if ((k == LINES_DATA || k == LINES_HEADER) &&
			    (rec.n < 1 || rec.n > LINES_MAX_FIELDS))
				abort();
			if (k == LINES_ERROR && !memchr(err, 0, sizeof err))
				abort();
		}
	}
	return 0;
}
