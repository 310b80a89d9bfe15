/* toolpath.c - the moves of a G-code file, line by line: a state machine fed one line at a time. */
#include "toolpath.h"

#include <math.h>
#include <string.h>

/* Whether c is a blank inside a line (space or tab). */
static int tp_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether c is an ASCII digit (locale-free). */
static int tp_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* c in upper case when it is an ASCII letter, else c itself. */
static char tp_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Whether [p, e) starts with the ASCII word w, case-insensitively. */
static int tp_starts(const char *p, const char *e, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(e - p) < n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (tp_upper(p[i]) != tp_upper(w[i]))
			return 0;
	return 1;
}

/*
 * Parse a decimal number at *pp (< e): optional sign, digits, optional '.' and digits, at least
 * one digit (no exponent: 'E' is a G-code word). Promises 1 with *v set and *pp moved past it, or
 * 0 with *pp unchanged. Very long numbers give inf or NaN, which the callers refuse.
 */
static int tp_number(const char **pp, const char *e, double *v)
{
	const char *p = *pp;
	double sign = 1, mant = 0, div = 1;
	int digits = 0;

	if (p < e && (*p == '-' || *p == '+')) {
		sign = *p == '-' ? -1 : 1;
		p++;
	}
	for (; p < e && tp_digit(*p); p++, digits++)
		mant = mant * 10 + (*p - '0');
	if (p < e && *p == '.')
		for (p++; p < e && tp_digit(*p); p++, digits++) {
			mant = mant * 10 + (*p - '0');
			div *= 10;
		}
	if (!digits)
		return 0;
	*v = sign * (mant / div); /* both exact for usual numbers: "0.3" is 3 / 10, rounded once */
	*pp = p;
	return 1;
}

/* A whole-line comment (after ';'): the slicers' part and layer markers. Never fails. */
static void tp_comment(toolpath *t, const char *p, const char *e)
{
	while (p < e && tp_blank(*p))
		p++;
	if (tp_starts(p, e, "TYPE:")) {
		p += 5;
		if (tp_starts(p, e, "SKIRT"))
			t->part = TOOLPATH_PART_SKIRT;
		else if (tp_starts(p, e, "Custom"))
			t->part = TOOLPATH_PART_CUSTOM;
		else
			t->part = TOOLPATH_PART_OBJECT;
	} else if (tp_starts(p, e, "LAYER_CHANGE") || tp_starts(p, e, "LAYER:")) {
		t->layer++;
	}
}

/* Whether v is a usable coordinate: finite and within lim. */
static int tp_ok(double v, double lim)
{
	return isfinite(v) && fabs(v) <= lim;
}

/* Promises a start state. */
void toolpath_init(toolpath *t)
{
	if (!t)
		return;
	memset(t, 0, sizeof *t);
	t->unit = 1;
}

/* The words of a command: X Y Z E, each with whether it was given. */
typedef struct tp_words {
	double v[4];
	int has[4];   /* with a usable number */
	int named[4]; /* with or without a number ("G28 X") */
	int any;
} tp_words;

/* Parse the parameter words after the code in [p, e): stops at ';' or '*'; '(...)' skipped. */
static void tp_words_parse(const char *p, const char *e, tp_words *w)
{
	memset(w, 0, sizeof *w);
	while (p < e) {
		char c = tp_upper(*p);
		int a;
		double v;

		if (c == ';' || c == '*')
			break;
		if (c == '(') {
			while (p < e && *p != ')')
				p++;
			p += p < e;
			continue;
		}
		p++;
		if (c < 'A' || c > 'Z')
			continue;
		while (p < e && tp_blank(*p))
			p++;
		a = c == 'X' ? 0 : c == 'Y' ? 1 : c == 'Z' ? 2 : c == 'E' ? 3 : -1;
		if (a >= 0)
			w->named[a] = 1;
		if (!tp_number(&p, e, &v))
			continue;
		if (a >= 0) {
			w->v[a] = v;
			w->has[a] = 1;
			w->any = 1;
		}
	}
}

/* A move G0-G3 with words w: promises 1 and *seg when the nozzle moved, else 0. */
static int tp_move(toolpath *t, const tp_words *w, toolpath_seg *seg)
{
	double to[3] = {t->x, t->y, t->z}, e = t->e, de = 0;

	for (int i = 0; i < 3; i++) {
		double v;
		if (!w->has[i])
			continue;
		v = w->v[i] * t->unit + (t->rel_xyz ? to[i] : 0);
		if (tp_ok(v, TOOLPATH_MAX_MM))
			to[i] = v;
	}
	if (w->has[3]) {
		double v = w->v[3] * t->unit + (t->rel_e ? t->e : 0);
		if (tp_ok(v, TOOLPATH_MAX_E)) {
			de = v - t->e;
			e = v;
		}
	}
	t->e = e;
	if (to[0] == t->x && to[1] == t->y && to[2] == t->z)
		return 0;
	seg->x0 = t->x;
	seg->y0 = t->y;
	seg->z0 = t->z;
	seg->x1 = to[0];
	seg->y1 = to[1];
	seg->z1 = to[2];
	seg->extruding = de > 0 && (to[0] != t->x || to[1] != t->y);
	seg->part = t->part;
	seg->layer = t->layer;
	t->x = to[0];
	t->y = to[1];
	t->z = to[2];
	t->moves++;
	return 1;
}

/* G28: the named axes (or all) to 0; promises 1 and a travel *seg when the nozzle moved. */
static int tp_home(toolpath *t, const tp_words *w, toolpath_seg *seg)
{
	tp_words to = {{0, 0, 0, 0}, {1, 1, 1, 0}, {1, 1, 1, 0}, 1};
	int rel = t->rel_xyz, r;

	if (w->named[0] || w->named[1] || w->named[2])
		for (int i = 0; i < 3; i++)
			to.has[i] = w->named[i];
	t->rel_xyz = 0;
	r = tp_move(t, &to, seg);
	t->rel_xyz = rel;
	return r;
}

/* Promises 0 or 1 for any bytes (see toolpath.h). */
int toolpath_line(toolpath *t, const char *line, size_t len, toolpath_seg *seg)
{
	const char *p = line, *e;
	toolpath_seg scratch;
	tp_words w;
	double num;
	char letter;
	int code;

	if (!t || !line)
		return 0;
	if (!seg)
		seg = &scratch;
	t->lines++;
	e = line + len;
	while (e > p && (e[-1] == '\n' || e[-1] == '\r'))
		e--;
	while (p < e && tp_blank(*p))
		p++;
	if (p < e && *p == ';') {
		tp_comment(t, p + 1, e);
		return 0;
	}
	if (p + 1 < e && tp_upper(*p) == 'N' && tp_digit(p[1])) { /* the line number */
		for (p++; p < e && tp_digit(*p); p++)
			;
		while (p < e && tp_blank(*p))
			p++;
	}
	if (p >= e)
		return 0;
	letter = tp_upper(*p++);
	if (letter != 'G' && letter != 'M')
		return 0;
	while (p < e && tp_blank(*p))
		p++;
	if (p >= e || !tp_digit(*p) || !tp_number(&p, e, &num) || num > 1000)
		return 0;
	code = (int)num;
	if (num != code) /* G29.1 and such: not ours */
		return 0;
	tp_words_parse(p, e, &w);
	if (letter == 'M') {
		if (code == 82)
			t->rel_e = 0;
		else if (code == 83)
			t->rel_e = 1;
		return 0;
	}
	switch (code) {
	case 0:
	case 1:
	case 2:
	case 3: return tp_move(t, &w, seg);
	case 20: t->unit = 25.4; return 0;
	case 21: t->unit = 1; return 0;
	case 28: return tp_home(t, &w, seg);
	case 90: t->rel_xyz = t->rel_e = 0; return 0;
	case 91: t->rel_xyz = t->rel_e = 1; return 0;
	case 92: {
		double *pos[4] = {&t->x, &t->y, &t->z, &t->e};
		for (int i = 0; i < 4; i++) {
			double v = w.any ? w.v[i] * t->unit : 0;
			if ((!w.any || w.has[i]) &&
			    tp_ok(v, i < 3 ? TOOLPATH_MAX_MM : TOOLPATH_MAX_E))
				*pos[i] = v;
		}
		return 0;
	}
	default: return 0;
	}
}
