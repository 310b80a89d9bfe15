/* room.c - the room-wide stop: every device that can be halted, latched until a teacher releases
 * it. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../core/device.h"
#include "../../core/service.h"
#include "../../sdk/driver.h"
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

#define ROOM_FILE "room-stopped.json"

/* The latch (the service's state in the server). */
typedef struct lb_room {
	bool loaded; /* the data directory was read */
	bool stopped;
	char by[128];	  /* who stopped the room: the identity ("unix:NAME") */
	char name[64];	  /* and the label they gave with session.hello */
	char reason[128]; /* why, in their words (room.stop {reason}), or "" */
	int64_t since;	  /* real time (ns since 1970) of the stop */
	uint64_t seq;	  /* the bridge/room/ topic's last seq */
	unsigned stops;	  /* room.stop calls since the bridge started */
	json_t *halted;	  /* {device id: true} halted under this latch (a device that opens later is
			     halted when it appears) */
} lb_room;

static const lb_service room_service;

/* The service's state in s (made by room_init). */
static lb_room *R(lb_server *s)
{
	return *lb_service_state(s, &room_service);
}

/* The latch's file in the data directory into path[cap]. */
static void room_path(lb_server *s, char *path, size_t cap)
{
	snprintf(path, cap, "%s/" ROOM_FILE, srv_data_dir(s));
}

/* Read the latch a previous run left (once): a stopped room stays stopped. Never fails: an
 * unreadable file is logged and taken as a stop (the safe side). */
static void room_load(lb_server *s)
{
	char path[600];
	json_error_t jerr;
	const char *by, *name;
	json_t *o;

	if (R(s)->loaded)
		return;
	R(s)->loaded = true;
	room_path(s, path, sizeof path);
	if (access(path, F_OK) != 0)
		return;
	o = json_load_file(path, 0, &jerr);
	if (!json_is_object(o))
		lb_err("%s: %s: the room is taken as stopped (a teacher's room.release removes it)",
		       path, o ? "not an object" : jerr.text);
	R(s)->stopped = true;
	by = json_string_value(json_object_get(o, "by"));
	name = json_string_value(json_object_get(o, "name"));
	snprintf(R(s)->by, sizeof R(s)->by, "%s", by ? by : "unknown");
	snprintf(R(s)->name, sizeof R(s)->name, "%s", name ? name : "");
	snprintf(R(s)->reason, sizeof R(s)->reason, "%s",
		 json_string_value(json_object_get(o, "reason"))
		     ? json_string_value(json_object_get(o, "reason"))
		     : "");
	R(s)->since = (int64_t)json_integer_value(json_object_get(o, "since_ns"));
	lb_warn("the room was stopped by %s before this start: it stays stopped until a teacher "
		"releases it (room.release)",
		R(s)->by);
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
	if (!R(s)->stopped) {
		if (unlink(path) < 0 && errno != ENOENT)
			lb_err("%s: %s: the room will be stopped again after a restart", path,
			       strerror(errno));
		return;
	}
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	mkdir(srv_data_dir(s), 0755); /* a bridge that never stored anything yet */
	o = json_pack("{s:s,s:s,s:s,s:I}", "by", R(s)->by, "name", R(s)->name, "reason",
		      R(s)->reason, "since_ns", (json_int_t)R(s)->since);
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
	const lb_room *r = R(s);
	json_t *devices = json_array();

	room_load(s);
	lb_device *d;
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++) {
		if (srv_device_live(d) && lb_device_can_halt(d))
			json_array_append_new(devices, json_string(d->spec.id));
	}
	if (!r->stopped)
		return json_pack("{s:b,s:n,s:n,s:n,s:n,s:o}", "stopped", 0, "by", "name", "reason",
				 "since_ns", "devices", devices);
	return json_pack("{s:b,s:s,s:s,s:s,s:I,s:o}", "stopped", 1, "by", r->by, "name", r->name,
			 "reason", r->reason, "since_ns", (json_int_t)r->since, "devices", devices);
}

/* Publish a change of the latch on bridge/room/: {event, room, halted?} (halted is stolen). */
static void room_publish(lb_server *s, const char *event, json_t *halted)
{
	json_t *data = json_pack("{s:s,s:o}", "event", event, "room", room_json(s));

	if (data && halted)
		json_object_set(data, "halted", halted);
	json_decref(halted);
	if (data)
		srv_publish_json(s, ROOM_TOPIC, &R(s)->seq, data);
}

void room_publish_event(lb_server *s, json_t *data)
{
	if (R(s) && data)
		srv_publish_json(s, ROOM_TOPIC, &R(s)->seq, data);
	else
		json_decref(data);
}

static int m_room_stop(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"reason", NULL};
	const char *reason = NULL;
	json_t *halted, *failed;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0 ||
	    lb_param_string(lb_call_params(c), "reason", false, &reason, err) < 0)
		return LB_EFAIL;
	if (reason && strlen(reason) >= sizeof R(s)->reason)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "reason: at most %zu bytes",
				    sizeof R(s)->reason - 1);
	halted = json_array();
	failed = json_array();
	if (!halted || !failed) {
		json_decref(halted);
		json_decref(failed);
		return lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
	}
	/* the latch first: a reply or event that races with the halts already refuses */
	room_load(s);
	if (!R(s)->stopped) {
		R(s)->stopped = true;
		snprintf(R(s)->by, sizeof R(s)->by, "%s", lb_call_client(c)->user);
		snprintf(R(s)->name, sizeof R(s)->name, "%s", lb_call_client(c)->name);
		snprintf(R(s)->reason, sizeof R(s)->reason, "%s", reason ? reason : "");
		R(s)->since = lb_call_now(c)->real;
		room_save(s);
	}
	R(s)->stops++;
	lb_warn("ROOM STOP by %s%s%s%s", lb_call_client(c)->user,
		lb_call_client(c)->name[0] ? " (" : "", lb_call_client(c)->name,
		lb_call_client(c)->name[0] ? ")" : "");
	lb_device *d;
	for (size_t i = 0; (d = srv_device_at(s, i)) != NULL; i++) {
		int rc;
		if (!srv_device_live(d) || !lb_device_can_halt(d))
			continue;
		rc = srv_halt(s, d, lb_call_client(c)->user);
		json_array_append_new(rc == 0 ? halted : failed, json_string(d->spec.id));
		json_object_set_new(R(s)->halted, d->spec.id, json_true());
	}
	*result = room_json(s);
	json_object_set(*result, "halted", halted);
	/* a device whose hook failed still gets its thread's halt (the M112 written there) */
	json_object_set_new(*result, "late", failed);
	room_publish(s, "stopped", halted);
	return 0;
}

static int m_room_release(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	bool was;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0)
		return LB_EFAIL;
	room_load(s);
	was = R(s)->stopped;
	memset(R(s)->by, 0, sizeof R(s)->by);
	memset(R(s)->name, 0, sizeof R(s)->name);
	memset(R(s)->reason, 0, sizeof R(s)->reason);
	R(s)->stopped = false;
	R(s)->since = 0;
	json_object_clear(R(s)->halted);
	if (was)
		room_save(s);
	*result = room_json(s);
	if (!was)
		return 0; /* nothing to announce */
	lb_warn("room released by %s: devices may be started again", lb_call_client(c)->user);
	room_publish(s, "released", NULL);
	srv_devices_ready(s); /* what the stop held (print jobs) may go on */
	return 0;
}

static int m_room_state(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};

	if (lb_param_only(lb_call_params(c), allowed, err) < 0)
		return LB_EFAIL;
	*result = room_json(s);
	return 0;
}

static bool room_stopped(lb_server *s)
{
	room_load(s);
	return R(s)->stopped;
}

/* Who stopped the room and when, for people: "unix:pupil3 (group 3) at 14:32:05 (robot off the
 * table)" into out[cap]. */
static void room_who(lb_server *s, char *out, size_t cap)
{
	const lb_room *r = R(s);
	time_t t = (time_t)(r->since / 1000000000LL);
	struct tm tm;
	char when[32] = "";

	if (r->since > 0 && localtime_r(&t, &tm))
		strftime(when, sizeof when, " at %H:%M:%S", &tm);
	snprintf(out, cap, "%s%s%s%s%s%s%s%s", r->by, r->name[0] ? " (" : "", r->name,
		 r->name[0] ? ")" : "", when, r->reason[0] ? " (" : "", r->reason,
		 r->reason[0] ? ")" : "");
}

static int room_permit(lb_server *s, lb_device *d, const char *cmd, const json_t *params,
		       lb_error *err)
{
	const lb_action *a;
	const char *name;
	char who[400];

	if (!room_stopped(s))
		return 0;
	room_who(s, who, sizeof who);
	if (strcmp(cmd, "start") == 0 && lb_device_can_halt(d))
		return lb_error_set(err, LB_ERR_ROOM_STOPPED,
				    "the room was stopped by %.150s: %s stays halted until a "
				    "teacher releases the room (room.release)",
				    who, d->spec.id);
	if (strcmp(cmd, "call") == 0) {
		name = json_string_value(json_object_get(params, "action"));
		a = name ? lb_driver_action(d->driver, name) : NULL;
	} else if (strcmp(cmd, "event") == 0) { /* a client's event: a motor driven by a pupil */
		name = json_string_value(json_object_get(params, "event"));
		a = name ? lb_driver_event(d->driver, name) : NULL;
	} else {
		return 0;
	}
	if (a && (a->flags & LB_ACTION_MOTION))
		return lb_error_set(err, LB_ERR_ROOM_STOPPED,
				    "the room was stopped by %.150s: '%s' would set %s moving; a "
				    "teacher must release the room first (room.release)",
				    who, a->name, d->spec.id);
	return 0;
}

/*
 * A device that opens while the room is stopped is halted as the others were, once per latch (its
 * descriptions come again and again). One halted already under this latch is not halted again
 * when it comes back (a printer reset by a teacher after its M112 would be killed again): the
 * latch still refuses it anything that moves.
 */
static void room_device_ready(lb_server *s, lb_device *d)
{
	if (!room_stopped(s) || !lb_device_can_halt(d) || json_object_get(R(s)->halted, d->spec.id))
		return;
	json_object_set_new(R(s)->halted, d->spec.id, json_true());
	srv_halt(s, d, R(s)->by);
}

/* A robot that goes away (unplugged) is halted again if it comes back under the same latch, as
 * a new one would be: a MicroPython board starts its main.py as it powers up. Not a printer: a
 * teacher's reset after its M112 reopens it, and it must not be killed again. */
static void room_device_gone(lb_server *s, lb_device *d)
{
	if (R(s) && strcmp(d->spec.kind, "robot") == 0)
		json_object_del(R(s)->halted, d->spec.id);
}

/* Make the service's state; 0 or LB_ENOMEM. */
static int room_init(lb_server *s)
{
	lb_room *r = calloc(1, sizeof *r);

	if (!r || !(r->halted = json_object())) {
		free(r);
		return LB_ENOMEM;
	}
	*lb_service_state(s, &room_service) = r;
	return 0;
}

/* Free the state (the latch stays in its file). */
static void room_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &room_service);
	lb_room *r = *slot;

	if (r)
		json_decref(r->halted);
	free(r);
	*slot = NULL;
}

static const lb_method room_methods[] = {
    /* anyone in the room may stop it (a pupil who sees danger); only a teacher releases it */
    {"room.stop", LB_ROLE_STUDENT, 0, m_room_stop},
    {"room.release", LB_ROLE_TEACHER, 0, m_room_release},
    {"room.resume", LB_ROLE_TEACHER, 0, m_room_release}, /* the same: the robots' vocabulary */
    {"room.state", LB_ROLE_OBSERVER, 0, m_room_state},
    {NULL, 0, 0, NULL},
};

/* The room-wide stop: halts every device that can be halted, latched until a teacher releases it;
 * while latched, no command that would set something moving reaches a device (permit). */
static const lb_service room_service = {
    .name = "room",
    .methods = room_methods,
    .init = room_init,
    .permit = room_permit,
    .device_ready = room_device_ready,
    .device_gone = room_device_gone,
    .destroy = room_destroy,
};
LB_REGISTER_SERVICE(room_service);
