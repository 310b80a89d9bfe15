/* fuzz_audit.c - libFuzzer harness: the audit log's params summary on any request params. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/core/audit.h"

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The summary of any params is bounded, valid UTF-8, and never shows a hidden key's value: the
 * value "S3CR3T" under a "secret" key is added to every object input (that does not hold it
 * already, as a key or another value). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *p = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	char out[LB_AUDIT_SUMMARY_MAX + 1], small[16];
	char *orig = p ? json_dumps(p, JSON_ENCODE_ANY) : NULL;
	bool planted = false;
	json_t *check;

	if (json_is_object(p) && orig && !strstr(orig, "S3CR3T")) {
		json_object_set_new(p, "secret_key", json_string("S3CR3T"));
		planted = true;
	}
	free(orig);
	lb_audit_summary(p, out, sizeof out);
	lb_audit_summary(p, small, sizeof small);
	FUZZ_ASSERT(strlen(out) <= LB_AUDIT_SUMMARY_MAX);
	FUZZ_ASSERT(strlen(small) < sizeof small);
	FUZZ_ASSERT(!planted || !strstr(out, "S3CR3T"));
	check = json_string(out);
	FUZZ_ASSERT(check != NULL);
	json_decref(check);
	check = json_string(small);
	FUZZ_ASSERT(check != NULL);
	json_decref(check);
	json_decref(p);
	return 0;
}
