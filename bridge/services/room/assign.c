/* assign.c - devices assigned to groups (room.assign, room.assignments): who may take which lease.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../protocols/assign.h"
#include "../../util/fsutil.h"
#include "../../util/log.h"
#include "room.h"

/*
 * A teacher assigns a robot or a sensor to a group ("5B group 3"): from then on only a student of
 * that group takes its lease. The group is the client's trusted one (lb_client.group: its CURVE
 * key's registered name or its web pairing's name, never the name of session.hello), or its user
 * ("unix:alice") when the teacher assigned the device to a user id. Teachers are never refused. The
 * table is kept in the data directory (assignments.json, written whole and renamed over the old
 * one before the reply): a JSON file like room-stopped.json rather than SQLite, because it is a
 * few hundred rows at most, read once at start and rewritten by a teacher's click, and a teacher
 * can read or fix it by hand. A file that cannot be read is moved aside (assignments.json.bad)
 * and the bridge starts with no assignments.
 */

#define ASSIGN_FILE "assignments.json"

/* The service's state in the server. */
typedef struct assign_state {
	lb_assigns table;
} assign_state;

static const lb_service assign_service;

/* The state (made by assign_init). */
static assign_state *A(lb_server *s)
{
	return *lb_service_state(s, &assign_service);
}

/* The file's path into path[cap]; false without a data directory. */
static bool assign_path(lb_server *s, char *path, size_t cap)
{
	const char *dir = srv_data_dir(s);

	if (!dir)
		return false;
	return snprintf(path, cap, "%s/" ASSIGN_FILE, dir) < (int)cap;
}

/* Read the table a previous run left. Never fails: a bad file is logged and moved aside
 * (ASSIGN_FILE.bad), and the table stays empty. */
static void assign_load(lb_server *s)
{
	char path[4096], bad[4120], why[200] = "", *text = NULL;
	long len = -1;
	FILE *f;

	if (!assign_path(s, path, sizeof path))
		return;
	f = fopen(path, "r");
	if (!f) {
		if (errno != ENOENT)
			lb_err("%s: %s: the bridge starts with no device assignments", path,
			       strerror(errno));
		return;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && len <= LB_ASSIGN_FILE_MAX &&
	    fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)len + 1)) &&
	    fread(text, 1, (size_t)len, f) == (size_t)len) {
		if (lb_assigns_parse(text, (size_t)len, &A(s)->table, why, sizeof why) == 0) {
			lb_info("%zu device assignment(s) read from %s", A(s)->table.n, path);
			goto out;
		}
	} else {
		snprintf(why, sizeof why, "%s",
			 len > LB_ASSIGN_FILE_MAX ? "too large" : "cannot be read");
	}
	snprintf(bad, sizeof bad, "%s.bad", path);
	lb_err("%s: %s: the bridge starts with no device assignments; the file is kept as %s", path,
	       why, rename(path, bad) == 0 ? bad : "it was (it cannot be moved)");
out:
	free(text);
	fclose(f);
}

/* Write the table (a temporary file renamed over the old one). 0, or LB_EFAIL (logged). */
static int assign_save(lb_server *s)
{
	char path[4096], tmp[4120];
	char *text;
	FILE *f;
	int ok;

	if (!assign_path(s, path, sizeof path))
		return 0; /* no data directory: kept in memory only (said at start) */
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (lb_mkdirs(srv_data_dir(s), 0750) < 0) {
		lb_err("%s: %s", srv_data_dir(s), strerror(errno));
		return LB_EFAIL;
	}
	text = lb_assigns_dump(&A(s)->table);
	f = text ? fopen(tmp, "w") : NULL;
	ok = f && fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (f && fclose(f) != 0)
		ok = 0;
	free(text);
	if (!ok || rename(tmp, path) < 0) {
		lb_err("%s: %s: the assignment is not kept", path, strerror(errno));
		unlink(tmp);
		return LB_EFAIL;
	}
	return 0;
}

/* The name people know a lease's holder by: its trusted group, else its display name, else its
 * identity. */
static const char *holder_name(const lb_lease *l)
{
	if (l->holder.group[0])
		return l->holder.group;
	return l->holder.name[0] ? l->holder.name : l->holder.user;
}

/* room.assign {device, group | null} -> {device, group, released?} (teacher). */
static int m_room_assign(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {"device", "group", NULL};
	json_t *p = lb_call_params(c), *g = json_object_get(p, "group");
	const char *device = NULL, *group = NULL;
	const lb_assignment *old;
	lb_assignment before = {0};
	const lb_lease *l;
	char released[128] = "";
	int changed;

	if (lb_param_only(p, allowed, err) < 0 ||
	    lb_param_string(p, "device", true, &device, err) < 0)
		return LB_EFAIL;
	if (!g)
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "group is required: a group's name, or null to clear");
	if (!json_is_null(g) && !json_is_string(g))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS, "group must be a string or null");
	group = json_string_value(g);
	if (group && !lb_assign_group_ok(group))
		return lb_error_set(err, LB_ERR_INVALID_PARAMS,
				    "group must be 1 to %d bytes of UTF-8 with no control "
				    "character",
				    LB_ASSIGN_GROUP_MAX);
	if (!srv_device_known(s, device))
		return lb_error_set(err, LB_ERR_UNKNOWN_DEVICE, "no device '%.64s'", device);
	old = lb_assigns_find(&A(s)->table, device);
	if (old)
		before = *old;
	changed = lb_assigns_set(&A(s)->table, device, group, lb_call_now(c)->real);
	if (changed < 0)
		return lb_error_set(
		    err, changed == LB_ASSIGN_EBAD ? LB_ERR_INVALID_PARAMS : LB_ERR_INTERNAL,
		    changed == LB_ASSIGN_EBAD ? "device: at most %d bytes"
					      : "more than %d assignments",
		    changed == LB_ASSIGN_EBAD ? LB_ASSIGN_ID_MAX : LB_ASSIGN_MAX);
	if (changed && assign_save(s) < 0) {
		lb_assigns_set(&A(s)->table, device, old ? before.group : NULL, before.since);
		return lb_error_set(err, LB_ERR_INTERNAL,
				    "the assignment cannot be saved in the data directory (the "
				    "bridge's log says why): nothing changed");
	}
	/* a student outside the group who holds it now loses it (a robot stops: lease_changed) */
	l = srv_lease_find(s, device, lb_call_now(c)->mono);
	if (group && l && l->holder.role < LB_ROLE_TEACHER &&
	    !lb_assigns_allow(&A(s)->table, device, l->holder.group, l->holder.user)) {
		snprintf(released, sizeof released, "%s", holder_name(l));
		lb_info("%s's lease on %s ends: the device is assigned to %s", released, device,
			group);
		srv_lease_drop(s, device, lb_call_now(c)->mono);
	}
	if (changed) {
		lb_info("%s assigned to %s by %s", device, group ? group : "nobody",
			lb_call_client(c)->user);
		room_publish_event(s, json_pack("{s:s,s:s,s:s?}", "event", "assigned", "device",
						device, "group", group));
		srv_device_changed(s, device); /* its "assigned" */
	}
	*result = json_pack("{s:s,s:s?}", "device", device, "group", group);
	if (*result && released[0])
		json_object_set_new(*result, "released", json_string(released));
	return *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
}

/* qsort's order of C strings. */
static int by_text(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* room.assignments {} -> {assignments: [{device, group, since}], groups: [NAMES]} (observer). */
static int m_room_assignments(lb_server *s, lb_call *c, json_t **result, lb_error *err)
{
	static const char *const allowed[] = {NULL};
	const lb_assigns *t = &A(s)->table;
	json_t *list = json_array(), *names = json_object(), *groups = json_array(), *v;
	const char **sorted = NULL, *name;
	size_t n, i, n_srv;
	const lb_service *const *svc = lb_services(&n_srv);
	int rc = LB_EFAIL;

	if (lb_param_only(lb_call_params(c), allowed, err) < 0)
		goto out;
	if (!list || !names || !groups) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < t->n; i++) {
		json_array_append_new(list, json_pack("{s:s,s:s,s:I}", "device", t->v[i].device,
						      "group", t->v[i].group, "since",
						      (json_int_t)(t->v[i].since / 1000000000)));
		json_object_set_new(names, t->v[i].group, json_true());
	}
	for (i = 0; i < n_srv; i++)
		if (svc[i]->group_names)
			svc[i]->group_names(s, names, *lb_call_now(c));
	n = json_object_size(names);
	sorted = calloc(n ? n : 1, sizeof *sorted);
	if (!sorted) {
		lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
		goto out;
	}
	i = 0;
	json_object_foreach(names, name, v) sorted[i++] = name;
	qsort(sorted, n, sizeof *sorted, by_text);
	for (i = 0; i < n; i++)
		json_array_append_new(groups, json_string(sorted[i]));
	*result = json_pack("{s:O,s:O}", "assignments", list, "groups", groups);
	rc = *result ? 0 : lb_error_set(err, LB_ERR_INTERNAL, "out of memory");
out:
	free(sorted);
	json_decref(list);
	json_decref(names);
	json_decref(groups);
	return rc;
}

/* lease.acquire: a student outside the device's group is refused (assigned); teachers never. */
static int assign_lease_permit(lb_server *s, const char *id, const lb_client *c, lb_error *err)
{
	const lb_assignment *a = lb_assigns_find(&A(s)->table, id);

	if (!a || c->role >= LB_ROLE_TEACHER ||
	    lb_assigns_allow(&A(s)->table, id, c->group, c->user))
		return 0;
	return lb_error_set(err, LB_ERR_ASSIGNED, "%s is assigned to %s; ask your teacher", id,
			    a->group);
}

/* Device objects gain "assigned": the group's name, or null. */
static void assign_device_fields(lb_server *s, const char *id, json_t *o)
{
	const lb_assignment *a = id && A(s) ? lb_assigns_find(&A(s)->table, id) : NULL;

	json_object_set_new(o, "assigned", a ? json_string(a->group) : json_null());
}

/* Make the state and read the table the last run kept. 0, or LB_ENOMEM. */
static int assign_init(lb_server *s)
{
	assign_state *st = calloc(1, sizeof *st);

	if (!st)
		return LB_ENOMEM;
	*lb_service_state(s, &assign_service) = st;
	if (!srv_data_dir(s))
		lb_warn("no data directory: device assignments are lost when the bridge stops");
	assign_load(s);
	return 0;
}

/* Free the state (the table stays in its file). */
static void assign_destroy(lb_server *s)
{
	void **slot = lb_service_state(s, &assign_service);
	assign_state *st = *slot;

	if (st)
		lb_assigns_clear(&st->table);
	free(st);
	*slot = NULL;
}

static const lb_method assign_methods[] = {
    {"room.assign", LB_ROLE_TEACHER, 0, m_room_assign},
    {"room.assignments", LB_ROLE_OBSERVER, 0, m_room_assignments},
    {NULL, 0, 0, NULL},
};

/* Devices assigned to groups: only the group's students take their leases. */
static const lb_service assign_service = {
    .name = "assign",
    .methods = assign_methods,
    .init = assign_init,
    .destroy = assign_destroy,
    .lease_permit = assign_lease_permit,
    .device_fields = assign_device_fields,
};
LB_REGISTER_SERVICE(assign_service);
