/* model.c - 3D model files (STL, 3MF, OBJ): a sniffer by their first bytes, a face counter. */
#include "model.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether c is a blank inside a line (space, tab). */
static int md_blank(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* Whether c ends a line or a word at a line's end. */
static int md_eol(uint8_t c)
{
	return c == '\n' || c == '\r';
}

/* Whether [p, e) starts with the word w (ASCII, case-insensitive) followed by a blank, a line
 * end or the end of the data. */
static int md_word(const uint8_t *p, const uint8_t *e, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(e - p) < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (c != (uint8_t)w[i])
			return 0;
	}
	return p + n == e || md_blank(p[n]) || md_eol(p[n]);
}

/* Whether [p, p + len) holds the bytes of s. */
static int md_has(const uint8_t *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (p[i] == (uint8_t)s[0] && memcmp(p + i, s, n) == 0)
			return 1;
	return 0;
}

/* Whether the bytes hold a control byte that text files do not (other than tab, CR, LF, FF). */
static int md_binary(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r' && p[i] != '\f') ||
		    p[i] == 0x7f)
			return 1;
	return 0;
}

/* Whether the head is an OBJ: its first line that is neither blank nor a '#' comment starts with
 * an OBJ statement (v, vt, vn, vp, f, l, o, g, s, mtllib, usemtl) and a blank. */
static int md_obj(const uint8_t *p, const uint8_t *e)
{
	static const char *const words[] = {"v", "vt", "vn", "vp",     "f",	"l",
					    "o", "g",  "s",  "mtllib", "usemtl"};

	while (p < e) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
		const uint8_t *le = nl ? nl : e;

		while (p < le && (md_blank(*p) || *p == '\r'))
			p++;
		if (p < le && *p != '#') {
			for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
				size_t n = strlen(words[i]);
				if ((size_t)(le - p) > n && memcmp(p, words[i], n) == 0 &&
				    md_blank(p[n]))
					return 1;
			}
			return 0;
		}
		if (!nl)
			return 0;
		p = nl + 1;
	}
	return 0;
}

model_format model_sniff(const uint8_t *head, size_t len, long long size)
{
	const uint8_t *p, *e;

	if (!head)
		return MODEL_NONE;
	if (len > MODEL_SNIFF_LEN)
		len = MODEL_SNIFF_LEN;
	if (len >= 4 && memcmp(head, "PK\x03\x04", 4) == 0)
		return md_has(head, len, "3D/") || md_has(head, len, "3dmodel") ? MODEL_3MF
										: MODEL_ZIP;
	if (len >= 84 && size >= 84) {
		unsigned long long n =
		    (unsigned long long)head[80] | (unsigned long long)head[81] << 8 |
		    (unsigned long long)head[82] << 16 | (unsigned long long)head[83] << 24;
		if (n > 0 && (unsigned long long)size == 84 + 50 * n)
			return MODEL_STL_BINARY;
	}
	p = head;
	e = head + len;
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3; /* a UTF-8 byte order mark */
	while (p < e && (md_blank(*p) || md_eol(*p)))
		p++;
	if (md_word(p, e, "solid") || md_word(p, e, "facet"))
		return md_binary(head, len < 134 ? len : 134) ? MODEL_STL_BINARY : MODEL_STL_ASCII;
	return md_obj(p, e) ? MODEL_OBJ : MODEL_NONE;
}

const char *model_format_name(model_format f)
{
	switch (f) {
	case MODEL_STL_ASCII: return "an STL model (ASCII)";
	case MODEL_STL_BINARY: return "an STL model (binary)";
	case MODEL_3MF: return "a 3MF model";
	case MODEL_ZIP: return "a zip archive (as a 3MF model is)";
	case MODEL_OBJ: return "an OBJ model";
	case MODEL_NONE: break;
	}
	return "";
}

/* The value of "key = value" on line [p, e) when the line is that key's: 1 and *v, else 0. */
static int md_key(const char *p, const char *e, const char *key, double *v)
{
	size_t n = strlen(key);
	char num[48];
	char *end;

	if ((size_t)(e - p) <= n || memcmp(p, key, n) != 0)
		return 0;
	p += n;
	while (p < e && *p == ' ')
		p++;
	if (p == e || *p != '=')
		return 0;
	p++;
	while (p < e && *p == ' ')
		p++;
	n = (size_t)(e - p);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\r'))
		n--;
	if (n == 0 || n >= sizeof num)
		return 0;
	memcpy(num, p, n);
	num[n] = '\0';
	if (strcmp(num, "yes") == 0 || strcmp(num, "no") == 0) {
		*v = num[0] == 'y';
		return 1;
	}
	*v = strtod(num, &end);
	return *end == '\0' && isfinite(*v);
}

int model_info_parse(const char *text, size_t len, model_info *out)
{
	static const char *const sizes[] = {"size_x", "size_y", "size_z"};
	static const char *const mins[] = {"min_x", "min_y", "min_z"};
	const char *p = text, *e = text ? text + len : NULL;
	int found = 0;

	for (int i = 0; i < 3; i++)
		out->size[i] = out->min[i] = -1;
	out->facets = out->parts = -1;
	out->manifold = -1;
	out->volume = -1;
	while (p && p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e;
		double v;

		for (int i = 0; i < 3; i++) {
			if (md_key(p, le, sizes[i], &v) && v >= 0 && !(found & (1 << i))) {
				out->size[i] = v;
				found |= 1 << i;
			}
			if (md_key(p, le, mins[i], &v))
				out->min[i] = v;
		}
		if (md_key(p, le, "number_of_facets", &v) && v >= 0 && v < 1e15)
			out->facets = (long)v;
		if (md_key(p, le, "number_of_parts", &v) && v >= 0 && v < 1e15)
			out->parts = (long)v;
		if (md_key(p, le, "manifold", &v))
			out->manifold = v != 0;
		if (md_key(p, le, "volume", &v) && v >= 0)
			out->volume = v;
		p = nl ? nl + 1 : e;
	}
	return found == 7 ? 0 : -1;
}

/* ---- the face counter ---- */

/* Record why the text is malformed (the first reason only); returns -1. */
static int mc_fail(model_count *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int mc_fail(model_count *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->failed) {
		va_start(ap, fmt);
		vsnprintf(c->error, sizeof c->error, fmt, ap);
		va_end(ap);
		c->failed = 1;
	}
	return -1;
}

/* The next blank-separated word of [*p, e): 1 with [*w, *w + *n) and *p past it, 0 at the end. */
static int mc_token(const char **p, const char *e, const char **w, size_t *n)
{
	const char *s = *p;

	while (s < e && md_blank((uint8_t)*s))
		s++;
	if (s == e) {
		*p = s;
		return 0;
	}
	*w = s;
	while (s < e && !md_blank((uint8_t)*s))
		s++;
	*n = (size_t)(s - *w);
	*p = s;
	return 1;
}

/* Whether the word [w, w + n) is k (ASCII, case-insensitive). */
static int mc_is(const char *w, size_t n, const char *k)
{
	return strlen(k) == n && md_word((const uint8_t *)w, (const uint8_t *)w + n, k);
}

/* Whether [w, w + n) is a decimal number: [+-] digits [. digits] [e [+-] digits], at least one
 * digit before the exponent, its value finite: 1 with *v (to about 15 digits), else 0. */
static int mc_number(const char *w, size_t n, double *v)
{
	static const double p10[] = {1e0,  1e1,	 1e2,  1e3,  1e4,  1e5,	 1e6,  1e7,
				     1e8,  1e9,	 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	const char *e = w + n;
	int digits = 0, neg = 0, scale = 0, ex = 0, eneg = 0;
	double m = 0;

	if (w < e && (*w == '+' || *w == '-'))
		neg = *w++ == '-';
	for (; w < e && *w >= '0' && *w <= '9'; w++, digits++)
		m = m * 10 + (*w - '0');
	if (w < e && *w == '.')
		for (w++; w < e && *w >= '0' && *w <= '9'; w++, digits++, scale--)
			m = m * 10 + (*w - '0');
	if (!digits)
		return 0;
	if (w < e && (*w == 'e' || *w == 'E')) {
		w++;
		if (w < e && (*w == '+' || *w == '-'))
			eneg = *w++ == '-';
		if (w == e || *w < '0' || *w > '9')
			return 0;
		for (; w < e && *w >= '0' && *w <= '9'; w++)
			if (ex < 10000)
				ex = ex * 10 + (*w - '0');
	}
	if (w != e)
		return 0;
	scale += eneg ? -ex : ex;
	if (scale >= 0)
		m = scale < 23 ? m * p10[scale] : m * pow(10, scale);
	else
		m = scale > -23 ? m / p10[-scale] : m * pow(10, scale);
	if (!isfinite(m))
		return 0;
	*v = neg ? -m : m;
	return 1;
}

/* Widen the bounding box of c by the point p. */
static void mc_bound(model_count *c, const double p[3])
{
	for (int i = 0; i < 3; i++) {
		if (!c->bounded || p[i] < c->min[i])
			c->min[i] = p[i];
		if (!c->bounded || p[i] > c->max[i])
			c->max[i] = p[i];
	}
	c->bounded = 1;
}

/* An STL line: facet, vertex and endfacet checked, every other line ignored. */
static int mc_stl_line(model_count *c, const char *p, const char *e)
{
	const char *w;
	size_t n;
	int k = 0;
	double xyz[3], v;

	if (!mc_token(&p, e, &w, &n))
		return 0;
	if (mc_is(w, n, "facet")) {
		if (c->in_facet)
			return mc_fail(
			    c, "line %lld: a facet starts before the facet of line %lld ends",
			    c->line, c->facet_line);
		c->in_facet = 1;
		c->facet_vertices = 0;
		c->facet_line = c->line;
		c->faces++;
	} else if (mc_is(w, n, "vertex")) {
		if (!c->in_facet)
			return mc_fail(c, "line %lld: a vertex outside a facet", c->line);
		while (mc_token(&p, e, &w, &n)) {
			if (!mc_number(w, n, &v))
				return mc_fail(c, "line %lld: '%.*s' is not a number", c->line,
					       n > 20 ? 20 : (int)n, w);
			if (k < 3)
				xyz[k] = v;
			k++;
		}
		if (k != 3)
			return mc_fail(c, "line %lld: a vertex has %d numbers instead of 3 (x y z)",
				       c->line, k);
		mc_bound(c, xyz);
		if (c->facet_vertices < 1000)
			c->facet_vertices++;
		c->vertices++;
	} else if (mc_is(w, n, "endfacet")) {
		if (c->in_facet && c->facet_vertices != 3)
			return mc_fail(c,
				       "line %lld: a facet with %d%s vertices (a triangle has 3)",
				       c->facet_line, c->facet_vertices,
				       c->facet_vertices >= 1000 ? " or more" : "");
		c->in_facet = 0;
	}
	return 0;
}

/* An OBJ reference [w, w + n) to element i of count (1-based; negative: back from the last):
 * 0, or -1 with the error (what names the element: "vertex"). */
static int mc_obj_index(model_count *c, long long i, long long count, const char *what)
{
	if (i == 0 || i > count || i < -count)
		return mc_fail(c, "line %lld: face refers to %s %lld of %lld", c->line, what, i,
			       count);
	return 0;
}

/* The integer at *p (a sign, up to 15 digits) before e: 1 with *v and *p past it, 0 when none. */
static int mc_int(const char **p, const char *e, long long *v)
{
	const char *s = *p;
	int neg = 0, digits = 0;

	*v = 0;
	if (s < e && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	for (; s < e && *s >= '0' && *s <= '9'; s++)
		if (++digits <= 15)
			*v = *v * 10 + (*s - '0');
	if (!digits)
		return 0;
	if (digits > 15)
		*v = 1000000000000000LL; /* out of any range */
	if (neg)
		*v = -*v;
	*p = s;
	return 1;
}

/* An OBJ face's reference [w, w + n): v, v/vt, v//vn or v/vt/vn, each in range. */
static int mc_obj_ref(model_count *c, const char *w, size_t n)
{
	const char *p = w, *e = w + n;
	long long v;

	if (!mc_int(&p, e, &v))
		goto bad;
	if (mc_obj_index(c, v, c->vertices, "vertex") < 0)
		return -1;
	if (p == e)
		return 0;
	if (*p++ != '/')
		goto bad;
	if (p < e && *p != '/') {
		if (!mc_int(&p, e, &v))
			goto bad;
		if (mc_obj_index(c, v, c->texcoords, "texture coordinate") < 0)
			return -1;
	}
	if (p == e)
		return 0;
	if (*p++ != '/' || !mc_int(&p, e, &v) || p != e)
		goto bad;
	return mc_obj_index(c, v, c->normals, "normal");
bad:
	return mc_fail(c, "line %lld: '%.*s' is not a vertex reference", c->line,
		       n > 20 ? 20 : (int)n, w);
}

/* An OBJ line (after any '#' comment is cut): v, vt, vn and f, every other statement ignored. */
static int mc_obj_line(model_count *c, const char *p, const char *e)
{
	const char *hash = memchr(p, '#', (size_t)(e - p));
	const char *w;
	size_t n;
	long long k = 0;
	double xyz[3], v;

	if (hash)
		e = hash;
	if (!mc_token(&p, e, &w, &n))
		return 0;
	if (n == 1 && *w == 'v') {
		while (mc_token(&p, e, &w, &n)) {
			if (!mc_number(w, n, &v))
				return mc_fail(c, "line %lld: '%.*s' is not a number", c->line,
					       n > 20 ? 20 : (int)n, w);
			if (k < 3)
				xyz[k] = v;
			k++;
		}
		if (k < 3)
			return mc_fail(c, "line %lld: a vertex needs 3 numbers (x y z)", c->line);
		mc_bound(c, xyz);
		c->vertices++;
	} else if (mc_is(w, n, "vt")) {
		c->texcoords++;
	} else if (mc_is(w, n, "vn")) {
		c->normals++;
	} else if (n == 1 && *w == 'f') {
		while (mc_token(&p, e, &w, &n)) {
			if (mc_obj_ref(c, w, n) < 0)
				return -1;
			k++;
		}
		if (k < 3)
			return mc_fail(c, "line %lld: a face needs at least 3 vertices, not %lld",
				       c->line, k);
		c->faces += k - 2;
	}
	return 0;
}

/* One whole line [p, p + n) without its '\n' (a '\r' before it is dropped). */
static int mc_line(model_count *c, const char *p, size_t n)
{
	c->line++;
	if (n && p[n - 1] == '\r')
		n--;
	if (c->line == 1 && n >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
		p += 3; /* a UTF-8 byte order mark */
		n -= 3;
	}
	if (c->format == MODEL_STL_ASCII)
		return mc_stl_line(c, p, p + n);
	return mc_obj_line(c, p, p + n);
}

/* 3MF: count <vertex and <triangle start tags (any namespace prefix), split anywhere. */
static void mc_xml(model_count *c, const uint8_t *p, const uint8_t *e)
{
	while (p < e) {
		if (!c->in_tag) {
			const uint8_t *lt = memchr(p, '<', (size_t)(e - p));
			if (!lt)
				return;
			p = lt + 1;
			c->in_tag = 1;
			c->tag_len = 0;
			continue;
		}
		uint8_t ch = *p;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.') {
			if (c->tag_len < sizeof c->tag)
				c->tag[c->tag_len] = (char)ch;
			c->tag_len++;
			p++;
			continue;
		}
		if (ch == ':') { /* a namespace prefix: the name starts again */
			c->tag_len = 0;
			p++;
			continue;
		}
		if (c->tag_len == 6 && memcmp(c->tag, "vertex", 6) == 0)
			c->vertices++;
		else if (c->tag_len == 8 && memcmp(c->tag, "triangle", 8) == 0)
			c->faces++;
		c->in_tag = 0; /* this byte is looked at again: it may be a '<' */
	}
}

void model_count_init(model_count *c, model_format f)
{
	memset(c, 0, offsetof(model_count, buf));
	c->format = f;
	c->error[0] = '\0';
}

int model_count_feed(model_count *c, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *e = buf + len;

	if (c->failed)
		return -1;
	if (!len)
		return 0;
	if (c->format == MODEL_3MF) {
		mc_xml(c, p, e);
		return 0;
	}
	if (c->format != MODEL_STL_ASCII && c->format != MODEL_OBJ)
		return 0;
	while (p < e) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
		size_t n = (size_t)((nl ? nl : e) - p);

		if (c->len + n > MODEL_LINE_MAX)
			return mc_fail(c, "line %lld: longer than %d characters", c->line + 1,
				       MODEL_LINE_MAX);
		if (!nl) { /* an unfinished line: kept for the next feed */
			memcpy(c->buf + c->len, p, n);
			c->len += n;
			return 0;
		}
		if (c->len) {
			memcpy(c->buf + c->len, p, n);
			n += c->len;
			c->len = 0;
			if (mc_line(c, c->buf, n) < 0)
				return -1;
		} else if (mc_line(c, (const char *)p, n) < 0) {
			return -1;
		}
		p = nl + 1;
	}
	return 0;
}

int model_count_end(model_count *c, long long *faces, long long *vertices)
{
	if (!c->failed && c->len) {
		size_t n = c->len;
		c->len = 0;
		mc_line(c, c->buf, n);
	}
	if (c->failed)
		return -1;
	if (c->format == MODEL_STL_ASCII && c->in_facet)
		return mc_fail(
		    c, "line %lld: the file ends inside the facet of line %lld (cut short?)",
		    c->line, c->facet_line);
	if ((c->format == MODEL_STL_ASCII || c->format == MODEL_OBJ) && c->faces == 0)
		return mc_fail(c, "no %s at all", c->format == MODEL_OBJ ? "face" : "facet");
	if (faces)
		*faces = c->faces;
	if (vertices)
		*vertices = c->vertices;
	return 0;
}

long long model_count_faces(const model_count *c)
{
	return c->faces;
}

int model_count_bounds(const model_count *c, double min[3], double max[3])
{
	if (!c->bounded || c->failed)
		return -1;
	memcpy(min, c->min, sizeof c->min);
	memcpy(max, c->max, sizeof c->max);
	return 0;
}

const char *model_count_error(const model_count *c)
{
	return c->error;
}
