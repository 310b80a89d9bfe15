/* fuzz_mpyboard.c - libFuzzer harness: the MicroPython driver's console text and checked-upload
 * wrapper on any bytes (board.c is pure: compiled in here). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../drivers/micropython/board.c"

/* The wrapper's literal decoded back; -1 when malformed. */
static long unliteral(const char *w, uint8_t *out)
{
	const char *p = strstr(w, "))(b'");
	long n = 0;

	if (!p)
		return -1;
	p += 5;
	while (*p && *p != '\'') {
		if (*p != '\\') {
			out[n++] = (uint8_t)*p++;
			continue;
		}
		p++;
		if (*p == 'n' || *p == 'r' || *p == 't') {
			out[n++] = *p == 'n' ? '\n' : *p == 'r' ? '\r' : '\t';
			p++;
		} else if (*p == 'x' && p[1] && p[2]) {
			char hex[3] = {p[1], p[2], 0};
			out[n++] = (uint8_t)strtol(hex, NULL, 16);
			p += 3;
		} else {
			return -1;
		}
	}
	return *p == '\'' ? n : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *whole = malloc(3 * size + 16), *pieces = malloc(3 * size + 32);
	char *w = malloc(mpb_wrap_size(size));
	uint8_t *back = malloc(size + 1);
	mpb_text t = {0};
	size_t n, m = 0, cut = size ? data[0] % (size + 1) : 0;
	json_t *j;

	/* the console text: the same however it is cut, and valid UTF-8 */
	n = mpb_text_feed(&t, data, size, whole);
	n += mpb_text_flush(&t, whole + n);
	m = mpb_text_feed(&t, data, cut, pieces);
	m += mpb_text_feed(&t, data + cut, size - cut, pieces + m);
	m += mpb_text_flush(&t, pieces + m);
	if (n != m || memcmp(whole, pieces, n) != 0)
		abort();
	if (!(j = json_stringn(whole, n)))
		abort(); /* jansson refuses invalid UTF-8 */
	json_decref(j);
	/* the wrapper: no control byte on the wire, and the literal gives the program back */
	n = mpb_wrap(data, size, w, mpb_wrap_size(size));
	if (n == 0 || strlen(w) != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if (w[i] >= 1 && w[i] <= 4)
			abort();
	if (unliteral(w, back) != (long)size || memcmp(back, data, size) != 0)
		abort();
	/* display text: no control byte either */
	if (size <= 256) {
		char code[1200];
		n = mpb_display_code((const char *)data, size, code, sizeof code);
		if (n == 0)
			abort();
		for (size_t i = 0; i < n; i++)
			if (code[i] >= 1 && code[i] <= 4)
				abort();
	}
	free(whole);
	free(pieces);
	free(w);
	free(back);
	return 0;
}
