/* test_godirect.c - the Go Direct codec against byte vectors laid out as godirect-py sends them. */
#include <stdint.h>
#include <string.h>

#include "../../protocols/godirect.h"
#include "check.h"

/* Compare a built packet with the expected bytes. */
static int same(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	return na == nb && memcmp(a, b, na) == 0;
}

static void test_checksum(void)
{
	/* GET_STATUS with counter 0xFD: 0x58 + 0x05 + 0xFD + 0x10 = 0x16A */
	const uint8_t status[] = {0x58, 0x05, 0xfd, 0x6a, 0x10};
	uint8_t bad[sizeof status];

	CHECK_EQ_INT(gdx_checksum(status, sizeof status), 0x6a);
	CHECK_EQ_INT(gdx_packet_check(status, sizeof status), 0);
	memcpy(bad, status, sizeof bad);
	bad[4] = 0x11;
	CHECK_EQ_INT(gdx_packet_check(bad, sizeof bad), GDX_ERR_CHECKSUM);
	CHECK_EQ_INT(gdx_packet_check(status, 4), GDX_ERR_SHORT);
	bad[4] = 0x10;
	bad[1] = 6; /* length byte disagrees */
	CHECK_EQ_INT(gdx_packet_check(bad, sizeof bad), GDX_ERR_SHORT);
}

static void test_commands(void)
{
	/* the exact packets godirect-py sends after open(): init (counter reset), status... */
	const uint8_t init[] = {0x58, 0x19, 0xfe, 0x3f, 0x1a, 0xa5, 0x4a, 0x06, 0x49,
				0x07, 0x48, 0x08, 0x47, 0x09, 0x46, 0x0a, 0x45, 0x0b,
				0x44, 0x0c, 0x43, 0x0d, 0x42, 0x0e, 0x41};
	const uint8_t status[] = {0x58, 0x05, 0xfd, 0x6a, 0x10};
	/* ... then, with the counter at 0xF6: set period 100000 us, start sensors 1 and 2, stop */
	const uint8_t period[] = {0x58, 0x0f, 0xf6, 0x9e, 0x1b, 0xff, 0x00, 0xa0,
				  0x86, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00};
	const uint8_t start[] = {0x58, 0x13, 0xf5, 0x7e, 0x18, 0xff, 0x01, 0x06, 0x00, 0x00,
				 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	const uint8_t stop[] = {0x58, 0x0b, 0xf4, 0x6b, 0x19, 0xff, 0x00, 0xff, 0xff, 0xff, 0xff};
	const uint8_t info3[] = {0x58, 0x06, 0x00, 0xb1, 0x50, 0x03};
	uint8_t b[64], counter = 0x42;
	size_t n;

	n = gdx_enc_init(b, sizeof b, &counter);
	CHECK(same(b, n, init, sizeof init));
	CHECK_EQ_INT(counter, 0xfe);
	n = gdx_enc_simple(b, sizeof b, &counter, GDX_CMD_GET_STATUS);
	CHECK(same(b, n, status, sizeof status));
	counter = 0xf7;
	n = gdx_enc_set_period(b, sizeof b, &counter, 100000);
	CHECK(same(b, n, period, sizeof period));
	n = gdx_enc_start(b, sizeof b, &counter, 0x6);
	CHECK(same(b, n, start, sizeof start));
	n = gdx_enc_stop(b, sizeof b, &counter);
	CHECK(same(b, n, stop, sizeof stop));
	counter = 0x01;
	n = gdx_enc_sensor_info(b, sizeof b, &counter, 3);
	CHECK(same(b, n, info3, sizeof info3));
	/* every built packet passes the receiver's check */
	CHECK_EQ_INT(gdx_packet_check(b, n), 0);
}

static void test_counter(void)
{
	uint8_t b[32], counter = 0;
	uint8_t seen[4];

	/* decremented before use, wrapping 0x00 -> 0xFF */
	gdx_enc_init(b, sizeof b, &counter);
	for (int i = 0; i < 4; i++) {
		gdx_enc_simple(b, sizeof b, &counter, GDX_CMD_GET_STATUS);
		seen[i] = b[2];
	}
	CHECK(seen[0] == 0xfd && seen[1] == 0xfc && seen[2] == 0xfb && seen[3] == 0xfa);
	counter = 0x00;
	gdx_enc_simple(b, sizeof b, &counter, GDX_CMD_GET_STATUS);
	CHECK_EQ_INT(b[2], 0xff);
	/* a failed build leaves the counter alone */
	counter = 0x10;
	CHECK_EQ_INT((int)gdx_enc_simple(b, 4, &counter, GDX_CMD_GET_STATUS), 0);
	CHECK_EQ_INT(counter, 0x10);
	CHECK_EQ_INT((int)gdx_enc_init(b, 10, &counter), 0);
	CHECK_EQ_INT(counter, 0x10);
	CHECK_EQ_INT((int)gdx_enc_sensor_info(b, sizeof b, &counter, 32), 0);
	CHECK_EQ_INT((int)gdx_enc_set_period(b, sizeof b, &counter, 0), 0);
}

static void test_reports(void)
{
	const uint8_t status[] = {0x58, 0x05, 0xfd, 0x6a, 0x10};
	uint8_t pkt[158], out[4 * GDX_REPORT_SIZE];
	int n;

	/* hidapi's buffer minus its report id: [len, packet, zero padding] */
	CHECK_EQ_INT(gdx_wrap_reports(status, sizeof status, out, GDX_REPORT_SIZE), 1);
	CHECK_EQ_INT(out[0], 5);
	CHECK(memcmp(out + 1, status, 5) == 0);
	for (int i = 6; i < GDX_REPORT_SIZE; i++)
		if (out[i] != 0) {
			CHECK_MSG(out[i] == 0, "padding must be zero");
			break;
		}
	for (size_t i = 0; i < sizeof pkt; i++)
		pkt[i] = (uint8_t)i;
	n = gdx_wrap_reports(pkt, sizeof pkt, out, sizeof out);
	CHECK_EQ_INT(n, 3);
	CHECK(out[0] == 63 && out[64] == 63 && out[128] == 32);
	CHECK(out[1] == 0 && out[65] == 63 && out[129] == 126 && out[160] == 157 && out[161] == 0);
	CHECK_EQ_INT(gdx_wrap_reports(pkt, sizeof pkt, out, 2 * GDX_REPORT_SIZE), GDX_ERR_SPACE);
	CHECK_EQ_INT(gdx_wrap_reports(pkt, 0, out, sizeof out), GDX_ERR_SPACE);
	CHECK_EQ_INT(gdx_wrap_reports(pkt, 256, out, sizeof out), GDX_ERR_SPACE);
}

static void test_reassembly(void)
{
	uint8_t payload[GDX_DEVICE_INFO_SIZE] = {0}, pkt[200], reports[4 * GDX_REPORT_SIZE];
	uint8_t two[GDX_REPORT_SIZE] = {0};
	gdx_reasm r = {0};
	const uint8_t *p;
	size_t len, n;
	int nr, got = 0;

	/* a device info reply (158 bytes) arrives in three reports */
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (uint8_t)(i * 7);
	n = gdx_enc_reply(pkt, sizeof pkt, 0x33, GDX_CMD_GET_DEVICE_INFO, 0xfc, payload,
			  sizeof payload);
	CHECK_EQ_INT((int)n, 158);
	nr = gdx_wrap_reports(pkt, n, reports, sizeof reports);
	CHECK_EQ_INT(nr, 3);
	for (int i = 0; i < nr; i++) {
		gdx_reasm_feed(&r, reports + i * GDX_REPORT_SIZE, GDX_REPORT_SIZE);
		while (gdx_reasm_next(&r, &p, &len)) {
			got++;
			CHECK(i == 2);
			CHECK(same(p, len, pkt, n));
			CHECK_EQ_INT(gdx_packet_check(p, len), 0);
		}
	}
	CHECK_EQ_INT(got, 1);
	CHECK_EQ_INT((int)r.errors, 0);

	/* two short packets in one report, then zero padding */
	{
		const uint8_t a[] = {0x58, 0x05, 0xfd, 0x6a, 0x10};
		const uint8_t b[] = {0x58, 0x06, 0x00, 0xb1, 0x50, 0x03};
		two[0] = sizeof a + sizeof b;
		memcpy(two + 1, a, sizeof a);
		memcpy(two + 1 + sizeof a, b, sizeof b);
		gdx_reasm_feed(&r, two, sizeof two);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 1);
		CHECK(same(p, len, a, sizeof a));
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 1);
		CHECK(same(p, len, b, sizeof b));
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 0);
		/* a report without a usable length byte is read whole; the padding is ignored */
		two[0] = 0;
		gdx_reasm_feed(&r, two, sizeof two);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 1);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 1);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 0);
		CHECK_EQ_INT((int)r.errors, 0);
	}

	/* garbage (a length below the header) is dropped with its report and counted */
	{
		const uint8_t junk[] = {4, 0x20, 0x02, 0x33, 0x44};
		gdx_reasm_feed(&r, junk, sizeof junk);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 0);
		CHECK_EQ_INT((int)r.errors, 1);
	}

	/* a packet cut by a timeout: reset forgets it, the next report starts afresh */
	gdx_reasm_feed(&r, reports, GDX_REPORT_SIZE);
	CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 0);
	gdx_reasm_reset(&r);
	two[0] = 5;
	gdx_reasm_feed(&r, two, sizeof two);
	CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 1);
	CHECK_EQ_INT((int)len, 5);

	/* a packet whose length byte is the last byte of a report */
	{
		uint8_t first[GDX_REPORT_SIZE] = {0}, second[GDX_REPORT_SIZE] = {0};
		const uint8_t status[] = {0x58, 0x05, 0xfd, 0x6a, 0x10};
		first[0] = 1;
		first[1] = 0x58;
		second[0] = 4;
		memcpy(second + 1, status + 1, 4);
		gdx_reasm_reset(&r);
		gdx_reasm_feed(&r, first, sizeof first);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 0);
		gdx_reasm_feed(&r, second, sizeof second);
		CHECK_EQ_INT(gdx_reasm_next(&r, &p, &len), 1);
		CHECK(same(p, len, status, sizeof status));
	}
}

static void test_replies(void)
{
	uint8_t pkt[32], mask_le[4] = {0x0e, 0x00, 0x00, 0x80};
	gdx_reply rep;
	uint32_t mask = 0;
	size_t n = gdx_enc_reply(pkt, sizeof pkt, 0x11, GDX_CMD_GET_AVAILABLE_MASK, 0xfa, mask_le,
				 sizeof mask_le);

	CHECK_EQ_INT((int)n, 10);
	CHECK_EQ_INT(gdx_packet_check(pkt, n), 0);
	CHECK_EQ_INT(gdx_parse_reply(pkt, n, GDX_CMD_GET_AVAILABLE_MASK, &rep), 0);
	CHECK_EQ_INT(rep.echo, 0xfa);
	CHECK_EQ_INT(gdx_decode_mask(rep.payload, rep.len, &mask), 0);
	CHECK_EQ_UINT(mask, 0x8000000eu);
	CHECK_EQ_INT(gdx_parse_reply(pkt, n, GDX_CMD_GET_DEFAULT_MASK, &rep), GDX_ERR_COMMAND);
	CHECK_EQ_INT(rep.cmd, GDX_CMD_GET_AVAILABLE_MASK);
	CHECK_EQ_INT(gdx_decode_mask(rep.payload, 3, &mask), GDX_ERR_SHORT);
	pkt[0] = GDX_KIND_MEASUREMENT;
	CHECK_EQ_INT(gdx_parse_reply(pkt, n, GDX_CMD_GET_AVAILABLE_MASK, &rep), GDX_ERR_KIND);
	pkt[0] = 0x58;
	CHECK_EQ_INT(gdx_parse_reply(pkt, 5, GDX_CMD_GET_AVAILABLE_MASK, &rep), GDX_ERR_SHORT);
}

static void test_status(void)
{
	/* status 0, spare, 1.2 build 0x0304, radio 5.6 build 0x0708, 87 %, charging */
	const uint8_t p[] = {0x00, 0x00, 1, 2, 0x04, 0x03, 5, 6, 0x08, 0x07, 87, 1};
	gdx_status s;

	CHECK_EQ_INT(gdx_decode_status(p, sizeof p, &s), 0);
	CHECK(s.fw_major == 1 && s.fw_minor == 2 && s.fw_build == 0x0304);
	CHECK(s.fw2_major == 5 && s.fw2_minor == 6 && s.fw2_build == 0x0708);
	CHECK_EQ_INT(s.battery_percent, 87);
	CHECK_EQ_INT(s.charger_state, 1);
	CHECK_EQ_INT(gdx_decode_status(p, 11, &s), GDX_ERR_SHORT);
}

static void test_device_info(void)
{
	uint8_t p[GDX_DEVICE_INFO_SIZE] = {0}, q[GDX_DEVICE_INFO_SIZE];
	gdx_device_info d, e;

	/* the struct godirect-py unpacks: 16s16s32sHHBBBBHBBHBBBBBBI64s */
	memcpy(p, "GDX-FOR", 7);
	memcpy(p + 16, "0W1000123", 9);
	memcpy(p + 32, "GDX-FOR 0W1000123", 17);
	p[64] = 0x01, p[66] = 0xe7, p[67] = 0x07, p[68] = 3, p[69] = 14; /* 2023-03-14 */
	p[70] = 1, p[71] = 9, p[72] = 0x2c, p[73] = 0x01;		 /* 1.9.300 */
	p[78] = 0xaa, p[83] = 0xff;
	p[84] = 0x00, p[85] = 0x10; /* 4096 */
	memcpy(p + 88,
	       "Go Direct\x01"
	       "Force",
	       15);
	CHECK_EQ_INT(gdx_decode_device_info(p, sizeof p, &d), 0);
	CHECK_STR(d.order_code, "GDX-FOR");
	CHECK_STR(d.serial, "0W1000123");
	CHECK_STR(d.name, "GDX-FOR 0W1000123");
	CHECK_EQ_INT(d.manufacturer_id, 1);
	CHECK_EQ_INT(d.year, 2023);
	CHECK(d.month == 3 && d.day == 14);
	CHECK(d.fw_major == 1 && d.fw_minor == 9 && d.fw_build == 300);
	CHECK(d.ble_address[0] == 0xaa && d.ble_address[5] == 0xff);
	CHECK_EQ_INT(d.nvmem_size, 4096);
	CHECK_STR(d.description, "Go Direct?Force"); /* control characters shown as '?' */
	CHECK_EQ_INT(gdx_decode_device_info(p, sizeof p - 1, &d), GDX_ERR_SHORT);
	/* the encoder is its inverse */
	CHECK_EQ_INT((int)gdx_enc_device_info_payload(q, sizeof q, &d), GDX_DEVICE_INFO_SIZE);
	CHECK_EQ_INT(gdx_decode_device_info(q, sizeof q, &e), 0);
	CHECK_STR(e.name, d.name);
	CHECK_EQ_INT(e.year, 2023);
}

static void test_sensor_info(void)
{
	uint8_t p[GDX_SENSOR_INFO_SIZE] = {0}, q[GDX_SENSOR_INFO_SIZE];
	const double unc = 0.05, lo = -50, hi = 50;
	gdx_sensor_info s, t;

	/* "<bBIBB60s32sdddIQIII" after the 6-byte reply header */
	p[0] = 1;
	p[2] = 0x39, p[3] = 0x30; /* id 12345 */
	p[6] = 0, p[7] = 0;
	memcpy(p + 8, "Force", 5);
	memcpy(p + 68, "N", 1);
	memcpy(p + 100, &unc, 8); /* the host is little-endian, as the wire */
	memcpy(p + 108, &lo, 8);
	memcpy(p + 116, &hi, 8);
	p[124] = 0xe8, p[125] = 0x03;				    /* min period 1000 us */
	p[128] = 0x00, p[129] = 0x10, p[130] = 0x5e, p[131] = 0x5f; /* max 1600000000 us */
	p[132] = 0x01;						    /* + 2^32: a 64-bit field */
	p[136] = 0xa0, p[137] = 0x86, p[138] = 0x01;		    /* typical 100000 us */
	p[140] = 0xe8, p[141] = 0x03;				    /* granularity 1000 us */
	p[144] = 0x10;						    /* excludes sensor 4 */
	CHECK_EQ_INT(gdx_decode_sensor_info(p, sizeof p, &s), 0);
	CHECK_EQ_INT(s.number, 1);
	CHECK_EQ_INT(s.id, 12345);
	CHECK_STR(s.description, "Force");
	CHECK_STR(s.units, "N");
	CHECK_NEAR(s.uncertainty, 0.05, 1e-12);
	CHECK_NEAR(s.min, -50, 0);
	CHECK_NEAR(s.max, 50, 0);
	CHECK_EQ_INT(s.min_period_us, 1000);
	CHECK(s.max_period_us == 1600000000ull + (1ull << 32));
	CHECK_EQ_INT(s.typ_period_us, 100000);
	CHECK_EQ_INT(s.granularity_us, 1000);
	CHECK_EQ_UINT(s.exclusion_mask, 0x10);
	/* UTF-8 units survive; invalid bytes do not reach JSON */
	memcpy(p + 68, "°C", 3);
	CHECK_EQ_INT(gdx_decode_sensor_info(p, sizeof p, &s), 0);
	CHECK_STR(s.units, "°C");
	memcpy(p + 68, "\xff\xc2", 2);
	CHECK_EQ_INT(gdx_decode_sensor_info(p, sizeof p, &s), 0);
	CHECK_STR(s.units, "??C");
	p[0] = 32;
	CHECK_EQ_INT(gdx_decode_sensor_info(p, sizeof p, &s), GDX_ERR_FORMAT);
	p[0] = 1;
	CHECK_EQ_INT(gdx_decode_sensor_info(p, sizeof p - 1, &s), GDX_ERR_SHORT);
	CHECK_EQ_INT((int)gdx_enc_sensor_info_payload(q, sizeof q, &s), GDX_SENSOR_INFO_SIZE);
	CHECK_EQ_INT(gdx_decode_sensor_info(q, sizeof q, &t), 0);
	CHECK(t.max_period_us == s.max_period_us && t.typ_period_us == 100000);
	CHECK_STR(t.description, "Force");
}

static void test_normal(void)
{
	/* sensors 1 and 2, two rows: (1.5, -2.0), (3.25, 4.0) */
	const uint8_t pkt[] = {0x20, 0x19, 0x10, 0x66, 0x06, 0x06, 0x00, 0x02, 0x00,
			       0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00,
			       0x00, 0x50, 0x40, 0x00, 0x00, 0x80, 0x40};
	const float rows[] = {1.5f, -2.0f, 3.25f, 4.0f};
	uint8_t b[64];
	gdx_meas m;
	float v[8];

	CHECK_EQ_INT(gdx_packet_check(pkt, sizeof pkt), 0);
	CHECK_EQ_INT(gdx_decode_measurement(pkt, sizeof pkt, &m), 0);
	CHECK_EQ_INT(m.type, GDX_MEAS_NORMAL_REAL32);
	CHECK_EQ_INT(m.counter, 0x10);
	CHECK_EQ_UINT(m.mask, 6);
	CHECK_EQ_INT(m.nsensors, 2);
	CHECK_EQ_INT(m.count, 2);
	CHECK_EQ_INT(m.sensor, -1);
	CHECK_EQ_INT(gdx_meas_extract(&m, 0, v), 2);
	CHECK(v[0] == 1.5f && v[1] == 3.25f);
	CHECK_EQ_INT(gdx_meas_extract(&m, 1, v), 2);
	CHECK(v[0] == -2.0f && v[1] == 4.0f);
	CHECK_EQ_INT(gdx_meas_extract(&m, 2, v), GDX_ERR_FORMAT);
	CHECK_EQ_INT(gdx_mask_nth(m.mask, 0), 1);
	CHECK_EQ_INT(gdx_mask_nth(m.mask, 1), 2);
	CHECK_EQ_INT(gdx_mask_nth(m.mask, 2), -1);
	/* the encoder gives the same bytes */
	CHECK(same(b, gdx_enc_normal(b, sizeof b, 0x10, 6, 2, rows), pkt, sizeof pkt));
	/* values beyond the packet */
	CHECK_EQ_INT(gdx_decode_measurement(pkt, sizeof pkt - 1, &m), GDX_ERR_FORMAT);
	CHECK_EQ_INT(gdx_decode_measurement(pkt, 8, &m), GDX_ERR_SHORT);
	/* a count with no sensor */
	memcpy(b, pkt, sizeof pkt);
	b[5] = 0;
	CHECK_EQ_INT(gdx_decode_measurement(b, sizeof pkt, &m), GDX_ERR_FORMAT);
}

static void test_wide(void)
{
	/* sensors 0, 17 and 31: one row */
	const float row[] = {10.0f, -0.5f, 1e6f};
	uint8_t b[64];
	gdx_meas m;
	float v[2];
	size_t n = gdx_enc_wide(b, sizeof b, 0x80, 0x80020001u, 1, row);

	CHECK_EQ_INT((int)n, 11 + 12);
	CHECK(b[4] == 0x07 && b[5] == 0x01 && b[6] == 0x00 && b[7] == 0x02 && b[8] == 0x80);
	CHECK_EQ_INT(b[9], 1);
	CHECK_EQ_INT(gdx_packet_check(b, n), 0);
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK_EQ_UINT(m.mask, 0x80020001u);
	CHECK_EQ_INT(m.nsensors, 3);
	CHECK_EQ_INT(gdx_meas_extract(&m, 2, v), 1);
	CHECK(v[0] == 1e6f);
	CHECK_EQ_INT(gdx_mask_nth(m.mask, 2), 31);
}

static void test_single_and_aperiodic(void)
{
	/* single channel real32: [0x20][len][ctr][sum][0x08][0][sensor 3][count 2][2 x f32] */
	const uint8_t real[] = {0x20, 0x10, 0x05, 0x41, 0x08, 0x00, 0x03, 0x02,
				0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40};
	const int32_t ints[] = {-7, 100000};
	uint8_t b[64];
	gdx_meas m;
	float v[4];
	size_t n;

	CHECK_EQ_INT(gdx_packet_check(real, sizeof real), 0);
	CHECK_EQ_INT(gdx_decode_measurement(real, sizeof real, &m), 0);
	CHECK_EQ_INT(m.sensor, 3);
	CHECK_EQ_UINT(m.mask, 8);
	CHECK(!m.is_int && !m.aperiodic);
	CHECK_EQ_INT(gdx_meas_extract(&m, 0, v), 2);
	CHECK(v[0] == 1.0f && v[1] == 2.0f);
	/* int32 (photogate states, counts) */
	n = gdx_enc_single(b, sizeof b, 0x06, GDX_MEAS_SINGLE_INT32, 5, 2, ints);
	CHECK_EQ_INT((int)n, 16);
	CHECK(b[8] == 0xf9 && b[9] == 0xff && b[10] == 0xff && b[11] == 0xff);
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK(m.is_int && !m.aperiodic && m.sensor == 5);
	CHECK_EQ_INT(gdx_meas_extract(&m, 0, v), 2);
	CHECK(v[0] == -7.0f && v[1] == 100000.0f);
	/* aperiodic real and int */
	n = gdx_enc_single(b, sizeof b, 0x07, GDX_MEAS_APERIODIC_REAL32, 0, 1, (float[]){0.25f});
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK(m.aperiodic && !m.is_int && m.count == 1);
	n = gdx_enc_single(b, sizeof b, 0x08, GDX_MEAS_APERIODIC_INT32, 0, 1, ints);
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK(m.aperiodic && m.is_int);
	/* sensor number out of range */
	memcpy(b, real, sizeof real);
	b[6] = 32;
	CHECK_EQ_INT(gdx_decode_measurement(b, sizeof real, &m), GDX_ERR_FORMAT);
	CHECK_EQ_INT((int)gdx_enc_single(b, sizeof b, 0, GDX_MEAS_NORMAL_REAL32, 0, 1, ints), 0);
}

static void test_events(void)
{
	uint8_t b[32];
	gdx_meas m;
	size_t n;

	/* start time: i64 microseconds at 6 */
	n = gdx_enc_event(b, sizeof b, 1, GDX_MEAS_START_TIME, 1700000000123456ull);
	CHECK_EQ_INT((int)n, 14);
	CHECK_EQ_INT(gdx_packet_check(b, n), 0);
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK(m.has_value && m.start_time_us == 1700000000123456ll);
	/* dropped: u32 at 6 */
	n = gdx_enc_event(b, sizeof b, 2, GDX_MEAS_DROPPED, 3);
	CHECK_EQ_INT((int)n, 10);
	CHECK(b[4] == 0x0d && b[6] == 3 && b[7] == 0);
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK(m.type == GDX_MEAS_DROPPED && m.has_value && m.dropped == 3);
	CHECK_EQ_INT(m.count, 0);
	/* a shorter dropped report: the event without its size */
	b[1] = 5;
	CHECK_EQ_INT(gdx_decode_measurement(b, 5, &m), 0);
	CHECK(m.type == GDX_MEAS_DROPPED && !m.has_value);
	/* period: u64 at 6 */
	n = gdx_enc_event(b, sizeof b, 3, GDX_MEAS_PERIOD, 50000);
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), 0);
	CHECK(m.has_value && m.period_us == 50000);
	/* unknown types and replies are refused */
	b[4] = 0x05;
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), GDX_ERR_TYPE);
	b[0] = 0x58;
	CHECK_EQ_INT(gdx_decode_measurement(b, n, &m), GDX_ERR_KIND);
	CHECK_EQ_INT((int)gdx_enc_event(b, sizeof b, 0, GDX_MEAS_NORMAL_REAL32, 0), 0);
}

static void test_largest(void)
{
	/* the largest normal packet: 61 values (255 bytes), four reports; one more does not fit */
	float vals[62];
	uint8_t b[300], rep[5 * GDX_REPORT_SIZE];
	gdx_reasm r = {0};
	const uint8_t *p;
	size_t len, n;
	gdx_meas m;
	int nr;

	for (int i = 0; i < 62; i++)
		vals[i] = (float)i;
	n = gdx_enc_normal(b, sizeof b, 9, 1, 61, vals);
	CHECK_EQ_INT((int)n, 253);
	CHECK_EQ_INT((int)gdx_enc_normal(b, sizeof b, 9, 1, 62, vals), 0);
	n = gdx_enc_normal(b, sizeof b, 9, 1, 61, vals);
	nr = gdx_wrap_reports(b, n, rep, sizeof rep);
	CHECK_EQ_INT(nr, 5);
	for (int i = 0; i < nr; i++) {
		gdx_reasm_feed(&r, rep + i * GDX_REPORT_SIZE, GDX_REPORT_SIZE);
		if (gdx_reasm_next(&r, &p, &len)) {
			CHECK_EQ_INT(i, 4);
			CHECK_EQ_INT(gdx_decode_measurement(p, len, &m), 0);
			CHECK_EQ_INT(m.count, 61);
			CHECK_EQ_INT(gdx_meas_extract(&m, 0, vals), 61);
			CHECK(vals[60] == 60.0f);
		}
	}
}

int main(void)
{
	RUN(test_checksum);
	RUN(test_commands);
	RUN(test_counter);
	RUN(test_reports);
	RUN(test_reassembly);
	RUN(test_replies);
	RUN(test_status);
	RUN(test_device_info);
	RUN(test_sensor_info);
	RUN(test_normal);
	RUN(test_wide);
	RUN(test_single_and_aperiodic);
	RUN(test_events);
	RUN(test_largest);
	return check_summary();
}
