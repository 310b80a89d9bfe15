/* marlin.c - what a Marlin/RepRap firmware prints back: ok, resend, busy, temperatures, errors. */
#include "marlin.h"

#include <string.h>

/* Whether c is a blank inside a line (space or tab). */
static int mr_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether c is an ASCII digit (locale-free). */
static int mr_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Whether c can be part of an M115 key such as SOURCE_CODE_URL. */
static int mr_upper_or_digit(char c)
{
	return (c >= 'A' && c <= 'Z') || mr_digit(c) || c == '_';
}

/* c in lower case when it is an ASCII letter, else c itself. */
static char mr_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The first position in [p, e) that is not a blank (e when none). */
static const char *mr_skip_blanks(const char *p, const char *e)
{
	while (p < e && mr_blank(*p))
		p++;
	return p;
}

/* Case-insensitive: [*p, e) starts with lit; on a match *p moves past it. */
static int mr_prefix(const char **p, const char *e, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(e - *p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (mr_lower((*p)[i]) != mr_lower(lit[i]))
			return 0;
	*p += n;
	return 1;
}

/* Whether [p, e) holds lit anywhere, case-insensitively. */
static int mr_contains(const char *p, const char *e, const char *lit)
{
	for (; p < e; p++) {
		const char *q = p;
		if (mr_prefix(&q, e, lit))
			return 1;
	}
	return 0;
}

/*
 * A plain decimal [+-]digits[.digits] at the start of [p, e) (at most 18 digits): the position
 * after it and *v, or NULL when there is none.
 */
static const char *mr_num(const char *p, const char *e, double *v)
{
	double x = 0, div = 1;
	int neg = 0, digits = 0, frac = 0;

	if (p < e && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	for (; p < e; p++) {
		if (mr_digit(*p)) {
			if (++digits > 18)
				return NULL;
			x = x * 10 + (*p - '0');
			if (frac)
				div *= 10;
		} else if (*p == '.' && !frac) {
			frac = 1;
		} else {
			break;
		}
	}
	if (!digits)
		return NULL;
	*v = neg ? -x / div : x / div;
	return p;
}

/* An unsigned integer (at most 9 digits) at the start of [p, e): position after it, or NULL. */
static const char *mr_uint(const char *p, const char *e, long *v)
{
	long x = 0;
	int n = 0;

	while (p < e && mr_digit(*p)) {
		if (++n > 9)
			return NULL;
		x = x * 10 + (*p++ - '0');
	}
	if (!n)
		return NULL;
	*v = x;
	return p;
}

/* Copy [p, e) into out->text, trimmed, truncated, control bytes (NUL too) replaced by '?'. */
static void mr_text(marlin_reply *out, const char *p, const char *e)
{
	size_t n = 0;

	p = mr_skip_blanks(p, e);
	while (e > p && mr_blank(e[-1]))
		e--;
	for (; p < e && n + 1 < sizeof out->text; p++) {
		unsigned char c = (unsigned char)*p;
		out->text[n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	out->text[n] = '\0';
}

/*
 * Temperatures in [p, e): words "T:21.3 /0.0", "B:60", "T0:21.3/0.0", "P:22.1" (names: T, B, C,
 * P, A, R, with an optional index), up to MARLIN_TEMPS_MAX; other words ("@:0", "W:?", "E:0")
 * are skipped. Returns how many were added to out.
 */
static int mr_temps(const char *p, const char *e, marlin_reply *out)
{
	int added = 0;

	while (p < e) {
		const char *w = mr_skip_blanks(p, e), *q = w, *n;
		double a, t;

		p = w;
		while (p < e && !mr_blank(*p))
			p++; /* the end of this word, by default */
		if (q >= e || !strchr("TBCPAR", *q) || !*q)
			continue;
		q++;
		while (q < e && mr_digit(*q) && q - w < 4)
			q++;
		if (q >= e || *q != ':')
			continue;
		n = mr_num(q + 1, e, &a);
		if (!n)
			continue;
		t = -1;
		p = n;
		q = mr_skip_blanks(n, e);
		if (q < e && *q == '/') {
			const char *r = mr_num(mr_skip_blanks(q + 1, e), e, &t);
			if (r)
				p = r;
			else
				t = -1;
		}
		if (out->ntemps < MARLIN_TEMPS_MAX) {
			marlin_temp *mt = &out->temps[out->ntemps++];
			size_t nl = 0;
			for (const char *c = w; c < e && *c != ':' && nl + 1 < sizeof mt->name; c++)
				mt->name[nl++] = *c;
			mt->name[nl] = '\0';
			mt->actual = a;
			mt->target = t;
			added++;
		}
	}
	return added;
}

/* "ok" and what follows: ADVANCED_OK's N/P/B words and temperatures. */
static marlin_kind mr_ok(const char *p, const char *e, marlin_reply *out)
{
	const char *w = p;

	out->kind = MARLIN_OK;
	while (w < e) {
		const char *s = mr_skip_blanks(w, e), *q;
		long v;

		w = s;
		while (w < e && !mr_blank(*w))
			w++;
		if (w - s < 2 || (*s != 'N' && *s != 'P' && *s != 'B'))
			continue;
		q = mr_uint(s + 1, w, &v);
		if (!q || q != w)
			continue; /* "B:60.0" is a temperature */
		if (*s == 'N')
			out->line = v;
		else if (*s == 'P')
			out->planner = (int)(v > 0x7fff ? 0x7fff : v);
		else
			out->buffer = (int)(v > 0x7fff ? 0x7fff : v);
	}
	mr_temps(p, e, out);
	return out->kind;
}

/* The firmware name of a M115 line: up to the next "KEY:" word, without "(build date)". */
static void mr_firmware(const char *p, const char *e, marlin_reply *out)
{
	const char *end = e, *paren;

	for (const char *q = p; q < e; q++) {
		const char *k;
		if (!mr_blank(*q))
			continue;
		k = mr_skip_blanks(q, e);
		if (k >= e || *k < 'A' || *k > 'Z')
			continue;
		while (k < e && mr_upper_or_digit(*k))
			k++;
		if (k < e && *k == ':' && k - mr_skip_blanks(q, e) >= 2) {
			end = q;
			break;
		}
	}
	paren = memchr(p, '(', (size_t)(end - p));
	if (paren && paren > p && mr_blank(paren[-1]))
		end = paren;
	mr_text(out, p, end);
}

/* An "Error:" message: a recoverable line error, or anything else (fatal). */
static marlin_kind mr_error(const char *p, const char *e, marlin_reply *out)
{
	static const char *const line_errors[] = {
	    "checksum mismatch",
	    "Line Number is not Last Line Number",
	    "No Checksum with line number",
	    "No Line Number with checksum",
	    "Format error",
	};

	mr_text(out, p, e);
	out->kind = MARLIN_FATAL;
	for (size_t i = 0; i < sizeof line_errors / sizeof line_errors[0]; i++)
		if (mr_contains(p, e, line_errors[i]))
			out->kind = MARLIN_ERROR;
	return out->kind;
}

/*
 * Promises *out fully set (kind OTHER with the line as text when nothing matches) for any bytes
 * in s[0..len); never reads past len, never writes past text/temps.
 */
marlin_kind marlin_parse(const char *s, size_t len, marlin_reply *out)
{
	const char *p = s, *e, *q;
	long v;

	if (!out)
		return MARLIN_OTHER;
	memset(out, 0, sizeof *out);
	out->kind = MARLIN_OTHER;
	out->line = -1;
	out->planner = -1;
	out->buffer = -1;
	if (!s || len == 0)
		return out->kind;
	e = s + len;
	while (e > p && (mr_blank(e[-1]) || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	p = mr_skip_blanks(p, e);
	q = p;
	if (e - p >= 2 && p[0] == 'o' && p[1] == 'k' && (e - p == 2 || mr_blank(p[2])))
		return mr_ok(p + 2, e, out);
	if (mr_prefix(&q, e, "Resend:") || mr_prefix(&q, e, "rs ")) {
		q = mr_skip_blanks(q, e);
		if (q < e && *q == 'N')
			q++;
		if (mr_uint(q, e, &v))
			out->line = v;
		out->kind = MARLIN_RESEND;
		return out->kind;
	}
	if (mr_prefix(&q, e, "Error:"))
		return mr_error(q, e, out);
	if (e - p >= 2 && p[0] == '!' && p[1] == '!') {
		mr_text(out, p + 2, e);
		return out->kind = MARLIN_FATAL;
	}
	q = p;
	mr_prefix(&q, e, "echo:");
	q = mr_skip_blanks(q, e);
	if (mr_prefix(&q, e, "busy:")) {
		mr_text(out, q, e);
		return out->kind = MARLIN_BUSY;
	}
	if (mr_prefix(&q, e, "Unknown command:")) {
		q = mr_skip_blanks(q, e);
		if (q < e && *q == '"')
			q++;
		if (e > q && e[-1] == '"')
			mr_text(out, q, e - 1);
		else
			mr_text(out, q, e);
		return out->kind = MARLIN_UNKNOWN_COMMAND;
	}
	if (e - p == 4 && memcmp(p, "wait", 4) == 0)
		return out->kind = MARLIN_WAIT;
	if (e - p == 5 && memcmp(p, "start", 5) == 0)
		return out->kind = MARLIN_START;
	q = p;
	if (mr_prefix(&q, e, "FIRMWARE_NAME:")) {
		mr_firmware(mr_skip_blanks(q, e), e, out);
		return out->kind = MARLIN_FIRMWARE;
	}
	if (mr_prefix(&q, e, "Cap:")) {
		const char *c = memchr(q, ':', (size_t)(e - q));
		if (c && c > q && c + 2 == e && (c[1] == '0' || c[1] == '1')) {
			mr_text(out, q, c);
			out->cap_value = c[1] - '0';
			return out->kind = MARLIN_CAP;
		}
	}
	if (e - p >= 2 && p[0] == 'X' && p[1] == ':') {
		static const char axes[] = "XYZE";
		int seen = 0;
		for (q = p; q < e;) {
			const char *w = mr_skip_blanks(q, e), *n;
			const char *ax;
			double x;
			if (mr_prefix(&w, e, "Count"))
				break;
			q = w;
			while (q < e && !mr_blank(*q))
				q++;
			ax = w + 1 < e && w[1] == ':' ? strchr(axes, *w) : NULL;
			if (!ax || !*w || !(n = mr_num(w + 2, e, &x)))
				continue;
			out->pos[ax - axes] = x;
			seen |= 1 << (ax - axes);
		}
		if ((seen & 7) == 7) {
			out->has_pos = 1;
			return out->kind = MARLIN_POSITION;
		}
		memset(out->pos, 0, sizeof out->pos);
	}
	if (e - p >= 2 && strchr("TBC", p[0]) && p[0] && (p[1] == ':' || mr_digit(p[1])) &&
	    mr_temps(p, e, out) > 0) {
		q = p + 1;
		while (q < e && mr_digit(*q))
			q++;
		if (q < e && *q == ':')
			return out->kind = MARLIN_TEMP;
	}
	out->ntemps = 0;
	memset(out->temps, 0, sizeof out->temps);
	mr_text(out, p, e);
	return out->kind = MARLIN_OTHER;
}

/*
 * Promises progress: *used > 0 whenever len > 0. A line ends at '\n'; '\r' is dropped; bytes
 * after the first MARLIN_LINE_MAX of a line are skipped (the cut line is still returned).
 */
int marlin_next_line(marlin_splitter *sp, const char *data, size_t len, size_t *used,
		     const char **line, size_t *linelen)
{
	if (sp->len > MARLIN_LINE_MAX)
		sp->len = MARLIN_LINE_MAX; /* a corrupted splitter: stay inside buf */
	for (size_t i = 0; i < len; i++) {
		char c = data[i];
		if (c == '\n') {
			*used = i + 1;
			sp->buf[sp->len] = '\0';
			*line = sp->buf;
			*linelen = sp->len;
			sp->len = 0;
			sp->overflow = 0;
			return 1;
		}
		if (c == '\r')
			continue;
		if (sp->len == MARLIN_LINE_MAX) {
			sp->overflow = 1;
			continue;
		}
		sp->buf[sp->len++] = c;
	}
	*used = len;
	return 0;
}
