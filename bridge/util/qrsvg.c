/* qrsvg.c - a QR code drawn as a small SVG document or as terminal text (pure functions). */
#include "qrsvg.h"

#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing string. */
typedef struct sbuf {
	char *s;
	size_t len, cap;
	int failed;
} sbuf;

/* Append printf-style text; on failure the buffer is marked failed. */
static void put(sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->failed = 1;
			return;
		}
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = (b->cap ? b->cap : 1024);
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->failed = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* The string built, or NULL (freed) when it failed. */
static char *done(sbuf *b)
{
	if (b->failed || !b->s) {
		free(b->s);
		return NULL;
	}
	return b->s;
}

/* Whether module (x, y) is dark; outside the code (the quiet zone): no. */
static int dark(int width, const unsigned char *m, int x, int y)
{
	return x >= 0 && y >= 0 && x < width && y < width && (m[(size_t)y * width + x] & 1);
}

char *lb_qrsvg_render(int width, const unsigned char *modules)
{
	sbuf b = {0};
	int side = width + 2 * LB_QRSVG_QUIET;

	if (width < 1 || width > 177 || !modules)
		return NULL;
	put(&b,
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" width=\"%d\" "
	    "height=\"%d\"><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" "
	    "shape-rendering=\"crispEdges\" d=\"",
	    side, side, side * 4, side * 4, side, side);
	for (int y = 0; y < width; y++)
		for (int x = 0; x < width;) {
			int run = 0;
			while (x + run < width && dark(width, modules, x + run, y))
				run++;
			if (run) {
				put(&b, "M%d %dh%dv1h-%dz", x + LB_QRSVG_QUIET, y + LB_QRSVG_QUIET,
				    run, run);
				x += run;
			} else {
				x++;
			}
		}
	put(&b, "\"/></svg>");
	return done(&b);
}

char *lb_qrsvg_terminal(int width, const unsigned char *modules)
{
	static const char *const cell[4] = {" ", "\xe2\x96\x80", "\xe2\x96\x84", "\xe2\x96\x88"};
	sbuf b = {0};
	int q = LB_QRSVG_QUIET;

	if (width < 1 || width > 177 || !modules)
		return NULL;
	for (int y = -q; y < width + q; y += 2) {
		put(&b, "\x1b[30;47m");
		for (int x = -q; x < width + q; x++)
			put(&b, "%s",
			    cell[dark(width, modules, x, y) | dark(width, modules, x, y + 1) << 1]);
		put(&b, "\x1b[0m\n");
	}
	return done(&b);
}

char *lb_qrsvg(const char *text, int terminal)
{
	QRcode *q;
	char *out;

	if (!text || strnlen(text, LB_QRSVG_TEXT_MAX + 1) > LB_QRSVG_TEXT_MAX || !*text)
		return NULL;
	q = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
	if (!q)
		return NULL;
	out = terminal ? lb_qrsvg_terminal(q->width, q->data) : lb_qrsvg_render(q->width, q->data);
	QRcode_free(q);
	return out;
}
