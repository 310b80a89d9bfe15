/* room.c - the room-wide stop: every device that can be halted, latched until a teacher releases
 * it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
 * jobs handed to printers). Each change is published on bridge/room/. The latch is kept in the
 * data directory too (room-stopped.json, written before the reply, removed by the release): a
 * restart or a crash of the bridge does not release the room.
 */

#define ROOM_TOPIC "bridge/room/"
#define ROOM_FILE "room-stopped.json"

/* The latch's file in the data directory into path[cap]. */
static void room_path(lb_server *s, char *path, size_t cap)
{
	snprintf(path, cap, "%s/" ROOM_FILE, s->opts.data_dir);
}

/* Read the latch a previous run left (once): a stopped room stays stopped. Never fails: an
 * unreadable file is logged and taken as a stop (the safe side). */
static void room_load(lb_server *s)
{
	char path[600];
	json_error_t jerr;
	const char *by, *name;
	json_t *o;

	if (s->room.loaded)
		return;
	s->room.loaded = true;
	room_path(s, path, sizeof path);
	if (access(path, F_OK) != 0)
		return;
	o = json_load_file(path, 0, &jerr);
	if (!json_is_object(o))
		lb_err("%s: %s: the room is taken as stopped (a teacher's room.release removes it)",
		       path, o ? "not an object" : jerr.text);
	s->room.stopped = true;
	by = json_string_value(json_object_get(o, "by"));
	name = json_string_value(json_object_get(o, "name"));
	snprintf(s->room.by, sizeof s->room.by, "%s", by ? by : "unknown");
	snprintf(s->room.name, sizeof s->room.name, "%s", name ? name : "");
	s->room.since = (int64_t)json_integer_value(json_object_get(o, "since_ns"));
	lb_warn("the room was stopped by %s before this start: it stays stopped until a teacher "
		"releases it (room.release)",
		s->room.by);
	json_decref(o);
}

/* Keep the latch in the data directory (written whole: a temporary file renamed over it), or
 * remove it. Failures are logged: the latch holds in memory all the same. */
static void room_save(lb_server *s)
{
	char path[600], tmp[620];
	json_t *o;
	FILE *f;
	int ok = 1;

	room_path(s, path, sizeof path);
	if (!s->room.stopped) {
		if (unlink(path) < 0 && errno != ENOENT)
			lb_err("%s: %s: the room will be stopped again after a restart", path,
			       strerror(errno));
		return;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	mkdir(s->opts.data_dir, 0755); /* a bridge that never stored anything yet */
	o = json_pack("{s:s,s:s,s:I}", "by", s->room.by, "name", s->room.name, "since_ns",
		      (json_int_t)s->room.since);
	f = fopen(tmp, "w");
	if (!o || !f || json_dumpf(o, f, JSON_COMPACT) < 0 || fflush(f) != 0 ||
	    fsync(fileno(f)) < 0)
		ok = 0;
	if (f && fclose(f) != 0)
		ok = 0;
	if (!ok || rename(tmp, path) < 0) {
		lb_err("%s: %s: a restart of the bridge would release the room", path,
		       strerror(errno));
		unlink(tmp);
	}
	json_decref(o);
}

/* The latch and the devices it halts, as clients see it: a new object. */
static json_t *room_json(lb_server *s)
{
	const lb_room *r = &s->room;
	json_t *devices = json_array();

	room_load(s);
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
	room_load(s);
	if (!s->room.stopped) {
		s->room.stopped = true;
		snprintf(s->room.by, sizeof s->room.by, "%s", c->client.user);
		snprintf(s->room.name, sizeof s->room.name, "%s", c->client.name);
		s->room.since = c->now.real;
		room_save(s);
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
	bool was;

	if (lb_param_only(c->req.params, allowed, err) < 0)
		return LB_EFAIL;
	room_load(s);
	was = s->room.stopped;
	memset(s->room.by, 0, sizeof s->room.by);
	memset(s->room.name, 0, sizeof s->room.name);
	s->room.stopped = false;
	s->room.since = 0;
	if (was)
		room_save(s);
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

bool srv_room_stopped(lb_server *s)
{
	room_load(s);
	return s->room.stopped;
}

int srv_room_check(lb_server *s, lb_device *d, const char *cmd, const json_t *params, lb_error *err)
{
	const lb_action *a;
	const char *name;

	if (!srv_room_stopped(s))
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
