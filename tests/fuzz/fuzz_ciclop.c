/* fuzz_ciclop.c - libFuzzer harness: the Ciclop board's line splitter and reply parser on any
 * bytes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/ciclop.h"

#include "../../drivers/ciclop/board.c" /* drivers are not in the fuzz objects */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ciclop_splitter sp = {0};
	const char *p = (const char *)data;
	char cmd[CICLOP_CMD_MAX], out[64];
	ciclop_board board = {0};
	double now = 0;

	ciclop_board_reset(&board, 0, out, sizeof out);

	while (size) {
		size_t used = 0, linelen = 0;
		const char *line = NULL;
		int r = ciclop_next_line(&sp, p, size, &used, &line, &linelen);
		if (used == 0 || used > size)
			abort(); /* no progress, or past the end */
		p += used, size -= used;
		if (r == 1) {
			ciclop_reply rep;
			if (linelen > CICLOP_LINE_MAX || strlen(line) > linelen)
				abort();
			ciclop_kind k = ciclop_parse(line, linelen, &rep);
			if (k != rep.kind || !memchr(rep.text, 0, sizeof rep.text))
				abort();
			for (size_t i = 0; rep.text[i]; i++)
				if ((unsigned char)rep.text[i] < 0x20 ||
				    (unsigned char)rep.text[i] >= 0x7f)
					abort();
			/* the same line as a command to the board model: a bounded reply, a sane
			 * table */
			size_t n = ciclop_board_line(&board, line, linelen, now, out, sizeof out);
			if (n >= sizeof out || strlen(out) != n ||
			    !isfinite(ciclop_board_angle(&board, now)))
				abort();
			now += 10;
		}
	}
	/* the encoders on values taken from the input: a command or -1, never an overflow */
	if (size == 0 && p != (const char *)data) {
		double v = 0;
		size_t total = (size_t)(p - (const char *)data);
		memcpy(&v, data, total < sizeof v ? total : sizeof v);
		int n = ciclop_encode_move(cmd, sizeof cmd, v);
		if (n >= (int)sizeof cmd || (n > 0 && cmd[n - 1] != '\n'))
			abort();
		n = ciclop_encode_speed(cmd, sizeof cmd, v);
		if (n >= (int)sizeof cmd)
			abort();
		n = ciclop_encode_laser(cmd, sizeof cmd, data[0], data[0] & 1);
		if (n >= (int)sizeof cmd)
			abort();
	}
	return 0;
}
