/* robot.c - one robot vocabulary for every family: move, stop, programs, outputs, owner, dead-man.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/device.h"
#include "../../core/service.h"
#include "../../sdk/driver.h"
#include "../../sdk/params.h"
#include "../../sdk/robot.h"
#include "../../util/grow.h"
#include "../jobs/upload.h"
#include "../../util/log.h"

/*
 * Clients drive every robot family with the same requests (robot.move, robot.stop,
 * robot.program.load/run/stop, robot.set); this service checks them and hands each device the
 * driver action of the same name (sdk/robot.h), flagged for services only so that device.call
 * cannot skip these checks:
 * - the caller must HOLD the robot's lease (lease.acquire): a group commands its own robot, the
 *   others watch; a teacher takes one over with lease.acquire {force: true}. robot.stop needs
 *   only that nobody else holds it (stopping a free robot harms nobody);
 * - parameters are finite numbers within their range (a NaN speed is refused here, never sent),
 *   languages and outputs are those the robot's description lists, sources are bounded;
 * - the room stop (room service) vetoes what sets a robot moving (LB_ACTION_MOTION).
 * The dead-man: when a robot's lease ends (its holder's connection closed, the lease expired or
 * was released), the robot is told LB_ROBOT_STOP at once. A robot that disappears loses its
 * lease. Each robot's state and owner are published on robot/<id>/state/.
 */

#define STATE_DETAIL 160

/* robot.program.load takes the source as one binary frame (a JSON request is at most 64 KiB):
 * read in memory, never resumed, so nothing is ever kept under its directory. */
LB_UPLOAD_METHOD(robot_load, "robot.program.load", LB_ROBOT_SOURCE_MAX, "robot-programs");

/* What the service knows of one robot. */
typedef struct robot_rec {
	char id[64];
	char state[16]; /* idle, running, stopped, error, gone ("" before the driver says) */
	char detail[STATE_DETAIL]; /* the driver's words, or "" */
	char owner[128];	   /* the lease holder's identity, or "" */
	char owner_name[64];	   /* and their session name */
	uint64_t seq;		   /* robot/<id>/state/ */
	bool active;		   /* told to move or run since its last stop */
	json_t *desc;		   /* the "robot" object of its description (describe()), or NULL */
} robot_rec;

typedef struct lb_robots {
	robot_rec *v;
	size_t n, cap;
} lb_robots;

static const lb_service robot_service;

/* The service's state in s (made by robot_init). */
static lb_robots *RB(lb_server *s)
{
	return *lb_service_state(s, &robot_service);
}

/* Whether d is a robot (its spec's kind). */
static bool is_robot(const lb_device *d)
{
	return strcmp(d->spec.kind, "robot") == 0;
}

/* The record of robot id, made when create is set; NULL when absent or out of memory. */
static robot_rec *rec_find(lb_server *s, const char *id, bool create)
{
	lb_robots *r = RB(s);
	robot_rec *x;

	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].id, id) == 0)
			return &r->v[i];
	if (!create || lb_grow(&r->v, &r->cap, r->n, sizeof *r->v) < 0)
		return NULL;
	x = &r->v[r->n++];
	memset(x, 0, sizeof *x);
	snprintf(x->id, sizeof x->id, "%s", id);
	return x;
}

/* A robot's state as clients see it: a new object. */
static json_t *rec_json(const robot_rec *x)
{
	return json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:b}", "device", x->id, "state",
			 x->state[0] ? x->state : "idle", "detail", x->detail[0] ? x->detail : NULL,
			 "owner", x->owner[0] ? x->owner : NULL, "owner_name",
			 x->owner_name[0] ? x->owner_name : NULL, "active", x->active);
}

/* Publish x on robot/<id>/state/. */
static void rec_publish(lb_server *s, robot_rec *x)
{
	char topic[96];
	json_t *data = rec_json(x);

	snprintf(topic, sizeof topic, "robot/%s/state/", x->id);
	if (data)
		srv_publish_json(s, topic, &x->seq, data);
}

/* Copy the live lease holder of x into it; true when the owner changed. */
static bool rec_owner(lb_server *s, robot_rec *x, int64_t now)
{
	const lb_lease *l = srv_lease_find(s, x->id, now);
	char owner[128], name[64];

	snprintf(owner, sizeof owner, "%s", l ? l->holder.user : "");
	snprintf(name, sizeof name, "%s", l ? l->holder.name : "");
	if (strcmp(owner, x->owner) == 0 && strcmp(name, x->owner_name) == 0)
		return false;
	memcpy(x->owner, owner, sizeof owner);
	memcpy(x->owner_name, name, sizeof name);
	return true;
}

/* The "robot" object of d's description (what describe() said, kept by device_ready),
 * borrowed; NULL before the robot has opened. */
static json_t *robot_desc(lb_server *s, lb_device *d)
{
	robot_rec *x = rec_find(s, d->spec.id, false);

	return x ? x->desc : NULL;
}

/* Whether the array a holds the string v. */
static bool has_string(const json_t *a, const char *v)
{
	size_t i;
	json_t *e;

	json_array_foreach(a, i, e) if (json_is_string(e) &&
					strcmp(json_string_value(e), v) == 0) return true;
	return false;
}

/*
 * The robot of params.device, if the caller may command it: a robot, whose lease the caller
 * holds (need_holder) or that nobody else holds (the dispatcher checked that already). NULL
 * with err set otherwise.
 */
static lb_device *robot_for(lb_server *s, lb_call *c, bool need_holder, lb_error *err)
{
	lb_device *d = srv_param_device(s, c, err);
	const lb_lease *l;

	if (!d)
		return NULL;
	if (!is_robot(d)) {
		lb_error_set(err, LB_ERR_NOT_SUPPORTED, "%s is a %s, not a robot", d->spec.id,
			     d->spec.kind);
		return NULL;
	}
	if (!robot_desc(s, d)) {
		lb_error_set(err, LB_ERR_DEVICE, "%s is not ready yet (opening)", d->spec.id);
		return NULL;
	}
	if (!need_holder)
		return d;
	l = srv_lease_find(s, d->spec.id, lb_call_now(c)->mono);
	if (!l || !lb_client_same(&l->holder, lb_call_client(c))) {
		lb_error_set(err, LB_ERR_LEASED,
			     "take the robot first: lease.acquire {\"device\": \"%s\"} (only the "
			     "group holding a robot's lease drives it)",
			     d->spec.id);
		return NULL;
	}
	return d;
}

/* Hand d the driver action with args (stolen) on behalf of the caller: LB_EAGAIN (the device
 * answers), or negative with err set (a refused command: the room stop...). */
static int forward(lb_server *s, lb_call *c, lb_device *d, const char *action, json_t *args,
		   lb_error *err)
{
	json_t *p;
	int rc;

	if (!lb_driver_action(d->driver, action)) {
		json_decref(args);
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "%s (%s) does not take %s",
				    d->spec.id, d->driver->name, action);
	}
	p = json_pack("{s:s,s:s,s:o}", "device", d->spec.id, "action", action, "args",
		      args ? args : json_object());
	if (!p)
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	rc = srv_forward(s, c, d, "call", p, err);
	json_decref(p);
	return rc;
}

/* Mark robot d active (moving or running) or still, publishing the change. */
static void set_active(lb_server *s, lb_device *d, bool active)
{
	robot_rec *x = rec_find(s, d->spec.id, true);

	if (x && x->active != active) {
		x->active = active;
		rec_publish(s, x);
	}
}

/* robot.move {device, left, right} or {device, linear, angular} */
static int m_move(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "left", "right", "linear", "angular", NULL};
	json_t *p = lb_call_params(c), *desc;
	double left = 0, right = 0, linear = 0, angular = 0, vmax, base;
	lb_device *d;
	bool wheels = json_object_get(p, "left") || json_object_get(p, "right");
	bool twist = json_object_get(p, "linear") || json_object_get(p, "angular");

	(void)result;
	if (lb_param_only(p, allowed, err) < 0 || !(d = robot_for(s, c, true, err)))
		return LB_EFAIL;
	desc = robot_desc(s, d);
	if (wheels == twist)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "give either left and right (wheel speeds, -1..1 of the "
				    "robot's maximum) or linear (m/s) and angular (rad/s)");
	if (!json_is_true(json_object_get(desc, "wheels")))
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "%s has no wheels the bridge knows how to drive", d->spec.id);
	if (wheels) {
		if (lb_param_number(p, "left", true, -1, 1, &left, err) < 0 ||
		    lb_param_number(p, "right", true, -1, 1, &right, err) < 0)
			return LB_EFAIL;
	} else {
		vmax = json_number_value(json_object_get(desc, "max_speed"));
		base = json_number_value(json_object_get(desc, "wheel_base"));
		if (!(vmax > 0) || !(base > 0))
			return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
					    "%s's geometry is not known (max_speed, wheel_base): "
					    "use left and right",
					    d->spec.id);
		if (lb_param_number(p, "linear", false, -100, 100, &linear, err) < 0 ||
		    lb_param_number(p, "angular", false, -1000, 1000, &angular, err) < 0)
			return LB_EFAIL;
		/* differential drive: each wheel's speed, as a fraction of the maximum */
		left = (linear - angular * base / 2) / vmax;
		right = (linear + angular * base / 2) / vmax;
		if (fabs(left) > 1 + 1e-9 || fabs(right) > 1 + 1e-9)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "too fast: %s's wheels reach at most %g m/s (this move "
					    "needs %g m/s)",
					    d->spec.id, vmax, fmax(fabs(left), fabs(right)) * vmax);
		left = fmax(-1, fmin(1, left));
		right = fmax(-1, fmin(1, right));
	}
	int rc = forward(s, c, d, LB_ROBOT_MOVE,
			 json_pack("{s:f,s:f}", "left", left, "right", right), err);
	if (rc == LB_EAGAIN && (left != 0 || right != 0))
		set_active(s, d, true);
	return rc;
}

/* robot.stop {device}: motors off and program stopped; a robot nobody else holds. */
static int m_stop(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;
	int rc;

	(void)result;
	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    !(d = robot_for(s, c, false, err)))
		return LB_EFAIL;
	rc = forward(s, c, d, LB_ROBOT_STOP, json_object(), err);
	if (rc == LB_EAGAIN)
		set_active(s, d, false);
	return rc;
}

/* robot.program.load {device, language, source | bytecode, events?, name?} */
static int m_load(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "language", "source", "bytecode",
					      "events", "name",	    NULL};
	json_t *p = lb_call_params(c), *args, *code, *frame_src = NULL;
	const char *lang = NULL, *src = NULL;
	const void *frame;
	size_t flen = 0;
	lb_device *d;

	(void)result;
	if (lb_param_only(p, allowed, err) < 0 || !(d = robot_for(s, c, true, err)) ||
	    lb_param_string(p, "language", true, &lang, err) < 0 ||
	    lb_param_string(p, "source", false, &src, err) < 0)
		return LB_EFAIL;
	if (!has_string(json_object_get(robot_desc(s, d), "languages"), lang))
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED,
				    "%s does not run %s programs (its languages: see robot.info)",
				    d->spec.id, lang);
	code = json_object_get(p, "bytecode");
	/* a large source comes as the request's binary frame (a JSON request is at most 64 KiB) */
	if ((frame = lb_call_input(c, &flen)) != NULL) {
		if (src || code)
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "the program is either the binary frame or in the "
					    "parameters, not both");
		if (flen > LB_ROBOT_SOURCE_MAX)
			return lb_error_set(err, LB_ERR_TOO_LARGE,
					    "a program of at most %d bytes (this one: %zu)",
					    LB_ROBOT_SOURCE_MAX, flen);
		if (!(frame_src = json_stringn(frame, flen)))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "the program's text is not UTF-8");
		src = json_string_value(frame_src);
	}
	if (!src == !code) {
		json_decref(frame_src);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "give the program as source (text) or bytecode (words)");
	}
	if (src &&
	    strlen(src) != (frame_src ? flen : json_string_length(json_object_get(p, "source")))) {
		json_decref(frame_src);
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "the program's text contains a NUL character");
	}
	if (code && (!json_is_array(code) || json_array_size(code) > 65536))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "bytecode: an array of at most 65536 words");
	if (!(args = json_deep_copy(p))) {
		json_decref(frame_src);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	json_object_del(args, "device");
	if (frame_src)
		json_object_set_new(args, "source", frame_src);
	return forward(s, c, d, LB_ROBOT_LOAD, args, err);
}

/* robot.program.run {device} */
static int m_run(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;
	int rc;

	(void)result;
	if (lb_param_only(lb_call_params(c), allowed, err) < 0 || !(d = robot_for(s, c, true, err)))
		return LB_EFAIL;
	if (json_array_size(json_object_get(robot_desc(s, d), "languages")) == 0)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "%s runs no programs", d->spec.id);
	rc = forward(s, c, d, LB_ROBOT_RUN, json_object(), err);
	if (rc == LB_EAGAIN)
		set_active(s, d, true);
	return rc;
}

/* robot.program.stop {device} */
static int m_prog_stop(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;
	int rc;

	(void)result;
	if (lb_param_only(lb_call_params(c), allowed, err) < 0 || !(d = robot_for(s, c, true, err)))
		return LB_EFAIL;
	if (json_array_size(json_object_get(robot_desc(s, d), "languages")) == 0)
		return lb_error_set(err, LB_ERR_NOT_SUPPORTED, "%s runs no programs", d->spec.id);
	rc = forward(s, c, d, LB_ROBOT_PROG_STOP, json_object(), err);
	if (rc == LB_EAGAIN)
		set_active(s, d, false);
	return rc;
}

/* robot.set {device, <output>: value...}: the outputs the robot's description lists. */
static int m_set(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	json_t *p = lb_call_params(c), *args, *outputs, *v;
	const char *key;
	lb_device *d;

	(void)result;
	if (!(d = robot_for(s, c, true, err)))
		return LB_EFAIL;
	outputs = json_object_get(robot_desc(s, d), "outputs");
	json_object_foreach(p, key, v)
	{
		(void)v;
		if (strcmp(key, "device") != 0 && !has_string(outputs, key))
			return lb_error_set(err, LB_ERR_INVALID_PARAMS,
					    "%s has no output '%s' (its outputs: see robot.info)",
					    d->spec.id, key);
	}
	if (json_object_size(p) < 2)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "say what to set: one of the robot's outputs (robot.info)");
	if (!(args = json_deep_copy(p)))
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	json_object_del(args, "device");
	return forward(s, c, d, LB_ROBOT_SET, args, err);
}

/* The requests a robot takes, from its description: a new array. */
static json_t *requests_of(const json_t *desc)
{
	json_t *a = json_array();
	bool prog = json_array_size(json_object_get(desc, "languages")) > 0;

	if (json_is_true(json_object_get(desc, "wheels")))
		json_array_append_new(a, json_string("robot.move"));
	json_array_append_new(a, json_string("robot.stop"));
	if (prog) {
		json_array_append_new(a, json_string("robot.program.load"));
		json_array_append_new(a, json_string("robot.program.run"));
		json_array_append_new(a, json_string("robot.program.stop"));
	}
	if (json_array_size(json_object_get(desc, "outputs")) > 0)
		json_array_append_new(a, json_string("robot.set"));
	return a;
}

/* One robot as robot.info and robot.list show it: a new object. */
static json_t *robot_json(lb_server *s, lb_device *d, int64_t now)
{
	robot_rec *x = rec_find(s, d->spec.id, true);
	json_t *desc = robot_desc(s, d), *o;

	if (x)
		rec_owner(s, x, now);
	o = x ? rec_json(x) : json_pack("{s:s}", "device", d->spec.id);
	if (!o)
		return NULL;
	json_object_set_new(o, "name", json_string(d->spec.name));
	json_object_set_new(o, "driver", json_string(d->driver->name));
	json_object_set_new(o, "robot", desc ? json_deep_copy(desc) : json_null());
	json_object_set_new(o, "requests", requests_of(desc));
	return o;
}

/* robot.info {device} */
static int m_info(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", NULL};
	lb_device *d;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    !(d = robot_for(s, c, false, err)))
		return LB_EFAIL;
	if (!(*result = robot_json(s, d, lb_call_now(c)->mono)))
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	return 0;
}

/* robot.list {}: every robot that is open, with its state and owner. */
static int m_list(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	lb_device *d;
	json_t *a;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0)
		return LB_EFAIL;
	if (!(a = json_array()))
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++)
		if (srv_device_live(d) && is_robot(d) && robot_desc(s, d))
			json_array_append_new(a, robot_json(s, d, lb_call_now(c)->mono));
	*result = a;
	return 0;
}

/* A robot driver's state report (lb_robot_state): published with the owner. */
static int robot_event(lb_server *s, lb_device *d, const json_t *ev)
{
	const char *state = json_string_value(json_object_get(ev, "robot_state"));
	const char *detail = json_string_value(json_object_get(ev, "detail"));
	robot_rec *x;

	if (!state)
		return 0;
	if (!(x = rec_find(s, d->spec.id, true)))
		return 1;
	snprintf(x->state, sizeof x->state, "%s", state);
	snprintf(x->detail, sizeof x->detail, "%s", detail ? detail : "");
	if (strcmp(state, "stopped") == 0 || strcmp(state, "error") == 0)
		x->active = false;
	rec_owner(s, x, lb_now_read().mono);
	rec_publish(s, x);
	return 1;
}

/*
 * The dead-man: a robot whose lease ends (its group's client closed its connection or crashed,
 * the lease ran out, or was released) is stopped at once, whatever it was doing. A new owner
 * (a teacher taking over) is published.
 */
static void robot_lease_changed(lb_server *s, lb_device *d, bool ended)
{
	robot_rec *x;

	if (!is_robot(d) || !(x = rec_find(s, d->spec.id, true)))
		return;
	if (ended && lb_driver_action(d->driver, LB_ROBOT_STOP)) {
		json_t *p = json_pack("{s:s,s:s,s:{}}", "device", d->spec.id, "action",
				      LB_ROBOT_STOP, "args");
		if (!p || !srv_send(s, d, "call", p))
			lb_err("robot %s: its lease ended but the stop could not be sent",
			       d->spec.id);
		else if (x->active)
			lb_info("robot %s stopped: its lease ended", d->spec.id);
		json_decref(p);
		x->active = false;
	}
	rec_owner(s, x, lb_now_read().mono);
	rec_publish(s, x);
}

/* A robot that opens (its first state is published: idle, owner), or whose description
 * changed: its "robot" object is kept. */
static void robot_device_ready(lb_server *s, lb_device *d)
{
	robot_rec *x;
	json_t *desc;

	if (!is_robot(d) || !(x = rec_find(s, d->spec.id, true)))
		return;
	desc = srv_device_desc(d);
	if (json_is_object(json_object_get(desc, "robot"))) {
		json_decref(x->desc);
		x->desc = json_incref(json_object_get(desc, "robot"));
	}
	json_decref(desc);
	if (x->seq)
		return;
	rec_owner(s, x, lb_now_read().mono);
	rec_publish(s, x);
}

/* A robot that vanished (unplugged mid-command or mid-upload): reported, its lease freed. */
static void robot_device_gone(lb_server *s, lb_device *d)
{
	robot_rec *x;
	int64_t now = lb_now_read().mono;

	if (!is_robot(d) || !(x = rec_find(s, d->spec.id, false)))
		return;
	snprintf(x->state, sizeof x->state, "gone");
	snprintf(x->detail, sizeof x->detail,
		 "the robot disappeared (unplugged, or its link failed)");
	x->active = false;
	srv_lease_drop(s, d->spec.id, now);
	x->owner[0] = x->owner_name[0] = '\0';
	rec_publish(s, x);
	x->seq = 0; /* a robot that comes back starts its topic again */
	x->state[0] = x->detail[0] = '\0';
	json_decref(x->desc);
	x->desc = NULL;
}

/* Make the service's state; 0 or LB_ENOMEM. */
static int robot_init(lb_server *s)
{
	lb_robots *r = calloc(1, sizeof *r);

	if (!r)
		return LB_ENOMEM;
	*lb_service_state(s, &robot_service) = r;
	return 0;
}

static void robot_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &robot_service);
	lb_robots *r = *slot;

	for (size_t i = 0; r && i < r->n; i++)
		json_decref(r->v[i].desc);
	if (r)
		free(r->v);
	free(r);
	*slot = NULL;
}

static const lb_method robot_methods[] = {
    /* a group drives the robot whose lease it holds; watching is for everyone */
    {"robot.move", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_move},
    {"robot.stop", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_stop},
    {"robot.program.load", LB_ROLE_STUDENT, LB_METHOD_LEASE | LB_METHOD_UPLOAD, m_load},
    {"robot.program.run", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_run},
    {"robot.program.stop", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_prog_stop},
    {"robot.set", LB_ROLE_STUDENT, LB_METHOD_LEASE, m_set},
    {"robot.info", LB_ROLE_OBSERVER, 0, m_info},
    {"robot.list", LB_ROLE_OBSERVER, 0, m_list},
    {NULL, 0, 0, NULL},
};

/* The robot vocabulary, the owner of each robot and the dead-man stop. */
static const lb_service robot_service = {
    .name = "robot",
    .methods = robot_methods,
    .init = robot_init,
    .event = robot_event,
    .lease_changed = robot_lease_changed,
    .device_ready = robot_device_ready,
    .device_gone = robot_device_gone,
    .destroy = robot_destroy,
};
LB_REGISTER_SERVICE(robot_service);
