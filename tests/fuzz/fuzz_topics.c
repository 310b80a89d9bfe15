/* fuzz_topics.c - libFuzzer harness: the subscription policy of topics.c on any prefix, against its
 * own promises. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../bridge/core/topics.h"

/*
 * Input: byte 0 picks the role (% 3) and the user (>> 2, % 4: one owning r1 and s1, one owning
 * p1, one owning nothing, none); the rest is the prefix (any bytes). Promises checked: ALLOW and
 * REFUSE emit nothing; every prefix a NARROW emits is at most LB_TOPIC_MAX bytes, starts with
 * the prefix asked (the subscriber never gets more than it asked), is emitted once, and is itself
 * allowed as it is for the same subscriber; a teacher is always allowed; an observer is never
 * allowed a restricted topic.
 */

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *kind, *id, *streams[5], *owner;
} lab[] = {
    {"sensor", "t1", {"temperature", NULL}, NULL},
    {"robot", "r1", {"prox", "console", "state", NULL}, "unix:alice"},
    {"robot", "r10", {"prox", NULL}, NULL},
    {"printer", "p1", {"status", "console", "hotend", NULL}, "unix:bob"},
    {"scanner", "s1", {"image", "progress", NULL}, "unix:alice"},
    {"scanner3d", "c1", {"points", NULL}, NULL},
    {"camera", "k1", {"frame", NULL}, NULL},
};
#define NLAB (sizeof lab / sizeof lab[0])

static size_t v_count(void *arg)
{
	(void)arg;
	return NLAB;
}

static void v_device(void *arg, size_t i, const char **kind, const char **id)
{
	(void)arg;
	*kind = lab[i].kind;
	*id = lab[i].id;
}

static const char *v_stream(void *arg, size_t i, size_t j)
{
	(void)arg;
	return j < 5 ? lab[i].streams[j] : NULL;
}

static bool v_owns(void *arg, size_t i, const char *user)
{
	(void)arg;
	return lab[i].owner && user && strcmp(lab[i].owner, user) == 0;
}

static const lb_topic_view view = {v_count, v_device, v_stream, v_owns, NULL};

typedef struct got {
	char p[128][LB_TOPIC_MAX + 1];
	size_t len[128], n;
	int over;
} got;

static void collect(void *arg, const char *prefix, size_t len)
{
	got *g = arg;

	FUZZ_ASSERT(len <= LB_TOPIC_MAX);
	if (g->n >= 128) {
		g->over = 1;
		return;
	}
	memcpy(g->p[g->n], prefix, len);
	g->len[g->n++] = len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = {"unix:alice", "unix:bob", "unix:carol", NULL};
	static got g;
	lb_role role;
	const char *user, *prefix;
	size_t len;
	char why[400];
	bool owned;
	lb_topic_verdict v;

	if (size < 1)
		return 0;
	role = (lb_role)(data[0] % 3);
	user = users[(data[0] >> 2) % 4];
	prefix = (const char *)data + 1;
	len = size - 1;
	g.n = 0;
	g.over = 0;
	v = lb_topic_check(role, user, prefix, len, &view, collect, &g, &owned, why, sizeof why);
	FUZZ_ASSERT(v == LB_TOPIC_ALLOW || v == LB_TOPIC_NARROW || v == LB_TOPIC_REFUSE);
	FUZZ_ASSERT(memchr(why, '\0', sizeof why) != NULL);
	if (role == LB_ROLE_TEACHER)
		FUZZ_ASSERT(v == LB_TOPIC_ALLOW && !owned);
	if (v != LB_TOPIC_NARROW)
		FUZZ_ASSERT(g.n == 0);
	if (v == LB_TOPIC_ALLOW && role == LB_ROLE_OBSERVER)
		FUZZ_ASSERT(!lb_topic_restricted(prefix, len));
	FUZZ_ASSERT(!g.over);
	for (size_t i = 0; i < g.n; i++) {
		got sub;
		FUZZ_ASSERT(g.len[i] >= len && memcmp(g.p[i], prefix, len) == 0);
		for (size_t k = 0; k < i; k++)
			FUZZ_ASSERT(g.len[k] != g.len[i] || memcmp(g.p[k], g.p[i], g.len[i]) != 0);
		sub.n = 0;
		sub.over = 0;
		FUZZ_ASSERT(lb_topic_check(role, user, g.p[i], g.len[i], &view, collect, &sub, NULL,
					   NULL, 0) == LB_TOPIC_ALLOW);
	}
	return 0;
}
