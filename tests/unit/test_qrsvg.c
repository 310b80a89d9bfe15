/* test_qrsvg.c - unit tests of bridge/util/qrsvg.c: the SVG and terminal drawings read back. */
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "../../bridge/util/qrsvg.h"

#define Q LB_QRSVG_QUIET

/* Read the modules of an SVG made by lb_qrsvg_render back into grid (side x side, side = width +
 * 2 quiet zones): 0, or -1 when the document is not of the expected shape. */
static int svg_modules(const char *svg, int width, unsigned char *grid)
{
	int side = width + 2 * Q, x, y, run, run2, n;
	char head[200];
	const char *d;

	snprintf(head, sizeof head,
		 "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\"", side, side);
	if (strncmp(svg, head, strlen(head)) != 0)
		return -1;
	if (!strstr(svg, "<path") || strstr(strstr(svg, "<path") + 1, "<path"))
		return -1; /* one path only */
	if (!strstr(svg, "shape-rendering=\"crispEdges\""))
		return -1;
	d = strstr(svg, " d=\"");
	if (!d)
		return -1;
	d += 4;
	memset(grid, 0, (size_t)side * side);
	while (*d == 'M') {
		if (sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &run2, &n) != 4 || run != run2 ||
		    x < 0 || y < 0 || run < 1 || x + run > side || y >= side)
			return -1;
		for (int i = 0; i < run; i++)
			grid[y * side + x + i] = 1;
		d += n;
	}
	return strcmp(d, "\"/></svg>") == 0 ? 0 : -1;
}

/* Whether grid (with its quiet zone) holds the same modules as q. */
static int same(const QRcode *q, const unsigned char *grid)
{
	int side = q->width + 2 * Q;

	for (int y = 0; y < side; y++)
		for (int x = 0; x < side; x++) {
			int in = x >= Q && y >= Q && x < Q + q->width && y < Q + q->width;
			int want = in ? q->data[(y - Q) * q->width + (x - Q)] & 1 : 0;
			if (grid[y * side + x] != want)
				return 0;
		}
	return 1;
}

static void test_svg_reads_back(void)
{
	static const char *const texts[] = {"http://192.168.1.20:8080/#pair=K7QM2X",
					    "http://[fd00::1]:8080/#pair=ABCDEF", "x"};

	for (size_t t = 0; t < sizeof texts / sizeof *texts; t++) {
		QRcode *q = QRcode_encodeString8bit(texts[t], 0, QR_ECLEVEL_M);
		char *svg = lb_qrsvg(texts[t], 0);
		unsigned char *grid;
		CHECK(q != NULL && svg != NULL);
		if (!q || !svg)
			continue;
		grid = malloc((size_t)(q->width + 2 * Q) * (q->width + 2 * Q));
		CHECK_EQ_INT(svg_modules(svg, q->width, grid), 0);
		CHECK(same(q, grid));
		free(grid);
		free(svg);
		QRcode_free(q);
	}
}

/* Every run of a row: a hand-made 3x3 code. */
static void test_svg_runs(void)
{
	const unsigned char m[9] = {1, 1, 0, 0, 1, 1, 1, 0, 1};
	char *svg = lb_qrsvg_render(3, m);

	CHECK(svg != NULL);
	CHECK(svg && strstr(svg, "viewBox=\"0 0 11 11\""));
	CHECK(svg && strstr(svg, "d=\"M4 4h2v1h-2zM5 5h2v1h-2zM4 6h1v1h-1zM6 6h1v1h-1z\""));
	free(svg);
	CHECK(lb_qrsvg_render(0, m) == NULL);
	CHECK(lb_qrsvg_render(178, m) == NULL);
}

static void test_terminal_reads_back(void)
{
	const char *text = "http://10.0.0.2:8080/#pair=ABCDEF";
	QRcode *q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	char *t = lb_qrsvg(text, 1);
	int side = q ? q->width + 2 * Q : 0, row = 0;
	unsigned char *grid = calloc((size_t)side * (side + 1), 1);
	const char *p = t;

	CHECK(q && t && grid);
	if (!q || !t || !grid)
		goto out;
	while (*p) {
		int x = 0;
		CHECK(strncmp(p, "\x1b[30;47m", 8) == 0);
		p += 8;
		while (*p && *p != '\x1b') {
			int top = 0, bottom = 0;
			if (*p == ' ') {
				p++;
			} else if (!strncmp(p, "\xe2\x96\x80", 3)) {
				top = 1;
				p += 3;
			} else if (!strncmp(p, "\xe2\x96\x84", 3)) {
				bottom = 1;
				p += 3;
			} else if (!strncmp(p, "\xe2\x96\x88", 3)) {
				top = bottom = 1;
				p += 3;
			} else {
				CHECK(!"an unexpected character");
				goto out;
			}
			grid[row * side + x] = (unsigned char)top;
			grid[(row + 1) * side + x] = (unsigned char)bottom;
			x++;
		}
		CHECK_EQ_INT(x, side);
		CHECK(strncmp(p, "\x1b[0m\n", 5) == 0);
		p += 5;
		row += 2;
	}
	CHECK_EQ_INT(row, side + (side & 1));
	CHECK(same(q, grid));
out:
	free(grid);
	free(t);
	QRcode_free(q);
}

static void test_refused(void)
{
	char *big = malloc(LB_QRSVG_TEXT_MAX + 2);

	CHECK(lb_qrsvg("", 0) == NULL);
	CHECK(lb_qrsvg(NULL, 0) == NULL);
	memset(big, 'a', LB_QRSVG_TEXT_MAX + 1);
	big[LB_QRSVG_TEXT_MAX + 1] = '\0';
	CHECK(lb_qrsvg(big, 0) == NULL);
	big[LB_QRSVG_TEXT_MAX] = '\0';
	char *svg = lb_qrsvg(big, 0);
	CHECK(svg != NULL);
	free(svg);
	free(big);
}

int main(void)
{
	RUN(test_svg_reads_back);
	RUN(test_svg_runs);
	RUN(test_terminal_reads_back);
	RUN(test_refused);
	return check_summary();
}
