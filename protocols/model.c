/* model.c - recognising 3D model files (STL, 3MF, OBJ) by their first bytes: a pure sniffer. */
#include "model.h"

#include <math.h>
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
