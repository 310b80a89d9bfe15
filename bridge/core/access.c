/* access.c - roles and device leases: pure logic, time passed in by the caller. */
#include "access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/grow.h"

static const char *const role_names[] = {"observer", "student", "teacher"};

const char *lb_role_name(lb_role role)
{
	return (unsigned)role <= LB_ROLE_TEACHER ? role_names[role] : "?";
}

int lb_role_parse(const char *name, lb_role *out)
{
	for (int i = 0; i <= LB_ROLE_TEACHER; i++)
		if (name && strcmp(name, role_names[i]) == 0) {
			*out = (lb_role)i;
			return 0;
		}
	return LB_EINVAL;
}

lb_role lb_policy_role(const lb_policy *p, uid_t uid, const gid_t *groups, size_t ngroups)
{
	if (p->every_local >= 0)
		return (lb_role)p->every_local;
	for (size_t i = 0; i < p->nteachers; i++)
		if (p->teachers[i] == uid)
			return LB_ROLE_TEACHER;
	for (size_t i = 0; i < p->nteacher_groups; i++)
		for (size_t k = 0; k < ngroups; k++)
			if (p->teacher_groups[i] == groups[k])
				return LB_ROLE_TEACHER;
	return p->local_role;
}

bool lb_client_same(const lb_client *a, const lb_client *b)
{
	/* routing ids are per socket: a network client may choose the id of a local one */
	return a->net == b->net && a->rid_len == b->rid_len &&
	       memcmp(a->rid, b->rid, a->rid_len) == 0;
}

/* Index of the lease on device (live or not), or -1. */
static long lease_index(const lb_leases *t, const char *device)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].device, device) == 0)
			return (long)i;
	return -1;
}

/* Remove entry i (order does not matter). */
static void lease_remove(lb_leases *t, size_t i)
{
	t->v[i] = t->v[--t->n];
}

const lb_lease *lb_lease_find(lb_leases *t, const char *device, int64_t now)
{
	long i = lease_index(t, device);

	/* an expired lease is absent, but only lb_leases_sweep removes it (and announces it) */
	if (i < 0 || t->v[i].expires <= now)
		return NULL;
	return &t->v[i];
}

int lb_lease_acquire(lb_leases *t, const char *device, const lb_client *c, int64_t ttl, bool force,
		     int64_t now, const lb_lease **out, lb_error *err)
{
	const lb_lease *cur = lb_lease_find(t, device, now);
	lb_lease *l;

	if (c->role < LB_ROLE_STUDENT)
		return lb_error_set(err, LB_ERR_FORBIDDEN, "an observer cannot lease devices");
	if (cur && !lb_client_same(&cur->holder, c)) {
		if (!force)
			return lb_error_set(
			    err, LB_ERR_LEASED, "device '%s' is leased by %s (%s) for %lld ms more",
			    device, cur->holder.name[0] ? cur->holder.name : cur->holder.user,
			    cur->holder.user, (long long)((cur->expires - now) / 1000000));
		if (c->role < LB_ROLE_TEACHER)
			return lb_error_set(err, LB_ERR_FORBIDDEN,
					    "only a teacher may take over another client's lease");
	}
	if (cur) {
		l = (lb_lease *)cur;
	} else if (lease_index(t, device) >= 0) {
		l = &t->v[lease_index(t, device)]; /* reuse an expired entry not yet swept */
	} else {
		if (lb_grow(&t->v, &t->cap, t->n, sizeof *t->v) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		l = &t->v[t->n++];
		memset(l, 0, sizeof *l);
		snprintf(l->device, sizeof l->device, "%s", device);
	}
	l->holder = *c;
	l->expires = now + ttl;
	if (out)
		*out = l;
	return 0;
}

int lb_lease_release(lb_leases *t, const char *device, const lb_client *c, int64_t now,
		     lb_error *err)
{
	const lb_lease *cur = lb_lease_find(t, device, now);

	if (!cur)
		return 0; /* releasing a free device is not an error: the goal is reached */
	if (!lb_client_same(&cur->holder, c) && c->role < LB_ROLE_TEACHER)
		return lb_error_set(err, LB_ERR_LEASED, "device '%s' is leased by another client",
				    device);
	lease_remove(t, (size_t)(cur - t->v));
	return 0;
}

int lb_lease_check(lb_leases *t, const char *device, const lb_client *c, int64_t now, lb_error *err)
{
	const lb_lease *cur = lb_lease_find(t, device, now);

	if (!cur || lb_client_same(&cur->holder, c))
		return 0;
	return lb_error_set(err, LB_ERR_LEASED,
			    "device '%s' is leased by %s (%s); ask them, or a teacher can force "
			    "the lease",
			    device, cur->holder.name[0] ? cur->holder.name : cur->holder.user,
			    cur->holder.user);
}

int lb_leases_sweep(lb_leases *t, int64_t now, int fd, void (*on_release)(const char *, void *),
		    void *arg)
{
	int removed = 0;

	for (size_t i = 0; i < t->n;) {
		if (t->v[i].expires <= now || (fd >= 0 && t->v[i].holder.fd == fd)) {
			char device[64];
			memcpy(device, t->v[i].device, sizeof device);
			lease_remove(t, i);
			removed++;
			if (on_release)
				on_release(device, arg);
		} else {
			i++;
		}
	}
	return removed;
}

void lb_leases_clear(lb_leases *t)
{
	free(t->v);
	memset(t, 0, sizeof *t);
}
