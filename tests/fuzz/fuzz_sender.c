/* fuzz_sender.c - libFuzzer harness: the Marlin sender model-checked against a printer model. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/marlin/sender.c"
#include "../../drivers/marlin/sender.h"
#include "sender_check.h"

/*
 * The input chooses the printer's configuration (ADVANCED_OK, ok after a resend request, command
 * slots), the sender's window, and every interleaving of line deliveries, corruptions, flushes,
 * executions, lost oks, replies, time and timeouts (sender_check.h). A violated property (a line
 * run twice or out of order, a stall, no progress) aborts with its reason.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sc_run_state r;

	if (sc_run(&r, data, size) < 0) {
		fprintf(stderr, "fuzz_sender: %s\n", r.why);
		abort();
	}
	return 0;
}
