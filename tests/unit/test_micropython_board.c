/* test_micropython_board.c - the MicroPython driver's protocol handling: motor and display code,
 * the checked-upload wrapper, console text. */
#include "../../drivers/micropython/board.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Undo the wrapper's bytes literal: the body between "))(b'" and the closing quote. Returns the
 * decoded length, or -1 when the literal is malformed. */
static long unliteral(const char *w, uint8_t *out)
{
	const char *p = strstr(w, "))(b'");
	long n = 0;

	if (!p)
		return -1;
	p += 5;
	while (*p && *p != '\'') {
		if (*p != '\\') {
			out[n++] = (uint8_t)*p++;
			continue;
		}
		p++;
		if (*p == 'n' || *p == 'r' || *p == 't') {
			out[n++] = *p == 'n' ? '\n' : *p == 'r' ? '\r' : '\t';
			p++;
		} else if (*p == 'x') {
			char hex[3] = {p[1], p[2], 0};
			out[n++] = (uint8_t)strtol(hex, NULL, 16);
			p += 3;
		} else {
			return -1;
		}
	}
	return *p == '\'' ? n : -1;
}

static void test_robot_names(void)
{
	mpb_robot r = MPB_ROBOT_NONE;

	CHECK(mpb_robot_parse("maqueen", &r) == 0 && r == MPB_ROBOT_MAQUEEN);
	CHECK(mpb_robot_parse("bitbot", &r) == 0 && r == MPB_ROBOT_BITBOT);
	CHECK(mpb_robot_parse("bitbot-classic", &r) == 0 && r == MPB_ROBOT_BITBOT_CLASSIC);
	CHECK(mpb_robot_parse("none", &r) == 0 && r == MPB_ROBOT_NONE);
	CHECK(mpb_robot_parse("Maqueen", &r) < 0);
	CHECK(mpb_robot_parse(NULL, &r) < 0);
	CHECK_STR(mpb_robot_name(MPB_ROBOT_BITBOT), "bitbot");
	CHECK(mpb_robot_microbit(MPB_ROBOT_MAQUEEN));
	CHECK(!mpb_robot_microbit(MPB_ROBOT_NONE));
}

static void test_move_code(void)
{
	char out[256];

	/* Maqueen: register 0 left, 2 right, [direction, speed] (DFRobot's driver) */
	CHECK(mpb_move_code(MPB_ROBOT_MAQUEEN, 0.5, -1, out, sizeof out) > 0);
	CHECK_STR(out, "from microbit import i2c\n"
		       "i2c.write(16,bytes([0,0,128]))\n"
		       "i2c.write(16,bytes([2,1,255]))\n");
	/* out of range is clamped, NaN is 0 */
	CHECK(mpb_move_code(MPB_ROBOT_MAQUEEN, 7, NAN, out, sizeof out) > 0);
	CHECK(strstr(out, "[0,0,255]") && strstr(out, "[2,0,0]"));
	/* Bit:bot XL: forward on P16/P14, reverse on P8/P12, 0..1023 */
	CHECK(mpb_move_code(MPB_ROBOT_BITBOT, 1, -0.5, out, sizeof out) > 0);
	CHECK_STR(out, "from microbit import pin16,pin8,pin14,pin12\n"
		       "pin16.write_analog(1023)\npin8.write_analog(0)\n"
		       "pin14.write_analog(0)\npin12.write_analog(512)\n");
	CHECK(mpb_move_code(MPB_ROBOT_BITBOT_CLASSIC, 0, 0, out, sizeof out) > 0);
	CHECK(strstr(out, "pin0.write_analog(0)") && strstr(out, "pin1.write_analog(0)"));
	/* no motors, no room */
	CHECK(mpb_move_code(MPB_ROBOT_NONE, 1, 1, out, sizeof out) == 0);
	CHECK(mpb_move_code(MPB_ROBOT_MAQUEEN, 1, 1, out, 20) == 0);
}

static void test_display_code(void)
{
	char out[512];
	const char text[] = "it's \\ \x03\x04 é";
	size_t n = mpb_display_code(text, sizeof text - 1, out, sizeof out);

	CHECK(n > 0);
	CHECK_STR(out, "from microbit import display\n"
		       "_t=str(b'it\\x27s \\x5c \\x03\\x04 \\xc3\\xa9','utf-8')\n"
		       "if len(_t)==1:display.show(_t)\n"
		       "else:display.scroll(_t,wait=False)\ndel _t\n");
	for (size_t i = 0; i < n; i++)
		CHECK(!(out[i] >= 1 && out[i] <= 4));
	CHECK(mpb_display_code(text, sizeof text - 1, out, 40) == 0);
	CHECK(mpb_image_code("HEART", out, sizeof out) > 0);
	CHECK_STR(out, "from microbit import display,Image\ndisplay.show(Image.HEART)\n");
	CHECK(mpb_image_code("heart", out, sizeof out) == 0);
	CHECK(mpb_image_code("X);import os", out, sizeof out) == 0);
	CHECK(mpb_image_code("9LIVES", out, sizeof out) == 0);
	CHECK(mpb_image_code("", out, sizeof out) == 0);
}

static void test_sums(void)
{
	uint32_t a, b;

	/* Adler-32 of "Wikipedia" is 0x11E60398 */
	mpb_sums((const uint8_t *)"Wikipedia", 9, &a, &b);
	CHECK_EQ_INT(a, 0x0398);
	CHECK_EQ_INT(b, 0x11E6);
	mpb_sums(NULL, 0, &a, &b);
	CHECK_EQ_INT(a, 1);
	CHECK_EQ_INT(b, 0);
}

static void test_wrap_round_trip(void)
{
	uint8_t src[600], back[600];
	size_t cap = mpb_wrap_size(sizeof src), n;
	char *w = malloc(cap), expect[128];
	uint32_t a, b;

	for (size_t i = 0; i < sizeof src; i++)
		src[i] = (uint8_t)(i * 7 + (i >> 8)); /* every byte value, control bytes too */
	n = mpb_wrap(src, sizeof src, w, cap);
	CHECK(n > 0 && n < cap);
	CHECK_EQ_INT(strlen(w), n);
	for (size_t i = 0; i < n; i++)
		CHECK_MSG(!(w[i] >= 1 && w[i] <= 4), "a control byte would reach the board");
	CHECK_EQ_INT(unliteral(w, back), (long)sizeof src);
	CHECK(memcmp(src, back, sizeof src) == 0);
	mpb_sums(src, sizeof src, &a, &b);
	snprintf(expect, sizeof expect,
		 "(lambda s:exec(s,globals())if(len(s)==600)and((1+sum(s))%%65521==%u)and(",
		 (unsigned)a);
	CHECK(strncmp(w, expect, strlen(expect)) == 0);
	snprintf(expect, sizeof expect, "%%65521==%u)else exec(\"raise OSError('%s')\"))(b'",
		 (unsigned)b, MPB_CORRUPTED);
	CHECK(strstr(w, expect) != NULL);
	CHECK(strcmp(w + n - 3, "')\n") == 0);
	CHECK(memchr(w, '\n', n - 1) == NULL); /* one line: cut anywhere, it does not compile */
	/* newlines stay short */
	n = mpb_wrap((const uint8_t *)"print(1)\n", 9, w, cap);
	CHECK(strstr(w, "(b'print(1)\\n')\n") != NULL);
	/* too small */
	CHECK(mpb_wrap(src, sizeof src, w, 100) == 0);
	free(w);
}

static void test_text_crlf_and_utf8(void)
{
	mpb_text t = {0};
	char out[64];

	/* "\r\n" becomes "\n", even cut between two reads */
	CHECK_EQ_INT(mpb_text_feed(&t, (const uint8_t *)"a\r\nb\r", 5, out), 3);
	CHECK_STR(out, "a\nb");
	CHECK_EQ_INT(mpb_text_feed(&t, (const uint8_t *)"\nc", 2, out), 2);
	CHECK_STR(out, "\nc");
	/* a lone "\r" stays */
	mpb_text_feed(&t, (const uint8_t *)"x\ry", 3, out);
	CHECK_STR(out, "x\ry");
	/* "é" cut in two */
	CHECK_EQ_INT(mpb_text_feed(&t, (const uint8_t *)"\xc3", 1, out), 0);
	CHECK_EQ_INT(mpb_text_feed(&t, (const uint8_t *)"\xa9!", 2, out), 3);
	CHECK_STR(out, "\xc3\xa9!");
	/* invalid bytes: U+FFFD, and the byte after a broken sequence starts anew */
	mpb_text_feed(&t, (const uint8_t *)"\xff\xc3(", 3, out);
	CHECK_STR(out, "\xef\xbf\xbd\xef\xbf\xbd(");
	/* an overlong and a surrogate are refused */
	mpb_text_feed(&t, (const uint8_t *)"\xe0\x80", 2, out);
	CHECK(strncmp(out, "\xef\xbf\xbd", 3) == 0);
	mpb_text_flush(&t, out);
	mpb_text_feed(&t, (const uint8_t *)"\xed\xa0\x80", 3, out);
	CHECK(strncmp(out, "\xef\xbf\xbd", 3) == 0);
	mpb_text_flush(&t, out);
	/* what is held at the end */
	mpb_text_feed(&t, (const uint8_t *)"\xe2\x82", 2, out);
	CHECK_EQ_INT(mpb_text_flush(&t, out), 3);
	CHECK_STR(out, "\xef\xbf\xbd");
	mpb_text_feed(&t, (const uint8_t *)"\r", 1, out);
	CHECK_EQ_INT(mpb_text_flush(&t, out), 1);
	CHECK_STR(out, "\r");
	CHECK_EQ_INT(mpb_text_flush(&t, out), 0);
	/* a 4-byte sequence byte by byte */
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(mpb_text_feed(&t, (const uint8_t *)"\xf0\x9f\x98" + i, 1, out), 0);
	CHECK_EQ_INT(mpb_text_feed(&t, (const uint8_t *)"\x80", 1, out), 4);
}

static void test_last_line(void)
{
	char out[64];
	const char tb[] = "Traceback (most recent call last):\r\n  File \"<stdin>\", line 2, in "
			  "<module>\r\nZeroDivisionError: divide by zero\r\n";

	CHECK(mpb_last_line(tb, sizeof tb - 1, out, sizeof out) > 0);
	CHECK_STR(out, "ZeroDivisionError: divide by zero");
	CHECK_EQ_INT(mpb_last_line("KeyboardInterrupt: \r\n", 21, out, sizeof out), 18);
	CHECK_STR(out, "KeyboardInterrupt:");
	CHECK_EQ_INT(mpb_last_line(" \n\n", 3, out, sizeof out), 0);
	CHECK_EQ_INT(mpb_last_line(tb, sizeof tb - 1, out, 6), 5);
	CHECK_STR(out, "ZeroD");
}

int main(void)
{
	RUN(test_robot_names);
	RUN(test_move_code);
	RUN(test_display_code);
	RUN(test_sums);
	RUN(test_wrap_round_trip);
	RUN(test_text_crlf_and_utf8);
	RUN(test_last_line);
	return check_summary();
}
