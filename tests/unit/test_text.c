/* test_text.c - unit tests of bridge/util/csv.c and yesno.c: CSV quoting, the yes/no words. */
#include <string.h>

#include "../../bridge/util/csv.h"
#include "../../bridge/util/yesno.h"
#include "check.h"

/* Plain fields stay as they are; a separator, a quote, CR or LF quote the field (RFC 4180). */
static void test_csv_field(void)
{
	char out[64];

	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "temperature (°C)", ','), 16 + 1);
	CHECK_STR(out, "temperature (°C)");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "a,b", ','), 5);
	CHECK_STR(out, "\"a,b\"");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "a,b", ';'), 3);
	CHECK_STR(out, "a,b");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "x;y", ';'), 5);
	CHECK_STR(out, "\"x;y\"");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "say \"hi\"", ','), 12);
	CHECK_STR(out, "\"say \"\"hi\"\"\"");
	lb_csv_field(out, sizeof out, "two\nlines", ',');
	CHECK_STR(out, "\"two\nlines\"");
	lb_csv_field(out, sizeof out, "cr\r", ',');
	CHECK_STR(out, "\"cr\r\"");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "", ','), 0);
	CHECK_STR(out, "");
}

/* A field longer than the buffer: the full length is returned, a NUL-terminated start kept. */
static void test_csv_field_cut(void)
{
	char out[5];

	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "a\"bcdef", ','), 10);
	CHECK_STR(out, "\"a\"\"");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "abcd", ','), 4);
	CHECK_STR(out, "abcd");
	CHECK_EQ_UINT(lb_csv_field(out, sizeof out, "abcde", ','), 5);
	CHECK_STR(out, "abcd");
	CHECK_EQ_UINT(lb_csv_field(NULL, 0, "a,b", ','), 5);
}

/* The four words of each side; anything else (case, spaces, "auto", NULL) is neither. */
static void test_yesno(void)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	for (int i = 0; i < 4; i++) {
		CHECK_EQ_INT(lb_yesno(yes[i]), 1);
		CHECK_EQ_INT(lb_yesno(no[i]), 0);
	}
	CHECK_EQ_INT(lb_yesno("auto"), -1);
	CHECK_EQ_INT(lb_yesno("Yes"), -1);
	CHECK_EQ_INT(lb_yesno(" yes"), -1);
	CHECK_EQ_INT(lb_yesno("2"), -1);
	CHECK_EQ_INT(lb_yesno(""), -1);
	CHECK_EQ_INT(lb_yesno(NULL), -1);
}

int main(void)
{
	RUN(test_csv_field);
	RUN(test_csv_field_cut);
	RUN(test_yesno);
	return check_summary();
}
