/* methods.c - the request methods of the bridge core (the "core" service): bridge, devices, leases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/driver.h"
#include "../util/grow.h"
#include "call.h"
#include "device.h"
#include "host.h"
#include "server.h"
#include "service.h"
#include "subpolicy.h"
#include "topics.h"

/* bridge.info */
static int m_info(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	size_t live = 0;

	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	lb_device *d;
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++)
		live += srv_device_live(d);
	*result = json_pack("{s:i,s:s,s:s,s:b,s:I,s:I,s:{s:s,s:s,s:s?},s:I}", "protocol",
			    LB_PROTOCOL_VERSION, "version", LB_VERSION, "epoch", srv_epoch(s),
			    "simulated", lb_server_simulated(s), "uptime_ms",
			    (json_int_t)((c->now.mono - srv_start_mono(s)) / 1000000), "t_host",
			    (json_int_t)c->now.real, "endpoints", "pub",
			    lb_server_endpoint(s, "pub"), "rpc", lb_server_endpoint(s, "rpc"), "ws",
			    lb_server_endpoint(s, "ws")[0] ? lb_server_endpoint(s, "ws") : NULL,
			    "devices", (json_int_t)live);
	/* the network's endpoints (net.h) and the web page, or null */
	for (size_t i = 0; *result && i < 3; i++) {
		static const char *const eps[] = {"net_rpc", "net_pub", "http"};
		const char *which = eps[i], *ep = lb_server_endpoint(s, which);
		json_object_set_new(json_object_get(*result, "endpoints"), which,
				    ep[0] ? json_string(ep) : json_null());
	}
	/* stream subscriptions: how many, and how many the policy refused or narrowed */
	json_object_set_new(*result, "subscriptions", srv_sub_stats(s));
	return 0;
}

/*
 * bridge.methods: every method a client may call, from the services' tables: its name, the
 * service serving it, the least role, whether it needs the device's lease and takes a binary
 * frame, and whether the caller may call it ("allowed").
 */
static int m_methods(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	size_t n;
	const lb_service *const *v = lb_services(&n);

	(void)s;
	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	*result = json_array();
	for (size_t i = 0; i < n; i++)
		for (const lb_method *m = v[i]->methods; m && m->name; m++)
			json_array_append_new(
			    *result,
			    json_pack("{s:s,s:s,s:s,s:b,s:b,s:b}", "method", m->name, "service",
				      v[i]->name, "role", lb_role_name(m->role), "lease",
				      (m->flags & (LB_METHOD_LEASE | LB_METHOD_LEASES)) != 0,
				      "upload", (m->flags & LB_METHOD_UPLOAD) != 0, "allowed",
				      c->client.role >= m->role));
	return 0;
}

/* whoami */
static int m_whoami(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};

	(void)s;
	if (strcmp(c->req.method, "whoami") == 0 && lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	*result = json_pack("{s:s,s:s,s:s}", "user", c->client.user, "role",
			    lb_role_name(c->client.role), "name", c->client.name);
	return 0;
}

/* session.hello: a display name, and optionally a lower role for this connection. */
static int m_hello(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"name", "role", NULL};
	const char *name = NULL, *role = NULL;
	lb_role r = c->client.role;
	lb_client *se;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "name", false, &name, err) < 0 ||
	    lb_param_string(c->req.params, "role", false, &role, err) < 0)
		return LB_EFAIL;
	if (role && lb_role_parse(role, &r) < 0)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "role must be observer, student or teacher");
	if (r > c->client.role)
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "this connection is a %s and cannot raise itself to %s",
				    lb_role_name(c->client.role), role);
	se = srv_session(s, &c->client, 1);
	if (!se)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	c->client.role = r;
	if (name)
		snprintf(c->client.name, sizeof c->client.name, "%s", name);
	*se = c->client;
	return m_whoami(s, c, result, err);
}

/* devices.list */
static int m_devices(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"kind", "all", NULL};
	const char *kind = NULL;
	json_t *all = json_object_get(c->req.params, "all"), *u, *e;
	size_t i;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "kind", false, &kind, err) < 0)
		return LB_EFAIL;
	if (all && !json_is_boolean(all))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "all must be true or false");
	*result = json_array();
	lb_device *d;
	for (i = 0; (d = srv_device_at(s, i)) != NULL; i++) {
		if (srv_device_live(d) && (!kind || strcmp(kind, d->spec.kind) == 0))
			json_array_append_new(*result, srv_device_json(s, d, c->now.mono));
	}
	if (!json_is_true(all))
		return 0;
	/* all: then the devices that are opening, failed to open or are configured but absent */
	u = srv_unavailable_json(s, c->now.mono);
	json_array_foreach(u, i, e)
	{
		if (!kind || strcmp(kind, json_string_value(json_object_get(e, "kind"))) == 0)
			json_array_append(*result, e);
	}
	json_decref(u);
	return 0;
}

/* device.info */
static int m_device_info(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)))
		return LB_EFAIL;
	*result = srv_device_json(s, d, c->now.mono);
	return 0;
}

static int job_owner(lb_server *s, lb_device *d, char *owner, size_t cap);

/* Whether the caller may see stream topic of d (topics.h): a public one, or a restricted one
 * (a console, scan images...) as a teacher, its lease holder or the owner of its job. */
static bool sees_stream(lb_server *s, lb_call *c, lb_device *d, const char *topic)
{
	const lb_lease *l;
	char owner[128];

	if (!lb_topic_restricted(topic, strlen(topic)) || c->client.role >= LB_ROLE_TEACHER)
		return true;
	if (c->client.role < LB_ROLE_STUDENT)
		return false;
	l = srv_lease_find(s, d->spec.id, c->now.mono);
	if (l && strcmp(l->holder.user, c->client.user) == 0)
		return true;
	return job_owner(s, d, owner, sizeof owner) && strcmp(owner, c->client.user) == 0;
}

/* snapshot: devices and the last value of every stream (the Clone pattern). */
static int m_snapshot(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"prefix", NULL};
	const char *prefix = "";
	json_t *devices = json_array(), *streams = json_array();
	size_t plen;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_string(c->req.params, "prefix", false, &prefix, err) < 0) {
		json_decref(devices);
		json_decref(streams);
		return LB_EFAIL;
	}
	plen = strlen(prefix);
	lb_device *d;
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++) {
		if (!srv_device_live(d))
			continue;
		json_array_append_new(devices, srv_device_json(s, d, c->now.mono));
		for (int k = 0; k < d->ncache && k < d->nstreams; k++) {
			lb_stream_cache *sc = &d->cache[k];
			json_t *h, *e;
			if (!sc->seq || strncmp(d->streams[k].topic, prefix, plen) != 0 ||
			    !sees_stream(s, c, d, d->streams[k].topic))
				continue;
			h = sc->has_header ? json_loadb(zmq_msg_data(&sc->header),
							zmq_msg_size(&sc->header), 0, NULL)
					   : NULL;
			e = json_pack("{s:s,s:I,s:o}", "topic", d->streams[k].topic, "seq",
				      (json_int_t)sc->seq, "header", h ? h : json_object());
			if (d->streams[k].type == LB_JSON ||
			    json_object_get(h, "data")) /* an event on a numeric stream */
				json_object_set(e, "value", json_object_get(h, "data"));
			else
				json_object_set_new(e, "value", lb_json_sample(sc->last));
			json_array_append_new(streams, e);
		}
	}
	{
		/* streams of devices gone away: their last seq (their last message ended them) */
		const char *topic;
		json_t *seq;
		json_object_foreach(srv_ended(s), topic, seq)
		{
			if (strncmp(topic, prefix, plen) == 0)
				json_array_append_new(streams,
						      json_pack("{s:s,s:O,s:n,s:b}", "topic", topic,
								"seq", seq, "value", "ended", 1));
		}
	}
	if (strncmp("bridge/devices/", prefix, plen) == 0)
		json_array_append_new(streams, json_pack("{s:s,s:I}", "topic", "bridge/devices/",
							 "seq", (json_int_t)srv_devices_seq(s)));
	*result = json_pack("{s:s,s:I,s:o,s:o}", "epoch", srv_epoch(s), "t_host",
			    (json_int_t)c->now.real, "devices", devices, "streams", streams);
	return 0;
}

/* The identity owning the job d runs, as the service running it says: 1, or 0 when none. */
static int job_owner(lb_server *s, lb_device *d, char *owner, size_t cap)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n; i++)
		if (v[i]->job_owner && v[i]->job_owner(s, d, owner, cap))
			return 1;
	return 0;
}

/*
 * May this client call action on d? Only the actions the driver declares reach a device from a
 * client, each with its least role; a service's action (the print queue's "print") never does;
 * an action on the device's job needs its owner or a teacher. 0, or LB_EFAIL with err set.
 */
/* Does the caller hold d's lease (LB_ACTION_HOLDER)? 0, or LB_EFAIL with err saying what to do. */
static int check_holder(lb_server *s, lb_call *c, lb_device *d, const char *what, lb_error *err)
{
	const lb_lease *l = srv_lease_find(s, d->spec.id, c->now.mono);

	if (l && lb_client_same(&l->holder, &c->client))
		return 0;
	return lb_error_set(err, LB_ERR_LEASED,
			    "'%s' sets %s moving: take it first (lease.acquire {\"device\": "
			    "\"%s\"}), so that it stops when you let go",
			    what, d->spec.id, d->spec.id);
}

static int check_action(lb_server *s, lb_call *c, lb_device *d, const char *action, lb_error *err)
{
	const lb_action *a = lb_driver_action(d->driver, action);
	char owner[sizeof c->client.user];

	if (!a || (a->flags & LB_ACTION_SERVICE)) {
		char list[256] = "";
		size_t n = 0;
		for (const lb_action *x = d->driver->actions; x && x->name; x++)
			if (!(x->flags & LB_ACTION_SERVICE) && n < sizeof list)
				n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
						      n ? ", " : "", x->name);
		if (a)
			return lb_error_set(err, LB_ERR_FORBIDDEN,
					    "action '%s' of %s is the bridge's own (a service uses "
					    "it); clients' actions: %s",
					    action, d->spec.id, n ? list : "none");
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "device '%s' has no action '%s' (actions: %s)", d->spec.id,
				    action, n ? list : "none");
	}
	if (c->client.role < a->role)
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "action '%s' requires the %s role; you are %s", action,
				    lb_role_name(a->role), lb_role_name(c->client.role));
	if ((a->flags & LB_ACTION_HOLDER) && check_holder(s, c, d, action, err) < 0)
		return LB_EFAIL;
	if ((a->flags & LB_ACTION_JOB) && c->client.role < LB_ROLE_TEACHER &&
	    job_owner(s, d, owner, sizeof owner) && strcmp(owner, c->client.user) != 0)
		return lb_error_set(
		    err, LB_ERR_FORBIDDEN,
		    "%s is running a job of %s: only its owner or a teacher may %s it", d->spec.id,
		    owner, action);
	return 0;
}

/*
 * Settings above what a classroom needs are a teacher's decision: a student may not set a rate
 * above [access] student_max_rate samples/s nor a batch above student_max_batch samples.
 * 0, or LB_EFAIL with err set.
 */
static int check_setting(lb_server *s, lb_call *c, const char *key, const json_t *value,
			 lb_error *err)
{
	const lb_policy *p = &srv_opts(s)->policy;
	double v = json_number_value(value);

	if (c->client.role >= LB_ROLE_TEACHER || !json_is_number(value))
		return 0;
	if (strcmp(key, "rate") == 0 && v > p->student_max_rate)
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "a rate above %g samples/s is a teacher's decision (ask them, "
				    "or see [access] student_max_rate)",
				    p->student_max_rate);
	if (strcmp(key, "batch") == 0 && v > p->student_max_batch)
		return lb_error_set(
		    err, LB_ERR_FORBIDDEN,
		    "a batch above %g samples is a teacher's decision (ask them, or "
		    "see [access] student_max_batch)",
		    p->student_max_batch);
	return 0;
}

/* device.start, device.stop, device.get, device.set, device.call */
static int m_device_cmd(lb_server *s, lb_call *c, const char *cmd, const char *const *allowed,
			lb_error *err)
{
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)))
		return LB_EFAIL;
	if (strcmp(cmd, "set") == 0) {
		const char *key = NULL;
		if (lb_param_string(c->req.params, "key", true, &key, err) < 0)
			return LB_EFAIL;
		if (!json_object_get(c->req.params, "value"))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "missing parameter 'value'");
		if (check_setting(s, c, key, json_object_get(c->req.params, "value"), err) < 0)
			return LB_EFAIL;
	} else if (strcmp(cmd, "call") == 0) {
		const char *action = NULL;
		if (lb_param_string(c->req.params, "action", true, &action, err) < 0 ||
		    check_action(s, c, d, action, err) < 0)
			return LB_EFAIL;
	} else if (strcmp(cmd, "get") == 0) {
		const char *key = NULL;
		if (lb_param_string(c->req.params, "key", false, &key, err) < 0)
			return LB_EFAIL;
	}
	return srv_forward(s, c, d, cmd, c->req.params, err);
}

static int m_start(lb_server *s, lb_call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	(void)r;
	return m_device_cmd(s, c, "start", allowed, err);
}

static int m_stop(lb_server *s, lb_call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	(void)r;
	return m_device_cmd(s, c, "stop", allowed, err);
}

static int m_get(lb_server *s, lb_call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", "key", NULL};
	(void)r;
	return m_device_cmd(s, c, "get", allowed, err);
}

static int m_set(lb_server *s, lb_call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", "key", "value", NULL};
	(void)r;
	return m_device_cmd(s, c, "set", allowed, err);
}

static int m_call(lb_server *s, lb_call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", "action", "args", NULL};
	(void)r;
	return m_device_cmd(s, c, "call", allowed, err);
}

/* acquisition.start {devices: [...], delay_ms?}: start several devices at one instant. */
static int m_acq_start(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"devices", "delay_ms", NULL};
	json_t *ids = json_object_get(c->req.params, "devices"), *id;
	long long delay = 200;
	lb_device *devs[64];
	size_t i, n;
	int64_t at;

	if (lb_param_only(c->req.params, allowed, err) < 0 ||
	    lb_param_int(c->req.params, "delay_ms", false, 10, 10000, &delay, err) < 0)
		return LB_EFAIL;
	if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 64)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "devices must be an array of 1 to 64 device ids");
	n = json_array_size(ids);
	json_array_foreach(ids, i, id)
	{
		if (!json_is_string(id) || !(devs[i] = srv_find_device(s, json_string_value(id))))
			return lb_error_set(
			    err, json_is_string(id) ? LB_ERR_UNKNOWN_DEVICE : LB_ERR_INVALID_PARAMS,
			    "devices[%zu]: no device %s", i,
			    json_is_string(id) ? json_string_value(id) : "(not a string)");
		if (srv_permit(s, devs[i], "start", NULL, err) <
		    0) /* a stopped room: none starts */
			return LB_EFAIL;
	}
	/* every device restarts at the same instant of the common host clock */
	at = c->now.real + delay * 1000000;
	for (i = 0; i < n; i++) {
		json_t *p = json_pack("{s:I}", "at_ns", (json_int_t)at);
		lb_device_send(devs[i], "start", 0, p); /* token 0: no reply expected */
		json_decref(p);
	}
	*result = json_pack("{s:I,s:O}", "at_ns", (json_int_t)at, "devices", ids);
	return 0;
}

/*
 * device.emit {device, event, args?}: a client's event to the device (a robot's user event):
 * checked against the events the driver declares, queued in order with the device's other
 * commands, and answered at once ({queued: true}); the device's answer, if any, comes on its
 * streams.
 */
static int m_emit(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "event", "args", NULL};
	const char *name = NULL;
	json_t *args = json_object_get(c->req.params, "args");
	const lb_action *ev;
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)) ||
	    lb_param_string(c->req.params, "event", true, &name, err) < 0)
		return LB_EFAIL;
	if (args && !json_is_object(args))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "args must be an object");
	ev = lb_driver_event(d->driver, name);
	if (!ev || !d->driver->event) {
		char list[256] = "";
		size_t n = 0;
		for (const lb_action *x = d->driver->events; x && x->name && n < sizeof list; x++)
			n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "",
					      x->name);
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "device '%s' takes no event '%s' (events: %s)", d->spec.id,
				    name, n ? list : "none");
	}
	if (c->client.role < ev->role)
		return lb_error_set(err, LB_ERR_FORBIDDEN,
				    "event '%s' requires the %s role; you are %s", name,
				    lb_role_name(ev->role), lb_role_name(c->client.role));
	if ((ev->flags & LB_ACTION_HOLDER) && check_holder(s, c, d, name, err) < 0)
		return LB_EFAIL;
	if (srv_permit(s, d, "event", c->req.params, err) < 0)
		return LB_EFAIL;
	if (lb_device_send(d, "event", 0, c->req.params) < 0)
		return lb_error_set(
		    err, LB_ERR_TIMEOUT,
		    "device '%s' is not keeping up (its queue is full): event dropped", d->spec.id);
	*result = json_pack("{s:b}", "queued", 1);
	return 0;
}

/* Whether every service lets c take device id's lease (service.h lease_permit): 0, or LB_EFAIL
 * with err set by the first that refuses. */
static int lease_permitted(lb_server *s, const char *id, const lb_client *c, lb_error *err)
{
	size_t n;
	const lb_service *const *v = lb_services(&n);

	for (size_t i = 0; i < n; i++)
		if (v[i]->lease_permit && v[i]->lease_permit(s, id, c, err) < 0)
			return LB_EFAIL;
	return 0;
}

/* lease.acquire */
static int m_lease_acquire(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "ttl_ms", "force", NULL};
	long long ttl = 30000;
	bool force = false;
	lb_device *d;
	const lb_lease *l;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)) ||
	    lb_param_int(c->req.params, "ttl_ms", false, 1000, 600000, &ttl, err) < 0 ||
	    lb_param_bool(c->req.params, "force", &force, err) < 0 ||
	    lease_permitted(s, d->spec.id, &c->client, err) < 0)
		return LB_EFAIL;
	if (lb_lease_acquire(srv_leases(s), d->spec.id, &c->client, ttl * 1000000, force,
			     c->now.mono, &l, err) < 0)
		return LB_EFAIL;
	*result = srv_lease_json(s, d->spec.id, c->now.mono);
	srv_lease_changed(s, d->spec.id, false);
	return 0;
}

/* lease.release */
static int m_lease_release(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)) ||
	    lb_lease_release(srv_leases(s), d->spec.id, &c->client, c->now.mono, err) < 0)
		return LB_EFAIL;
	*result = json_null();
	srv_lease_changed(s, d->spec.id, true);
	return 0;
}

/* The core's methods: what each needs is checked by the dispatcher (dispatch.c) before it runs. */
static const lb_method core_methods[] = {
    {"bridge.info", LB_ROLE_OBSERVER, 0, m_info},
    {"bridge.methods", LB_ROLE_OBSERVER, 0, m_methods},
    {"whoami", LB_ROLE_OBSERVER, 0, m_whoami},
    {"session.hello", LB_ROLE_OBSERVER, 0, m_hello},
    {"devices.list", LB_ROLE_OBSERVER, 0, m_devices},
    {"device.info", LB_ROLE_OBSERVER, 0, m_device_info},
    {"device.get", LB_ROLE_OBSERVER, 0, m_get},
    {"snapshot", LB_ROLE_OBSERVER, 0, m_snapshot},
    {"device.start", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_start},
    {"device.stop", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_stop},
    {"device.set", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_set},
    {"device.call", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_call},
    {"device.emit", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_emit},
    {"acquisition.start", LB_ROLE_STUDENT, LB_METHOD_LEASES, m_acq_start},
    {"lease.acquire", LB_ROLE_STUDENT, 0, m_lease_acquire},
    {"lease.release", LB_ROLE_STUDENT, 0, m_lease_release},
    {NULL, 0, 0, NULL},
};

static const lb_service core_service = {
    .name = "core",
    .methods = core_methods,
};
LB_REGISTER_SERVICE(core_service);
