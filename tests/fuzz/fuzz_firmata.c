/* fuzz_firmata.c - libFuzzer harness: the Firmata parser (both directions) and sysex decoders. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../protocols/firmata.h"

/* Decode every complete sysex with each decoder; nothing may crash or read out of bounds. */
static void decode(const firmata_msg *m)
{
	firmata_pin pins[FIRMATA_MAX_PINS];
	char text[64];
	int major, minor, n;

	if (m->type != FIRMATA_MSG_SYSEX)
		return;
	firmata_decode_firmware(m->data, m->len, &major, &minor, text, sizeof text);
	firmata_decode_string(m->data, m->len, text, sizeof text);
	n = firmata_decode_capabilities(m->data, m->len, pins, FIRMATA_MAX_PINS);
	if (n > 0)
		firmata_decode_analog_mapping(m->data, m->len, pins, n);
	if (n > FIRMATA_MAX_PINS)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	firmata_parser board = {0}, host = {.from_host = 1};

	for (size_t i = 0; i < size; i++) {
		firmata_msg m;
		if (firmata_feed(&board, data[i], &m) == 1) {
			if (m.type == FIRMATA_MSG_ANALOG && (m.value < 0 || m.value > 16383))
				abort();
			decode(&m);
		}
		if (firmata_feed(&host, data[i], &m) == 1)
			decode(&m);
	}
	return 0;
}
