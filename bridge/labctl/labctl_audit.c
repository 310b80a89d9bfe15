/* labctl_audit.c - labctl audit: the bridge's audit log of commands as a table (audit.list). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "labctl.h"

/*
 * A duration "90", "90s", "30m", "1h", "2d" in seconds into *out: 0, or -1 when it is not one
 * (nothing printed).
 */
static int parse_duration(const char *s, long long *out)
{
	char *end;
	long long v, mul = 1;

	v = strtoll(s, &end, 10);
	if (end == s || v <= 0 || v > 100LL * 365 * 86400)
		return -1;
	if (*end) {
		if (end[1])
			return -1;
		switch (*end) {
		case 's': mul = 1; break;
		case 'm': mul = 60; break;
		case 'h': mul = 3600; break;
		case 'd': mul = 86400; break;
		default: return -1;
		}
	}
	if (v > 100LL * 365 * 86400 / mul)
		return -1;
	*out = v * mul;
	return 0;
}

/* labctl audit [--device D] [--user U] [--since DUR] [--count N] [--json]: newest first. */
int labctl_cmd_audit(void *ctx, const struct labctl_opts *o)
{
	static const char *const head[] = {"ID",     "TIME (UTC)", "USER",    "ROLE",  "NAME",
					   "METHOD", "DEVICE",	   "OUTCOME", "PARAMS"};
	struct labctl_table t = {.ncols = 9};
	json_t *params = json_object(), *result = NULL, *e;
	long long since = 0;
	size_t i;
	int st = LABCTL_FAIL;

	if (!params)
		goto out;
	if (o->since) {
		struct timespec now;
		if (parse_duration(o->since, &since) < 0) {
			labctl_errmsg(
			    "labctl: --since wants a duration (90, 30m, 1h, 2d), not '%s'\n",
			    o->since);
			st = LABCTL_USAGE;
			goto out;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		json_object_set_new(params, "since",
				    json_integer(((long long)now.tv_sec - since) * 1000000000LL));
	}
	if (o->device)
		json_object_set_new(params, "device", json_string(o->device));
	if (o->user)
		json_object_set_new(params, "user", json_string(o->user));
	json_object_set_new(params, "limit",
			    json_integer(o->count > 0 && o->count <= 1000
					     ? o->count
					     : (o->count > 1000 ? 1000 : 100)));
	if (labctl_rpc_call(ctx, o, "audit.list", params, &result) < 0)
		goto out;
	if (o->json) {
		st = labctl_print_json(result) < 0 ? LABCTL_FAIL : LABCTL_OK;
		goto out;
	}
	if (labctl_table_add(&t, head) < 0)
		goto out;
	json_array_foreach(json_object_get(result, "entries"), i, e)
	{
		char id[24], when[32] = "?";
		json_t *tv = json_object_get(e, "t");
		const char *name = labctl_jstr(e, "name", ""), *dev = labctl_jstr(e, "device", "");
		const char *row[9] = {id,
				      when,
				      labctl_jstr(e, "user", "?"),
				      labctl_jstr(e, "role", "?"),
				      name[0] ? name : "-",
				      labctl_jstr(e, "method", "?"),
				      dev[0] ? dev : "-",
				      labctl_jstr(e, "outcome", "?"),
				      labctl_jstr(e, "params", "")};
		snprintf(id, sizeof id, "%lld",
			 (long long)json_integer_value(json_object_get(e, "id")));
		labctl_fmt_stamp(when, sizeof when, tv);
		if (labctl_table_add(&t, row) < 0)
			goto out;
	}
	labctl_table_print(&t);
	printf("%zu entr%s\n", json_array_size(json_object_get(result, "entries")),
	       json_array_size(json_object_get(result, "entries")) == 1 ? "y" : "ies");
	st = LABCTL_OK;
out:
	labctl_table_free(&t);
	json_decref(params);
	json_decref(result);
	return st;
}
