/* labctl_term.c - what labctl's commands share on the terminal: Ctrl-C, progress bars, messages,
 * tables, JSON. */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include "labctl.h"

static volatile sig_atomic_t stop_requested;

/* A progress bar is drawn on the current line of stderr (a terminal): a message ends it first. */
static bool bar_shown;

/* SIGINT/SIGTERM during watch or while following a print: stop at the next message or poll wake-up.
 */
static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Make SIGINT and SIGTERM set stop_requested (without SA_RESTART). Never fails. */
void labctl_catch_stop(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns with EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Whether SIGINT or SIGTERM arrived. */
bool labctl_stopping(void)
{
	return stop_requested;
}

/* ---------------------------------------------------------------- small helpers */

/* End the progress bar's line on stderr, if one is drawn, before printing something else. */
void labctl_bar_break(void)
{
	if (bar_shown) {
		fputc('\n', stderr);
		bar_shown = false;
	}
}

/* Redraw the progress bar's line on stderr with the formatted text. Never fails. */
void labctl_bar_draw(const char *fmt, ...)
{
	va_list ap;

	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	bar_shown = true;
}

/* Print a message on stderr, on a line of its own when a progress bar is drawn. Never fails. */
void labctl_errmsg(const char *fmt, ...)
{
	va_list ap;

	labctl_bar_break();
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* Milliseconds of the monotonic clock. */
int64_t labctl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parse a whole decimal integer within [min, max] into *out; 0, or -1 (not printed) if s is not
 * one. */
int labctl_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Width of a UTF-8 string in characters (each code point counts one column). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* A JSON value's string, or dflt when it is not a string. */
const char *labctl_jstr(const json_t *obj, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : dflt;
}

void labctl_fmt_stamp(char *buf, size_t n, const json_t *ns)
{
	time_t t;
	struct tm tm;

	if (!json_is_integer(ns)) {
		snprintf(buf, n, "-");
		return;
	}
	t = (time_t)(json_integer_value(ns) / 1000000000);
	if (!localtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, n, "%" JSON_INTEGER_FORMAT " ns", json_integer_value(ns));
}

/* Print v as indented JSON followed by a newline on stdout. 0, or -1 when out of memory. */
int labctl_print_json(const json_t *v)
{
	char *text = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));

	if (!text) {
		labctl_errmsg("labctl: out of memory\n");
		return -1;
	}
	puts(text);
	free(text);
	return 0;
}

/* ---------------------------------------------------------------- tables */

/* Append a row of t->ncols strings, copied (NULL shows as "-"). 0, or -1 when out of memory. */
int labctl_table_add(struct labctl_table *t, const char *const *row)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		char **cell = realloc(t->cell, cap * t->ncols * sizeof *cell);

		if (!cell)
			return -1;
		t->cell = cell;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char *s = strdup(row[c] ? row[c] : "-");

		if (!s) {
			while (c--)
				free(t->cell[t->nrows * t->ncols + c]);
			return -1;
		}
		t->cell[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
	return 0;
}

/* Print the table on stdout, each column as wide as its widest cell, two spaces apart (the
 * last column unpadded). */
void labctl_table_print(const struct labctl_table *t)
{
	size_t width[16] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < 16; c++) {
			size_t w = text_width(t->cell[r * t->ncols + c]);

			if (w > width[c])
				width[c] = w;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cell[r * t->ncols + c];

			fputs(s, stdout);
			if (c + 1 < t->ncols)
				printf("%*s", (int)(width[c < 16 ? c : 15] - text_width(s) + 2),
				       "");
		}
		putchar('\n');
	}
}

/* Free the table's cells. */
void labctl_table_free(struct labctl_table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cell[i]);
	free(t->cell);
	t->cell = NULL;
	t->nrows = t->cap = 0;
}
