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

/* Packed prefixes (length byte + bytes) from a NULL-terminated list; returns the length. */
static size_t packed(unsigned char *out, const char *const *list)
{
	size_t n = 0;

	for (; *list; list++) {
		out[n] = (unsigned char)strlen(*list);
		memcpy(out + n + 1, *list, strlen(*list));
		n += 1 + strlen(*list);
	}
	return n;
}

/* What the pipe was told: +1 per subscribe, -1 per unsubscribe, per prefix. */
static char applied[16][32];
static int applied_on[16];
static size_t napplied;

static void record(void *arg, const void *prefix, size_t len, int on)
{
	(void)arg;
	for (size_t i = 0; i < napplied; i++)
		if (strlen(applied[i]) == len && memcmp(applied[i], prefix, len) == 0) {
			applied_on[i] += on ? 1 : -1;
			return;
		}
	memcpy(applied[napplied], prefix, len);
	applied[napplied][len] = '\0';
	applied_on[napplied++] = on ? 1 : -1;
}

static int on_pipe(const char *prefix)
{
	for (size_t i = 0; i < napplied; i++)
		if (strcmp(applied[i], prefix) == 0)
			return applied_on[i];
	return 0;
}

/* A regrant that gives "sensor/" alone (what a changed world would grant). */
static size_t regrant_sensor(void *arg, lb_role role, const char *user, const void *prefix,
			     size_t len, unsigned char *out, size_t cap)
{
	static const char *const l[] = {"sensor/", NULL};
	(void)arg, (void)role, (void)user, (void)prefix, (void)len, (void)cap;
	return packed(out, l);
}

static void test_grants_counted_per_connection(void)
{
	static const char *const all[] = {"sensor/", "bridge/", "robot/r1/", NULL};
	static const char *const robots[] = {"robot/r1/", NULL};
	unsigned char g[256];
	lb_subs *t = lb_subs_new();
	lb_role role;
	const char *user;
	int fds[4];

	napplied = 0;
	CHECK_EQ_INT(lb_subs_open(t, 5), 0);
	CHECK(!lb_subs_identity(t, 5, &role, &user));
	CHECK_EQ_INT(lb_subs_set_identity(t, 5, LB_ROLE_STUDENT, "unix:alice"), 0);
	CHECK(lb_subs_identity(t, 5, &role, &user));
	CHECK_STR(user, "unix:alice");
	CHECK_EQ_INT(lb_subs_set_identity(t, 99, LB_ROLE_STUDENT, "x"), LB_EINVAL);
	/* floor: a message numbered below it is an earlier connection's */
	lb_subs_set_floor(t, 5, 10);
	CHECK(!lb_subs_current(t, 5, 9));
	CHECK(lb_subs_current(t, 5, 10));
	CHECK(!lb_subs_current(t, 6, 10));
	/* "" narrowed to three prefixes, "robot/" to one they share */
	CHECK_EQ_INT(sub(t, 5, 1, ""), LB_SUB_OK);
	CHECK_EQ_INT(lb_subs_grant(t, 5, "", 0, g, packed(g, all), true, record, NULL), 0);
	CHECK_EQ_INT(sub(t, 5, 1, "robot/"), LB_SUB_OK);
	CHECK_EQ_INT(lb_subs_grant(t, 5, "robot/", 6, g, packed(g, robots), true, record, NULL), 0);
	CHECK(lb_subs_granted(t, 5, "robot/", 6));
	CHECK_EQ_INT(on_pipe("robot/r1/"), 1); /* applied once for two grants */
	CHECK_EQ_INT(on_pipe("sensor/"), 1);
	/* granting again is a repeat: nothing applied */
	CHECK_EQ_INT(lb_subs_grant(t, 5, "robot/", 6, g, packed(g, robots), true, record, NULL), 0);
	CHECK_EQ_INT(on_pipe("robot/r1/"), 1);
	/* unsubscribing "" removes what only it held */
	lb_subs_ungrant(t, 5, "", 0, record, NULL);
	CHECK_EQ_INT(sub(t, 5, 0, ""), LB_SUB_OK);
	CHECK_EQ_INT(on_pipe("sensor/"), 0);
	CHECK_EQ_INT(on_pipe("bridge/"), 0);
	CHECK_EQ_INT(on_pipe("robot/r1/"), 1);
	lb_subs_ungrant(t, 5, "robot/", 6, record, NULL);
	CHECK_EQ_INT(on_pipe("robot/r1/"), 0);
	/* backlogs are counted on what is delivered: the grants, not the prefixes asked */
	{
		int m[4];
		CHECK_EQ_UINT(lb_subs_match(t, "sensor/x/", 9, m, 4), 0);
		CHECK_EQ_UINT(lb_subs_match(t, "robot/r1/console/", 17, m, 4), 0);
		CHECK_EQ_INT(sub(t, 5, 1, "robot/r1/"), LB_SUB_OK);
		CHECK_EQ_INT(
		    lb_subs_grant(t, 5, "robot/r1/", 9, g, packed(g, robots), true, record, NULL),
		    0);
		CHECK_EQ_UINT(lb_subs_match(t, "robot/r1/console/", 17, m, 4), 1);
		CHECK_EQ_UINT(lb_subs_match(t, "robot/r2/console/", 17, m, 4), 0);
	}
	/* a refused one: granted nothing, counted as granted */
	CHECK_EQ_INT(sub(t, 5, 1, "robot/r2/console/"), LB_SUB_OK);
	CHECK_EQ_INT(lb_subs_grant(t, 5, "robot/r2/console/", 17, g, 0, true, record, NULL), 0);
	CHECK(lb_subs_granted(t, 5, "robot/r2/console/", 17));
	/* the world changed: a dependent grant that differs names its connection, once */
	CHECK_EQ_UINT(lb_subs_changed(t, regrant_sensor, NULL, fds, 4), 1);
	CHECK_EQ_INT(fds[0], 5);
	CHECK_EQ_UINT(lb_subs_changed(t, regrant_sensor, NULL, fds, 4), 0); /* being closed */
	/* a connection whose grants do not depend on ownership is never named */
	CHECK_EQ_INT(lb_subs_open(t, 6), 0);
	lb_subs_set_identity(t, 6, LB_ROLE_TEACHER, "unix:root");
	CHECK_EQ_INT(sub(t, 6, 1, ""), LB_SUB_OK);
	CHECK_EQ_INT(lb_subs_grant(t, 6, "", 0, (const unsigned char *)"\0", 1, false, NULL, NULL),
		     0);
	CHECK_EQ_UINT(lb_subs_changed(t, regrant_sensor, NULL, fds, 4), 0);
	/* malformed packed lists are ignored */
	CHECK_EQ_INT(sub(t, 6, 1, "x/"), LB_SUB_OK);
	CHECK_EQ_INT(
	    lb_subs_grant(t, 6, "x/", 2, (const unsigned char *)"\x09x/", 3, false, NULL, NULL), 0);
	CHECK(!lb_subs_granted(t, 6, "x/", 2));
	lb_subs_count_verdict(t, 1);
	lb_subs_count_verdict(t, 0);
	CHECK_EQ_UINT(lb_subs_refused(t), 1);
	CHECK_EQ_UINT(lb_subs_narrowed(t), 1);
	lb_subs_destroy(&t);
}

/* Over LB_SUB_MAX_GRANTED prefixes applied to one connection: refused whole, nothing applied. */
static void test_grant_limit(void)
{
	lb_subs *t = lb_subs_new();
	unsigned char g[8];
	char p[16];
	int i;

	napplied = 0;
	lb_subs_open(t, 3);
	for (i = 0; i < LB_SUB_MAX_PER_CONN; i++) {
		snprintf(p, sizeof p, "k%d/", i);
		CHECK_EQ_INT(sub(t, 3, 1, p), LB_SUB_OK);
	}
	/* 4 prefixes per grant: 256 grants would be 1024, the limit: the last one fits */
	for (i = 0; i < LB_SUB_MAX_PER_CONN; i++) {
		unsigned char big[64];
		size_t n = 0;
		snprintf(p, sizeof p, "k%d/", i);
		for (int k = 0; k < 4; k++) {
			int m = snprintf((char *)big + n + 1, sizeof big - n - 1, "g%d.%d/", i, k);
			big[n] = (unsigned char)m;
			n += 1 + (size_t)m;
		}
		CHECK_EQ_INT(lb_subs_grant(t, 3, p, strlen(p), big, n, false, NULL, NULL), 0);
	}
	CHECK_EQ_INT(sub(t, 3, 0, "k0/"), LB_SUB_OK); /* without ungrant: its prefixes stay */
	CHECK_EQ_INT(sub(t, 3, 1, "more/"), LB_SUB_OK);
	g[0] = 5;
	memcpy(g + 1, "more/", 5);
	CHECK_EQ_INT(lb_subs_grant(t, 3, "more/", 5, g, 6, false, record, NULL), LB_SUB_FULL);
	CHECK_EQ_INT(on_pipe("more/"), 0);
	lb_subs_destroy(&t);
}

int main(void)
{
	RUN(test_counts_exact_prefixes);
	RUN(test_long_prefix_and_stray_messages);
	RUN(test_total_limit);
	RUN(test_grants_counted_per_connection);
	RUN(test_grant_limit);
	return check_summary();
}
