/* labctl_room.c - labctl room stop | release | state: the room-wide stop (room.* requests). */
#include <stdio.h>
#include <string.h>

#include "labctl.h"

/* labctl room stop|release|state: halt every device that can be halted and latch, unlatch, or
 * show the latch. A status. */
int labctl_cmd_room(void *ctx, const struct labctl_opts *o)
{
	static const char *const verbs[] = {"stop", "release", "state"};
	static const char *const methods[] = {"room.stop", "room.release", "room.state"};
	json_t *result = NULL, *v;
	int k, st = LABCTL_FAIL;
	size_t i;

	for (k = 0; k < 3 && strcmp(o->arg[0], verbs[k]) != 0; k++)
		;
	if (k == 3) {
		labctl_errmsg("labctl: usage: labctl room stop | release | state\n");
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
