/* fuzz_assign.c - libFuzzer harness: the assignments file's parser and the group name check on any
 * bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocols/assign.h"

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lb_assigns t = {0}, u = {0};
	char why[200], name[128];
	char *text;

	/* the group check: a name accepted is 1..63 bytes with no control character */
	if (size < sizeof name) {
		memcpy(name, data, size);
		name[size] = '\0';
		if (lb_assign_group_ok(name)) {
			FUZZ_ASSERT(strlen(name) >= 1 && strlen(name) <= LB_ASSIGN_GROUP_MAX);
			for (const unsigned char *p = (const unsigned char *)name; *p; p++)
				FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f);
		}
	}
	/* the file: what is accepted is valid, sorted, and survives a round trip unchanged */
	if (lb_assigns_parse((const char *)data, size, &t, why, sizeof why) < 0) {
		FUZZ_ASSERT(t.n == 0 && why[0]);
		return 0;
	}
	FUZZ_ASSERT(t.n <= LB_ASSIGN_MAX);
	for (size_t i = 0; i < t.n; i++) {
		FUZZ_ASSERT(lb_assign_group_ok(t.v[i].group));
		FUZZ_ASSERT(i == 0 || strcmp(t.v[i - 1].device, t.v[i].device) < 0);
		FUZZ_ASSERT(!lb_assigns_allow(&t, t.v[i].device, "", ""));
		FUZZ_ASSERT(lb_assigns_allow(&t, t.v[i].device, t.v[i].group, ""));
	}
	text = lb_assigns_dump(&t);
	FUZZ_ASSERT(text);
	FUZZ_ASSERT(lb_assigns_parse(text, strlen(text), &u, why, sizeof why) == 0);
	FUZZ_ASSERT(u.n == t.n);
	for (size_t i = 0; i < t.n; i++)
		FUZZ_ASSERT(!strcmp(u.v[i].device, t.v[i].device) &&
			    !strcmp(u.v[i].group, t.v[i].group) && u.v[i].since == t.v[i].since);
	free(text);
	lb_assigns_clear(&t);
	lb_assigns_clear(&u);
	return 0;
}
