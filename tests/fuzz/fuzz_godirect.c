/* fuzz_godirect.c - libFuzzer harness: Go Direct report reassembly, packet checks and decoders. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/godirect.h"

/* Abort unless s is a NUL-terminated string shorter than cap without control characters. */
static void check_text(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	if (n >= cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			abort();
}

/* Run every decoder over one packet; nothing may crash, read out of bounds or break a promise. */
static void decode(const uint8_t *p, size_t len)
{
	static const uint8_t cmds[] = {GDX_CMD_GET_STATUS, GDX_CMD_GET_DEVICE_INFO,
				       GDX_CMD_GET_SENSOR_INFO, GDX_CMD_GET_AVAILABLE_MASK};
	float out[256];
	gdx_meas m;
	gdx_reply rep;

	if (len > GDX_PACKET_MAX)
		abort();
	gdx_packet_check(p, len);
	if (gdx_decode_measurement(p, len, &m) == 0) {
		if (m.nsensors < 0 || m.nsensors > GDX_MAX_SENSORS || m.count < 0 || m.count > 255)
			abort();
		if (m.count &&
		    (m.values < p || m.values + 4 * (size_t)m.count * m.nsensors > p + len))
			abort();
		for (int k = 0; k < m.nsensors; k++) {
			int n = gdx_meas_extract(&m, k, out);
			if (n != m.count || gdx_mask_nth(m.mask, k) < 0)
				abort();
		}
		if (gdx_meas_extract(&m, m.nsensors, out) >= 0)
			abort();
	}
	for (size_t c = 0; c < sizeof cmds; c++) {
		gdx_status st;
		gdx_device_info di;
		gdx_sensor_info si;
		uint32_t mask;
		int rc = gdx_parse_reply(p, len, cmds[c], &rep);
		if (rc != 0 && rc != GDX_ERR_COMMAND)
			continue;
		if (rep.payload + rep.len != p + len)
			abort();
		gdx_decode_status(rep.payload, rep.len, &st);
		gdx_decode_mask(rep.payload, rep.len, &mask);
		if (gdx_decode_device_info(rep.payload, rep.len, &di) == 0) {
			check_text(di.order_code, sizeof di.order_code);
			check_text(di.serial, sizeof di.serial);
			check_text(di.name, sizeof di.name);
			check_text(di.description, sizeof di.description);
		}
		if (gdx_decode_sensor_info(rep.payload, rep.len, &si) == 0) {
			uint8_t again[GDX_SENSOR_INFO_SIZE];
			gdx_sensor_info si2;
			check_text(si.description, sizeof si.description);
			check_text(si.units, sizeof si.units);
			if (si.number < 0 || si.number >= GDX_MAX_SENSORS)
				abort();
			/* the encoder inverts the decoder on every field */
			if (gdx_enc_sensor_info_payload(again, sizeof again, &si) != sizeof again ||
			    gdx_decode_sensor_info(again, sizeof again, &si2) != 0 ||
			    si2.id != si.id || si2.typ_period_us != si.typ_period_us ||
			    si2.max_period_us != si.max_period_us ||
			    strcmp(si2.units, si.units) != 0)
				abort();
		}
	}
}

/* One input: as a stream of reports, as one packet, and through wrap + reassembly. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gdx_reasm r = {0};
	uint8_t report[GDX_REPORT_SIZE];

	/* the input as the device's reports, 64 bytes each (the last one shorter) */
	for (size_t off = 0; off < size; off += GDX_REPORT_SIZE) {
		size_t n = size - off < GDX_REPORT_SIZE ? size - off : GDX_REPORT_SIZE;
		const uint8_t *p;
		size_t len;
		int guard = 0;
		memcpy(report, data + off, n); /* a copy: the reassembler must not read beyond n */
		gdx_reasm_feed(&r, report, n);
		while (gdx_reasm_next(&r, &p, &len)) {
			if (++guard > GDX_REPORT_SIZE || len < GDX_HEADER_SIZE)
				abort();
			decode(p, len);
		}
	}
	/* and as one packet, as a BLE notification would bring it */
	if (size <= GDX_PACKET_MAX)
		decode(data, size);
	/* wrapping any packet gives reports that reassemble into the same packet */
	if (size >= GDX_HEADER_SIZE && size <= GDX_PACKET_MAX) {
		uint8_t pkt[GDX_PACKET_MAX], reps[5 * GDX_REPORT_SIZE];
		gdx_reasm q = {0};
		const uint8_t *p = NULL;
		size_t len = 0;
		int nr, got = 0;
		memcpy(pkt, data, size);
		pkt[0] = pkt[0] ? pkt[0] : 0x20;
		pkt[1] = (uint8_t)size;
		pkt[3] = gdx_checksum(pkt, size);
		nr = gdx_wrap_reports(pkt, size, reps, sizeof reps);
		if (nr < 1)
			abort();
		for (int i = 0; i < nr; i++) {
			gdx_reasm_feed(&q, reps + i * GDX_REPORT_SIZE, GDX_REPORT_SIZE);
			while (gdx_reasm_next(&q, &p, &len))
				got++;
		}
		if (got != 1 || len != size || memcmp(p, pkt, size) != 0 ||
		    gdx_packet_check(p, len) != 0)
			abort();
	}
	return 0;
}
