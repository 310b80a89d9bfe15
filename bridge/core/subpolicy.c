/* subpolicy.c - the stream socket's subscriptions applied by role and ownership (topics.h) on a
 * manual XPUB. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/log.h"
#include "state.h"
#include "subpolicy.h"
#include "topics.h"

/* The view of the devices the policy reads (topics.h): the server at one instant. */
typedef struct view_arg {
	lb_server *s;
	int64_t now;	      /* monotonic ns, for leases */
	const lb_client *who; /* NULL, or the client whose lease identity must hold a lease */
} view_arg;

static size_t view_count(void *arg)
{
	return ((view_arg *)arg)->s->ndev;
}

static void view_device(void *arg, size_t i, const char **kind, const char **id)
{
	lb_device *d = ((view_arg *)arg)->s->dev[i];

	*kind = d->removing ? NULL : d->spec.kind;
	*id = d->spec.id;
}

static const char *view_stream(void *arg, size_t i, size_t j)
{
	lb_device *d = ((view_arg *)arg)->s->dev[i];

	return j < (size_t)d->nstreams ? d->streams[j].name : NULL;
}

/* Whether user holds device i's lease or owns the job it runs (the services' job_owner). */
static bool view_owns(void *arg, size_t i, const char *user)
{
	view_arg *va = arg;
	lb_device *d = va->s->dev[i];
	const lb_lease *l = lb_lease_find(&va->s->leases, d->spec.id, va->now);
	size_t n;
	const lb_service *const *v = lb_services(&n);
	char owner[128];

	if (l && va->who) { /* this connection's (a web session's) lease, not its user's */
		if (l->holder.rid_len == va->who->rid_len &&
		    memcmp(l->holder.rid, va->who->rid, l->holder.rid_len) == 0)
			return true;
	} else if (l && strcmp(l->holder.user, user) == 0) {
		return true;
	}
	for (size_t k = 0; k < n; k++)
		if (v[k]->job_owner && v[k]->job_owner(va->s, d, owner, sizeof owner) &&
		    strcmp(owner, user) == 0)
			return true;
	return false;
}

/* Packed prefixes (length byte + bytes each) collected from lb_topic_check. */
typedef struct packer {
	unsigned char *buf;
	size_t len, cap;
	bool over;
} packer;

static void pack(void *arg, const char *prefix, size_t len)
{
	packer *p = arg;

	if (len > 255 || p->len + 1 + len > p->cap) {
		p->over = true;
		return;
	}
	p->buf[p->len] = (unsigned char)len;
	memcpy(p->buf + p->len + 1, prefix, len);
	p->len += 1 + len;
}

/* What prefix is granted: the verdict, packed into pk (ALLOW: the prefix itself). */
static lb_topic_verdict decide(lb_server *s, lb_role role, const char *user, const void *prefix,
			       size_t len, packer *pk, bool *dependent, char *why, size_t cap)
{
	view_arg va = {s, lb_clock_ns(CLOCK_MONOTONIC), NULL};
	lb_topic_view v = {view_count, view_device, view_stream, view_owns, &va};
	lb_topic_verdict r =
	    lb_topic_check(role, user, prefix, len, &v, pack, pk, dependent, why, cap);

	if (r == LB_TOPIC_ALLOW)
		pack(pk, prefix, len);
	return r;
}

/* lb_subs_regrant_fn: what a dependent subscription gets now. */
static size_t regrant(void *arg, lb_role role, const char *user, const void *prefix, size_t len,
		      unsigned char *out, size_t cap)
{
	packer pk = {out, 0, cap, false};
	bool dep;

	decide(arg, role, user, prefix, len, &pk, &dep, NULL, 0);
	return pk.over ? (size_t)-1 : pk.len;
}

/* lb_subs_apply_fn: (un)subscribe the pipe of the message just received (ZMQ_XPUB_MANUAL). */
static void apply_on_pipe(void *sock, const void *prefix, size_t len, int on)
{
	zmq_setsockopt(sock, on ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, prefix, len);
}

/* The identity of the stream connection on fd from its message m: as identify() does for
 * requests (ZAP's User-Id and X-Role; a local program by its Unix user). */
static void identify_subscriber(lb_server *s, zmq_msg_t *m, int fd)
{
	const char *user = zmq_msg_gets(m, "User-Id");
	const char *role = zmq_msg_gets(m, "X-Role");
	const char *local = zmq_msg_gets(m, "X-Local");
	char who[128];
	lb_role r = LB_ROLE_OBSERVER;

	snprintf(who, sizeof who, "%s", user ? user : "anonymous");
	if (!role || lb_role_parse(role, &r) < 0)
		r = LB_ROLE_OBSERVER;
	if (local && strcmp(local, "1") == 0)
		lb_auth_local(s->auth, fd, who, sizeof who, &r);
	lb_subs_set_identity(s->subs, fd, r, who);
}

/* lb_subs_apply_fn for anonymous subscribers: only removals (the grant is recomputed). */
static void remove_on_pipe(void *sock, const void *prefix, size_t len, int on)
{
	(void)on;
	zmq_setsockopt(sock, ZMQ_UNSUBSCRIBE, prefix, len);
}

/*
 * A subscription with no connection fd: the in-process recorder, whose prefixes come after the
 * run's key (service.h), or a WebSocket page that spoke plain ZWS2.0 (no handshake: no metadata,
 * no identity): an unidentified client, with [access] remote_role (observer unless configured),
 * its grants applied as the policy says at the time (nothing to close later without an fd; an
 * unsubscription removes what the same prefix would be granted now).
 */
static int anonymous(lb_server *s, void *sock, const unsigned char *data, size_t size)
{
	unsigned char buf[4096];
	packer pk = {buf, 0, sizeof buf, false};
	const unsigned char *key = srv_streams_token(s);
	bool dep;
	char reason[400];
	lb_topic_verdict r;

	if (size < 1 || data[0] > 1)
		return LB_SUB_OK;
	if (size >= 1 + LB_STREAMS_TOKEN && memcmp(data + 1, key, LB_STREAMS_TOKEN) == 0) {
		apply_on_pipe(sock, data + 1 + LB_STREAMS_TOKEN, size - 1 - LB_STREAMS_TOKEN,
			      data[0]);
		return LB_SUB_OK;
	}
	if (size - 1 > LB_SUB_MAX_LEN)
		return LB_SUB_OK; /* not applied: nothing to count, nothing to close */
	r = decide(s, s->auth->policy.remote_role, NULL, data + 1, size - 1, &pk, &dep, reason,
		   sizeof reason);
	if (data[0] == 1 && r == LB_TOPIC_REFUSE)
		lb_warn("stream subscription refused (an anonymous WebSocket page): %s", reason);
	if (data[0] == 1 && r != LB_TOPIC_ALLOW)
		lb_subs_count_verdict(s->subs, r == LB_TOPIC_REFUSE);
	for (size_t at = 0; !pk.over && at < pk.len; at += 1 + buf[at])
		(data[0] ? apply_on_pipe : remove_on_pipe)(sock, buf + at + 1, buf[at], data[0]);
	return LB_SUB_OK;
}

int srv_sub_message(lb_server *s, void *sock, zmq_msg_t *m, int fd, char *why, size_t cap)
{
	const unsigned char *data = zmq_msg_data(m);
	size_t size = zmq_msg_size(m);
	const char *xconn = zmq_msg_gets(m, "X-Conn");
	lb_role role;
	const char *user;
	unsigned char buf[4096];
	packer pk = {buf, 0, sizeof buf, false};
	bool dependent = false;
	char reason[400];
	lb_topic_verdict r;

	int v;

	if (fd < 0)
		return anonymous(s, sock, data, size);
	/* a connection that closed, or an earlier one that had the same fd: its pipe may be gone
	 * (libzmq 4.3.4 would then apply to a freed pipe), so never touch it */
	if (!lb_subs_known(s->subs, fd) || !xconn ||
	    !lb_subs_current(s->subs, fd, strtoull(xconn, NULL, 10)))
		return LB_SUB_OK;
	if (size >= 1 && data[0] == 0)
		lb_subs_ungrant(s->subs, fd, data + 1, size - 1, apply_on_pipe, sock);
	v = lb_subs_apply(s->subs, fd, data, size); /* counted; over a limit: closed */
	if (v != LB_SUB_OK || data[0] == 0 || lb_subs_granted(s->subs, fd, data + 1, size - 1))
		return v; /* an unsubscription, or a repeat */
	if (!lb_subs_identity(s->subs, fd, &role, &user)) {
		identify_subscriber(s, m, fd);
		if (!lb_subs_identity(s->subs, fd, &role, &user))
			return 0;
	}
	r = decide(s, role, user, data + 1, size - 1, &pk, &dependent, reason, sizeof reason);
	if (pk.over) {
		snprintf(why, cap, "a subscription narrowed to more than %zu bytes of prefixes",
			 sizeof buf);
		return LB_SUB_FULL;
	}
	if (r != LB_TOPIC_ALLOW) {
		lb_subs_count_verdict(s->subs, r == LB_TOPIC_REFUSE);
		if (r == LB_TOPIC_REFUSE)
			lb_warn("stream subscription refused (connection %d, %s, %s): %s", fd, user,
				lb_role_name(role), reason);
		else
			lb_dbg("stream subscription narrowed (connection %d, %s): %s", fd, user,
			       reason);
	}
	if (lb_subs_grant(s->subs, fd, data + 1, size - 1, pk.buf, pk.len, dependent, apply_on_pipe,
			  sock) != 0) {
		snprintf(why, cap, "over %d prefixes granted to one connection",
			 LB_SUB_MAX_GRANTED);
		return LB_SUB_FULL;
	}
	return 0;
}

lb_topic_verdict srv_sub_decide(lb_server *s, const lb_client *who, const char *prefix, size_t len,
				lb_topic_emit *emit, void *arg, bool *dependent, char *why,
				size_t cap)
{
	view_arg va = {s, lb_clock_ns(CLOCK_MONOTONIC), who};
	lb_topic_view v = {view_count, view_device, view_stream, view_owns, &va};

	return lb_topic_check(who->role, who->user, prefix, len, &v, emit, arg, dependent, why,
			      cap);
}

size_t srv_sub_changed(lb_server *s, int *fds, size_t max)
{
	return lb_subs_changed(s->subs, regrant, s, fds, max);
}

json_t *srv_sub_stats(lb_server *s)
{
	return json_pack("{s:I,s:I,s:I,s:I}", "connections",
			 (json_int_t)lb_subs_connections(s->subs), "prefixes",
			 (json_int_t)lb_subs_total(s->subs), "refused",
			 (json_int_t)lb_subs_refused(s->subs), "narrowed",
			 (json_int_t)lb_subs_narrowed(s->subs));
}
