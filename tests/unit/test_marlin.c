/* test_marlin.c - the Marlin reply parser and line splitter with lines real firmware prints. */
#include <string.h>

#include "../../protocols/marlin.h"
#include "check.h"

static marlin_kind parse(const char *s, marlin_reply *r)
{
	return marlin_parse(s, strlen(s), r);
}

static void test_ok(void)
{
	marlin_reply r;

	CHECK_EQ_INT(parse("ok", &r), MARLIN_OK);
	CHECK_EQ_INT(r.line, -1);
	CHECK_EQ_INT(r.planner, -1);
	CHECK_EQ_INT(r.buffer, -1);
	CHECK_EQ_INT(r.ntemps, 0);
	CHECK_EQ_INT(parse("ok\r", &r), MARLIN_OK);
	CHECK_EQ_INT(parse("ok N12 P15 B3", &r), MARLIN_OK);
	CHECK_EQ_INT(r.line, 12);
	CHECK_EQ_INT(r.planner, 15);
	CHECK_EQ_INT(r.buffer, 3);
	CHECK_EQ_INT(parse("ok P15 B3", &r), MARLIN_OK);
	CHECK_EQ_INT(r.line, -1);
	CHECK_EQ_INT(r.planner, 15);
	CHECK_EQ_INT(r.buffer, 3);
	CHECK_EQ_INT(parse("ok T:210.0 /210.0 B:60.0 /60.0 @:0 B@:0", &r), MARLIN_OK);
	CHECK_EQ_INT(r.ntemps, 2);
	CHECK_STR(r.temps[0].name, "T");
	CHECK_NEAR(r.temps[0].actual, 210, 0);
	CHECK_NEAR(r.temps[0].target, 210, 0);
	CHECK_STR(r.temps[1].name, "B");
	CHECK_NEAR(r.temps[1].actual, 60, 0);
	CHECK_NEAR(r.temps[1].target, 60, 0);
	CHECK_EQ_INT(r.buffer, -1); /* B:60.0 is no buffer count */
	CHECK_EQ_INT(parse("ok N5 P0 B0 T:20.1 /0.0", &r), MARLIN_OK);
	CHECK_EQ_INT(r.line, 5);
	CHECK_EQ_INT(r.planner, 0);
	CHECK_EQ_INT(r.buffer, 0);
	CHECK_EQ_INT(r.ntemps, 1);
	CHECK(parse("okay", &r) != MARLIN_OK);
	CHECK(parse("oK", &r) != MARLIN_OK);
}

static void test_resend(void)
{
	static const char *const v[] = {"Resend: 12", "Resend:12", "rs N12", "rs 12",
					"Resend: 12 "};
	marlin_reply r;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		CHECK_MSG(parse(v[i], &r) == MARLIN_RESEND, v[i]);
		CHECK_MSG(r.line == 12, v[i]);
	}
	CHECK_EQ_INT(parse("Resend:", &r), MARLIN_RESEND);
	CHECK_EQ_INT(r.line, -1);
	CHECK_EQ_INT(parse("Resend: 99999999999999", &r), MARLIN_RESEND);
	CHECK_EQ_INT(r.line, -1); /* too long to be a line number */
}

static void test_busy_wait_start(void)
{
	marlin_reply r;

	CHECK_EQ_INT(parse("echo:busy: processing", &r), MARLIN_BUSY);
	CHECK_STR(r.text, "processing");
	CHECK_EQ_INT(parse("echo:busy: paused for user", &r), MARLIN_BUSY);
	CHECK_STR(r.text, "paused for user");
	CHECK_EQ_INT(parse("busy: processing", &r), MARLIN_BUSY);
	CHECK_STR(r.text, "processing");
	CHECK_EQ_INT(parse("echo:busy: heating", &r), MARLIN_BUSY);
	CHECK_EQ_INT(parse("wait", &r), MARLIN_WAIT);
	CHECK_EQ_INT(parse("start", &r), MARLIN_START);
	CHECK_EQ_INT(parse("start\r", &r), MARLIN_START);
	CHECK_EQ_INT(parse("started", &r), MARLIN_OTHER);
	CHECK_EQ_INT(parse("waiting", &r), MARLIN_OTHER);
}

static void test_errors(void)
{
	static const char *const recoverable[] = {
	    "Error:checksum mismatch, Last Line: 4",
	    "Error:Line Number is not Last Line Number+1, Last Line: 4",
	    "Error:No Checksum with line number, Last Line: 4",
	    "Error:No Line Number with checksum, Last Line: 4",
	};
	static const char *const fatal[] = {
	    "Error:Thermal Runaway, system stopped! Heater_ID: 0",
	    "Error:Printer halted. kill() called!",
	    "Error:MAXTEMP triggered, system stopped! Heater_ID: 0",
	    "Error:MINTEMP triggered, system stopped! Heater_ID: bed",
	    "Error:Heating failed, system stopped! Heater_ID: 0",
	    "Error:something new",
	    "!! Printer halted",
	    "!!",
	};
	marlin_reply r;

	for (size_t i = 0; i < sizeof recoverable / sizeof recoverable[0]; i++)
		CHECK_MSG(parse(recoverable[i], &r) == MARLIN_ERROR, recoverable[i]);
	for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
		CHECK_MSG(parse(fatal[i], &r) == MARLIN_FATAL, fatal[i]);
	parse("Error:checksum mismatch, Last Line: 4", &r);
	CHECK_STR(r.text, "checksum mismatch, Last Line: 4");
	parse("Error:Printer halted. kill() called!", &r);
	CHECK_STR(r.text, "Printer halted. kill() called!");
	parse("!! Printer halted", &r);
	CHECK_STR(r.text, "Printer halted");
	CHECK_EQ_INT(parse("echo:Unknown command: \"M999\"", &r), MARLIN_UNKNOWN_COMMAND);
	CHECK_STR(r.text, "M999");
	CHECK_EQ_INT(parse("echo:Unknown command: \"G1234 X1\"", &r), MARLIN_UNKNOWN_COMMAND);
	CHECK_STR(r.text, "G1234 X1");
}

static void test_temperatures(void)
{
	marlin_reply r;

	CHECK_EQ_INT(parse(" T:21.3 /0.0 B:20.9 /0.0 @:0 B@:0", &r), MARLIN_TEMP);
	CHECK_EQ_INT(r.ntemps, 2);
	CHECK_STR(r.temps[0].name, "T");
	CHECK_NEAR(r.temps[0].actual, 21.3, 1e-12);
	CHECK_NEAR(r.temps[0].target, 0, 0);
	CHECK_STR(r.temps[1].name, "B");
	CHECK_NEAR(r.temps[1].actual, 20.9, 1e-12);
	CHECK_EQ_INT(
	    parse("T:21.3 /0.0 B:20.9 /0.0 T0:21.3 /0.0 T1:22.5 /200.0 @:0 B@:0 @0:0 @1:0", &r),
	    MARLIN_TEMP);
	CHECK_EQ_INT(r.ntemps, 4);
	CHECK_STR(r.temps[2].name, "T0");
	CHECK_STR(r.temps[3].name, "T1");
	CHECK_NEAR(r.temps[3].actual, 22.5, 1e-12);
	CHECK_NEAR(r.temps[3].target, 200, 0);
	/* M109's progress: no target, other words skipped */
	CHECK_EQ_INT(parse(" T:205.32 E:0 W:?", &r), MARLIN_TEMP);
	CHECK_EQ_INT(r.ntemps, 1);
	CHECK_NEAR(r.temps[0].target, -1, 0);
	/* compact and chamber/probe */
	CHECK_EQ_INT(parse("T:200.5/210 B:60/60 C:30.0 /40.0 P:25.1", &r), MARLIN_TEMP);
	CHECK_EQ_INT(r.ntemps, 4);
	CHECK_NEAR(r.temps[0].target, 210, 0);
	CHECK_STR(r.temps[2].name, "C");
	CHECK_STR(r.temps[3].name, "P");
	CHECK_NEAR(r.temps[3].target, -1, 0);
	CHECK_EQ_INT(parse("B:-14.0 /0.0", &r), MARLIN_TEMP);
	CHECK_NEAR(r.temps[0].actual, -14, 0);
	/* more than MARLIN_TEMPS_MAX: the first ones kept */
	CHECK_EQ_INT(parse("T:1 T0:2 T1:3 T2:4 T3:5 T4:6 T5:7 T6:8 T7:9 B:10", &r), MARLIN_TEMP);
	CHECK_EQ_INT(r.ntemps, MARLIN_TEMPS_MAX);
	CHECK_NEAR(r.temps[MARLIN_TEMPS_MAX - 1].actual, 8, 0);
	/* not temperatures */
	CHECK_EQ_INT(parse("T:", &r), MARLIN_OTHER);
	CHECK_EQ_INT(r.ntemps, 0);
	CHECK_EQ_INT(parse("Tool: 1", &r), MARLIN_OTHER);
	CHECK_EQ_INT(parse("echo: T:20", &r), MARLIN_OTHER);
}

static void test_m115_m114(void)
{
	marlin_reply r;

	CHECK_EQ_INT(parse("FIRMWARE_NAME:Marlin 2.1.2.1 (Aug  6 2023 12:00:00) "
			   "SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 "
			   "MACHINE_TYPE:Ender-3 EXTRUDER_COUNT:1 "
			   "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
			   &r),
		     MARLIN_FIRMWARE);
	CHECK_STR(r.text, "Marlin 2.1.2.1");
	CHECK_EQ_INT(parse("FIRMWARE_NAME:Prusa-Firmware 3.13.0 based on Marlin "
			   "FIRMWARE_URL:https://github.com/prusa3d/Prusa-Firmware "
			   "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Prusa i3 MK3S EXTRUDER_COUNT:1",
			   &r),
		     MARLIN_FIRMWARE);
	CHECK_STR(r.text, "Prusa-Firmware 3.13.0 based on Marlin");
	CHECK_EQ_INT(parse("FIRMWARE_NAME:Marlin", &r), MARLIN_FIRMWARE);
	CHECK_STR(r.text, "Marlin");
	CHECK_EQ_INT(parse("Cap:AUTOREPORT_TEMP:1", &r), MARLIN_CAP);
	CHECK_STR(r.text, "AUTOREPORT_TEMP");
	CHECK_EQ_INT(r.cap_value, 1);
	CHECK_EQ_INT(parse("Cap:EMERGENCY_PARSER:0", &r), MARLIN_CAP);
	CHECK_EQ_INT(r.cap_value, 0);
	CHECK_EQ_INT(parse("Cap:BROKEN", &r), MARLIN_OTHER);
	CHECK_EQ_INT(parse("Cap:X:2", &r), MARLIN_OTHER);
	CHECK_EQ_INT(parse("X:10.00 Y:20.00 Z:0.30 E:1.00 Count X:800 Y:1600 Z:120", &r),
		     MARLIN_POSITION);
	CHECK(r.has_pos);
	CHECK_NEAR(r.pos[0], 10, 0);
	CHECK_NEAR(r.pos[1], 20, 0);
	CHECK_NEAR(r.pos[2], 0.3, 1e-12);
	CHECK_NEAR(r.pos[3], 1, 0);
	CHECK_EQ_INT(parse("X:-1.5 Y:2 Z:3", &r), MARLIN_POSITION);
	CHECK_NEAR(r.pos[0], -1.5, 0);
	CHECK_NEAR(r.pos[3], 0, 0);
	CHECK_EQ_INT(parse("X:1 Count X:800 Y:1 Z:1", &r), MARLIN_OTHER);
	CHECK(!r.has_pos);
}

static void test_other_and_text(void)
{
	marlin_reply r;
	char big[600], bytes[64];

	CHECK_EQ_INT(parse("echo:SD card ok", &r), MARLIN_OTHER);
	CHECK_STR(r.text, "echo:SD card ok");
	CHECK_EQ_INT(parse("", &r), MARLIN_OTHER);
	CHECK_STR(r.text, "");
	CHECK_EQ_INT(marlin_parse(NULL, 0, &r), MARLIN_OTHER);
	/* control bytes and NUL become '?' */
	CHECK_EQ_INT(marlin_parse("a\0b\x01"
				  "c\x7f",
				  6, &r),
		     MARLIN_OTHER);
	CHECK_STR(r.text, "a?b?c?");
	/* long text is truncated */
	memset(big, 'x', sizeof big);
	CHECK_EQ_INT(marlin_parse(big, sizeof big, &r), MARLIN_OTHER);
	CHECK_EQ_UINT(strlen(r.text), MARLIN_TEXT_MAX - 1);
	memcpy(big, "Error:", 6);
	CHECK_EQ_INT(marlin_parse(big, sizeof big, &r), MARLIN_FATAL);
	CHECK_EQ_UINT(strlen(r.text), MARLIN_TEXT_MAX - 1);
	/* never past len: "ok" cut from "okay", "wait" from "waits", "Resend: 1" from "Resend: 12"
	 */
	CHECK_EQ_INT(marlin_parse("okay", 2, &r), MARLIN_OK);
	CHECK_EQ_INT(marlin_parse("waits", 4, &r), MARLIN_WAIT);
	CHECK_EQ_INT(marlin_parse("Resend: 12", 9, &r), MARLIN_RESEND);
	CHECK_EQ_INT(r.line, 1);
	CHECK_EQ_INT(marlin_parse("T:21.34", 5, &r), MARLIN_TEMP);
	CHECK_NEAR(r.temps[0].actual, 21, 0);
	/* every byte value alone */
	for (int c = 0; c < 256; c++) {
		bytes[0] = (char)c;
		marlin_parse(bytes, 1, &r);
		CHECK(memchr(r.text, 0, sizeof r.text) != NULL);
	}
}

/* Feed data in chunks of chunk bytes (0: split at position `at` only); collects the lines. */
static int split(const char *data, size_t len, size_t chunk, size_t at, char out[][64], int max)
{
	marlin_splitter sp = {0};
	size_t off = 0;
	int n = 0;

	while (off < len) {
		size_t end = chunk ? off + chunk : (off < at ? at : len), used = 0, linelen = 0;
		const char *line = NULL;
		if (end > len)
			end = len;
		while (off < end) {
			int r =
			    marlin_next_line(&sp, data + off, end - off, &used, &line, &linelen);
			if (used == 0 || used > end - off)
				return -1;
			off += used;
			if (r == 1) {
				if (strlen(line) != linelen && !memchr(line, 0, linelen))
					return -1;
				if (n < max)
					snprintf(out[n], 64, "%.*s", (int)linelen, line);
				n++;
			}
		}
	}
	return n;
}

static void test_splitter(void)
{
	static const char data[] = "start\r\necho: External Reset\nok\r\n"
				   "ok T:20.0 /0.0 B:19.8 /0.0 @:0 B@:0\r\n\r\nResend: 3\npartial";
	static const char *const want[] = {
	    "start",	 "echo: External Reset", "ok", "ok T:20.0 /0.0 B:19.8 /0.0 @:0 B@:0", "",
	    "Resend: 3",
	};
	const size_t len = sizeof data - 1;
	char out[8][64];

	for (size_t at = 0; at <= len; at++) {
		int n = split(data, len, 0, at, out, 8);
		CHECK_EQ_INT(n, 6);
		for (int i = 0; i < 6 && i < n; i++)
			CHECK_STR(out[i], want[i]);
	}
	for (size_t chunk = 1; chunk <= 8; chunk++) {
		int n = split(data, len, chunk, 0, out, 8);
		CHECK_EQ_INT(n, 6);
		for (int i = 0; i < 6 && i < n; i++)
			CHECK_STR(out[i], want[i]);
	}
}

static void test_splitter_overlong(void)
{
	marlin_splitter sp = {0};
	char big[MARLIN_LINE_MAX + 100];
	const char *line;
	size_t used, linelen;

	memset(big, 'a', sizeof big);
	big[sizeof big - 1] = '\n';
	CHECK_EQ_INT(marlin_next_line(&sp, big, sizeof big, &used, &line, &linelen), 1);
	CHECK_EQ_UINT(used, sizeof big);
	CHECK_EQ_UINT(linelen, MARLIN_LINE_MAX); /* cut */
	CHECK_EQ_UINT(strlen(line), MARLIN_LINE_MAX);
	CHECK_EQ_INT(marlin_next_line(&sp, "ok\n", 3, &used, &line, &linelen), 1);
	CHECK_STR(line, "ok"); /* the next line is whole */
	CHECK_EQ_INT(marlin_next_line(&sp, "", 0, &used, &line, &linelen), 0);
	CHECK_EQ_UINT(used, 0);
}

int main(void)
{
	RUN(test_ok);
	RUN(test_resend);
	RUN(test_busy_wait_start);
	RUN(test_errors);
	RUN(test_temperatures);
	RUN(test_m115_m114);
	RUN(test_other_and_text);
	RUN(test_splitter);
	RUN(test_splitter_overlong);
	return check_summary();
}
