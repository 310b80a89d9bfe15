/* test_lines.c - the text-line codec with byte vectors: splitting, separators, headers, pairs. */
#include <string.h>

#include "../../protocols/lines.h"
#include "check.h"

/* Split a whole buffer; returns the number of lines, copying the first max to out. */
static int split(lines_splitter *sp, const char *data, size_t len, char out[][LINES_MAX_LEN + 1],
		 int max, int *skipped)
{
	int n = 0;
	char line[LINES_MAX_LEN + 1];

	while (len) {
		size_t used;
		int r = lines_next(sp, (const uint8_t *)data, len, &used, line);
		data += used, len -= used;
		if (r == 1 && n < max)
			strcpy(out[n++], line);
		else if (r < 0)
			(*skipped)++;
	}
	return n;
}

static void test_split_chunks(void)
{
	lines_splitter sp = {0};
	char out[8][LINES_MAX_LEN + 1];
	int skipped = 0, n;

	/* CRLF split across chunks, a lone CR, a LF */
	n = split(&sp, "21.5,120\r", 9, out, 8, &skipped);
	n += split(&sp, "\n22.0,1", 7, out + n, 8 - n, &skipped);
	n += split(&sp, "30\r23.5,140\n", 12, out + n, 8 - n, &skipped);
	CHECK_EQ_INT(n, 4);
	CHECK_STR(out[0], "21.5,120");
	CHECK_STR(out[1], ""); /* the \n of \r\n: an empty line */
	CHECK_STR(out[2], "22.0,130");
	CHECK_STR(out[3], "23.5,140");
	CHECK_EQ_INT(skipped, 0);
}

static void test_split_overlong_and_nul(void)
{
	lines_splitter sp = {0};
	char out[4][LINES_MAX_LEN + 1], big[LINES_MAX_LEN + 50];
	int skipped = 0, n;

	memset(big, '7', sizeof big);
	big[sizeof big - 1] = '\n';
	n = split(&sp, big, sizeof big, out, 4, &skipped);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(skipped, 1);
	n = split(&sp, "1,2\n3\0004\n5,6\n", 13, out, 4, &skipped);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(out[0], "1,2");
	CHECK_STR(out[1], "5,6");
	CHECK_EQ_INT(skipped, 2);
}

static void test_separators(void)
{
	lines_record r;
	char err[64];

	CHECK_EQ_INT(lines_parse("21.5,120,-32", &r, err, sizeof err), LINES_DATA);
	CHECK_EQ_INT(r.n, 3);
	CHECK_NEAR(r.value[0], 21.5, 1e-12);
	CHECK_NEAR(r.value[2], -32, 1e-12);
	CHECK_EQ_INT(lines_parse("21,5;120;-3,25", &r, err, sizeof err), LINES_DATA);
	CHECK_EQ_INT(r.n, 3);
	CHECK_NEAR(r.value[0], 21.5, 1e-12); /* decimal comma with ';' */
	CHECK_NEAR(r.value[2], -3.25, 1e-12);
	CHECK_EQ_INT(lines_parse("1.5\t2,5\t3", &r, err, sizeof err), LINES_DATA);
	CHECK_NEAR(r.value[1], 2.5, 1e-12);
	CHECK_EQ_INT(lines_parse("  1.5   2e3  -4 ", &r, err, sizeof err), LINES_DATA);
	CHECK_EQ_INT(r.n, 3);
	CHECK_NEAR(r.value[1], 2000, 1e-9);
	CHECK_EQ_INT(lines_parse("1,2,", &r, err, sizeof err), LINES_DATA); /* trailing sep */
	CHECK_EQ_INT(r.n, 2);
}

static void test_pairs(void)
{
	lines_record r;
	char err[64];

	CHECK_EQ_INT(lines_parse("temp:21.5,light:120", &r, err, sizeof err), LINES_DATA);
	CHECK(r.named);
	CHECK_EQ_INT(r.n, 2);
	CHECK_STR(r.name[0], "temp");
	CHECK_STR(r.name[1], "light");
	CHECK_NEAR(r.value[1], 120, 1e-12);
	CHECK_EQ_INT(lines_parse("x=1 y=-2.5", &r, err, sizeof err), LINES_DATA);
	CHECK_STR(r.name[1], "y");
	CHECK_NEAR(r.value[1], -2.5, 1e-12);
}

static void test_headers(void)
{
	lines_record r;
	char err[64];

	CHECK_EQ_INT(lines_parse("temperature(°C),light(lx),accel_x", &r, err, sizeof err),
		     LINES_HEADER);
	CHECK_EQ_INT(r.n, 3);
	CHECK_STR(r.name[0], "temperature");
	CHECK_STR(r.unit[0], "°C");
	CHECK_STR(r.unit[2], "");
	CHECK_EQ_INT(lines_parse("temp [degC];ph", &r, err, sizeof err), LINES_HEADER);
	CHECK_STR(r.name[0], "temp");
	CHECK_STR(r.unit[0], "degC");
}

static void test_empty_and_garbage(void)
{
	lines_record r;
	char err[64];

	CHECK_EQ_INT(lines_parse("", &r, err, sizeof err), LINES_EMPTY);
	CHECK_EQ_INT(lines_parse("   ", &r, err, sizeof err), LINES_EMPTY);
	CHECK_EQ_INT(lines_parse("# micro:bit sensors", &r, err, sizeof err), LINES_EMPTY);
	CHECK_EQ_INT(lines_parse("21.5,hello", &r, err, sizeof err), LINES_ERROR);
	CHECK(strlen(err) > 0);
	CHECK_EQ_INT(lines_parse("1,,2", &r, err, sizeof err), LINES_ERROR);
	CHECK_EQ_INT(lines_parse("a:1,2", &r, err, sizeof err), LINES_ERROR);
	CHECK_EQ_INT(lines_parse("\x01\x02\x7f", &r, err, sizeof err), LINES_ERROR);
	CHECK_EQ_INT(lines_parse("nan,inf", &r, err, sizeof err), LINES_HEADER); /* names */
	CHECK_EQ_INT(lines_parse("0x10", &r, err, sizeof err), LINES_HEADER);
	CHECK_EQ_INT(lines_parse("t(°C", &r, err, sizeof err), LINES_ERROR);
}

int main(void)
{
	RUN(test_split_chunks);
	RUN(test_split_overlong_and_nul);
	RUN(test_separators);
	RUN(test_pairs);
	RUN(test_headers);
	RUN(test_empty_and_garbage);
	return check_summary();
}
