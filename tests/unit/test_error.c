/* test_error.c - unit tests of bridge/util/error.c: lb_error_set (format, truncation),
 * lb_error_name. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "../../bridge/util/error.h"

/* Whether s (NUL-terminated) is valid UTF-8 (RFC 3629: no overlongs, surrogates, > U+10FFFF). */
static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p, n, min, cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			n = 1, min = 0x80, cp = c & 0x1F;
		} else if ((c & 0xF0) == 0xE0) {
			n = 2, min = 0x800, cp = c & 0x0F;
		} else if ((c & 0xF8) == 0xF0) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += n + 1;
	}
	return true;
}

static void test_set_formats(void)
{
	lb_error err;

	memset(&err, 0x55, sizeof err);
	CHECK_EQ_INT(lb_error_set(&err, LB_ERR_UNKNOWN_DEVICE, "no device '%s' (%d)", "x", 42),
		     LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_UNKNOWN_DEVICE);
	CHECK_STR(err.message, "no device 'x' (42)");

	/* A second call replaces code and message entirely. */
	CHECK_EQ_INT(lb_error_set(&err, LB_ERR_TIMEOUT, "%s", ""), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_TIMEOUT);
	CHECK_STR(err.message, "");

	/* A message with no conversions, and a literal percent sign. */
	lb_error_set(&err, LB_ERR_INTERNAL, "100%% sure");
	CHECK_STR(err.message, "100% sure");

	/* Non-ASCII text goes through unchanged. */
	lb_error_set(&err, LB_ERR_DEVICE, "unit %s", "°C");
	CHECK_STR(err.message, "unit °C");
}

static void test_set_null_err(void)
{
	/* No error structure: still returns LB_EFAIL, touches nothing. */
	CHECK_EQ_INT(lb_error_set(NULL, LB_ERR_DEVICE, "ignored %d", 1), LB_EFAIL);
}

static void test_set_truncates(void)
{
	lb_error err;
	char longtext[1000];

	memset(longtext, 'a', sizeof longtext - 1);
	longtext[sizeof longtext - 1] = '\0';
	memset(&err, 0x55, sizeof err);
	lb_error_set(&err, LB_ERR_INVALID_PARAMS, "x%sy", longtext);
	CHECK_EQ_INT(err.code, LB_ERR_INVALID_PARAMS);
	CHECK_EQ_INT(strlen(err.message), sizeof err.message - 1);
	CHECK_EQ_INT(err.message[0], 'x');
	CHECK_EQ_INT(err.message[sizeof err.message - 2], 'a');
	CHECK_EQ_INT(err.message[sizeof err.message - 1], '\0');

	/* Exactly 255 characters fit; 256 lose the last one. */
	longtext[255] = '\0';
	lb_error_set(&err, 1, "%s", longtext);
	CHECK_EQ_INT(strlen(err.message), 255);
	longtext[255] = 'b';
	longtext[256] = '\0';
	lb_error_set(&err, 1, "%s", longtext);
	CHECK_EQ_INT(strlen(err.message), 255);
	CHECK_EQ_INT(err.message[254], 'a');
}

/*
 * Known bug (reported): when the message is truncated, vsnprintf may cut a multi-byte UTF-8
 * character in half; the message is then invalid UTF-8 and lb_reply_error cannot build the reply
 * (json_pack rejects it), so the client gets a generic internal_error with "id": null.
 */
static void test_set_truncates_utf8(void)
{
	lb_error err;
	char text[600] = "ab"; /* two ASCII bytes put a 2-byte character across the limit */

	for (int i = 0; i < 200; i++)
		strcat(text, "é");
	lb_error_set(&err, LB_ERR_UNKNOWN_DEVICE, "%s", text);
	CHECK(strlen(err.message) <= sizeof err.message - 1);
	CHECK(strncmp(err.message, "abé", 4) == 0);
	CHECK_MSG(utf8_valid(err.message),
		  "error.c lb_error_set truncates inside a UTF-8 character");

	/* Without truncation the text is intact and valid. */
	lb_error_set(&err, LB_ERR_UNKNOWN_DEVICE, "%.22s", text); /* "ab" + 10 x "é" */
	CHECK(utf8_valid(err.message));
	CHECK_EQ_INT(strlen(err.message), 22);
}

static void test_names(void)
{
	static const struct {
		int code;
		const char *name;
	} names[] = {
	    {LB_ERR_PARSE, "parse_error"},
	    {LB_ERR_INVALID_REQUEST, "invalid_request"},
	    {LB_ERR_METHOD_NOT_FOUND, "method_not_found"},
	    {LB_ERR_INVALID_PARAMS, "invalid_params"},
	    {LB_ERR_INTERNAL, "internal_error"},
	    {LB_ERR_UNKNOWN_DEVICE, "unknown_device"},
	    {LB_ERR_FORBIDDEN, "forbidden"},
	    {LB_ERR_LEASED, "leased"},
	    {LB_ERR_DEVICE, "device_error"},
	    {LB_ERR_NOT_SUPPORTED, "not_supported"},
	    {LB_ERR_TIMEOUT, "timeout"},
	    {LB_ERR_TOO_LARGE, "too_large"},
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		CHECK_STR(lb_error_name(names[i].code), names[i].name);

	/* The wire codes are the stable numbers of PROTOCOL.md. */
	CHECK_EQ_INT(LB_ERR_PARSE, -32700);
	CHECK_EQ_INT(LB_ERR_INVALID_REQUEST, -32600);
	CHECK_EQ_INT(LB_ERR_METHOD_NOT_FOUND, -32601);
	CHECK_EQ_INT(LB_ERR_INVALID_PARAMS, -32602);
	CHECK_EQ_INT(LB_ERR_INTERNAL, -32603);
	CHECK_EQ_INT(LB_ERR_UNKNOWN_DEVICE, 1001);
	CHECK_EQ_INT(LB_ERR_FORBIDDEN, 1002);
	CHECK_EQ_INT(LB_ERR_LEASED, 1003);
	CHECK_EQ_INT(LB_ERR_DEVICE, 1004);
	CHECK_EQ_INT(LB_ERR_NOT_SUPPORTED, 1005);
	CHECK_EQ_INT(LB_ERR_TIMEOUT, 1006);
	CHECK_EQ_INT(LB_ERR_TOO_LARGE, 1008);

	/* Anything else, including the internal LB_E* codes and the unused 1007, is "error". */
	CHECK_STR(lb_error_name(0), "error");
	CHECK_STR(lb_error_name(1007), "error");
	CHECK_STR(lb_error_name(LB_EFAIL), "error");
	CHECK_STR(lb_error_name(LB_ENOMEM), "error");
	CHECK_STR(lb_error_name(-32604), "error");
	CHECK_STR(lb_error_name(2147483647), "error");
	CHECK_STR(lb_error_name(-2147483647 - 1), "error");
}

static void test_internal_codes(void)
{
	/* The internal return codes are 0 and distinct negatives. */
	CHECK_EQ_INT(LB_OK, 0);
	CHECK(LB_EFAIL < 0 && LB_ENOMEM < 0 && LB_EGONE < 0 && LB_EINVAL < 0 && LB_EAGAIN < 0);
	CHECK(LB_EFAIL != LB_ENOMEM && LB_ENOMEM != LB_EGONE && LB_EGONE != LB_EINVAL &&
	      LB_EINVAL != LB_EAGAIN && LB_EAGAIN != LB_EFAIL);
}

int main(void)
{
	RUN(test_set_formats);
	RUN(test_set_null_err);
	RUN(test_set_truncates);
	RUN(test_set_truncates_utf8);
	RUN(test_names);
	RUN(test_internal_codes);
	return check_summary();
}
