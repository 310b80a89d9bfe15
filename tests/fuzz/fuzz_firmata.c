/* fuzz_firmata.c - libFuzzer harness: the Firmata parser (both directions), sysex decoders, and
 * the pin-name parsers (config values such as "inputs = D2, D3"), pin state answers re-encoded. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
	/* a pin state answer re-encodes to one that decodes the same */
	{
		uint8_t b[16];
		int pin, mode, pin2, mode2;
		long st, st2;
		size_t k;
		if (firmata_decode_pin_state(m->data, m->len, &pin, &mode, &st) != 0)
			return;
		if (pin < 0 || pin > 127 || mode < 0 || mode > 127 || st < 0 || st >= (1L << 35))
			abort();
		k = firmata_enc_pin_state(b, pin, mode, st);
		if (k < 6 || k > sizeof b ||
		    firmata_decode_pin_state(b + 2, k - 3, &pin2, &mode2, &st2) != 0 ||
		    pin2 != pin || mode2 != mode || st2 != st)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	firmata_parser board = {0}, host = {.from_host = 1};
	uint32_t mask[FIRMATA_MAX_PINS / 32] = {0};
	char text[257];
	size_t tlen = size < 256 ? size : 256;
	int n, bits = 0;

	/* the input as a pin name and as a list: results in range, each pin counted once */
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	n = firmata_parse_pin(text, strlen(text));
	if (n < -1 || n >= FIRMATA_MAX_PINS)
		abort();
	n = firmata_parse_pin_list(text, mask);
	for (int w = 0; w < FIRMATA_MAX_PINS / 32; w++)
		bits += __builtin_popcount(mask[w]);
	if (n >= 0 && n != bits)
		abort();
	if (n < 0 && -1 - n >= (int)strlen(text))
		abort();

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
