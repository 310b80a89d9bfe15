/* fuzz_modbus_map.c - libFuzzer harness: channel descriptions, formatting, decoding and plans. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/modbus_map.h"

#define MAX_TEXT 512
#define MAX_CH 16

/* Whether s is valid UTF-8 (error messages must be, they end up in JSON replies). */
static int valid_utf8(const unsigned char *s)
{
	while (*s) {
		int n = *s < 0x80	      ? 0
			: (*s & 0xE0) == 0xC0 ? 1
			: (*s & 0xF0) == 0xE0 ? 2
			: (*s & 0xF8) == 0xF0 ? 3
					      : -1;
		if (n < 0)
			return 0;
		s++;
		while (n--)
			if ((*s++ & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

/*
 * The input is: lines of channel descriptions (up to MAX_CH, each at most MAX_TEXT bytes), a NUL,
 * then raw bytes used as registers. Every description is parsed; the ones that parse must format
 * and parse back to the same channel, decode any registers, and plan without error.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	const uint8_t *rb = nul ? nul + 1 : data + size;
	size_t nregs = (size_t)(data + size - rb) / 2;
	uint16_t regs[MODBUS_MAP_MAX_READ + 2];
	modbus_map_channel ch[MAX_CH];
	modbus_map_read reads[MAX_CH];
	int idx[MAX_CH];
	int nch = 0;
	char text[MAX_TEXT + 1];
	size_t start = 0;

	if (nregs > MODBUS_MAP_MAX_READ)
		nregs = MODBUS_MAP_MAX_READ;
	for (size_t i = 0; i < nregs; i++)
		regs[i] = (uint16_t)(rb[2 * i] << 8 | rb[2 * i + 1]);
	while (start <= tlen && nch < MAX_CH) {
		const uint8_t *nl = memchr(data + start, '\n', tlen - start);
		size_t len = nl ? (size_t)(nl - (data + start)) : tlen - start;
		char err[160], buf[256], err2[160];
		modbus_map_channel c, back;

		if (len > MAX_TEXT)
			len = MAX_TEXT;
		memcpy(text, data + start, len);
		text[len] = '\0';
		start += len + 1;
		if (modbus_map_parse(text, &c, err, sizeof err) < 0) {
			if (!err[0] || !valid_utf8((const unsigned char *)err))
				abort(); /* a failure always says why, in valid UTF-8 */
			continue;
		}
		if (modbus_map_format(&c, buf, sizeof buf) < 0 ||
		    modbus_map_parse(buf, &back, err2, sizeof err2) < 0 ||
		    memcmp(&c, &back, sizeof c) != 0)
			abort(); /* the canonical form reads back the same */
		if (!(c.scale != 0 && isfinite(c.scale) && isfinite(c.offset)))
			abort();
		for (size_t i = 0; i + 2 <= nregs; i++) {
			double v, raw = modbus_map_raw(&c, regs + i);
			uint16_t enc[2];
			if (c.type != MODBUS_MAP_FLOAT32 && !isfinite(raw))
				abort();
			if (c.type == MODBUS_MAP_BOOL &&
			    (raw != (regs[i] != 0) || c.scale != 1 || c.offset != 0 ||
			     modbus_map_encode(&c, raw, enc, err, sizeof err) != 1 ||
			     enc[0] != (regs[i] != 0)))
				abort(); /* a bit is 0 or 1, and writes back as itself */
			if (c.type != MODBUS_MAP_FLOAT32 && c.type != MODBUS_MAP_BOOL &&
			    c.scale == 1 && c.offset == 0 &&
			    (modbus_map_encode(&c, raw, enc, err, sizeof err) !=
				 modbus_map_registers(c.type) ||
			     enc[0] != regs[i] ||
			     (modbus_map_registers(c.type) == 2 && enc[1] != regs[i + 1])))
				abort(); /* integers round-trip exactly */
			v = modbus_map_value(&c, regs + i);
			(void)v;
		}
		{
			double v;
			uint16_t base = c.address >= 3 ? (uint16_t)(c.address - 3) : 0;
			int rc = modbus_map_decode_at(&c, base, regs, nregs, &v);
			if (rc == 0 &&
			    (size_t)(c.address - base) + (size_t)modbus_map_registers(c.type) >
				nregs)
				abort();
		}
		ch[nch] = c;
		idx[nch] = nch;
		nch++;
	}
	{
		int k =
		    modbus_map_plan(ch, idx, nch, nch % 3, 2 + (int)(nregs % 124), reads, MAX_CH);
		int covered = 0;
		if (k < 0)
			abort(); /* MAX_CH reads are always enough for MAX_CH channels */
		for (int r = 0; r < k; r++) {
			if (reads[r].count < 1 || reads[r].count > 125)
				abort();
			for (int j = reads[r].first; j < reads[r].first + reads[r].n; j++) {
				const modbus_map_channel *c = &ch[idx[j]];
				if (c->table != reads[r].table || c->address < reads[r].address ||
				    c->address + modbus_map_registers(c->type) >
					reads[r].address + reads[r].count)
					abort(); /* every channel lies inside its read */
				covered++;
			}
		}
		if (covered != nch)
			abort();
	}
	return 0;
}
