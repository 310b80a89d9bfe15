/* room.c - the room-wide stop: every device that can be halted, latched until a teacher releases
 * it. */
#include <stdio.h>
#include <string.h>

#include "../../core/server_private.h"
#include "../../util/log.h"
#include "room.h"

/*
 * A pupil who sees something go wrong (a printer's nozzle in the wrong place, a robot heading for
 * the edge) stops the whole room at once: room.stop halts every device whose driver has the halt
 * hook (lb_device_halt: the hook reaches the hardware from the main thread, whatever the device's
 * thread is blocked in, then the device's thread finishes the stop ahead of its waiting
 * commands). The stop latches: until a teacher's room.release, nothing is set moving again
 * (device.start of a device that can be halted, driver actions flagged LB_ACTION_MOTION, print
 * jobs handed to printers). Each change is published on bridge/room/. The latch lives in memory:
 * a restart of the bridge releases it (and a halted printer stays halted until reset anyway).
 */

#define ROOM_TOPIC "bridge/room/"

/* The latch and the devices it halts, as clients see it: a new object. */
static json_t *room_json(lb_server *s)
{
	const lb_room *r = &s->room;
	json_t *devices = json_array();

	for (size_t i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		if (d->opened && !d->removing && lb_device_can_halt(d))
			json_array_append_new(devices, json_string(d->spec.id));
	}
	if (!r->stopped)
		return json_pack("{s:b,s:n,s:n,s:n,s:o}", "stopped", 0, "by", "name", "since_ns",
				 "devices", devices);
	return json_pack("{s:b,s:s,s:s,s:I,s:o}", "stopped", 1, "by", r->by, "name", r->name,
			 "since_ns", (json_int_t)r->since, "devices", devices);
}

/* Publish a change of the latch on bridge/room/: {event, room, halted?} (halted is stolen). */
static void room_publish(lb_server *s, const char *event, json_t *halted)
{
	json_t *data = json_pack("{s:s,s:o}", "event", event, "room", room_json(s));

	if (data && halted)
		json_object_set(data, "halted", halted);
	json_decref(halted);
	if (data)
		srv_publish_json(s, ROOM_TOPIC, &s->room.seq, data);
}

int srv_halt_device(lb_server *s, lb_device *d, const char *who)
{
	int rc = lb_device_halt(d);

	(void)s;
	if (rc == 0)
		lb_warn("device %s halted by %s", d->spec.id, who);
	else if (rc != LB_EINVAL)
		lb_err("device %s: halt by %s: %s", d->spec.id, who,
		       rc == LB_EGONE ? "it is closing" : "the driver could not reach it at once");
	return rc;
}

int m_room_stop(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	json_t *halted, *failed;

	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	halted = json_array();
	failed = json_array();
	if (!halted || !failed) {
		json_decref(halted);
		json_decref(failed);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	/* the latch first: a reply or event that races with the halts already refuses */
	if (!s->room.stopped) {
		s->room.stopped = true;
		snprintf(s->room.by, sizeof s->room.by, "%s", c->client.user);
		snprintf(s->room.name, sizeof s->room.name, "%s", c->client.name);
		s->room.since = c->now.real;
	}
	s->room.stops++;
	lb_warn("ROOM STOP by %s%s%s%s", c->client.user, c->client.name[0] ? " (" : "",
		c->client.name, c->client.name[0] ? ")" : "");
	for (size_t i = 0; i < s->ndev; i++) {
		lb_device *d = s->dev[i];
		int rc;
		if (!d->opened || d->removing || !lb_device_can_halt(d))
			continue;
		rc = srv_halt_device(s, d, c->client.user);
		json_array_append_new(rc == 0 ? halted : failed, json_string(d->spec.id));
	}
	*result = room_json(s);
	json_object_set(*result, "halted", halted);
	/* a device whose hook failed still gets its thread's halt (the M112 written there) */
	json_object_set_new(*result, "late", failed);
	room_publish(s, "stopped", halted);
	return 0;
}

int m_room_release(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	bool was = s->room.stopped;

	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	memset(s->room.by, 0, sizeof s->room.by);
	memset(s->room.name, 0, sizeof s->room.name);
	s->room.stopped = false;
	s->room.since = 0;
	*result = room_json(s);
	if (!was)
		return 0; /* nothing to announce */
	lb_warn("room released by %s: devices may be started again", c->client.user);
	room_publish(s, "released", NULL);
	srv_print_dispatch(s); /* jobs held by the stop go to printers that are idle again */
	return 0;
}

int m_room_state(lb_server *s, call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};

	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	*result = room_json(s);
	return 0;
}

bool srv_room_stopped(const lb_server *s)
{
	return s->room.stopped;
}

int srv_room_check(lb_server *s, lb_device *d, const char *cmd, const json_t *params, lb_error *err)
{
	const lb_action *a;
	const char *name;

	if (!s->room.stopped)
		return 0;
	if (strcmp(cmd, "start") == 0 && lb_device_can_halt(d))
		return lb_error_set(err, LB_ERR_ROOM_STOPPED,
				    "the room was stopped by %s: %s stays halted until a teacher "
				    "releases the room (room.release)",
				    s->room.by, d->spec.id);
	if (strcmp(cmd, "call") != 0)
		return 0;
	name = json_string_value(json_object_get(params, "action"));
	a = name ? lb_driver_action(d->driver, name) : NULL;
	if (a && (a->flags & LB_ACTION_MOTION))
		return lb_error_set(err, LB_ERR_ROOM_STOPPED,
				    "the room was stopped by %s: '%s' would set %s moving; a "
				    "teacher must release the room first (room.release)",
				    s->room.by, a->name, d->spec.id);
	return 0;
}
