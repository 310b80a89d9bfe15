/* lines.c - serial text-line sensors (micro:bit, Arduino Serial.println): pure line codec. */
#include "lines.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lines_next(lines_splitter *sp, const uint8_t *data, size_t len, size_t *used, char *line)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = data[i];
		if (c == '\n' || c == '\r') {
			int skipped = sp->overflow;
			*used = i + 1;
			/* "\r\n": the '\n' then ends an empty line, which callers ignore */
			memcpy(line, sp->buf, sp->len);
			line[sp->len] = '\0';
			sp->len = 0;
			sp->overflow = 0;
			return skipped ? -1 : 1;
		}
		if (sp->overflow)
			continue;
		if (c == 0 || sp->len == LINES_MAX_LEN) {
			sp->overflow = 1; /* skip the rest of this line */
			sp->len = 0;
			continue;
		}
		sp->buf[sp->len++] = (char)c;
	}
	*used = len;
	return 0;
}

/* Trim blanks at both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* Parse a number in [s, e) with strtod (the rare long or exponent forms); 0 or -1. */
static int parse_number_slow(const char *s, const char *e, int comma, double *out)
{
	char buf[64], *end;
	size_t n = (size_t)(e - s);

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (comma)
		for (size_t i = 0; i < n; i++)
			if (buf[i] == ',')
				buf[i] = '.';
	/* strtod would accept "inf", "nan" and hex: a sensor line holds plain decimals */
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789+-.eE", buf[i]))
			return -1;
	errno = 0;
	*out = strtod(buf, &end);
	return (*end || errno || end == buf || !isfinite(*out)) ? -1 : 0;
}

/*
 * Parse a number in [s, e): [+-]digits[.digits] read exactly (up to 15 significant digits, the
 * usual sensor output, as mantissa / 10^k with k <= 22, both exact in a double), other forms by
 * strtod; ',' is the decimal mark if comma is set. 0 or -1.
 */
static int parse_number(const char *s, const char *e, int comma, double *out)
{
	static const double pow10[] = {1e0,  1e1,  1e2,	 1e3,  1e4,  1e5,  1e6,	 1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	const char *p = s;
	uint64_t mant = 0;
	int neg = 0, digits = 0, frac = -1;

	if (p < e && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	for (; p < e; p++) {
		if (*p >= '0' && *p <= '9') {
			mant = mant * 10 + (uint64_t)(*p - '0');
			digits++;
			if (frac >= 0)
				frac++;
		} else if ((*p == '.' || (comma && *p == ',')) && frac < 0) {
			frac = 0;
		} else {
			break;
		}
	}
	if (p != e || digits == 0 || digits > 15)
		return parse_number_slow(s, e, comma, out); /* exponent, long, or not a number */
	*out = (double)mant / pow10[frac > 0 ? frac : 0];
	if (neg)
		*out = -*out;
	return 0;
}

/* Whether [s, e) can be a channel name: letters, digits, '_', '.', '-' (UTF-8 allowed). */
static int is_name(const char *s, const char *e)
{
	if (s == e || (size_t)(e - s) >= LINES_NAME_MAX)
		return 0;
	for (const char *p = s; p < e; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-' ||
		      (unsigned char)*p >= 0x80))
			return 0;
	return 1;
}

/* A header field: "name", "name(unit)", "name [unit]"; 0 or -1. */
static int parse_header_field(const char *s, const char *e, char *name, char *unit)
{
	const char *open = NULL, *close = NULL, *ne;

	for (const char *p = s; p < e; p++)
		if (*p == '(' || *p == '[') {
			open = p;
			break;
		}
	if (open) {
		close = e - 1;
		if ((*open == '(' && *close != ')') || (*open == '[' && *close != ']') ||
		    (size_t)(close - open - 1) >= LINES_UNIT_MAX)
			return -1;
		memcpy(unit, open + 1, (size_t)(close - open - 1));
		unit[close - open - 1] = '\0';
		ne = open;
	} else {
		unit[0] = '\0';
		ne = e;
	}
	trim(&s, &ne);
	if (!is_name(s, ne))
		return -1;
	memcpy(name, s, (size_t)(ne - s));
	name[ne - s] = '\0';
	return 0;
}

lines_kind lines_parse(const char *line, lines_record *out, char *err, size_t errcap)
{
	const char *s = line, *end = line + strlen(line);
	char sep = 0;
	int comma, numbers = 0, pairs = 0, words = 0;

	memset(out, 0, sizeof *out);
	trim(&s, &end);
	if (s == end || *s == '#')
		return LINES_EMPTY;
	if (memchr(s, '\t', (size_t)(end - s)))
		sep = '\t';
	else if (memchr(s, ';', (size_t)(end - s)))
		sep = ';';
	else if (memchr(s, ',', (size_t)(end - s)))
		sep = ',';
	comma = sep == ';' || sep == '\t';
	while (s <= end) {
		const char *fe = s, *fs, *colon = NULL;
		double v;
		if (sep)
			while (fe < end && *fe != sep)
				fe++;
		else
			while (fe < end && !isspace((unsigned char)*fe))
				fe++;
		fs = s;
		trim(&fs, &fe);
		if (fs == fe) {
			if (fe >= end && out->n)
				break; /* a trailing separator: "1,2," */
			if (!sep) {    /* runs of blanks */
				s = fe + 1;
				if (fe >= end)
					break;
				continue;
			}
			snprintf(err, errcap, "empty field %d", out->n + 1);
			return LINES_ERROR;
		}
		if (out->n == LINES_MAX_FIELDS) {
			snprintf(err, errcap, "more than %d fields", LINES_MAX_FIELDS);
			return LINES_ERROR;
		}
		for (const char *p = fs; p < fe; p++)
			if (*p == ':' || *p == '=') {
				colon = p;
				break;
			}
		if (parse_number(fs, fe, comma, &v) == 0) {
			out->value[out->n] = v;
			numbers++;
		} else if (colon) {
			const char *ns = fs, *ne = colon, *vs = colon + 1, *ve = fe;
			trim(&ns, &ne);
			trim(&vs, &ve);
			if (!is_name(ns, ne) || parse_number(vs, ve, comma, &v) < 0) {
				snprintf(err, errcap, "field %d is not name:number", out->n + 1);
				return LINES_ERROR;
			}
			memcpy(out->name[out->n], ns, (size_t)(ne - ns));
			out->name[out->n][ne - ns] = '\0';
			out->value[out->n] = v;
			pairs++;
		} else if (parse_header_field(fs, fe, out->name[out->n], out->unit[out->n]) == 0) {
			words++;
		} else {
			snprintf(err, errcap, "field %d is neither a number nor a name",
				 out->n + 1);
			return LINES_ERROR;
		}
		out->n++;
		s = fe;
		while (s < end && *s != sep && sep)
			s++;
		if (s >= end)
			break;
		s++;
	}
	if (words == out->n)
		return LINES_HEADER;
	if (words || (numbers && pairs)) {
		snprintf(err, errcap, "mixed names and numbers");
		return LINES_ERROR;
	}
	out->named = pairs > 0;
	return LINES_DATA;
}
