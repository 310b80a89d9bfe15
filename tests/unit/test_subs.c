/* test_subs.c - unit tests of bridge/core/subs.c: subscriptions counted per connection, exactly. */
#include <stdio.h>
#include <string.h>

#include "../../bridge/core/subs.h"
#include "check.h"

/* Apply "\x01prefix" (sub true) or "\x00prefix" from fd. */
static lb_sub_verdict sub(lb_subs *t, int fd, int on, const char *prefix)
{
	unsigned char m[400];
	size_t n = strlen(prefix);

	m[0] = (unsigned char)(on ? 1 : 0);
	memcpy(m + 1, prefix, n);
	return lb_subs_apply(t, fd, m, n + 1);
}

static void test_counts_exact_prefixes(void)
{
	lb_subs *t = lb_subs_new();
	char p[64];

	CHECK(t != NULL);
	/* an unknown connection (inproc, or closed) is not counted */
	CHECK_EQ_INT(sub(t, 7, 1, "a/"), LB_SUB_OK);
	CHECK_EQ_UINT(lb_subs_total(t), 0);
	CHECK_EQ_INT(lb_subs_open(t, 7), 0);
	CHECK_EQ_INT(sub(t, 7, 1, "a/"), LB_SUB_OK);
	CHECK_EQ_INT(sub(t, 7, 1, "a/"), LB_SUB_OK); /* a repeat takes no room */
	CHECK_EQ_INT(sub(t, 7, 1, ""), LB_SUB_OK);   /* everything */
	CHECK_EQ_UINT(lb_subs_count(t, 7), 2);
	/* unsubscribing what it does not hold frees nothing */
	CHECK_EQ_INT(sub(t, 7, 0, "never/"), LB_SUB_OK);
	CHECK_EQ_UINT(lb_subs_count(t, 7), 2);
	CHECK_EQ_INT(sub(t, 7, 0, "a/"), LB_SUB_OK);
	CHECK_EQ_UINT(lb_subs_count(t, 7), 1);
	/* up to the limit, then the connection must go */
	for (int i = 1; i < LB_SUB_MAX_PER_CONN; i++) {
		snprintf(p, sizeof p, "s/%d/", i);
		CHECK_EQ_INT(sub(t, 7, 1, p), LB_SUB_OK);
	}
	CHECK_EQ_UINT(lb_subs_count(t, 7), LB_SUB_MAX_PER_CONN);
	CHECK_EQ_INT(sub(t, 7, 1, "one/too/many/"), LB_SUB_TOO_MANY);
	/* being closed: its later messages are not counted again */
	CHECK_EQ_INT(sub(t, 7, 1, "more/"), LB_SUB_OK);
	CHECK_EQ_UINT(lb_subs_total(t), LB_SUB_MAX_PER_CONN);
	lb_subs_close(t, 7);
	CHECK_EQ_UINT(lb_subs_total(t), 0);
	CHECK_EQ_UINT(lb_subs_connections(t), 0);
	lb_subs_destroy(&t);
	CHECK(t == NULL);
	lb_subs_destroy(&t);
}

static void test_long_prefix_and_stray_messages(void)
{
	lb_subs *t = lb_subs_new();
	char p[LB_SUB_MAX_LEN + 2];

	lb_subs_open(t, 3);
	lb_subs_open(t, 4);
	lb_subs_open(t, 5);
	memset(p, 'x', sizeof p - 1);
	p[LB_SUB_MAX_LEN] = 0;
	CHECK_EQ_INT(sub(t, 3, 1, p), LB_SUB_OK);
	p[LB_SUB_MAX_LEN] = 'x';
	p[LB_SUB_MAX_LEN + 1] = 0;
	CHECK_EQ_INT(sub(t, 4, 1, p), LB_SUB_TOO_LONG);
	CHECK_EQ_INT(lb_subs_apply(t, 5, "\x02hello", 6), LB_SUB_NOT_A_SUB);
	CHECK_EQ_INT(lb_subs_apply(t, 3, "", 0), LB_SUB_NOT_A_SUB);
	CHECK(lb_subs_known(t, 4));
	/* an fd accepted again is a new connection */
	lb_subs_open(t, 4);
	CHECK_EQ_INT(sub(t, 4, 1, "a/"), LB_SUB_OK);
	CHECK_EQ_UINT(lb_subs_count(t, 4), 1);
	lb_subs_destroy(&t);
}

static void test_total_limit(void)
{
	lb_subs *t = lb_subs_new();
	char p[64];
	int fd = 0, i = 0;

	/* connections within their own limit fill the bridge's */
	for (fd = 10; lb_subs_total(t) < LB_SUB_MAX_TOTAL; fd++) {
		lb_subs_open(t, fd);
		for (i = 0; i < LB_SUB_MAX_PER_CONN; i++) {
			snprintf(p, sizeof p, "%d/%d/", fd, i);
			CHECK_EQ_INT(sub(t, fd, 1, p), LB_SUB_OK);
		}
	}
	lb_subs_open(t, fd);
	CHECK_EQ_INT(sub(t, fd, 1, "late/"), LB_SUB_FULL);
	lb_subs_close(t, 10); /* one goes: room again */
	lb_subs_open(t, fd + 1);
	CHECK_EQ_INT(sub(t, fd + 1, 1, "late/"), LB_SUB_OK);
	lb_subs_destroy(&t);
}

int main(void)
{
	RUN(test_counts_exact_prefixes);
	RUN(test_long_prefix_and_stray_messages);
	RUN(test_total_limit);
	return check_summary();
}
