/* test_access.c - unit tests of bridge/core/access.c: roles, and device leases with time passed in.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../bridge/core/access.h"
#include "check.h"

#define MS 1000000LL /* ns */
#define T0 (5 * 1000000000LL)
#define TTL (30000 * MS)

/* A client with routing id rid, connection fd, user and role. */
static lb_client client(const char *rid, int fd, const char *user, lb_role role)
{
	lb_client c;

	memset(&c, 0, sizeof c);
	c.rid_len = strlen(rid);
	memcpy(c.rid, rid, c.rid_len);
	c.fd = fd;
	snprintf(c.user, sizeof c.user, "%s", user);
	c.role = role;
	return c;
}

/* What the sweep callback saw. */
typedef struct released {
	char devices[8][64];
	int n;
} released;

static void on_release(const char *device, void *arg)
{
	released *r = arg;

	if (r->n < 8)
		snprintf(r->devices[r->n], sizeof r->devices[r->n], "%s", device);
	r->n++;
}

/* How many times the callback saw device. */
static int times_released(const released *r, const char *device)
{
	int k = 0;

	for (int i = 0; i < r->n && i < 8; i++)
		if (strcmp(r->devices[i], device) == 0)
			k++;
	return k;
}

static void test_roles(void)
{
	lb_role r = LB_ROLE_TEACHER;

	CHECK_STR(lb_role_name(LB_ROLE_OBSERVER), "observer");
	CHECK_STR(lb_role_name(LB_ROLE_STUDENT), "student");
	CHECK_STR(lb_role_name(LB_ROLE_TEACHER), "teacher");
	CHECK_STR(lb_role_name((lb_role)3), "?");
	CHECK_STR(lb_role_name((lb_role)-1), "?");

	CHECK_EQ_INT(lb_role_parse("observer", &r), 0);
	CHECK_EQ_INT(r, LB_ROLE_OBSERVER);
	CHECK_EQ_INT(lb_role_parse("student", &r), 0);
	CHECK_EQ_INT(r, LB_ROLE_STUDENT);
	CHECK_EQ_INT(lb_role_parse("teacher", &r), 0);
	CHECK_EQ_INT(r, LB_ROLE_TEACHER);

	/* Exact names only; the output is untouched on failure. */
	r = LB_ROLE_STUDENT;
	CHECK_EQ_INT(lb_role_parse("Teacher", &r), LB_EINVAL);
	CHECK_EQ_INT(lb_role_parse("admin", &r), LB_EINVAL);
	CHECK_EQ_INT(lb_role_parse("", &r), LB_EINVAL);
	CHECK_EQ_INT(lb_role_parse("teacher ", &r), LB_EINVAL);
	CHECK_EQ_INT(lb_role_parse(NULL, &r), LB_EINVAL);
	CHECK_EQ_INT(r, LB_ROLE_STUDENT);

	/* Roles are ordered: a higher role may do more. */
	CHECK(LB_ROLE_OBSERVER < LB_ROLE_STUDENT && LB_ROLE_STUDENT < LB_ROLE_TEACHER);
}

static void test_client_same(void)
{
	lb_client a = client("AAAA", 5, "local:127.0.0.1", LB_ROLE_STUDENT);
	lb_client a2 = client("AAAA", 9, "other", LB_ROLE_TEACHER);
	lb_client b = client("AAAB", 5, "local:127.0.0.1", LB_ROLE_STUDENT);
	lb_client c = client("AAA", 5, "local:127.0.0.1", LB_ROLE_STUDENT);

	/* The same connection is the same routing id, whatever the rest says. */
	CHECK(lb_client_same(&a, &a));
	CHECK(lb_client_same(&a, &a2));
	CHECK(!lb_client_same(&a, &b));
	CHECK(!lb_client_same(&a, &c));
	CHECK(!lb_client_same(&c, &a));
	/* routing ids are per socket: a network client (which may choose its routing id) is never
	 * a local one with the same id, whose leases and session it would take */
	{
		lb_client n = client("AAAA", 5, "key:x", LB_ROLE_STUDENT);
		n.net = true;
		CHECK(!lb_client_same(&a, &n));
		CHECK(!lb_client_same(&n, &a));
		CHECK(lb_client_same(&n, &n));
	}
}

static void test_acquire_and_renew(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	const lb_lease *l = NULL;
	lb_error err;

	snprintf(s1.name, sizeof s1.name, "group 3");
	CHECK_EQ_INT(lb_lease_acquire(&t, "sim-temp-1", &s1, TTL, false, T0, &l, &err), 0);
	CHECK(l != NULL);
	if (!l)
		return;
	CHECK_STR(l->device, "sim-temp-1");
	CHECK(lb_client_same(&l->holder, &s1));
	CHECK_STR(l->holder.user, "local:10.0.0.1");
	CHECK_STR(l->holder.name, "group 3");
	CHECK_EQ_INT(l->expires, T0 + TTL);
	CHECK_EQ_INT(t.n, 1);
	CHECK(lb_lease_find(&t, "sim-temp-1", T0) == l);
	CHECK(lb_lease_find(&t, "sim-ph-1", T0) == NULL);

	/* Renewed by its holder: the same entry, a later deadline. */
	CHECK_EQ_INT(lb_lease_acquire(&t, "sim-temp-1", &s1, TTL, false, T0 + 10000 * MS, &l, &err),
		     0);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(l->expires, T0 + 10000 * MS + TTL);
	/* A renewal may shorten the lease too (acquire again with a smaller ttl). */
	CHECK_EQ_INT(
	    lb_lease_acquire(&t, "sim-temp-1", &s1, 1000 * MS, false, T0 + 11000 * MS, NULL, &err),
	    0);
	CHECK_EQ_INT(lb_lease_find(&t, "sim-temp-1", T0 + 11000 * MS)->expires, T0 + 12000 * MS);
	/* The holder may pass force on its own lease. */
	CHECK_EQ_INT(
	    lb_lease_acquire(&t, "sim-temp-1", &s1, TTL, true, T0 + 11000 * MS, NULL, &err), 0);
	CHECK_EQ_INT(t.n, 1);

	/* Leases of other devices are independent. */
	CHECK_EQ_INT(lb_lease_acquire(&t, "sim-ph-1", &s1, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(t.n, 2);
	lb_leases_clear(&t);
	CHECK(t.v == NULL && t.n == 0 && t.cap == 0);
}

static void test_refused_for_other_student(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	lb_client s2 = client("s2", 11, "local:10.0.0.2", LB_ROLE_STUDENT);
	const lb_lease *l = NULL;
	lb_error err;

	snprintf(s1.name, sizeof s1.name, "group 3");
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);

	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &s2, TTL, false, T0 + 1 * MS, &l, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK_CONTAINS(err.message, "group 3"); /* who holds it */
	CHECK_CONTAINS(err.message, "local:10.0.0.1");
	CHECK_CONTAINS(err.message, "29999 ms"); /* for how long */
	CHECK(l == NULL);
	/* Nothing changed. */
	CHECK_EQ_INT(t.n, 1);
	CHECK(lb_client_same(&lb_lease_find(&t, "d", T0)->holder, &s1));
	CHECK_EQ_INT(lb_lease_find(&t, "d", T0)->expires, T0 + TTL);
	lb_leases_clear(&t);
}

static void test_force(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	lb_client s2 = client("s2", 11, "local:10.0.0.2", LB_ROLE_STUDENT);
	lb_client te = client("te", 12, "local:127.0.0.1", LB_ROLE_TEACHER);
	const lb_lease *l = NULL;
	lb_error err;

	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);

	/* A student may not force. */
	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &s2, TTL, true, T0, NULL, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
	CHECK(lb_client_same(&lb_lease_find(&t, "d", T0)->holder, &s1));

	/* A teacher without force is refused like anyone. */
	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &te, TTL, false, T0, NULL, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);

	/* A teacher with force takes the lease over. */
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &te, 5000 * MS, true, T0 + MS, &l, &err), 0);
	CHECK(l && lb_client_same(&l->holder, &te));
	CHECK(l && l->expires == T0 + MS + 5000 * MS);
	CHECK_EQ_INT(t.n, 1);
	/* Now the former holder is refused. */
	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &s1, TTL, false, T0 + 2 * MS, NULL, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK(lb_lease_check(&t, "d", &s1, T0 + 2 * MS, &err) < 0);

	/* Force on a free device is an ordinary acquire, for a student too. */
	CHECK_EQ_INT(lb_lease_acquire(&t, "free", &s2, TTL, true, T0, NULL, &err), 0);
	lb_leases_clear(&t);
}

static void test_observer_refused(void)
{
	lb_leases t = {0};
	lb_client ob = client("ob", 13, "local:10.0.0.9", LB_ROLE_OBSERVER);
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	const lb_lease *l = NULL;
	lb_error err;

	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &ob, TTL, false, T0, &l, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
	CHECK(l == NULL);
	CHECK_EQ_INT(t.n, 0);
	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &ob, TTL, true, T0, &l, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
	CHECK_EQ_INT(t.n, 0);

	/* Also when someone else holds the device (forbidden, not leased). */
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);
	err.code = 0;
	CHECK(lb_lease_acquire(&t, "d", &ob, TTL, false, T0, NULL, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_FORBIDDEN);
	/* An observer may not release someone else's lease either. */
	err.code = 0;
	CHECK(lb_lease_release(&t, "d", &ob, T0, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK(lb_lease_find(&t, "d", T0) != NULL);
	lb_leases_clear(&t);
}

static void test_expiry_at_deadline(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	lb_client s2 = client("s2", 11, "local:10.0.0.2", LB_ROLE_STUDENT);
	const int64_t deadline = T0 + TTL;
	const lb_lease *l = NULL;
	lb_error err;

	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);

	/* One nanosecond before the deadline the lease holds... */
	CHECK(lb_lease_find(&t, "d", deadline - 1) != NULL);
	CHECK(lb_lease_check(&t, "d", &s2, deadline - 1, &err) < 0);
	CHECK(lb_lease_acquire(&t, "d", &s2, TTL, false, deadline - 1, NULL, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK_CONTAINS(err.message, "0 ms");

	/* ...at the deadline exactly it has expired: another student gets the device. */
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s2, deadline, &err), 0);
	CHECK(lb_lease_find(&t, "d", deadline) == NULL);
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s2, TTL, false, deadline, &l, &err), 0);
	CHECK(l && lb_client_same(&l->holder, &s2));
	CHECK(l && l->expires == deadline + TTL);
	CHECK_EQ_INT(t.n, 1);

	/* The former holder is now refused. */
	CHECK(lb_lease_check(&t, "d", &s1, deadline, &err) < 0);
	lb_leases_clear(&t);
}

/* An expired lease is absent for every reader, and the next sweep removes and announces it once. */
static void test_expired_announced_by_sweep(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "u1", LB_ROLE_STUDENT);
	lb_client s2 = client("s2", 11, "u2", LB_ROLE_STUDENT);
	released r = {0};
	lb_error err;

	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);
	CHECK(lb_lease_find(&t, "d", T0 + TTL) == NULL);
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s2, T0 + TTL, &err), 0);
	CHECK(lb_lease_find(&t, "d", T0 + TTL + 1) == NULL);
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + TTL, -1, on_release, &r), 1);
	CHECK_EQ_INT(r.n, 1);
	CHECK_EQ_INT(times_released(&r, "d"), 1);
	CHECK_EQ_INT(t.n, 0);
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + 2 * TTL, -1, on_release, &r), 0);
	CHECK_EQ_INT(r.n, 1);
	lb_leases_clear(&t);
}

/* An expired lease is not renewed in place but acquired anew by its former holder. */
static void test_reacquire_after_expiry(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "u", LB_ROLE_STUDENT);
	lb_error err;

	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, 1000 * MS, false, T0, NULL, &err), 0);
	CHECK(lb_lease_find(&t, "d", T0 + 5000 * MS) == NULL);
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, 1000 * MS, false, T0 + 5000 * MS, NULL, &err),
		     0);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(lb_lease_find(&t, "d", T0 + 5000 * MS)->expires, T0 + 6000 * MS);
	lb_leases_clear(&t);
}

static void test_release(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	lb_client s2 = client("s2", 11, "local:10.0.0.2", LB_ROLE_STUDENT);
	lb_client te = client("te", 12, "local:127.0.0.1", LB_ROLE_TEACHER);
	lb_error err;

	/* Releasing a free device is fine. */
	CHECK_EQ_INT(lb_lease_release(&t, "d", &s1, T0, &err), 0);

	/* By a non-holder student: refused, the lease stays. */
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);
	err.code = 0;
	CHECK(lb_lease_release(&t, "d", &s2, T0, &err) < 0);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK(lb_lease_find(&t, "d", T0) != NULL);

	/* By the holder: gone. */
	CHECK_EQ_INT(lb_lease_release(&t, "d", &s1, T0, &err), 0);
	CHECK(lb_lease_find(&t, "d", T0) == NULL);
	CHECK_EQ_INT(t.n, 0);
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s2, T0, &err), 0);

	/* By a teacher who does not hold it: allowed. */
	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "e", &s2, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_release(&t, "d", &te, T0, &err), 0);
	CHECK(lb_lease_find(&t, "d", T0) == NULL);
	/* Only that device's lease went. */
	CHECK(lb_lease_find(&t, "e", T0) != NULL);
	CHECK_EQ_INT(t.n, 1);

	/* An expired lease: releasing it is a no-op success, for anyone. */
	CHECK_EQ_INT(lb_lease_release(&t, "e", &s1, T0 + TTL, &err), 0);
	CHECK(lb_lease_find(&t, "e", T0 + TTL) == NULL);
	lb_leases_sweep(&t, T0 + TTL, -1, NULL, NULL);
	CHECK_EQ_INT(t.n, 0);
	lb_leases_clear(&t);
}

static void test_check(void)
{
	lb_leases t = {0};
	lb_client s1 = client("s1", 10, "local:10.0.0.1", LB_ROLE_STUDENT);
	lb_client s1b = client("s1", 99, "local:10.0.0.1", LB_ROLE_STUDENT);
	lb_client s2 = client("s2", 11, "local:10.0.0.2", LB_ROLE_STUDENT);
	lb_client te = client("te", 12, "local:127.0.0.1", LB_ROLE_TEACHER);
	lb_client ob = client("ob", 13, "local:10.0.0.9", LB_ROLE_OBSERVER);
	lb_error err;

	/* Free device: anyone may command it (roles are checked elsewhere). */
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s2, T0, &err), 0);
	CHECK_EQ_INT(lb_lease_check(&t, "d", &ob, T0, &err), 0);

	CHECK_EQ_INT(lb_lease_acquire(&t, "d", &s1, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s1, T0, &err), 0);
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s1b, T0, &err), 0); /* same routing id */
	err.code = 0;
	CHECK_EQ_INT(lb_lease_check(&t, "d", &s2, T0, &err), LB_EFAIL);
	CHECK_EQ_INT(err.code, LB_ERR_LEASED);
	CHECK_CONTAINS(err.message, "'d'");
	CHECK_CONTAINS(err.message, "local:10.0.0.1");
	/* A teacher, too, must force the lease before commanding the device. */
	CHECK_EQ_INT(lb_lease_check(&t, "d", &te, T0, &err), LB_EFAIL);
	CHECK_EQ_INT(lb_lease_check(&t, "d", &ob, T0, &err), LB_EFAIL);
	/* Other devices are free. */
	CHECK_EQ_INT(lb_lease_check(&t, "e", &s2, T0, &err), 0);
	lb_leases_clear(&t);
}

static void test_sweep_by_fd(void)
{
	lb_leases t = {0};
	lb_client a = client("a", 5, "ua", LB_ROLE_STUDENT);
	lb_client b = client("b", 6, "ub", LB_ROLE_STUDENT);
	released r = {0};
	lb_error err;

	CHECK_EQ_INT(lb_lease_acquire(&t, "d1", &a, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "d2", &b, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "d3", &a, TTL, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "d4", &a, TTL, false, T0, NULL, &err), 0);

	/* The connection on fd 5 closed: its three leases go, each reported once. */
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + MS, 5, on_release, &r), 3);
	CHECK_EQ_INT(r.n, 3);
	CHECK_EQ_INT(times_released(&r, "d1"), 1);
	CHECK_EQ_INT(times_released(&r, "d3"), 1);
	CHECK_EQ_INT(times_released(&r, "d4"), 1);
	CHECK_EQ_INT(times_released(&r, "d2"), 0);
	CHECK_EQ_INT(t.n, 1);
	CHECK(lb_lease_find(&t, "d2", T0 + MS) != NULL);

	/* Nothing else to remove: no call. */
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + MS, 5, on_release, &r), 0);
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + MS, -1, on_release, &r), 0);
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + MS, 7, on_release, &r), 0);
	CHECK_EQ_INT(r.n, 0);

	/* A NULL callback is allowed. */
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + MS, 6, NULL, NULL), 1);
	CHECK_EQ_INT(t.n, 0);
	lb_leases_clear(&t);
}

static void test_sweep_by_time(void)
{
	lb_leases t = {0};
	lb_client a = client("a", 5, "ua", LB_ROLE_STUDENT);
	lb_client nofd = client("n", -1, "un", LB_ROLE_STUDENT);
	released r = {0};
	lb_error err;

	CHECK_EQ_INT(lb_lease_acquire(&t, "short", &a, 1000 * MS, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "mid", &a, 2000 * MS, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "long", &a, 9000 * MS, false, T0, NULL, &err), 0);
	CHECK_EQ_INT(lb_lease_acquire(&t, "nofd", &nofd, 9000 * MS, false, T0, NULL, &err), 0);

	/* Before any deadline: nothing (fd -1 matches no lease, even one held without fd). */
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + 999 * MS, -1, on_release, &r), 0);
	CHECK_EQ_INT(r.n, 0);
	/* At the first deadline exactly. */
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + 1000 * MS, -1, on_release, &r), 1);
	CHECK_EQ_INT(r.n, 1);
	CHECK_EQ_INT(times_released(&r, "short"), 1);
	/* Later: mid goes; short is not reported twice. */
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + 5000 * MS, -1, on_release, &r), 1);
	CHECK_EQ_INT(r.n, 2);
	CHECK_EQ_INT(times_released(&r, "mid"), 1);
	CHECK_EQ_INT(times_released(&r, "short"), 1);
	CHECK_EQ_INT(t.n, 2);

	/* Time and fd together: expired ones and those of the fd, each once. */
	CHECK_EQ_INT(
	    lb_lease_acquire(&t, "other", &nofd, 1000 * MS, false, T0 + 5000 * MS, NULL, &err), 0);
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(lb_leases_sweep(&t, T0 + 6000 * MS, 5, on_release, &r), 2);
	CHECK_EQ_INT(times_released(&r, "long"), 1);  /* by fd */
	CHECK_EQ_INT(times_released(&r, "other"), 1); /* by time */
	CHECK_EQ_INT(r.n, 2);
	CHECK_EQ_INT(t.n, 1);
	CHECK(lb_lease_find(&t, "nofd", T0 + 6000 * MS) != NULL);

	/* Everything expires eventually. */
	memset(&r, 0, sizeof r);
	CHECK_EQ_INT(lb_leases_sweep(&t, INT64_MAX, -1, on_release, &r), 1);
	CHECK_EQ_INT(times_released(&r, "nofd"), 1);
	CHECK_EQ_INT(t.n, 0);
	lb_leases_clear(&t);
}

/* Many leases (the table grows), then a sweep that removes every other one. */
static void test_many(void)
{
	lb_leases t = {0};
	lb_client a = client("a", 5, "ua", LB_ROLE_STUDENT);
	lb_client b = client("b", 6, "ub", LB_ROLE_STUDENT);
	lb_error err;
	char name[16];
	int ok = 1, removed = 0;
	released r = {0};

	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "dev-%d", i);
		if (lb_lease_acquire(&t, name, i % 2 ? &a : &b, TTL, false, T0, NULL, &err) < 0)
			ok = 0;
	}
	CHECK(ok);
	CHECK_EQ_INT(t.n, 100);
	CHECK(t.cap >= 100);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "dev-%d", i);
		if (!lb_lease_find(&t, name, T0))
			ok = 0;
	}
	CHECK(ok);
	removed = lb_leases_sweep(&t, T0, 5, on_release, &r);
	CHECK_EQ_INT(removed, 50);
	CHECK_EQ_INT(r.n, 50);
	CHECK_EQ_INT(t.n, 50);
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof name, "dev-%d", i);
		if ((lb_lease_find(&t, name, T0) != NULL) != (i % 2 == 0))
			ok = 0;
	}
	CHECK(ok);
	lb_leases_clear(&t);
	lb_leases_clear(&t); /* twice is harmless */
}

/* The policy: listed users and groups are teachers, the rest local_role; legacy every_local. */
static void test_policy(void)
{
	lb_policy p = {.teachers = {0, 1000},
		       .nteachers = 2,
		       .teacher_groups = {50},
		       .nteacher_groups = 1,
		       .local_role = LB_ROLE_STUDENT,
		       .remote_role = LB_ROLE_OBSERVER,
		       .every_local = -1};
	gid_t pupil[] = {1001, 100}, prof[] = {1002, 50};

	CHECK_EQ_INT(lb_policy_role(&p, 0, NULL, 0), LB_ROLE_TEACHER);
	CHECK_EQ_INT(lb_policy_role(&p, 1000, pupil, 2), LB_ROLE_TEACHER);
	CHECK_EQ_INT(lb_policy_role(&p, 1001, pupil, 2), LB_ROLE_STUDENT);
	CHECK_EQ_INT(lb_policy_role(&p, 1002, prof, 2), LB_ROLE_TEACHER);
	CHECK_EQ_INT(lb_policy_role(&p, 1002, prof, 1),
		     LB_ROLE_STUDENT); /* only the groups given */
	p.local_role = LB_ROLE_OBSERVER;
	CHECK_EQ_INT(lb_policy_role(&p, 1001, pupil, 2), LB_ROLE_OBSERVER);
	p.every_local = LB_ROLE_STUDENT; /* default_role: everyone, teachers too */
	CHECK_EQ_INT(lb_policy_role(&p, 0, NULL, 0), LB_ROLE_STUDENT);
	p.nteachers = 0;
	p.nteacher_groups = 0;
	p.every_local = -1;
	CHECK_EQ_INT(lb_policy_role(&p, 0, NULL, 0), LB_ROLE_OBSERVER); /* root only if listed */
}

int main(void)
{
	RUN(test_roles);
	RUN(test_policy);
	RUN(test_client_same);
	RUN(test_acquire_and_renew);
	RUN(test_refused_for_other_student);
	RUN(test_force);
	RUN(test_observer_refused);
	RUN(test_expiry_at_deadline);
	RUN(test_expired_announced_by_sweep);
	RUN(test_reacquire_after_expiry);
	RUN(test_release);
	RUN(test_check);
	RUN(test_sweep_by_fd);
	RUN(test_sweep_by_time);
	RUN(test_many);
	return check_summary();
}
