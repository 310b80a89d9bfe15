/* test_modbus_map.c - the Modbus register map codec: descriptions, every type and byte order. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../../protocols/modbus_map.h"
#include "check.h"

/* Parse text, which must succeed (a failure is reported with its message). */
static modbus_map_channel parse_ok(const char *text)
{
	modbus_map_channel ch;
	char err[256] = "";
	int rc = modbus_map_parse(text, &ch, err, sizeof err);

	check_report(rc == 0, __FILE__, __LINE__, "parse '%s' failed: %s", text, err);
	return ch;
}

/* Parse text, which must fail with a message containing needle. */
static void parse_fails(const char *text, const char *needle)
{
	modbus_map_channel ch;
	char err[256] = "";

	CHECK_EQ_INT(modbus_map_parse(text, &ch, err, sizeof err), -1);
	CHECK_CONTAINS(err, needle);
}

/* Every option of the syntax, as in the example. */
static void test_parse_full(void)
{
	modbus_map_channel ch = parse_ok("input 3 float32 order=cdab scale=0.1 offset=-40 "
					 "quantity=temperature unit=°C period=250");

	CHECK_EQ_INT(ch.table, MODBUS_MAP_INPUT);
	CHECK_EQ_INT(ch.address, 3);
	CHECK_EQ_INT(ch.type, MODBUS_MAP_FLOAT32);
	CHECK_EQ_INT(ch.order, MODBUS_MAP_CDAB);
	CHECK_NEAR(ch.scale, 0.1, 0);
	CHECK_NEAR(ch.offset, -40, 0);
	CHECK_STR(ch.quantity, "temperature");
	CHECK_STR(ch.unit, "°C");
	CHECK_EQ_INT(ch.period_ms, 250);
}

/* Defaults, hex addresses, tabs, the last address, ab/ba and their long names. */
static void test_parse_defaults_and_spacing(void)
{
	modbus_map_channel ch = parse_ok("  holding\t0x10   uint16 ");

	CHECK_EQ_INT(ch.table, MODBUS_MAP_HOLDING);
	CHECK_EQ_INT(ch.address, 16);
	CHECK_EQ_INT(ch.type, MODBUS_MAP_UINT16);
	CHECK_EQ_INT(ch.order, MODBUS_MAP_ABCD);
	CHECK_NEAR(ch.scale, 1, 0);
	CHECK_NEAR(ch.offset, 0, 0);
	CHECK_STR(ch.quantity, "");
	CHECK_STR(ch.unit, "");
	CHECK_EQ_INT(ch.period_ms, 0);
	ch = parse_ok("input 65535 int16 order=ba");
	CHECK_EQ_INT(ch.address, 65535);
	CHECK_EQ_INT(ch.order, MODBUS_MAP_BADC);
	ch = parse_ok("input 7 uint16 order=badc"); /* the long name of ba */
	CHECK_EQ_INT(ch.order, MODBUS_MAP_BADC);
	ch = parse_ok("input 65534 uint32 order=dcba");
	CHECK_EQ_INT(ch.order, MODBUS_MAP_DCBA);
	CHECK_EQ_INT(modbus_map_registers(ch.type), 2);
	CHECK_EQ_INT(modbus_map_registers(MODBUS_MAP_INT16), 1);
}

/* Each mistake fails with a message naming the bad token. */
static void test_parse_errors(void)
{
	parse_fails("", "empty channel description");
	parse_fails("   ", "empty");
	parse_fails(NULL, "no channel description");
	parse_fails("inptu 3 float32", "unknown register table 'inptu'");
	parse_fails("coil 3 uint16",
		    "'uint16': a coil is one bit, its type is bool (e.g. coil 3 bool)");
	parse_fails("discrete 0x10 int16", "a discrete input is one bit, its type is bool (e.g. "
					   "discrete 16 bool)");
	parse_fails("input 3 bool", "bool is the type of coils and discrete inputs");
	parse_fails("discrete 0 bool order=ab", "order= does not apply to a bool");
	parse_fails("coil 0 bool scale=-1", "scale= does not apply to a bool");
	parse_fails("coil 0 bool offset=1", "offset= does not apply to a bool");
	parse_fails("coils 0 bool", "unknown register table 'coils' (expected input, holding, "
				    "discrete or coil");
	parse_fails("input", "address and type are missing");
	parse_fails("input 3", "the type is missing");
	parse_fails("input 3 flaot32", "unknown type 'flaot32'");
	parse_fails("input -1 int16", "'-1' is not a register address");
	parse_fails("input 65536 int16", "'65536' is not a register address");
	parse_fails("input 3x int16", "'3x' is not a register address");
	parse_fails("input 0x int16", "'0x' is not a register address");
	parse_fails("input 65535 float32", "beyond the last address 65535");
	parse_fails("input 3 int16 order=cdab", "order=cdab swaps words but int16 is one register");
	parse_fails("input 3 int32 order=ba", "order=ba is for one-register types");
	parse_fails("input 3 int32 order=abdc", "unknown order 'abdc'");
	parse_fails("input 3 int32 scale=abc", "scale='abc' is not a finite number");
	parse_fails("input 3 int32 scale=nan", "scale='nan' is not a finite number");
	parse_fails("input 3 int32 offset=1e400", "offset='1e400' is not a finite number");
	parse_fails("input 3 int32 scale=0", "scale=0");
	parse_fails("input 3 int32 scale=", "scale= has no value");
	parse_fails("input 3 int32 scale=1 scale=2", "scale= is given twice");
	parse_fails("input 3 int32 colour=red", "unknown option 'colour=red'");
	parse_fails("input 3 int32 celsius", "unexpected 'celsius'");
	parse_fails("input 3 int32 period=5", "period='5' must be an integer of ms from 10");
	parse_fails("input 3 int32 period=3600001", "period='3600001'");
	parse_fails("input 3 int32 unit=abcdefghijklmnop", "unit='abcdefghijklmnop' is too long");
	parse_fails("input 3 int32 quantity=a\x01z", "not printable UTF-8");
	parse_fails("input 3 int32 unit=\xC3\x28", "unit='?(' is not printable UTF-8");
}

/* An error message must stay valid UTF-8 and short, whatever the token. */
static void test_error_quotes_safely(void)
{
	modbus_map_channel ch;
	char err[256];
	char text[400] = "input 3 ";

	memset(text + 8, 'x', 300);
	text[308] = '\0';
	CHECK_EQ_INT(modbus_map_parse(text, &ch, err, sizeof err), -1);
	CHECK_CONTAINS(err, "xxx...'");
	CHECK(strlen(err) < 200);
	CHECK_EQ_INT(modbus_map_parse("input 3 \xE2\x82", &ch, err, sizeof err), -1);
	CHECK_CONTAINS(err, "unknown type '?"
			    "?'");
	/* a small buffer truncates, and NULL is allowed */
	CHECK_EQ_INT(modbus_map_parse("input 3 flaot32", &ch, err, 8), -1);
	CHECK_EQ_INT((int)strlen(err), 7);
	CHECK_EQ_INT(modbus_map_parse("input 3 flaot32", &ch, NULL, 0), -1);
}

/* Decode regs with a description; the scaled value. */
static double decode(const char *text, uint16_t r0, uint16_t r1)
{
	modbus_map_channel ch = parse_ok(text);
	uint16_t regs[2] = {r0, r1};

	return modbus_map_value(&ch, regs);
}

/* int16/uint16 in both byte orders, their extremes, a scale. */
static void test_decode_16bit(void)
{
	CHECK_NEAR(decode("input 0 int16", 0xFF38, 0), -200, 0);
	CHECK_NEAR(decode("input 0 int16 order=ba", 0x38FF, 0), -200, 0);
	CHECK_NEAR(decode("input 0 uint16", 0xFF38, 0), 65336, 0);
	CHECK_NEAR(decode("input 0 uint16 order=ba", 0x38FF, 0), 65336, 0);
	CHECK_NEAR(decode("input 0 int16", 0x8000, 0), -32768, 0);
	CHECK_NEAR(decode("input 0 int16", 0x7FFF, 0), 32767, 0);
	CHECK_NEAR(decode("input 0 uint16", 0xFFFF, 0), 65535, 0);
	CHECK_NEAR(decode("input 0 int16 scale=0.1", 456, 0), 45.6, 1e-12);
}

/* int32/uint32/float32 in the four orders, from known byte vectors. */
static void test_decode_32bit_orders(void)
{
	/* -123456 = 0xFFFE1DC0: bytes A=FF B=FE C=1D D=C0 */
	CHECK_NEAR(decode("input 0 int32", 0xFFFE, 0x1DC0), -123456, 0);
	CHECK_NEAR(decode("input 0 int32 order=cdab", 0x1DC0, 0xFFFE), -123456, 0);
	CHECK_NEAR(decode("input 0 int32 order=badc", 0xFEFF, 0xC01D), -123456, 0);
	CHECK_NEAR(decode("input 0 int32 order=dcba", 0xC01D, 0xFEFF), -123456, 0);
	/* 101325 = 0x00018BCD; 4294967295 */
	CHECK_NEAR(decode("input 0 uint32", 0x0001, 0x8BCD), 101325, 0);
	CHECK_NEAR(decode("input 0 uint32 order=cdab", 0x8BCD, 0x0001), 101325, 0);
	CHECK_NEAR(decode("input 0 uint32 order=badc", 0x0100, 0xCD8B), 101325, 0);
	CHECK_NEAR(decode("input 0 uint32 order=dcba", 0xCD8B, 0x0100), 101325, 0);
	CHECK_NEAR(decode("input 0 uint32", 0xFFFF, 0xFFFF), 4294967295.0, 0);
	CHECK_NEAR(decode("input 0 int32", 0x8000, 0x0000), -2147483648.0, 0);
	/* 123.456f = 0x42F6E979 */
	CHECK_NEAR(decode("input 0 float32", 0x42F6, 0xE979), 123.456f, 0);
	CHECK_NEAR(decode("input 0 float32 order=cdab", 0xE979, 0x42F6), 123.456f, 0);
	CHECK_NEAR(decode("input 0 float32 order=badc", 0xF642, 0x79E9), 123.456f, 0);
	CHECK_NEAR(decode("input 0 float32 order=dcba", 0x79E9, 0xF642), 123.456f, 0);
	/* 21.5 = 0x41AC0000, -40.25 = 0xC2210000 */
	CHECK_NEAR(decode("input 0 float32", 0x41AC, 0x0000), 21.5, 0);
	CHECK_NEAR(decode("holding 9 float32", 0xC221, 0x0000), -40.25, 0);
	CHECK(isnan(decode("input 0 float32", 0x7FC0, 0x0000)));
	CHECK(isinf(decode("input 0 float32", 0xFF80, 0x0000)));
}

/* raw * scale + offset, negative scales included. */
static void test_scale_offset(void)
{
	/* 650.0f = 0x44228000, word-swapped: 650 * 0.1 - 40 = 25 */
	CHECK_NEAR(decode("input 3 float32 order=cdab scale=0.1 offset=-40", 0x8000, 0x4422), 25.0,
		   1e-12);
	CHECK_NEAR(decode("input 3 int16 scale=-0.5 offset=10", 0xFFFC, 0), 12.0, 0);
	CHECK_NEAR(decode("input 3 uint32 scale=1e-3", 0x0001, 0x8BCD), 101.325, 1e-12);
	{
		modbus_map_channel ch = parse_ok("input 3 int16 scale=2 offset=1");
		uint16_t r = 5;
		CHECK_NEAR(modbus_map_raw(&ch, &r), 5, 0);
		CHECK_NEAR(modbus_map_value(&ch, &r), 11, 0);
	}
}

/* A channel inside a block read, and the bounds of the block. */
static void test_decode_at(void)
{
	modbus_map_channel ch = parse_ok("input 12 int32");
	const uint16_t block[4] = {0xAAAA, 0x0000, 0x0007, 0xBBBB}; /* registers 10..13 */
	double v = 0;

	CHECK_EQ_INT(modbus_map_decode_at(&ch, 10, block, 4, &v), 0);
	CHECK_NEAR(v, 0x0007BBBB, 0);
	CHECK_EQ_INT(modbus_map_decode_at(&ch, 11, block, 2, &v), -1); /* 13 is outside */
	CHECK_EQ_INT(modbus_map_decode_at(&ch, 13, block, 3, &v), -1); /* 12 is before */
	ch = parse_ok("input 11 uint16");
	CHECK_EQ_INT(modbus_map_decode_at(&ch, 10, block, 4, &v), 0);
	CHECK_NEAR(v, 0, 0);
}

/* The canonical form reads back exactly, numbers included. */
static void test_format_round_trip(void)
{
	static const char *const texts[] = {
	    "input 3 float32 order=cdab scale=0.1 offset=-40 quantity=temperature unit=°C",
	    "holding 100 uint16 scale=0.1 quantity=temperature unit=°C period=1000",
	    "input 0 int16 order=ba",
	    "input 65534 uint32 order=dcba scale=1e-07 offset=123456.789",
	    "holding 0 int32 order=badc scale=0.30000000000000004",
	};

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		modbus_map_channel a = parse_ok(texts[i]), b;
		char buf[256];
		CHECK(modbus_map_format(&a, buf, sizeof buf) > 0);
		CHECK_STR(buf, texts[i]);
		b = parse_ok(buf);
		CHECK(memcmp(&a, &b, sizeof a) == 0);
	}
	{
		modbus_map_channel a = parse_ok(texts[0]);
		char small[10];
		CHECK_EQ_INT(modbus_map_format(&a, small, sizeof small), -1);
		CHECK_EQ_INT((int)strlen(small), 9);
	}
	{
		/* -0 is 0: the canonical form leaves it out and reads back the same (found by
		 * fuzzing) */
		modbus_map_channel a = parse_ok("holding 16 int16 order=ba scale=-0.5 offset=-0"),
				   b;
		char buf[256];
		CHECK(modbus_map_format(&a, buf, sizeof buf) > 0);
		CHECK_STR(buf, "holding 16 int16 order=ba scale=-0.5");
		b = parse_ok(buf);
		CHECK(memcmp(&a, &b, sizeof a) == 0);
	}
	CHECK_STR(modbus_map_order_name(MODBUS_MAP_CDAB, MODBUS_MAP_INT32), "cdab");
	CHECK_STR(modbus_map_order_name(MODBUS_MAP_BADC, MODBUS_MAP_UINT16), "ba");
	CHECK_STR(modbus_map_type_name(MODBUS_MAP_FLOAT32), "float32");
	CHECK_STR(modbus_map_table_name(MODBUS_MAP_HOLDING), "holding");
	CHECK_STR(modbus_map_table_name((modbus_map_table)0), "?");
}

/* Writing: encode then decode gives the value; exact vectors; range errors. */
static void test_encode(void)
{
	static const char *const texts[] = {
	    "holding 0 int16",
	    "holding 0 uint16 order=ba scale=0.1",
	    "holding 0 int32 order=cdab",
	    "holding 0 uint32 order=badc scale=0.01",
	    "holding 0 float32 order=dcba",
	    "holding 0 float32 scale=2 offset=-1",
	    "holding 0 int16 scale=0.01 offset=5",
	};
	static const double values[] = {-1234, 22.5, -123456, 1234.56, 123.456f, 7.5, -4.25};
	uint16_t r[2];
	char err[200];

	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		modbus_map_channel ch = parse_ok(texts[i]);
		CHECK_EQ_INT(modbus_map_encode(&ch, values[i], r, err, sizeof err),
			     modbus_map_registers(ch.type));
		CHECK_NEAR(modbus_map_value(&ch, r), values[i], 1e-9);
	}
	/* exact register vectors */
	{
		modbus_map_channel ch = parse_ok("holding 0 float32 order=cdab");
		CHECK_EQ_INT(modbus_map_encode(&ch, 123.456f, r, err, sizeof err), 2);
		CHECK_EQ_UINT(r[0], 0xE979);
		CHECK_EQ_UINT(r[1], 0x42F6);
		ch = parse_ok("holding 0 int32 order=dcba");
		CHECK_EQ_INT(modbus_map_encode(&ch, -123456, r, err, sizeof err), 2);
		CHECK_EQ_UINT(r[0], 0xC01D);
		CHECK_EQ_UINT(r[1], 0xFEFF);
		ch = parse_ok("holding 0 int16 order=ba scale=0.1");
		CHECK_EQ_INT(modbus_map_encode(&ch, -20.04, r, err, sizeof err), 1); /* rounds */
		CHECK_EQ_UINT(r[0], 0x38FF);
	}
	{
		modbus_map_channel ch = parse_ok("holding 0 uint16 scale=0.1");
		CHECK_EQ_INT(modbus_map_encode(&ch, 6553.6, r, err, sizeof err), -1);
		CHECK_CONTAINS(err, "out of range");
		CHECK_EQ_INT(modbus_map_encode(&ch, -0.1, r, err, sizeof err), -1);
		CHECK_EQ_INT(modbus_map_encode(&ch, NAN, r, err, sizeof err), -1);
		CHECK_CONTAINS(err, "not a finite value");
		ch = parse_ok("holding 0 float32");
		CHECK_EQ_INT(modbus_map_encode(&ch, 1e39, r, err, sizeof err), -1);
		CHECK_CONTAINS(err, "float32");
	}
}

/* Coils and discrete inputs: one bit each, read as 0 or 1, written as 0 or 1, planned apart. */
static void test_bits(void)
{
	static const char *const texts[] = {
	    "discrete 0 bool quantity=state",
	    "coil 17 bool quantity=state unit=on period=100",
	    "discrete 65535 bool",
	};
	modbus_map_channel ch, bits[5];
	modbus_map_read reads[5];
	int idx[5] = {0, 1, 2, 3, 4};
	uint16_t r[2] = {0, 0}, one = 1, five = 5, zero = 0;
	char err[200], buf[256];
	double v;

	ch = parse_ok("discrete 3 bool");
	CHECK_EQ_INT(ch.table, MODBUS_MAP_DISCRETE);
	CHECK_EQ_INT(ch.address, 3);
	CHECK_EQ_INT(ch.type, MODBUS_MAP_BOOL);
	CHECK_EQ_INT(modbus_map_registers(ch.type), 1);
	CHECK(modbus_map_bits(ch.table));
	CHECK(!modbus_map_bits(MODBUS_MAP_INPUT));
	CHECK_STR(modbus_map_table_name(MODBUS_MAP_COIL), "coil");
	CHECK_STR(modbus_map_table_name(MODBUS_MAP_DISCRETE), "discrete");
	CHECK_STR(modbus_map_type_name(MODBUS_MAP_BOOL), "bool");
	CHECK_NEAR(modbus_map_value(&ch, &zero), 0, 0);
	CHECK_NEAR(modbus_map_value(&ch, &one), 1, 0);
	CHECK_NEAR(modbus_map_value(&ch, &five), 1, 0); /* any set bit is 1 */
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		modbus_map_channel a = parse_ok(texts[i]), b;
		CHECK(modbus_map_format(&a, buf, sizeof buf) > 0);
		CHECK_STR(buf, texts[i]);
		b = parse_ok(buf);
		CHECK(memcmp(&a, &b, sizeof a) == 0);
	}
	/* a coil is written 0 or 1, nothing else */
	ch = parse_ok("coil 5 bool");
	CHECK_EQ_INT(modbus_map_encode(&ch, 1, r, err, sizeof err), 1);
	CHECK_EQ_UINT(r[0], 1);
	CHECK_EQ_INT(modbus_map_encode(&ch, 0, r, err, sizeof err), 1);
	CHECK_EQ_UINT(r[0], 0);
	CHECK_EQ_INT(modbus_map_encode(&ch, 0.5, r, err, sizeof err), -1);
	CHECK_CONTAINS(err, "0 or 1");
	CHECK_EQ_INT(modbus_map_encode(&ch, NAN, r, err, sizeof err), -1);
	/* bits are planned in their own tables, coils (function 1) first */
	bits[0] = parse_ok("discrete 1 bool");
	bits[1] = parse_ok("coil 0 bool");
	bits[2] = parse_ok("discrete 0 bool");
	bits[3] = parse_ok("input 0 uint16");
	bits[4] = parse_ok("coil 1 bool");
	CHECK_EQ_INT(modbus_map_plan(bits, idx, 5, 0, 125, reads, 5), 3);
	CHECK_EQ_INT(reads[0].table, MODBUS_MAP_COIL);
	CHECK_EQ_INT(reads[0].count, 2);
	CHECK_EQ_INT(reads[1].table, MODBUS_MAP_DISCRETE);
	CHECK_EQ_INT(reads[1].address, 0);
	CHECK_EQ_INT(reads[1].count, 2);
	CHECK_EQ_INT(idx[reads[1].first], 2);
	CHECK_EQ_INT(reads[2].table, MODBUS_MAP_INPUT);
	{
		uint16_t block[2] = {0, 1};
		CHECK_EQ_INT(modbus_map_decode_at(&bits[0], 0, block, 2, &v), 0);
		CHECK_NEAR(v, 1, 0);
	}
}

/* Grouping contiguous and overlapping registers, gaps, the size limit, bad arguments. */
static void test_plan(void)
{
	static const char *const texts[] = {
	    "input 0 float32",	   /* 0: 0-1 */
	    "input 2 int16",	   /* 1: 2 */
	    "input 3 int32",	   /* 2: 3-4 */
	    "holding 100 uint16",  /* 3 */
	    "input 9 uint16",	   /* 4: a gap of 4 after 5 */
	    "input 4 uint16",	   /* 5: overlaps 2 */
	    "holding 101 float32", /* 6 */
	};
	modbus_map_channel ch[7];
	modbus_map_read reads[8];
	int idx[7] = {6, 5, 4, 3, 2, 1, 0};

	for (int i = 0; i < 7; i++)
		ch[i] = parse_ok(texts[i]);
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 7, 0, 125, reads, 8), 3);
	/* holding (function 3) sorts before input (function 4) */
	CHECK_EQ_INT(reads[0].table, MODBUS_MAP_HOLDING);
	CHECK_EQ_INT(reads[0].address, 100);
	CHECK_EQ_INT(reads[0].count, 3);
	CHECK_EQ_INT(reads[0].n, 2);
	CHECK_EQ_INT(reads[1].table, MODBUS_MAP_INPUT);
	CHECK_EQ_INT(reads[1].address, 0);
	CHECK_EQ_INT(reads[1].count, 5);
	CHECK_EQ_INT(reads[1].n, 4);
	CHECK_EQ_INT(idx[reads[1].first], 0);
	CHECK_EQ_INT(idx[reads[1].first + 3], 5);
	CHECK_EQ_INT(reads[2].address, 9);
	CHECK_EQ_INT(reads[2].count, 1);
	CHECK_EQ_INT(idx[reads[2].first], 4);
	/* a gap of 4 registers may be read through when allowed */
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 7, 4, 125, reads, 8), 2);
	CHECK_EQ_INT(reads[1].count, 10);
	/* the size limit splits a group */
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 7, 0, 3, reads, 8), 4);
	CHECK_EQ_INT(reads[1].count, 3);
	CHECK_EQ_INT(reads[2].address, 3);
	CHECK_EQ_INT(reads[2].count, 2);
	/* not enough room, bad arguments */
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 7, 0, 125, reads, 2), -1);
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 7, 0, 1, reads, 8), -1);
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 7, 0, 126, reads, 8), -1);
	CHECK_EQ_INT(modbus_map_plan(ch, idx, 0, 0, 125, reads, 8), 0);
}

/* Run every test; exit status 1 if a check failed. */
int main(void)
{
	RUN(test_parse_full);
	RUN(test_parse_defaults_and_spacing);
	RUN(test_parse_errors);
	RUN(test_error_quotes_safely);
	RUN(test_decode_16bit);
	RUN(test_decode_32bit_orders);
	RUN(test_scale_offset);
	RUN(test_decode_at);
	RUN(test_format_round_trip);
	RUN(test_encode);
	RUN(test_bits);
	RUN(test_plan);
	return check_summary();
}
