/* fuzz_sender.c - libFuzzer harness: the Marlin sender driven by any sequence of events. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/marlin/sender.c"
#include "../../drivers/marlin/sender.h"

static const int64_t timeouts[4] = {5000000000LL, 60000000000LL, 60000000000LL, 60000000000LL};

/* Check what must hold whatever the firmware says. */
static void check(const mk_sender *s)
{
	if (s->fl_count < 0 || s->fl_count > s->window_lines || s->fl_count > MK_WINDOW_MAX)
		abort();
	if (s->send_n > s->next_n || s->owed < 0 || s->fl_bytes < 0)
		abort();
	if (s->acked.file_line > 0 && s->acked.file_line >= s->next_n + 1)
		abort(); /* file line i is pushed as line number i here */
}

/*
 * Each input byte is an event: push a line, resend, a reply (ok, ok N, Resend N, busy...),
 * time passing, a timeout check. Replies refer to recent line numbers so that every path runs.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static mk_sender s;
	char out[GCODE_FRAME_MAX], why[200], line[64];
	int64_t now = 0, dl;
	long file_line = 0;

	memset(&s, 0, sizeof s);
	mk_sender_reset(&s, 1, 1 + (size ? data[0] % 8 : 0), 60 + (size > 1 ? data[1] : 0), 0);
	for (size_t i = 2; i < size; i++) {
		uint8_t b = data[i], arg = i + 1 < size ? data[i + 1] : 0;
		marlin_reply r;
		switch (b % 9) {
		case 0:
		case 1: {
			char cmd[32];
			int n = snprintf(cmd, sizeof cmd, "G1 X%u", arg);
			mk_tag tag = {file_line + 1, (file_line + 1) * 10, (gcode_class)(arg % 4)};
			if (mk_sender_can_push(&s, (size_t)n, now) &&
			    mk_sender_push(&s, cmd, (size_t)n, &tag, now, out, sizeof out) > 0)
				file_line++;
			break;
		}
		case 2: mk_sender_resend_next(&s, now, out, sizeof out); break;
		case 3: snprintf(line, sizeof line, "ok"); goto reply;
		case 4:
			snprintf(line, sizeof line, "ok N%ld P15 B%u", s.next_n - 1 - arg % 8,
				 arg % 4);
			goto reply;
		case 5: snprintf(line, sizeof line, "Resend: %ld", s.next_n - arg % 12); goto reply;
		case 6: snprintf(line, sizeof line, "echo:busy: processing"); goto reply;
		case 7: now += (int64_t)arg * 1000000; break;
		case 8: mk_sender_check_timeout(&s, timeouts, now, &dl); break;
		}
		check(&s);
		continue;
	reply:
		marlin_parse(line, strlen(line), &r);
		if (mk_sender_on_reply(&s, &r, now, why, sizeof why) == MK_FAIL &&
		    !memchr(why, 0, sizeof why))
			abort();
		check(&s);
	}
	return 0;
}
