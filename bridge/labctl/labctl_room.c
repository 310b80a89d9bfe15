/* labctl_room.c - labctl room stop | release | state | assign | assignments: the room-wide stop and
 * the devices' groups (room.* requests). */
#include <stdio.h>
#include <string.h>

#include "labctl.h"

/* labctl room assign DEVICE GROUP | DEVICE --none: only GROUP's students may take DEVICE's
 * lease (or anyone's again). A status. */
static int room_assign(void *ctx, const struct labctl_opts *o)
{
	json_t *params, *result = NULL;
	const char *group = o->narg == 3 ? o->arg[2] : NULL;
	int st = LABCTL_FAIL;

	if ((o->narg == 3) == o->none || o->narg < 2) {
		labctl_errmsg("labctl: usage: labctl room assign DEVICE GROUP | labctl room assign "
			      "DEVICE --none\n");
		return LABCTL_USAGE;
	}
	params = json_pack("{s:s,s:s?}", "device", o->arg[1], "group", group);
	if (!params || labctl_rpc_call(ctx, o, "room.assign", params, &result) < 0)
		goto out;
	st = LABCTL_OK;
	if (o->json)
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
	else if (group)
		printf("%s is assigned to %s: only its students may take it (and teachers)\n",
		       o->arg[1], group);
	else
		printf("%s is assigned to nobody: anyone may take it\n", o->arg[1]);
	if (!o->json && labctl_jstr(result, "released", NULL))
		printf("%s held it: that lease has ended\n", labctl_jstr(result, "released", ""));
out:
	json_decref(params);
	json_decref(result);
	return st;
}

/* labctl room assignments: a table of device, group, since, holder now. A status. */
static int room_assignments(void *ctx, const struct labctl_opts *o)
{
	static const char *const head[] = {"DEVICE", "GROUP", "SINCE", "HOLDER NOW"};
	struct labctl_table t = {.ncols = 4};
	json_t *result = NULL, *devices = NULL, *params = json_pack("{s:b}", "all", 1), *a, *d;
	size_t i, k;
	int st = LABCTL_FAIL;

	if (o->narg != 1 || o->none) {
		labctl_errmsg("labctl: usage: labctl room assignments [--json]\n");
		st = LABCTL_USAGE;
		goto out;
	}
	if (!params || labctl_rpc_call(ctx, o, "room.assignments", NULL, &result) < 0 ||
	    labctl_rpc_call(ctx, o, "devices.list", params, &devices) < 0)
		goto out;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto out;
	}
	if (json_array_size(json_object_get(result, "assignments")) == 0) {
		printf("no device is assigned: anyone may take any device\n");
		st = LABCTL_OK;
		goto out;
	}
	if (labctl_table_add(&t, head) < 0)
		goto out;
	json_array_foreach(json_object_get(result, "assignments"), i, a)
	{
		const char *id = labctl_jstr(a, "device", "?"), *holder = "-";
		char since[64];
		json_t *ns =
		    json_integer(json_integer_value(json_object_get(a, "since")) * 1000000000LL);
		labctl_fmt_stamp(since, sizeof since, ns);
		json_decref(ns);
		json_array_foreach(devices, k, d)
		{
			json_t *lease = json_object_get(d, "lease");
			if (strcmp(labctl_jstr(d, "id", ""), id) == 0 && json_is_object(lease))
				holder = *labctl_jstr(lease, "name", "")
					     ? labctl_jstr(lease, "name", "")
					     : labctl_jstr(lease, "holder", "-");
		}
		const char *row[4] = {id, labctl_jstr(a, "group", "?"), since, holder};
		if (labctl_table_add(&t, row) < 0)
			goto out;
	}
	labctl_table_print(&t);
	st = LABCTL_OK;
out:
	labctl_table_free(&t);
	json_decref(params);
	json_decref(result);
	json_decref(devices);
	return st;
}

/* labctl room stop|release|state: halt every device that can be halted and latch, unlatch, or
 * show the latch. A status. */
int labctl_cmd_room(void *ctx, const struct labctl_opts *o)
{
	static const char *const verbs[] = {"stop", "release", "state"};
	static const char *const methods[] = {"room.stop", "room.release", "room.state"};
	json_t *result = NULL, *v;
	int k, st = LABCTL_FAIL;
	size_t i;

	if (strcmp(o->arg[0], "assign") == 0)
		return room_assign(ctx, o);
	if (strcmp(o->arg[0], "assignments") == 0)
		return room_assignments(ctx, o);
	for (k = 0; k < 3 && strcmp(o->arg[0], verbs[k]) != 0; k++)
		;
	if (k == 3 || o->narg != 1 || o->none) {
		labctl_errmsg("labctl: usage: labctl room stop | release | state | assign DEVICE "
			      "GROUP|--none | assignments\n");
		return LABCTL_USAGE;
	}
	if (labctl_rpc_call(ctx, o, methods[k], NULL, &result) < 0)
		goto cleanup;
	st = LABCTL_OK;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto cleanup;
	}
	if (k == 0) {
		printf("ROOM STOPPED: halted");
		json_array_foreach(json_object_get(result, "halted"), i, v)
		    printf(" %s", json_string_value(v));
		if (json_array_size(json_object_get(result, "halted")) == 0)
			printf(" nothing (no device can be halted)");
		putchar('\n');
		if (json_array_size(json_object_get(result, "late")) > 0) {
			printf("told through their threads only (their driver could not at once):");
			json_array_foreach(json_object_get(result, "late"), i, v)
			    printf(" %s", json_string_value(v));
			putchar('\n');
		}
		printf("devices stay halted until a teacher runs: labctl room release\n");
	} else if (json_is_true(json_object_get(result, "stopped"))) {
		const char *name = json_string_value(json_object_get(result, "name"));
		printf("the room is STOPPED, by %s%s%s%s\n",
		       json_string_value(json_object_get(result, "by")), name && *name ? " (" : "",
		       name ? name : "", name && *name ? ")" : "");
	} else {
		printf("the room is not stopped%s\n",
		       k == 1 ? ": devices may be started again (halted printers need a reset)"
			      : "");
	}
cleanup:
	json_decref(result);
	return st;
}
