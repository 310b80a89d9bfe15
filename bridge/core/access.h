/* access.h - roles and device leases: who may do what, and who holds which device (pure logic). */
#ifndef LB_ACCESS_H
#define LB_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../util/error.h"

typedef enum lb_role { LB_ROLE_OBSERVER = 0, LB_ROLE_STUDENT = 1, LB_ROLE_TEACHER = 2 } lb_role;

/* "observer", "student", "teacher". */
const char *lb_role_name(lb_role role);

/* Parse a role name; 0, or LB_EINVAL for anything else. */
int lb_role_parse(const char *name, lb_role *out);

#define LB_POLICY_MAX 32

/*
 * Who may do what ([access] of the configuration). A program on this computer is identified by
 * its Unix user (the kernel says who, see peer.h): the listed teachers (users, or members of the
 * listed groups) are teachers, everyone else gets local_role. A connection from another computer
 * that the handshake does not identify gets remote_role.
 */
typedef struct lb_policy {
	uid_t teachers[LB_POLICY_MAX];
	size_t nteachers;
	gid_t teacher_groups[LB_POLICY_MAX];
	size_t nteacher_groups;
	lb_role local_role;  /* the other users of this computer (default: student) */
	lb_role remote_role; /* unidentified connections from elsewhere (default: observer) */
	int every_local;     /* -1, or the role every local program gets (legacy default_role) */
	double student_max_rate;  /* the highest rate a student may set, samples/s */
	double student_max_batch; /* the largest batch a student may set, samples */
} lb_policy;

/* The role of a local program run by uid, member of groups (its supplementary groups). */
lb_role lb_policy_role(const lb_policy *p, uid_t uid, const gid_t *groups, size_t ngroups);

/* Who sent a request: the connection (routing id + fd) and the identity the handshake gave it. */
typedef struct lb_client {
	unsigned char rid[256]; /* ROUTER routing id of the connection */
	size_t rid_len;
	int fd;		/* the connection's socket, to notice its disconnection */
	char user[128]; /* the identity the client cannot choose: unix:alice (a program on this
			 * computer, by its Unix user), remote:10.0.0.7 (unidentified), a CURVE key;
			 * what owns jobs and recordings */
	char name[64];	/* display name chosen with session.hello: a label, never an identity */
	char group[64]; /* trusted group: a CURVE key's registered name or a web session's pairing
			 * name, never session.hello's; "" otherwise (device assignments) */
	lb_role role;	/* effective role */
	bool net;	/* came through the network request socket (CURVE), not the local one */
} lb_client;

/* Whether two clients are the same connection (the same socket and routing id). */
bool lb_client_same(const lb_client *a, const lb_client *b);

typedef struct lb_lease {
	char device[64];
	lb_client holder;
	int64_t expires; /* monotonic ns */
} lb_lease;

/* The lease table. */
typedef struct lb_leases {
	lb_lease *v;
	size_t n, cap;
} lb_leases;

/*
 * Take or renew the lease on device for c until now + ttl. Fails with LB_ERR_LEASED if another
 * live client holds it, unless force is set and c is a teacher. On success *out (if not NULL)
 * points to the lease (valid until the next call that changes the table).
 */
int lb_lease_acquire(lb_leases *t, const char *device, const lb_client *c, int64_t ttl, bool force,
		     int64_t now, const lb_lease **out, lb_error *err);

/* Release c's lease on device (a teacher may release anyone's); 0 or negative with err set. */
int lb_lease_release(lb_leases *t, const char *device, const lb_client *c, int64_t now,
		     lb_error *err);

/* May c command device? 0 if it is not leased or leased by c; LB_EFAIL with err (leased). */
int lb_lease_check(lb_leases *t, const char *device, const lb_client *c, int64_t now,
		   lb_error *err);

/* The live lease on device, or NULL (an expired one is ignored, not removed). */
const lb_lease *lb_lease_find(lb_leases *t, const char *device, int64_t now);

/*
 * Remove expired leases and those held through fd (-1: none). For each removed lease, calls
 * on_release(device, arg) if not NULL. Returns how many were removed.
 */
int lb_leases_sweep(lb_leases *t, int64_t now, int fd, void (*on_release)(const char *, void *),
		    void *arg);

/* Free the table's memory. */
void lb_leases_clear(lb_leases *t);

#endif
