/* csv.c - CSV fields quoted as RFC 4180 says, for the recorder's files and labctl's output. */
#include "csv.h"

#include <string.h>

size_t lb_csv_field(char *out, size_t cap, const char *s, char sep)
{
	char special[5] = {sep, '"', '\r', '\n', '\0'};
	int quote = strpbrk(s, special) != NULL;
	size_t n = 0;

	/* n counts the whole field; only what fits before the NUL is written */
#define PUT(c)                                                                                     \
	do {                                                                                       \
		if (n + 1 < cap)                                                                   \
			out[n] = (c);                                                              \
		n++;                                                                               \
	} while (0)
	if (quote)
		PUT('"');
	for (; *s; s++) {
		if (quote && *s == '"')
			PUT('"');
		PUT(*s);
	}
	if (quote)
		PUT('"');
#undef PUT
	if (cap)
		out[n < cap ? n : cap - 1] = '\0';
	return n;
}
