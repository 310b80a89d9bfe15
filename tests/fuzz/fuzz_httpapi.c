/* fuzz_httpapi.c - libFuzzer harness: the web API's input checks and event formatting on any bytes.
 */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/httpapi.h"

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path that was accepted holds nothing that could leave the root. */
static void check_path(const uint8_t *data, size_t size)
{
	char out[LB_HTTPAPI_PATH_MAX + 1];

	if (lb_httpapi_path((const char *)data, size, out, sizeof out) < 0)
		return;
	FUZZ_ASSERT(strlen(out) > 0 && strlen(out) <= LB_HTTPAPI_PATH_MAX);
	FUZZ_ASSERT(out[0] != '/' && out[0] != '.');
	FUZZ_ASSERT(!strstr(out, "/.") && !strstr(out, "//") && !strchr(out, '\\'));
	for (const char *p = out; *p; p++)
		FUZZ_ASSERT((unsigned char)*p >= 0x20 && *p != 0x7f);
	(void)lb_httpapi_mime(out);
}

/* A call that was accepted has a well-formed method, object params and bounded data. */
static void check_call(const uint8_t *data, size_t size)
{
	lb_httpapi_call c;
	const char *code = NULL, *why = NULL;

	if (lb_httpapi_call_parse(data, size, &c, &code, &why) < 0) {
		FUZZ_ASSERT(why && code);
		FUZZ_ASSERT(!c.params && !c.data);
		return;
	}
	FUZZ_ASSERT(strlen(c.method) >= 1 && strlen(c.method) <= LB_HTTPAPI_METHOD_MAX);
	FUZZ_ASSERT(json_is_object(c.params));
	FUZZ_ASSERT(c.datalen <= LB_HTTPAPI_DATA_MAX);
	lb_httpapi_call_clear(&c);
}

/* The other readers, on a NUL-terminated copy. */
static void check_strings(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char code[LB_HTTPAPI_CODE_LEN + 1], tok[LB_HTTPAPI_TOKEN_LEN + 1];
	const char *why;
	lb_httpapi_topics t;

	if (!s)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (lb_httpapi_topics_parse(s, &t, &why) == 0) {
		FUZZ_ASSERT(t.n >= 1 && t.n <= LB_HTTPAPI_TOPICS_MAX);
		for (size_t i = 0; i < t.n; i++)
			FUZZ_ASSERT(strlen(t.v[i]) >= 1 && strlen(t.v[i]) <= LB_HTTPAPI_TOPIC_MAX);
	}
	if (lb_httpapi_pair_parse(data, size, code, &why) == 0)
		FUZZ_ASSERT(strlen(code) == LB_HTTPAPI_CODE_LEN && !strpbrk(code, "01IO"));
	{
		long long job;
		char file[129];
		const char *amp = memchr(s, '&', size);
		const char *q = amp ? amp + 1 : "a"; /* after it: the file= value (may be "") */
		if (lb_httpapi_file_query(s, q, &job, file, &why) == 0)
			FUZZ_ASSERT(job >= 1 && file[0] != '.' && !strchr(file, '/') &&
				    strlen(file) <= 128);
	}
	if (lb_httpapi_token(s, size & 1, tok) == 0)
		FUZZ_ASSERT(strlen(tok) == LB_HTTPAPI_TOKEN_LEN);
	free(s);
}

/* An event is one "event:" line and one "data:" line holding a JSON object, then a blank line. */
static void check_event(const uint8_t *data, size_t size)
{
	size_t tlen = size ? data[0] % 32 : 0, hlen, slen, len;
	uint64_t seq, prev = 5;
	char *ev;
	json_t *j;

	if (tlen + 1 > size)
		return;
	hlen = (size - 1 - tlen) / 2;
	slen = size - 1 - tlen - hlen;
	ev = lb_httpapi_sse_event(data + 1, tlen, data + 1 + tlen, hlen, data + 1 + tlen + hlen,
				  slen, (size & 2) ? &prev : NULL, &seq, &len);
	if (!ev)
		return;
	FUZZ_ASSERT(len == strlen(ev) && len > 19);
	FUZZ_ASSERT(!strncmp(ev, "event: msg\ndata: ", 17) && !strcmp(ev + len - 2, "\n\n"));
	FUZZ_ASSERT(strchr(ev + 17, '\n') == ev + len - 2 && !strchr(ev, '\r'));
	j = json_loadb(ev + 17, len - 19, JSON_ALLOW_NUL, NULL); /* a topic may hold \u0000 */
	FUZZ_ASSERT(json_is_object(j));
	json_decref(j);
	free(ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_path(data, size);
	check_call(data, size);
	check_strings(data, size);
	check_event(data, size);
	return 0;
}
