/* methods.c - the request methods of the bridge core, their table and the dispatcher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sdk/driver.h"
#include "../util/grow.h"
#include "server_private.h"

/* bridge.info */
static int m_info(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	size_t live = 0;

	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	for (size_t i = 0; i < s->ndev; i++)
		live += s->dev[i]->opened && !s->dev[i]->removing;
	*result = json_pack(
	    "{s:i,s:s,s:s,s:b,s:I,s:I,s:{s:s,s:s,s:s?},s:I}", "protocol", LB_PROTOCOL_VERSION,
	    "version", LB_VERSION, "epoch", s->epoch, "simulated", s->simulate > 0, "uptime_ms",
	    (json_int_t)((c->now.mono - s->start_mono) / 1000000), "t_host",
	    (json_int_t)c->now.real, "endpoints", "pub", s->ep_pub, "rpc", s->ep_rpc, "ws",
	    s->ep_ws[0] ? s->ep_ws : NULL, "devices", (json_int_t)live);
	return 0;
}

/* whoami */
static int m_whoami(lb_server *s, call *c, json_t **result, lb_error *err)
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
static int m_hello(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"name", "role", NULL};
	const char *name = NULL, *role = NULL;
	lb_role r = c->client.role;
	session *se = NULL;

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
	for (size_t i = 0; i < s->nsess; i++)
		if (lb_client_same(&s->sess[i].c, &c->client))
			se = &s->sess[i];
	if (!se) {
		if (lb_grow(&s->sess, &s->capsess, s->nsess, sizeof *s->sess) < 0)
			return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		se = &s->sess[s->nsess++];
	}
	c->client.role = r;
	if (name)
		snprintf(c->client.name, sizeof c->client.name, "%s", name);
	se->c = c->client;
	return m_whoami(s, c, result, err);
}

/* devices.list */
static int m_devices(lb_server *s, call *c, json_t **result, lb_error *err)
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
	for (i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		if (d->opened && !d->removing && (!kind || strcmp(kind, d->spec.kind) == 0))
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

/* The device named by params.device, or NULL with err set. */
lb_device *srv_param_device(lb_server *s, call *c, lb_error *err)
{
	const char *id = NULL;
	lb_device *d;

	if (lb_param_string(c->req.params, "device", true, &id, err) < 0)
		return NULL;
	d = srv_find_device(s, id);
	if (!d)
		lb_error_set(err, LB_ERR_UNKNOWN_DEVICE,
			     "no device '%s' (see devices.list; it may be unplugged)", id);
	return d;
}

/* device.info */
static int m_device_info(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)))
		return LB_EFAIL;
	*result = srv_device_json(s, d, c->now.mono);
	return 0;
}

/* snapshot: devices and the last value of every stream (the Clone pattern). */
static int m_snapshot(lb_server *s, call *c, json_t **result, lb_error *err)
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
	for (size_t i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		if (!d->opened || d->removing)
			continue;
		json_array_append_new(devices, srv_device_json(s, d, c->now.mono));
		for (int k = 0; k < d->ncache && k < d->nstreams; k++) {
			lb_stream_cache *sc = &d->cache[k];
			json_t *h, *e;
			if (!sc->seq || strncmp(d->streams[k].topic, prefix, plen) != 0)
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
		json_object_foreach(s->ended, topic, seq)
		{
			if (strncmp(topic, prefix, plen) == 0)
				json_array_append_new(streams,
						      json_pack("{s:s,s:O,s:n,s:b}", "topic", topic,
								"seq", seq, "value", "ended", 1));
		}
	}
	if (strncmp("bridge/devices/", prefix, plen) == 0)
		json_array_append_new(streams, json_pack("{s:s,s:I}", "topic", "bridge/devices/",
							 "seq", (json_int_t)s->dev_seq));
	*result = json_pack("{s:s,s:I,s:o,s:o}", "epoch", s->epoch, "t_host",
			    (json_int_t)c->now.real, "devices", devices, "streams", streams);
	return 0;
}

/* Forward a request to a device thread; the reply comes later (LB_EAGAIN). */
int srv_forward(lb_server *s, call *c, lb_device *d, const char *cmd, json_t *params, lb_error *err)
{
	pending *p;
	uint64_t token = ++s->next_token;

	if (srv_room_check(s, d, cmd, params, err) < 0) /* a stopped room: nothing moves */
		return LB_EFAIL;
	if (lb_grow(&s->pend, &s->cappend, s->npend, sizeof *s->pend) < 0)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	if (lb_device_send(d, cmd, token, params) < 0)
		return lb_error_set(err, LB_ERR_TIMEOUT,
				    "device '%s' is not answering (its queue is full)", d->spec.id);
	p = &s->pend[s->npend++];
	p->token = token;
	p->dev = d;
	p->deadline = c->now.mono + (int64_t)s->opts.request_timeout_ms * 1000000;
	p->id = json_copy(c->req.id);
	p->nenv = c->nenv;
	for (int i = 0; i < c->nenv; i++) {
		zmq_msg_init(&p->env[i]);
		zmq_msg_move(&p->env[i], &c->env[i]);
	}
	return LB_EAGAIN;
}

/*
 * May this client call action on d? Only the actions the driver declares reach a device from a
 * client, each with its least role; a service's action (the print queue's "print") never does;
 * an action on the device's job needs its owner or a teacher. 0, or LB_EFAIL with err set.
 */
static int check_action(lb_server *s, call *c, lb_device *d, const char *action, lb_error *err)
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
	if ((a->flags & LB_ACTION_JOB) && c->client.role < LB_ROLE_TEACHER &&
	    srv_job_owner(s, d, owner, sizeof owner) && strcmp(owner, c->client.user) != 0)
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
static int check_setting(lb_server *s, call *c, const char *key, const json_t *value, lb_error *err)
{
	const lb_policy *p = &s->opts.policy;
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
static int m_device_cmd(lb_server *s, call *c, const char *cmd, const char *const *allowed,
			lb_error *err)
{
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)))
		return LB_EFAIL;
	if (strcmp(cmd, "get") != 0 &&
	    lb_lease_check(&s->leases, d->spec.id, &c->client, c->now.mono, err) < 0)
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

static int m_start(lb_server *s, call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	(void)r;
	return m_device_cmd(s, c, "start", allowed, err);
}

static int m_stop(lb_server *s, call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	(void)r;
	return m_device_cmd(s, c, "stop", allowed, err);
}

static int m_get(lb_server *s, call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", "key", NULL};
	(void)r;
	return m_device_cmd(s, c, "get", allowed, err);
}

static int m_set(lb_server *s, call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", "key", "value", NULL};
	(void)r;
	return m_device_cmd(s, c, "set", allowed, err);
}

static int m_call(lb_server *s, call *c, json_t **r, lb_error *err)
{
	static const char *const allowed[] = {"device", "action", "args", NULL};
	(void)r;
	return m_device_cmd(s, c, "call", allowed, err);
}

/* lease.acquire */
static int m_lease_acquire(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "ttl_ms", "force", NULL};
	long long ttl = 30000;
	bool force = false;
	lb_device *d;
	const lb_lease *l;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)) ||
	    lb_param_int(c->req.params, "ttl_ms", false, 1000, 600000, &ttl, err) < 0 ||
	    lb_param_bool(c->req.params, "force", &force, err) < 0)
		return LB_EFAIL;
	if (lb_lease_acquire(&s->leases, d->spec.id, &c->client, ttl * 1000000, force, c->now.mono,
			     &l, err) < 0)
		return LB_EFAIL;
	*result = srv_lease_json(s, d->spec.id, c->now.mono);
	srv_publish_device_event(s, "changed", d);
	return 0;
}

/* lease.release */
static int m_lease_release(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;

	if (lb_param_only(c->req.params, allowed, err) < 0 || !(d = srv_param_device(s, c, err)) ||
	    lb_lease_release(&s->leases, d->spec.id, &c->client, c->now.mono, err) < 0)
		return LB_EFAIL;
	*result = json_null();
	srv_publish_device_event(s, "changed", d);
	return 0;
}

static const struct method {
	const char *name;
	lb_role role;
	method_fn fn;
} methods[] = {
    {"bridge.info", LB_ROLE_OBSERVER, m_info},
    {"whoami", LB_ROLE_OBSERVER, m_whoami},
    {"session.hello", LB_ROLE_OBSERVER, m_hello},
    {"devices.list", LB_ROLE_OBSERVER, m_devices},
    {"device.info", LB_ROLE_OBSERVER, m_device_info},
    {"device.get", LB_ROLE_OBSERVER, m_get},
    {"snapshot", LB_ROLE_OBSERVER, m_snapshot},
    {"device.start", LB_ROLE_STUDENT, m_start},
    {"device.stop", LB_ROLE_STUDENT, m_stop},
    {"device.set", LB_ROLE_STUDENT, m_set},
    {"device.call", LB_ROLE_STUDENT, m_call},
    {"lease.acquire", LB_ROLE_STUDENT, m_lease_acquire},
    {"lease.release", LB_ROLE_STUDENT, m_lease_release},
    {"calib.set", LB_ROLE_STUDENT, m_calib_set},
    {"calib.tare", LB_ROLE_STUDENT, m_calib_tare},
    {"calib.clear", LB_ROLE_STUDENT, m_calib_clear},
    {"acquisition.start", LB_ROLE_STUDENT, m_acq_start},
    {"recording.start", LB_ROLE_STUDENT, m_rec_start},
    {"recording.stop", LB_ROLE_STUDENT, m_rec_stop},
    {"recording.list", LB_ROLE_OBSERVER, m_rec_list},
    {"recording.fetch", LB_ROLE_OBSERVER, m_rec_fetch},
    {"print.upload", LB_ROLE_STUDENT, m_print_upload},
    {"print.queue", LB_ROLE_OBSERVER, m_print_queue},
    {"print.job", LB_ROLE_OBSERVER, m_print_job},
    {"print.thumbnail", LB_ROLE_OBSERVER, m_print_thumbnail},
    {"print.approve", LB_ROLE_TEACHER, m_print_approve},
    {"print.cancel", LB_ROLE_STUDENT, m_print_cancel},
    {"print.pause", LB_ROLE_STUDENT, m_print_pause},
    {"print.resume", LB_ROLE_STUDENT, m_print_resume},
    {"print.retry", LB_ROLE_TEACHER, m_print_retry},
    {"print.delete", LB_ROLE_TEACHER, m_print_delete},
    {"print.move", LB_ROLE_TEACHER, m_print_move},
    {"printer.clear", LB_ROLE_TEACHER, m_printer_clear},
    {"printer.estop", LB_ROLE_STUDENT, m_printer_estop},
    {"room.stop", LB_ROLE_STUDENT, m_room_stop},
    {"room.release", LB_ROLE_TEACHER, m_room_release},
    {"room.state", LB_ROLE_OBSERVER, m_room_state},
};

/* Route a method to its handler, or a driver's bridge_call for "<driver>.<method>". */
int srv_dispatch(lb_server *s, call *c, json_t **result, lb_error *err)
{
	const char *dot;

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		if (strcmp(methods[i].name, c->req.method) != 0)
			continue;
		if (c->client.role < methods[i].role)
			return lb_error_set(err, LB_ERR_FORBIDDEN,
					    "%s requires the %s role; you are %s", c->req.method,
					    lb_role_name(methods[i].role),
					    lb_role_name(c->client.role));
		return methods[i].fn(s, c, result, err);
	}
	dot = strchr(c->req.method, '.');
	if (dot && dot - c->req.method < 32) {
		char name[32];
		const lb_driver *drv;
		snprintf(name, sizeof name, "%.*s", (int)(dot - c->req.method), c->req.method);
		drv = lb_driver_find(name);
		if (drv && drv->bridge_call) {
			int rc;
			if (c->client.role < LB_ROLE_TEACHER)
				return lb_error_set(err, LB_ERR_FORBIDDEN,
						    "%s requires the teacher role; you are %s",
						    c->req.method, lb_role_name(c->client.role));
			rc = drv->bridge_call(drv, dot + 1, c->req.params, result, err);
			s->rescan = 1; /* it may have changed which devices are present */
			return rc;
		}
	}
	return lb_error_set(err, LB_ERR_METHOD_NOT_FOUND, "unknown method '%s'", c->req.method);
}
